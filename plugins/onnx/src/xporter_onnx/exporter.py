"""PyTorch -> ONNX export: resolve, load, export every part, validate, write the folder.

Generic on purpose: everything architecture-specific comes from the ONNX config
(``export_parts``, ``patch_model_for_export``, shapes, tolerances), so adding an
architecture never touches this module.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

from xporter.errors import ExportError, FrameworkError, UnknownModelTypeError, UnknownTaskError
from xporter.options import OnnxExportOptions
from xporter.output import atomic_output_dir, check_output_dir
from xporter.progress import Progress
from xporter.report import ExportReport as CoreExportReport

from . import files, generic as generic_configs, layout as layouts
from .arguments import check_export_arguments
from .loader import load_model
from .merge import MERGED_NAME, check_merged, merge_decoders as merge_decoder_files
from .optimize import ATOL_BY_LEVEL, optimize_onnx
from .quantize import QuantizeOptions, parse_modes
from .resident import page_out_checkpoints
from .pipeline_export import export_diffusers, is_diffusers_component_dir
from .source_dtype import checkpoint_dtype, plan as dtype_plan
from .torch_export import export_to_onnx, external_data_file
from .variants import add_variants
from .validate import PartCheck, PartValidation, raise_if_failed, reference_check, validate_part

BACKEND = "onnx"


@dataclass
class ExportReport(CoreExportReport):
    """A PyTorch -> ONNX export's report: :class:`xporter.report.ExportReport` (one schema for every
    backend, ``export_report.json``) with this backend's defaults."""

    backend: str = BACKEND
    framework: str = "pt"
    layout: Optional[str] = "optimum"  # Optimum's folder layout unless the export chose another



def _require_transformers(config_class: Any, library: str) -> None:
    """A config that needs a newer transformers (``MIN_TRANSFORMERS_VERSION``) is one line before
    the model loads: the older release's modeling code would trace to a graph that fails later."""
    needed = getattr(config_class, "MIN_TRANSFORMERS_VERSION", None)
    if not needed or library not in ("transformers", "sentence_transformers"):
        return
    from importlib.metadata import version

    from packaging.version import Version

    installed = version("transformers")
    if Version(installed) < Version(needed):
        raise ExportError(f"{config_class.__name__} needs transformers >= {needed} (installed: {installed})",
                          f"pip install 'transformers>={needed}'")


def _custom_constructor(custom_onnx_config: Any, task: str) -> Any:
    """A custom config class used for a ``-with-past`` task gets the cache inputs and outputs, as a
    registered one does (a bare class would export the cache-free graph under the with-past name)."""
    from xporter.registry import ConfigConstructor, supports_past

    if isinstance(custom_onnx_config, type) and task.endswith("-with-past") and supports_past(custom_onnx_config):
        return ConfigConstructor(custom_onnx_config, task.replace("-with-past", ""), use_past=True)
    return custom_onnx_config


def _config_json(model_name_or_path, cache_dir) -> Dict[str, Any]:
    from xporter import hub

    return hub.read_json_file(model_name_or_path, "config.json", cache_dir=cache_dir or hub.default_cache_dir()) or {}


def resolve_task(model_name_or_path, task: str, model_type: str, library: str, cache_dir=None) -> str:
    """``auto`` -> inferred task, upgraded to ``<task>-with-past`` when ONNX supports it."""
    from xporter import TasksManager

    if task and task != "auto":
        return TasksManager.map_from_synonym(task)
    inferred = TasksManager.infer_task_from_model(str(model_name_or_path), cache_dir=cache_dir, library_name=library)
    supported = TasksManager.get_supported_tasks_for_model_type(model_type, BACKEND, library_name=library)
    if f"{inferred}-with-past" in supported:
        return f"{inferred}-with-past"
    return inferred


def _local_config(model_name_or_path, cache_dir) -> Optional[Dict[str, Any]]:
    """config.json of a local model folder, its basic fields checked (before any detection reads them)."""
    from xporter import hub, preflight

    folder = hub.local_dir(str(model_name_or_path)) if isinstance(model_name_or_path, (str, Path)) else None
    if folder is None or not (folder / "config.json").is_file():
        return None
    config = _config_json(model_name_or_path, cache_dir)
    preflight.check_config_fields(config, str(folder / "config.json"))
    _check_transformers_accepts(folder, config)
    return config


