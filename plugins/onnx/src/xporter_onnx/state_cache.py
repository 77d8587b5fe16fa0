"""Recurrent-state caches (Mamba / Mamba-2 / convolution / linear-attention layers) as flat ONNX tensors.

A state-space layer caches no keys and values: it keeps a fixed-size convolution window
(``conv``: ``(batch, channels, kernel)``) and a recurrent state (Mamba's ``ssm``: ``(batch,
intermediate, state)``, Mamba-2's ``(batch, heads, head_dim, state)``; a gated-delta-net
``recurrent`` state). transformers 5.x keeps both in the same ``DynamicCache`` as the
attention layers of hybrids (``LinearAttentionLayer`` entries, built from
``config.layer_types``), so one cache object carries every layer's past.

This module turns that cache into flat tensors and back:

* :func:`state_layout` finds, per layer, which tensors the cache holds and their shapes
  (batch excluded) by running the model once on the ``meta`` device: nothing is computed,
  no weights are needed, and the answer is what the modeling code really stores (lfm2's
  conv layers keep a window but no recurrent state; falcon_h1's layers keep both a state
  and keys/values), so no family needs hand-written shape formulas.
* :func:`build_state_cache` fills a fresh ``DynamicCache(config=...)`` with the flat inputs;
  the tensors are cloned first because the modeling code updates states in place
  (``conv_state.copy_(...)``) and a traced in-place write into a graph input is lost.
* :func:`flatten_state_cache` reads the updated tensors back, in the same order.

Names follow what transformers.js feeds such graphs (``past_conv.{i}``, ``past_ssm.{i}``,
``past_recurrent.{i}``, ``past_key_values.{i}.key/value``; outputs ``present_conv.{i}``,
``present_ssm.{i}``, ``present_recurrent.{i}``, ``present.{i}.key/value``). A layer holding
several conv/recurrent states (``number_of_conv_states > 1``) names the extra ones
``past_conv.{i}.{k}``.

torch/transformers are imported inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

import contextlib
import importlib
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Sequence, Tuple

__all__ = ["StateTensor", "build_state_cache", "flatten_state_cache", "has_state_cache", "require_state_cache",
           "state_layout", "written_back_head_updates"]


@dataclass(frozen=True)
class StateTensor:
    """One cached tensor of one layer: ``kind`` is ``key``/``value`` (attention) or ``conv``/``recurrent``."""

    layer: int
    kind: str
    index: int  # which of the layer's conv/recurrent states (0 almost always)
    shape: Tuple[int, ...]  # without the batch axis; the attention axis (2 of 4) is the past length

    @property
    def is_attention(self) -> bool:
        return self.kind in ("key", "value")

    def name(self, direction: str, recurrent_name: str = "ssm") -> str:
        """``past_conv.3`` / ``present_ssm.3`` / ``past_key_values.2.key`` / ``present.2.value``."""
        if self.is_attention:
            prefix = "past_key_values" if direction == "inputs" else "present"
            return f"{prefix}.{self.layer}.{self.kind}"
        stem = "past" if direction == "inputs" else "present"
        kind = recurrent_name if self.kind == "recurrent" else self.kind
        return f"{stem}_{kind}.{self.layer}" + (f".{self.index}" if self.index else "")


def _linear_layer_class():
    from transformers import cache_utils

    return getattr(cache_utils, "LinearAttentionCacheLayerMixin", None)


def _attention_layer_class():
    from transformers import cache_utils

    return cache_utils.CacheLayerMixin


def _read_layer(layer_idx: int, layer: Any) -> List[Tuple[StateTensor, Any]]:
    """The tensors one cache layer holds, in a fixed order: keys, values, then conv/recurrent states."""
    found: List[Tuple[StateTensor, Any]] = []
    if isinstance(layer, _attention_layer_class()) and getattr(layer, "keys", None) is not None \
            and getattr(layer, "is_initialized", False):
        for kind, tensor in (("key", layer.keys), ("value", layer.values)):
            found.append((StateTensor(layer_idx, kind, 0, tuple(tensor.shape[1:])), tensor))
    linear = _linear_layer_class()
    if linear is not None and isinstance(layer, linear):
        for index in range(layer.number_of_states):
            if layer.is_conv_states_initialized[index]:
                tensor = layer.conv_states[index]
                found.append((StateTensor(layer_idx, "conv", index, tuple(tensor.shape[1:])), tensor))
            if layer.is_recurrent_states_initialized[index]:
                tensor = layer.recurrent_states[index]
                found.append((StateTensor(layer_idx, "recurrent", index, tuple(tensor.shape[1:])), tensor))
    return found


def has_state_cache() -> bool:
    """Whether this transformers keeps recurrent states in its ``DynamicCache`` (5.x does; 4.57
    has per-family cache classes, ``MambaCache``/``HybridMambaAttentionDynamicCache``, instead)."""
    return _linear_layer_class() is not None


def require_state_cache(model_type: str) -> None:
    """One line (the fix included) where this transformers cannot hold the states: see :func:`has_state_cache`."""
    if has_state_cache():
        return
    import transformers
    from xporter.errors import ExportError

    raise ExportError(f"'{model_type}' keeps its states in a per-family cache class on transformers "
                      f"{transformers.__version__}, which this export does not build",
                      "pip install 'transformers>=5' (its DynamicCache holds conv/recurrent states), "
                      "or export without the cache (--task text-generation)")


def state_layout(config: Any) -> List[StateTensor]:
    """Every tensor the model's cache holds after one token, in layer order (see the module doc).

    The model is built on the ``meta`` device from ``config`` and run on one token, so this is
    cheap for any checkpoint size; attention entries are reported with past length 1.
    """
    require_state_cache(config.model_type)
    import torch
    from transformers import AutoModelForCausalLM, DynamicCache

    from .configs.decoder_families import traceable_experts
    from .past import cache_argument_name

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
        model.eval()
        ids = torch.zeros((1, 1), dtype=torch.long)
        cache = DynamicCache(config=model.config)
        # experts routed with plain matmuls: grouped_mm has no float32 meta kernel
        try:
            with torch.no_grad(), traceable_experts(model):
                model(input_ids=ids, use_cache=True, **{cache_argument_name(model): cache})
        except Exception as exc:  # the modeling code's own error, e.g. a config it cannot cache
            from xporter.errors import ExportError

            first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
            raise ExportError(f"one cached step of '{config.model_type}' failed in transformers, so its cache "
                              f"layout is unknown: {first}",
                              "check that model.generate() runs on this checkpoint; export without the cache "
                              "(--task text-generation) otherwise") from exc
    layout: List[StateTensor] = []
    for layer_idx, layer in enumerate(cache.layers):
        layout.extend(entry for entry, _ in _read_layer(layer_idx, layer))
    return layout


def build_state_cache(config: Any, layout: Sequence[StateTensor], flat: Sequence[Any]) -> Any:
    """A ``DynamicCache(config=config)`` holding ``flat`` (one tensor per ``layout`` entry) as
    the state of a model that has already seen ``past`` tokens."""
    from transformers import DynamicCache

    cache = DynamicCache(config=config)
    keys: Dict[int, Any] = {}
    for entry, tensor in zip(layout, flat):
        layer = cache.layers[entry.layer]
        if entry.kind == "key":
            keys[entry.layer] = tensor
        elif entry.kind == "value":
            layer.update(keys.pop(entry.layer), tensor)
        elif entry.kind == "conv":
            layer.dtype, layer.device = tensor.dtype, tensor.device
            layer.conv_states[entry.index] = tensor.clone()
            layer.conv_kernel_size[entry.index] = int(tensor.shape[-1])
            layer.is_conv_states_initialized[entry.index] = True
            layer.has_previous_state[entry.index] = True
        else:
            layer.recurrent_states[entry.index] = tensor.clone()
            layer.is_recurrent_states_initialized[entry.index] = True
            layer.has_previous_state[entry.index] = True
    return cache


def flatten_state_cache(cache: Any, layout: Sequence[StateTensor]) -> List[Any]:
    """The cache's tensors in ``layout`` order (what :func:`build_state_cache` took, one step later)."""
    held = {}
    for layer_idx, layer in enumerate(cache.layers):
        for entry, tensor in _read_layer(layer_idx, layer):
            held[(entry.layer, entry.kind, entry.index)] = tensor
    return [held[(entry.layer, entry.kind, entry.index)] for entry in layout]


