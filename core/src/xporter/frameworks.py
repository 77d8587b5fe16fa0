"""Which framework (``pt`` or ``tf``) a checkpoint is for, without importing either.

Order (seed 001): the checkpoint's own files (local dir, then the HF cache, then the Hub
listing), then whatever framework the environment has, PyTorch first.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import logging
from pathlib import Path
from typing import Iterable, Optional, Union

from . import hub
from .errors import FrameworkError, ModelNotFoundError

logger = logging.getLogger(__name__)

FRAMEWORKS = ("pt", "tf")

# Patterns are matched against file paths relative to the model folder.
PT_WEIGHT_PATTERNS = (
    "model.safetensors",
    "model.safetensors.index.json",
    "model-*-of-*.safetensors",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
    "pytorch_model-*-of-*.bin",
    "diffusion_pytorch_model.safetensors",
    "diffusion_pytorch_model.bin",
    "*/model.safetensors",  # sentence-transformers / diffusers components
    "*/pytorch_model.bin",
    "*/diffusion_pytorch_model.safetensors",
    "*/diffusion_pytorch_model.bin",
    "open_clip_pytorch_model.bin",
)
TF_WEIGHT_PATTERNS = ("tf_model.h5", "tf_model.h5.index.json", "tf_model-*-of-*.h5", "saved_model.pb", "*/saved_model.pb")
PIPELINE_MARKERS = ("model_index.json",)  # diffusers pipelines are PyTorch


def _matches(files: Iterable[str], patterns: Iterable[str]) -> bool:
    files = list(files)
    return any(fnmatch.fnmatch(f, p) for p in patterns for f in files)


def frameworks_in_files(files: Iterable[str]) -> list[str]:
    """Frameworks whose weights appear in ``files`` (PyTorch first)."""
    files = list(files)
    found = []
    if _matches(files, PT_WEIGHT_PATTERNS) or _matches(files, PIPELINE_MARKERS):
        found.append("pt")
    if _matches(files, TF_WEIGHT_PATTERNS):
        found.append("tf")
    return found


def is_available(framework: str) -> bool:
    """True when the framework's package can be imported (checked without importing it)."""
    module = {"pt": "torch", "tf": "tensorflow"}[framework]
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def from_environment() -> str:
    """The framework installed here, PyTorch first."""
    for framework in FRAMEWORKS:
        if is_available(framework):
            return framework
    raise FrameworkError(
        "neither PyTorch nor TensorFlow is installed",
        "install one, e.g. `pip install torch==2.13.0` (or `pip install xporter-tflite` for TensorFlow)",
    )


def pick(found: list[str]) -> str:
    """Choose among the frameworks a checkpoint has: PyTorch if usable, else what is installed."""
    usable = [f for f in found if is_available(f)]
    return (usable or found)[0]


def determine_framework(
    model_name_or_path: Union[str, Path],
    subfolder: str = "",
    revision: Optional[str] = None,
    cache_dir: Optional[str] = None,
    token: Optional[Union[bool, str]] = None,
) -> str:
    """Return ``"pt"`` or ``"tf"`` for the model (see module docstring for the order)."""
    directory = hub.local_dir(model_name_or_path, subfolder)
    if directory is not None:
        files = [p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()]
        found = frameworks_in_files(files)
        if not found:
            raise ModelNotFoundError(
                f"no model weights found in {directory}",
                "expected model.safetensors, pytorch_model.bin or tf_model.h5 (save the model with save_pretrained)",
            )
        return pick(found)
    try:
        files = hub.get_model_files(model_name_or_path, subfolder, cache_dir, revision, token)
    except ModelNotFoundError as exc:
        logger.info("could not list files of %s (%s); using the installed framework", model_name_or_path, exc)
        files = []
    found = frameworks_in_files(files)
    if found:
        return pick(found)
    framework = from_environment()
    logger.info("framework of %s not found in its files; using %s from the environment", model_name_or_path, framework)
    return framework
