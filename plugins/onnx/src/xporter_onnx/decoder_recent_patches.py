"""Export-time logic for the decoder families of ``configs/decoder_recent.py`` that a row alone cannot say.

* **Caches shared across layers, or shaped per layer** (Gemma 3n, Gemma 4, MiMo-V2-Flash). From
  ``num_hidden_layers - num_kv_shared_layers`` on, layers compute no keys and values: they reuse the last earlier
  layer of their kind, and the model's own cache leaves their entries empty. The exported cache
  is what that cache holds, so only the first ``num_hidden_layers - num_kv_shared_layers`` layers
  get ``past_key_values.N.key/value`` / ``present.N.key/value``; a shared graph input for the
  consumer layers would be dead weight that ONNX Runtime loops must still feed. Gemma 4's
  global layers also cache wider heads (``global_head_dim``) and, with ``attention_k_eq_v``,
  another key/value head count than the sliding ones; MiMo-V2-Flash doubles the sliding layers'
  heads and caches values narrower than keys: the past shapes are read per layer and kind from
  the model's own cache (:func:`cached_layer_shapes`), so the graph declares the real ones.
* **Complex rotary** (Llama 4, DeepSeek-V2): ``torch.polar`` / ``view_as_complex`` products have
  no TorchScript-exporter symbolic (``aten::polar``). :func:`real_rotary` swaps the families'
  rotary helpers, for the duration of the export and validation, for the same rotation written
  with real cos/sin on interleaved pairs (``(x0, x1) -> (x0 c - x1 s, x0 s + x1 c)``): the
  same numbers, ops every exporter writes. Llama 4's chunked-attention mask also takes a cumsum
  of booleans, which ONNX ``CumSum`` refuses: :func:`integer_bool_cumsum` counts in int64.
* **Experts routed by loops** (JetMoE's attention and MLP experts, DBRX on transformers 5.x,
  LongCat-Flash with its identity experts): the row counts per expert become Python ints
  (``tolist()``) or the loop runs over the experts hit, so a trace freezes the routing of its
  inputs; :func:`loop_free_experts` swaps them for gathers of each row's expert weights (JetMoE)
  or a dense mixture (DBRX, LongCat) while active.
* **DeepSeek sparse attention** (DeepSeek-V3.2, GLM-5): the cache also holds the indexer's keys
  (:class:`SparseAttentionDecoderOnnxConfig`), the indexer's ``topk(min(index_topk, keys))`` is
  made constant-k (:func:`constant_k_indexers`) and the picks' boolean scatter gets a tensor source.
* **Hybrid steps with sliding-window layers** (LFM3): :class:`FullWindowStateDecoderOnnxConfig`.

torch/transformers are imported inside functions (the table modules stay import-light).
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any, Dict, Iterator, List, Tuple

from .configs.decoder import DecoderNormalizedConfig, MlaDecoderOnnxConfig, MoeDecoderOnnxConfig
from .configs.hybrid_decoders import StateDecoderOnnxConfig
from .dummy import DummyPastKeyValuesGenerator, DummyTextInputGenerator, to_framework

__all__ = ["FullWindowStateDecoderOnnxConfig", "LoopFreeMlaDecoderOnnxConfig", "LoopFreeMoeDecoderOnnxConfig",
           "PerLayerCacheDecoderOnnxConfig", "RealRotaryMlaDecoderOnnxConfig", "RealRotaryMoeDecoderOnnxConfig",
           "SparseAttentionDecoderOnnxConfig", "cached_layer_shapes", "constant_k_indexers", "loop_free_experts",
           "real_rotary"]


def _text_config(config: Any) -> Any:
    return config.get_text_config() if hasattr(config, "get_text_config") else config


_LAYOUTS: Dict[int, Tuple[Any, List[Tuple[int, ...]]]] = {}


def cached_layer_shapes(config: Any) -> List[Tuple[int, ...]]:
    """``(key heads, key width, value heads, value width)`` of every layer whose keys and values
    the model's own cache holds, in layer order (shared consumer layers come last and hold none).

    On transformers 5.x this is read from the cache itself after one step on the ``meta`` device
    (:func:`xporter_onnx.state_cache.state_layout`: no weights, nothing computed), so any per-layer
    rule (Gemma 4's wider global heads, MiMo-V2's doubled sliding-window heads and narrower values)
    is the modeling code's. Where that step cannot run (4.x; Gemma 3n, whose sparsity takes an
    ``.item()``), the config says it: the first ``num_hidden_layers - num_kv_shared_layers`` layers,
    all of one shape (``tests/test_decoder_recent.py`` checks it against the real cache)."""
    cfg = _text_config(config)
    known = _LAYOUTS.get(id(cfg))
    if known is not None and known[0] is cfg:
        return known[1]
    from xporter.errors import ExportError

    from .state_cache import has_state_cache, state_layout

    shapes = None
    if has_state_cache():
        widths: Dict[int, List[int]] = {}
        try:
            layout = state_layout(cfg)
        except ExportError:  # a step the meta device cannot run (Gemma 3n's .item()): the config's rule
            layout = []
        for entry in layout:
            if entry.is_attention:  # shape: (heads, past, width)
                widths.setdefault(entry.layer, []).extend((entry.shape[0], entry.shape[-1]))
        if sorted(widths) != list(range(len(widths))):
            raise ValueError(f"'{cfg.model_type}' caches keys and values of layers {sorted(widths)}, "
                             "not of the first layers only")
        shapes = [tuple(widths[layer]) for layer in sorted(widths)] or None
    if shapes is None:
        owners = cfg.num_hidden_layers - int(getattr(cfg, "num_kv_shared_layers", 0) or 0)
        head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        shapes = [(cfg.num_key_value_heads, head_dim) * 2] * owners
    _LAYOUTS[id(cfg)] = (cfg, shapes)
    return shapes


class _PerLayerNormalized(DecoderNormalizedConfig):
    """``num_layers`` is the number of layers whose keys and values the cache holds."""

    @property
    def num_layers(self) -> int:
        return len(cached_layer_shapes(self.config))


class _PerLayerPastGenerator(DummyPastKeyValuesGenerator):
    """Past tensors shaped per layer and kind (``past_key_values.N.key`` -> :func:`cached_layer_shapes` [N])."""

    def generate(self, input_name, framework="pt", int_dtype="int64", float_dtype="fp32"):
        past = self.shapes.get("past_sequence_length", self.shapes["sequence_length"])
        shape = cached_layer_shapes(self.normalized_config.config)[int(input_name.split(".")[1])]
        heads, width = shape[2:] if input_name.endswith(".value") else shape[:2]
        return to_framework(self.random_float((self.batch_size, heads, past, width), float_dtype), framework,
                            float_dtype)


# -- complex rotary as real arithmetic ----------------------------------------------------------
def _rotate_pairs(x: Any, cos: Any, sin: Any) -> Any:
    """``x`` (..., dim) as ``dim/2`` interleaved (real, imaginary) pairs, each rotated by the
    angle whose cosine/sine are ``cos``/``sin`` (..., dim/2); the result keeps ``x``'s layout."""
    import torch

    pairs = x.float().reshape(*x.shape[:-1], -1, 2)
    real, imag = pairs[..., 0], pairs[..., 1]
    out = torch.stack((real * cos - imag * sin, real * sin + imag * cos), dim=-1)
    return out.flatten(-2).type_as(x)


