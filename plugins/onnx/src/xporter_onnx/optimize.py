"""``--optimize O1..O4``: ONNX Runtime graph optimizations, written as ``<name>_optimized.onnx``.

Levels follow Optimum's ``AutoOptimizationConfig``:

* O1: ONNX Runtime basic graph optimizations (constant folding, redundant node removal).
* O2: O1 + transformer fusions (attention, LayerNorm, GELU, embeddings) via
  ``onnxruntime.transformers.optimizer`` for model types it knows, else ORT extended level.
* O3: O2 + GELU approximation (FastGelu), slightly less exact.
* O4: O3 + fp16 weights (keeps fp32 inputs/outputs); meant for GPU execution.

The optimized file is saved next to the original and validated like it (looser
tolerance for O3/O4).

CPU targets keep residual ``Add -> LayerNormalization`` unfused: ONNX Runtime's CPU
``SkipLayerNormalization`` kernel (1.2x-1.32) is about 3x slower than ``Add`` +
``LayerNormalization`` at BERT shapes (measured 5.6 ms vs 1.7 ms for 32x128x384), which made
O2 slower than the plain export at batch 32. The residual sum is written as ``Sum`` so the
fusion ONNX Runtime applies again when a session loads the file (it matches ``Add`` only)
cannot bring the slow kernel back. GPU targets keep the fused op, which is fast there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from xporter.errors import ExportError

from .torch_export import TWO_GB, external_data_file

LEVELS = ("O1", "O2", "O3", "O4")
ATOL_BY_LEVEL = {"O1": None, "O2": None, "O3": 1e-2, "O4": 5e-2}

# transformers model type -> onnxruntime.transformers optimizer model type (fusion patterns)
ORT_MODEL_TYPES = {
    **{mt: "bert" for mt in ("bert", "roberta", "xlm-roberta", "camembert", "distilbert", "albert", "electra",
                             "mpnet", "mobilebert", "deberta", "deberta-v2", "transformer", "data2vec-text",
                             "megatron-bert", "ernie", "rembert", "roformer", "splinter", "xlm")},
    **{mt: "vit" for mt in ("vit", "deit", "dinov2", "beit", "data2vec-vision", "vit-msn", "vit-mae")},
    "swin": "swin", "clip": "clip", "gpt2": "gpt2", "gpt-neox": "gpt_neox", "bart": "bart", "t5": "t5",
    "phi": "phi",
}


def optimized_name(path: Path) -> Path:
    return path.with_name(path.stem + "_optimized.onnx")


def _ort_only(source: Path, target: Path, level: str, for_cpu: bool) -> None:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_BASIC if level == "O1"
                                        else ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED)
    options.optimized_model_filepath = str(target)
    disabled = ["SkipLayerNormFusion"] if for_cpu else []
    ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"], disabled_optimizers=disabled)


def keep_residual_layernorm_unfused(graph) -> int:
    """Rewrite each two-input ``Add`` that feeds a ``LayerNormalization`` as ``Sum`` (same
    result, broadcasting included) so ONNX Runtime's ``SkipLayerNormFusion`` does not match it.
    Returns how many were rewritten."""
    producers = {output: node for node in graph.node for output in node.output}
    rewritten = 0
    for node in graph.node:
        if node.op_type == "LayerNormalization" and node.domain in ("", "ai.onnx"):
            parent = producers.get(node.input[0])
            if parent is not None and parent.op_type == "Add" and parent.domain in ("", "ai.onnx"):
                parent.op_type = "Sum"
                rewritten += 1
    return rewritten


def optimize_onnx(path: Path, level: str, model_type: Optional[str], num_heads: int = 0, hidden_size: int = 0,
                  device: str = "cpu") -> Path:
    """Write the optimized model for ``path`` (tuned for ``device``) and return its path."""
    if level not in LEVELS:
        raise ExportError(f"unknown optimization level '{level}'", f"use one of {', '.join(LEVELS)}")
    target = optimized_name(path)
    ort_type = ORT_MODEL_TYPES.get((model_type or "").replace("_", "-"))
    for_cpu = str(device).startswith("cpu") and level != "O4"
    try:
        if level == "O1" or ort_type is None:
            _ort_only(path, target, level, for_cpu)
            if for_cpu and level != "O1":
                _rewrite_in_place(target)
            return target

        from onnxruntime.transformers.fusion_options import FusionOptions
        from onnxruntime.transformers.optimizer import optimize_model

        options = FusionOptions(ort_type)
        options.enable_gelu_approximation = level in ("O3", "O4")
        if for_cpu:
            options.enable_skip_layer_norm = options.enable_bias_skip_layer_norm = False
        optimized = optimize_model(str(path), model_type=ort_type, num_heads=num_heads, hidden_size=hidden_size,
                                   optimization_options=options, opt_level=1)
        if for_cpu:
            keep_residual_layernorm_unfused(optimized.model.graph)
        if level == "O4":
            optimized.convert_float_to_float16(keep_io_types=True)
        data = external_data_file(path)
        large = path.stat().st_size + (data.stat().st_size if data is not None else 0) >= TWO_GB
        optimized.save_model_to_file(str(target), use_external_data_format=large)
    except ExportError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise ExportError(f"ONNX Runtime optimization {level} failed: {type(exc).__name__}: {exc}",
                          "try a lower --optimize level or none") from exc
    return target


def _rewrite_in_place(target: Path) -> None:
    import onnx

    model = onnx.load(str(target), load_external_data=False)
    if keep_residual_layernorm_unfused(model.graph):
        onnx.save(model, str(target))
