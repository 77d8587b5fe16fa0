"""Compare an exported ONNX graph with the PyTorch model it came from.

Validation runs on fresh inputs of a *different* shape than the trace when axes are
dynamic (a graph that baked the trace shape in fails here), checks output names and
shapes, and measures the max absolute difference per output against the config's
tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

from xporter.errors import ValidationError
from xporter.report import NON_FINITE, OutputCheck, PartValidation
from xporter.report import raise_if_failed as _raise_if_failed
# Half precision cannot meet fp32 tolerances; these are the floors used for it.
MIN_ATOL_BY_DTYPE = {"fp32": 0.0, "fp16": 1e-2, "bf16": 5e-2}


# OutputCheck and PartValidation are the core's (xporter.report): one report shape for every backend.
__all__ = ["NON_FINITE", "OutputCheck", "PartValidation", "raise_if_failed"]


def providers_for(device: str) -> List[str]:
    import onnxruntime as ort

    available = ort.get_available_providers()
    if str(device).startswith("cuda") and "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def _to_numpy(tensor: Any):
    import torch

    tensor = tensor.detach().cpu()
    if tensor.dtype == torch.bfloat16:
        tensor = tensor.float()
    return tensor.numpy()


def fit_input(array: Any, wanted: str) -> Any:
    """``array`` as a graph input of ONNX type ``wanted`` takes it: bf16 as ml_dtypes.bfloat16, and a
    half trace's fp16 values into the fp32 edges its graph was given."""
    if wanted == "tensor(bfloat16)":
        import ml_dtypes

        return array.astype(ml_dtypes.bfloat16)
    if wanted == "tensor(float)" and array.dtype == "float16":
        return array.astype("float32")
    return array


def _ort_feed(session, inputs: Dict[str, Any]) -> Dict[str, Any]:
    """Numpy feeds of the types the graph's inputs want (:func:`fit_input`)."""
    wanted = {i.name: i.type for i in session.get_inputs()}
    # names the graph lacks are constant inputs folded away by the exporter
    return {name: fit_input(_to_numpy(tensor), wanted[name]) for name, tensor in inputs.items() if name in wanted}


def _session(onnx_path: Path, options: Any, providers: List[str], float_dtype: str) -> Any:
    """An inference session, or a ValidationError naming the fix when the provider has no
    kernel for an op at this dtype (ONNX Runtime's CPU provider has no bfloat16 Add/MatMul)."""
    import onnxruntime as ort
    from onnxruntime.capi import onnxruntime_pybind11_state as ort_state

    try:
        return ort.InferenceSession(str(onnx_path), options, providers=providers)
    except ort_state.NotImplemented as exc:
        missing = str(exc).split("Could not find an implementation for ")[-1].split(" node")[0]
        raise ValidationError(f"ONNX Runtime ({providers[0]}) cannot run the {float_dtype} graph {onnx_path.name}: "
                              f"no kernel for {missing}",
                              "validate on a device whose provider has these kernels (e.g. --device cuda), "
                              "or export with --no-validate") from exc


@dataclass
class PartCheck:
    """Everything validating one ONNX file needs once the PyTorch model is gone: the inputs and
    the reference outputs. Built by :func:`reference_check` while the model is alive, so the
    model can be freed before ONNX Runtime maps the weights (one copy in memory, not two)."""

    key: str
    path: Path
    config: Any
    inputs: Dict[str, Any]  # torch tensors, as generated (small)
    reference: List[Any]  # numpy arrays, in the config's output order
    atol: float
    device: str = "cpu"


def reference_check(key: str, onnx_path: Path, wrapper: Any, onnx_config: Any, inputs: Dict[str, Any],
                    atol: Optional[float], device: str = "cpu") -> PartCheck:
    """Run ``wrapper`` (torch) on ``inputs``; keep the outputs for :func:`validate_part`."""
    import torch

    atol = float(atol if atol is not None else onnx_config.atol_for_validation)
    atol = max(atol, MIN_ATOL_BY_DTYPE.get(onnx_config.float_dtype, 0.0))
    with torch.no_grad(), onnx_config.export_context(wrapper.model):
        outputs = wrapper(*[t.to(device) for t in inputs.values()])
    reference = [_to_numpy(output) for output in outputs]
    return PartCheck(key, Path(onnx_path), onnx_config, dict(inputs), reference, atol, device)


def session_options(float_dtype: str = "fp32") -> Any:
    """ONNX Runtime options for a one-off validation run: quiet, and no prepacked weight copies
    (MLAS repacks every fp32 MatMul weight at load; for a run or two that costs memory, not time).

    Half graphs are validated unoptimized: the CPU provider runs fp16 MatMuls through inserted
    Casts, which constant folding turns into an fp32 copy of every weight (a 250M fp16 llama's
    session: 1.9 GB folded, 0.7 GB not). The graph is then checked as written. Their sessions also
    run without the CPU memory arena, which would keep every cast weight's fp32 buffer after the run
    (a 250M fp16 T5's merged decoder: 0.78 GB resident after one run with it, 0.44 GB without).
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.add_session_config_entry("session.disable_prepacking", "1")
    if float_dtype in ("fp16", "bf16"):
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        options.enable_cpu_mem_arena = False
    return options


def validate_part(check: PartCheck, part_name: Optional[str] = None, onnx_path: Optional[Path] = None,
                  atol: Optional[float] = None) -> PartValidation:
    """Run the ONNX file (``check.path`` or ``onnx_path``) on ``check.inputs``; compare every output
    with the reference. ``part_name``/``atol`` override the check's (an --optimize variant)."""
    import numpy as np

    onnx_config, inputs = check.config, check.inputs
    atol = check.atol if atol is None else max(float(atol), check.atol)
    path = Path(onnx_path or check.path)
    result = PartValidation(part_name or check.key, {name: list(t.shape) for name, t in inputs.items()})
    session = _session(path, session_options(onnx_config.float_dtype), providers_for(check.device),
                       onnx_config.float_dtype)
    expected_names = list(onnx_config.outputs)
    onnx_names = [o.name for o in session.get_outputs()]
    if onnx_names != expected_names:
        result.problems.append(f"output names differ: onnx {onnx_names} vs config {expected_names}")
    onnx_outputs = session.run(None, _ort_feed(session, inputs))
    del session  # before the comparison's float64 copies
    for name, ref, got in zip(expected_names, check.reference, onnx_outputs):
        ref_np = np.asarray(ref)
        got_np = np.asarray(got)
        if list(ref_np.shape) != list(got_np.shape):
            result.outputs.append(OutputCheck(name, list(ref_np.shape), list(got_np.shape), float("inf"), atol, False))
            continue
        for side, values in (("PyTorch reference", ref_np), ("ONNX", got_np)):
            if np.issubdtype(values.dtype, np.floating) and not np.isfinite(values).all():
                result.problems.append(f"{NON_FINITE}: {side} output {result.part}:{name} has "
                                       f"{int((~np.isfinite(values)).sum())} NaN/Inf values")
        diff = float(np.max(np.abs(ref_np.astype(np.float64) - got_np.astype(np.float64)))) if ref_np.size else 0.0
        ok = bool(np.isfinite(diff) and diff <= atol)
        result.outputs.append(OutputCheck(name, list(ref_np.shape), list(got_np.shape), diff, atol, ok))
    return result


def raise_if_failed(results: List[PartValidation]) -> None:
    """The core's validation policy (:func:`xporter.report.raise_if_failed`) with ONNX's hint."""
    _raise_if_failed(results, "ONNX", "raise the tolerance with --atol, try another --opset, or skip with --no-validate")