def _cos_sin(freqs_cis: Any) -> Tuple[Any, Any]:
    """``freqs_cis`` is stored by :func:`_real_freqs` as a real (..., dim/2, 2) cos/sin pair."""
    return freqs_cis[..., 0], freqs_cis[..., 1]


def _llama4_apply_rotary_emb(xq: Any, xk: Any, freqs_cis: Any) -> Tuple[Any, Any]:
    """``modeling_llama4.apply_rotary_emb``: ``freqs_cis`` (batch, seq, dim/2) broadcast over heads
    (axis 2 of (batch, seq, heads, dim))."""
    cos, sin = _cos_sin(freqs_cis[:, :, None])
    return _rotate_pairs(xq, cos, sin), _rotate_pairs(xk, cos, sin)


def _deepseek_v2_apply_rotary_emb(xq: Any, xk: Any, freqs_cis: Any) -> Tuple[Any, Any]:
    """``modeling_deepseek_v2.apply_rotary_emb``: heads on axis 1, ``freqs_cis`` (batch, seq, dim/2)."""
    cos, sin = _cos_sin(freqs_cis.unsqueeze(1))
    return _rotate_pairs(xq, cos, sin), _rotate_pairs(xk, cos, sin)


def _real_freqs(original_forward: Any) -> Any:
    """A rotary module ``forward`` returning (cos, sin) stacked on a last axis of 2 instead of
    ``torch.polar(ones, freqs)``: the module computes ``freqs`` (positions x inverse frequencies,
    times its attention scaling) the same way; only the complex packing is replaced."""

    def forward(self: Any, x: Any, position_ids: Any, *args: Any, **kwargs: Any) -> Any:
        import torch

        freqs = position_ids[..., None].float() * self.inv_freq.to(device=x.device, dtype=torch.float)
        scaling = getattr(self, "attention_scaling", 1.0)
        return torch.stack((torch.cos(freqs) * scaling, torch.sin(freqs) * scaling), dim=-1).to(x.device)

    try:  # the rope types that recompute inv_freq on long inputs do so before the forward, as in the module
        from transformers.modeling_rope_utils import dynamic_rope_update
    except ImportError:  # pragma: no cover - transformers without it
        return forward
    return dynamic_rope_update(forward)


