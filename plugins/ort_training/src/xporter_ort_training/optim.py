"""ONNX Runtime optimizers for ``ORTTrainingArguments.optim``.

``adamw_ort_fused`` is ONNX Runtime's ``FusedAdam`` (multi-tensor AdamW). Its kernels live in
the ``fused_ops`` CUDA extension, which a CPU build of onnxruntime-training does not have;
there the same update (decoupled weight decay, torch AdamW semantics) runs through torch's
fused CPU AdamW kernel, and a log line says so.
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


def _fused_ops_available() -> bool:
    try:
        import torch

        if not torch.cuda.is_available():
            return False
        from onnxruntime.training.ortmodule.torch_cpp_extensions import fused_ops  # noqa: F401
    except ImportError:
        return False
    return True


def get_ort_optimizer_cls_and_kwargs(args):
    """(optimizer class, kwargs) for an ORT optimizer name in ``args.optim``."""
    from .training_args import ORT_OPTIMIZERS, UnsupportedOptimizerError

    name = str(args.optim)
    if name not in ORT_OPTIMIZERS:
        raise UnsupportedOptimizerError(f"'{name}' is not an ONNX Runtime optimizer", f"choose one of {', '.join(ORT_OPTIMIZERS)}")
    kwargs = {"lr": args.learning_rate, "betas": (args.adam_beta1, args.adam_beta2), "eps": args.adam_epsilon}
    if _fused_ops_available():
        from .runtime import import_ort_training

        import_ort_training()
        from onnxruntime.training.optim import AdamWMode, FusedAdam

        return FusedAdam, {**kwargs, "adam_w_mode": AdamWMode.ADAMW_TORCH}
    import torch

    logger.info("adamw_ort_fused: ONNX Runtime's FusedAdam needs CUDA; using torch's fused CPU AdamW kernel")
    return torch.optim.AdamW, {**kwargs, "fused": True}
