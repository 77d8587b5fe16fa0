"""Infer the library and the task of a model from its files, an instance or a class."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Optional, Union

from . import hub
from . import tasks as taxonomy
from .errors import ModelConfigError, UnknownTaskError

DIFFUSERS_PIPELINE_TASKS = (
    ("Inpaint", "inpainting"),
    ("Img2Img", "image-to-image"),
    ("ImageToImage", "image-to-image"),
    ("Pipeline", "text-to-image"),
)


def library_from_files(files: list[str], config: Optional[dict]) -> Optional[str]:
    """Library of a checkpoint from its file names and config.json (None if unknown)."""
    if "model_index.json" in files:
        return "diffusers"
    if "modules.json" in files or "config_sentence_transformers.json" in files:
        return "sentence_transformers"
    if config is not None:
        if "pretrained_cfg" in config or ("architecture" in config and "model_type" not in config):
            return "timm"
        return "transformers"
    return None


def library_from_object(model: Any) -> Optional[str]:
    """Library of a model instance or class, from the module that defines it."""
    cls = model if inspect.isclass(model) else type(model)
    for klass in cls.__mro__:
        root = (klass.__module__ or "").split(".")[0]
        if root in ("sentence_transformers", "timm", "diffusers", "transformers"):
            return root
    if hasattr(model, "pretrained_cfg"):
        return "timm"
    if hasattr(model, "config") and hasattr(getattr(model, "config"), "model_type"):
        return "transformers"
    return None


def task_from_class_name(class_name: str, model_type: Optional[str] = None) -> str:
    """Task of a transformers architecture name such as ``BertForSequenceClassification``."""
    if class_name.startswith("TF"):
        class_name = class_name[2:]
    if class_name.endswith("ForConditionalGeneration"):
        normalized = (model_type or "").replace("-", "_")
        return taxonomy.CONDITIONAL_GENERATION_TASK_BY_MODEL_TYPE.get(normalized, "text2text-generation")
    for suffix, task in taxonomy.ARCHITECTURE_SUFFIX_TASKS:
        if class_name.endswith(suffix):
            return task
    raise UnknownTaskError(
        f"cannot infer the task of architecture '{class_name}'",
        "pass --task explicitly (see `xporter tasks`)",
    )


def task_from_config(config: dict, library: str = "transformers") -> str:
    """Task from a parsed config.json (``architectures`` + ``model_type``)."""
    architectures = config.get("architectures") or []
    if not architectures:
        if config.get("model_type"):
            return "feature-extraction"
        raise ModelConfigError("config.json has neither 'architectures' nor 'model_type'", "pass --task explicitly")
    return task_from_class_name(architectures[0], config.get("model_type"))


def infer_library(
    model: Union[str, Path, Any],
    subfolder: str = "",
    revision: Optional[str] = None,
    cache_dir: Optional[str] = None,
    token=None,
) -> str:
    if isinstance(model, (str, Path)):
        files = hub.get_model_files(model, subfolder, cache_dir, revision, token)
        config = hub.read_json_file(model, "config.json", subfolder, cache_dir, revision, token) if "config.json" in files else None
        library = library_from_files(files, config)
        if library is None:
            raise ModelConfigError(
                f"cannot tell which library {model} belongs to (no config.json, modules.json or model_index.json)",
                "pass --library-name (transformers, sentence_transformers, timm or diffusers)",
            )
        return library
    library = library_from_object(model)
    if library is None:
        raise ModelConfigError(f"cannot infer the library of {type(model).__name__}", "pass library_name explicitly")
    return library


def infer_task(
    model: Union[str, Path, Any],
    subfolder: str = "",
    revision: Optional[str] = None,
    cache_dir: Optional[str] = None,
    token=None,
    library_name: Optional[str] = None,
) -> str:
    library = library_name or infer_library(model, subfolder, revision, cache_dir, token)
    if library == "sentence_transformers":
        return "feature-extraction"
    if library == "timm":
        return "image-classification"
    if isinstance(model, (str, Path)):
        if library == "diffusers":
            index = hub.read_json_file(model, "model_index.json", subfolder, cache_dir, revision, token) or {}
            return _diffusers_task(index.get("_class_name", ""))
        config = hub.read_json_file(model, "config.json", subfolder, cache_dir, revision, token)
        if config is None:
            raise ModelConfigError(f"{model} has no config.json", "pass a folder saved with save_pretrained, or --task")
        return task_from_config(config, library)
    if library == "diffusers":
        return _diffusers_task(type(model).__name__ if not inspect.isclass(model) else model.__name__)
    cls = model if inspect.isclass(model) else type(model)
    model_type = getattr(getattr(model, "config", None), "model_type", None) if not inspect.isclass(model) else None
    return task_from_class_name(cls.__name__, model_type)


def _diffusers_task(class_name: str) -> str:
    for marker, task in DIFFUSERS_PIPELINE_TASKS:
        if marker in class_name:
            return task
    raise UnknownTaskError(f"cannot infer the task of diffusers class '{class_name}'", "pass --task explicitly")
