"""One ``torch.onnx.export`` call for one part, plus external data and the ONNX checker.

TorchScript (``dynamo=False``) is the default: on torch 2.13 it is ~10x faster to export
than the dynamo path and covers every architecture in the tables. ``dynamo=True`` uses
``torch.export`` + onnxscript (opset >= 18).
"""

from __future__ import annotations

import contextlib
import errno
import os
import warnings
import shutil
import tempfile
from pathlib import Path
from typing import Any, Dict, Optional

from xporter.errors import ExportError

from .external_data import INLINE_LIMIT

TWO_GB = 2 * 1024**3
# Weights from this size on go to ``<name>.onnx_data`` unless --external-data says otherwise:
# ONNX Runtime memory-maps external data (the export and its validation then hold one copy of
# the weights, not two), and protobuf cannot hold 2 GB anyway.
AUTO_EXTERNAL_BYTES = 1024**3
EXTERNAL_DATA_SUFFIX = "_data"  # model.onnx -> model.onnx_data (Optimum's name)


def _dynamic_shapes(dynamic_axes: Dict[str, Dict[int, str]], input_names) -> tuple:
    """torch.export dynamic_shapes for positional args, one Dim per symbolic axis name."""
    import torch

    dims: Dict[str, Any] = {}

    def dim(name: str):
        key = "".join(ch if ch.isalnum() else "_" for ch in name)
        if key not in dims:
            dims[key] = torch.export.Dim.AUTO
        return dims[key]

    # The wrapper's forward is ``forward(*args)``: one varargs entry holding a spec per input.
    return (tuple({axis: dim(sym) for axis, sym in dynamic_axes.get(name, {}).items()} or None
                  for name in input_names),)


def _rename_dims_in_file(path: Path, dynamic_axes: Dict[str, Dict[int, str]]) -> None:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    _rename_dims(model.graph, dynamic_axes)
    onnx.save_model(model, str(path))


def _rename_dims(graph: Any, dynamic_axes: Dict[str, Dict[int, str]]) -> None:
    """Give dynamo's symbolic dims (s0, s1 ...) the config's axis names, as TorchScript does."""
    for value in list(graph.input) + list(graph.output):
        for axis, name in dynamic_axes.get(value.name, {}).items():
            dims = value.type.tensor_type.shape.dim
            if axis < len(dims) and not dims[axis].HasField("dim_value"):
                dims[axis].dim_param = name