def _check_transformers_accepts(folder: Path, config: Dict[str, Any]) -> None:
    """Build the transformers config object (no weights): its own field validation, as one line."""
    from xporter.errors import ModelConfigError

    try:
        from transformers import CONFIG_MAPPING
    except ImportError:
        return
    if config.get("model_type") not in CONFIG_MAPPING:
        return  # not a transformers model type: the registry lookup explains it later
    try:
        CONFIG_MAPPING[config["model_type"]].from_pretrained(str(folder))
    except Exception as exc:  # noqa: BLE001 - strict-dataclass, Type and Value errors alike
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise ModelConfigError(f"{folder / 'config.json'} is not a valid {config['model_type']} config: {first}",
                               "fix the field it names in config.json") from exc


def _preflight(model_name_or_path, library: str, dtype: str, cache_dir) -> int:
    """Config field types, weight files and memory, checked before loading (see :mod:`xporter.preflight`);
    returns the estimated weight bytes in ``dtype`` (a lower bound of the export's size)."""
    from xporter import preflight

    config = _local_config(model_name_or_path, cache_dir)
    if config is None or library not in ("transformers", "sentence_transformers"):
        return 0
    folder = Path(str(model_name_or_path))
    defaults = _config_defaults(config.get("model_type"))
    preflight.check_against_defaults(config, defaults, str(folder / "config.json"))
    return preflight.check_model_folder(folder, config, dtype)


def _config_defaults(model_type: Any) -> Dict[str, Any]:
    """The default field values of ``model_type``'s transformers config class ({} when unknown)."""
    try:
        from transformers import CONFIG_MAPPING

        return CONFIG_MAPPING[model_type]().to_dict()
    except Exception:  # noqa: BLE001 - unknown/remote model type: the type checks just do less
        return {}


def _model_type(model_name_or_path, library: str, cache_dir) -> str:
    if library == "sentence_transformers":
        config = _config_json(model_name_or_path, cache_dir)
        return "clip" if config.get("model_type") == "clip" else "transformer"
    if library == "timm":
        return "default-timm-config"
    config = _config_json(model_name_or_path, cache_dir)
    if config.get("model_type") is not None and not isinstance(config["model_type"], str):
        from xporter.errors import ModelConfigError

        raise ModelConfigError(f"{model_name_or_path}: config.json's model_type must be a string, "
                               f"got {config['model_type']!r}", "fix model_type in config.json (e.g. \"bert\")")
    if not config.get("model_type"):
        from xporter.errors import ModelConfigError

        raise ModelConfigError(f"{model_name_or_path}: config.json has no model_type", "is this a transformers model?")
    return config["model_type"]


def export(model_name_or_path, output, task: str = "auto", *, custom_onnx_config: Any = None,
           progress: Optional[Progress] = None, options: Optional[OnnxExportOptions] = None,
           **kwargs: Any) -> ExportReport:
    """Export ``model_name_or_path`` (local folder or cached repo id) to ONNX in ``output``.

    The options are an :class:`xporter.options.OnnxExportOptions` (``options=``), or its field names
    and shape names as keywords (``opset=17, dtype="fp16", batch_size=1`` ...), the Python form of
    ``xporter export onnx``'s flags. ``custom_onnx_config``: an OnnxConfig subclass (or constructor) to
    use instead of the registered one, e.g. for an architecture the tables lack; without one, an
    unregistered transformers type gets a generic config derived from its model class
    (:mod:`xporter_onnx.generic`; validated or refused; ``generic=False`` turns that off). Raises
    ``ValidationError`` when an output differs by more than the tolerance (nothing is written then).
    ``quantize``: comma-separated modes of :mod:`xporter_onnx.quantize` (variants validated against
    the fp32 graphs); ``layout``: ``optimum`` or ``transformers.js`` (:mod:`xporter_onnx.layout`);
    ``dtype``: ``auto`` keeps the checkpoint's precision (:mod:`xporter_onnx.source_dtype`); ``fp16`` keeps
    fp32 inputs/outputs unless ``fp16_io``. A diffusers pipeline (or saved diffusers model) goes to
    :mod:`xporter_onnx.pipeline_export`: one graph per component.
    """
    if options is None:
        options = OnnxExportOptions.from_kwargs(task=task, **kwargs)
    elif kwargs or task != "auto":
        raise TypeError("pass the export options either as options= or as keywords, not both")
    return _export(model_name_or_path, output, options, custom_onnx_config, progress or Progress(enabled=False))


