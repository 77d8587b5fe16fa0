"""Resolve a task to the class (or loader) that builds the model, importing lazily."""

from __future__ import annotations

import importlib
from typing import Any, Optional

from . import tasks as taxonomy
from .errors import FrameworkError, UnknownLibraryError, UnknownTaskError, choices_message
from .registry import canonical_task

_LIBRARY_MODULES = {"transformers": "transformers", "sentence_transformers": "sentence_transformers",
                    "timm": "timm", "diffusers": "diffusers"}


def _import_library(library: str):
    if library not in _LIBRARY_MODULES:
        message, hint = choices_message("library", library, _LIBRARY_MODULES)
        raise UnknownLibraryError(message, hint)
    try:
        return importlib.import_module(_LIBRARY_MODULES[library])
    except ImportError as exc:
        raise FrameworkError(
            f"the '{library}' library is needed for this model but cannot be imported ({exc})",
            f"install it with `pip install {library.replace('_', '-')}`",
        ) from exc


def _supports_model_type(auto_class: Any, model_type: str) -> bool:
    """Whether a transformers auto class maps ``model_type`` to a concrete class."""
    mapping = getattr(getattr(auto_class, "_model_mapping", None), "_model_mapping", None)
    if not isinstance(mapping, dict):
        return True  # not an auto class we can inspect: do not rule it out
    return model_type in mapping or model_type.replace("-", "_") in mapping


def candidate_class_names(task: str, framework: str = "pt", library: str = "transformers") -> tuple[str, ...]:
    """Names of the classes that can build a model for ``task`` (no import)."""
    base, _ = taxonomy.strip_past(canonical_task(task))
    if library == "transformers":
        if framework not in ("pt", "tf"):
            raise FrameworkError(f"unknown framework '{framework}'", "use 'pt' or 'tf'")
        table = taxonomy.PT_TASKS if framework == "pt" else taxonomy.TF_TASKS
    else:
        table = taxonomy.LIBRARY_TASKS.get(library, {})
    if base not in table:
        message, hint = choices_message(f"task for {library} ({framework})", task, table)
        raise UnknownTaskError(message, hint)
    return table[base]


def get_model_class_for_task(
    task: str,
    framework: str = "pt",
    model_type: Optional[str] = None,
    model_class_name: Optional[str] = None,
    library: str = "transformers",
) -> Any:
    """The class (or factory) that loads a model for ``task``; see TasksManager."""
    module = _import_library(library)
    if model_class_name:
        try:
            return getattr(module, model_class_name)
        except AttributeError as exc:
            raise UnknownTaskError(f"'{model_class_name}' is not a class of {library}", "check --model-class") from exc
    names = candidate_class_names(task, framework, library)
    available = []
    for name in names:
        try:
            available.append(getattr(module, name))
        except (AttributeError, ImportError, RuntimeError):
            continue
    if not available:
        version = getattr(module, "__version__", "?")
        hint = "TensorFlow classes need transformers<5 and tensorflow" if framework == "tf" else "upgrade transformers"
        raise FrameworkError(f"{library} {version} has none of {', '.join(names)} for task '{task}'", hint)
    if model_type and len(available) > 1:
        for cls in available:
            if _supports_model_type(cls, model_type):
                return cls
    return available[0]
