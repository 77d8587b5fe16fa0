"""TensorFlow -> ONNX with tf2onnx: the ``(onnx, tf)`` exporter of xporter.

``export(model, output, options, progress)`` is the ``tf-to-onnx`` exporter (entry point
group ``xporter.exporters``) used by ``xporter export onnx`` when the model is a TensorFlow
checkpoint; :func:`export_tf_to_onnx` is the same thing for
Python callers. Names and dynamic axes come from :mod:`xporter_tflite.onnx_io`; after
conversion the graph goes through the Erfc rewrite, an unsupported-op check,
``onnx.checker`` and an onnxruntime-vs-TensorFlow comparison on fresh inputs (at the
export shapes and at a second size of every dynamic axis).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, Optional, Union

import numpy as np

from xporter import vocabulary
from xporter.arguments import check_atol, check_shapes
from xporter.errors import ExportError
from xporter.output import atomic_output_dir, check_output_dir
from xporter.progress import Progress
from xporter.report import ExportReport, file_entries, package_versions, raise_if_failed

from .source import copy_side_files, load_source
from .tfenv import import_tf

DEFAULT_OPSET = 17
DEFAULT_ATOL = 1e-4
DEFAULT_SHAPES = {k: vocabulary.DEFAULT_SHAPES[k] for k in ("batch_size", "sequence_length", "num_choices")}
REPORTED_DISTRIBUTIONS = ("xporter-tflite", "xporter-onnx", "tensorflow", "tf-keras", "tf2onnx", "transformers", "onnx",
                          "onnxruntime")
SHAPE_NAMES = tuple(vocabulary.STATIC_SHAPE_FLAGS)


# options of `xporter export onnx` that tf2onnx cannot honour, with the value meaning "not asked for"
UNSUPPORTED_OPTIONS = {"dtype": "auto", "fp16_io": False, "device": "cpu", "dynamo": False, "optimize": None,
                       "external_data": None, "quantize": None, "layout": "optimum"}


def export(model: Union[str, Path], output: Union[str, Path], options: Any, progress: Progress) -> Dict[str, Any]:
    """The (onnx, tf) exporter of the ExporterSpec contract: an :class:`xporter.options.OnnxExportOptions`
    in, the report dict out. Options only a PyTorch export can honour are refused with one line when
    set to anything but their default; the rest (library_name, merge_decoders, generic, ONNX-only
    shapes such as num_channels) has no TensorFlow meaning."""
    for name, default in UNSUPPORTED_OPTIONS.items():
        if getattr(options, name, default) != default and not (name == "dtype" and options.dtype == "fp32"):
            raise ExportError(f"--{name.replace('_', '-')} is not supported for TensorFlow models",
                              f"drop --{name.replace('_', '-')} (TF -> ONNX goes through tf2onnx)")
    if options.model_kwargs:
        raise ExportError("--model-kwargs is not supported for TensorFlow models",
                          "drop --model-kwargs (TF -> ONNX goes through tf2onnx)")
    shapes = {name: size for name, size in options.shapes.items() if name in SHAPE_NAMES}
    return export_tf_to_onnx(model, output, task=options.task, opset=options.opset, atol=options.atol,
                             overwrite=options.overwrite, validate=options.validate, progress=progress,
                             cache_dir=options.cache_dir, trust_remote_code=options.trust_remote_code,
                             dynamic_axes=options.dynamic_axes, **shapes)


def export_tf_to_onnx(
    model: Union[str, Path, Any],
    output: Union[str, Path],
    task: Optional[str] = "auto",
    opset: Optional[int] = None,
    atol: Optional[float] = None,
    overwrite: bool = False,
    validate: bool = True,
    progress: Optional[Progress] = None,
    cache_dir: Optional[str] = None,
    trust_remote_code: bool = False,
    dynamic_axes: bool = True,
    rewrite_erfc: bool = True,
    use_onnx_configs: bool = True,
    **shapes: Optional[int],
) -> Dict[str, Any]:
    """Export a TF model (path, repo id or TFPreTrainedModel) to ONNX; return the report.

    ``shapes`` (batch_size, sequence_length ...) only size the validation inputs; the
    graph keeps the dynamic axes unless ``dynamic_axes=False``. ``rewrite_erfc=False``
    exists for tests that demonstrate the tf2onnx bug.
    """
    check_shapes(shapes)
    check_atol(atol)
    progress = progress or Progress(enabled=False)
    opset = opset or DEFAULT_OPSET
    atol = DEFAULT_ATOL if atol is None else atol
    check_output_dir(output, overwrite, source=model)
    with progress.step("load TensorFlow model"):
        source = load_source(model, task, "tflite", cache_dir, trust_remote_code)
        config = _sized_config(source, {k: v for k, v in shapes.items() if v is not None})
    from .onnx_io import plan_io

    plans = plan_io(config, source.model.config, source.model_type, source.task, use_onnx_configs)
    report = ExportReport(str(model) if isinstance(model, (str, Path)) else type(model).__name__,
                          str(Path(output).expanduser().resolve()), source.model_type, source.task, "transformers",
                          opset, "tf2onnx", "fp32", dynamic_axes, backend="onnx", framework="tf",
                          checkpoint_framework=source.checkpoint_framework)
    with atomic_output_dir(output, overwrite, source=model) as staging:
        for plan in plans:
            part, checks = _export_component(source, config, plan, staging, opset, atol, validate, dynamic_axes,
                                             rewrite_erfc, progress)
            report.parts[plan.component.name] = part
            report.validation.extend(checks)
        if validate:
            raise_if_failed(report.validation, "ONNX", "raise the tolerance with --atol, try another --opset, "
                                                       "or skip with --no-validate")  # nothing is left behind
        copy_side_files(source, staging)
        report.files = file_entries(staging, sorted(p.name for p in staging.iterdir() if p.is_file()))
        report.versions = package_versions(*REPORTED_DISTRIBUTIONS)
        report.timings = {name: round(seconds, 3) for name, seconds in progress.timings}
        report.write(staging)
    return report.to_dict()


def _sized_config(source, shapes: Dict[str, int]):
    """A TFLite config at validation sizes (defaults where the user gave none)."""
    from xporter import TasksManager

    constructor = TasksManager.get_exporter_config_constructor("tflite", model_type=source.model_type,
                                                               task=source.task)
    image_size = getattr(source.model.config, "image_size", None) or 64
    image_size = image_size[0] if isinstance(image_size, (list, tuple)) else image_size
    sizes = {**DEFAULT_SHAPES, "height": image_size, "width": image_size, **shapes}
    return constructor(source.model.config, **sizes)


def _varied_config(config, plan):
    """The same config with every dynamic axis resized, to check the axes really are dynamic."""
    dynamic = {a for axes in plan.input_axes.values() for a in axes.values()}
    sizes = dict(config.shapes)
    for axis in ("batch_size", "sequence_length", "decoder_sequence_length", "num_choices"):
        if axis in dynamic and axis in sizes:
            sizes[axis] = sizes[axis] + 1 if axis != "sequence_length" else max(2, sizes[axis] - 3)
    return type(config)(config._config, task=config.task, **sizes)


def _specs(config, plan, dynamic_axes: bool):
    tf = import_tf()
    specs = []
    for name, spec in plan.component.inputs.items():
        dynamic = plan.input_axes.get(name, {}) if dynamic_axes else {}
        shape = [None if i in dynamic else size for i, size in enumerate(config.input_shape(spec))]
        specs.append(tf.TensorSpec(shape, tf.float32 if spec.dtype == "float32" else tf.int64, name=name))
    return specs


def convert_function(function, specs, opset: int, rewrite_erfc: bool = True):
    """tf2onnx on a ``tf.function``; returns ``(model_proto, number of Erfc nodes rewritten)``."""
    from . import np_compat

    np_compat.apply()
    import tf2onnx

    from .onnx_graph import rewrite_erfc as _rewrite, unsupported_ops

    # tf2onnx logs unsupported ops at ERROR and carries on; we detect them ourselves below
    logging.getLogger("tf2onnx").setLevel(logging.CRITICAL)
    try:
        model_proto, _ = tf2onnx.convert.from_function(function, input_signature=specs, opset=opset)
    except Exception as exc:
        raise ExportError(f"tf2onnx failed: {str(exc).strip().splitlines()[0][:300] if str(exc).strip() else exc!r}",
                          "try another --opset; rerun with --debug for the traceback") from exc
    rewritten = _rewrite(model_proto) if rewrite_erfc else 0
    missing = unsupported_ops(model_proto)
    if missing and rewrite_erfc:
        raise ExportError(f"tf2onnx left ops that ONNX does not define: {', '.join(missing)}",
                          "these TensorFlow ops have no ONNX conversion; try another --opset or model")
    return model_proto, rewritten


def _export_component(source, config, plan, staging: Path, opset, atol, validate, dynamic_axes, rewrite_erfc,
                      progress) -> Dict[str, Any]:
    import onnx

    from .convert import export_function
    from .onnx_graph import order_outputs, set_dim_names
    from .onnx_io import fallback_plan

    label = plan.component.name
    with progress.step(f"convert {label} with tf2onnx (opset {opset})"):
        specs = _specs(config, plan, dynamic_axes)
        function = export_function(source.model, config, plan.component, specs)
        try:
            function.get_concrete_function()
        except KeyError as exc:  # an ONNX-config output name the TF model does not return
            original = next(c for c in config.components() if c.name == plan.component.name)
            plan = fallback_plan(plan, original, f"TF model has no output {exc}; used this plugin's names")
            specs = _specs(config, plan, dynamic_axes)
            function = export_function(source.model, config, plan.component, specs)
        model_proto, rewritten = convert_function(function, specs, opset, rewrite_erfc)
        order_outputs(model_proto, list(plan.output_axes))
        set_dim_names(model_proto, plan.input_axes if dynamic_axes else {}, plan.output_axes if dynamic_axes else {})
    path = staging / f"{label}.onnx"
    onnx.save(model_proto, str(path))
    with progress.step(f"onnx.checker ({label})"):
        onnx.checker.check_model(str(path))
    part: Dict[str, Any] = {
        "file": path.name, "size_bytes": path.stat().st_size, "io_source": plan.source, "io_note": plan.note,
        "erfc_rewritten": rewritten, "inputs": plan.input_axes, "outputs": plan.output_axes,
    }
    checks = []
    if validate:
        with progress.step(f"validate {label} with onnxruntime"):
            checks = _validate(source.model, config, plan, path, atol, dynamic_axes)
    return part, checks


def _validate(model, config, plan, path: Path, atol: float, dynamic_axes: bool) -> list:
    """onnxruntime vs TensorFlow at the export sizes and, with dynamic axes, at other sizes:
    one :class:`xporter.report.PartValidation` per input set."""
    import onnxruntime as ort

    from .convert import call_reference
    from .validate import compare

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    configs = [config] + ([_varied_config(config, plan)] if dynamic_axes else [])
    checks = []
    for index, sized in enumerate(configs):
        inputs = sized.generate_dummy_inputs(plan.component, seed=20_000 + index)
        inputs = {k: (v.astype(np.int64) if v.dtype == np.int32 else v) for k, v in inputs.items()}
        reference = call_reference(model, sized, plan.component, inputs)
        names = [o.name for o in session.get_outputs()]
        candidate = dict(zip(names, session.run(names, inputs)))
        checks.append(compare(plan.component.name, [inputs], [reference], [candidate], quantized=False, atol=atol,
                              reference="TensorFlow"))
    return checks