def export_with_options(model_name_or_path, output, options: OnnxExportOptions, progress: Progress) -> Dict[str, Any]:
    """The (onnx, pt) exporter of the ExporterSpec contract: options object in, report dict out."""
    return _export(model_name_or_path, output, options, None, progress).to_dict()


def _export(model_name_or_path, output, o: OnnxExportOptions, custom_onnx_config: Any,
            progress: Progress) -> ExportReport:
    from xporter import TasksManager

    started = time.perf_counter()
    check_export_arguments(opset=o.opset, device=o.device, dynamo=o.dynamo)
    check_output_dir(output, o.overwrite, source=model_name_or_path)  # fail before any expensive work
    _local_config(model_name_or_path, o.cache_dir)
    framework = o.framework or TasksManager.determine_framework(str(model_name_or_path), cache_dir=o.cache_dir)
    if framework != "pt":
        raise FrameworkError(f"xporter_onnx.export exports PyTorch models, this one is '{framework}'",
                             "use `xporter export onnx --framework tf` (needs: pip install xporter-tflite)")
    library = o.library_name or TasksManager.infer_library_from_model(str(model_name_or_path), cache_dir=o.cache_dir)
    if library == "diffusers" or is_diffusers_component_dir(model_name_or_path):
        o = o.replace(dtype="fp32") if o.dtype == "auto" else o  # components' dtypes differ: fp32 unless asked
        return export_diffusers(model_name_or_path, output, o, progress, custom_onnx_config)
    modes, layout = parse_modes(o.quantize), layouts.resolve(o.layout)
    layouts.check_modes(layout, modes)  # a variant the layout cannot hold: one line before the export
    stored = checkpoint_dtype(_config_json(model_name_or_path, o.cache_dir)) \
        if library in ("transformers", "sentence_transformers") else None
    precision = dtype_plan(o.dtype, stored, o.device, o.fp16_io)
    if precision.note:
        progress.warn(precision.note)
    fp16_in_place, dtype = precision.convert_after, precision.trace  # in place: fp32 trace, converted after validation
    _check_opset_for_dtype(o.opset, dtype)
    model_type = _model_type(model_name_or_path, library, o.cache_dir)
    task = o.task
    if custom_onnx_config is None:
        try:
            resolved = resolve_task(model_name_or_path, task, model_type, library, o.cache_dir)
            constructor = TasksManager.get_exporter_config_constructor(BACKEND, model_type=model_type, task=resolved,
                                                                       model_name=str(model_name_or_path),
                                                                       library_name=library)
            task = resolved
        except UnknownModelTypeError as unregistered:
            if not o.generic:
                raise
            task, custom_onnx_config = generic_configs.resolve(model_name_or_path, task, model_type, library,
                                                               o.cache_dir, o.validate, unregistered)
            constructor = _custom_constructor(custom_onnx_config, task)
    else:
        if task == "auto":
            task = TasksManager.infer_task_from_model(str(model_name_or_path), cache_dir=o.cache_dir,
                                                      library_name=library)
        constructor = _custom_constructor(custom_onnx_config, task)
    weight_bytes = _preflight(model_name_or_path, library, dtype, o.cache_dir)
    check_output_dir(output, o.overwrite, source=model_name_or_path, required_bytes=weight_bytes)
    base_task = task.replace("-with-past", "")
    config_class = getattr(constructor, "config_class", constructor)
    _require_transformers(config_class, library)
    model_kwargs = dict(o.model_kwargs or {})
    if getattr(config_class, "ATTN_IMPLEMENTATION", None) and library in ("transformers", "sentence_transformers"):
        model_kwargs.setdefault("attn_implementation", config_class.ATTN_IMPLEMENTATION)
    with progress.step("load"):
        model = load_model(model_name_or_path, base_task, library, dtype=dtype, device=o.device, cache_dir=o.cache_dir,
                           trust_remote_code=o.trust_remote_code, model_kwargs=model_kwargs,
                           model_class=getattr(config_class, "MODEL_CLASSES", {}).get(base_task))
        if custom_onnx_config is not None:
            onnx_config = constructor(model.config, task=base_task, float_dtype=dtype)
        else:
            onnx_config = constructor(model.config, float_dtype=dtype)
    o = o.replace(opset=resolve_opset(o.opset, [onnx_config], dtype, o.dynamo))
    report = ExportReport(str(model_name_or_path), str(Path(output).resolve()), model_type, task, library, o.opset,
                          "dynamo" if o.dynamo else "torchscript", precision.graph, o.dynamic_axes,
                          layout=layout, generic_config=generic_configs.describe(config_class))
    source_dir = Path(str(model_name_or_path)) if Path(str(model_name_or_path)).is_dir() else None
    with atomic_output_dir(output, o.overwrite, source=model_name_or_path) as staging, \
            files.BackgroundHasher() as hasher:
        parts = onnx_config.export_parts(model)
        merging = o.merge_decoders and set(DECODER_SOURCES) <= {part.name for part in parts}
        paths = []
        checked: Dict[str, PartCheck] = {}  # part name -> validation inputs and PyTorch outputs, reused below
        for part in parts:
            path = staging / f"{part.name}.onnx"
            staged = o.replace(external_data=True) if merging and part.name in DECODER_SOURCES else o
            result = export_part(part, path, report, hasher, progress, staged, defer_validation=True,
                                 float32_io=precision.float32_io)
            paths.append(path)
            if result is not None:
                checked[part.name] = result
            if len(parts) > 1:
                page_out_checkpoints()  # the next part faults back in only the weights it reads
        paths = onnx_config.post_process_exported_models(staging, parts, paths)
        written = files.save_model_configs(model, staging)
        # The graphs are written: drop every reference to the model (the loop variable too) before
        # ONNX Runtime maps their weights, so memory holds one copy of the weights, not two.
        parts, part, model = [ExportPartInfo(part.name, part.config) for part in parts], None, None
        release_memory()
        for check in checked.values():
            with progress.step(f"validate {check.path.name}"):
                report.validation.append(validate_part(check))
        if merging:
            with progress.step(f"merge decoders into {MERGED_NAME}.onnx"):
                report.validation.extend(_merge(staging, checked))
            settle_weight_storage(staging, [*DECODER_SOURCES, MERGED_NAME], o.external_data, hasher, progress)
        if o.validate:
            raise_if_failed(report.validation)
        if o.optimize:
            report.optimization = optimize_parts(paths, parts, o.optimize, model_type, o.atol, o.device, checked,
                                                 progress)
        with progress.step("save configs"):
            if source_dir is not None:
                written += files.copy_preprocessor_files(source_dir, staging, report.skipped_files, progress)
            else:
                written += files.save_preprocessors_from_hub(str(model_name_or_path), staging, o.cache_dir,
                                                             o.trust_remote_code)
        if modes or fp16_in_place:
            report.quantization = add_variants(staging, {part.name: part.config for part in parts}, task, modes, layout,
                                               o.quantize_options or QuantizeOptions(validate=o.validate), progress,
                                               fp16_in_place=fp16_in_place, dynamic_axes=o.dynamic_axes,
                                               trace_shapes=dict(o.shapes))
        graphs = [part.name for part in parts] + [MERGED_NAME] * (staging / f"{MERGED_NAME}.onnx").exists()
        onnx_files = layouts.arrange(staging, layout, graphs)
        finish_report(report, staging, sorted(set(onnx_files) | set(written)), hasher, progress, started)
    return report


