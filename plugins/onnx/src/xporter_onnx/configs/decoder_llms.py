"""Decoder-only LLM types of transformers 5.x beyond Optimum's list, one declarative line each.

These families reuse :class:`~.decoder.DecoderOnnxConfig` (one graph with the cache,
Optimum's names) or its mixture-of-experts / latent-attention variants; what differs
between them is only data: which task heads transformers gives the type and the config
kwargs of a tiny random model (sizes, experts, windows). :func:`llm` turns that data into
an :class:`~.Arch` row, so adding a type is one line.

The task heads are the type's auto mappings in transformers 5.24 (``ForCausalLM`` and the
base model always; ``ForSequenceClassification`` -> ``text-classification``,
``ForTokenClassification`` -> ``token-classification``, ``ForQuestionAnswering`` ->
``question-answering``); ``tests/test_decoder_llms.py`` checks the table against them.
Rows whose type a transformers release lacks (most of them on 4.57) are registered anyway and
run only where transformers has the type (``xporter_onnx.testing.skip_unless_known``).
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from . import Arch
from .decoder import (GENERATION_TASKS, OWN_CLASS, TINY, TINY_GQA, DecoderOnnxConfig, MlaDecoderOnnxConfig,
                      MoeDecoderOnnxConfig)

# head letters used in the rows: c = text-classification, t = token-classification, q = question-answering
HEADS = {"c": "text-classification", "t": "token-classification", "q": "question-answering"}
# Experts spelled every way the families do (unknown keys are plain config attributes):
# 4 experts, 2 per token, one shared expert where the family has them.
TINY_MOE = dict(TINY_GQA, num_experts=4, num_local_experts=4, n_routed_experts=4, num_experts_per_tok=2,
                moe_intermediate_size=16, n_shared_experts=1, shared_expert_intermediate_size=16, n_group=1,
                topk_group=1)
# Multi-head latent attention (DeepSeek-V2/V3 style), on top of the expert sizes; head_dim is the
# rotary width (qk_rope_head_dim) where the family sizes its rotary embedding by head_dim.
TINY_MLA = dict(TINY_MOE, num_key_value_heads=4, head_dim=4, q_lora_rank=16, kv_lora_rank=16, qk_rope_head_dim=4,
                qk_nope_head_dim=8, v_head_dim=6, first_k_dense_replace=1)
# sliding_window=4 < validation's past 7 + 9 new tokens: validation exercises the window.
SLIDING = dict(sliding_window=4)


def llm(model_type: str, heads: str = "", base: type = DecoderOnnxConfig, tiny: Dict[str, Any] = TINY_GQA,
        attrs: Dict[str, Any] = OWN_CLASS, name: Optional[str] = None, **tiny_overrides: Any) -> Arch:
    """A row for ``model_type``: the generation/feature tasks plus the heads named by ``heads``
    (letters of :data:`HEADS`), the tiny config ``tiny`` updated with ``tiny_overrides`` (``name``:
    the class name, where the type shares its transformers config class with another type)."""
    tasks = GENERATION_TASKS + tuple(HEADS[letter] for letter in heads)
    return Arch(model_type, tasks, base, dict(attrs), tiny=dict(tiny, **tiny_overrides), name=name)


MOE = dict(base=MoeDecoderOnnxConfig, tiny=TINY_MOE)
MLA = dict(base=MlaDecoderOnnxConfig, tiny=TINY_MLA)
MHA = dict(tiny=TINY)  # families without num_key_value_heads: every head has its own keys and values

ARCHITECTURES = [
    # llama-like dense decoders: rotary positions (interleaved ones found by the export), GQA caches
    llm("apertus", "t"), llm("apertus1p5_text"), llm("beam", "t"), llm("bitnet"), llm("cohere2", **SLIDING),
    llm("cwm", **SLIDING), llm("doge", "c"), llm("ernie4_5"), llm("exaone"), llm("exaone4", "ctq", **SLIDING),
    llm("flint"), llm("glm4", "ct"), llm("granite_swa", **SLIDING), llm("hunyuan_v1_dense", "c"),
    llm("hyperclovax"), llm("internlm3"), llm("iquestcoder"), llm("jais2"), llm("ministral", "ctq", **SLIDING),
    llm("ministral3", "ctq"), llm("nanochat"), llm("olmo3", "c", **SLIDING), llm("seed_oss", "ctq"),
    llm("starcoder2", "ct", **SLIDING), llm("vaultgemma"),
    # mixture of experts
    llm("aria_text", **MOE), llm("cohere2_moe", **MOE), llm("dots1", **MOE), llm("ernie4_5_moe", **MOE),
    llm("exaone_moe", **MOE), llm("flex_olmo", **MOE), llm("glm4_moe", **MOE), llm("granitemoe", **MOE),
    llm("granitemoe_swa", **MOE), llm("granitemoeshared", **MOE), llm("hunyuan_v1_moe", "c", **MOE),
    llm("laguna", **MOE), llm("minimax_m2", **MOE), llm("mixtral", "ctq", **MOE), llm("olmoe", **MOE),
    llm("phimoe", "c", **MOE), llm("qwen2_moe", "ctq", **MOE), llm("sarvam_moe", **MOE),
    # multi-head latent attention (+ experts)
    llm("glm4_moe_lite", **MLA), llm("sarvam_mla", **MLA),
    # found by scripts/probe_unregistered.py (each row's greedy loop is tested like the ones above)
    llm("diffllama", "ctq"), llm("phi4_multimodal"), llm("biogpt", "ct", **MHA), llm("ctrl", "c", **MHA),
    llm("solar_open", **MOE), llm("axk1", "ct", **MLA),
    llm("moshi"), llm("gpt-sw3", "ct", name="GPTSw3OnnxConfig", **MHA), llm("gpt_neox_japanese", **MHA),
    llm("hrm_text", **MHA), llm("bert-generation", is_decoder=True, **MHA),
    llm("modernbert-decoder", "c", **MHA), llm("persimmon", "ct", **MHA), llm("xglm", **MHA),
    llm("hy_v3", **MOE), llm("kolibri1", **MOE), llm("mellum", **MOE), llm("minimax_m3_vl_text", **MOE),
    llm("minicpm3", "c", **MLA), llm("youtu", **MLA),
]
