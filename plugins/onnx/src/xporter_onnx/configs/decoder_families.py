"""Export-time logic for decoder families that a table row alone cannot describe.

``configs/decoder.py`` declares the rows; this module holds the two pieces of behaviour
some of them need:

* **Traceable mixture-of-experts.** transformers routes tokens to experts with
  ``nonzero()`` / ``torch.where`` loops whose trip count depends on the data, so
  ``torch.jit.trace`` would freeze the experts the trace inputs happened to hit (and the
  graph would be wrong for any other input). :func:`traceable_experts` switches the model
  to a routing whose graph does not depend on the data: on transformers 5.x the library's
  own ``batched_mm`` experts implementation (gathers the selected experts' weights per
  token); on 4.57, where experts are an ``nn.ModuleList`` or fused weights behind a
  CPU-only loop, a dense formulation (every expert on every token, weighted by the routing
  weights, zero for unselected experts) patched onto the instances for the duration of the
  export. Both compute the same function as the loops.
* **Caches whose keys and values differ in head size** (DeepSeek-V3's multi-head latent
  attention: keys are ``qk_nope_head_dim + qk_rope_head_dim`` wide, values ``v_head_dim``).

torch/transformers are imported inside functions (the table modules stay import-light).
"""

from __future__ import annotations

import contextlib
import types
from typing import Any, Callable, Dict, Iterator, List, Tuple

from ..dummy import DummyPastKeyValuesGenerator, to_framework

__all__ = ["traceable_experts", "traceable_rotary", "SplitHeadDimPastGenerator", "MOE_PATCHES_4X"]


# -- transformers 4.57: dense replacements, keyed by module class name -------------------
def _dense_mixture(module: Any, hidden: Any, top_k_index: Any, top_k_weights: Any) -> Any:
    """Sum over ``module.experts`` (an ``nn.ModuleList``) of ``expert(hidden) * weight``.

    ``hidden`` is (tokens, hidden); ``top_k_*`` are (tokens, k). The (tokens, experts) weight
    matrix is zero for experts a token was not routed to, so the sum equals the routed one.
    """
    import torch

    dense = torch.zeros(hidden.shape[0], len(module.experts), dtype=top_k_weights.dtype, device=hidden.device)
    dense = dense.scatter(1, top_k_index, top_k_weights)
    out = torch.zeros_like(hidden, dtype=top_k_weights.dtype)
    for index, expert in enumerate(module.experts):
        out = out + expert(hidden).to(out.dtype) * dense[:, index, None]
    return out


def _topk_block_forward(self: Any, hidden_states: Any) -> Tuple[Any, Any]:
    """The 4.57 top-k sparse blocks' ``forward`` (qwen3_moe, qwen2_moe, mixtral, ...) with the
    dense mixture; same routing: softmax, top-k, renormalised unless ``norm_topk_prob`` is
    False (mixtral has no flag and always renormalises), plus qwen2_moe's sigmoid-gated
    shared expert where the block has one."""
    import torch

    batch, seq, dim = hidden_states.shape
    flat = hidden_states.view(-1, dim)
    router_logits = self.gate(flat)
    weights = torch.softmax(router_logits, dim=1, dtype=torch.float)
    weights, selected = torch.topk(weights, self.top_k, dim=-1)
    if getattr(self, "norm_topk_prob", True):
        weights = weights / weights.sum(dim=-1, keepdim=True)
    out = _dense_mixture(self, flat, selected, weights.to(flat.dtype)).to(flat.dtype)
    shared = getattr(self, "shared_expert", None)
    if shared is not None:
        out = out + torch.sigmoid(self.shared_expert_gate(flat)) * shared(flat)
    return out.reshape(batch, seq, dim), router_logits


def _deepseek_moe(self: Any, hidden_states: Any, topk_indices: Any, topk_weights: Any) -> Any:
    """``DeepseekV3MoE.moe`` (4.57): routed experts only; the caller adds the shared expert."""
    return _dense_mixture(self, hidden_states, topk_indices, topk_weights).type(hidden_states.dtype)


def _gpt_oss_experts_forward(self: Any, hidden_states: Any, router_indices: Any = None,
                             routing_weights: Any = None) -> Any:
    """``GptOssExperts.forward`` (4.57) always on its all-experts branch (the library takes the
    data-dependent loop on CPU); ``routing_weights`` is already dense (tokens, experts)."""
    import torch

    batch = hidden_states.shape[0]
    num_experts = routing_weights.shape[1]
    flat = hidden_states.reshape(-1, self.hidden_size).repeat(num_experts, 1).view(num_experts, -1, self.hidden_size)
    gate_up = torch.bmm(flat, self.gate_up_proj) + self.gate_up_proj_bias[..., None, :]
    gate, up = gate_up[..., ::2], gate_up[..., 1::2]
    gate = gate.clamp(min=None, max=self.limit)
    up = up.clamp(min=-self.limit, max=self.limit)
    glu = gate * torch.sigmoid(gate * self.alpha)
    out = torch.bmm((up + 1) * glu, self.down_proj) + self.down_proj_bias[..., None, :]
    out = out.view(num_experts, batch, -1, self.hidden_size)
    out = out * routing_weights.transpose(0, 1).view(num_experts, batch, -1)[..., None]
    return out.sum(dim=0)


# class name -> (method name, replacement); only consulted on transformers 4.x modules
MOE_PATCHES_4X: Dict[str, Tuple[str, Callable[..., Any]]] = {
    "Qwen3MoeSparseMoeBlock": ("forward", _topk_block_forward),
    "Qwen2MoeSparseMoeBlock": ("forward", _topk_block_forward),
    "MixtralSparseMoeBlock": ("forward", _topk_block_forward),
    "DeepseekV3MoE": ("moe", _deepseek_moe),
    "GptOssExperts": ("forward", _gpt_oss_experts_forward),
}


