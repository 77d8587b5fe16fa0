"""ONNX translations of ATen ops the TorchScript exporter of torch 2.13 lacks.

Architectures newer than the TorchScript exporter call ops it never learnt: ``aten::rms_norm``
(``nn.RMSNorm`` / ``F.rms_norm``, used by current decoders and encoders), ``aten::expm1``
(xIELU activations), ``aten::histc`` (expert-load counting in mixture-of-experts routers) and
``aten::_upsample_bicubic2d_aa`` / ``_bilinear2d_aa`` (antialiased position-embedding resizes of
DINOv2-style encoders), ``aten::__ior_`` (in-place or); ``aten::unfold`` is replaced for
non-overlapping windows of tensors whose sizes the trace lost (see :func:`unfold`) and
``aten::full`` without a dtype keeps the traced dtype (see :func:`full`).
Each has an exact ONNX composition of standard ops, so instead of failing with
"UnsupportedOperatorError" the exporter registers them (:func:`register_missing_ops`, once per
process, before its first TorchScript export). They stay registered: torch 2.13 cannot undo a
registration cleanly (an unregistered op's empty override table makes the next export of it
fail with ``ValueError`` instead of the unsupported-op error), and the only effect on other
callers is that these ops export instead of failing. Registering from opset 9 serves every
opset the exporter accepts; ops that need a newer form (``ReduceMean`` takes its axes as an
input from opset 18) check ``g.opset``.
"""

from __future__ import annotations

from typing import Any

_SCALAR_TYPES = {"Float": "float32", "Half": "float16", "BFloat16": "bfloat16", "Double": "float64"}


def _dtype_of(x: Any) -> Any:
    import torch

    return getattr(torch, _SCALAR_TYPES.get(x.type().scalarType() or "Float", "float32"))


def _const(g: Any, value: Any, dtype: Any) -> Any:
    import torch

    return g.op("Constant", value_t=torch.tensor(value, dtype=dtype))


def expm1(g: Any, x: Any) -> Any:
    """``Exp(x) - 1`` in ``x``'s dtype (ONNX has no expm1; xIELU applies it to ``min(x, eps)``,
    where the cancellation error stays far below validation tolerances)."""
    return g.op("Sub", g.op("Exp", x), _const(g, 1.0, _dtype_of(x)))


def rms_norm(g: Any, x: Any, normalized_shape: Any, weight: Any, eps: Any) -> Any:
    """``x / sqrt(mean(x^2 over the normalized dims) + eps) * weight``; ``eps=None`` is the
    dtype's machine epsilon, as in PyTorch."""
    import torch
    from torch.onnx import symbolic_helper as helper

    dims = helper._get_const(normalized_shape, "is", "normalized_shape")
    axes = list(range(-len(dims), 0))
    dtype = _dtype_of(x)
    epsilon = None if helper._is_none(eps) else helper._maybe_get_const(eps, "f")
    if epsilon is None or not isinstance(epsilon, float):
        epsilon = float(torch.finfo(dtype).eps)
    square = g.op("Mul", x, x)
    if g.opset >= 18:
        mean = g.op("ReduceMean", square, g.op("Constant", value_t=torch.tensor(axes, dtype=torch.int64)),
                    keepdims_i=1)
    else:
        mean = g.op("ReduceMean", square, axes_i=axes, keepdims_i=1)
    normed = g.op("Div", x, g.op("Sqrt", g.op("Add", mean, _const(g, epsilon, dtype))))
    return normed if helper._is_none(weight) else g.op("Mul", normed, weight)


def histc(g: Any, x: Any, bins: Any, low: Any, high: Any) -> Any:
    """Counts of ``x`` in ``bins`` equal-width bins over ``[low, high]`` (``high`` itself in the
    last bin, values outside ignored), as a one-hot sum. ``low == high`` (PyTorch then uses
    the data's min and max) is refused: routers always pass the expert range."""
    import torch
    from torch.onnx import errors, symbolic_helper as helper

    count = int(helper._get_const(bins, "i", "bins"))
    lo, hi = float(helper._get_const(low, "f", "min")), float(helper._get_const(high, "f", "max"))
    if lo == hi:
        raise errors.SymbolicValueError("histc with min == max (range taken from the data) has no ONNX form", x)
    dtype = _dtype_of(x)
    flat = g.op("Reshape", x, g.op("Constant", value_t=torch.tensor([-1], dtype=torch.int64)))
    scaled = g.op("Mul", g.op("Sub", flat, _const(g, lo, dtype)), _const(g, count / (hi - lo), dtype))
    index = g.op("Cast", g.op("Min", g.op("Floor", scaled), _const(g, float(count - 1), dtype)),
                 to_i=helper.cast_pytorch_to_onnx["Long"])
    inside = g.op("And", g.op("GreaterOrEqual", flat, _const(g, lo, dtype)),
                  g.op("LessOrEqual", flat, _const(g, hi, dtype)))
    hits = g.op("Equal", helper._unsqueeze_helper(g, index, [1]),
                g.op("Constant", value_t=torch.arange(count, dtype=torch.int64).unsqueeze(0)))
    hits = g.op("And", hits, helper._unsqueeze_helper(g, inside, [1]))
    ones = g.op("Cast", hits, to_i=helper.cast_pytorch_to_onnx[x.type().scalarType() or "Float"])
    return helper._reducesum_helper(g, ones, axes_i=[0], keepdims_i=0)


