"""Text encoders of transformers 5.x beyond Optimum's list, as data.

Every row here validates with the plain :class:`~xporter_onnx.modalities.TextEncoderOnnxConfig`
(token ids and mask, ``token_type_ids`` where the forward takes them): what differs is only
the task list, which is the type's auto mappings in transformers 5.24
(``tests/test_head_tables.py`` checks it), and the tiny config of the test sweep. The rows
were found by ``scripts/probe_unregistered.py``; an encoder that needs more (layout boxes,
character hashing, FFTs) gets a class of its own in ``text_encoders.py`` instead.

``text-generation`` rows are the types' ``…ForCausalLM`` heads exported without a cache
(BERT-style models used as decoders are re-run on the whole sequence).
"""

from __future__ import annotations

from ..modalities import TextEncoderOnnxConfig
from . import Arch
from .text_encoders import ALL_TEXT, LAYOUT, OPTIONAL_TT, TINY_TEXT

# the auto mappings' heads of the rows below, grouped
WITH_CAUSAL = ALL_TEXT + ("text-generation",)
NO_MC = tuple(t for t in ALL_TEXT if t != "multiple-choice")
# default special-token ids of several families lie beyond the tiny vocabulary
PADDED_TEXT = dict(TINY_TEXT, pad_token_id=0, bos_token_id=1, eos_token_id=2)


def encoder(model_type: str, tasks=ALL_TEXT, tiny=TINY_TEXT, **attrs) -> Arch:
    """A row for ``model_type`` on the plain text-encoder base (``attrs``: class attributes beyond
    the optional ``token_type_ids``)."""
    return Arch(model_type, tuple(tasks), TextEncoderOnnxConfig, dict(OPTIONAL_TT, **attrs), tiny=dict(tiny))


ARCHITECTURES = [
    encoder("ernie", WITH_CAUSAL), encoder("luke"), encoder("mra"),
    encoder("esmc", LAYOUT), encoder("gte", LAYOUT), encoder("modernvbert", LAYOUT), encoder("nomic_bert", LAYOUT),
    encoder("jina_embeddings_v3", NO_MC), encoder("neomme", ("feature-extraction", "fill-mask")),
    encoder("roberta-prelayernorm", WITH_CAUSAL), encoder("roc_bert", WITH_CAUSAL), encoder("ultrabert", NO_MC),
    encoder("xlm-roberta-xl", WITH_CAUSAL), encoder("yoso"), encoder("eurobert", LAYOUT, PADDED_TEXT),
    # a mixture-of-experts token classifier with grouped-query attention
    encoder("openai_privacy_filter", ("feature-extraction", "token-classification"),
            dict(PADDED_TEXT, num_key_value_heads=2, head_dim=8, num_local_experts=4, num_experts_per_tok=2)),
    # X-MOD routes through per-language adapters: the tiny model has one language, set as the default
    encoder("xmod", WITH_CAUSAL, dict(TINY_TEXT, languages=["en_XX"], default_language="en_XX")),
]
