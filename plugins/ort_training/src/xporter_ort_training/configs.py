"""Declarative training-artifact configs: model_type -> tasks -> loss head.

Each config says which model inputs the training graph takes, which label inputs the loss
needs and how the logits meet the labels (the *head*). Nothing here imports torch, onnx or
transformers; :mod:`xporter_ort_training.artifacts` does the work. Input/output names are
our own small tables (the ONNX plugin is a separate distribution we do not depend on).

Heads
-----
``sequence``  logits [batch, classes] vs labels [batch] (text-classification)
``token``     logits [batch, seq, classes] vs labels [batch, seq] (token-classification, fill-mask; -100 ignored)
``causal``    logits shifted one step vs labels [batch, seq] (text-generation; -100 ignored)
``span``      start/end logits [batch, seq] vs start_positions/end_positions [batch] (question-answering)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple


@dataclass(frozen=True)
class Head:
    """How one task's outputs become a loss."""

    kind: str
    logits: Tuple[str, ...]  # model outputs that feed the loss (also the inference outputs)
    labels: Tuple[str, ...]  # label inputs of the training graph, one per logits output


HEADS: Dict[str, Head] = {
    "text-classification": Head("sequence", ("logits",), ("labels",)),
    "token-classification": Head("token", ("logits",), ("labels",)),
    "fill-mask": Head("token", ("logits",), ("labels",)),
    "text-generation": Head("causal", ("logits",), ("labels",)),
    "question-answering": Head("span", ("start_logits", "end_logits"), ("start_positions", "end_positions")),
}

IGNORE_INDEX = -100


class OrtTrainingConfig:
    """Base config: what a training artifact for (model, task) consumes and produces."""

    INPUTS: Tuple[str, ...] = ("input_ids", "attention_mask")
    TASKS: Tuple[str, ...] = ()
    DEFAULT_OPSET = 17

    def __init__(self, config, task: str = "text-classification", **kwargs):
        if task not in HEADS:
            from xporter.errors import UnknownTaskError

            raise UnknownTaskError(f"task '{task}' has no ort_training loss head",
                                   f"supported tasks: {', '.join(sorted(HEADS))}")
        self._config = config
        self.task = task
        self.head = HEADS[task]
        self.opset = kwargs.get("opset") or self.DEFAULT_OPSET

    @property
    def inputs(self) -> Tuple[str, ...]:
        return self.INPUTS

    @property
    def labels(self) -> Tuple[str, ...]:
        return self.head.labels

    @property
    def outputs(self) -> Tuple[str, ...]:
        """Inference outputs (the loss-carrying graphs output ``loss`` plus these)."""
        return self.head.logits

    def __repr__(self) -> str:
        return f"{type(self).__name__}(task={self.task!r}, inputs={self.inputs}, labels={self.labels})"


class EncoderOrtTrainingConfig(OrtTrainingConfig):
    """BERT-like encoders (no token_type_ids)."""

    TASKS = ("text-classification", "token-classification", "question-answering", "fill-mask")


class BertLikeOrtTrainingConfig(EncoderOrtTrainingConfig):
    """Encoders that also take ``token_type_ids``."""

    INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class DecoderOrtTrainingConfig(OrtTrainingConfig):
    """Decoder-only language models."""

    TASKS = ("text-generation", "text-classification")


class GPT2OrtTrainingConfig(DecoderOrtTrainingConfig):
    TASKS = ("text-generation", "text-classification", "token-classification")


@dataclass(frozen=True)
class Architecture:
    model_type: str
    config_class: type
    tasks: Tuple[str, ...] = ()
    library: str = "transformers"

    @property
    def supported_tasks(self) -> Tuple[str, ...]:
        return self.tasks or self.config_class.TASKS


ARCHITECTURES = (
    Architecture("bert", BertLikeOrtTrainingConfig),
    Architecture("albert", BertLikeOrtTrainingConfig),
    Architecture("electra", BertLikeOrtTrainingConfig),
    Architecture("roberta", EncoderOrtTrainingConfig),
    Architecture("xlm-roberta", EncoderOrtTrainingConfig),
    Architecture("camembert", EncoderOrtTrainingConfig),
    Architecture("distilbert", EncoderOrtTrainingConfig),
    Architecture("mpnet", EncoderOrtTrainingConfig),
    Architecture("gpt2", GPT2OrtTrainingConfig),
    Architecture("gpt-neo", DecoderOrtTrainingConfig),
    Architecture("opt", DecoderOrtTrainingConfig),
    Architecture("llama", DecoderOrtTrainingConfig),
    Architecture("qwen2", DecoderOrtTrainingConfig),
)