def finish_report(report: ExportReport, staging: Path, names: List[str], hasher, progress: Progress, started: float,
                  *extra_dists: str) -> None:
    """Fill in files (sizes, sha256), package versions and timings, and write ``export_report.json``."""
    report.files = files.file_entries(staging, names, hasher)
    report.versions = files.package_versions(*extra_dists)
    report.timings = {name: round(seconds, 3) for name, seconds in progress.timings}
    report.timings["total"] = round(time.perf_counter() - started, 3)
    files.write_json(staging / "export_report.json", report.to_dict())


def export_part(part, path: Path, report: ExportReport, hasher, progress: Progress, options: OnnxExportOptions, *,
                key: Optional[str] = None, file_name: Optional[str] = None, defer_validation: bool = False,
                float32_io: bool = False) -> Optional[PartCheck]:
    """Trace one part into ``path``, record it in ``report.parts[key]`` and validate it on other shapes.

    Shared by transformers models (one call per ExportPart) and diffusers pipelines (one per
    component, ``key`` = its folder). Returns the :class:`PartCheck` (validation inputs and the
    PyTorch outputs, reused by --optimize and the merged decoder) when validating, else None.
    ``defer_validation``: compute the PyTorch outputs only; the caller runs ONNX Runtime
    (:func:`validate_part`) once the model is freed.
    """
    key, o = key or part.name, options
    trace_shapes = dict(o.shapes)
    wrapper = part.config.patch_model_for_export(part.model)
    dummy = part.config.generate_dummy_inputs("pt", **trace_shapes)
    dummy = {k: v.to(o.device) for k, v in dummy.items()}
    with progress.step(f"export {file_name or path.name}"):
        export_to_onnx(wrapper, dummy, path, part.config, o.opset, dynamic=o.dynamic_axes, dynamo=o.dynamo,
                       external_data=o.external_data, progress=progress, float32_io=float32_io)
    for written_file in (path, external_data_file(path)):
        if written_file is not None:
            hasher.submit(written_file)
    report.parts[key] = {"file": file_name or path.name, "inputs": _axes(part.config.inputs),
                         "outputs": _axes(part.config.outputs), "trace_shapes": _shapes(dummy)}
    if not o.validate:
        return None
    inputs = part.config.generate_dummy_inputs("pt", **part.config.validation_shapes(o.dynamic_axes, trace_shapes))
    with progress.step(f"run PyTorch on the validation inputs of {file_name or path.name}"):
        check = reference_check(key, path, wrapper, part.config, inputs, o.atol, o.device)
    if not defer_validation:
        with progress.step(f"validate {file_name or path.name}"):
            report.validation.append(validate_part(check))
    return check