def _antialiased_resize(mode: str) -> Any:
    """Antialiased resizes (``F.interpolate(..., antialias=True)``, used to resize position embeddings)
    as ONNX ``Resize`` with ``antialias=1``, which exists from opset 18."""

    def symbolic(g: Any, x: Any, output_size: Any, align_corners: Any, *scales: Any) -> Any:
        from torch.onnx import errors, symbolic_helper as helper

        if g.opset < 18:
            raise errors.SymbolicValueError(f"antialiased {mode} resize needs opset 18 (Resize antialias): "
                                            "use --opset 18", x)
        name = "upsample_bicubic2d" if mode == "cubic" else "upsample_bilinear2d"
        resized = helper._interpolate_helper(name, 4, mode)(g, x, output_size, align_corners, *scales)
        node = resized.node()
        # PyTorch's antialiased filters are PIL's: taps outside the image dropped, not clamped;
        # its bicubic uses Keys a = -0.5 (ONNX's default is -0.75)
        node.i_("antialias", 1)
        node.i_("exclude_outside", 1)
        if mode == "cubic":
            node.f_("cubic_coeff_a", -0.5)
        return resized

    return symbolic


def unfold(g: Any, x: Any, dimension: Any, size: Any, step: Any) -> Any:
    """Non-overlapping windows (``size == step``, how idefics3 cuts its pixel mask into patches)
    as Reshape + Transpose, which needs only the rank: torch's own symbolic needs the static
    size of the unfolded axis, lost after a data-dependent gather (dropping padding images).
    Other windows go to torch's symbolic."""
    import torch
    from torch.onnx import symbolic_helper as helper
    from torch.onnx._internal.torchscript_exporter import symbolic_opset12

    dim, window = helper._maybe_get_const(dimension, "i"), helper._maybe_get_const(size, "i")
    stride, rank = helper._maybe_get_const(step, "i"), helper._get_tensor_rank(x)
    if helper._is_value(window) or helper._is_value(stride) or window != stride or rank is None:
        return symbolic_opset12.unfold(g, x, dimension, size, step)
    dim = dim % rank

    def ints(values: Any) -> Any:
        return g.op("Constant", value_t=torch.tensor(values, dtype=torch.int64))

    shape = g.op("Shape", x)
    before = g.op("Slice", shape, ints([0]), ints([dim]))
    after = g.op("Slice", shape, ints([dim + 1]), ints([rank]))
    windows = g.op("Div", g.op("Slice", shape, ints([dim]), ints([dim + 1])), ints([window]))
    split = g.op("Reshape", x, g.op("Concat", before, windows, ints([window]), after, axis_i=0))
    order = [i for i in range(rank + 1) if i != dim + 1] + [dim + 1]  # the window axis goes last
    return g.op("Transpose", split, perm_i=order)


def full(g: Any, sizes: Any, value: Any, dtype: Any, *rest: Any) -> Any:
    """``torch.full`` without a dtype: torch's symbolic makes it float, while PyTorch infers the
    dtype from the fill value (``torch.full(..., fill_value=0)`` is int64, as idefics3's patch
    position ids are); the dtype the trace recorded for the output is used instead."""
    import torch
    from torch.onnx import symbolic_helper as helper
    from torch.onnx._internal.torchscript_exporter import _type_utils, symbolic_opset9

    if helper._is_none(dtype) or helper._maybe_get_const(dtype, "i") is None:
        traced = _type_utils.JitScalarType.from_value(g.original_node.output(), _type_utils.JitScalarType.FLOAT)
        dtype = g.op("Constant", value_t=torch.tensor(int(traced)))
    return symbolic_opset9.full(g, sizes, value, dtype, *rest)


def ior(g: Any, x: Any, other: Any) -> Any:
    """``x |= other`` (smolvlm keeps its first image when all are padding): Or on booleans,
    BitwiseOr on integers; the exporter's in-place pass writes the result back."""
    kind = x.type().scalarType()
    return g.op("Or" if kind == "Bool" else "BitwiseOr", x, other)


SYMBOLICS = {"aten::expm1": expm1, "aten::unfold": unfold, "aten::__ior_": ior, "aten::full": full,
             "aten::rms_norm": rms_norm, "aten::histc": histc,
             "aten::_upsample_bicubic2d_aa": _antialiased_resize("cubic"),
             "aten::_upsample_bilinear2d_aa": _antialiased_resize("linear")}
FIRST_OPSET = 9
# ops torch has a symbolic for: the override sits at the opset of torch's newest one, else that one wins
OVERRIDE_OPSET = {"aten::unfold": 12}


_REGISTERED = []


def register_missing_ops() -> None:
    """Register :data:`SYMBOLICS` with the TorchScript exporter (idempotent)."""
    import torch

    if _REGISTERED:
        return
    for name, function in SYMBOLICS.items():
        torch.onnx.register_custom_op_symbolic(name, function, OVERRIDE_OPSET.get(name, FIRST_OPSET))
    _REGISTERED.append(True)