def export_to_onnx(wrapper: Any, dummy_inputs: Dict[str, Any], path: Path, onnx_config: Any, opset: int,
                   dynamic: bool = True, dynamo: bool = False, external_data: Optional[bool] = None,
                   progress: Any = None, float32_io: bool = False) -> Path:
    """Trace ``wrapper`` on ``dummy_inputs`` into ``path``; return the path written.

    ``external_data``: True/False forces ``<name>.onnx_data`` on/off; None uses it when the
    weights reach :data:`AUTO_EXTERNAL_BYTES`. ``progress``: an :class:`xporter.progress.Progress`
    that shows the weights being written. ``float32_io``: the model was traced in fp16; give the
    graph float32 inputs and outputs (:func:`xporter_onnx.source_dtype.add_float32_edges`).
    """
    import torch

    from .symbolics import register_missing_ops

    input_names = list(onnx_config.inputs)
    output_names = list(onnx_config.outputs)
    args = tuple(dummy_inputs[name] for name in input_names)
    checked = False  # whether onnx.checker already passed the weight-less graph (TorchScript path)
    scratch = Path(tempfile.mkdtemp(prefix="trace-", dir=path.parent))
    traced = scratch / path.name
    try:
        with torch.no_grad(), onnx_config.export_context(wrapper.model), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TracerWarnings are expected; validation is the real check
            if dynamo:
                program = torch.onnx.export(
                    wrapper, args, None, dynamo=True, input_names=input_names, output_names=output_names,
                    opset_version=opset, dynamic_shapes=_dynamic_shapes(onnx_config.inputs, input_names) if dynamic else None,
                    optimize=True, verify=False, report=False)
                program.save(str(traced), external_data=True)
                del program
                if dynamic:
                    _rename_dims_in_file(traced, onnx_config.dynamic_axes())
                if float32_io:
                    from .source_dtype import keep_float32_io

                    keep_float32_io(traced)  # weights are external here: the graph proto only
                _finalize(traced, path, external_data)
            else:
                register_missing_ops()  # ops the TorchScript exporter lacks (rms_norm, histc, antialiased resize ...)
                checked = _export_torchscript(wrapper, args, traced, onnx_config, opset, dynamic, external_data,
                                              progress, float32_io)
                _move_into_place(traced, path)
    except ExportError:
        raise
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise ExportError(f"writing {path.name} failed: {exc}", "check the output folder and its disk") from exc
        from xporter.errors import ResourceError

        raise ResourceError(f"no space left on the disk of {path.parent} while writing {path.name}",
                            "free some space or choose an output on a larger disk (nothing was kept)") from exc
    except Exception as exc:  # noqa: BLE001 - turned into one actionable error line
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:400]
        hint = "try --dynamo" if not dynamo else "try without --dynamo (TorchScript exporter)"
        raise ExportError(f"torch.onnx.export failed for {path.name}: {type(exc).__name__}: {first}",
                          f"{hint}, another --opset, or --debug for the traceback") from exc
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if not checked or external_data_file(path) is not None:
        check_model(path)  # by path: external weights are not read
    return path


def _export_torchscript(wrapper: Any, args: tuple, traced: Path, onnx_config: Any, opset: int, dynamic: bool,
                        external_data: Optional[bool], progress: Any, float32_io: bool = False) -> bool:
    """TorchScript export without parameters, then the weights attached one by one
    (:mod:`.external_data`); the classic parameter-holding export when the graph's weight
    inputs cannot all be matched to model tensors.

    Returns True when ``onnx.checker`` already passed the weight-less graph: attaching turns weight
    inputs into initializers of the same names and types (and folds Transposes), so the checked
    structure stands, and checking the inline file again would parse every weight twice more
    (+1.7x an inline model's weights at the peak, measured on a 250M fp16 llama).
    """
    import onnx
    import torch

    from .external_data import UnknownWeightInputs, attach_weights, model_tensors, weight_bytes

    input_names = list(onnx_config.inputs)
    common = dict(dynamo=False, input_names=input_names, output_names=list(onnx_config.outputs),
                  opset_version=opset, dynamic_axes=onnx_config.dynamic_axes() if dynamic else None)
    with _shape_inference_without_weight_values():
        torch.onnx.export(wrapper, args, str(traced), export_params=False, do_constant_folding=False, **common)
    tensors = model_tensors(wrapper)
    model = onnx.load(str(traced))
    # This graph's own weights (a seq2seq encoder reads half the model's): they decide external data.
    total = weight_bytes(tensors[value.name] for value in model.graph.input
                         if value.name in tensors and value.name not in input_names)
    external = external_data if external_data is not None else total >= AUTO_EXTERNAL_BYTES
    if not external and total >= INLINE_LIMIT:
        raise ExportError(f"{traced.name}'s weights ({total / 2**30:.1f} GiB) exceed protobuf's 2 GB limit",
                          "leave --external-data on (the default) for models this size")
    if float32_io:
        from .source_dtype import add_float32_edges

        add_float32_edges(model)  # on the weight-less graph: cheap at any model size
    check_model(model)
    try:
        with _bytes_display(progress, f"write weights of {traced.name}", total) as advance:
            attach_weights(model, tensors, input_names, traced, external, advance)
    except UnknownWeightInputs:
        for extra in traced.parent.iterdir():
            extra.unlink()
        torch.onnx.export(wrapper, args, str(traced), do_constant_folding=True, **common)
        _finalize(traced, traced, external_data)
        if float32_io:
            from .source_dtype import keep_float32_io

            keep_float32_io(traced)
        return False
    return True


