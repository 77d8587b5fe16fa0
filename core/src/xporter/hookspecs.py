"""The contract between xporter's core and a backend plugin.

A plugin is a module named by an entry point in the ``xporter`` group; the entry-point
name is the backend id::

    [project.entry-points.xporter]
    coreml = "xporter_coreml.plugin"

The module implements any of the hooks below with ``@xporter.hookimpl``. It must stay
import-light: heavy frameworks are imported inside the functions that use them, so the
core can load a plugin just to answer "which tasks does distilbert support?".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Optional, Sequence

import pluggy

if TYPE_CHECKING:  # argparse is only needed by the CLI
    import argparse

    from .registry import Registrar

PROJECT = "xporter"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@dataclass(frozen=True)
class BackendInfo:
    """What a backend is and what it needs.

    ``requires`` lists importable module names (checked with ``importlib.util.find_spec``,
    nothing is imported); when one is missing the plugin is reported unavailable with
    ``install_hint`` and its configs are not registered.
    """

    description: str
    requires: Sequence[str] = ()
    install_hint: str = ""


@dataclass(frozen=True)
class CliCommand:
    """A command a plugin adds to ``xporter export <name>`` (or to the top level)."""

    name: str
    help: str
    configure: Callable[["argparse.ArgumentParser"], None]
    run: Callable[["argparse.Namespace"], int]


@dataclass(frozen=True)
class ExporterSpec:
    """A function that exports models of ``framework`` to ``backend``.

    ``target`` is ``"package.module:function"``; it is imported only when called, so
    declaring an exporter costs nothing. The TF plugin, for instance, declares
    ``ExporterSpec("onnx", "tf", "xporter_tflite.tf_to_onnx:export")``. The function is called
    as ``function(model, output, options, progress)``: ``options`` is a frozen
    :class:`xporter.options.ExportOptions` (for ONNX products :class:`xporter.options.OnnxExportOptions`;
    a backend may subclass it for its own flags), never an argparse object, and the function returns
    the report dict (:meth:`xporter.report.ExportReport.to_dict`). An installed plugin also declares it
    as the entry point ``<framework>-to-<backend>`` of group ``xporter.exporters`` so
    :meth:`xporter.plugins.PluginManager.find_exporter` finds it without importing other plugins.
    """

    backend: str
    framework: str
    target: str
    description: str = field(default="")


class XporterHookSpec:
    """Hook specifications. Every hook is optional for a plugin."""

    @hookspec(firstresult=True)
    def xporter_backend_info(self) -> Optional[BackendInfo]:
        """Describe the backend this plugin provides."""

    @hookspec
    def xporter_register_configs(self, register: "Registrar", backend: str) -> None:
        """Register export configs.

        ``register`` is the :class:`xporter.registry.Registrar` of ``backend``, the same object
        ``create_register(backend)`` returns: ``register.add("bert", ("text-classification",), ConfigClass)``
        or the decorator form ``register("bert", "text-classification")(ConfigClass)``.
        """

    @hookspec
    def xporter_exporters(self) -> Sequence[ExporterSpec]:
        """Declare (backend, framework) export functions this plugin implements."""

    @hookspec
    def xporter_cli_commands(self) -> Sequence[CliCommand]:
        """Commands for ``xporter export <backend>``; a command named after the plugin's
        backend id becomes ``xporter export <backend>``, others become top-level commands."""