def _uses_experts_interface(module: Any) -> bool:
    """transformers 5.x experts classes (``@use_experts_implementation``) dispatch on
    ``module.config._experts_implementation``."""
    return hasattr(module, "_is_expert_parallel") and hasattr(getattr(module, "config", None), "_experts_implementation")


@contextlib.contextmanager
def traceable_experts(model: Any) -> Iterator[None]:
    """Route experts without data-dependent control flow while the block is active."""
    configs: Dict[int, Tuple[Any, Any]] = {}
    patched: List[Tuple[Any, str]] = []
    for module in model.modules():
        if _uses_experts_interface(module):
            config = module.config
            configs.setdefault(id(config), (config, config._experts_implementation))
            continue
        patch = MOE_PATCHES_4X.get(type(module).__name__)
        if patch is not None and not _uses_experts_interface(getattr(module, "experts", None)):
            name, function = patch
            setattr(module, name, types.MethodType(function, module))
            patched.append((module, name))
    for config, _ in configs.values():
        config._experts_implementation = "batched_mm"
    try:
        yield
    finally:
        for config, saved in configs.values():
            config._experts_implementation = saved
        for module, name in patched:
            delattr(module, name)  # the class method shows through again


def _rotate_interleaved(x: Any) -> Any:
    """``rotate_half`` of interleaved-rotary families (``stack((-x2, x1), -1).flatten(-2)``:
    out[2i] = -x[2i+1], out[2i+1] = x[2i]) as a product with a signed permutation matrix."""
    import torch

    dim = int(x.shape[-1])
    perm = torch.zeros(dim, dim, dtype=x.dtype, device=x.device)
    even = torch.arange(0, dim, 2)
    perm[even + 1, even] = -1.0
    perm[even, even + 1] = 1.0
    return torch.matmul(x, perm)


def _last_dim_repeat_interleave(original: Callable[..., Any]) -> Callable[..., Any]:
    """``repeat_interleave(x, r, dim=-1)`` on floats as ``x @ E`` (E: 0/1, one 1 per column);
    other calls go to ``original``."""

    def repeat_interleave(x: Any, repeats: Any = None, dim: Any = None, **kwargs: Any) -> Any:
        import torch

        last = dim is not None and dim in (-1, x.dim() - 1)
        if not (last and isinstance(repeats, int) and x.is_floating_point() and not kwargs):
            return original(x, repeats, dim, **kwargs)
        width = int(x.shape[-1])
        expand = torch.zeros(width, width * repeats, dtype=x.dtype, device=x.device)
        columns = torch.arange(width * repeats)
        expand[columns // repeats, columns] = 1.0
        return torch.matmul(x, expand)

    return repeat_interleave


def _interleaved_rotary_modules(model: Any) -> List[Any]:
    """The modeling modules of ``model``'s classes whose ``rotate_half`` is interleaved
    (``stack((-x2, x1), -1).flatten(-2)``: cohere, cohere2, glm, glm4, ernie4_5, helium, ...)."""
    import inspect
    import sys

    found = []
    for name in sorted({type(m).__module__ for m in model.modules()}):
        module = sys.modules.get(name)
        helper = getattr(module, "rotate_half", None)
        if module is None or helper is None or not name.startswith("transformers.models."):
            continue
        try:
            source = inspect.getsource(helper)
        except (OSError, TypeError):
            continue
        if "flatten(-2)" in source:
            found.append(module)
    return found


@contextlib.contextmanager
def traceable_rotary(model: Any) -> Iterator[None]:
    """Interleaved rotary embeddings in ops the TorchScript exporter converts correctly.

    These families build rotary embeddings with ``stack(..., -1).flatten(-2)`` and
    ``repeat_interleave(2, dim=-1)``; inside these models torch 2.13's TorchScript exporter
    infers wrong shapes from that pair ("All tensors must have the same rank" at the cache
    concat, or a head axis of a ``view`` frozen to a wrong constant). Both are replaced by
    products with constant 0/+-1 matrices for the duration of the export: same values.
    The families are found from the model's modules (see :func:`_interleaved_rotary_modules`).
    """
    import torch

    modules = _interleaved_rotary_modules(model)
    if not modules:
        yield
        return
    saved = [(module, module.rotate_half) for module in modules]
    tensor_saved = torch.repeat_interleave, torch.Tensor.repeat_interleave
    for module, _ in saved:
        module.rotate_half = _rotate_interleaved
    torch.repeat_interleave = _last_dim_repeat_interleave(tensor_saved[0])
    torch.Tensor.repeat_interleave = _last_dim_repeat_interleave(tensor_saved[1])
    try:
        yield
    finally:
        for module, helper in saved:
            module.rotate_half = helper
        torch.repeat_interleave, torch.Tensor.repeat_interleave = tensor_saved


class SplitHeadDimPastGenerator(DummyPastKeyValuesGenerator):
    """Past keys and values of different widths: ``normalized_config.key_head_dim`` /
    ``value_head_dim`` (multi-head latent attention caches the decompressed heads)."""

    def generate(self, input_name, framework="pt", int_dtype="int64", float_dtype="fp32"):
        batch, heads, past, _ = self.past_shape()
        cfg = self.normalized_config
        width = cfg.value_head_dim if input_name.endswith(".value") else cfg.key_head_dim
        return to_framework(self.random_float((batch, heads, past, int(width)), float_dtype), framework, float_dtype)