def optimize_parts(paths, parts, level, model_type, atol, device, checked, progress, keys=None, root=None):
    """``--optimize``: one ``*_optimized.onnx`` per part, validated on the same inputs as the
    part itself when ``checked`` holds them (i.e. when validation is on).

    ``keys``: the parts' names in the report and in ``checked`` (default: ``part.name``; a
    diffusers pipeline uses its component folders); file names are relative to ``root`` when given.
    """
    keys = keys or [part.name for part in parts]
    result: Dict[str, Any] = {"level": level, "files": []}
    checks = []
    for path, part, key in zip(paths, parts, keys):
        normalized = part.config.normalized_config
        heads = int(normalized.get("num_attention_heads", 0) or 0)
        hidden = int(normalized.get("hidden_size", 0) or 0)
        with progress.step(f"optimize {path.relative_to(root) if root else path.name} ({level})"):
            target = optimize_onnx(Path(path), level, model_type, heads, hidden, device=device)
        result["files"].append(target.relative_to(root).as_posix() if root else target.name)
        if key in checked:
            level_atol = ATOL_BY_LEVEL.get(level)
            part_atol = max(x for x in (atol, level_atol, part.config.atol_for_validation) if x is not None)
            checks.append(validate_part(checked[key], f"{key}_optimized", target, part_atol))
    if checks:
        result["validation"] = [c.to_dict() for c in checks]
        raise_if_failed(checks)
    return result


@dataclass
class ExportPartInfo:
    """An exported part without its model: what --optimize needs after the model is freed."""

    name: str
    config: Any


