"""Run an exported .tflite with the LiteRT interpreter and compare it with the TF model.

Float exports must match within ``atol``. Quantized exports cannot, so for them the
comparison reports accuracy instead (cosine similarity, argmax agreement of logits) and
only fails on wrong shapes or non-finite values; the numbers go to export_report.json.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

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


def compare(references: List[Dict[str, np.ndarray]], candidates: List[Dict[str, np.ndarray]],
            quantized: bool, atol: float) -> Dict[str, Any]:
    """Per-output metrics over several batches, and whether the export passes."""
    per_output: Dict[str, Any] = {}
    problems: List[str] = []
    for name in references[0]:
        ref = [r[name] for r in references]
        got = [c.get(name) for c in candidates]
        if any(g is None for g in got):
            problems.append(f"output '{name}' is missing from the TFLite model")
            continue
        if any(r.shape != g.shape for r, g in zip(ref, got)):
            problems.append(f"output '{name}' has shape {got[0].shape}, the TF model gives {ref[0].shape}")
            continue
        ref_all = np.concatenate([r.reshape(r.shape[0], -1) for r in ref]).astype(np.float64)
        got_all = np.concatenate([g.reshape(g.shape[0], -1) for g in got]).astype(np.float64)
        if not np.all(np.isfinite(got_all)):
            problems.append(f"output '{name}' has NaN or infinite values")
            continue
        metrics = {"max_abs_diff": float(np.max(np.abs(ref_all - got_all))), "shape": list(ref[0].shape)}
        norms = np.linalg.norm(ref_all, axis=1) * np.linalg.norm(got_all, axis=1)
        cosine = np.sum(ref_all * got_all, axis=1) / np.maximum(norms, 1e-12)
        metrics["cosine_similarity"] = float(np.mean(cosine))
        if "logits" in name:
            agree = [np.argmax(r, axis=-1) == np.argmax(g, axis=-1) for r, g in zip(ref, got)]
            metrics["argmax_agreement"] = float(np.mean(np.concatenate([a.ravel() for a in agree])))
        if not quantized and metrics["max_abs_diff"] > atol:
            problems.append(f"output '{name}' differs by {metrics['max_abs_diff']:.3g} (atol {atol:g})")
        per_output[name] = metrics
    return {"valid": not problems, "problems": problems, "outputs": per_output,
            "num_batches": len(references), "criterion": "finite, same shapes" if quantized else f"max_abs_diff <= {atol:g}"}


def part_validation(part: str, result: Dict[str, Any], input_shapes: Dict[str, List[int]], atol: Optional[float]):
    """:func:`compare`'s result as the core's :class:`xporter.report.PartValidation` (one report schema)."""
    from xporter.report import OutputCheck, PartValidation

    checks = []
    for name, metrics in result["outputs"].items():
        within = atol is None or metrics["max_abs_diff"] <= atol
        extra = {k: v for k, v in metrics.items() if k in ("cosine_similarity", "argmax_agreement")}
        checks.append(OutputCheck(name, list(metrics["shape"]), list(metrics["shape"]), metrics["max_abs_diff"],
                                  atol, within, extra))
    # tolerance failures are the failing checks themselves; the other problems (missing, NaN ...) stay
    tolerance = tuple(f"output '{name}' differs by" for name in result["outputs"])
    problems = [p for p in result["problems"] if not p.startswith(tolerance)]
    return PartValidation(part, input_shapes, checks, problems, criterion=result["criterion"],
                          batches=result["num_batches"])
