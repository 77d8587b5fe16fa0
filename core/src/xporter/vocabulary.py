"""Names every backend shares, kept once here so the tables and CLIs of the plugins cannot drift.

Data only (no imports of frameworks, no logic):

* task groups that several backends register as a block (a text encoder's heads);
* the dummy/static shape names, their Optimum defaults and their CLI flags. ONNX traces with
  these defaults and keeps the axes dynamic; TFLite needs the user's static sizes for the same
  names (``--batch-size`` ...).
"""

from __future__ import annotations

from typing import Dict, Tuple

# The heads of a BERT-like text encoder, in Optimum's order.
TEXT_ENCODER_TASKS: Tuple[str, ...] = ("feature-extraction", "fill-mask", "text-classification", "multiple-choice",
                                       "question-answering", "token-classification")

# Optimum's default dummy-input shapes (``generate_dummy_inputs``).
DEFAULT_SHAPES: Dict[str, int] = {
    "batch_size": 2,
    "sequence_length": 16,
    "num_choices": 4,
    "width": 64,
    "height": 64,
    "num_channels": 3,
    "feature_size": 80,
    "nb_max_frames": 3000,
    "audio_sequence_length": 16000,
}
# What each shape sizes: the CLIs' help texts (the ONNX CLI adds the trace default, TFLite "static").
SHAPE_MEANINGS: Dict[str, str] = {
    "batch_size": "batch size",
    "sequence_length": "text sequence length",
    "num_choices": "candidate answers of multiple-choice",
    "width": "image width",
    "height": "image height",
    "num_channels": "image channels",
    "feature_size": "audio feature bins",
    "nb_max_frames": "audio frames of log-mel inputs",
    "audio_sequence_length": "raw audio samples",
    "decoder_sequence_length": "decoder length of encoder-decoder models",
}
# Optimum's keyword names for image sizes, accepted as aliases.
SHAPE_ALIASES: Dict[str, str] = {"image_width": "width", "image_height": "height"}
# The sizes a static-shape export (TFLite) asks the user for, and the CLI flag of each.
STATIC_SHAPE_FLAGS: Dict[str, str] = {
    "batch_size": "--batch-size",
    "sequence_length": "--sequence-length",
    "num_choices": "--num-choices",
    "height": "--height",
    "width": "--width",
    "decoder_sequence_length": "--decoder-sequence-length",
}


def shape_flag(name: str) -> str:
    """``batch_size`` -> ``--batch-size``."""
    return "--" + name.replace("_", "-")
