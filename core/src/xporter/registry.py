"""The (library, model_type, backend, task) -> config constructor table.

A :class:`Registry` is a plain object, not class-level globals, so tests can build a
fresh one and plugins register into whatever registry they are handed. The module-level
:data:`DEFAULT_REGISTRY` is the one :class:`xporter.TasksManager` reads.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Type

from . import tasks as taxonomy
from .errors import RegistrationConflictError, UnknownLibraryError, UnknownTaskError, choices_message


def normalize_model_type(model_type: str) -> str:
    """Model types are compared with ``_`` and ``-`` treated alike (``gpt_neox`` == ``gpt-neox``)."""
    return model_type.replace("_", "-").lower()


def canonical_task(task: str) -> str:
    """Map a synonym (``default``, ``causal-lm-with-past``...) to its canonical task name."""
    if task in taxonomy.SYNONYMS:
        return taxonomy.SYNONYMS[task]
    base, past = taxonomy.strip_past(task)
    if past and base in taxonomy.SYNONYMS:
        return taxonomy.SYNONYMS[base] + taxonomy.WITH_PAST_SUFFIX
    return task


@dataclass(frozen=True)
class ConfigConstructor:
    """Builds a backend config for one task: ``constructor(model.config, **kwargs)``.

    ``-with-past`` tasks get ``use_past=True`` (and ``use_past_in_inputs=True``) unless the
    caller overrides them. Extra keyword arguments given at lookup time
    (``exporter_config_kwargs``) are merged in, call-time ones win.
    """

    config_class: Type
    task: str
    use_past: bool = False
    defaults: Dict[str, Any] = field(default_factory=dict)
    owner: str = field(default="", compare=False)  # backend id of the plugin that registered it ("" = user code)
    forced: bool = field(default=False, compare=False)  # registered with overwrite_existing / the env switch

    def __call__(self, config: Any, **kwargs: Any) -> Any:
        options: Dict[str, Any] = {"task": self.task}
        if self.use_past:
            options.update(use_past=True, use_past_in_inputs=True)
        options.update(self.defaults)
        options.update(kwargs)
        return self.config_class(config, **options)

    def with_kwargs(self, **kwargs: Any) -> "ConfigConstructor":
        """A copy whose defaults include ``kwargs``."""
        return ConfigConstructor(self.config_class, self.task, self.use_past, {**self.defaults, **kwargs},
                                 self.owner, self.forced)

    # ``functools.partial``-style introspection used by Optimum-era code.
    @property
    def func(self) -> Type:
        return self.config_class


def supports_past(config_class: Type) -> bool:
    """A config class supports ``-with-past`` tasks when it declares ``SUPPORTS_PAST = True``."""
    return bool(getattr(config_class, "SUPPORTS_PAST", False))


TaskTable = Dict[str, ConfigConstructor]

ENV_ALLOW_OVERRIDES = "XPORTER_ALLOW_CONFIG_OVERRIDES"  # lets third-party plugins replace a backend's own configs
_OWNER: contextvars.ContextVar[str] = contextvars.ContextVar("xporter_registering_plugin", default="")


@dataclass(frozen=True)
class Override:
    """A registration that met another one for the same key, and which one was kept."""

    library: str
    model_type: str
    backend: str
    task: str
    kept: str  # owner (plugin backend id, or "user code") whose config is in the table
    dropped: str

    def describe(self) -> str:
        return (f"{self.backend}/{self.model_type}/{self.task}: kept the config of {self.kept}, "
                f"not the one of {self.dropped}")


def _owner_name(owner: str) -> str:
    return f"plugin '{owner}'" if owner else "user code"


class Registry:
    """Mutable table of registered export configs, one instance per process by default."""

    def __init__(self) -> None:
        # library -> model_type -> backend -> task -> constructor
        self._table: Dict[str, Dict[str, Dict[str, TaskTable]]] = {}
        self.overrides: List[Override] = []

    @staticmethod
    @contextlib.contextmanager
    def registering_as(owner: str) -> Iterator[None]:
        """Attribute registrations made inside the block to the plugin of backend ``owner``."""
        token = _OWNER.set(owner)
        try:
            yield
        finally:
            _OWNER.reset(token)

    # -- registration -------------------------------------------------------------------
    def add(
        self,
        backend: str,
        model_type: str,
        task: str,
        config_class: Type,
        library_name: str = "transformers",
        overwrite_existing: bool = False,
    ) -> ConfigConstructor:
        """Register ``config_class`` for one task; raise on conflicts unless overwriting."""
        if library_name not in taxonomy.KNOWN_LIBRARIES:
            message, hint = choices_message("library", library_name, taxonomy.KNOWN_LIBRARIES)
            raise UnknownLibraryError(message, hint)
        resolved = canonical_task(task)
        base, past = taxonomy.strip_past(resolved)
        known = set(taxonomy.all_tasks())
        if resolved not in known and base not in known:
            message, hint = choices_message("task", task, known | set(taxonomy.SYNONYMS))
            raise UnknownTaskError(message, hint)
        if past and not supports_past(config_class):
            raise RegistrationConflictError(
                f"{config_class.__name__} cannot be registered for '{resolved}'",
                "it does not support a key/value cache (set SUPPORTS_PAST = True on a config "
                "class that implements use_past)",
            )
        per_backend = self._table.setdefault(library_name, {}).setdefault(normalize_model_type(model_type), {})
        per_task = per_backend.setdefault(backend, {})
        owner = _OWNER.get()
        forced = overwrite_existing or os.environ.get(ENV_ALLOW_OVERRIDES, "").strip().lower() in {"1", "true", "yes"}
        constructor = ConfigConstructor(config_class, base, use_past=past, owner=owner, forced=forced)
        existing = per_task.get(resolved)
        if existing is None or existing.config_class is config_class:
            per_task[resolved] = constructor
            return constructor
        key = (library_name, normalize_model_type(model_type), backend, resolved)
        if owner == backend and existing.owner != backend:
            # the backend's own plugin arrives after a foreign registration: its config wins unless the
            # foreign one was explicitly allowed to replace it
            if existing.forced:
                self.overrides.append(Override(*key, _owner_name(existing.owner), _owner_name(owner)))
                return existing
            self.overrides.append(Override(*key, _owner_name(owner), _owner_name(existing.owner)))
            per_task[resolved] = constructor
            return constructor
        if not forced:
            raise RegistrationConflictError(
                f"'{model_type}' / '{resolved}' is already registered for backend '{backend}' "
                f"by {existing.config_class.__module__}.{existing.config_class.__qualname__} "
                f"({_owner_name(existing.owner)})",
                f"pass overwrite_existing=True to create_register() (or set {ENV_ALLOW_OVERRIDES}=1) to replace it",
            )
        self.overrides.append(Override(*key, _owner_name(owner), _owner_name(existing.owner)))
        per_task[resolved] = constructor
        return constructor

    def owners(self) -> Dict[str, Dict[str, int]]:
        """owner -> backend -> number of (model type, task) entries it registered (for ``xporter plugins``)."""
        counts: Dict[str, Dict[str, int]] = {}
        for _, _, backend, _, constructor in self.entries():
            per_owner = counts.setdefault(constructor.owner, {})
            per_owner[backend] = per_owner.get(backend, 0) + 1
        return counts

    def register_decorator(self, backend: str, overwrite_existing: bool = False) -> "Registrar":
        """The decorator factory ``create_register`` returns (see seed 001), as a typed :class:`Registrar`."""
        return Registrar(self, backend, overwrite_existing)

    # -- queries ------------------------------------------------------------------------
    def tasks_for(self, model_type: str, backend: str, library_name: str = "transformers") -> TaskTable:
        """task -> constructor for one model type on one backend (empty if none)."""
        return dict(self._table.get(library_name, {}).get(normalize_model_type(model_type), {}).get(backend, {}))

    def model_types(self, backend: Optional[str] = None, library_name: str = "transformers") -> list[str]:
        """Model types with at least one config (on ``backend`` when given)."""
        table = self._table.get(library_name, {})
        return sorted(mt for mt, backends in table.items() if backend is None or backends.get(backend))

    def backends_for(self, model_type: str, library_name: str = "transformers") -> list[str]:
        return sorted(self._table.get(library_name, {}).get(normalize_model_type(model_type), {}))

    def libraries(self) -> list[str]:
        return sorted(self._table)

    def entries(self):
        """Yield (library, model_type, backend, task, constructor) for every registration."""
        for library, model_types in sorted(self._table.items()):
            for model_type, backends in sorted(model_types.items()):
                for backend, per_task in sorted(backends.items()):
                    for task, constructor in sorted(per_task.items()):
                        yield library, model_type, backend, task, constructor

    def clear_backend(self, backend: str) -> None:
        """Forget every registration for ``backend`` (used by tests and plugin reloads)."""
        for model_types in self._table.values():
            for backends in model_types.values():
                backends.pop(backend, None)
        self.overrides = [o for o in self.overrides if o.backend != backend]

    def clear_owner(self, owner: str) -> None:
        """Forget what the plugin of backend ``owner`` registered, into any backend (its load failed)."""
        for model_types in self._table.values():
            for backends in model_types.values():
                for per_task in backends.values():
                    for task in [t for t, c in per_task.items() if c.owner == owner]:
                        del per_task[task]


class Registrar:
    """What ``create_register(backend)`` returns and what a plugin's ``xporter_register_configs`` hook
    receives: registration into one backend, with the owner and conflict rules of :meth:`Registry.add`.

    Two spellings, one effect: the decorator of seed 001, ``register("bert", "fill-mask")(BertConfig)``,
    and the typed call tables use, ``register.add("bert", ("fill-mask",), BertConfig)``. ``backend`` says
    which backend the registrations go to (a plugin may register into another backend only by asking
    ``create_register`` for it).
    """

    def __init__(self, registry: Registry, backend: str, overwrite_existing: bool = False) -> None:
        self.registry, self.backend, self.overwrite_existing = registry, backend, overwrite_existing

    def __call__(self, model_type: str, *supported_tasks: str,
                 library_name: str = "transformers") -> Callable[[Type], Type]:
        self._require_tasks(model_type, supported_tasks)

        def decorator(config_class: Type) -> Type:
            self.add(model_type, supported_tasks, config_class, library_name=library_name)
            return config_class

        return decorator

    def add(self, model_type: str, tasks: Sequence[str], config_class: Type, *,
            library_name: str = "transformers") -> List[ConfigConstructor]:
        """Register ``config_class`` for every task of ``tasks``; returns the constructors made."""
        self._require_tasks(model_type, tasks)
        if isinstance(tasks, str):
            raise TypeError(f"tasks must be a sequence of task names, got the string {tasks!r}")
        return [self.registry.add(self.backend, model_type, task, config_class, library_name, self.overwrite_existing)
                for task in tasks]

    def _require_tasks(self, model_type: str, tasks: Sequence[str]) -> None:
        if not tasks:
            raise UnknownTaskError(
                f"no task given when registering '{model_type}' for backend '{self.backend}'",
                "pass at least one task, e.g. register('bert', 'text-classification')",
            )

    def __repr__(self) -> str:
        return f"Registrar(backend={self.backend!r})"


DEFAULT_REGISTRY = Registry()


def create_register(backend: str, overwrite_existing: bool = False) -> Registrar:
    """Create a register function for ``backend`` on the default registry.

    >>> register = create_register("new-backend")
    >>> @register("bert", "text-classification", "token-classification")
    ... class BertNewBackendConfig: ...
    """
    return DEFAULT_REGISTRY.register_decorator(backend, overwrite_existing)
