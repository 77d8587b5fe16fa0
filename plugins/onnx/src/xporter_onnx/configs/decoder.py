"""Decoder-only text architectures (causal LMs) with a key/value cache, as data plus one class.

One graph serves prefill and decode: ``text-generation-with-past`` takes
``past_key_values.{i}.key/value`` (past length 0 for the first step) and returns
``present.{i}.key/value``; the names, input order and dynamic axes are Optimum's, so ONNX
Runtime generation loops, transformers.js and ORTModelForCausalLM read the folders.

:class:`DecoderOnnxConfig` holds the logic (cache objects in, flat tensors out, both
transformers 4.57 and 5.x); the table rows only say how each family spells its sizes,
whether it takes ``position_ids`` and how many key/value heads its cache has.
"""

from __future__ import annotations

import contextlib
from typing import Any, Dict, List

from ..base import IOSpec, OnnxConfig, lookup_output
from ..dummy import DummyPastKeyValuesGenerator, DummyTextInputGenerator, to_framework
from ..modalities import TextDecoderOnnxConfig
from ..normalized import NormalizedTextConfig
from .. import past as kv
from . import Arch
from .decoder_families import SplitHeadDimPastGenerator, traceable_experts, traceable_rotary

GENERATION_TASKS = ("feature-extraction", "feature-extraction-with-past", "text-generation", "text-generation-with-past")
# Tasks whose graph takes position_ids (Optimum adds them for generation and features only).
POSITION_IDS_TASKS = ("text-generation", "feature-extraction")


class DecoderNormalizedConfig(NormalizedTextConfig):
    """Some configs store ``head_dim = None`` (mistral on transformers 4.57): derive it then."""

    @property
    def head_dim(self) -> int:
        value = self._resolve(self.config, type(self).HEAD_DIM)
        if isinstance(value, int) and value > 0:
            return value
        return self.hidden_size // self.num_attention_heads


class DecoderOnnxConfig(TextDecoderOnnxConfig):
    """Causal LMs and their base models, with or without a key/value cache.

    Class attributes a row may set:

    * ``USE_POSITION_IDS``: the graph takes ``position_ids`` for generation/feature tasks
      (False for bloom, which uses ALiBi, and for opt and the bart-like causal LMs, which
      derive positions from the attention mask / past length, as in Optimum's exports).
    * ``NORMALIZED_CONFIG_CLASS``: how the family spells layers/heads/hidden size.
    """

    # Past tensors are (batch, num_key_value_heads, past_sequence_length, head_dim): the
    # normalized config resolves GQA / multi-query head counts per family.
    DUMMY_INPUT_GENERATOR_CLASSES = (DummyTextInputGenerator, DummyPastKeyValuesGenerator)
    NORMALIZED_CONFIG_CLASS = DecoderNormalizedConfig
    USE_POSITION_IDS = True
    ATOL_FOR_VALIDATION = 2e-4
    # A past length different from the trace's (16) checks that the past axis is dynamic.
    VALIDATION_SHAPES = {**OnnxConfig.VALIDATION_SHAPES, "past_sequence_length": 7}

    def uses_position_ids(self) -> bool:
        return self.USE_POSITION_IDS and self.task in POSITION_IDS_TASKS

    @property
    def inputs(self) -> IOSpec:
        spec: IOSpec = {"input_ids": {0: "batch_size", 1: "sequence_length"}}
        mask_len = "past_sequence_length + sequence_length" if self.use_past_in_inputs else "sequence_length"
        spec["attention_mask"] = {0: "batch_size", 1: mask_len}
        if self.uses_position_ids():
            spec["position_ids"] = {0: "batch_size", 1: "sequence_length"}
        if self.use_past_in_inputs:
            self.add_past_key_values(spec, direction="inputs")
        return spec

    def generate_dummy_inputs(self, framework: str = "pt", **kwargs: Any) -> Dict[str, Any]:
        """Mask over past + new tokens; position ids continue after the past."""
        dummy = super().generate_dummy_inputs(framework, **kwargs)
        if "position_ids" in dummy:
            import numpy as np

            batch, seq = tuple(dummy["input_ids"].shape)
            past = kwargs.get("past_sequence_length", kwargs.get("sequence_length", 16)) if self.use_past_in_inputs else 0
            positions = np.broadcast_to(np.arange(past, past + seq, dtype=np.int64), (batch, seq)).copy()
            dummy["position_ids"] = to_framework(positions.astype(np.dtype(self.int_dtype)), framework)
        return dummy

    # -- model plumbing (called by the base export wrapper) ------------------------------
    @contextlib.contextmanager
    def export_context(self, model: Any):
        if self.use_past:  # graphs without the cache recompute every state: hybrids export as they are
            refuse_stateful_layers(model.config)
        with kv.traceable_masks(), traceable_rotary(model):
            yield

    def prepare_model_inputs(self, inputs: Dict[str, Any]) -> Dict[str, Any]:
        inputs = dict(inputs)
        past = kv.pop_past(inputs)
        if self.use_past_in_inputs:
            inputs["past_key_values"] = kv.build_decoder_cache(past)
        return inputs

    def call_model(self, model: Any, kwargs: Dict[str, Any]) -> Any:
        kwargs = dict(kwargs)
        if "past_key_values" in kwargs:
            kwargs[kv.cache_argument_name(model)] = kwargs.pop("past_key_values")
        if self.use_past or kv.accepts(model, "use_cache"):
            kwargs["use_cache"] = self.use_past
        return model(**kwargs, **self.MODEL_KWARGS, return_dict=True)

    def flatten_outputs(self, model_output: Any) -> List[Any]:
        names = [n for n in self.outputs if not n.startswith("present.")]
        flat = [lookup_output(model_output, name) for name in names]
        if self.use_past:
            flat.extend(kv.flatten_decoder_cache(kv.output_cache(model_output)))
        return flat