@contextlib.contextmanager
def _shape_inference_without_weight_values():
    """TorchScript's whole-graph ONNX shape inference gets the weights' *values*, copies them into
    per-node protos and leaves the allocator ~0.8x the weights larger (measured on a 250M llama:
    peak 2.2 GiB there vs 1.5 GiB without). Weight-less export gives every weight as a typed graph
    input, so their shapes are known without the values: pass none."""
    import torch

    original = torch._C._jit_pass_onnx_graph_shape_type_inference

    def without_values(graph, params_dict, opset):
        return original(graph, {}, opset)

    torch._C._jit_pass_onnx_graph_shape_type_inference = without_values
    try:
        yield
    finally:
        torch._C._jit_pass_onnx_graph_shape_type_inference = original


def _bytes_display(progress: Any, label: str, total: int):
    if progress is None or not hasattr(progress, "transfer"):
        return contextlib.nullcontext(lambda n: None)
    return progress.transfer(label, total)


def _move_into_place(traced: Path, final: Path) -> None:
    """The graph and its ``_data`` file (written under the final name) into the final folder."""
    data = traced.with_name(traced.name + EXTERNAL_DATA_SUFFIX)
    if data.exists():
        os.replace(data, final.with_name(final.name + EXTERNAL_DATA_SUFFIX))
    os.replace(traced, final)


def _total_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def _finalize(traced: Path, final: Path, external_data: Optional[bool]) -> None:
    """Move an exporter-written graph into place; one ``<name>_data`` file when weights go external.

    External data is used when asked (``True``), or automatically (``None``) when the
    weights reach :data:`AUTO_EXTERNAL_BYTES` or the exporter already split them out.
    A single data file the exporter wrote is renamed and re-pointed, never read into memory.
    """
    import onnx

    scratch = traced.parent
    data_files = [p for p in scratch.iterdir() if p != traced]
    use_external = external_data if external_data is not None else _total_size(scratch) >= AUTO_EXTERNAL_BYTES
    if not use_external and not data_files:
        os.replace(traced, final)
        return
    location = final.name + EXTERNAL_DATA_SUFFIX
    if use_external and len(data_files) == 1:
        model = onnx.load(str(traced), load_external_data=False)
        for tensor in _external_tensors(model.graph):
            for entry in tensor.external_data:
                if entry.key == "location":
                    entry.value = location
        os.replace(data_files[0], final.with_name(location))
        onnx.save_model(model, str(final))
        if traced != final:
            traced.unlink()
        return
    model = onnx.load(str(traced), load_external_data=True)
    if use_external:
        onnx.save_model(model, str(final), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=location, size_threshold=1024)
    else:
        onnx.save_model(model, str(final))


def _external_tensors(graph: Any):
    from onnx import TensorProto

    for tensor in graph.initializer:
        if tensor.data_location == TensorProto.EXTERNAL:
            yield tensor
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.HasField("t") and attribute.t.data_location == TensorProto.EXTERNAL:
                yield attribute.t


def check_model(model: Any) -> None:
    """``onnx.checker`` on a graph file (by path, which also works for external data over 2 GB) or on
    an in-memory proto (the weight-less traced graph: small at any model size)."""
    import onnx

    by_path = isinstance(model, (str, Path))
    try:
        onnx.checker.check_model(str(model) if by_path else model, full_check=False)
    except Exception as exc:  # noqa: BLE001
        name = Path(model).name if by_path else "the traced graph"
        raise ExportError(f"onnx.checker rejected {name}: {str(exc).strip().splitlines()[0][:300]}",
                          "report this with --debug output; try another --opset") from exc


def external_data_file(path: Path) -> Optional[Path]:
    candidate = path.with_name(path.name + EXTERNAL_DATA_SUFFIX)
    return candidate if candidate.exists() else None
