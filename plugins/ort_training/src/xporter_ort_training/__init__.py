"""ONNX Runtime training for xporter: ``ORTTrainer`` and on-device training artifacts.

Importing this package is cheap; the trainer classes (which import torch and
transformers) load on first attribute access.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "ORTTrainer": "trainer",
    "ModuleWithLoss": "trainer",
    "ORTSeq2SeqTrainer": "seq2seq",
    "ORTTrainingArguments": "training_args",
    "ORTSeq2SeqTrainingArguments": "training_args",
    "generate_training_artifacts": "artifacts",
    "ArtifactTrainer": "artifact_training",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
