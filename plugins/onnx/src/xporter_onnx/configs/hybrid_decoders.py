"""State-space and hybrid decoders (Mamba, Mamba-2, conv / linear-attention layers) with their real cache.

Why a separate config: these layers cache a convolution window and a recurrent state, not
keys and values, so the key/value-only graph of :class:`~.decoder.DecoderOnnxConfig` cannot
carry their past (it refuses them). The graph here is one *decode step*:

==========================================  ===============================================
inputs                                      outputs
==========================================  ===============================================
``input_ids`` (batch, 1)                    ``logits`` (batch, 1, vocab)
``attention_mask`` (batch, 1) for pure      ``present_conv.{i}`` (batch, channels, kernel)
SSMs; (batch, past + 1) for hybrids
``position_ids`` (batch, 1), hybrids        ``present_ssm.{i}`` Mamba (batch, d_inner, d_state),
whose forward takes them                    Mamba-2 (batch, heads, head_dim, d_state)
``past_conv.{i}``, ``past_ssm.{i}``         ``present_recurrent.{i}`` (gated delta net)
(``past_recurrent.{i}``) per state layer
``past_key_values.{i}.key/value``           ``present.{i}.key/value`` (batch, kv_heads,
(batch, kv_heads, past, head_dim) per       past + 1, head_dim)
attention layer of a hybrid
==========================================  ===============================================

``{i}`` is the model's layer index (a hybrid's layer is either kind, falcon_h1's are both);
the names are the ones transformers.js uses for such graphs (Mamba ``past_ssm``, LFM2
``past_conv``, Qwen3.5 ``past_recurrent``), and which layers have which tensors is read from
the model's own cache (:func:`xporter_onnx.state_cache.state_layout`).

Why one token per step: the modeling code's prompt path scans the sequence with a Python
loop (Mamba, the gated delta nets' chunk loop), and Mamba-2's chunked scan, though it takes an
initial state, computes its padding to a whole chunk and the conv window's ``[-seq_len:]``
slice as Python ints, which a trace freezes (a graph traced on 16 tokens fails in ONNX
Runtime's Reshape on 9); the decode step (conv window roll + selective state update) traces
to plain ops for every family here. The prompt is therefore fed one token per step
through the same graph, from zero states and empty keys/values
(:class:`xporter_onnx.state_generation.OnnxStateDecoderGreedy`): the same recurrence, so the
tokens equal ``generate()``'s. The graph's sequence axis is fixed at 1, so feeding more
tokens at once fails in ONNX Runtime instead of computing something else.

Left padding: ``generate()`` has no attention over the past in an SSM; its prompt pass
multiplies padded positions' inputs by 0, and a zero input leaves a zero state (the families'
input projections have no bias), so a padded row behaves as if unpadded. The step graph
cannot do that by itself (Mamba-1 applies the step token's mask, Mamba-2 and the hybrids'
masks skip single-token forwards), so the greedy loop resets the conv and recurrent states of
rows whose step token was padding. Hybrids' attention layers take the usual mask over past +
new tokens, and positions count real tokens only, as in ``generate()``.

transformers 4.57 keeps these states in per-family cache classes (``MambaCache``,
``HybridMambaAttentionDynamicCache``), which this config does not build: the cached graphs
need transformers 5 (one error line otherwise); lfm2's cache-free graphs export on 4.57 too.
"""

from __future__ import annotations

import contextlib
from typing import Any, Dict, List

from ..base import IOSpec
from .. import past as kv
from . import Arch
from .decoder import DecoderOnnxConfig
from .decoder_families import traceable_experts, traceable_rotary

TASKS = ("text-generation-with-past",)
# lfm2's prompt path (a causal conv over the whole prompt) traces, so its cache-free graphs export as before
CACHE_FREE_TASKS = ("feature-extraction", "text-generation")


