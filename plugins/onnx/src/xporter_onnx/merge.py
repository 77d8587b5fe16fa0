"""One seq2seq decoder file for both generation steps: ``decoder_model_merged.onnx``.

``decoder_model.onnx`` (first step: computes the cross-attention cache from the encoder
output) and ``decoder_with_past_model.onnx`` (later steps: reads it) hold the same weights.
The merged file stores them once and switches with an ``If`` on a boolean
``use_cache_branch`` input, the layout Optimum writes and transformers.js loads by default.
In the no-cache branch the ``past_key_values.*`` inputs are ignored (feed zero-length
tensors); in the cache branch the encoder presents pass the encoder past through, so every
step returns the same output names.

Weights move to the outer graph (deduplicated by name and content); each branch's own values
get a branch prefix, since ONNX wants one definition per name across nested graphs.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Dict, List, Optional

from .external_data import INLINE_LIMIT, ExternalReader, append_initializers
from .torch_export import AUTO_EXTERNAL_BYTES, EXTERNAL_DATA_SUFFIX

USE_CACHE_INPUT = "use_cache_branch"
MERGED_NAME = "decoder_model_merged"


def past_input_for(present_output: str) -> str:
    """``present.0.encoder.key`` -> ``past_key_values.0.encoder.key``."""
    return present_output.replace("present.", "past_key_values.", 1)


class _TensorBytes:
    """The bytes of initializers, inline or from a graph's external data file (``os.pread`` per tensor,
    :class:`~.external_data.ExternalReader`: hashing and copying a decoder's weights never holds the
    file, which a memory map would, its read pages counted in the process's memory)."""

    def __init__(self, folder: Path) -> None:
        self.external = ExternalReader(folder)

    def __call__(self, tensor: Any) -> Any:
        from onnx import TensorProto, numpy_helper

        if tensor.data_location != TensorProto.EXTERNAL:
            return tensor.raw_data if tensor.HasField("raw_data") else numpy_helper.to_array(tensor).tobytes()
        return self.external(tensor)

    def close(self) -> None:
        self.external.close()


def _digest(tensor: Any, data: Any) -> str:
    """Content hash ignoring the name (the two exports name some constants differently)."""
    digest = hashlib.sha1(f"{tensor.data_type}:{list(tensor.dims)}:".encode())
    digest.update(data)
    return digest.hexdigest()


def _branch(graph: Any, prefix: str, outer_names: Dict[str, str], outputs: List[str], extra_nodes=()) -> Any:
    """``graph``'s nodes as an ``If`` branch: local values renamed with ``prefix``, references to
    weights mapped through ``outer_names``, producing ``outputs`` in order."""
    from onnx import helper

    inputs = {i.name for i in graph.input}
    local = {}
    nodes = []
    for node in list(graph.node) + list(extra_nodes):
        copy = helper.make_node(node.op_type, [], [], name=prefix + node.name if node.name else "", domain=node.domain)
        copy.attribute.extend(node.attribute)
        for name in node.input:
            copy.input.append(local.get(name) or outer_names.get(name) or name if name else "")
        for name in node.output:
            local[name] = prefix + name if name else ""
            copy.output.append(local[name])
        nodes.append(copy)
    missing = [name for name in outputs if name not in local and name not in inputs]
    if missing:
        raise ValueError(f"branch {prefix!r} does not produce {missing}")
    # A graph output that is an input or weight directly still needs a producing node.
    for name in outputs:
        if name not in local:
            local[name] = prefix + name
            nodes.append(helper.make_node("Identity", [outer_names.get(name, name)], [local[name]]))
    branch_outputs = [helper.make_empty_tensor_value_info(local[name]) for name in outputs]
    return helper.make_graph(nodes, prefix.rstrip("_"), [], branch_outputs)


def _loosen(value_info: Any, other: Any) -> Any:
    """The merged output type: dims the two branches disagree on become symbolic."""
    from onnx import helper

    dims_a = value_info.type.tensor_type.shape.dim
    dims_b = other.type.tensor_type.shape.dim if other is not None else dims_a
    shape = []
    for index, (a, b) in enumerate(zip(dims_a, dims_b)):
        same = (a.dim_value and a.dim_value == b.dim_value) or (a.dim_param and a.dim_param == b.dim_param)
        shape.append((a.dim_value or a.dim_param) if same else f"{value_info.name}_dim{index}")
    return helper.make_tensor_value_info(value_info.name, value_info.type.tensor_type.elem_type, shape)


