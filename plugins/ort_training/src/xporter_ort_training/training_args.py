"""``ORTTrainingArguments``: ``transformers.TrainingArguments`` plus the ONNX Runtime knobs.

transformers validates ``optim`` against its own ``OptimizerNames`` enum in ``__post_init__``,
so an ORT optimizer name is swapped for a placeholder during that check and restored
afterwards. DeepSpeed configs are checked here, before any model is built, because
ORTModule cannot train a ZeRO-3 partitioned model (its parameters are not materialized
when the graph is exported).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Optional

from transformers import Seq2SeqTrainingArguments, TrainingArguments
from transformers.training_args import OptimizerNames

from xporter.errors import XporterError

ORT_OPTIMIZERS = ("adamw_ort_fused",)
ONNX_LOG_LEVELS = ("VERBOSE", "INFO", "WARNING", "ERROR", "FATAL")


class UnsupportedOptimizerError(XporterError, ValueError):
    """``optim`` names neither a transformers optimizer nor an ONNX Runtime one."""


class UnsupportedDeepSpeedConfigError(XporterError, ValueError):
    """A DeepSpeed configuration ORTModule cannot train (ZeRO stage 3)."""


def _deepspeed_stage(config) -> Optional[int]:
    if config is None:
        return None
    if isinstance(config, (str, os.PathLike)):
        with open(config, encoding="utf-8") as handle:
            config = json.load(handle)
    stage = (config or {}).get("zero_optimization", {}).get("stage")
    return int(stage) if stage not in (None, "auto") else None


def check_deepspeed_config(config) -> None:
    stage = _deepspeed_stage(config)
    if stage is not None and stage >= 3:
        raise UnsupportedDeepSpeedConfigError(
            "DeepSpeed ZeRO stage 3 is not supported by ORTTrainer: ORTModule exports the model graph "
            "with full parameters, which ZeRO-3 partitions away",
            "use ZeRO stage 1 or 2 (\"zero_optimization\": {\"stage\": 2}) or train with transformers.Trainer",
        )


@dataclass
class _ORTArgumentsMixin:
    """The ORT fields and ``__post_init__`` shared by the plain and seq2seq argument classes."""

    optim: str = field(default="adamw_torch", metadata={"help": "optimizer; adamw_ort_fused for ORT's fused AdamW"})
    use_module_with_loss: Optional[bool] = field(default=False, metadata={"help": "export the loss with the model"})
    save_onnx: Optional[bool] = field(default=False, metadata={"help": "save the exported ONNX training graphs"})
    onnx_prefix: Optional[str] = field(default=None, metadata={"help": "file prefix of the saved ONNX graphs"})
    onnx_log_level: Optional[str] = field(default="WARNING", metadata={"help": "ORTModule log level"})
    ort_fallback_to_pytorch: bool = field(default=False, metadata={"help": "train in PyTorch if ORT export fails"})

    def _ort_post_init(self, parent_post_init) -> None:
        valid = {o.value for o in OptimizerNames}
        requested = self.optim.value if isinstance(self.optim, OptimizerNames) else str(self.optim)
        if requested not in valid and requested not in ORT_OPTIMIZERS:
            raise UnsupportedOptimizerError(
                f"unsupported optimizer '{requested}' for ORTTrainer",
                f"choose one of {', '.join(ORT_OPTIMIZERS)} (ONNX Runtime) or a transformers optimizer, "
                "e.g. adamw_torch",
            )
        if str(self.onnx_log_level).upper() not in ONNX_LOG_LEVELS:
            raise XporterError(f"unknown onnx_log_level '{self.onnx_log_level}'", f"choose one of {', '.join(ONNX_LOG_LEVELS)}")
        self.onnx_log_level = str(self.onnx_log_level).upper()
        check_deepspeed_config(self.deepspeed)
        if requested in ORT_OPTIMIZERS:
            self.optim = OptimizerNames.ADAMW_TORCH.value
            parent_post_init(self)
            self.optim = requested
        else:
            parent_post_init(self)

    @property
    def uses_ort_optimizer(self) -> bool:
        return str(self.optim) in ORT_OPTIMIZERS


@dataclass
class ORTTrainingArguments(_ORTArgumentsMixin, TrainingArguments):
    """TrainingArguments for :class:`ORTTrainer`.

    Extra fields: ``optim="adamw_ort_fused"`` selects ONNX Runtime's fused AdamW (CUDA builds;
    on a CPU build torch's fused CPU AdamW kernel stands in, see ``optim.py``);
    ``use_module_with_loss`` exports the Trainer's loss computation into the ORT graph;
    ``save_onnx``/``onnx_prefix`` write the exported training graphs to ``output_dir``;
    ``onnx_log_level`` sets ORTModule's log level; ``ort_fallback_to_pytorch`` lets training
    continue in plain PyTorch when ORTModule cannot export the model (off by default, so a
    failed export is an error instead of a silently slower run).
    """

    def __post_init__(self):
        self._ort_post_init(TrainingArguments.__post_init__)


@dataclass
class ORTSeq2SeqTrainingArguments(_ORTArgumentsMixin, Seq2SeqTrainingArguments):
    """Seq2SeqTrainingArguments (``predict_with_generate``, ``generation_max_length``...) for ORT."""

    def __post_init__(self):
        self._ort_post_init(Seq2SeqTrainingArguments.__post_init__)