class StateDecoderOnnxConfig(DecoderOnnxConfig):
    """One decode step of a state-space / hybrid decoder (see the module docstring).

    Row attributes: ``RECURRENT_NAME`` (``ssm`` for Mamba-style layers, ``recurrent`` for gated
    delta nets) and ``USE_POSITION_IDS`` (hybrids whose forward takes positions). Tasks without
    the cache get :class:`~.decoder.DecoderOnnxConfig`'s graph (only rows whose prompt path
    traces list them: lfm2's causal conv; Mamba's scan loop and Mamba-2's chunk padding do not).
    """

    RECURRENT_NAME = "ssm"
    USE_POSITION_IDS = False
    # modeling modules whose decode step updates each head's slice of the state in place (Zamba)
    HEAD_SLICE_UPDATES: tuple = ()
    ATOL_FOR_VALIDATION = 2e-4
    # batch and past length differ from the trace's (2, 16); the step is always one token
    VALIDATION_SHAPES = {"batch_size": 3, "past_sequence_length": 7}

    @property
    def layout(self) -> List[Any]:
        cached = self.__dict__.get("_layout")
        if cached is None:
            from ..state_cache import state_layout

            cached = self.__dict__["_layout"] = state_layout(self._config)
        return cached

    @property
    def has_attention(self) -> bool:
        return any(entry.is_attention for entry in self.layout)

    def uses_position_ids(self) -> bool:
        if not self.use_past:
            return super().uses_position_ids()
        return self.USE_POSITION_IDS and self.has_attention

    def _state_axes(self, entry: Any, direction: str) -> Dict[int, str]:
        if not entry.is_attention:
            return {0: "batch_size"}
        return {0: "batch_size", 2: "past_sequence_length" + (" + 1" if direction == "outputs" else "")}

    @property
    def inputs(self) -> IOSpec:
        if not self.use_past:  # cache-free graphs (where the prompt path traces): the plain decoder's
            return super().inputs
        spec: IOSpec = {"input_ids": {0: "batch_size"}}
        spec["attention_mask"] = {0: "batch_size", 1: "past_sequence_length + 1"} if self.has_attention \
            else {0: "batch_size"}
        if self.uses_position_ids():
            spec["position_ids"] = {0: "batch_size"}
        for entry in self.layout:
            spec[entry.name("inputs", self.RECURRENT_NAME)] = self._state_axes(entry, "inputs")
        return spec

    @property
    def outputs(self) -> IOSpec:
        if not self.use_past:
            return super().outputs
        spec: IOSpec = {"logits": {0: "batch_size"}}
        for entry in self.layout:
            spec[entry.name("outputs", self.RECURRENT_NAME)] = self._state_axes(entry, "outputs")
        return spec

    def generate_dummy_inputs(self, framework: str = "pt", **kwargs: Any) -> Dict[str, Any]:
        """One token per row, random states, and (hybrids) ``past_sequence_length`` cached keys/values;
        validation's mask pads the first past position of the first row."""
        if not self.use_past:
            return super().generate_dummy_inputs(framework, **kwargs)
        import numpy as np

        from ..dummy import to_framework

        batch = int(kwargs.get("batch_size", 2))
        past = int(kwargs.get("past_sequence_length", 16))
        rng = np.random.default_rng(kwargs.get("seed", 0))
        int_type = np.dtype(self.int_dtype)
        float_type = {"fp32": np.float32, "fp16": np.float16, "bf16": np.float32}[self.float_dtype]
        vocab = int(getattr(self._config.get_text_config(), "vocab_size", 128))
        dummy: Dict[str, Any] = {"input_ids": rng.integers(3, vocab, (batch, 1)).astype(int_type)}
        mask = np.ones((batch, past + 1 if self.has_attention else 1), dtype=int_type)
        if kwargs.get("padding") and self.has_attention:
            mask[0, 0] = 0
        dummy["attention_mask"] = mask
        if self.uses_position_ids():
            dummy["position_ids"] = np.full((batch, 1), past, dtype=int_type)
        for entry in self.layout:
            shape = list(entry.shape)
            if entry.is_attention:
                shape[1] = past
            values = rng.standard_normal((batch, *shape)) * (0.5 if entry.kind == "conv" else 0.1)
            dummy[entry.name("inputs", self.RECURRENT_NAME)] = values.astype(float_type)
        out = {name: to_framework(value, framework) for name, value in dummy.items()}
        if framework == "pt" and self.float_dtype == "bf16":
            import torch

            out = {k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in out.items()}
        return out

    # -- model plumbing -------------------------------------------------------------------
    @contextlib.contextmanager
    def export_context(self, model: Any):
        from ..state_cache import require_state_cache

        if not self.use_past:
            with super().export_context(model), traceable_experts(model):
                yield
            return
        require_state_cache(model.config.model_type)
        from ..state_cache import written_back_head_updates

        with kv.traceable_masks(), traceable_rotary(model), traceable_experts(model), \
                written_back_head_updates(self.HEAD_SLICE_UPDATES):
            yield

    def prepare_model_inputs(self, inputs: Dict[str, Any]) -> Dict[str, Any]:
        from ..state_cache import build_state_cache

        if not self.use_past:
            return super().prepare_model_inputs(inputs)
        inputs = dict(inputs)
        names = [entry.name("inputs", self.RECURRENT_NAME) for entry in self.layout]
        flat = [inputs.pop(name) for name in names]
        inputs["past_key_values"] = build_state_cache(self._config, self.layout, flat)
        return inputs

    def call_model(self, model: Any, kwargs: Dict[str, Any]) -> Any:
        if not self.use_past:
            return super().call_model(model, kwargs)
        kwargs = dict(kwargs)
        kwargs[kv.cache_argument_name(model)] = kwargs.pop("past_key_values")
        return model(**kwargs, use_cache=True, return_dict=True)

    def flatten_outputs(self, model_output: Any) -> List[Any]:
        from ..state_cache import flatten_state_cache

        if not self.use_past:
            return super().flatten_outputs(model_output)
        return [model_output.logits, *flatten_state_cache(kv.output_cache(model_output), self.layout)]


