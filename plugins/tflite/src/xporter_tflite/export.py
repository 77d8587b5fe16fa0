"""TFLite export, end to end: load -> convert (and quantize) -> validate -> report.

Everything is written through :func:`xporter.output.atomic_output_dir`, so an interrupted
export leaves nothing behind, and neither does a failed validation: it raises
:class:`xporter.errors.ValidationError` inside the staging block (the policy every backend
shares; ``--no-validate`` keeps unvalidated files, marked ``"validated": false``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Dict, Optional, Union

from xporter import TasksManager
from xporter.arguments import check_atol, check_shapes
from xporter.output import atomic_output_dir, check_output_dir
from xporter.progress import Progress

from .report import raise_if_invalid, seal_report
from .paths import select_path
from .quantize import QuantizationOptions, calibration_batches
from .source import copy_side_files

SHAPE_ARGUMENTS = ("batch_size", "sequence_length", "num_choices", "height", "width", "decoder_sequence_length")
DEFAULT_ATOL = 1e-4


def build_config(model_config: Any, model_type: str, task: str, shapes: Dict[str, Optional[int]]):
    """The TFLite config for (model_type, task) with static shapes checked."""
    constructor = TasksManager.get_exporter_config_constructor("tflite", model_type=model_type, task=task)
    config = constructor(model_config, **{k: v for k, v in shapes.items() if v is not None})
    config.check_shapes()
    return config


def export_tflite(
    model: Union[str, Path, Any],
    output: Union[str, Path],
    task: Optional[str] = "auto",
    quantization: Union[None, str, QuantizationOptions] = None,
    atol: Optional[float] = None,
    overwrite: bool = False,
    validate: bool = True,
    num_validation_samples: Optional[int] = None,
    progress: Optional[Progress] = None,
    cache_dir: Optional[str] = None,
    trust_remote_code: bool = False,
    framework: Optional[str] = None,
    **shapes: Optional[int],
) -> Dict[str, Any]:
    """Export a TF or PyTorch model to TFLite.

    ``framework`` ("pt", "tf", default: the checkpoint's) picks the path: PyTorch modules
    go through litert-torch when it is installed, else through TensorFlow (``from_pt``).

    ``shapes`` are the static sizes: ``batch_size``, ``sequence_length``, ``num_choices``,
    ``height``, ``width``, ``decoder_sequence_length``. Returns the export report (also
    written to ``export_report.json``).
    """
    unknown = set(shapes) - set(SHAPE_ARGUMENTS)
    if unknown:
        raise TypeError(f"unexpected arguments: {', '.join(sorted(unknown))}")
    check_shapes(shapes)
    check_atol(atol)
    progress = progress or Progress(enabled=False)
    atol = DEFAULT_ATOL if atol is None else atol
    if isinstance(quantization, str):
        quantization = QuantizationOptions(quantization)
    check_output_dir(output, overwrite, source=model)  # fail before the slow part
    path = select_path(model, framework, cache_dir)
    path.check_options(quantization)
    with progress.step("load model"):
        precheck = lambda model_config, model_type, task_: build_config(model_config, model_type, task_, shapes)  # noqa: E731
        source = path.load(model, task, cache_dir, trust_remote_code, precheck)
        config = build_config(source.model.config, source.model_type, source.task, shapes)
    report: Dict[str, Any] = {
        "backend": "tflite",
        "model": str(model) if isinstance(model, (str, Path)) else type(model).__name__,
        "model_type": source.model_type,
        "task": source.task,
        "checkpoint_framework": source.checkpoint_framework,
        "converter": "litert-torch" if path.framework == "pt" else "tensorflow",
        "shapes": config.used_shapes(),
        "quantization": quantization.as_dict() if quantization else None,
        "atol": atol,
        "components": {},
    }
    with atomic_output_dir(output, overwrite, source=model) as staging:
        for component in config.components():
            report["components"][component.name] = _export_component(
                path, source, config, component, quantization, staging, progress, validate, atol, num_validation_samples)
        report["files"] = [f"{c}.tflite" for c in report["components"]] + copy_side_files(source, staging)
        seal_report(report, staging, validate, progress)
        raise_if_invalid(report, output, validate, "TFLite",
                         reference="PyTorch" if path.framework == "pt" else "TensorFlow")
    return report


def _export_component(path, source, config, component, quantization, staging: Path, progress: Progress,
                      validate: bool, atol: float, num_validation_samples: Optional[int]) -> Dict[str, Any]:
    label = component.name if len(config.components()) > 1 else "model"
    calibration = None
    if quantization is not None and quantization.calibrated:
        with progress.step(f"calibration data ({label})"):
            calibration = calibration_batches(config, component, quantization, source.directory)
    with progress.step(f"convert {label} to TFLite" + (f" ({quantization.mode})" if quantization else "")):
        flatbuffer = path.convert(source, config, component, quantization, calibration)
    file = staging / f"{component.name}.tflite"
    file.write_bytes(flatbuffer)
    sizes = config.check_shapes()
    result: Dict[str, Any] = {
        "file": file.name,
        "size_bytes": len(flatbuffer),
        "inputs": {n: {"shape": list(config.input_shape(s)), "dtype": s.dtype} for n, s in component.inputs.items()},
        "outputs": list(component.outputs),
    }
    if quantization is not None:
        with progress.step(f"convert {label} in float32 (size reference)"):
            float_size = len(path.convert(source, config, component))
        result["float32_size_bytes"] = float_size
        result["size_ratio"] = round(len(flatbuffer) / float_size, 4)
    if validate:
        from .litert_worker import LiteRTCrash, run_isolated
        from .validate import compare

        samples = num_validation_samples or (20 if quantization is not None else sizes["batch_size"])
        num_batches = max(1, math.ceil(samples / sizes["batch_size"]))
        with progress.step(f"validate {label} with LiteRT ({num_batches} batch{'es' if num_batches > 1 else ''})"):
            batches = [config.generate_dummy_inputs(component, seed=10_000 + i) for i in range(num_batches)]
            references = [path.reference(source, config, component, b) for b in batches]
            try:
                candidates = run_isolated(str(file), batches)
            except LiteRTCrash as exc:
                result["validation"] = {"valid": False, "problems": [str(exc)], "outputs": {}, "num_batches": 0}
            else:
                result["validation"] = compare(references, candidates, quantization is not None, atol)
    return result