@contextlib.contextmanager
def written_back_head_updates(module_names: Sequence[str],
                              function: str = "mamba_selective_state_update") -> Iterator[None]:
    """Make per-head state updates survive the trace in the modeling modules ``module_names``.

    Why: Zamba's decode step passes each head's slice of the cached state
    (``recurrent_state[:, head]``) to ``mamba_selective_state_update``, which writes it with
    ``state.copy_``; the TorchScript exporter drops that write through a view, so the exported
    ``present_ssm`` came back unchanged (validation: 0.09 off) while the logits were right. The
    wrapper runs the update on a copy and assigns it to the head's slice of the parent tensor,
    which the exporter keeps; the computation is the same.
    """
    patched = []
    for name in module_names:
        module = importlib.import_module(name)
        original = getattr(module, function)

        def update(state: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            parent = state._base
            if parent is None or parent.dim() != state.dim() + 1:
                return _original(state, *args, **kwargs)
            fresh = state.clone()
            out = _original(fresh, *args, **kwargs)
            head = (state.storage_offset() - parent.storage_offset()) // parent.stride(1)
            parent[:, head] = fresh
            return out

        setattr(module, function, update)
        patched.append((module, original))
    try:
        yield
    finally:
        for module, original in patched:
            setattr(module, function, original)
