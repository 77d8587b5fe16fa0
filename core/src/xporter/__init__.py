"""xporter: export Hugging Face models to ONNX, TFLite and ONNX Runtime training.

Importing this package loads no plugin and no framework; the first lookup that names a
backend loads that backend's plugin (see :mod:`xporter.plugins`).
"""

from .errors import XporterError
from .hookspecs import BackendInfo, CliCommand, ExporterSpec, hookimpl
from .manager import TasksManager
from .options import ExportOptions, OnnxExportOptions
from .registry import ConfigConstructor, Registrar, Registry, create_register

__version__ = "0.1.0"

__all__ = [
    "BackendInfo",
    "CliCommand",
    "ConfigConstructor",
    "ExportOptions",
    "ExporterSpec",
    "OnnxExportOptions",
    "Registrar",
    "Registry",
    "TasksManager",
    "XporterError",
    "__version__",
    "create_register",
    "hookimpl",
]
