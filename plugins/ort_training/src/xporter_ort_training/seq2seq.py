"""``ORTSeq2SeqTrainer``: ORT training + ``Seq2SeqTrainer``'s generate-based evaluate/predict.

Training goes through :class:`ORTTrainer` (ORTModule); ``evaluate``/``predict`` come from
``transformers.Seq2SeqTrainer`` and so honour ``max_length``, ``num_beams`` and any other
``generate`` keyword (``predict_with_generate=True`` in the arguments), running ``generate``
on the plain PyTorch model.
"""

from __future__ import annotations

from typing import Optional

from transformers import Seq2SeqTrainer

from .trainer import ORTTrainer
from .training_args import ORTSeq2SeqTrainingArguments


class ORTSeq2SeqTrainer(ORTTrainer, Seq2SeqTrainer):
    """Seq2seq trainer: ORTModule for training, PyTorch ``generate`` for evaluation."""

    def __init__(self, model=None, args: Optional[ORTSeq2SeqTrainingArguments] = None, *positional, **kwargs):
        if args is None:
            args = ORTSeq2SeqTrainingArguments(output_dir="tmp_trainer")
        super().__init__(model, args, *positional, **kwargs)
