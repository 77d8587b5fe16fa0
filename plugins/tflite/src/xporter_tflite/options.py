"""The options of a TFLite export: the core's frozen :class:`xporter.options.ExportOptions` plus
what only TFLite has (post-training quantization, the number of LiteRT validation samples).

``xporter export tflite`` builds one from its flags, :func:`xporter_tflite.export_tflite` from its
keywords; both exporters of this backend (``tf-to-tflite``, ``pt-to-tflite``) take it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, FrozenSet, Optional

from xporter import vocabulary
from xporter.errors import ExportError
from xporter.options import ExportOptions


@dataclass(frozen=True)
class TfliteExportOptions(ExportOptions):
    """``shapes`` are the static sizes (``batch_size``, ``sequence_length``, ``num_choices``, ``height``,
    ``width``, ``decoder_sequence_length``); ``quantization`` a
    :class:`xporter_tflite.quantize.QuantizationOptions` or a mode name."""

    quantization: Any = None
    num_validation_samples: Optional[int] = None

    SHAPE_NAMES: ClassVar[FrozenSet[str]] = frozenset(vocabulary.STATIC_SHAPE_FLAGS)

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.quantization, str):
            from .quantize import QuantizationOptions

            object.__setattr__(self, "quantization", QuantizationOptions(self.quantization))
        samples = self.num_validation_samples
        if samples is not None and (isinstance(samples, bool) or not isinstance(samples, int) or samples <= 0):
            raise ExportError(f"--num-validation-samples must be a positive integer, got {samples!r}",
                              "pass e.g. --num-validation-samples 20, or leave it out")
