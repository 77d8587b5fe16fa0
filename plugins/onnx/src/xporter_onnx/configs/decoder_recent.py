"""Decoder-only LLM types of transformers 5.24 registered after ``decoder_llms.py``, as rows.

Same recipe as :mod:`.decoder_llms` (its :func:`~.decoder_llms.llm` rows and heads, the
:mod:`.decoder` bases): one graph with the cache, Optimum's names, the type's auto-mapped heads.
What the bases cannot say lives in :mod:`xporter_onnx.decoder_recent_patches`:

* caches shaped per layer (Gemma 3n / Gemma 4 share keys and values across their last layers,
  so only the owning layers are cached; Gemma 4's global layers and MiMo-V2's sliding layers
  cache other head counts and widths), read from the model's own cache;
* complex rotary (``torch.polar``, Llama 4 and DeepSeek-V2) rewritten with real cos/sin, and
  Llama 4's chunked-attention mask counting booleans in int64;
* experts routed by data-dependent loops (JetMoE, DBRX, LongCat-Flash) made loop-free;
* DeepSeek sparse attention (DeepSeek-V3.2, GLM-5's ``glm_moe_dsa``): the indexer's keys cached
  as ``past_key_values.N.indexer_key`` and its top-k made independent of the trace's key count;
* hybrids (Qwen3.5-MoE, LFM3, ZAYA): the one-token step graph of :mod:`.hybrid_decoders`, LFM3's
  sliding layers keeping their whole past as the other graphs do.

``tests/test_decoder_recent.py`` exports every row's tiny model, validates it on other shapes,
checks that the graph's cache is what the model's own cache holds, and that an ONNX-Runtime-only
greedy loop equals ``generate()`` over 8 new tokens on a left-padded batch of 2.

Not registered (transformers 5.24 types of the same list):

* ``xlnet``: its ``mems`` are not a key/value cache (no ``Cache`` object, no ``past_key_values``),
  and its LM head needs ``perm_mask`` / ``target_mapping`` to generate.
* ``openai-gpt``: no cache at all (``OpenAIGPTLMHeadModel.forward`` takes no past), so it is not
  a decoder with a key/value cache and has no ``-with-past`` graph for these rows.
"""

from __future__ import annotations

from typing import Any

from ..decoder_recent_patches import (FullWindowStateDecoderOnnxConfig, LoopFreeMlaDecoderOnnxConfig,
                                      LoopFreeMoeDecoderOnnxConfig, PerLayerCacheDecoderOnnxConfig,
                                      RealRotaryMlaDecoderOnnxConfig, RealRotaryMoeDecoderOnnxConfig,
                                      SparseAttentionDecoderOnnxConfig)
from . import Arch
from .decoder import TINY_GQA
from .decoder_llms import MOE, TINY_MLA, TINY_MOE, llm
from .hybrid_decoders import TASKS as STEP_TASKS
from .hybrid_decoders import TINY_HYBRID, StateDecoderOnnxConfig

ALTERNATING = ["sliding_attention", "full_attention", "sliding_attention", "full_attention"]
# Four layers, the last two reusing the first two's keys/values; per-layer embeddings; the global
# layers cache wider heads; sliding_window=4 < validation's past 7 + 9 new tokens.
TINY_SHARED_KV = dict(TINY_GQA, num_hidden_layers=4, layer_types=ALTERNATING, sliding_window=4,
                      num_kv_shared_layers=2, hidden_size_per_layer_input=8, vocab_size_per_layer_input=128)
SHARED_KV = dict(base=PerLayerCacheDecoderOnnxConfig, tiny=TINY_SHARED_KV)
LOOP_FREE = dict(base=LoopFreeMoeDecoderOnnxConfig, tiny=TINY_MOE)
DSA = dict(base=SparseAttentionDecoderOnnxConfig, tiny=dict(TINY_MLA, index_topk=4, index_head_dim=8, index_n_heads=8))


def hybrid(model_type: str, base: type = StateDecoderOnnxConfig, recurrent: str = "recurrent", **tiny: Any) -> Arch:
    """A hybrid decoder (conv / linear-attention states next to keys and values): the one-token step
    graph of :mod:`.hybrid_decoders` (its only task; the prompt paths do not trace), states named
    ``past_conv.N`` / ``past_{recurrent}.N``, tiny config :data:`~.hybrid_decoders.TINY_HYBRID` + ``tiny``."""
    return Arch(model_type, STEP_TASKS, base, dict(RECURRENT_NAME=recurrent, USE_POSITION_IDS=True),
                tiny=dict(TINY_HYBRID, **tiny))


