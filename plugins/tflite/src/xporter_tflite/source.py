"""Find, check and load the TensorFlow model to export (shared by TFLite and TF->ONNX).

The model type is checked against the registry *before* loading, so asking for a model
type the TF backend cannot export fails in milliseconds with the list of supported ones.
PyTorch-only checkpoints are converted with ``from_pt=True`` (xporter's loader does that
when the folder has no ``tf_model.h5``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from xporter import TasksManager
from xporter.errors import FrameworkError, ModelConfigError

from .tfenv import import_tf, skip_torch_import

# files copied next to the exported model so it can be used without the source folder
SIDE_FILES = (
    "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
    "vocab.txt", "vocab.json", "merges.txt", "spiece.model", "sentencepiece.bpe.model", "added_tokens.json",
    "preprocessor_config.json", "bpe.codes", "tokenizer.model",
)


@dataclass
class Source:
    model: Any
    task: str
    model_type: str
    directory: Optional[str]  # local folder of the checkpoint, when there is one
    checkpoint_framework: str  # framework of the weights on disk ("tf", or "pt" converted with from_pt)


def _model_type_of(model: Any) -> str:
    config = getattr(model, "config", None)
    model_type = getattr(config, "model_type", None)
    if model_type is None:
        raise ModelConfigError(f"cannot read the model type of {type(model).__name__}", "pass a transformers TF model")
    return model_type


def load_source(model: Any, task: Optional[str], backend: str, cache_dir: Optional[str] = None,
                trust_remote_code: bool = False, precheck: Optional[Callable[[Any, str, str], None]] = None) -> Source:
    """Load ``model`` (a path, repo id or TFPreTrainedModel) and resolve its task.

    ``precheck(model_config, model_type, task)`` runs before the weights are loaded (it
    checks the static shapes), so a missing flag fails fast.
    """
    if task in (None, "auto"):
        task = TasksManager.infer_task_from_model(model, cache_dir=cache_dir, library_name="transformers")
    task = TasksManager.map_from_synonym(task)
    if not isinstance(model, (str, Path)):
        if not type(model).__name__.startswith("TF"):
            raise FrameworkError(f"{type(model).__name__} is not a TensorFlow model",
                                 "pass a TFPreTrainedModel, or the checkpoint folder (PyTorch weights are converted)")
        model_type = _model_type_of(model)
        TasksManager.get_exporter_config_constructor(backend, model_type=model_type, task=task)
        if precheck is not None:
            precheck(model.config, model_type, task)
        return Source(model, task, model_type, getattr(model.config, "_name_or_path", None) or None, "tf")
    from xporter import hub

    config = hub.read_json_file(model, "config.json", cache_dir=cache_dir)
    if config is None or "model_type" not in config:
        raise ModelConfigError(f"{model} has no config.json with a model_type",
                               "pass a folder written by save_pretrained()")
    model_type = config["model_type"]
    TasksManager.get_exporter_config_constructor(backend, model_type=model_type, task=task)  # raises if unsupported
    checkpoint_framework = TasksManager.determine_framework(model, cache_dir=cache_dir)
    if checkpoint_framework == "tf":
        skip_torch_import()
    if precheck is not None:
        from transformers import AutoConfig

        precheck(AutoConfig.from_pretrained(model, cache_dir=cache_dir, trust_remote_code=trust_remote_code),
                 model_type, task)
    import_tf()
    loaded = TasksManager.get_model_from_task(task, model, framework="tf", cache_dir=cache_dir,
                                              library_name="transformers", trust_remote_code=trust_remote_code)
    local = hub.local_dir(model)
    return Source(loaded, task, model_type, str(local) if local is not None else None, checkpoint_framework)


def copy_side_files(source: Source, destination: Path) -> list:
    """Copy tokenizer/preprocessor files; write config.json from the loaded model if missing."""
    from xporter.side_files import copy_side_files as copy_regular_files

    copied = []
    if source.directory and Path(source.directory).is_dir():
        result = copy_regular_files(Path(source.directory), destination, SIDE_FILES)  # never follows links out
        copied = result.copied
        if result.skipped:
            import logging

            logging.getLogger("xporter").warning("not copied into the export: %s", ", ".join(result.skipped_lines()))
    if "config.json" not in copied:
        source.model.config.save_pretrained(destination)
        copied.append("config.json")
    return copied