def _row(model_type: str, tiny: Dict[str, Any], tasks: tuple = TASKS, **attrs: Any) -> Arch:
    """A row whose class always names ``RECURRENT_NAME`` (``ssm`` unless given), so every row gets its own class."""
    return Arch(model_type, tasks, StateDecoderOnnxConfig, dict({"RECURRENT_NAME": "ssm"}, **attrs), tiny=tiny)


TINY_SSM = dict(vocab_size=128, hidden_size=32, num_hidden_layers=2, pad_token_id=0, bos_token_id=1, eos_token_id=2,
                state_size=8, expand=2, conv_kernel=4, tie_word_embeddings=False)
# hybrids: one state layer, then one attention layer (GQA: 4 heads, 2 key/value heads)
TINY_HYBRID = dict(vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                   intermediate_size=64, pad_token_id=0, bos_token_id=1, eos_token_id=2, tie_word_embeddings=False)
# Mamba-2 mixers of the hybrids (4 heads of 16, one group, state 8)
TINY_MAMBA2_MIXER = dict(mamba_n_heads=4, mamba_d_head=16, mamba_n_groups=1, mamba_d_state=8, mamba_d_conv=4,
                         mamba_expand=2, mamba_chunk_size=16)
TINY_EXPERTS = dict(num_experts=4, num_local_experts=4, num_experts_per_tok=2)
HYBRID = dict(USE_POSITION_IDS=True)  # graphs drop position_ids where the model ignores them

