"""Diffusers pipelines -> one ONNX graph per component, in Optimum's folder layout.

A pipeline folder (``model_index.json``) becomes::

    text_encoder/model.onnx (+ config.json)   text_encoder_2/ ...   text_encoder_3/ ...
    unet/model.onnx  or  transformer/model.onnx
    vae_encoder/model.onnx   vae_decoder/model.onnx
    model_index.json  scheduler/  tokenizer*/  feature_extractor/   (copied)
    export_report.json

which is what Optimum writes and its ONNX Runtime pipelines read. A single diffusers
component folder (``config.json`` with ``_diffusers_version``, e.g. a saved UNet) exports to
``model.onnx`` (a VAE to ``vae_encoder/`` + ``vae_decoder/``). Each graph goes through the same
per-part routine as transformers models (``exporter.export_part``): traced, checked, validated
against its PyTorch module on shapes other than the trace, hashed, staged atomically.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

from xporter.errors import ExportError, ModelConfigError, PluginUnavailableError, UnknownModelTypeError

from .files import read_json

# pipeline attributes exported, in Optimum's order; "vae" becomes vae_encoder + vae_decoder
MODEL_SLOTS = ("text_encoder", "text_encoder_2", "text_encoder_3", "unet", "transformer", "vae")
# non-model pipeline folders an ONNX Runtime pipeline needs next to the graphs
COPIED_SLOTS = ("scheduler", "tokenizer", "tokenizer_2", "tokenizer_3", "feature_extractor")
# pipelines that read the text encoders' penultimate hidden state (all hidden states are outputs)
HIDDEN_STATES_PIPELINES = ("StableDiffusionXL", "StableDiffusion3")
TEXT_TASK, IMAGE_TASK = "feature-extraction", "semantic-segmentation"


@dataclass
class Component:
    """One graph to write: ``<folder>/model.onnx`` from ``model`` described by ``config``."""

    folder: str  # "" = the output folder itself (a single component)
    model: Any
    config: Any
    model_type: str


def is_diffusers_component_dir(model_name_or_path: Any) -> bool:
    """A saved diffusers model (not a pipeline): its config.json carries ``_diffusers_version``."""
    folder = Path(str(model_name_or_path))
    return folder.is_dir() and not (folder / "model_index.json").exists() and \
        "_diffusers_version" in (read_json(folder / "config.json") or {})


def require_diffusers() -> Any:
    try:
        import diffusers
    except ImportError as exc:
        raise PluginUnavailableError("exporting diffusers pipelines needs the diffusers package",
                                     "pip install diffusers") from exc
    return diffusers


def _torch_dtype(dtype: str) -> Any:
    import torch

    return {"fp16": torch.float16, "bf16": torch.bfloat16}.get(dtype)  # None: the default float32


def _constructor(model_type: str, task: str) -> Any:
    from xporter import TasksManager

    return TasksManager.get_exporter_config_constructor("onnx", model_type=model_type, task=task,
                                                        library_name="diffusers")


def _types_for(model: Any, slot: str) -> List[tuple]:
    """``[(folder, model_type)]`` for a pipeline component, or a one-line UnknownModelTypeError."""
    from .configs.diffusers import COMPONENT_TYPES, VAE_TYPES

    name = type(model).__name__
    if slot == "vae" or name in VAE_TYPES:
        if name not in VAE_TYPES:
            raise UnknownModelTypeError(f"no ONNX config for the diffusers VAE class '{name}' ({slot})",
                                        f"supported VAEs: {', '.join(VAE_TYPES)}")
        encoder, decoder = VAE_TYPES[name]
        return [("vae_encoder", encoder), ("vae_decoder", decoder)]
    if name not in COMPONENT_TYPES:
        raise UnknownModelTypeError(f"no ONNX config for the diffusers pipeline component class '{name}' ({slot})",
                                    f"supported classes: {', '.join(COMPONENT_TYPES)}")
    return [(slot, COMPONENT_TYPES[name])]


def _onnx_config(constructor: Any, model: Any, task: str, dtype: str, extra: Optional[Dict[str, Any]] = None) -> Any:
    config = model.config
    if extra:  # diffusers configs are frozen: the ONNX config reads a copy with the pipeline-level values
        config = {**config, **extra}
    return constructor(config, task=task, float_dtype=dtype) if isinstance(constructor, type) else \
        constructor(config, float_dtype=dtype)


def pipeline_components(pipeline: Any, dtype: str) -> List[Component]:
    """Every graph Optimum exports for ``pipeline``, each with its registered ONNX config."""
    pipeline_class = type(pipeline).__name__
    components = []
    for slot in MODEL_SLOTS:
        model = getattr(pipeline, slot, None)
        if model is None:
            continue
        extra = None
        if slot.startswith("text_encoder") and slot != "text_encoder_3" and \
                pipeline_class.startswith(HIDDEN_STATES_PIPELINES):
            model.config.output_hidden_states = True
        if slot == "unet":
            extra = {"requires_aesthetics_score": bool(pipeline.config.get("requires_aesthetics_score", False))}
        for folder, model_type in _types_for(model, slot):
            task = TEXT_TASK if slot.startswith("text_encoder") else IMAGE_TASK
            constructor = _constructor(model_type, task)
            attention = getattr(constructor.config_class, "ATTN_IMPLEMENTATION", None)
            if attention and hasattr(model, "set_attn_implementation"):  # transformers text encoders
                model.set_attn_implementation(attention)
            config = _onnx_config(constructor, model, task, dtype, extra)
            components.append(Component(folder, model, config, model_type))
    if not components:
        raise UnknownModelTypeError(f"the diffusers pipeline {pipeline_class} has none of the components "
                                    f"{', '.join(MODEL_SLOTS)}", "export its models one by one")
    return components


def single_component(model: Any, task: str, dtype: str, custom_onnx_config: Any) -> List[Component]:
    """A saved diffusers model: its registered config(s), or ``custom_onnx_config``."""
    if custom_onnx_config is not None:
        task = IMAGE_TASK if task == "auto" else task
        return [Component("", model, _onnx_config(custom_onnx_config, model, task, dtype), type(model).__name__)]
    types = _types_for(model, "")
    task = IMAGE_TASK if task == "auto" else task
    if len(types) == 1:
        types = [("", types[0][1])]
    return [Component(folder, model, _onnx_config(_constructor(t, task), model, task, dtype), t)
            for folder, t in types]


def _follow_transformers_progress_bars(diffusers: Any) -> None:
    """Where the caller (the CLI) turned transformers' loading bars off, turn diffusers' off too."""
    try:
        from transformers.utils import logging as transformers_logging
    except ImportError:
        return
    if not transformers_logging.is_progress_bar_enabled():
        diffusers.utils.logging.disable_progress_bar()


def _load(model_name_or_path: Any, dtype: str, device: str, cache_dir: Optional[str],
          model_kwargs: Dict[str, Any]) -> Any:
    diffusers = require_diffusers()
    _follow_transformers_progress_bars(diffusers)
    torch_dtype = _torch_dtype(dtype)
    if is_diffusers_component_dir(model_name_or_path):
        class_name = (read_json(Path(str(model_name_or_path)) / "config.json") or {}).get("_class_name", "")
        cls = getattr(diffusers, class_name, None)
        if cls is None:
            raise UnknownModelTypeError(f"diffusers {diffusers.__version__} has no model class '{class_name}'",
                                        "upgrade diffusers or check config.json's _class_name")
        if torch_dtype is not None:
            model_kwargs = {"torch_dtype": torch_dtype, **model_kwargs}
        model = cls.from_pretrained(str(model_name_or_path), **model_kwargs)
        return model.to(device).eval()
    from xporter.loading import load_diffusers_pipeline

    try:
        return load_diffusers_pipeline(str(model_name_or_path), None, cache_dir, None, torch_dtype, device,
                                       **model_kwargs)
    except (OSError, ValueError) as exc:
        raise ModelConfigError(f"cannot load the diffusers pipeline {model_name_or_path}: "
                               f"{(str(exc).strip().splitlines() or [type(exc).__name__])[0]}",
                               "check the folder (model_index.json and every component it lists)") from exc


def _save_component_config(model: Any, folder: Path) -> None:
    if hasattr(model, "save_config"):  # diffusers ModelMixin
        model.save_config(str(folder))
    else:
        model.config.save_pretrained(str(folder))


def _copy_pipeline_files(pipeline: Any, source: Optional[Path], staging: Path) -> List[str]:
    """model_index.json and the non-model folders, copied from a local pipeline or saved from the objects.

    Copies regular files only, never through a link that leaves the pipeline folder; returns what was skipped.
    """
    from xporter.side_files import copy_side_files

    skipped: List[str] = []
    copied = copy_side_files(source, staging, ["model_index.json"]) if source is not None else None
    if copied is not None:
        skipped += copied.skipped_lines()
    if copied is None or not copied.copied:
        pipeline.save_config(str(staging))
    for slot in COPIED_SLOTS:
        obj = getattr(pipeline, slot, None)
        if obj is None:
            continue
        if source is not None and (source / slot).is_dir():
            skipped += copy_side_files(source, staging, [f"{slot}/**/*"]).skipped_lines()
        elif hasattr(obj, "save_pretrained"):
            obj.save_pretrained(str(staging / slot))
    return skipped


def export_diffusers(model_name_or_path: Any, output: Any, options: Any, progress: Any,
                     custom_onnx_config: Any = None) -> Any:
    """The diffusers branch of :func:`xporter_onnx.exporter.export`: the same
    :class:`xporter.options.OnnxExportOptions`, the same report."""
    from xporter import TasksManager
    from xporter.output import atomic_output_dir

    from . import exporter, files
    from .validate import raise_if_failed

    o, task, dtype = options, options.task, options.dtype
    started = time.perf_counter()
    source = Path(str(model_name_or_path)) if Path(str(model_name_or_path)).is_dir() else None
    is_component = is_diffusers_component_dir(model_name_or_path)
    with progress.step("load"):
        loaded = _load(model_name_or_path, dtype, o.device, o.cache_dir, dict(o.model_kwargs or {}))
        if is_component:
            components = single_component(loaded, task, dtype, custom_onnx_config)
            task = components[0].config.task
        else:
            if custom_onnx_config is not None:
                raise ExportError("custom_onnx_config applies to one model, not to a diffusers pipeline",
                                  "export the component's folder (e.g. <pipeline>/unet) with it")
            if task == "auto":
                task = TasksManager.infer_task_from_model(str(model_name_or_path), cache_dir=o.cache_dir,
                                                          library_name="diffusers")
            components = pipeline_components(loaded, dtype)
    o = o.replace(opset=exporter.resolve_opset(o.opset, [c.config for c in components], dtype, o.dynamo))
    model_type = components[0].model_type if is_component else type(loaded).__name__
    report = exporter.ExportReport(str(model_name_or_path), str(Path(output).resolve()), model_type, task,
                                   "diffusers", o.opset, "dynamo" if o.dynamo else "torchscript", dtype,
                                   o.dynamic_axes)
    with atomic_output_dir(output, o.overwrite, source=model_name_or_path) as staging, \
            files.BackgroundHasher() as hasher:
        exported: List[tuple] = []  # (report key, path, part) per graph, for --optimize
        checked: Dict[str, Any] = {}
        for component in components:
            folder = staging / component.folder
            folder.mkdir(parents=True, exist_ok=True)
            part = component.config.export_parts(component.model)
            if len(part) != 1:
                raise ExportError(f"{component.model_type}: a diffusers component must be one graph",
                                  "report this with --debug output")
            key = component.folder or part[0].name
            path = folder / "model.onnx"
            result = exporter.export_part(part[0], path, report, hasher, progress, o, key=key,
                                          file_name=path.relative_to(staging).as_posix())
            if result is not None:
                checked[key] = result
            report.parts[key]["model_type"] = component.model_type
            component.config.post_process_exported_models(folder, part, [path])
            exported.append((key, path, part[0]))
        if o.validate:
            raise_if_failed(report.validation)
        if o.optimize:  # ONNX Runtime's generic fusions: its UNet/VAE fusion patterns target CUDA kernels
            keys, paths, parts = (list(column) for column in zip(*exported))
            report.optimization = exporter.optimize_parts(paths, parts, o.optimize, None, o.atol, o.device, checked,
                                                          progress, keys=keys, root=staging)
        with progress.step("save configs"):
            for component in components:
                _save_component_config(component.model, staging / component.folder)
            if not is_component:
                report.skipped_files += _copy_pipeline_files(loaded, source, staging)
        names = sorted(p.relative_to(staging).as_posix() for p in staging.rglob("*") if p.is_file())
        exporter.finish_report(report, staging, names, hasher, progress, started, "diffusers")
    return report