# layer kinds whose whole cache is keys and values (what the single graph's past inputs carry)
ATTENTION_LAYER_TYPES = {"full_attention", "sliding_attention", "chunked_attention", "attention"}


def refuse_stateful_layers(config: Any) -> None:
    """One clear error for hybrid models (convolution / linear-attention / state-space layers):
    their cache also holds per-layer states that these past inputs do not carry, so a graph
    exported anyway would validate on one step yet generate wrongly."""
    from xporter.errors import ExportError

    text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
    kinds = set(getattr(text_config, "layer_types", None) or ()) - ATTENTION_LAYER_TYPES
    if kinds:
        raise ExportError(f"'{config.model_type}' has {', '.join(sorted(kinds))} layers, whose recurrent state the "
                          "key/value-only cache of this export does not carry",
                          "export without the cache (--task text-generation), or from Python with its states: "
                          "custom_onnx_config=xporter_onnx.configs.hybrid_decoders.StateDecoderOnnxConfig "
                          "(transformers 5; the registered state families use it already)")


class _FalconNormalized(DecoderNormalizedConfig):
    """Falcon's cache has 1 head (multi-query), all heads (new architecture) or num_kv_heads."""

    @property
    def num_key_value_heads(self) -> int:
        cfg = self.config
        if getattr(cfg, "new_decoder_architecture", False):
            return cfg.num_attention_heads
        if getattr(cfg, "multi_query", True):
            return 1
        return getattr(cfg, "num_kv_heads", None) or cfg.num_attention_heads


class FalconOnnxConfig(DecoderOnnxConfig):
    """ALiBi falcons take no position_ids."""

    NORMALIZED_CONFIG_CLASS = _FalconNormalized

    def uses_position_ids(self) -> bool:
        return not getattr(self.config, "alibi", False) and super().uses_position_ids()


class _BigCodeNormalized(DecoderNormalizedConfig):
    """GPT-BigCode caches one key/value head when ``multi_query`` (the default), else all."""

    @property
    def num_key_value_heads(self) -> int:
        return 1 if getattr(self.config, "multi_query", True) else self.num_attention_heads


class MoeDecoderOnnxConfig(DecoderOnnxConfig):
    """Mixture-of-experts decoders: experts routed without data-dependent loops while
    tracing and validating (see :mod:`.decoder_families`), so any input shape is exact."""

    @contextlib.contextmanager
    def export_context(self, model: Any):
        with super().export_context(model), traceable_experts(model):
            yield


class _MlaNormalized(DecoderNormalizedConfig):
    """DeepSeek-V3's cache layout depends on transformers: 4.57 caches decompressed heads
    (keys nope+rope wide, values ``v_head_dim``); 5.x caches the compressed latents as one
    head (keys: ``kv_lora_rank`` latent, values: the ``qk_rope_head_dim`` rotary key)."""

    @staticmethod
    def _latent_cache() -> bool:
        import transformers

        return int(transformers.__version__.split(".")[0]) >= 5

    @property
    def num_key_value_heads(self) -> int:
        return 1 if self._latent_cache() else self.config.num_key_value_heads

    @property
    def key_head_dim(self) -> int:
        cfg = self.config
        return cfg.kv_lora_rank if self._latent_cache() else cfg.qk_nope_head_dim + cfg.qk_rope_head_dim

    @property
    def value_head_dim(self) -> int:
        return self.config.qk_rope_head_dim if self._latent_cache() else self.config.v_head_dim


