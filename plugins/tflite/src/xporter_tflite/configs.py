"""Model-specific TFLite configs.

Each class only says what differs from its modality's base class; the registration
(which tasks each model type supports) is data in :mod:`xporter_tflite.architectures`.
"""

from __future__ import annotations

from typing import Dict

from .config_base import (
    InputSpec,
    Seq2SeqTFLiteConfig,
    TextDecoderTFLiteConfig,
    TextEncoderNoTypesTFLiteConfig,
    TextEncoderTFLiteConfig,
    VisionTFLiteConfig,
)


class AlbertTFLiteConfig(TextEncoderTFLiteConfig):
    pass


class BertTFLiteConfig(TextEncoderTFLiteConfig):
    pass


class ConvBertTFLiteConfig(TextEncoderTFLiteConfig):
    pass


class ElectraTFLiteConfig(TextEncoderTFLiteConfig):
    pass


class FlaubertTFLiteConfig(TextEncoderTFLiteConfig):
    pass


class MobileBertTFLiteConfig(TextEncoderTFLiteConfig):
    pass


class RoFormerTFLiteConfig(TextEncoderTFLiteConfig):
    pass


class XLMTFLiteConfig(TextEncoderTFLiteConfig):
    pass


class DistilBertTFLiteConfig(TextEncoderNoTypesTFLiteConfig):
    pass


class RobertaTFLiteConfig(TextEncoderNoTypesTFLiteConfig):
    pass


class CamembertTFLiteConfig(TextEncoderNoTypesTFLiteConfig):
    pass


class XLMRobertaTFLiteConfig(TextEncoderNoTypesTFLiteConfig):
    pass


class MPNetTFLiteConfig(TextEncoderNoTypesTFLiteConfig):
    pass


class DebertaTFLiteConfig(TextEncoderTFLiteConfig):
    """DeBERTa only embeds token types when ``type_vocab_size > 0`` (0 in most checkpoints)."""

    TASK_OUTPUTS = {k: v for k, v in TextEncoderTFLiteConfig.TASK_OUTPUTS.items() if k != "multiple-choice"}

    def model_inputs(self) -> Dict[str, InputSpec]:
        inputs = super().model_inputs()
        if not getattr(self._config, "type_vocab_size", 0):
            inputs.pop("token_type_ids", None)
        return inputs


class DebertaV2TFLiteConfig(DebertaTFLiteConfig):
    pass


class ResNetTFLiteConfig(VisionTFLiteConfig):
    pass


class ViTTFLiteConfig(VisionTFLiteConfig):
    pass


class GPT2TFLiteConfig(TextDecoderTFLiteConfig):
    pass


class T5TFLiteConfig(Seq2SeqTFLiteConfig):
    pass
