"""Plugin discovery and loading: entry points, pluggy, failure policy, env switches.

Policy
------
* Discovery lists entry points of the ``xporter`` group without importing them.
* A plugin is imported the first time something names its backend (lazy, per backend).
* A plugin whose declared dependencies are missing is *unavailable*: listed with the
  reason and the install command, its configs are not registered.
* A plugin that raises on import or registration is *failed*: reported with its
  distribution name (traceback on request); other backends are unaffected.
* Two distributions declaring the same backend id are a *conflict*, listed with both
  names: a built-in distribution (``xporter-onnx`` ...) keeps its id, two third-party ones
  both stay unusable until one is uninstalled. Never a silent "first wins".
* A backend's own plugin always keeps its configs: another plugin registering into that
  backend cannot make it fail; replacing its configs needs ``overwrite_existing=True`` or
  ``XPORTER_ALLOW_CONFIG_OVERRIDES=1`` (see :mod:`xporter.registry`). ``xporter plugins``
  shows who registered what, which registrations met, and hook implementations for hooks
  that do not exist (typos).

Environment switches (documented in README "Plugins")
-----------------------------------------------------
``XPORTER_DISABLE_PLUGIN_AUTOLOAD=1``  discover nothing from entry points.
``XPORTER_PLUGINS=onnx,tflite``         allow-list of backend ids.
``XPORTER_DISABLE_PLUGINS=tflite``      block-list of backend ids.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import threading
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

import pluggy

from .errors import PluginUnavailableError, UnknownBackendError, choices_message
from .hookspecs import PROJECT, BackendInfo, CliCommand, ExporterSpec, XporterHookSpec
from .registry import DEFAULT_REGISTRY, Registry

ENTRY_POINT_GROUP = "xporter"
# "<framework>-to-<backend> = package.module:function": an exporter found without importing any plugin
EXPORTER_GROUP = "xporter.exporters"
ENV_DISABLE_AUTOLOAD = "XPORTER_DISABLE_PLUGIN_AUTOLOAD"
ENV_ALLOW = "XPORTER_PLUGINS"
ENV_BLOCK = "XPORTER_DISABLE_PLUGINS"

# Status values for PluginRecord.status
DISCOVERED, LOADED, UNAVAILABLE, FAILED, DISABLED, CONFLICT = ("discovered", "loaded", "unavailable", "failed",
                                                                "disabled", "conflict")
# distributions of this project: they keep their backend id when another distribution claims it too
BUILTIN_DISTRIBUTIONS = {"onnx": "xporter-onnx", "tflite": "xporter-tflite", "ort_training": "xporter-ort-training"}


def _normal_dist(name: str) -> str:
    return name.replace("_", "-").lower()


def _truthy(value: Optional[str]) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _id_list(value: Optional[str]) -> Optional[set]:
    if value is None or not value.strip():
        return None
    return {item.strip() for item in value.split(",") if item.strip()}


@dataclass
class PluginRecord:
    """One backend's plugin and what happened when it was (or was not) loaded."""

    name: str
    target: str
    distribution: str = ""
    version: str = ""
    status: str = DISCOVERED
    reason: str = ""
    traceback: str = ""
    info: Optional[BackendInfo] = None
    module: Any = field(default=None, repr=False)
    entry_point: Any = field(default=None, repr=False)
    warnings: List[str] = field(default_factory=list)

    def as_dict(self) -> Dict[str, Any]:
        return {
            "backend": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "status": self.status,
            "reason": self.reason,
            "description": self.info.description if self.info else "",
            "warnings": list(self.warnings),
        }


