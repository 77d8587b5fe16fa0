"""``ORTTrainer``: ``transformers.Trainer`` whose training forward/backward runs in ONNX Runtime.

Design: the Trainer loop is left to transformers. Only the model wrapping changes: for
training, ``_wrap_model`` puts the model inside ORTModule (then DDP when distributed);
evaluation and prediction keep the plain PyTorch model, as Optimum's ORTTrainer did, so
``generate`` and metric code behave exactly like ``Trainer``. ``self.model`` stays the
user's ``PreTrainedModel`` (ORTModule shares its parameters), so checkpoints, ``save_model``
and ``resume_from_checkpoint`` are Trainer's own.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

import torch
from torch import nn
from transformers import Trainer
from transformers.training_args import ParallelMode

from . import ort_module
from .optim import get_ort_optimizer_cls_and_kwargs
from .runtime import check_environment
from .training_args import ORTTrainingArguments

logger = logging.getLogger(__name__)


class ModuleWithLoss(nn.Module):
    """Model + the Trainer's loss as one module, so ORTModule exports the loss into the training
    graph (``use_module_with_loss=True``). With label smoothing or a ``compute_loss_func`` the
    labels are kept out of the model call and the Trainer's loss is applied to its outputs."""

    def __init__(self, model: nn.Module, external_loss=None):
        super().__init__()
        self.model = model
        self.external_loss = external_loss

    def forward(self, **inputs):
        if self.external_loss is not None and "labels" in inputs:
            labels = inputs.pop("labels")
            return self.external_loss(self.model(**inputs), labels)
        outputs = self.model(**inputs)
        return outputs["loss"] if isinstance(outputs, dict) else outputs[0]


class ORTTrainer(Trainer):
    """Trainer that trains with ONNX Runtime (ORTModule); see seed 004 for the contract.

    Extra attributes: ``ort_model`` (the ORTModule used for training, once built) and
    :meth:`ort_backend_active` (True once ONNX Runtime, not PyTorch, ran the training step).
    """

    args: ORTTrainingArguments

    def __init__(self, model=None, args: Optional[ORTTrainingArguments] = None, *positional, **kwargs):
        check_environment()  # clear one-line error before any work when ORT training is missing
        if args is None:
            args = ORTTrainingArguments(output_dir="tmp_trainer")
        if "tokenizer" in kwargs:  # seed 004 / transformers 4 name; transformers 5 calls it processing_class
            kwargs.setdefault("processing_class", kwargs.pop("tokenizer"))
        super().__init__(model, args, *positional, **kwargs)
        self.ort_model = None
        self._module_with_loss = None

    # -- optimizer ----------------------------------------------------------------------
    @staticmethod
    def get_ort_optimizer_cls_and_kwargs(args: ORTTrainingArguments):
        """Optimizer class and kwargs for an ONNX Runtime optimizer name (``adamw_ort_fused``)."""
        return get_ort_optimizer_cls_and_kwargs(args)

    @staticmethod
    def get_optimizer_cls_and_kwargs(args, model=None):
        if str(getattr(args, "optim", "")) in ("adamw_ort_fused",):
            return get_ort_optimizer_cls_and_kwargs(args)
        return Trainer.get_optimizer_cls_and_kwargs(args, model)

    def _ort_option(self, name: str, default):
        """ORT fields of ``args``; plain ``TrainingArguments`` get the ORTTrainingArguments defaults."""
        return getattr(self.args, name, default)

    # -- model wrapping -----------------------------------------------------------------
    def _ort_wrap(self, model: nn.Module) -> nn.Module:
        for module in model.modules():
            # a KV cache is useless in training and its Cache objects cannot be ORT graph outputs;
            # sub-stacks (T5's decoder) carry their own config copy. generate() passes use_cache itself.
            config = getattr(module, "config", None)
            if getattr(config, "use_cache", False):
                config.use_cache = False
        target = model
        if self._ort_option("use_module_with_loss", False):
            external = self._external_loss if (self.label_smoother or self.compute_loss_func) else None
            self._module_with_loss = target = ModuleWithLoss(model, external)
        self.ort_model = ort_module.wrap(
            target, save_onnx=self._ort_option("save_onnx", False), onnx_prefix=self._ort_option("onnx_prefix", None),
            save_path=self.args.output_dir, log_level=str(self._ort_option("onnx_log_level", "WARNING")).upper(),
            fallback=self._ort_option("ort_fallback_to_pytorch", False),
        )
        return self.ort_model

    def _wrap_model(self, model: nn.Module, training: bool = True, dataloader=None) -> nn.Module:
        if not training:
            return super()._wrap_model(ort_module.unwrap(model), training=False, dataloader=dataloader)
        if ort_module.find_ort_module(model) is not None:
            return model  # already wrapped by a previous train() call
        if self.is_deepspeed_enabled:
            # DeepSpeed must wrap the ORTModule itself; it prepares ``self.model`` (ZeRO-3 was refused in args)
            self.model = self._ort_wrap(self.model)
            return self.model
        wrapped = self._ort_wrap(model)
        if self.args.parallel_mode == ParallelMode.DISTRIBUTED:
            wrapped = self.accelerator.prepare_model(wrapped)  # DDP (gloo on CPU) around ORTModule
        return wrapped

    def ort_backend_active(self) -> bool:
        return ort_module.ort_backend_active(self.ort_model)

    # -- loss ---------------------------------------------------------------------------
    def _external_loss(self, outputs, labels):
        if self.compute_loss_func is not None:
            return self.compute_loss_func(outputs, labels)
        return self.label_smoother(outputs, labels)

    def compute_loss(self, model, inputs, return_outputs: bool = False, num_items_in_batch=None):
        is_ort = ort_module.find_ort_module(model) is not None
        if not is_ort:
            return super().compute_loss(model, inputs, return_outputs=return_outputs,
                                        num_items_in_batch=num_items_in_batch)
        try:
            if self._module_with_loss is not None:
                loss = model(**inputs)
                return (loss, None) if return_outputs else loss
            return super().compute_loss(model, inputs, return_outputs=return_outputs,
                                        num_items_in_batch=num_items_in_batch)
        except Exception as exc:
            if ort_module.is_export_failure(exc):
                raise ort_module.export_error(model, exc) from exc
            raise

    def training_step(self, model: nn.Module, inputs: dict, num_items_in_batch: Any = None) -> torch.Tensor:
        loss = super().training_step(model, inputs, num_items_in_batch)
        if not self._ort_option("ort_fallback_to_pytorch", False) and self.ort_model is not None and not self.ort_backend_active():
            raise ort_module.export_error(model, RuntimeError("ORTModule fell back to PyTorch"))
        return loss
