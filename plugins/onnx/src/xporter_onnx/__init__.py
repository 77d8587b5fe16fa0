"""xporter-onnx: the ONNX backend of xporter.

Public API (imported lazily so ``import xporter_onnx`` stays cheap):

* config classes: ``OnnxConfig``, ``OnnxConfigWithPast``, ``OnnxSeq2SeqConfigWithPast``,
  ``ConfigBehavior``, ``TextEncoderOnnxConfig``, ``TextDecoderOnnxConfig``,
  ``TextSeq2SeqOnnxConfig``, ``VisionOnnxConfig``, ``TextAndVisionOnnxConfig``,
  ``AudioOnnxConfig``;
* ``export(model_name_or_path, output, task="auto", **options) -> ExportReport``.
"""

from __future__ import annotations

from .base import ConfigBehavior, ExportPart, OnnxConfig, OnnxConfigWithPast, OnnxSeq2SeqConfigWithPast
from .modalities import (
    AudioFeaturesOnnxConfig,
    AudioOnnxConfig,
    TextAndVisionOnnxConfig,
    TextDecoderOnnxConfig,
    TextEncoderOnnxConfig,
    TextSeq2SeqOnnxConfig,
    VisionOnnxConfig,
)

__version__ = "0.1.0"


def export(model_name_or_path, output, task: str = "auto", **options):
    """Export a model folder / repo id to ONNX in ``output``; see :func:`xporter_onnx.exporter.export`."""
    from .exporter import export as _export

    return _export(model_name_or_path, output, task=task, **options)


__all__ = [
    "AudioFeaturesOnnxConfig", "AudioOnnxConfig", "ConfigBehavior", "ExportPart", "OnnxConfig", "OnnxConfigWithPast",
    "OnnxSeq2SeqConfigWithPast", "TextAndVisionOnnxConfig", "TextDecoderOnnxConfig", "TextEncoderOnnxConfig",
    "TextSeq2SeqOnnxConfig", "VisionOnnxConfig", "export",
]