ARCHITECTURES = [
    # pure state-space models: conv window + selective-scan state per layer
    _row("mamba", TINY_SSM),
    _row("falcon_mamba", TINY_SSM),
    _row("mamba2", dict(TINY_SSM, num_heads=8, head_dim=8, n_groups=1, chunk_size=16)),
    # hybrids: state layers next to attention layers (falcon_h1 and zamba2's hybrid layers hold both)
    _row("lfm2", dict(TINY_HYBRID, layer_types=["conv", "full_attention"]), CACHE_FREE_TASKS + TASKS, **HYBRID),
    _row("bamba", dict(TINY_HYBRID, **TINY_MAMBA2_MIXER, attn_layer_indices=[1]), **HYBRID),
    _row("falcon_h1", dict(TINY_HYBRID, **TINY_MAMBA2_MIXER, mamba_d_ssm=64, head_dim=8), **HYBRID),
    _row("granitemoehybrid", dict(TINY_HYBRID, **TINY_MAMBA2_MIXER, **TINY_EXPERTS, layer_types=["mamba", "attention"],
                                  shared_intermediate_size=16), **HYBRID),
    _row("jamba", dict(TINY_HYBRID, **TINY_EXPERTS, mamba_d_state=8, mamba_d_conv=4, mamba_expand=2, mamba_dt_rank=4,
                       attn_layer_period=2, attn_layer_offset=1, expert_layer_period=2, expert_layer_offset=1,
                       use_mamba_kernels=False), **HYBRID),
    _row("zamba", dict(TINY_HYBRID, num_hidden_layers=4, attention_hidden_size=64, attention_head_dim=16,
                       n_mamba_heads=2, attn_layer_period=2, attn_layer_offset=1, mamba_d_state=8, mamba_d_conv=4,
                       mamba_expand=2, mamba_dt_rank=4, use_mamba_kernels=False),
         HEAD_SLICE_UPDATES=("transformers.models.zamba.modeling_zamba",), **HYBRID),
    _row("zamba2", dict(TINY_HYBRID, mamba_d_state=8, mamba_d_conv=4, mamba_expand=2, mamba_ngroups=1, n_mamba_heads=4,
                        mamba_headdim=16, attention_hidden_size=64, attention_head_dim=16, num_mem_blocks=1,
                        layers_block_type=["mamba", "hybrid"], use_mamba_kernels=False), **HYBRID),
    _row("lfm2_moe", dict(TINY_HYBRID, **TINY_EXPERTS, moe_intermediate_size=16, num_dense_layers=1,
                          layer_types=["conv", "full_attention"]), CACHE_FREE_TASKS + TASKS, **HYBRID),
    _row("nemotron_h", dict(TINY_HYBRID, head_dim=8, layers_block_type=["linear_attention", "full_attention"],
                            ssm_state_size=8, mamba_num_heads=4, mamba_head_dim=16, n_groups=1, conv_kernel=4,
                            n_routed_experts=4, moe_intermediate_size=16, moe_shared_expert_intermediate_size=16,
                            num_experts_per_tok=2, use_mamba_kernels=False), **HYBRID),
    # gated delta net linear attention: conv window + a recurrent (key x value) state
    _row("olmo_hybrid", dict(TINY_HYBRID, layer_types=["linear_attention", "full_attention"], linear_num_key_heads=2,
                             linear_num_value_heads=2, linear_key_head_dim=8, linear_value_head_dim=16,
                             linear_conv_kernel_dim=4), RECURRENT_NAME="recurrent", **HYBRID),
    _row("qwen3_5_text", dict(TINY_HYBRID, head_dim=8, layer_types=["linear_attention", "full_attention"],
                              linear_conv_kernel_dim=4, linear_key_head_dim=8, linear_value_head_dim=8,
                              linear_num_key_heads=2, linear_num_value_heads=4), RECURRENT_NAME="recurrent", **HYBRID),
    # Kimi delta attention next to latent (MLA) attention, whose cache holds the compressed keys
    _row("kimi_linear", dict(TINY_HYBRID, num_key_value_heads=4, layer_types=["linear_attention", "full_attention"],
                             moe_intermediate_size=16, num_experts=4, num_experts_per_token=2, num_shared_experts=1,
                             kv_lora_rank=16, q_lora_rank=None, qk_rope_head_dim=4, v_head_dim=8, qk_nope_head_dim=8,
                             qk_head_dim=12, head_dim=8, linear_head_dim=8, linear_num_heads=4,
                             linear_conv_kernel_dim=4), RECURRENT_NAME="recurrent", **HYBRID),
    _row("qwen3_next", dict(TINY_HYBRID, **TINY_EXPERTS, head_dim=8, layer_types=["linear_attention", "full_attention"],
                            linear_conv_kernel_dim=4, linear_key_head_dim=8, linear_value_head_dim=8,
                            linear_num_key_heads=2, linear_num_value_heads=4, moe_intermediate_size=16,
                            shared_expert_intermediate_size=16), RECURRENT_NAME="recurrent", **HYBRID),
]
