"""Encoder-decoder text models of transformers 5.x beyond Optimum's list, as data.

MVP, PLBart and PEGASUS-X are BART-shaped (``d_model`` / ``encoder_layers`` / ``decoder_layers``
names, learned or sinusoidal positions, a shared embedding), so they reuse
:func:`~.seq2seq._bart_like`: the encoder / decoder / merged-decoder split with past for the
text2text tasks, the single-graph heads (classification, question answering, fill-mask) on
the same class, and a second row for the ``…ForCausalLM`` decoder where the family has one
(PEGASUS-X has none). UMT5 is T5 with per-layer relative positions: T5's config serves it, heads
included. Tasks are the types' auto mappings in transformers 5.24 plus their
``-with-past`` forms (``tests/test_head_tables.py`` checks them). Found by
``scripts/probe_unregistered.py``; switch_transformers, nllb-moe and led need more than the
shared classes. Switch Transformers validates on one step once its decoder graphs get the encoder
states as an ``MoEModelOutput`` (its forward reads ``encoder_outputs.router_logits``), but the trace
freezes the per-expert token counts of its expert Split, so the ORT greedy loop fails on the next
step (as dbrx did): not registered. led needs global attention.
"""

from __future__ import annotations

from . import Arch
from .seq2seq import BART_LIKE_NAMES, TEXT2TEXT, TINY_BART, TINY_T5, Seq2SeqOnnxConfig, T5Normalized, _bart_like

ARCHITECTURES = [
    *_bart_like("mvp", ("fill-mask", "question-answering", "text-classification")),
    *_bart_like("plbart", ("text-classification",)),
    Arch("pegasus_x", TEXT2TEXT, Seq2SeqOnnxConfig, dict(NORMALIZED_CONFIG_CLASS=BART_LIKE_NAMES),
         tiny=dict(TINY_BART, pad_token_id=0, decoder_start_token_id=0)),
    Arch("umt5", (*TEXT2TEXT, "text-classification", "question-answering", "token-classification"), Seq2SeqOnnxConfig,
         dict(NORMALIZED_CONFIG_CLASS=T5Normalized), tiny=TINY_T5),
]