class MlaDecoderOnnxConfig(MoeDecoderOnnxConfig):
    """DeepSeek-V3: multi-head latent attention (split key/value widths) + routed experts."""

    NORMALIZED_CONFIG_CLASS = _MlaNormalized
    DUMMY_INPUT_GENERATOR_CLASSES = (DummyTextInputGenerator, SplitHeadDimPastGenerator)


def _tasks(*extra: str) -> tuple:
    return GENERATION_TASKS + extra


TINY = dict(vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
            max_position_embeddings=128, pad_token_id=0, bos_token_id=1, eos_token_id=2)
GPT2_NAMES = DecoderNormalizedConfig.with_args(num_layers="n_layer", hidden_size="n_embd", num_attention_heads="n_head")
BLOOM_NAMES = DecoderNormalizedConfig.with_args(num_layers="n_layer", num_attention_heads="n_head")
NO_POSITION_IDS = dict(USE_POSITION_IDS=False)
# Families that need nothing beyond the defaults still get a named subclass (CohereOnnxConfig ...).
OWN_CLASS = dict(ATOL_FOR_VALIDATION=DecoderOnnxConfig.ATOL_FOR_VALIDATION)
TINY_GQA = dict(TINY, num_key_value_heads=2, head_dim=8)
# sliding_window=4 < validation's past 7 + 9 new tokens: validation exercises the window.
TINY_GEMMA3 = dict(TINY_GQA, sliding_window=4, query_pre_attn_scalar=8,
                   layer_types=["sliding_attention", "full_attention"])
TINY_GPT2_STYLE = dict(vocab_size=128, n_embd=32, n_layer=2, n_head=4, n_positions=128, n_inner=64, pad_token_id=0,
                       bos_token_id=1, eos_token_id=2)
GEMMA3_NAMES = DecoderNormalizedConfig.with_args(
    num_layers="text_config.num_hidden_layers", hidden_size="text_config.hidden_size",
    num_attention_heads="text_config.num_attention_heads", num_key_value_heads="text_config.num_key_value_heads",
    head_dim="text_config.head_dim", vocab_size="text_config.vocab_size")