class PluginManager:
    """Owns the pluggy manager and the per-backend plugin records."""

    def __init__(self, registry: Registry = DEFAULT_REGISTRY, autoload: Optional[bool] = None) -> None:
        self.registry = registry
        self._autoload = autoload
        self._pm = pluggy.PluginManager(PROJECT)
        self._pm.add_hookspecs(XporterHookSpec)
        self._records: Optional[Dict[str, PluginRecord]] = None
        self.conflicts: List[PluginRecord] = []  # distributions that claimed an id another one holds
        self._lock = threading.RLock()

    # -- discovery ----------------------------------------------------------------------
    def _autoload_enabled(self) -> bool:
        if self._autoload is not None:
            return self._autoload
        return not _truthy(os.environ.get(ENV_DISABLE_AUTOLOAD))

    def _entry_points(self, group: str = ENTRY_POINT_GROUP) -> list:
        from importlib import metadata  # scanning installed distributions is the slow part

        return list(metadata.entry_points(group=group))

    def _exporter_entry_points(self) -> list:
        return self._entry_points(EXPORTER_GROUP) if self._autoload_enabled() else []

    def records(self) -> Dict[str, PluginRecord]:
        """All known plugins by backend id (discovered lazily, nothing imported)."""
        with self._lock:
            if self._records is None:
                self._records = {}
                if self._autoload_enabled():
                    self._discover()
            return self._records

    def _discover(self) -> None:
        allow, block = _id_list(os.environ.get(ENV_ALLOW)), _id_list(os.environ.get(ENV_BLOCK)) or set()
        self.conflicts = []
        for ep in self._entry_points():
            dist = getattr(ep, "dist", None)
            record = PluginRecord(
                name=ep.name,
                target=ep.value,
                distribution=getattr(dist, "name", "") or "",
                version=getattr(dist, "version", "") or "",
                entry_point=ep,
            )
            if (allow is not None and ep.name not in allow) or ep.name in block:
                record.status = DISABLED
                source = ENV_BLOCK if ep.name in block else ENV_ALLOW
                record.reason = f"disabled by {source}"
            held = self._records.get(ep.name)
            if held is None:
                self._records[ep.name] = record
            elif _normal_dist(held.distribution) != _normal_dist(record.distribution) or held.target != record.target:
                self._claimed_twice(held, record)

    def _claimed_twice(self, held: PluginRecord, newcomer: PluginRecord) -> None:
        """Two distributions declare one backend id: the built-in keeps it, otherwise neither is used."""
        builtin = BUILTIN_DISTRIBUTIONS.get(held.name)
        if builtin is not None and _normal_dist(newcomer.distribution) == builtin:
            self._records[held.name] = newcomer  # the built-in distribution keeps its id
            held, newcomer = newcomer, held
        hint = f"uninstall one of them (pip uninstall {newcomer.distribution or '<distribution>'})"
        newcomer.status = CONFLICT
        newcomer.reason = f"backend id '{newcomer.name}' is also declared by {held.distribution}; not loaded; {hint}"
        if builtin is not None and _normal_dist(held.distribution) == builtin:
            held.warnings.append(f"{newcomer.distribution} also declares backend '{held.name}' and was not loaded")
        else:
            held.status = CONFLICT
            held.reason = (f"backend id '{held.name}' is declared by {held.distribution} and "
                           f"{newcomer.distribution}; {hint}")
        self.conflicts.append(newcomer)

    # -- in-process plugins -------------------------------------------------------------
    def register_plugin(self, plugin: Any, name: str, distribution: str = "") -> PluginRecord:
        """Register an already-imported plugin object/module for backend ``name`` and load it."""
        with self._lock:
            record = PluginRecord(name=name, target=getattr(plugin, "__name__", repr(plugin)), distribution=distribution)
            record.module = plugin
            self.records()[name] = record
            self._activate(record)
            return record

    # -- loading ------------------------------------------------------------------------
    def ensure_loaded(self, backend: str) -> Optional[PluginRecord]:
        """Load the plugin for ``backend`` if there is one; return its record (or None)."""
        with self._lock:
            record = self.records().get(backend)
            if record is None or record.status != DISCOVERED:
                return record
            try:
                with self.registry.registering_as(record.name):  # configs registered at import time count too
                    record.module = record.entry_point.load()
            except ModuleNotFoundError as exc:
                record.status, record.reason = UNAVAILABLE, self._missing_reason(record, exc.name)
                return record
            except Exception as exc:  # a broken plugin must not break the others
                record.status = FAILED
                record.reason = f"import of {record.target} raised {type(exc).__name__}: {exc}"
                record.traceback = traceback.format_exc()
                return record
            self._activate(record)
            return record

    def _missing_reason(self, record: PluginRecord, module: Optional[str]) -> str:
        hint = (record.info.install_hint if record.info and record.info.install_hint else "") or (
            f"pip install {record.distribution}" if record.distribution else ""
        )
        reason = f"missing dependency '{module}'"
        return f"{reason}; install it with `{hint}`" if hint else reason

    def _activate(self, record: PluginRecord) -> None:
        """Register with pluggy, check declared requirements, then run its registration hook."""
        try:
            self._pm.register(record.module, name=record.name)
        except ValueError:
            pass  # already registered under this name
        except pluggy.PluginValidationError as exc:  # a hook implemented with the wrong arguments
            self._fail(record, "hook validation", exc)
            return
        record.warnings.extend(self._unknown_hooks(record))
        caller = self._only(record, "xporter_backend_info")
        try:
            record.info = caller()
        except Exception as exc:
            self._fail(record, "xporter_backend_info", exc)
            return
        missing = [m for m in (record.info.requires if record.info else ()) if not _module_available(m)]
        if missing:
            record.status = UNAVAILABLE
            record.reason = self._missing_reason(record, ", ".join(missing))
            return
        try:
            register = self.registry.register_decorator(record.name)
            with self.registry.registering_as(record.name):
                self._only(record, "xporter_register_configs")(register=register, backend=record.name)
        except ModuleNotFoundError as exc:
            self._forget(record)
            record.status, record.reason = UNAVAILABLE, self._missing_reason(record, exc.name)
            return
        except Exception as exc:
            self._forget(record)
            self._fail(record, "xporter_register_configs", exc)
            return
        record.status, record.reason = LOADED, ""

    def _forget(self, record: PluginRecord) -> None:
        """Drop what a plugin that failed to load registered: into its own backend and into others."""
        self.registry.clear_owner(record.name)
        self.registry.clear_backend(record.name)

    def _unknown_hooks(self, record: PluginRecord) -> List[str]:
        """Hook implementations of ``record`` for hooks xporter does not define (pluggy's check_pending)."""
        found = []
        for name in dir(self._pm.hook):
            caller = getattr(self._pm.hook, name, None)
            if caller is None or not hasattr(caller, "get_hookimpls") or caller.has_spec():
                continue
            if any(impl.plugin is record.module for impl in caller.get_hookimpls()):
                found.append(f"implements '{name}', which is not an xporter hook (typo?); it is never called")
        return found

    def _fail(self, record: PluginRecord, where: str, exc: BaseException) -> None:
        record.status = FAILED
        record.reason = f"{where} raised {type(exc).__name__}: {exc}"
        record.traceback = traceback.format_exc()

    def _only(self, record: PluginRecord, hook_name: str):
        others = [p for p in self._pm.get_plugins() if p is not record.module]
        return self._pm.subset_hook_caller(hook_name, remove_plugins=others)

    def load_all(self) -> Dict[str, PluginRecord]:
        """Load every discovered plugin (used by listings that span backends)."""
        for name in list(self.records()):
            self.ensure_loaded(name)
        return self.records()

    # -- queries ------------------------------------------------------------------------
    def require(self, backend: str) -> PluginRecord:
        """The loaded plugin for ``backend``, or a clear error saying why it is not usable."""
        record = self.ensure_loaded(backend)
        if record is None:
            message, hint = choices_message("backend", backend, self.available_backends())
            if not self.available_backends():
                hint = "no backend plugin is installed; install one, e.g. `pip install xporter-onnx`"
            raise UnknownBackendError(message, hint)
        if record.status != LOADED:
            state = {FAILED: "failed to load", DISABLED: "disabled",
                     CONFLICT: "declared by two distributions"}.get(record.status, record.status)
            raise PluginUnavailableError(
                f"backend '{backend}' ({record.distribution or record.target}) is {state}: {record.reason}",
                "run `xporter --debug plugins` for details" if record.status == FAILED else None,
            )
        return record

    def available_backends(self) -> List[str]:
        """Backend ids known from entry points, in-process plugins or registrations."""
        names = set(self.records())
        names.update(backend for _, _, backend, _, _ in self.registry.entries())
        return sorted(names)

    def is_known_backend(self, backend: str) -> bool:
        return backend in self.records() or any(b == backend for _, _, b, _, _ in self.registry.entries())

    def cli_commands(self, backend: str) -> List[CliCommand]:
        record = self.require(backend)
        results = self._only(record, "xporter_cli_commands")()
        return [command for group in results for command in (group or ())]

    def exporters(self, backend: str, framework: str) -> List[ExporterSpec]:
        """Exporters for (backend, framework) across all loadable plugins."""
        found: List[ExporterSpec] = []
        for record in self.load_all().values():
            if record.status != LOADED:
                continue
            for group in self._only(record, "xporter_exporters")():
                found.extend(s for s in (group or ()) if s.backend == backend and s.framework == framework)
        return found

    def find_exporter(self, backend: str, framework: str) -> ExporterSpec:
        """The exporter of ``framework`` models to ``backend``, importing no unrelated plugin.

        Looked up in the plugins already loaded (their ``xporter_exporters`` hook: in-process
        plugins, tests), then in the ``xporter.exporters`` entry points, whose name says
        ``<framework>-to-<backend>``: only the plugin of the distribution declaring it is loaded
        (its configs registered, its requirements checked). Raises PluginUnavailableError naming
        why none is usable.
        """
        with self._lock:
            for record in list(self.records().values()):
                if record.status != LOADED:
                    continue
                for group in self._only(record, "xporter_exporters")():
                    for spec in group or ():
                        if spec.backend == backend and spec.framework == framework:
                            return spec
        wanted = exporter_entry_point_name(framework, backend)
        for ep in self._exporter_entry_points():
            if ep.name != wanted:
                continue
            owner = self._plugin_of(getattr(getattr(ep, "dist", None), "name", "") or "")
            if owner is not None:
                record = self.ensure_loaded(owner.name)
                if record is not None and record.status != LOADED:
                    raise PluginUnavailableError(
                        f"the {framework} -> {backend} exporter of {record.distribution or record.target} is "
                        f"unusable: plugin '{record.name}' is {record.status} ({record.reason})",
                        "run `xporter --debug plugins` for details")
            return ExporterSpec(backend, framework, ep.value, f"declared by {getattr(ep.dist, 'name', '?')}")
        raise PluginUnavailableError(f"no installed plugin exports {framework} models to {backend}",
                                     f"install a plugin declaring the '{wanted}' entry point in '{EXPORTER_GROUP}'")

    def load_exporter(self, backend: str, framework: str) -> Callable:
        """The export function :meth:`find_exporter` names, imported: call it as
        ``function(model, output, options, progress)``."""
        return load_target(self.find_exporter(backend, framework).target)

    def _plugin_of(self, distribution: str) -> Optional[PluginRecord]:
        """The backend plugin (``xporter`` entry point) shipped by ``distribution``."""
        for record in self.records().values():
            if distribution and _normal_dist(record.distribution) == _normal_dist(distribution):
                return record
        return None

    def reset(self) -> None:
        """Forget discovery results and unregister plugins (tests)."""
        with self._lock:
            for plugin in list(self._pm.get_plugins()):
                self._pm.unregister(plugin)
            for name in list(self._records or {}):
                self.registry.clear_backend(name)
                self.registry.clear_owner(name)
            self._records = None
            self.conflicts = []


def _module_available(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def exporter_entry_point_name(framework: str, backend: str) -> str:
    """``tf-to-onnx``: the entry-point name of a (backend, framework) exporter in ``xporter.exporters``."""
    return f"{framework}-to-{backend}"


def load_target(target: str):
    """Import ``"package.module:attr"`` and return the attribute."""
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attr) if attr else module


PLUGINS = PluginManager()