def merge_decoders(no_past_path: Path, with_past_path: Path, target: Path,
                   external_data: Optional[bool] = None) -> Path:
    """Write ``target`` from the two decoder graphs; returns ``target``.

    The graphs are read without their external data and the weights are written one at a time
    (deduplicated by content): to ``<target>_data`` when ``external_data`` says so (None: when the
    merged weights reach :data:`~.torch_export.AUTO_EXTERNAL_BYTES`) or they would pass protobuf's
    2 GB, else inline, appended to the file as one small ``ModelProto`` per initializer
    (:func:`~.external_data.append_initializers`: external sources' bytes copied by the kernel). Holding both
    decoders, the merged proto with every weight and its serialized bytes at once took 4.8x a 250M
    T5's weights.
    """
    import onnx
    from onnx import TensorProto, helper

    first = onnx.load(str(no_past_path), load_external_data=False)
    later = onnx.load(str(with_past_path), load_external_data=False)
    for model in (first, later):
        if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for n in model.graph.node
               for a in n.attribute):
            raise ValueError("a decoder graph has nested subgraphs, which this merge does not rename")
    outputs = [o.name for o in first.graph.output]
    later_outputs = {o.name: o for o in later.graph.output}
    passthrough = [name for name in outputs if name not in later_outputs]
    identity = [helper.make_node("Identity", [past_input_for(name)], [name], name=f"passthrough_{name}")
                for name in passthrough]
    later_inputs = {i.name for i in later.graph.input}
    absent = [past_input_for(name) for name in passthrough if past_input_for(name) not in later_inputs]
    if absent:
        raise ValueError(f"the with-past decoder lacks inputs {absent} to pass through")

    read = _TensorBytes(Path(no_past_path).parent)
    try:
        weights: Dict[str, Any] = {}  # outer name -> tensor (still pointing at its source bytes)
        weight_bytes = 0
        by_content: Dict[str, str] = {}  # digest -> outer name
        renames: Dict[str, Dict[str, str]] = {"first": {}, "later": {}}  # per graph: its name -> outer name
        for key, model in (("first", first), ("later", later)):
            for tensor in model.graph.initializer:
                data = read(tensor)
                original, digest = tensor.name, _digest(tensor, data)
                if digest in by_content:
                    renames[key][original] = by_content[digest]
                    continue
                name = original if original not in weights else f"{key}_{original}"
                tensor.name = name
                by_content[digest] = name
                weights[name] = tensor
                weight_bytes += len(data)
                if name != original:
                    renames[key][original] = name
        else_branch = _branch(first.graph, "no_cache_", renames["first"], outputs)
        then_branch = _branch(later.graph, "cache_", renames["later"], outputs, identity)
        if_node = helper.make_node("If", [USE_CACHE_INPUT], outputs, name="use_cache_switch",
                                   then_branch=then_branch, else_branch=else_branch)
        inputs = list(later.graph.input) + [i for i in first.graph.input if i.name not in later_inputs]
        inputs.append(helper.make_tensor_value_info(USE_CACHE_INPUT, TensorProto.BOOL, [1]))
        graph_outputs = [_loosen(o, later_outputs.get(o.name)) for o in first.graph.output]
        graph = helper.make_graph([if_node], MERGED_NAME, inputs, graph_outputs)
        opsets = {o.domain: o.version for o in [*first.opset_import, *later.opset_import]}
        merged = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets.items()],
                                   producer_name=first.producer_name, producer_version=first.producer_version)
        merged.ir_version = max(first.ir_version, later.ir_version)
        _check_structure(merged, weights.values())
        target = Path(target)
        external = external_data if external_data is not None else weight_bytes >= AUTO_EXTERNAL_BYTES
        if external or weight_bytes >= INLINE_LIMIT:
            _save_external(merged, weights.values(), read, target)
        else:
            onnx.save_model(merged, str(target))
            append_initializers(target, weights.values(), read.external)
    finally:
        read.close()
    return target