ARCHITECTURES = [
    Arch("gpt2", _tasks("text-classification", "token-classification"), DecoderOnnxConfig,
         dict(NORMALIZED_CONFIG_CLASS=GPT2_NAMES),
         tiny=dict(vocab_size=128, n_embd=32, n_layer=2, n_head=4, n_positions=128, pad_token_id=0,
                   bos_token_id=1, eos_token_id=2)),
    Arch("llama", _tasks("text-classification"), DecoderOnnxConfig, dict(ATOL_FOR_VALIDATION=2e-4),
         tiny=dict(TINY, num_key_value_heads=2)),
    Arch("mistral", _tasks("text-classification"), DecoderOnnxConfig, dict(ATOL_FOR_VALIDATION=2e-4),
         tiny=dict(TINY, num_key_value_heads=2, sliding_window=None)),
    Arch("qwen2", _tasks("text-classification", "token-classification"), DecoderOnnxConfig,
         dict(ATOL_FOR_VALIDATION=2e-4), tiny=dict(TINY, num_key_value_heads=2)),
    Arch("qwen3", _tasks("text-classification"), DecoderOnnxConfig, dict(ATOL_FOR_VALIDATION=2e-4),
         tiny=dict(TINY, num_key_value_heads=2, head_dim=8)),
    Arch("phi", _tasks("text-classification"), DecoderOnnxConfig, dict(ATOL_FOR_VALIDATION=2e-4), tiny=TINY),
    Arch("phi3", _tasks("text-classification"), DecoderOnnxConfig, dict(ATOL_FOR_VALIDATION=2e-4),
         tiny=dict(TINY, num_key_value_heads=2)),
    Arch("gemma", _tasks("text-classification"), DecoderOnnxConfig, dict(ATOL_FOR_VALIDATION=2e-4),
         tiny=dict(TINY, num_key_value_heads=1, head_dim=8)),
    Arch("opt", _tasks("text-classification", "question-answering"), DecoderOnnxConfig, NO_POSITION_IDS,
         tiny=dict(vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, ffn_dim=64,
                   max_position_embeddings=128, word_embed_proj_dim=32, pad_token_id=1, bos_token_id=2,
                   eos_token_id=2)),
    Arch("gpt_neox", _tasks("text-classification"), DecoderOnnxConfig, dict(ATOL_FOR_VALIDATION=2e-4), tiny=TINY),
    Arch("falcon", _tasks("question-answering", "token-classification"), FalconOnnxConfig,
         tiny=dict(vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, pad_token_id=0,
                   bos_token_id=1, eos_token_id=2)),
    Arch("bloom", _tasks("text-classification", "token-classification"), DecoderOnnxConfig,
         dict(NO_POSITION_IDS, NORMALIZED_CONFIG_CLASS=BLOOM_NAMES),
         tiny=dict(vocab_size=128, hidden_size=32, n_layer=2, n_head=4, pad_token_id=0, bos_token_id=1,
                   eos_token_id=2)),
    # llama-like families: sizes spelled the usual way, rotary positions, GQA caches
    *(Arch(model_type, _tasks(*extra), DecoderOnnxConfig, OWN_CLASS, tiny=TINY_GQA) for model_type, extra in (
        ("arcee", ()), ("cohere", ()), ("glm", ()), ("granite", ()), ("helium", ()), ("nemotron", ()),
        ("olmo", ()), ("olmo2", ()), ("stablelm", ()), ("smollm3", ("text-classification",)))),
    # sliding-window layers next to global ones, attention/final logit softcapping
    Arch("gemma2", _tasks("text-classification"), DecoderOnnxConfig, OWN_CLASS,
         tiny=dict(TINY_GQA, sliding_window=4, query_pre_attn_scalar=8)),
    Arch("gemma3_text", _tasks(), DecoderOnnxConfig, OWN_CLASS, tiny=TINY_GEMMA3),
    # the multimodal checkpoint's text path (no pixel_values): input ids in, logits out
    Arch("gemma3", _tasks("text-classification"), DecoderOnnxConfig, dict(NORMALIZED_CONFIG_CLASS=GEMMA3_NAMES),
         tiny=dict(text_config=TINY_GEMMA3, mm_tokens_per_image=4,
                   vision_config=dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
                                      intermediate_size=64, image_size=16, patch_size=4))),
    Arch("gpt_neo", _tasks("text-classification"), DecoderOnnxConfig,
         dict(NORMALIZED_CONFIG_CLASS=DecoderNormalizedConfig.with_args(num_layers="num_layers",
                                                                        num_attention_heads="num_heads")),
         tiny=dict(vocab_size=128, hidden_size=32, num_layers=2, num_heads=4, intermediate_size=64,
                   attention_types=[[["global", "local"], 1]], window_size=4, max_position_embeddings=128,
                   pad_token_id=0, bos_token_id=1, eos_token_id=2)),
    Arch("gptj", _tasks("question-answering", "text-classification"), DecoderOnnxConfig,
         dict(NORMALIZED_CONFIG_CLASS=GPT2_NAMES), tiny=dict(TINY_GPT2_STYLE, rotary_dim=4)),
    Arch("codegen", _tasks(), DecoderOnnxConfig, dict(NORMALIZED_CONFIG_CLASS=GPT2_NAMES),
         tiny=dict(TINY_GPT2_STYLE, rotary_dim=4, n_ctx=128)),
    Arch("gpt_bigcode", _tasks("text-classification", "token-classification"), DecoderOnnxConfig,
         dict(NORMALIZED_CONFIG_CLASS=type("BigCodeNames", (_BigCodeNormalized, GPT2_NAMES), {})),
         tiny=dict(TINY_GPT2_STYLE, multi_query=True)),
    Arch("mpt", _tasks("text-classification", "token-classification"), DecoderOnnxConfig,  # ALiBi
         dict(NO_POSITION_IDS, NORMALIZED_CONFIG_CLASS=DecoderNormalizedConfig.with_args(
             num_layers="n_layers", hidden_size="d_model", num_attention_heads="n_heads")),
         tiny=dict(vocab_size=128, d_model=32, n_layers=2, n_heads=4, expansion_ratio=2, max_seq_len=128,
                   pad_token_id=0, bos_token_id=1, eos_token_id=2)),
    # mixture of experts (4 experts, 2 per token)
    Arch("qwen3_moe", _tasks("text-classification", "token-classification"), MoeDecoderOnnxConfig, OWN_CLASS,
         tiny=dict(TINY_GQA, num_experts=4, num_experts_per_tok=2, moe_intermediate_size=16, decoder_sparse_step=1)),
    Arch("deepseek_v3", _tasks(), MlaDecoderOnnxConfig, OWN_CLASS,
         tiny=dict(TINY, num_key_value_heads=4, q_lora_rank=16, kv_lora_rank=16, qk_rope_head_dim=4,
                   qk_nope_head_dim=8, v_head_dim=6, n_routed_experts=4, num_experts_per_tok=2, n_group=1,
                   topk_group=1, n_shared_experts=1, moe_intermediate_size=16, first_k_dense_replace=1)),
    Arch("gpt_oss", _tasks(), MoeDecoderOnnxConfig, OWN_CLASS,  # attention sinks, sliding layers
         tiny=dict(TINY_GQA, num_local_experts=4, num_experts_per_tok=2, intermediate_size=16, sliding_window=4)),
]