# modeling module -> (rotary module class, apply_rotary_emb replacement)
_COMPLEX_ROTARY = {
    "transformers.models.llama4.modeling_llama4": ("Llama4TextRotaryEmbedding", _llama4_apply_rotary_emb),
    "transformers.models.deepseek_v2.modeling_deepseek_v2": ("DeepseekV2RotaryEmbedding",
                                                             _deepseek_v2_apply_rotary_emb),
}


@contextlib.contextmanager
def real_rotary(model: Any) -> Iterator[None]:
    """Swap the complex rotary of the model's families (see the module docstring) while active."""
    import types

    saved = []
    used = {type(m).__module__ for m in model.modules()}
    for name, (rotary_class, apply) in _COMPLEX_ROTARY.items():
        module = sys.modules.get(name)
        if name not in used or module is None or not hasattr(module, "apply_rotary_emb"):
            continue
        saved.append((module, "apply_rotary_emb", module.apply_rotary_emb))
        module.apply_rotary_emb = apply
        for rotary in model.modules():
            if type(rotary).__name__ == rotary_class:
                rotary.forward = types.MethodType(_real_freqs(type(rotary).forward), rotary)
                saved.append((rotary, "forward", None))
    try:
        yield
    finally:
        for owner, attribute, value in saved:
            if value is None:
                delattr(owner, attribute)  # the class method shows through again
            else:
                setattr(owner, attribute, value)


@contextlib.contextmanager
def integer_bool_cumsum() -> Iterator[None]:
    """``bool_tensor.cumsum(-1)`` as a cumsum of int64 (what torch returns for it anyway):
    ONNX ``CumSum`` takes no booleans. transformers' chunked-attention mask counts left padding
    that way (``create_chunked_causal_mask``, Llama 4)."""
    import torch

    original = torch.Tensor.cumsum

    def cumsum(self: Any, *args: Any, **kwargs: Any) -> Any:
        if self.dtype == torch.bool and "dtype" not in kwargs:
            self = self.to(torch.int64)
        return original(self, *args, **kwargs)

    torch.Tensor.cumsum = cumsum
    try:
        yield
    finally:
        torch.Tensor.cumsum = original


