"""The two ways to a .tflite: TensorFlow's converter, or litert-torch on a PyTorch module.

``export_tflite`` is one flow (static-shape config -> convert -> quantize -> LiteRT
validation -> report); only loading, conversion and the reference run differ by the
framework of the checkpoint. A path object bundles those three steps so the flow in
:mod:`xporter_tflite.export` stays framework-neutral.

Which path: ``framework="pt"|"tf"`` when given; otherwise the framework of the checkpoint
(core ``frameworks.determine_framework``). A PyTorch checkpoint goes through litert-torch
when it is installed (transformers 5 has no TensorFlow), else through TensorFlow with
``from_pt`` (the transformers 4.57 venv), as before.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from xporter.errors import FrameworkError

FRAMEWORKS = ("pt", "tf")
# module that makes each path usable, and how to get it
PATH_MODULES = {"pt": "litert_torch", "tf": "tensorflow"}
INSTALL_HINTS = {
    "pt": "pip install 'xporter-tflite[torch]' (litert-torch 0.10, transformers 5)",
    "tf": "pip install 'xporter-tflite[tf]' (TensorFlow, transformers<5)",
}


def _available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def torch_path_available() -> bool:
    """litert-torch is importable (checked without importing it)."""
    return _available(PATH_MODULES["pt"])


class TFPath:
    """TensorFlow model -> ``TFLiteConverter`` (quantization set on the converter)."""

    framework = "tf"
    exporter = "tflite-converter"  # the report's ``exporter``
    reference_name = "TensorFlow"  # the model LiteRT is compared with
    distributions = ("tensorflow", "tf-keras")  # versions the report records

    def check_options(self, quantization) -> None:
        """Every quantization option maps onto the TFLite converter."""

    def load(self, model, task, cache_dir, trust_remote_code, precheck):
        from .source import load_source

        return load_source(model, task, "tflite", cache_dir, trust_remote_code, precheck)

    def convert(self, source, config, component, quantization=None, calibration: Optional[List[Dict]] = None) -> bytes:
        from .convert import convert
        from .quantize import configure_converter

        configure = None
        if quantization is not None:
            representative = (lambda: iter(calibration)) if calibration is not None else None  # noqa: E731
            configure = lambda converter: configure_converter(converter, quantization, representative)  # noqa: E731
        return convert(source.model, config, component, configure)

    def reference(self, source, config, component, inputs):
        from .convert import call_reference

        return call_reference(source.model, config, component, inputs)


class TorchPath:
    """PyTorch module -> litert-torch; quantization by ai-edge-quantizer on the flatbuffer."""

    framework = "pt"
    exporter = "litert-torch"
    reference_name = "PyTorch"
    distributions = ("torch", "litert-torch", "ai-edge-quantizer")

    def check_options(self, quantization) -> None:
        """Refuse, before anything loads, the quantization options ai-edge-quantizer lacks."""
        if quantization is not None:
            from .torch_quantize import check_supported

            check_supported(quantization)

    def load(self, model, task, cache_dir, trust_remote_code, precheck):
        from .torch_source import load_torch_source

        return load_torch_source(model, task, cache_dir, trust_remote_code, precheck)

    def convert(self, source, config, component, quantization=None, calibration: Optional[List[Dict]] = None) -> bytes:
        from .torch_convert import convert_torch
        from .torch_quantize import quantize_flatbuffer

        flatbuffer = convert_torch(source.model, config, component)
        if quantization is None:
            return flatbuffer
        return quantize_flatbuffer(flatbuffer, quantization, calibration)

    def reference(self, source, config, component, inputs):
        from .torch_convert import call_reference_torch

        return call_reference_torch(source.model, config, component, inputs)


PATHS: Dict[str, Callable[[], Any]] = {"pt": TorchPath, "tf": TFPath}


def _framework_of(model: Any, cache_dir: Optional[str]) -> str:
    if isinstance(model, (str, Path)):
        from xporter import TasksManager

        return TasksManager.determine_framework(model, cache_dir=cache_dir)
    if type(model).__name__.startswith("TF"):
        return "tf"
    return "pt" if _is_torch_module(model) else "tf"  # the TF loader names anything else plainly


def _is_torch_module(model: Any) -> bool:
    torch = sys.modules.get("torch")  # a live torch module means torch is imported already
    return torch is not None and isinstance(model, torch.nn.Module)


def select_path(model: Any, framework: Optional[str] = None, cache_dir: Optional[str] = None):
    """The path for ``model``: the requested framework, else the checkpoint's (see module doc)."""
    if framework not in (None, "auto") + FRAMEWORKS:
        raise FrameworkError(f"unknown framework '{framework}'", f"choose one of {', '.join(FRAMEWORKS)}")
    if framework in FRAMEWORKS:
        if not _available(PATH_MODULES[framework]):
            raise FrameworkError(f"--framework {framework} needs {PATH_MODULES[framework]}, which is not installed",
                                 INSTALL_HINTS[framework])
        return PATHS[framework]()
    found = _framework_of(model, cache_dir)
    if found == "pt" and _available(PATH_MODULES["pt"]):
        return TorchPath()
    if _available(PATH_MODULES["tf"]):
        return TFPath()  # TF weights, or PyTorch weights converted with from_pt
    wanted = "pt" if found == "pt" else "tf"
    raise FrameworkError(f"exporting this {'PyTorch' if wanted == 'pt' else 'TensorFlow'} model to TFLite needs "
                         f"{PATH_MODULES[wanted]}, which is not installed", INSTALL_HINTS[wanted])
