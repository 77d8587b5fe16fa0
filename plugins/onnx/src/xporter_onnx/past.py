"""Key/value-cache plumbing between flat ONNX tensors and transformers ``Cache`` objects.

An ONNX graph sees the cache as a flat list of tensors (``past_key_values.0.key``,
``past_key_values.0.value``, ...). transformers >= 4.56 models want a ``Cache`` object
(``DynamicCache`` for decoders, ``EncoderDecoderCache`` for seq2seq decoders) and return
one, ``DynamicCache.from_legacy_cache`` is gone in 5.x, and transformers 5 renamed the
forward argument ``past_key_values`` to ``cache`` (output attribute ``.cache``). The
helpers here translate in both directions on 4.57 and 5.x alike; the decoder and seq2seq
configs call them from ``prepare_model_inputs`` / ``call_model`` / ``flatten_outputs``, so
the base export wrapper traces a model whose inputs and outputs are plain tensors.

Cache layout: every family in the tables (bloom and falcon included) stores
``(batch, kv_heads, sequence, head_dim)`` per layer on transformers >= 4.5x; bloom's old
fused ``(batch*heads, head_dim, seq)`` layout of transformers < 4.44 is not supported.

torch/transformers are imported inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

import contextlib
import inspect
from typing import Any, Dict, List, Sequence, Tuple

__all__ = [
    "accepts",
    "build_decoder_cache",
    "build_encoder_decoder_cache",
    "traceable_masks",
    "cache_argument_name",
    "flatten_decoder_cache",
    "flatten_encoder_decoder_cache",
    "output_cache",
    "past_names",
    "pop_past",
]


def cache_argument_name(module: Any) -> str:
    """``"cache"`` on transformers 5.x forwards, ``"past_key_values"`` on 4.x ones.

    transformers 5.x still accepts the old name through a deprecation shim, but the shim
    logs a warning on every call and is announced for removal, so pass the current one.
    """
    try:
        params = inspect.signature(module.forward).parameters
    except (TypeError, ValueError):  # pragma: no cover - exotic callables
        return "past_key_values"
    return "cache" if "cache" in params else "past_key_values"


def accepts(module: Any, name: str) -> bool:
    """Whether ``module.forward`` takes a keyword ``name`` (explicitly or through ``**kwargs``
    is *not* enough: models swallow unknown kwargs silently)."""
    try:
        return name in inspect.signature(module.forward).parameters
    except (TypeError, ValueError):  # pragma: no cover
        return False


def output_cache(outputs: Any) -> Any:
    """The cache a model returned: ``.cache`` on transformers 5, ``.past_key_values`` before."""
    cache = getattr(outputs, "cache", None)
    if cache is None:
        cache = getattr(outputs, "past_key_values", None)
    return cache


def build_decoder_cache(flat: Sequence[Any]) -> Any:
    """A ``DynamicCache`` holding ``flat = (k0, v0, k1, v1, ...)``, shapes ``(batch, heads, past, head_dim)``.

    ``DynamicCache().update(k, v, layer_idx)`` is the one constructor path that behaves the same
    on transformers 4.57 (which still has ``from_legacy_cache``) and 5.x (which dropped it).
    """
    from transformers import DynamicCache

    cache = DynamicCache()
    for layer in range(len(flat) // 2):
        cache.update(flat[2 * layer], flat[2 * layer + 1], layer)
    return cache


def build_encoder_decoder_cache(flat: Sequence[Any]) -> Any:
    """An ``EncoderDecoderCache`` from ``flat = (dec_k0, dec_v0, enc_k0, enc_v0, dec_k1, ...)``.

    An empty ``flat`` gives an empty cache, which makes the model fill both halves (the
    first decoder step); a non-empty cross-attention half is marked "updated" so the model
    reuses it instead of recomputing keys/values from ``encoder_hidden_states``.
    """
    from transformers import DynamicCache, EncoderDecoderCache

    self_attention, cross_attention = DynamicCache(), DynamicCache()
    for layer in range(len(flat) // 4):
        dec_k, dec_v, enc_k, enc_v = flat[4 * layer : 4 * layer + 4]
        self_attention.update(dec_k, dec_v, layer)
        cross_attention.update(enc_k, enc_v, layer)
    return EncoderDecoderCache(self_attention, cross_attention)


def _layer_tensors(cache: Any) -> List[Tuple[Any, Any]]:
    """``[(keys, values), ...]`` of a ``DynamicCache`` on either transformers major version."""
    layers = getattr(cache, "layers", None)
    if layers is not None:  # 4.56+ and 5.x: a list of cache layers
        return [(layer.keys, layer.values) for layer in layers]
    if hasattr(cache, "key_cache"):  # pragma: no cover - transformers < 4.56
        return list(zip(cache.key_cache, cache.value_cache))
    return [(k, v) for k, v in cache]  # legacy tuple of tuples


def flatten_decoder_cache(cache: Any) -> List[Any]:
    """``[k0, v0, k1, v1, ...]`` from a ``DynamicCache`` (or a legacy tuple of tuples)."""
    flat: List[Any] = []
    for key, value in _layer_tensors(cache):
        flat.extend((key, value))
    return flat


def flatten_encoder_decoder_cache(cache: Any, with_cross_attention: bool = True) -> List[Any]:
    """``[dec_k0, dec_v0, (enc_k0, enc_v0,) dec_k1, ...]`` from an ``EncoderDecoderCache``."""
    if not hasattr(cache, "self_attention_cache"):  # legacy tuple of 4-tuples
        return [t for layer in cache for t in (layer if with_cross_attention else layer[:2])]
    flat: List[Any] = []
    decoder = _layer_tensors(cache.self_attention_cache)
    encoder = _layer_tensors(cache.cross_attention_cache)
    for (dec_k, dec_v), (enc_k, enc_v) in zip(decoder, encoder):
        flat.extend((dec_k, dec_v))
        if with_cross_attention:
            flat.extend((enc_k, enc_v))
    return flat


def past_names(num_layers: int, prefix: str = "past_key_values", seq2seq: bool = False,
               with_cross_attention: bool = True) -> List[str]:
    """Flat ONNX names in cache order: ``{prefix}.{i}.key``/``.value`` (decoders) or
    ``{prefix}.{i}.decoder.key``, ``.decoder.value``, ``.encoder.key``, ``.encoder.value`` (seq2seq)."""
    names: List[str] = []
    for i in range(num_layers):
        if not seq2seq:
            names += [f"{prefix}.{i}.key", f"{prefix}.{i}.value"]
            continue
        names += [f"{prefix}.{i}.decoder.key", f"{prefix}.{i}.decoder.value"]
        if with_cross_attention:
            names += [f"{prefix}.{i}.encoder.key", f"{prefix}.{i}.encoder.value"]
    return names


def pop_past(inputs: Dict[str, Any], prefix: str = "past_key_values") -> List[Any]:
    """Remove the ``{prefix}.*`` entries of ``inputs`` (ONNX order preserved) and return them."""
    names = [name for name in inputs if name.startswith(prefix + ".")]
    return [inputs.pop(name) for name in names]


def _sdpa_mask_without_vmap(batch_size: int, cache_position: Any, kv_length: int, kv_offset: int = 0,
                            mask_function: Any = None, attention_mask: Any = None, local_size: Any = None,
                            allow_is_causal_skip: bool = True, **kwargs: Any) -> Any:
    """transformers 4.5x's ``sdpa_mask`` with broadcasting instead of ``torch.vmap``.

    The mask functions (causal, sliding window, padding, chunked) are elementwise in the
    (batch, head, q, kv) indices, so calling them on broadcastable index tensors gives the
    same boolean mask; TorchScript tracing cannot go through vmap ("unordered_map::at").
    """
    import torch
    from transformers import masking_utils as mu

    mask_function = mask_function or mu.causal_mask_function
    q_length = cache_position.shape[0]
    padding_mask = mu.prepare_padding_mask(attention_mask, kv_length, kv_offset, _slice=False)
    if allow_is_causal_skip and mu._ignore_causal_mask_sdpa(padding_mask, q_length, kv_length, kv_offset, local_size):
        return None
    if padding_mask is not None:
        mask_function = mu.and_masks(mask_function, mu.padding_mask_function(padding_mask))
    device = cache_position.device
    batch = torch.arange(batch_size, device=device).view(-1, 1, 1, 1)
    head = torch.zeros(1, 1, 1, 1, dtype=torch.long, device=device)
    q_idx = cache_position.view(1, 1, -1, 1)
    kv_idx = (torch.arange(kv_length, device=device) + kv_offset).view(1, 1, 1, -1)
    mask = mask_function(batch, head, q_idx, kv_idx)
    return mask.expand(batch_size, 1, q_length, kv_length)


def _sdpa_mask_broadcast(original: Any) -> Any:
    """transformers 5.x's ``sdpa_mask`` with ``use_vmap=False`` forced: 5.x switches to vmap as soon
    as a model adds an ``or``/``and`` mask function (Gemma 3's bidirectional image blocks and
    sliding windows), although those overlays are index-based and broadcast exactly."""

    def sdpa_mask(*args: Any, **kwargs: Any) -> Any:
        kwargs["use_vmap"] = False
        return original(*args, **kwargs)

    return sdpa_mask


@contextlib.contextmanager
def traceable_masks():
    """Make transformers' attention-mask creation traceable by ``torch.jit.trace``.

    Masks built with ``torch.vmap`` cannot be traced ("unordered_map::at"). transformers
    4.5x always builds them with vmap: ``masking_utils.sdpa_mask`` (also used by
    ``eager_mask``) and its mask-interface entry are swapped for a broadcasting version;
    5.x uses vmap only for custom mask functions, and gets ``use_vmap=False`` forced.
    """
    try:
        from transformers import masking_utils as mu
    except ImportError:  # pragma: no cover - transformers without masking_utils
        yield
        return
    if not hasattr(mu, "sdpa_mask"):
        yield
        return
    if "use_vmap" in inspect.signature(mu.sdpa_mask).parameters:
        replacement = _sdpa_mask_broadcast(mu.sdpa_mask)
    elif hasattr(mu, "_vmap_for_bhqkv"):
        replacement = _sdpa_mask_without_vmap
    else:
        yield
        return
    registry = mu.ALL_MASK_ATTENTION_FUNCTIONS._global_mapping
    saved_fn, saved_entry = mu.sdpa_mask, registry.get("sdpa")
    mu.sdpa_mask = replacement
    registry["sdpa"] = replacement
    try:
        yield
    finally:
        mu.sdpa_mask = saved_fn
        if saved_entry is not None:
            registry["sdpa"] = saved_entry