def release_memory() -> None:
    """Give a just-dropped model's memory back before ONNX Runtime loads the graphs.

    Weights transformers memory-mapped from safetensors are unmapped when their last reference
    goes (reference cycles need the collector); heap-allocated ones (random heads, dtype casts)
    go back to the allocator, and ``malloc_trim`` hands glibc's free pages to the OS.
    """
    import gc

    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the allocator keeps its pages, nothing breaks
        pass
    return None


DECODER_SOURCES = ("decoder_model", "decoder_with_past_model")  # the two graphs a merged decoder is made of


def settle_weight_storage(staging: Path, names: List[str], external_data: Optional[bool], hasher,
                          progress: Progress) -> None:
    """Give the graphs ``names``, staged with external weights, the storage the user asked for.

    The merged decoder's sources are exported with external data whatever the size (the merge
    and its check then read their weights from disk, one tensor at a time, instead of holding two
    inline decoders: 2.5x a 250M T5's weights before), and so is the merged graph (its check's
    session maps them). Afterwards each graph goes inline again unless ``--external-data`` asked
    otherwise or its weights reach the automatic threshold.
    """
    from .external_data import inline_weights
    from .torch_export import AUTO_EXTERNAL_BYTES

    for name in names:
        path = staging / f"{name}.onnx"
        data = external_data_file(path)
        if data is None:
            continue
        keep = external_data if external_data is not None else data.stat().st_size >= AUTO_EXTERNAL_BYTES
        if keep:
            continue
        with progress.step(f"inline the weights of {path.name}"):
            try:
                inline_weights(path)
            except ValueError as exc:
                raise ExportError(f"cannot keep {path.name} in one file: {exc}",
                                  "export with --external-data") from exc
        hasher.submit(path)


def _merge(staging: Path, checked: Dict[str, Any]) -> List[PartValidation]:
    """Write the merged decoder and, when the parts were validated, check both of its branches
    on the inputs the two decoder graphs were validated with.

    Staged with external weights like its sources (:func:`settle_weight_storage` decides the final
    storage): the check's ONNX Runtime session then maps the weights instead of holding a copy
    (inline: +0.13 GiB at the peak for a 250M T5)."""
    first, later = (staging / f"{name}.onnx" for name in DECODER_SOURCES)
    try:
        target = merge_decoder_files(first, later, staging / f"{MERGED_NAME}.onnx", external_data=True)
    except ValueError as exc:
        raise ExportError(f"cannot merge the decoder graphs: {exc}", "export with --no-merge-decoders") from exc
    if not checked:
        return []
    feeds = [{key: value.detach().cpu().numpy() for key, value in checked[name].inputs.items()}
             for name in DECODER_SOURCES]
    float_dtype = checked[DECODER_SOURCES[0]].config.float_dtype
    return [check_merged(target, first, later, *feeds, float_dtype=float_dtype)]


# bfloat16 is valid for Pow from opset 15 and for LayerNormalization from 17; lower opsets
# give graphs that onnx.checker accepts but no runtime loads.
MIN_OPSET_BY_DTYPE = {"bf16": 17}


def _check_opset_for_dtype(requested: Optional[int], dtype: str) -> None:
    floor = MIN_OPSET_BY_DTYPE.get(dtype, 0)
    if requested is not None and requested < floor:
        raise ExportError(f"--dtype {dtype} needs opset {floor} or newer, got --opset {requested}",
                          f"pass --opset {floor} or leave --opset out")


def resolve_opset(requested: Optional[int], configs: List[Any], dtype: str, dynamo: bool) -> int:
    """The opset to export with: the user's, else the highest default of ``configs`` (raised for
    bf16); ``--dynamo`` raises it to the exporters' minimum."""
    opset = requested or max([config.DEFAULT_ONNX_OPSET for config in configs] + [MIN_OPSET_BY_DTYPE.get(dtype, 0)])
    if dynamo:
        opset = max([opset] + [config.MIN_DYNAMO_OPSET for config in configs])
    return opset


def _axes(spec):
    return {name: {str(k): v for k, v in axes.items()} for name, axes in spec.items()}


def _shapes(tensors):
    return {name: list(t.shape) for name, t in tensors.items()}


__all__ = ["ExportReport", "export", "export_with_options", "resolve_task", "UnknownTaskError"]
