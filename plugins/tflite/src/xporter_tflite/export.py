"""TFLite export, end to end: load -> convert (and quantize) -> validate -> report.

Everything is written through :func:`xporter.output.atomic_output_dir`, so an interrupted
export leaves nothing behind, and neither does a failed validation: it raises
:class:`xporter.errors.ValidationError` inside the staging block (the policy every backend
shares, :func:`xporter.report.raise_if_failed`; ``--no-validate`` keeps unvalidated files,
marked ``"validated": false``). The report is the core's :class:`xporter.report.ExportReport`,
the one schema of every backend (``export_report.json`` and ``--json``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Dict, Optional, Union

from xporter import TasksManager
from xporter.output import atomic_output_dir, check_output_dir
from xporter.progress import Progress
from xporter.report import ExportReport, PartValidation, file_entries, package_versions, raise_if_failed

from .options import TfliteExportOptions
from .paths import select_path
from .quantize import QuantizationOptions, calibration_batches
from .source import copy_side_files

DEFAULT_ATOL = 1e-4
# versions every TFLite report records (those installed); each path adds its converter's
REPORTED_DISTRIBUTIONS = ("xporter-tflite", "transformers", "ai-edge-litert")


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
    *,
    progress: Optional[Progress] = None,
    options: Optional[TfliteExportOptions] = None,
    **kwargs: Any,
) -> Dict[str, Any]:
    """Export a TF or PyTorch model to TFLite.

    The options are a :class:`xporter_tflite.options.TfliteExportOptions` (``options=``) or its field
    names and the static shape names as keywords: ``atol``, ``overwrite``, ``validate``,
    ``num_validation_samples``, ``cache_dir``, ``trust_remote_code``, ``framework`` ("pt", "tf",
    default: the checkpoint's; PyTorch modules go through litert-torch when it is installed, else
    through TensorFlow with ``from_pt``) and ``batch_size``, ``sequence_length``, ``num_choices``,
    ``height``, ``width``, ``decoder_sequence_length``. Returns the export report (also written to
    ``export_report.json``).
    """
    if options is None:
        options = TfliteExportOptions.from_kwargs(task=task, quantization=quantization, **kwargs)
    elif kwargs or task != "auto" or quantization is not None:
        raise TypeError("pass the export options either as options= or as keywords, not both")
    return export_with_options(model, output, options, progress or Progress(enabled=False))


def export_with_options(model: Union[str, Path, Any], output: Union[str, Path], options: TfliteExportOptions,
                        progress: Progress) -> Dict[str, Any]:
    """The (tflite, tf) and (tflite, pt) exporter of the ExporterSpec contract: options object in,
    report dict out."""
    atol = DEFAULT_ATOL if options.atol is None else options.atol
    quantization, validate = options.quantization, options.validate
    shapes = {name: options.shapes.get(name) for name in TfliteExportOptions.SHAPE_NAMES}
    check_output_dir(output, options.overwrite, source=model)  # fail before the slow part
    path = select_path(model, options.framework, options.cache_dir)
    path.check_options(quantization)
    with progress.step("load model"):
        precheck = lambda model_config, model_type, task_: build_config(model_config, model_type, task_, shapes)  # noqa: E731
        source = path.load(model, options.task, options.cache_dir, options.trust_remote_code, precheck)
        config = build_config(source.model.config, source.model_type, source.task, shapes)
    report = _new_report(model, output, path, source, config, quantization)
    with atomic_output_dir(output, options.overwrite, source=model) as staging:
        for component in config.components():
            part, checks = _export_component(path, source, config, component, quantization, staging, progress,
                                             validate, atol, options.num_validation_samples)
            report.parts[component.name] = part
            report.validation.extend(checks)
        if validate:
            # inside the block: a failed export leaves nothing; the message names the reference model
            raise_if_failed(report.validation, f"TFLite vs {path.reference_name}")
        written = [part["file"] for part in report.parts.values()] + copy_side_files(source, staging)
        report.files = file_entries(staging, written)
        report.versions = package_versions(*REPORTED_DISTRIBUTIONS, *path.distributions)
        report.timings = {name: round(seconds, 3) for name, seconds in progress.timings}
        report.write(staging)
    return report.to_dict()


def _new_report(model, output, path, source, config, quantization: Optional[QuantizationOptions]) -> ExportReport:
    """The core report (one schema for every backend) with TFLite's facts in its generic fields:
    the converter is ``exporter``, the static sizes ``shapes`` (no ``opset``, no dynamic axes) and
    the post-training options ``quantization``; LiteRT's version is in ``versions``."""
    return ExportReport(
        str(model) if isinstance(model, (str, Path)) else type(model).__name__,
        str(Path(output).expanduser().resolve()), source.model_type, source.task, "transformers", None,
        path.exporter, "fp32", False, backend="tflite", framework=path.framework,
        checkpoint_framework=source.checkpoint_framework, shapes=config.used_shapes(),
        quantization=quantization.as_dict() if quantization else None)


