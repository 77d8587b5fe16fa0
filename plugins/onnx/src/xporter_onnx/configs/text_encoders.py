"""Encoder-only text architectures (BERT family), as data.

Rows follow Optimum's task lists (reference/optimum-onnx-support.json). Input names:
BERT-likes take token_type_ids, RoBERTa-likes do not (as in Optimum's exports).
"""

from __future__ import annotations

from ..modalities import TextEncoderOnnxConfig
from ..normalized import NormalizedTextConfig
from . import Arch

ALL_TEXT = ("feature-extraction", "fill-mask", "text-classification", "multiple-choice", "question-answering",
            "token-classification")
NO_MC = tuple(t for t in ALL_TEXT if t != "multiple-choice")
NO_MC_QA = tuple(t for t in NO_MC if t != "question-answering")

TINY_TEXT = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                 max_position_embeddings=64, type_vocab_size=2)
NO_TT = dict(INPUT_NAMES=("input_ids", "attention_mask"))
OPTIONAL_TT = dict(OPTIONAL_TOKEN_TYPE_IDS=True)

NO_MC_NO_QA = NO_MC_QA
FE_QA = ("feature-extraction", "question-answering")
LAYOUT = ("feature-extraction", "fill-mask", "text-classification", "token-classification")
XLM_TINY = dict(vocab_size=99, emb_dim=32, n_layers=2, n_heads=4, max_position_embeddings=64)

ARCHITECTURES = [
    Arch("bert", ALL_TEXT, TextEncoderOnnxConfig, tiny=TINY_TEXT),
    Arch("roberta", ALL_TEXT, TextEncoderOnnxConfig, NO_TT, tiny=TINY_TEXT),
    Arch("xlm-roberta", ALL_TEXT, TextEncoderOnnxConfig, NO_TT, tiny=TINY_TEXT),
    Arch("camembert", ALL_TEXT, TextEncoderOnnxConfig, NO_TT, tiny=TINY_TEXT),
    Arch("distilbert", ALL_TEXT, TextEncoderOnnxConfig, NO_TT,
         tiny=dict(vocab_size=99, dim=32, n_layers=2, n_heads=4, hidden_dim=37, max_position_embeddings=64)),
    Arch("albert", ALL_TEXT, TextEncoderOnnxConfig, tiny=dict(TINY_TEXT, embedding_size=16)),
    Arch("electra", ALL_TEXT, TextEncoderOnnxConfig, tiny=dict(TINY_TEXT, embedding_size=16)),
    Arch("deberta", NO_MC, TextEncoderOnnxConfig, OPTIONAL_TT, tiny=dict(TINY_TEXT, type_vocab_size=0)),
    Arch("deberta-v2", ALL_TEXT, TextEncoderOnnxConfig, OPTIONAL_TT, tiny=dict(TINY_TEXT, type_vocab_size=0)),
    Arch("mpnet", ALL_TEXT, TextEncoderOnnxConfig, NO_TT, tiny=TINY_TEXT),
    Arch("mobilebert", ALL_TEXT, TextEncoderOnnxConfig,
         tiny=dict(TINY_TEXT, embedding_size=16, intra_bottleneck_size=16, num_feedforward_networks=1)),
    Arch("modernbert", NO_MC_QA, TextEncoderOnnxConfig, NO_TT,
         tiny=dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                   max_position_embeddings=64, pad_token_id=0, bos_token_id=1, eos_token_id=2, sep_token_id=2,
                   cls_token_id=1)),
    # beyond the required list: cheap rows, same mid-level class
    Arch("convbert", ALL_TEXT, TextEncoderOnnxConfig, tiny=dict(TINY_TEXT, embedding_size=32, head_ratio=2)),
    Arch("data2vec-text", ALL_TEXT, TextEncoderOnnxConfig, NO_TT, tiny=TINY_TEXT),
    Arch("ibert", ALL_TEXT, TextEncoderOnnxConfig, NO_TT, tiny=TINY_TEXT),
    Arch("megatron-bert", ALL_TEXT, TextEncoderOnnxConfig, tiny=TINY_TEXT),
    Arch("rembert", ALL_TEXT, TextEncoderOnnxConfig,
         tiny=dict(TINY_TEXT, input_embedding_size=16, output_embedding_size=16)),
    Arch("roformer", ALL_TEXT, TextEncoderOnnxConfig, tiny=TINY_TEXT),
    Arch("big_bird", ALL_TEXT, TextEncoderOnnxConfig, tiny=dict(TINY_TEXT, attention_type="original_full")),
    Arch("esm", LAYOUT, TextEncoderOnnxConfig, NO_TT,
         tiny=dict(TINY_TEXT, vocab_size=33, pad_token_id=1, mask_token_id=32, position_embedding_type="absolute")),
    Arch("xlm", ALL_TEXT, TextEncoderOnnxConfig, tiny=XLM_TINY),
    Arch("flaubert", ALL_TEXT, TextEncoderOnnxConfig, tiny=XLM_TINY),
    Arch("layoutlm", LAYOUT, TextEncoderOnnxConfig,
         dict(INPUT_NAMES=("input_ids", "bbox", "attention_mask", "token_type_ids")),
         tiny=dict(TINY_TEXT, max_2d_position_embeddings=1024)),
]
