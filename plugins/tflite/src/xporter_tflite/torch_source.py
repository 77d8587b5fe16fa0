"""Find, check and load the PyTorch model that litert-torch converts to TFLite.

Same contract as :mod:`xporter_tflite.source` (the TF loader): the model type and the
static shapes are checked against the TFLite table *before* the weights load, so an
unsupported type or a missing ``--sequence-length`` fails in milliseconds. Models load
with eager attention: ``torch.export`` then sees plain matmul/softmax ops that litert-torch
lowers, instead of SDPA kernels and mask helpers it may not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

from xporter import TasksManager
from xporter.errors import ExportError, FrameworkError, ModelConfigError

from .source import Source, _model_type_of


def check_convertible(model_type: str) -> None:
    """Refuse, before loading, the types of the TFLite table that litert-torch cannot convert."""
    from .torch_architectures import TORCH_UNSUPPORTED

    if model_type in TORCH_UNSUPPORTED:
        raise ExportError(f"{model_type} cannot be exported to TFLite from PyTorch: "
                          f"{TORCH_UNSUPPORTED[model_type]}",
                          "export its TensorFlow weights in the TF venv (--framework tf)")


def load_torch_source(model: Any, task: Optional[str], cache_dir: Optional[str] = None, trust_remote_code: bool = False,
                      precheck: Optional[Callable[[Any, str, str], None]] = None) -> Source:
    """Load ``model`` (a folder, Hub id or ``PreTrainedModel``) in eval mode and resolve its task."""
    from .torch_convert import quiet_litert_imports

    quiet_litert_imports()  # transformers imports torchao (if installed) while loading
    if task in (None, "auto"):
        task = TasksManager.infer_task_from_model(model, cache_dir=cache_dir, library_name="transformers")
    task = TasksManager.map_from_synonym(task)
    if not isinstance(model, (str, Path)):
        model_type = _model_type_of(model)
        TasksManager.get_exporter_config_constructor("tflite", model_type=model_type, task=task)
        check_convertible(model_type)
        if precheck is not None:
            precheck(model.config, model_type, task)
        return Source(model.eval(), task, model_type, getattr(model.config, "_name_or_path", None) or None, "pt")
    from xporter import hub

    config = hub.read_json_file(model, "config.json", cache_dir=cache_dir)
    if config is None or "model_type" not in config:
        raise ModelConfigError(f"{model} has no config.json with a model_type",
                               "pass a folder written by save_pretrained()")
    model_type = config["model_type"]
    TasksManager.get_exporter_config_constructor("tflite", model_type=model_type, task=task)  # raises if unsupported
    check_convertible(model_type)
    framework = TasksManager.determine_framework(model, cache_dir=cache_dir)
    if framework != "pt":
        raise FrameworkError(f"{model} holds TensorFlow weights only; the litert-torch path needs PyTorch weights",
                             "export it in the TensorFlow venv (--framework tf), or save the model with PyTorch")
    if precheck is not None:
        from transformers import AutoConfig

        precheck(AutoConfig.from_pretrained(model, cache_dir=cache_dir, trust_remote_code=trust_remote_code),
                 model_type, task)
    loaded = TasksManager.get_model_from_task(task, model, framework="pt", cache_dir=cache_dir,
                                              library_name="transformers", trust_remote_code=trust_remote_code,
                                              attn_implementation="eager")
    local = hub.local_dir(model)
    return Source(loaded.eval(), task, model_type, str(local) if local is not None else None, "pt")