ARCHITECTURES = [
    # Gemma 4 (E2B/E4B: shared caches + per-layer inputs; 26B/31B: keys as values on the global
    # layers with their own head count, optional experts): every feature on in one tiny model
    llm("gemma4_text", **SHARED_KV, global_head_dim=16, attention_k_eq_v=True, num_global_key_value_heads=1,
        final_logit_softcapping=30.0, enable_moe_block=True, num_experts=4, top_k_experts=2,
        moe_intermediate_size=16),
    # Gemma 3n: shared caches, per-layer inputs, AltUp streams, LAuReL, gaussian top-k activation sparsity
    llm("gemma3n_text", **SHARED_KV, altup_num_inputs=2, laurel_rank=4,
        activation_sparsity_pattern=[0.95, 0.0, 0.0, 0.0]),
    # complex rotary (torch.polar) rewritten with real cos/sin
    # Llama 4: chunked attention (chunk 4 < validation's 16 positions), a NoPE layer with temperature
    # tuning (floor_scale 4), experts on every other layer, top-1 routing + shared expert
    llm("llama4_text", base=RealRotaryMoeDecoderOnnxConfig, tiny=TINY_MOE, num_hidden_layers=4,
        interleave_moe_layer_step=2, num_experts_per_tok=1, intermediate_size_mlp=64, attention_chunk_size=4,
        floor_scale=4),
    # DeepSeek-V2: latent attention (the latents are cached) + routed and shared experts
    llm("deepseek_v2", "c", base=RealRotaryMlaDecoderOnnxConfig, tiny=TINY_MLA),
    # MiMo-V2-Flash: sliding layers with twice the key/value heads and attention sinks, values
    # narrower than keys, partial rotary, sigmoid-routed experts after a dense first layer
    llm("mimo_v2_flash", base=PerLayerCacheDecoderOnnxConfig, tiny=TINY_MOE, v_head_dim=6, sliding_window=4,
        layer_types=["sliding_attention", "full_attention"]),
    # LongCat-Flash: two latent-attention sublayers per layer (four cached layers from two),
    # zero-compute identity experts next to the routed ones
    llm("longcat_flash", base=LoopFreeMlaDecoderOnnxConfig, tiny=TINY_MLA, num_layers=2, ffn_hidden_size=64,
        expert_ffn_hidden_size=16, zero_expert_num=2, moe_topk=2),
    # DeepSeek sparse attention: the indexer keeps its own keys in the cache and picks index_topk=4 of
    # the 7 to 16 keys validation and generation see (8 indexer heads: with 2, ReLU'd scores tie at 0
    # and which tied key top-k keeps is up to the kernel)
    llm("deepseek_v32", **DSA),
    llm("glm_moe_dsa", **DSA),
    # AFMoE: gated attention, sliding layers between global ones, sigmoid routing + shared expert
    # (experts interface: batched_mm); the test re-draws its zero-initialised router, see there
    llm("afmoe", **MOE, num_dense_layers=1, num_shared_experts=1, global_attn_every_n_layers=2, sliding_window=4),
    # experts routed by loops (see decoder_recent_patches.loop_free_experts)
    # JetMoE: mixture of attention heads (4 query heads from 2 key/value heads x top-2) and MLP experts
    llm("jetmoe", "c", **LOOP_FREE, kv_channels=8),
    # DBRX: GQA with clipped qkv, top-2 of 4 experts with normalised weights
    llm("dbrx", **LOOP_FREE, d_model=32, n_heads=4, n_layers=2, max_seq_len=128,
        attn_config=dict(kv_n_heads=2, rope_theta=10000.0, clip_qkv=8.0),
        ffn_config=dict(ffn_hidden_size=16, moe_num_experts=4, moe_top_k=2)),
    # hybrids: one-token step graphs with their states
    # Qwen3.5-MoE: gated delta net (conv + recurrent state) next to gated full attention, experts
    hybrid("qwen3_5_moe_text", head_dim=8, layer_types=["linear_attention", "full_attention"],
           linear_conv_kernel_dim=4, linear_key_head_dim=8, linear_value_head_dim=8, linear_num_key_heads=2,
           linear_num_value_heads=4, num_experts=4, num_experts_per_tok=2, moe_intermediate_size=16,
           shared_expert_intermediate_size=16),
    # LFM3: short conv layers, full and sliding-window attention (window 4 < the 14 generated positions)
    hybrid("lfm3", FullWindowStateDecoderOnnxConfig, num_hidden_layers=3, head_dim=8, conv_L_cache=3,
           layer_types=["conv", "full_attention", "sliding_attention"], sliding_window=4),
    # ZAYA: every layer holds keys/values and a conv + recurrent state; top-1 experts behind an MLP router
    hybrid("zaya", head_dim=8, num_experts=4, num_experts_per_tok=1, moe_intermediate_size=16, router_hidden_size=8),
]
