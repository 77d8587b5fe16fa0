"""Post-training quantization of a litert-torch flatbuffer with ai-edge-quantizer.

litert-torch writes a float32 .tflite without TensorFlow, so TensorFlow's converter flags
are not there to quantize it; ai-edge-quantizer rewrites the flatbuffer instead. The TF
path's modes map onto its recipes (data below); calibration uses the same samples
(:func:`xporter_tflite.quantize.calibration_batches`).

What it cannot do, refused up front with one line: ``--input-type``/``--output-type``
other than float32 (it keeps float model inputs and outputs, with quantize/dequantize ops
inside). ``--fallback-to-float`` is what it always does: ops it cannot quantize stay float.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from typing import Dict, List, Optional

import numpy as np

from .errors import CalibrationError
from .quantize import QuantizationOptions

SIGNATURE = "serving_default"  # the one signature litert-torch writes

# mode -> (kind of recipe, weight bits, activation bits); algorithm chosen in _recipe
RECIPES: Dict[str, tuple] = {
    "fp16": ("weight_only_float", 16, None),
    "int8-dynamic": ("dynamic", 8, None),
    "int8": ("static", 8, 8),
    "int8x16": ("static", 8, 16),
}


def check_supported(options: QuantizationOptions) -> None:
    """Refuse the options the ai-edge-quantizer path cannot honour."""
    for kind in ("input_type", "output_type"):
        value = getattr(options, kind)
        if value not in (None, "float32"):
            raise CalibrationError(f"--{kind.replace('_', '-')} {value} is not supported on the PyTorch path "
                                   "(ai-edge-quantizer keeps float inputs and outputs)",
                                   f"omit --{kind.replace('_', '-')}, or export a TF checkpoint in the TF venv")


def _recipe(mode: str):
    from ai_edge_quantizer import algorithm_manager, qtyping, recipe_manager

    kind, weight_bits, activation_bits = RECIPES[mode]
    manager = recipe_manager.RecipeManager()
    ops = qtyping.TFLOperationName.ALL_SUPPORTED
    if kind == "weight_only_float":
        manager.add_weight_only_config(regex=".*", operation_name=ops, num_bits=weight_bits,
                                       algorithm_key=algorithm_manager.AlgorithmName.FLOAT_CASTING)
    elif kind == "dynamic":
        manager.add_dynamic_config(regex=".*", operation_name=ops, num_bits=weight_bits)
    else:
        manager.add_static_config(regex=".*", operation_name=ops, activation_num_bits=activation_bits,
                                  weight_num_bits=weight_bits)
    return manager.get_quantization_recipe()


def quantize_flatbuffer(flatbuffer: bytes, options: QuantizationOptions,
                        calibration: Optional[List[Dict[str, np.ndarray]]] = None) -> bytes:
    """The quantized flatbuffer; ``calibration`` (batches of inputs) is required by int8/int8x16."""
    check_supported(options)
    from .torch_convert import quiet_litert_imports

    quiet_litert_imports()
    from ai_edge_quantizer import quantizer

    engine = quantizer.Quantizer(bytearray(flatbuffer), _recipe(options.mode))
    if options.calibrated and not calibration:
        raise CalibrationError(f"--quantize {options.mode} needs calibration samples",
                               "pass --num-calibration-samples N (> 0)")
    try:
        # its tqdm bars and interpreter debug warnings would break xporter's step display
        with contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = engine.calibrate({SIGNATURE: list(calibration)}) if options.calibrated else None
            quantized = engine.quantize(result, enable_progress_bar=False, enable_progress_report=False)
    except Exception as exc:
        raise CalibrationError(f"ai-edge-quantizer could not apply {options.mode}: {str(exc).strip()[:300]}",
                               "try another --quantize mode; rerun with --debug for details") from exc
    return bytes(quantized.quantized_model)
