"""Which model types the TFLite backend exports, for which tasks (data only).

The coverage follows Optimum's TFLite exporter (shared/reference/optimum-tflite-support.json)
plus gpt2 (text-generation), vit (image-classification) and t5 (text2text-generation),
all without a key/value cache because TFLite shapes are static. Config classes are named
as strings and resolved on registration, so reading this table imports nothing.
"""

from __future__ import annotations

from typing import NamedTuple, Tuple

from xporter import vocabulary


class Architecture(NamedTuple):
    model_type: str
    config_class: str  # attribute of xporter_tflite.configs
    tasks: Tuple[str, ...]
    library: str = "transformers"


# the core's shared group (xporter.vocabulary), as the ONNX tables use it
TEXT_ENCODER_TASKS = vocabulary.TEXT_ENCODER_TASKS
NO_MULTIPLE_CHOICE = tuple(t for t in TEXT_ENCODER_TASKS if t != "multiple-choice")

ARCHITECTURES: Tuple[Architecture, ...] = (
    Architecture("albert", "AlbertTFLiteConfig", TEXT_ENCODER_TASKS),
    Architecture("bert", "BertTFLiteConfig", TEXT_ENCODER_TASKS),
    Architecture("camembert", "CamembertTFLiteConfig", TEXT_ENCODER_TASKS),
    Architecture("convbert", "ConvBertTFLiteConfig", TEXT_ENCODER_TASKS),
    Architecture("deberta", "DebertaTFLiteConfig", NO_MULTIPLE_CHOICE),
    Architecture("deberta-v2", "DebertaV2TFLiteConfig", NO_MULTIPLE_CHOICE),
    Architecture("distilbert", "DistilBertTFLiteConfig", TEXT_ENCODER_TASKS),
    Architecture("electra", "ElectraTFLiteConfig", TEXT_ENCODER_TASKS),
    Architecture("flaubert", "FlaubertTFLiteConfig", TEXT_ENCODER_TASKS),
    Architecture("mobilebert", "MobileBertTFLiteConfig", TEXT_ENCODER_TASKS),
    Architecture("mpnet", "MPNetTFLiteConfig", TEXT_ENCODER_TASKS),
    Architecture("resnet", "ResNetTFLiteConfig", ("feature-extraction", "image-classification")),
    Architecture("roberta", "RobertaTFLiteConfig", TEXT_ENCODER_TASKS),
    Architecture("roformer", "RoFormerTFLiteConfig", TEXT_ENCODER_TASKS),
    Architecture("xlm", "XLMTFLiteConfig", TEXT_ENCODER_TASKS),
    Architecture("xlm-roberta", "XLMRobertaTFLiteConfig", TEXT_ENCODER_TASKS),
    Architecture("gpt2", "GPT2TFLiteConfig", ("text-generation",)),
    Architecture("vit", "ViTTFLiteConfig", ("image-classification",)),
    Architecture("t5", "T5TFLiteConfig", ("text2text-generation",)),
)
