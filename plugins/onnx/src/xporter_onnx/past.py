"""Key/value-cache plumbing between flat ONNX tensors and transformers ``Cache`` objects.

An ONNX graph sees the cache as a flat list of tensors (``past_key_values.0.key``,
``past_key_values.0.value``, ...). transformers >= 4.5x models want a ``Cache`` object
(``DynamicCache`` for decoders, ``EncoderDecoderCache`` for seq2seq decoders) and return one,
and transformers 5 renamed the forward argument ``past_key_values`` to ``cache``. The
wrapper modules here translate in both directions so that ``torch.onnx.export`` traces a
model whose inputs and outputs are plain tensors, on transformers 4.57 and 5.x alike:

* :class:`DecoderWithPast` -- causal LMs: ``(input_ids, attention_mask[, position_ids],
  *past) -> (logits | last_hidden_state, *present)``; one graph serves prefill (past length 0)
  and decode steps.
* :class:`Seq2SeqEncoder` -- ``(main_input[, attention_mask]) -> last_hidden_state``.
* :class:`Seq2SeqDecoder` -- ``(input_ids[, encoder_attention_mask], encoder_hidden_states,
  *past) -> (logits, *present)``: without past inputs it returns decoder and cross-attention
  presents (``decoder_model.onnx``), with them only the decoder ones
  (``decoder_with_past_model.onnx``), as Optimum does.

torch is imported only when one of the wrapper classes is first accessed (module-level
``__getattr__``), so importing this module stays cheap.
"""

from __future__ import annotations

import inspect
from typing import Any, Dict, List, Sequence, Tuple

__all__ = [
    "DecoderWithPast",
    "Seq2SeqDecoder",
    "Seq2SeqEncoder",
    "build_decoder_cache",
    "build_encoder_decoder_cache",
    "cache_argument_name",
    "flatten_decoder_cache",
    "flatten_encoder_decoder_cache",
    "output_cache",
]

_LAZY_CLASSES = ("DecoderWithPast", "Seq2SeqEncoder", "Seq2SeqDecoder")


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


def _define_classes() -> Dict[str, type]:
    """Define the torch wrapper modules (called once, on first access)."""
    import torch

    class DecoderWithPast(torch.nn.Module):
        """A causal LM (or its base model) with the cache as flat tensor inputs and outputs.

        ``input_names`` fixes the order of the leading positional inputs (a subset of
        ``input_ids``, ``attention_mask``, ``position_ids``, ``token_type_ids``); the
        remaining positional arguments are the past key/values, ``2 * num_layers`` of them
        (none for a graph exported without past inputs). ``output_name`` is the model output
        returned first (``logits`` or ``last_hidden_state``). Other heads (classification,
        QA) that do not return a cache are handled by the plain exporter, not by this class.
        """

        def __init__(self, model: Any, input_names: Sequence[str], output_names: Sequence[str] = ("logits",),
                     use_past_in_inputs: bool = True, use_past: bool = True):
            super().__init__()
            self.model = model
            self.input_names = tuple(input_names)
            self.output_names = tuple(output_names)
            self.use_past_in_inputs = use_past_in_inputs
            self.use_past = use_past
            self.cache_name = cache_argument_name(model)
            # A fresh Module is in training mode; torch.onnx.export restores the wrapper's
            # mode after tracing, which would otherwise switch the model's dropout on.
            self.train(model.training)

        def forward(self, *args: Any):
            named = dict(zip(self.input_names, args))
            past = list(args[len(self.input_names):])
            if self.use_past:
                named[self.cache_name] = build_decoder_cache(past) if past else build_decoder_cache([])
            outputs = self.model(**named, use_cache=self.use_past, return_dict=True)
            result = [outputs[name] for name in self.output_names]
            if self.use_past:
                result.extend(flatten_decoder_cache(output_cache(outputs)))
            return tuple(result)

    class Seq2SeqEncoder(torch.nn.Module):
        """The encoder of an encoder-decoder model, returning ``last_hidden_state`` only."""

        def __init__(self, encoder: Any, input_names: Sequence[str]):
            super().__init__()
            self.encoder = encoder
            self.input_names = tuple(input_names)
            self.train(encoder.training)

        def forward(self, *args: Any):
            outputs = self.encoder(**dict(zip(self.input_names, args)), return_dict=True)
            return outputs.last_hidden_state

    class Seq2SeqDecoder(torch.nn.Module):
        """The decoder side of an encoder-decoder model, cache as flat tensors.

        ``input_names`` are graph-side names among ``input_ids``, ``encoder_attention_mask``,
        ``encoder_hidden_states``, ``decoder_attention_mask``; they are mapped onto the
        model's ``decoder_input_ids``/``attention_mask``/``encoder_outputs`` arguments. With
        ``use_past_in_inputs`` the trailing arguments are ``4 * num_layers`` past tensors and
        only the self-attention presents are returned (the cross-attention ones do not change).
        """

        _TO_MODEL = {"input_ids": "decoder_input_ids", "encoder_attention_mask": "attention_mask",
                     "decoder_attention_mask": "decoder_attention_mask"}

        def __init__(self, model: Any, input_names: Sequence[str], output_names: Sequence[str] = ("logits",),
                     use_past: bool = True, use_past_in_inputs: bool = False):
            super().__init__()
            self.model = model
            self.input_names = tuple(input_names)
            self.output_names = tuple(output_names)
            self.use_past = use_past
            self.use_past_in_inputs = use_past_in_inputs
            self.cache_name = cache_argument_name(model)
            self.train(model.training)

        def forward(self, *args: Any):
            named = dict(zip(self.input_names, args))
            past = list(args[len(self.input_names):])
            kwargs: Dict[str, Any] = {self._TO_MODEL.get(k, k): v for k, v in named.items()
                                      if k != "encoder_hidden_states"}
            kwargs["encoder_outputs"] = (named["encoder_hidden_states"],)
            if self.use_past:
                kwargs[self.cache_name] = build_encoder_decoder_cache(past)
            outputs = self.model(**kwargs, use_cache=self.use_past, return_dict=True)
            result = [outputs[name] for name in self.output_names]
            if self.use_past:
                result.extend(flatten_encoder_decoder_cache(output_cache(outputs),
                                                            with_cross_attention=not self.use_past_in_inputs))
            return tuple(result)

    return {"DecoderWithPast": DecoderWithPast, "Seq2SeqEncoder": Seq2SeqEncoder, "Seq2SeqDecoder": Seq2SeqDecoder}


_classes: Dict[str, type] = {}


def __getattr__(name: str) -> Any:  # PEP 562: build the torch classes on first use
    if name in _LAZY_CLASSES:
        if not _classes:
            _classes.update(_define_classes())
        return _classes[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
