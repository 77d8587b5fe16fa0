"""Run an exported .tflite with the LiteRT interpreter and compare it with the source model.

Float exports must match within ``atol``. Quantized exports cannot, so for them the
comparison reports accuracy instead (cosine similarity, argmax agreement of logits) and
only fails on wrong shapes or non-finite values. The result is the core's
:class:`xporter.report.PartValidation` (the numbers go to export_report.json).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import numpy as np


class LiteRTRunner:
    """The ``serving_default`` signature of a .tflite, with (de)quantization of int I/O."""

    def __init__(self, model_path: str, num_threads: Optional[int] = None) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_path=str(model_path), num_threads=num_threads)
        self.runner = self.interpreter.get_signature_runner()
        self.input_details = self.runner.get_input_details()
        self.output_details = self.runner.get_output_details()

    def __call__(self, inputs: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        feed = {name: _to_dtype(value, self.input_details[name]) for name, value in inputs.items()}
        outputs = self.runner(**feed)
        return {name: _from_dtype(value, self.output_details[name]) for name, value in outputs.items()}


def _to_dtype(value: np.ndarray, detail: Dict[str, Any]) -> np.ndarray:
    dtype = np.dtype(detail["dtype"])
    scale, zero_point = detail.get("quantization", (0.0, 0))
    if np.issubdtype(value.dtype, np.floating) and np.issubdtype(dtype, np.integer) and scale:
        info = np.iinfo(dtype)
        return np.clip(np.round(value / scale + zero_point), info.min, info.max).astype(dtype)
    return value.astype(dtype, copy=False)


def _from_dtype(value: np.ndarray, detail: Dict[str, Any]) -> np.ndarray:
    scale, zero_point = detail.get("quantization", (0.0, 0))
    if np.issubdtype(value.dtype, np.integer) and scale:
        return (value.astype(np.float32) - zero_point) * scale
    return value


FLOAT_CRITERION = "max_abs_diff <= atol"
QUANTIZED_CRITERION = "finite, same shapes (quantized: accuracy in metrics)"


def compare(part: str, batches: List[Dict[str, np.ndarray]], references: List[Dict[str, np.ndarray]],
            candidates: List[Dict[str, np.ndarray]], quantized: bool, atol: float, reference: str = "reference"):
    """Every output of ``part`` over all ``batches`` as the core's :class:`xporter.report.PartValidation`.

    One :class:`~xporter.report.OutputCheck` per output, so TFLite and TF -> ONNX reports have the
    same shape as every other backend's and :func:`xporter.report.raise_if_failed` applies as is.
    Quantized checks carry ``atol=None``: only shapes and finite values decide; the accuracy
    (cosine similarity, argmax agreement of logits) is recorded in ``metrics``.
    """
    from xporter.report import NON_FINITE, OutputCheck, PartValidation  # here: the LiteRT child skips the core

    result = PartValidation(part, input_shapes(batches[0]), criterion=QUANTIZED_CRITERION if quantized
                            else FLOAT_CRITERION, batches=len(batches))
    limit = None if quantized else atol
    for name in references[0]:
        ref = [r[name] for r in references]
        got = [c.get(name) for c in candidates]
        if any(g is None for g in got):
            result.problems.append(f"{part}:{name} is missing from the exported model")
            continue
        if any(r.shape != g.shape for r, g in zip(ref, got)):
            bad = next(i for i, (r, g) in enumerate(zip(ref, got)) if r.shape != g.shape)
            result.outputs.append(OutputCheck(name, list(ref[bad].shape), list(got[bad].shape), float("inf"), limit,
                                              False))
            continue
        non_finite = [f"{NON_FINITE}: {side} output {part}:{name} has {count} NaN/Inf values"
                      for side, values in ((reference, ref), ("exported", got)) if (count := _non_finite(values))]
        if non_finite:
            result.problems.extend(non_finite)
            continue
        diff, metrics = _metrics(name, ref, got)
        result.outputs.append(OutputCheck(name, list(ref[0].shape), list(got[0].shape), diff, limit,
                                          quantized or diff <= atol, metrics))
    return result


def input_shapes(batch: Dict[str, np.ndarray]) -> Dict[str, List[int]]:
    """The shapes one validation batch feeds (the report's ``input_shapes``)."""
    return {name: list(value.shape) for name, value in batch.items()}


def _non_finite(values: List[np.ndarray]) -> int:
    """How many NaN/Inf values the float arrays hold: no tolerance makes NaN equal NaN."""
    return sum(int((~np.isfinite(v)).sum()) for v in values if np.issubdtype(v.dtype, np.floating))


def _metrics(name: str, ref: List[np.ndarray], got: List[np.ndarray]) -> Tuple[float, Dict[str, float]]:
    """The largest absolute gap over all batches, and the accuracy measures quantized exports are judged by."""
    ref_all = np.concatenate([r.reshape(r.shape[0], -1) for r in ref]).astype(np.float64)
    got_all = np.concatenate([g.reshape(g.shape[0], -1) for g in got]).astype(np.float64)
    diff = float(np.max(np.abs(ref_all - got_all))) if ref_all.size else 0.0
    norms = np.linalg.norm(ref_all, axis=1) * np.linalg.norm(got_all, axis=1)
    metrics = {"cosine_similarity": float(np.mean(np.sum(ref_all * got_all, axis=1) / np.maximum(norms, 1e-12)))}
    if "logits" in name:
        agree = [np.argmax(r, axis=-1) == np.argmax(g, axis=-1) for r, g in zip(ref, got)]
        metrics["argmax_agreement"] = float(np.mean(np.concatenate([a.ravel() for a in agree])))
    return diff, metrics