# -- experts without data-dependent loops (JetMoE, DBRX, LongCat-Flash) ------------------------------
# The dense mixtures run every expert on every token (compute grows with the expert count, the
# result does not change); JetMoE's gathers read one weight per routed row.
def _jetmoe_gating_forward(self: Any, hidden_states: Any) -> Tuple[Any, Any, Any, Any, Any]:
    """``JetMoeTopKGating.forward`` returning, in place of the Python list of per-expert row counts
    (``expert_size.tolist()``, which a trace freezes), the expert id of every sorted row: the
    patched :func:`_jetmoe_parallel_experts_forward` below reads the rows' weights with it."""
    import torch

    logits = self.layer(hidden_states).float()
    top_k_logits, top_k_indices = logits.topk(self.top_k, dim=1)
    top_k_gates = torch.softmax(top_k_logits, dim=1).type_as(hidden_states)
    sorted_experts, index_sorted_experts = top_k_indices.flatten().sort(0)
    batch_index = index_sorted_experts.div(self.top_k, rounding_mode="trunc")
    batch_gates = top_k_gates.flatten()[index_sorted_experts]
    return index_sorted_experts, batch_index, batch_gates, sorted_experts, logits


def _jetmoe_parallel_experts_forward(self: Any, inputs: Any, row_experts: Any) -> Any:
    """``JetMoeParallelExperts.forward``: row ``r`` times its expert's weight, for every row at once
    (the original splits the expert-sorted rows by the per-expert counts, one ``linear`` each)."""
    import torch

    return torch.matmul(self.weight[row_experts], inputs.unsqueeze(-1)).squeeze(-1)


def _dbrx_experts_forward(self: Any, hidden_states: Any, top_k_index: Any, top_k_weights: Any) -> Any:
    """``DbrxExperts.forward`` (transformers 5.x) as a dense mixture: every expert on every token,
    weighted by its routing weight (zero where the token was not routed to it), instead of a loop
    over the experts the data happened to hit."""
    import torch

    batch = hidden_states.shape[0]
    flat = hidden_states.reshape(-1, self.hidden_size)
    dense = torch.zeros(flat.shape[0], self.num_experts, dtype=top_k_weights.dtype, device=flat.device)
    dense = dense.scatter(1, top_k_index, top_k_weights)
    shape = (self.num_experts, self.ffn_hidden_size, self.hidden_size)
    w1, v1, w2 = (weight.view(shape) for weight in (self.mlp.w1, self.mlp.v1, self.mlp.w2))
    out = torch.zeros_like(flat)
    for expert in range(self.num_experts):
        out = out + self.mlp(flat, w1[expert], v1[expert], w2[expert]) * dense[:, expert, None].to(flat.dtype)
    return out.view(batch, -1, self.hidden_size)


def _longcat_experts_forward(self: Any, hidden_states: Any, top_k_index: Any, top_k_weights: Any) -> Any:
    """``LongcatFlashExperts.forward`` as a dense mixture: the routed experts on every token, and
    the zero-compute (identity) experts as the input times their summed routing weight."""
    import torch
    from torch.nn import functional

    tokens = hidden_states.shape[0]
    dense = torch.zeros(tokens, self.total_experts, dtype=top_k_weights.dtype, device=hidden_states.device)
    dense = dense.scatter(1, top_k_index, top_k_weights)
    out = hidden_states * dense[:, self.num_routed_experts:].sum(-1, keepdim=True)
    for expert in range(self.num_routed_experts if self.gate_up_proj is not None else 0):
        gate, up = functional.linear(hidden_states, self.gate_up_proj[expert]).chunk(2, dim=-1)
        routed = functional.linear(self.act_fn(gate) * up, self.down_proj[expert])
        out = out + routed * dense[:, expert, None]
    return out.to(hidden_states.dtype)


# class name -> (method, replacement, a parameter name of the replaced signature, None: any)
_LOOP_FREE_EXPERTS = {
    "JetMoeTopKGating": ("forward", _jetmoe_gating_forward, None),
    "JetMoeParallelExperts": ("forward", _jetmoe_parallel_experts_forward, None),
    "DbrxExperts": ("forward", _dbrx_experts_forward, "top_k_index"),  # 4.57's loop runs over range(experts)
    "LongcatFlashExperts": ("forward", _longcat_experts_forward, "top_k_index"),
}


