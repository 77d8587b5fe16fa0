"""sentence-transformers pipelines (library ``sentence_transformers``).

The exported graph is the whole pipeline (transformer + pooling + normalize), so it
returns ``sentence_embedding`` next to ``token_embeddings`` (Optimum's names).
"""

from __future__ import annotations

from typing import Any, Dict

from ..modalities import TextEncoderOnnxConfig
from . import Arch


class SentenceTransformersTransformerOnnxConfig(TextEncoderOnnxConfig):
    """Inputs of the inner transformer; ST's forward takes one features dict."""

    INPUT_NAMES = ("input_ids", "attention_mask")
    OUTPUTS = {"token_embeddings": {0: "batch_size", 1: "sequence_length"}, "sentence_embedding": {0: "batch_size"}}
    ATOL_FOR_VALIDATION = 1e-4

    def call_model(self, model: Any, kwargs: Dict[str, Any]) -> Any:
        return model(dict(kwargs))


ARCHITECTURES = [
    Arch("transformer", ("feature-extraction", "sentence-similarity"), SentenceTransformersTransformerOnnxConfig,
         library="sentence_transformers"),
]