def _check_structure(merged: Any, weights: Any) -> None:
    """``onnx.checker`` on the weight-less merged graph, each weight declared as an input of its type
    (the weights themselves are the exported decoders', already checked)."""
    import onnx
    from onnx import helper

    probe = onnx.ModelProto()
    probe.CopyFrom(merged)
    probe.graph.input.extend(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in weights)
    try:
        onnx.checker.check_model(probe, full_check=False)
    except Exception as exc:  # noqa: BLE001
        raise ValueError(f"onnx.checker rejected the merged graph: {str(exc).strip().splitlines()[0][:300]}") from exc


def _save_external(merged: Any, weights: Any, read: Any, target: Path) -> None:
    """Weights copied from the sources' bytes into ``<target>_data`` by the exporter's own writer
    (:class:`~.external_data.DataWriter`: same alignment), the graph with external references."""
    import onnx

    from .external_data import DataWriter

    writer = DataWriter(target.with_name(target.name + EXTERNAL_DATA_SUFFIX), lambda n: None)
    try:
        for tensor in weights:
            proto = merged.graph.initializer.add()
            proto.name, proto.data_type = tensor.name, tensor.data_type
            proto.dims.extend(tensor.dims)
            writer.place(proto, read(tensor))
    finally:
        writer.close()
    onnx.save(merged, str(target))


def check_merged(merged: Path, no_past: Path, with_past: Path, first_feed: Dict[str, Any],
                 later_feed: Dict[str, Any], atol: float = 1e-5, float_dtype: str = "fp32") -> Any:
    """Both branches of ``merged`` against the two source graphs on the same inputs (ONNX
    Runtime on both sides, with the validation's session options: no prepacked weight copies):
    the merge must not change a single output."""
    import numpy as np
    import onnxruntime as ort

    from .validate import OutputCheck, PartValidation, fit_input, session_options

    options = session_options(float_dtype)

    result = PartValidation(MERGED_NAME, {name: list(np.shape(v)) for name, v in later_feed.items()})
    references = []  # one session alive at a time: each holds its graph's weights
    for source, feed in ((no_past, first_feed), (with_past, later_feed)):
        reference_session = ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
        takes = {i.name: i.type for i in reference_session.get_inputs()}  # the exporter drops unread inputs
        feed = {name: fit_input(value, takes[name]) for name, value in feed.items() if name in takes}
        references.append((feed, dict(zip([o.name for o in reference_session.get_outputs()],
                                          reference_session.run(None, feed)))))
        del reference_session
    session = ort.InferenceSession(str(merged), options, providers=["CPUExecutionProvider"])
    wanted = {i.name: i for i in session.get_inputs()}
    names = [o.name for o in session.get_outputs()]
    for use_cache, (feed, reference) in zip((False, True), references):
        full = dict(feed)
        for name, spec in wanted.items():
            if name not in full and name != USE_CACHE_INPUT:  # ignored past inputs of the first step
                full[name] = _empty_like(spec, feed)
        full[USE_CACHE_INPUT] = np.array([use_cache])
        got = dict(zip(names, session.run(None, full)))
        for name in names:
            expected = reference.get(name)
            if expected is None:  # encoder cache passed through on later steps
                expected = feed[past_input_for(name)]
            diff = float(np.max(np.abs(np.asarray(expected, np.float64) - np.asarray(got[name], np.float64)))) \
                if np.size(expected) else 0.0
            branch = "cache" if use_cache else "no_cache"
            result.outputs.append(OutputCheck(f"{branch}:{name}", list(np.shape(expected)), list(np.shape(got[name])),
                                              diff, 0.0, diff == 0.0 and np.shape(expected) == np.shape(got[name])))
    return result


def _empty_like(spec: Any, feed: Dict[str, Any]) -> Any:
    """A zero-length past tensor for an input the first step ignores."""
    import numpy as np

    batch = next(iter(feed.values())).shape[0]
    dims = [batch] + [d if isinstance(d, int) else 0 for d in spec.shape[1:]]
    return np.zeros(dims, dtype=np.float16 if "float16" in spec.type else np.float32)