@contextlib.contextmanager
def loop_free_experts(model: Any) -> Iterator[None]:
    """Patch the instances of :data:`_LOOP_FREE_EXPERTS` classes while active: same function,
    no loop or split whose count a trace would freeze (the graph would route every later input
    the way the trace inputs went)."""
    import inspect
    import types

    import torch

    patched = []
    for module in model.modules():
        entry = _LOOP_FREE_EXPERTS.get(type(module).__name__)
        if entry is None:
            continue
        name, function, parameter = entry
        if parameter is not None and parameter not in inspect.signature(getattr(module, name)).parameters:
            continue
        setattr(module, name, types.MethodType(function, module))
        patched.append((module, name))
    saved_index_add = torch.Tensor.index_add
    if any(type(module).__name__.startswith("JetMoe") for module, _ in patched):
        torch.Tensor.index_add = _accumulating_index_add(saved_index_add)
    try:
        yield
    finally:
        for module, name in patched:
            delattr(module, name)  # the class method shows through again
        torch.Tensor.index_add = saved_index_add


def _accumulating_index_add(original: Any) -> Any:
    """``x.index_add(0, index, source)`` (2-D ``source``) as ``scatter_add``: the TorchScript exporter
    writes ``index_add`` as a ``ScatterElements`` that keeps one of the rows of a repeated index
    ("does not support duplicated values in 'index'"), while ``scatter_add`` becomes
    ``ScatterElements(reduction="add")`` (opset 16+; the default is 18). JetMoE sums each token's
    top-k expert outputs that way."""

    def index_add(self: Any, dim: int, index: Any, source: Any, *args: Any, **kwargs: Any) -> Any:
        if dim != 0 or source.dim() != 2 or args or kwargs:
            return original(self, dim, index, source, *args, **kwargs)
        return self.scatter_add(0, index[:, None].expand(-1, source.shape[1]), source)

    return index_add


class _LoopFreeMixin:
    @contextlib.contextmanager
    def export_context(self, model: Any):
        with super().export_context(model), loop_free_experts(model):  # type: ignore[misc]
            yield


class LoopFreeMoeDecoderOnnxConfig(_LoopFreeMixin, MoeDecoderOnnxConfig):
    """Experts that the library routes with data-dependent loops outside the experts interface."""


class LoopFreeMlaDecoderOnnxConfig(_LoopFreeMixin, MlaDecoderOnnxConfig):
    """Latent attention + such experts (LongCat-Flash: two attention sublayers per layer, so
    ``num_hidden_layers`` = 2 x ``num_layers`` cached layers, which its config reports)."""


class PerLayerCacheDecoderOnnxConfig(LoopFreeMoeDecoderOnnxConfig):
    """Decoders whose cached layers differ in shape or do not all cache (Gemma 3n / Gemma 4:
    shared caches, wider global heads; MiMo-V2-Flash: other head counts on sliding layers, values
    narrower than keys). Per-layer inputs (``hidden_size_per_layer_input``) are computed by the
    model from ``input_ids`` inside the graph, so the inputs are the usual ones. The experts base
    routes the families' experts without data-dependent loops (a no-op without experts)."""

    NORMALIZED_CONFIG_CLASS = _PerLayerNormalized
    DUMMY_INPUT_GENERATOR_CLASSES = (DummyTextInputGenerator, _PerLayerPastGenerator)


class _RealRotaryMixin:
    @contextlib.contextmanager
    def export_context(self, model: Any):
        with super().export_context(model), real_rotary(model), integer_bool_cumsum():  # type: ignore[misc]
            yield


class RealRotaryMoeDecoderOnnxConfig(_RealRotaryMixin, MoeDecoderOnnxConfig):
    """Mixture-of-experts decoders with complex rotary (Llama 4 text)."""


