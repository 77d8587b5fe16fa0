"""Tiny random models for tests and sweeps, built from a table row's ``tiny`` kwargs."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Dict, Optional

# re-exported: tests and sweeps read them from here
from .transformers_names import transformers_knows, transformers_spelling  # noqa: F401


def build_tiny_model(model_type: str, task: str, tiny: Dict[str, Any], seed: int = 0,
                     model_class_name: Optional[str] = None):
    """A randomly initialised transformers model for ``task`` with a tiny config
    (``model_class_name``: the concrete class, where the task's auto classes lack this architecture)."""
    import torch
    from transformers import AutoConfig
    from xporter import TasksManager

    torch.manual_seed(seed)
    # deep copy: some configs (VisionEncoderDecoderConfig on 4.57) pop keys out of nested dicts
    config = AutoConfig.for_model(transformers_spelling(model_type), **copy.deepcopy(tiny))
    model_class = TasksManager.get_model_class_for_task(task.replace("-with-past", ""), model_type=model_type,
                                                        model_class_name=model_class_name)
    if model_class_name:
        return model_class(config).eval()
    mapping = getattr(getattr(model_class, "_model_mapping", None), "__getitem__", None)
    concrete = mapping(type(config)) if mapping is not None else model_class
    if isinstance(concrete, (list, tuple)):  # e.g. DeiT: (ForImageClassification, ...WithTeacher)
        concrete = concrete[0]
    model = concrete(config) if concrete is not model_class else model_class.from_config(config)
    _redraw_zero_routers(model)
    return model.eval()


def _redraw_zero_routers(model: Any) -> None:
    """Give expert routers that the random init leaves at zero (afmoe) random weights.

    With every expert scoring the same, which experts top-k picks is up to each kernel's tie
    order (PyTorch and ONNX Runtime differ), so such a tiny model cannot validate; no trained
    checkpoint has a zero router. Seeded, so the tiny model stays reproducible."""
    import torch

    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("router.gate.weight") and not parameter.any():
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)


def build_tiny_submodel(config_class: str, tiny: Dict[str, Any], seed: int = 0):
    """A pseudo model type's model (a sub-model such as ``siglip-text``), from its config class
    name: ``SiglipTextConfig`` -> ``SiglipTextModel``."""
    import torch
    import transformers

    torch.manual_seed(seed)
    config = getattr(transformers, config_class)(**copy.deepcopy(tiny))
    return getattr(transformers, config_class[: -len("Config")] + "Model")(config).eval()


def tiny_model_dir(row: Any, task: str, folder: Path, seed: int = 0) -> Path:
    """Save a tiny model for table row ``row`` (an :class:`~xporter_onnx.configs.Arch`) into ``folder``."""
    if getattr(row, "model_class", None):
        model = build_tiny_submodel(row.model_class, dict(row.tiny or {}), seed)
    else:
        model = build_tiny_model(row.model_type, task, dict(row.tiny or {}), seed,
                                 getattr(row.config_class, "MODEL_CLASSES", {}).get(task))
    folder = Path(folder)
    model.save_pretrained(str(folder))
    return folder


def find_row(model_type: str, library: str = "transformers") -> Optional[Any]:
    from .configs import find_arch

    return find_arch(model_type, library)


def skip_unless_known(row: Any) -> Any:
    """A ``pytest.mark.skipif`` for a table row whose model type this transformers lacks, or whose
    config needs a newer release (``MIN_TRANSFORMERS_VERSION``: the export refuses it in one line)."""
    import pytest
    import transformers

    known = transformers_knows(row.model_type) or hasattr(transformers, getattr(row, "model_class", None) or "-")
    if not known:
        return pytest.mark.skipif(True, reason=f"transformers {transformers.__version__} has no "
                                                f"'{row.model_type}' model type")
    needed = needs_newer_transformers(row)
    return pytest.mark.skipif(needed is not None, reason=f"'{row.model_type}' needs transformers >= {needed}")


def needs_newer_transformers(row: Any) -> Optional[str]:
    """The release a row's config needs (``MIN_TRANSFORMERS_VERSION``) when the installed one is older."""
    import transformers
    from packaging.version import Version

    needed = getattr(getattr(row, "config_class", None), "MIN_TRANSFORMERS_VERSION", None)
    return needed if needed and Version(transformers.__version__) < Version(needed) else None


VLM_GRAPHS = ["decoder_model_merged.onnx", "embed_tokens.onnx", "vision_encoder.onnx"]


def export_vlm_split(row: Any, folder: Any, **options: Any) -> tuple:
    """A VLM row's tiny model exported as its three graphs (:mod:`.configs.vlm`) under ``folder``:
    ``(model_dir, out, report)``, after checking the files and that every graph validated."""
    from . import export

    task = "image-text-to-text"
    model_dir = tiny_model_dir(row, task, Path(folder) / "model")
    out = Path(folder) / "onnx"
    report = export(str(model_dir), str(out), task=task, **options)
    assert sorted(p.name for p in out.glob("*.onnx")) == VLM_GRAPHS
    assert report.ok and {v.part for v in report.validation} == {Path(name).stem for name in VLM_GRAPHS}
    return model_dir, out, report


def auto_mapping_tasks(model_type: str) -> set:
    """The tasks transformers' auto classes give ``model_type`` (the core's task -> auto class
    table read against each auto class's mapping), so a table's test can check its rows' tasks
    against the installed transformers instead of a hand-kept list. Tasks served by the plain
    ``AutoModel`` (feature-extraction and its aliases) are reported as ``feature-extraction``."""
    import transformers
    from xporter.tasks import PT_TASKS

    wanted = {model_type, model_type.replace("-", "_"), model_type.replace("_", "-")}
    tasks = set()
    for task, class_names in PT_TASKS.items():
        for class_name in class_names:
            auto_class = getattr(transformers, class_name, None)
            names = getattr(getattr(auto_class, "_model_mapping", None), "_model_mapping", {}) or {}
            if wanted & set(names):
                tasks.add("feature-extraction" if class_name == "AutoModel" else task)
    return tasks
