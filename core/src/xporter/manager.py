"""``TasksManager``: the public facade over the taxonomy, the registry and the plugins.

Method names, parameters and defaults follow seed 000/001 (Optimum's TasksManager) so
code written against Optimum ports by changing one import. Every lookup that names a
backend loads that backend's plugin first (lazily, once).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from . import tasks as taxonomy
from .errors import UnknownModelTypeError, UnknownTaskError, choices_message
from .plugins import PLUGINS
from .registry import DEFAULT_REGISTRY, ConfigConstructor, canonical_task, normalize_model_type


def _default_cache_dir() -> str:
    from .hub import default_cache_dir

    return default_cache_dir()


class TasksManager:
    """Handles task -> model class and (model type, backend) -> export config mappings."""

    registry = DEFAULT_REGISTRY
    plugins = PLUGINS

    # -- registration -------------------------------------------------------------------
    @staticmethod
    def create_register(backend: str, overwrite_existing: bool = False):
        """Return ``register(model_type, *tasks, library_name="transformers")`` for ``backend``.

        >>> register = TasksManager.create_register("new-backend")
        >>> @register("bert", "text-classification", "token-classification")
        ... class BertNewBackendConfig: ...
        """
        return TasksManager.registry.register_decorator(backend, overwrite_existing)

    # -- taxonomy -----------------------------------------------------------------------
    @staticmethod
    def get_all_tasks() -> List[str]:
        """Every canonical task name, ``-with-past`` variants included."""
        return taxonomy.all_tasks()

    @staticmethod
    def map_from_synonym(task: str) -> str:
        """The canonical name of ``task`` (``default`` -> ``feature-extraction``)."""
        return canonical_task(task)

    @staticmethod
    def synonyms_for_task(task: str) -> set:
        """Every name that maps to the same canonical task (excluding the canonical one)."""
        canonical = canonical_task(task)
        names = {syn for syn, target in taxonomy.SYNONYMS.items() if target == canonical}
        if task != canonical:
            names.add(task)
        return names

    # -- backends -----------------------------------------------------------------------
    @classmethod
    def _ensure_backend(cls, exporter: str) -> None:
        record = cls.plugins.ensure_loaded(exporter)
        if record is not None and record.status != "loaded":
            cls.plugins.require(exporter)  # raises with the reason
        if record is None and not cls.registry.model_types(exporter) and not any(
            cls.registry.model_types(exporter, lib) for lib in taxonomy.KNOWN_LIBRARIES
        ):
            cls.plugins.require(exporter)  # raises UnknownBackendError listing backends

    @classmethod
    def get_supported_tasks_for_model_type(
        cls, model_type: str, exporter: str, model_name: Optional[str] = None, library_name: Optional[str] = None
    ) -> Dict[str, ConfigConstructor]:
        """task -> config constructor for ``model_type`` on backend ``exporter``."""
        library_name = library_name or "transformers"
        cls._ensure_backend(exporter)
        tasks = cls.registry.tasks_for(model_type, exporter, library_name)
        if not tasks:
            known = cls.registry.model_types(exporter, library_name)
            name = f"{model_name} ({model_type})" if model_name else model_type
            message, hint = choices_message(f"{library_name} model type for backend '{exporter}'", model_type, known, limit=25)
            message = message.replace("unknown", "unsupported", 1).replace(f"'{model_type}'", f"'{name}'", 1)
            hint += (f"; to export it anyway, register a config with "
                     f"TasksManager.create_register('{exporter}')('{model_type}', '<task>')(YourConfig)")
            raise UnknownModelTypeError(message, hint)
        return tasks

    @classmethod
    def get_supported_model_type_for_task(cls, task: str, exporter: str) -> List[str]:
        """Transformers model types that backend ``exporter`` can export for ``task``."""
        cls._ensure_backend(exporter)
        task = canonical_task(task)
        return [mt for mt in cls.registry.model_types(exporter) if task in cls.registry.tasks_for(mt, exporter)]

    @classmethod
    def get_exporter_config_constructor(
        cls,
        exporter: str,
        model: Any = None,
        task: str = "feature-extraction",
        model_type: Optional[str] = None,
        model_name: Optional[str] = None,
        exporter_config_kwargs: Optional[Dict[str, Any]] = None,
        library_name: Optional[str] = None,
    ) -> ConfigConstructor:
        """The config constructor for a model (or model type) and task on ``exporter``."""
        if model is None and model_type is None:
            raise UnknownModelTypeError("either model or model_type must be given", "pass model_type='bert', for example")
        if model is not None:
            from .inference import library_from_object

            library_name = library_name or library_from_object(model) or "transformers"
            config = getattr(model, "config", None)
            model_type = model_type or getattr(config, "export_model_type", None) or getattr(config, "model_type", None)
            model_name = model_name or getattr(model, "name", None) or getattr(config, "_name_or_path", None)
            if model_type is None:
                raise UnknownModelTypeError(f"cannot read the model type of {type(model).__name__}",
                                            "pass model_type explicitly")
        tasks = cls.get_supported_tasks_for_model_type(model_type, exporter, model_name, library_name)
        resolved = canonical_task(task)
        if resolved not in tasks:
            message, hint = choices_message(f"task for '{model_type}' on '{exporter}'", task, tasks)
            raise UnknownTaskError(message.replace("unknown", "unsupported", 1), hint)
        constructor = tasks[resolved]
        return constructor.with_kwargs(**exporter_config_kwargs) if exporter_config_kwargs else constructor

    # -- models -------------------------------------------------------------------------
    @staticmethod
    def get_model_class_for_task(
        task: str,
        framework: str = "pt",
        model_type: Optional[str] = None,
        model_class_name: Optional[str] = None,
        library: str = "transformers",
    ):
        """The class (or factory) that loads a model for ``task``; imports the library lazily."""
        from . import model_classes

        return model_classes.get_model_class_for_task(task, framework, model_type, model_class_name, library)

    @staticmethod
    def determine_framework(
        model_name_or_path: Union[str, Path],
        subfolder: str = "",
        revision: Optional[str] = None,
        cache_dir: str = None,
        token: Optional[Union[bool, str]] = None,
    ) -> str:
        """``"pt"`` or ``"tf"``: checkpoint files first, then the environment (PyTorch first)."""
        from . import frameworks

        return frameworks.determine_framework(model_name_or_path, subfolder, revision, cache_dir or _default_cache_dir(), token)

    @staticmethod
    def get_model_files(
        model_name_or_path: Union[str, Path],
        subfolder: str = "",
        cache_dir: str = None,
        revision: Optional[str] = None,
        token: Optional[Union[bool, str]] = None,
    ) -> List[str]:
        """Files of the model: local directory, then the HF cache, then the Hub listing."""
        from . import hub

        return hub.get_model_files(model_name_or_path, subfolder, cache_dir or _default_cache_dir(), revision, token)

    @staticmethod
    def infer_library_from_model(
        model: Any,
        subfolder: str = "",
        revision: Optional[str] = None,
        cache_dir: str = None,
        token: Optional[Union[bool, str]] = None,
    ) -> str:
        """``transformers``, ``sentence_transformers``, ``timm`` or ``diffusers``."""
        from . import inference

        return inference.infer_library(model, subfolder, revision, cache_dir or _default_cache_dir(), token)

    @staticmethod
    def infer_task_from_model(
        model: Any,
        subfolder: str = "",
        revision: Optional[str] = None,
        cache_dir: str = None,
        token: Optional[Union[bool, str]] = None,
        library_name: Optional[str] = None,
    ) -> str:
        """The task of a local directory, cached/Hub repo id, model instance or class."""
        from . import inference

        return inference.infer_task(model, subfolder, revision, cache_dir or _default_cache_dir(), token, library_name)

    @staticmethod
    def get_model_from_task(
        task: str,
        model_name_or_path: Union[str, Path],
        subfolder: str = "",
        revision: Optional[str] = None,
        cache_dir: str = None,
        token: Optional[Union[bool, str]] = None,
        framework: Optional[str] = None,
        torch_dtype: Any = None,
        device: Any = None,
        library_name: Optional[str] = None,
        **model_kwargs: Any,
    ):
        """Load the model for ``task`` (safetensors first, ``trust_remote_code=False``)."""
        from . import loading

        return loading.get_model_from_task(task, model_name_or_path, subfolder, revision, cache_dir or _default_cache_dir(),
                                           token, framework, torch_dtype, device, library_name, **model_kwargs)

    @staticmethod
    def standardize_model_attributes(model: Any, library_name: Optional[str] = None) -> Any:
        """Give sentence-transformers / timm / diffusers models a transformers-style config."""
        from . import loading

        return loading.standardize_model_attributes(model, library_name)


__all__ = ["TasksManager", "normalize_model_type"]