class RealRotaryMlaDecoderOnnxConfig(_RealRotaryMixin, MlaDecoderOnnxConfig):
    """Latent attention + experts with complex rotary (DeepSeek-V2)."""


# -- hybrid decoders with sliding-window attention layers ------------------------------------------
class FullWindowStateDecoderOnnxConfig(StateDecoderOnnxConfig):
    """The hybrid decode step (:class:`~.configs.hybrid_decoders.StateDecoderOnnxConfig`) with the
    sliding-window layers' past kept whole, as every key/value graph of this package keeps it.

    ``DynamicCache(config=...)`` gives sliding layers a ``DynamicSlidingWindowLayer``, which trims
    what it holds to ``sliding_window - 1`` tokens with slice bounds and mask sizes computed as
    Python ints: a trace freezes them at the trace's past length (ONNX Runtime then gathers out of
    range on another past). Those layers get a plain ``DynamicLayer`` with the same keys and values
    instead; the sliding-window mask still limits what each token sees, so the logits are the same
    (LFM3's sliding layers)."""

    def prepare_model_inputs(self, inputs: Dict[str, Any]) -> Dict[str, Any]:
        prepared = super().prepare_model_inputs(inputs)
        if not self.use_past:
            return prepared
        from transformers.cache_utils import DynamicLayer, DynamicSlidingWindowLayer

        cache = prepared["past_key_values"]
        for entry in self.layout:
            if entry.kind != "key" or not isinstance(cache.layers[entry.layer], DynamicSlidingWindowLayer):
                continue
            layer = DynamicLayer()
            layer.update(inputs[entry.name("inputs", self.RECURRENT_NAME)],
                         inputs[entry.name("inputs", self.RECURRENT_NAME).replace(".key", ".value")])
            cache.layers[entry.layer] = layer
        return prepared


# -- DeepSeek sparse attention (DeepSeek-V3.2, GLM-5 / glm_moe_dsa) ----------------------------------
def _constant_k_indexer_forward(original: Any) -> Any:
    """An indexer ``forward`` whose top-k picks a constant ``index_topk`` keys.

    The indexer ends with ``index_scores.topk(min(self.index_topk, past + new))``: a Python
    ``min`` that a trace freezes at the trace's key count. Here the scores get ``index_topk``
    columns of ``-inf`` appended, ``index_topk`` are picked, and picks past the real keys are
    clamped onto the last one. Same mask: a padding column is only picked once every key with a
    finite score is (below ``index_topk`` keys: all of them, as ``min`` gives), and the last key
    is then either picked already or masked for that query anyway."""

    def forward(self: Any, *args: Any, **kwargs: Any) -> Any:
        import torch

        saved = torch.Tensor.topk
        index_topk = int(self.index_topk)

        def topk(scores: Any, k: Any, dim: int = -1, *rest: Any, **options: Any) -> Any:
            pad = scores.new_full((*scores.shape[:-1], index_topk), float("-inf"))
            values, indices = saved(torch.cat([scores, pad], dim=-1), index_topk, -1, *rest, **options)
            last = torch._shape_as_tensor(scores)[-1] - 1
            return torch.return_types.topk((values, torch.minimum(indices, last)))

        torch.Tensor.topk = topk
        try:
            return original(*args, **kwargs)
        finally:
            torch.Tensor.topk = saved

    return forward


@contextlib.contextmanager
def constant_k_indexers(model: Any) -> Iterator[None]:
    """Give the model's sparse-attention indexers (``*Indexer`` modules with an ``index_topk``) the
    constant-k top-k of :func:`_constant_k_indexer_forward` while active."""
    import types

    patched = []
    for module in model.modules():
        if type(module).__name__.endswith("Indexer") and hasattr(module, "index_topk"):
            module.forward = types.MethodType(_constant_k_indexer_forward(module.forward), module)
            patched.append(module)
    try:
        yield
    finally:
        for module in patched:
            del module.forward  # the class method shows through again


