"""Make onnxruntime-training 1.19.2 (the last release) work on torch >= 2.9.

ORTModule was written against torch 2.4. On torch 2.9+ four things break; each fix
below is the smallest change that restores the old behaviour *for ORT's code only*:

1. The TorchScript exporter internals moved: ``torch.onnx._internal.jit_utils``,
   ``registration``, ``torch.onnx._globals``, ``_type_utils`` and ``_experimental`` now live
   under ``torch.onnx._internal.torchscript_exporter``. We alias the old module paths in
   ``sys.modules`` (and as package attributes) so ORT's ``from torch.onnx import _globals``
   style imports resolve.
2. ``torch.onnx.export`` defaults to the dynamo exporter. ORTModule builds its training
   graph from a TorchScript export, so calls *made from onnxruntime's modules* that do not
   pass ``dynamo`` get ``dynamo=False``; everybody else keeps torch's default.
3. The ``torch_interop_utils`` C++ extension (custom ``autograd.Function`` support) no
   longer compiles against torch 2.9+, so ``ORTMODULE_ENABLE_CUSTOM_AUTOGRAD=0`` is set
   before ORTModule is imported (models with custom autograd functions are then exported by
   inlining, or fail the export with a clear message).
4. ``torch.cuda.nvtx.range_push/pop`` raise on a CPU-only torch build; ORT calls them
   around every step, so they become no-ops when torch has no CUDA.

Nothing here runs at plugin import: :func:`apply` is called by the trainer and the
artifact builder right before they import ``onnxruntime.training``. It is idempotent.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
import threading

# old module path -> new module path (torch >= 2.9)
MOVED_MODULES = {
    "torch.onnx._internal.jit_utils": "torch.onnx._internal.torchscript_exporter.jit_utils",
    "torch.onnx._internal.registration": "torch.onnx._internal.torchscript_exporter.registration",
    "torch.onnx._globals": "torch.onnx._internal.torchscript_exporter._globals",
    "torch.onnx._type_utils": "torch.onnx._internal.torchscript_exporter._type_utils",
    "torch.onnx._experimental": "torch.onnx._internal.torchscript_exporter._experimental",
}

_lock = threading.Lock()
_applied = False


def _alias_moved_modules() -> list:
    aliased = []
    for old, new in MOVED_MODULES.items():
        try:
            importlib.import_module(old)
            continue  # still exists on this torch: nothing to do
        except ImportError:
            pass
        try:
            module = importlib.import_module(new)
        except ImportError:
            continue
        sys.modules[old] = module
        parent_name, _, attr = old.rpartition(".")
        setattr(importlib.import_module(parent_name), attr, module)
        aliased.append(old)
    return aliased


def _force_torchscript_export_for_ort() -> bool:
    """Wrap ``torch.onnx.export`` so calls from onnxruntime default to ``dynamo=False``."""
    import inspect

    import torch.onnx

    export = torch.onnx.export
    if getattr(export, "_xporter_ort_compat", False):
        return False
    if "dynamo" not in inspect.signature(export).parameters:
        return False  # old torch: TorchScript is the only exporter

    @functools.wraps(export)
    def export_for_ort(*args, **kwargs):
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if "dynamo" not in kwargs and caller.startswith("onnxruntime."):
            kwargs["dynamo"] = False
        return export(*args, **kwargs)

    export_for_ort._xporter_ort_compat = True
    torch.onnx.export = export_for_ort
    return True


INTEROP_MODULE = "onnxruntime.training.ortmodule.torch_cpp_extensions.torch_interop_utils"


def _stub_missing_interop_extension() -> bool:
    """Register a placeholder for the uncompilable ``torch_interop_utils`` extension."""
    import importlib.util
    import types
    from pathlib import Path

    spec = importlib.util.find_spec("onnxruntime")
    if spec is None or not spec.submodule_search_locations or INTEROP_MODULE in sys.modules:
        return False
    folder = Path(list(spec.submodule_search_locations)[0]) / "training" / "ortmodule" / "torch_cpp_extensions"
    if list(folder.glob("torch_interop_utils*.so")):
        return False

    def unavailable(*args, **kwargs):
        raise RuntimeError("torch_interop_utils is not built (custom autograd.Function support is off on torch >= 2.9)")

    stub = types.ModuleType(INTEROP_MODULE, "placeholder installed by xporter_ort_training.compat")
    for name in ("get_custom_function_forward_runner", "get_custom_function_backward_runner", "clear_all_grad_fns"):
        setattr(stub, name, unavailable)
    sys.modules[INTEROP_MODULE] = stub
    return True


def _noop_nvtx_on_cpu_build() -> bool:
    import torch

    if torch.version.cuda is not None or getattr(torch.version, "hip", None) is not None:
        return False
    nvtx = torch.cuda.nvtx
    for name in ("range_push", "range_pop", "mark"):
        if hasattr(nvtx, name):
            setattr(nvtx, name, lambda *args, **kwargs: None)
    return True


def apply() -> dict:
    """Install the compatibility layer (idempotent); return what was changed."""
    global _applied
    with _lock:
        if _applied:
            return {"already_applied": True}
        # must precede the first import of onnxruntime.training.ortmodule
        os.environ.setdefault("ORTMODULE_ENABLE_CUSTOM_AUTOGRAD", "0")
        report = {
            "aliased": _alias_moved_modules(),
            "export_wrapped": _force_torchscript_export_for_ort(),
            "nvtx_noop": _noop_nvtx_on_cpu_build(),
            "interop_stub": _stub_missing_interop_extension(),
            "custom_autograd": os.environ["ORTMODULE_ENABLE_CUSTOM_AUTOGRAD"],
        }
        _applied = True
        return report
