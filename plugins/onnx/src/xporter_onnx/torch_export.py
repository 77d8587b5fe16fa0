"""One ``torch.onnx.export`` call for one part, plus external data and the ONNX checker.

TorchScript (``dynamo=False``) is the default: on torch 2.13 it is ~10x faster to export
than the dynamo path and covers every architecture in the tables. ``dynamo=True`` uses
``torch.export`` + onnxscript (opset >= 18).
"""

from __future__ import annotations

import os
import warnings
import errno
import shutil
import tempfile
from pathlib import Path
from typing import Any, Dict, Optional

from xporter.errors import ExportError

TWO_GB = 2 * 1024**3
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
                   dynamic: bool = True, dynamo: bool = False, external_data: Optional[bool] = None) -> Path:
    """Trace ``wrapper`` on ``dummy_inputs`` into ``path``; return the path written."""
    import torch

    input_names = list(onnx_config.inputs)
    output_names = list(onnx_config.outputs)
    args = tuple(dummy_inputs[name] for name in input_names)
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
                if dynamic:
                    _rename_dims_in_file(traced, onnx_config.dynamic_axes())
            else:
                torch.onnx.export(
                    wrapper, args, str(traced), dynamo=False, input_names=input_names, output_names=output_names,
                    opset_version=opset, dynamic_axes=onnx_config.dynamic_axes() if dynamic else None,
                    do_constant_folding=True)
        _finalize(traced, path, external_data)
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
    check_model(path)
    return path


def _total_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def _finalize(traced: Path, final: Path, external_data: Optional[bool]) -> None:
    """Move the traced graph into place; one ``<name>_data`` file when weights go external.

    External data is used when asked (``True``), or automatically (``None``) when the
    weights exceed protobuf's 2 GB limit or the exporter already split them out.
    """
    import onnx

    scratch = traced.parent
    already_split = any(p != traced for p in scratch.iterdir())
    use_external = external_data if external_data is not None else _total_size(scratch) >= TWO_GB
    if not use_external and not already_split:
        os.replace(traced, final)
        return
    model = onnx.load(str(traced), load_external_data=True)
    location = final.name + EXTERNAL_DATA_SUFFIX
    if use_external:
        onnx.save_model(model, str(final), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=location, size_threshold=1024)
    else:
        onnx.save_model(model, str(final))


def check_model(path: Path) -> None:
    """``onnx.checker`` by path, which also works for graphs with external data over 2 GB."""
    import onnx

    try:
        onnx.checker.check_model(str(path), full_check=False)
    except Exception as exc:  # noqa: BLE001
        raise ExportError(f"onnx.checker rejected {path.name}: {str(exc).strip().splitlines()[0][:300]}",
                          "report this with --debug output; try another --opset") from exc


def external_data_file(path: Path) -> Optional[Path]:
    candidate = path.with_name(path.name + EXTERNAL_DATA_SUFFIX)
    return candidate if candidate.exists() else None
