"""Wrap a torch model in ORTModule, and prove afterwards that ONNX Runtime really trained it.

ORTModule's default fallback policy silently switches to plain PyTorch when the export
fails, which makes "ORT training works" impossible to tell from "PyTorch training works".
We therefore disable fallback unless the user asked for it, turn ORT's export failures into
one-line :class:`~xporter.errors.ExportError`s naming the module, and expose
:func:`ort_backend_active` so callers (and tests) can assert the ORT path ran.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from xporter.errors import ExportError

logger = logging.getLogger(__name__)


def _import():
    from .runtime import import_ortmodule

    return import_ortmodule()


def wrap(model, *, save_onnx: bool = False, onnx_prefix: Optional[str] = None, save_path: str = "",
         log_level: str = "WARNING", fallback: bool = False):
    """Return ``ORTModule(model)``; with ``fallback=False`` a failed export raises."""
    ortmodule = _import()
    from onnxruntime.training.ortmodule import DebugOptions, LogLevel, ORTModule
    from onnxruntime.training.ortmodule._fallback import _FallbackPolicy

    if fallback:
        ortmodule.ORTMODULE_FALLBACK_POLICY = (
            _FallbackPolicy.FALLBACK_UNSUPPORTED_DEVICE | _FallbackPolicy.FALLBACK_UNSUPPORTED_DATA
            | _FallbackPolicy.FALLBACK_UNSUPPORTED_TORCH_MODEL | _FallbackPolicy.FALLBACK_UNSUPPORTED_ONNX_MODEL
        )
    else:
        ortmodule.ORTMODULE_FALLBACK_POLICY = _FallbackPolicy.FALLBACK_DISABLE
    prefix = onnx_prefix or type(model).__name__
    options = DebugOptions(log_level=LogLevel[log_level], save_onnx=bool(save_onnx), onnx_prefix=prefix,
                           save_path=save_path if save_onnx else "")
    try:
        return ORTModule(model, options)
    except Exception as exc:  # raised at construction only when fallback is disabled
        raise export_error(model, exc) from exc


def is_ort_module(model: Any) -> bool:
    return type(model).__name__ == "ORTModule" and hasattr(model, "_torch_module")


def unwrap(model: Any) -> Any:
    """The user's module inside an ORTModule (DDP/DeepSpeed wrappers are peeled first)."""
    inner = getattr(model, "module", None)
    if inner is not None and not is_ort_module(model):
        model = inner
    if is_ort_module(model):
        return model._torch_module._original_module
    return model


def find_ort_module(model: Any) -> Optional[Any]:
    """The ORTModule in a (possibly DDP-wrapped) model, or None."""
    for candidate in (model, getattr(model, "module", None)):
        if candidate is not None and is_ort_module(candidate):
            return candidate
    return None


def ort_backend_active(model: Any, training: bool = True) -> bool:
    """True when ``model`` runs through ONNX Runtime: exported, and not fallen back to PyTorch."""
    ort = find_ort_module(model)
    if ort is None or type(ort._torch_module).__name__ != "TorchModuleORT":
        return False
    manager = ort._torch_module._execution_manager(training)
    if manager._fallback_manager.is_pending():
        return False
    models = getattr(manager, "_onnx_models", None)
    return models is not None and getattr(models, "optimized_model", None) is not None


def is_export_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is ORTModule saying it cannot export/run the model."""
    try:
        from onnxruntime.training.ortmodule._fallback_exceptions import ORTModuleFallbackException
    except ImportError:
        return False
    seen = exc
    while seen is not None:
        if isinstance(seen, ORTModuleFallbackException):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def export_error(model: Any, exc: BaseException) -> ExportError:
    name = type(unwrap(model)).__name__
    detail = str(exc).strip().splitlines()
    first = next((line for line in detail if line.strip() and "****" not in line), type(exc).__name__)
    return ExportError(
        f"ORTModule cannot export {name}.forward for training: {first[:300]}",
        "make forward traceable by torch.onnx (TorchScript), or pass ort_fallback_to_pytorch=True in "
        "ORTTrainingArguments to train this model in plain PyTorch",
    )
