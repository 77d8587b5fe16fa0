"""``--optimize O1..O4``: ONNX Runtime graph optimizations, written as ``<name>_optimized.onnx``.

Levels follow Optimum's ``AutoOptimizationConfig``:

* O1: ONNX Runtime basic graph optimizations (constant folding, redundant node removal).
* O2: O1 + transformer fusions (attention, LayerNorm, GELU, embeddings) via
  ``onnxruntime.transformers.optimizer`` for model types it knows, else ORT extended level.
* O3: O2 + GELU approximation (FastGelu), slightly less exact.
* O4: O3 + fp16 weights (keeps fp32 inputs/outputs); meant for GPU execution.

The optimized file is saved next to the original and validated like it (looser
tolerance for O3/O4).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from xporter.errors import ExportError

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


def _ort_only(source: Path, target: Path, level: str) -> None:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_BASIC if level == "O1"
                                        else ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED)
    options.optimized_model_filepath = str(target)
    ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])


def optimize_onnx(path: Path, level: str, model_type: Optional[str], num_heads: int = 0, hidden_size: int = 0) -> Path:
    """Write the optimized model for ``path`` and return its path."""
    if level not in LEVELS:
        raise ExportError(f"unknown optimization level '{level}'", f"use one of {', '.join(LEVELS)}")
    target = optimized_name(path)
    ort_type = ORT_MODEL_TYPES.get((model_type or "").replace("_", "-"))
    try:
        if level == "O1" or ort_type is None:
            _ort_only(path, target, level)
            return target
        from onnxruntime.transformers.fusion_options import FusionOptions
        from onnxruntime.transformers.optimizer import optimize_model

        options = FusionOptions(ort_type)
        options.enable_gelu_approximation = level in ("O3", "O4")
        optimized = optimize_model(str(path), model_type=ort_type, num_heads=num_heads, hidden_size=hidden_size,
                                   optimization_options=options, opt_level=1)
        if level == "O4":
            optimized.convert_float_to_float16(keep_io_types=True)
        data = path.with_name(path.name + "_data")
        large = path.stat().st_size + (data.stat().st_size if data.exists() else 0) >= 2 * 1024**3
        optimized.save_model_to_file(str(target), use_external_data_format=large)
    except ExportError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise ExportError(f"ONNX Runtime optimization {level} failed: {type(exc).__name__}: {exc}",
                          "try a lower --optimize level or none") from exc
    return target