def _export_component(path, source, config, component, quantization, staging: Path, progress: Progress,
                      validate: bool, atol: float, num_validation_samples: Optional[int]):
    """Convert one component to ``<name>.tflite`` and, with ``validate``, check it with LiteRT.

    Returns the report's part entry (file, static input shapes and dtypes, outputs; with
    quantization the float32 size it is measured against) and its validations.
    """
    label = component.name if len(config.components()) > 1 else "model"
    calibration = None
    if quantization is not None and quantization.calibrated:
        with progress.step(f"calibration data ({label})"):
            calibration = calibration_batches(config, component, quantization, source.directory)
    with progress.step(f"convert {label} to TFLite" + (f" ({quantization.mode})" if quantization else "")):
        flatbuffer = path.convert(source, config, component, quantization, calibration)
    file = staging / f"{component.name}.tflite"
    file.write_bytes(flatbuffer)
    part: Dict[str, Any] = {
        "file": file.name,
        "size_bytes": len(flatbuffer),
        "inputs": {n: {"shape": list(config.input_shape(s)), "dtype": s.dtype} for n, s in component.inputs.items()},
        "outputs": list(component.outputs),
    }
    if quantization is not None:
        with progress.step(f"convert {label} in float32 (size reference)"):
            float_size = len(path.convert(source, config, component))
        part["float32_size_bytes"] = float_size
        part["size_ratio"] = round(len(flatbuffer) / float_size, 4)
    checks = []
    if validate:
        checks = [_validate_component(path, source, config, component, file, quantization is not None, atol,
                                      num_validation_samples, label, progress)]
    return part, checks


def _validate_component(path, source, config, component, file: Path, quantized: bool, atol: float,
                        num_validation_samples: Optional[int], label: str, progress: Progress) -> PartValidation:
    """LiteRT (in a child process, so an interpreter abort is a failed check, not a dead exporter)
    against the source model on fresh inputs at the static shapes."""
    from .litert_worker import LiteRTCrash, run_isolated
    from .validate import FLOAT_CRITERION, QUANTIZED_CRITERION, compare, input_shapes

    batch_size = config.check_shapes()["batch_size"]
    samples = num_validation_samples or (20 if quantized else batch_size)
    num_batches = max(1, math.ceil(samples / batch_size))
    with progress.step(f"validate {label} with LiteRT ({num_batches} batch{'es' if num_batches > 1 else ''})"):
        batches = [config.generate_dummy_inputs(component, seed=10_000 + i) for i in range(num_batches)]
        references = [path.reference(source, config, component, b) for b in batches]
        try:
            candidates = run_isolated(str(file), batches)
        except LiteRTCrash as exc:
            return PartValidation(component.name, input_shapes(batches[0]), problems=[str(exc)], batches=0,
                                  criterion=QUANTIZED_CRITERION if quantized else FLOAT_CRITERION)
        return compare(component.name, batches, references, candidates, quantized, atol, path.reference_name)
