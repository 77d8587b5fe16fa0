"""Encoder-decoder text models of transformers 5.24 not covered elsewhere, as data.

T5Gemma is a Gemma-2 encoder and decoder under one config whose sizes live in the ``encoder`` /
``decoder`` sub-configs, with grouped-query attention: the cache (self- and cross-attention) has
``decoder.num_key_value_heads`` heads of ``decoder.head_dim``, and the decoder's cross-attention
reads ``encoder.hidden_size`` states. FSMT names its sizes like BART (its target vocabulary is
``tgt_vocab_size``) and needs the causal-mask patch of :mod:`..seq2seq_recent_patches`. Both use
:class:`~.seq2seq.Seq2SeqOnnxConfig`'s encoder / decoder / merged-decoder split; tasks are the
types' transformers 5.24 auto mappings plus the ``-with-past`` forms.

Tried and not registered:

* prophetnet: its cached decoder asserts one new token per call; traced on one-token
  ``input_ids``, the with-past graph still fails validation at another batch and cached length
  (7 instead of the traced 16: logits and decoder presents off by 0.2-0.4), so the trace keeps
  something of the traced cached length (likely where its n-gram streams' positions and relative
  buckets are computed from it; not pinned down).
* led: the encoder's Longformer attention reshapes into window chunks whose count the trace
  freezes (traced at 16 tokens, validation at 9: ORT ``Reshape`` of {3, 9, 1} to {3, 2, 4, 1}).
* nllb-moe: not tried yet; it routes tokens to experts as switch_transformers does, whose trace
  froze the per-expert token counts (see :mod:`.seq2seq_more`), so expect the same.
"""

from __future__ import annotations

from ..seq2seq_recent_patches import FSMTOnnxConfig
from . import Arch
from .seq2seq import BART_LIKE_NAMES, TEXT2TEXT, Seq2SeqNormalizedConfig, Seq2SeqOnnxConfig


class T5GemmaNormalized(Seq2SeqNormalizedConfig):
    """Sizes from the sub-configs; GQA cache heads (``num_key_value_heads``)."""

    HIDDEN_SIZE = "decoder.hidden_size"
    NUM_ATTENTION_HEADS = "decoder.num_attention_heads"
    DECODER_NUM_ATTENTION_HEADS = "decoder.num_key_value_heads"
    NUM_LAYERS = "decoder.num_hidden_layers"
    DECODER_NUM_LAYERS = "decoder.num_hidden_layers"
    HEAD_DIM = "decoder.head_dim"
    ENCODER_HIDDEN_SIZE = "encoder.hidden_size"


_T5GEMMA_MODULE = dict(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2, head_dim=8, max_position_embeddings=128,
                       query_pre_attn_scalar=8, sliding_window=4, pad_token_id=0, eos_token_id=1, bos_token_id=2)
TINY_T5GEMMA = dict(encoder=_T5GEMMA_MODULE, decoder=_T5GEMMA_MODULE, vocab_size=128, pad_token_id=0,
                    eos_token_id=1, bos_token_id=2)
TINY_FSMT = dict(langs=["en", "de"], src_vocab_size=128, tgt_vocab_size=128, d_model=32, encoder_layers=2,
                 decoder_layers=2, encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=64,
                 decoder_ffn_dim=64, max_position_embeddings=128, pad_token_id=1, bos_token_id=0, eos_token_id=2,
                 decoder_start_token_id=2, forced_eos_token_id=None)

ARCHITECTURES = [
    Arch("t5gemma", (*TEXT2TEXT, "text-classification", "token-classification"), Seq2SeqOnnxConfig,
         dict(NORMALIZED_CONFIG_CLASS=T5GemmaNormalized), tiny=TINY_T5GEMMA),
    Arch("fsmt", TEXT2TEXT, FSMTOnnxConfig, dict(NORMALIZED_CONFIG_CLASS=BART_LIKE_NAMES.with_args(
        vocab_size="tgt_vocab_size")), tiny=TINY_FSMT),
]