@contextlib.contextmanager
def tensor_scatter_of_bools() -> Iterator[None]:
    """``mask.scatter(dim, index, False)`` with the Python bool as a tensor of ``index``'s shape: the
    TorchScript tracer has no ``aten::scatter`` overload for a bool scalar (an internal assert); the
    sparse-attention layers mark the indexer's picks that way."""
    import torch

    saved = torch.Tensor.scatter

    def scatter(self: Any, dim: int, index: Any, src: Any = None, *args: Any, **kwargs: Any) -> Any:
        if isinstance(src, bool) and not args and not kwargs:
            src = (torch.ones_like if src else torch.zeros_like)(index, dtype=self.dtype)
        return saved(self, dim, index, src, *args, **kwargs)

    torch.Tensor.scatter = scatter
    try:
        yield
    finally:
        torch.Tensor.scatter = saved


class _IndexerPastGenerator(DummyPastKeyValuesGenerator):
    """Latent keys (``kv_lora_rank``), rotary keys (``qk_rope_head_dim``), one head, and the
    indexer keys: (batch, past, ``index_head_dim``)."""

    def generate(self, input_name, framework="pt", int_dtype="int64", float_dtype="fp32"):
        cfg = self.normalized_config.config
        past = self.shapes.get("past_sequence_length", self.shapes["sequence_length"])
        if input_name.endswith(".indexer_key"):
            shape = (self.batch_size, past, int(cfg.index_head_dim))
        else:
            width = cfg.qk_rope_head_dim if input_name.endswith(".value") else cfg.kv_lora_rank
            shape = (self.batch_size, 1, past, int(width))
        return to_framework(self.random_float(shape, float_dtype), framework, float_dtype)


class SparseAttentionDecoderOnnxConfig(MlaDecoderOnnxConfig):
    """DeepSeek sparse attention: latent attention whose cache also keeps, per layer, the
    indexer's keys, exported as ``past_key_values.N.indexer_key`` / ``present.N.indexer_key``
    (batch, past, index_head_dim) after the layer's key and value (transformers 5.x, whose
    ``DynamicIndexedLayer`` holds them)."""

    PAST_KEY_VALUES_NAMES = ("key", "value", "indexer_key")
    DUMMY_INPUT_GENERATOR_CLASSES = (DummyTextInputGenerator, _IndexerPastGenerator)

    def add_past_key_values(self, inputs_or_outputs: Dict[str, Any], direction: str) -> None:
        super().add_past_key_values(inputs_or_outputs, direction)
        for name, axes in inputs_or_outputs.items():
            if name.endswith(".indexer_key"):  # the sequence is axis 1 of these 3-D tensors
                inputs_or_outputs[name] = {0: axes[0], 1: axes[2]}

    @contextlib.contextmanager
    def export_context(self, model: Any):
        """The experts base's context without its refusal of layer kinds other than attention:
        ``indexed_attention`` layers cache keys too, all of which this graph carries."""
        from . import past as kv
        from .configs.decoder_families import traceable_experts, traceable_rotary

        with kv.traceable_masks(), traceable_rotary(model), traceable_experts(model), constant_k_indexers(model), \
                tensor_scatter_of_bools():
            yield

    def prepare_model_inputs(self, inputs: Dict[str, Any]) -> Dict[str, Any]:
        from transformers import DynamicCache

        from .past import pop_past

        inputs = dict(inputs)
        past = pop_past(inputs)
        if self.use_past_in_inputs:
            cache = DynamicCache(config=self._config)
            for layer in range(len(past) // 3):
                key, value, indexer = past[3 * layer: 3 * layer + 3]
                cache.update(key, value, layer)
                cache.update_indexer(indexer, layer)
            inputs["past_key_values"] = cache
        return inputs

    def flatten_outputs(self, model_output: Any) -> List[Any]:
        from .base import lookup_output
        from .past import output_cache

        flat = [lookup_output(model_output, name) for name in self.outputs if not name.startswith("present.")]
        if self.use_past:
            for layer in output_cache(model_output).layers:
                flat.extend((layer.keys, layer.values, layer.indexer_keys))
        return flat
