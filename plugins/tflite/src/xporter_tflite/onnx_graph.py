"""ONNX graph fixes applied after tf2onnx, and the checks that catch what it lets through.

``Erfc``: TensorFlow >= 2.19 lowers exact GELU (``0.5 * x * erfc(-x / sqrt(2))``) to an
``Erfc`` op. ONNX has no Erfc; tf2onnx 1.17 logs "unsupported op", *returns success* and
leaves a node ``Erfc`` in the default domain, which onnxruntime refuses to load. We
rewrite each one as ``1 - Erf(x)`` (exact identity, same precision in float32).

Beyond Erfc, :func:`unsupported_ops` lists every node whose op is not an ONNX operator
of the target opset, so any other op tf2onnx cannot convert fails the export loudly
instead of producing a file that only fails at load time.
"""

from __future__ import annotations

from typing import Dict, List

import numpy as np

# ONNX TensorProto element type -> numpy dtype, for the constant ``1``
_ONE_DTYPES = {1: np.float32, 10: np.float16, 11: np.float64}


def _element_types(graph) -> Dict[str, int]:
    types = {}
    for value in list(graph.input) + list(graph.value_info) + list(graph.output):
        if value.type.HasField("tensor_type"):
            types[value.name] = value.type.tensor_type.elem_type
    for init in graph.initializer:
        types[init.name] = init.data_type
    return types


def rewrite_erfc(model) -> int:
    """Replace every ``Erfc(x)`` node by ``Sub(1, Erf(x))`` in place; return how many."""
    from onnx import helper, numpy_helper

    graph = model.graph
    types = _element_types(graph)
    rewritten: List = []
    count = 0
    for index, node in enumerate(graph.node):
        if node.op_type != "Erfc" or node.domain not in ("", "ai.onnx"):
            rewritten.append(node)
            continue
        base = node.name or f"erfc_{index}"
        dtype = _ONE_DTYPES.get(types.get(node.input[0], 1), np.float32)
        one = f"{base}/one"
        erf = f"{base}/erf:0"
        graph.initializer.append(numpy_helper.from_array(np.array(1, dtype=dtype), one))
        rewritten.append(helper.make_node("Erf", [node.input[0]], [erf], name=f"{base}/Erf"))
        rewritten.append(helper.make_node("Sub", [one, erf], list(node.output), name=f"{base}/OneMinusErf"))
        count += 1
    if count:
        del graph.node[:]
        graph.node.extend(rewritten)
    return count


def unsupported_ops(model) -> List[str]:
    """Ops in the default domain that are not ONNX operators at the model's opset."""
    from onnx import defs

    version = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    missing = set()
    for node in model.graph.node:
        if node.domain not in ("", "ai.onnx"):
            continue
        try:
            schema = defs.get_schema(node.op_type, version) if version else defs.get_schema(node.op_type)
        except Exception:  # onnx raises SchemaError for unknown ops
            schema = None
        if schema is None:
            missing.add(node.op_type)
    return sorted(missing)


def set_dim_names(model, inputs: Dict[str, Dict[int, str]], outputs: Dict[str, Dict[int, str]]) -> None:
    """Name the dynamic axes of graph inputs/outputs (``batch_size``, ``sequence_length`` ...)."""
    for values, axes in ((model.graph.input, inputs), (model.graph.output, outputs)):
        for value in values:
            dims = value.type.tensor_type.shape.dim
            for axis, name in axes.get(value.name, {}).items():
                if axis < len(dims):
                    dims[axis].dim_param = name


def order_outputs(model, names) -> None:
    """Put graph outputs in ``names`` order (tf2onnx sorts dict outputs by key)."""
    by_name = {o.name: o for o in model.graph.output}
    if set(names) != set(by_name):
        return
    ordered = [by_name[n] for n in names]
    del model.graph.output[:]
    model.graph.output.extend(ordered)
