"""Which float precision an export traces in and writes, chosen from the checkpoint's own dtype.

A half-precision checkpoint loaded in fp32 costs twice its size in memory before tracing starts
(a 2B-parameter fp16 model: 8 GB instead of 4), and the fp16 graph made afterwards from the fp32
trace costs a second conversion. So:

* ``--dtype auto`` (the default) keeps the checkpoint's precision: an fp16 checkpoint becomes an
  fp16 graph; a bf16 checkpoint a bf16 graph on CUDA, but fp32 on CPU (ONNX Runtime's CPU kernels
  have no bf16 MatMul/Add, so the graph could not be validated; a note says so and names
  ``--dtype fp16``). fp32 graphs from half checkpoints only when asked (``--dtype fp32``).
* ``--dtype fp16`` on a half checkpoint traces the model in fp16 directly; its graph keeps fp32
  inputs and outputs (Cast nodes at the edges, :func:`keep_float32_io`) unless ``--fp16-io``. On an
  fp32 checkpoint it traces in fp32 and converts after validation, which validates the fp16 graph
  against the more accurate fp32 one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional

# config.json spellings of a checkpoint's dtype (transformers 4.x ``torch_dtype``, 5.x ``dtype``)
_CHECKPOINT_DTYPES = {"float16": "fp16", "half": "fp16", "bfloat16": "bf16", "float32": "fp32", "float": "fp32"}


@dataclass(frozen=True)
class DtypePlan:
    """``trace``: the dtype the model loads and traces in; ``graph``: the precision written;
    ``convert_after``: trace fp32, convert to fp16 after validation; ``float32_io``: Cast the half
    graph's float inputs/outputs to fp32; ``note``: one line for stderr (a choice the user should see)."""

    trace: str
    graph: str
    convert_after: bool = False
    float32_io: bool = False
    note: Optional[str] = None


def checkpoint_dtype(config: Optional[Dict[str, Any]]) -> Optional[str]:
    """``fp16`` / ``bf16`` / ``fp32`` from config.json (None when it says nothing usable)."""
    if not config:
        return None
    value = config.get("dtype") or config.get("torch_dtype")
    if value is None and isinstance(config.get("text_config"), dict):
        value = config["text_config"].get("dtype") or config["text_config"].get("torch_dtype")
    return _CHECKPOINT_DTYPES.get(str(value).replace("torch.", "")) if value else None


def plan(requested: str, source: Optional[str], device: str, fp16_io: bool) -> DtypePlan:
    """The :class:`DtypePlan` for ``--dtype requested`` on a checkpoint stored in ``source``."""
    half_source = source in ("fp16", "bf16")
    if requested == "auto":
        if source == "fp16":
            return DtypePlan("fp16", "fp16", float32_io=not fp16_io)
        if source == "bf16":
            if str(device).startswith("cuda"):
                return DtypePlan("bf16", "bf16")
            return DtypePlan("fp32", "fp32", note="the checkpoint is bfloat16; exporting fp32 because ONNX Runtime's "
                             "CPU kernels cannot run (or validate) bf16 graphs: pass --dtype fp16 for a half-size "
                             "graph, or --dtype bf16 --device cuda")
        return DtypePlan("fp32", "fp32")
    if requested == "fp16" and not fp16_io:
        if half_source:
            return DtypePlan("fp16", "fp16", float32_io=True)
        return DtypePlan("fp32", "fp16", convert_after=True)
    return DtypePlan(requested, requested)


def keep_float32_io(path: Path) -> bool:
    """:func:`add_float32_edges` on the graph file at ``path``, in place (weights in external data are
    not read: only the graph proto is rewritten). Returns whether anything changed."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    if not add_float32_edges(model):
        return False
    onnx.save(model, str(path))
    return True


def add_float32_edges(model: Any) -> bool:
    """Give the fp16 ``model`` (a ModelProto) float32 inputs and outputs: Casts at its edges.

    What ``keep_io_types`` does for a converted graph, for one traced in fp16: callers and runtimes
    that feed fp32 (transformers.js on Node reads fp16 outputs wrongly) get fp32. The TorchScript
    path calls it on the weight-less graph, before the weights are attached, so the edit never
    holds the weights. Returns whether anything changed.
    """
    from onnx import TensorProto, helper

    graph = model.graph
    half = TensorProto.FLOAT16
    casts_in, casts_out, renames = [], [], {}
    for value in graph.input:
        if value.type.tensor_type.elem_type == half:
            inner = f"{value.name}/fp16"
            renames[value.name] = inner
            casts_in.append(helper.make_node("Cast", [value.name], [inner], to=half, name=f"{inner}/cast_in"))
            value.type.tensor_type.elem_type = TensorProto.FLOAT
    graph_inputs = {value.name for value in graph.input}
    for value in graph.output:
        if value.type.tensor_type.elem_type == half:
            inner = f"{value.name}/fp16"
            if value.name in graph_inputs:  # an input passed straight through: now float32 as that input
                value.type.tensor_type.elem_type = TensorProto.FLOAT
                continue
            renames[value.name] = inner
            casts_out.append(helper.make_node("Cast", [inner], [value.name], to=TensorProto.FLOAT,
                                              name=f"{inner}/cast_out"))
            value.type.tensor_type.elem_type = TensorProto.FLOAT
    if not renames:
        return False
    _rename_uses(graph, renames)
    for info in graph.value_info:
        if info.name in renames:
            info.name = renames[info.name]
    nodes = casts_in + list(graph.node) + casts_out  # still topologically ordered
    del graph.node[:]
    graph.node.extend(nodes)
    return True


def _rename_uses(graph: Any, renames: Dict[str, str]) -> None:
    """Point every node (subgraphs too: they may read outer names) at the fp16 inner names."""
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in renames:
                node.input[i] = renames[name]
        for i, name in enumerate(node.output):
            if name in renames:
                node.output[i] = renames[name]
        for attribute in node.attribute:
            for subgraph in [attribute.g] if attribute.HasField("g") else list(attribute.graphs):
                _rename_uses(subgraph, renames)
