"""sentence-transformers pipelines (library ``sentence_transformers``).

The exported graph is the whole pipeline (transformer + pooling + normalize), so it
returns ``sentence_embedding`` next to ``token_embeddings`` (Optimum's names). CLIP
checkpoints embed texts and images: one graph returns ``text_embeds`` and ``image_embeds``,
each exactly what ``SentenceTransformer.encode`` gives for a text / an image (the modules
after the CLIP one, e.g. Normalize, included).
"""

from __future__ import annotations

from typing import Any, Dict

from ..modalities import TextAndVisionOnnxConfig, TextEncoderOnnxConfig
from . import Arch

ST_TASKS = ("feature-extraction", "sentence-similarity")


class SentenceTransformersTransformerOnnxConfig(TextEncoderOnnxConfig):
    """Inputs of the inner transformer; ST's forward takes one features dict."""

    INPUT_NAMES = ("input_ids", "attention_mask")
    OUTPUTS = {"token_embeddings": {0: "batch_size", 1: "sequence_length"}, "sentence_embedding": {0: "batch_size"}}
    ATOL_FOR_VALIDATION = 1e-4

    def call_model(self, model: Any, kwargs: Dict[str, Any]) -> Any:
        return model(dict(kwargs))


class SentenceTransformersCLIPOnnxConfig(TextAndVisionOnnxConfig):
    """Texts and images through the same module stack, in two passes: sentence-transformers picks
    the tower from the features' ``modality`` (older releases from which keys are present)."""

    OUTPUTS = {"text_embeds": {0: "text_batch_size"}, "image_embeds": {0: "image_batch_size"}}
    ATOL_FOR_VALIDATION = 1e-4

    def call_model(self, model: Any, kwargs: Dict[str, Any]) -> Any:
        text = {"input_ids": kwargs["input_ids"], "attention_mask": kwargs["attention_mask"], "modality": "text"}
        image = {"pixel_values": kwargs["pixel_values"], "modality": "image"}
        return {"text_embeds": model(text)["sentence_embedding"], "image_embeds": model(image)["sentence_embedding"]}


ARCHITECTURES = [
    Arch("transformer", ST_TASKS, SentenceTransformersTransformerOnnxConfig, library="sentence_transformers"),
    Arch("clip", ST_TASKS, SentenceTransformersCLIPOnnxConfig, library="sentence_transformers"),
]
