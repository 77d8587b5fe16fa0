"""Deployment variants of an export: the glue between the exporter, quantization and layouts.

``xporter export onnx --quantize ... --layout ...`` calls :func:`add_variants` inside the
export's staging folder (the part configs are at hand); ``xporter quantize onnx IN OUT``
rebuilds the part configs from IN's ``export_report.json`` + ``config.json``
(:func:`folder_parts`) and does the same on a copy. Inputs for validation and calibration
come from the parts' own dummy input generators, so any exported architecture works.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from xporter.errors import ExportError, ModelConfigError

from . import files, layout as layouts
from .merge import MERGED_NAME, USE_CACHE_INPUT, _empty_like
from .quantize import QuantizeOptions, quantize_graph, quantize_parts


def _plain_maker(config: Any, shapes: Dict[str, Any]):
    def make(seed: int) -> Dict[str, Any]:
        return config.generate_dummy_inputs("np", **{**shapes, "seed": seed})
    return make


def _merged_maker(folder: Path, first: Any, later: Any, shapes: Dict[str, Any]):
    """Feeds for ``decoder_model_merged.onnx``: even seeds run the first step, odd ones the cached branch."""
    import numpy as np
    import onnxruntime as ort

    specs = {arg.name: arg for arg in ort.InferenceSession(str(folder / f"{MERGED_NAME}.onnx"),
                                                           providers=["CPUExecutionProvider"]).get_inputs()}
    makers = (_plain_maker(first, shapes), _plain_maker(later, shapes))

    def make(seed: int) -> Dict[str, Any]:
        use_cache = bool(seed % 2)
        feed = makers[use_cache](seed)
        for name, spec in specs.items():
            if name not in feed and name != USE_CACHE_INPUT:
                feed[name] = _empty_like(spec, feed)
        feed[USE_CACHE_INPUT] = np.array([use_cache])
        return feed
    return make


def feed_makers(folder: Path, part_configs: Dict[str, Any], stems: Sequence[str], dynamic_axes: bool = True,
                trace_shapes: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """``stem -> seed -> feed`` for every graph in ``stems`` (the merged decoder from its two sources)."""
    makers = {}
    for stem in stems:
        if stem == MERGED_NAME and stem not in part_configs:  # merged from two exported decoders (seq2seq)
            first, later = part_configs["decoder_model"], part_configs["decoder_with_past_model"]
            makers[stem] = _merged_maker(folder, first, later, later.validation_shapes(dynamic_axes, trace_shapes))
        elif stem in part_configs:
            config = part_configs[stem]
            makers[stem] = _plain_maker(config, config.validation_shapes(dynamic_axes, trace_shapes))
    return makers


def decoder_target(task: str, part_configs: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The decoder-with-past graph whose variants get the greedy-token check (decoder-only models)."""
    if not task.startswith("text-generation") or "model" not in part_configs:
        return None
    config = part_configs["model"]
    if not any(name.startswith("past_key_values.") for name in config.inputs):
        return None
    vocab = getattr(config.normalized_config, "vocab_size", None) or getattr(config.config, "vocab_size", None)
    return {"stem": "model", "vocab_size": int(vocab)} if vocab else None


def _replace_with_fp16(folder: Path, stems: Sequence[str], options: QuantizeOptions, progress: Any) -> None:
    """``--dtype fp16`` without ``--fp16-io``: each fp32 graph becomes its fp16 conversion (fp32 I/O)."""
    for stem in stems:
        source = folder / f"{stem}.onnx"
        with progress.step(f"convert {source.name} to fp16 (fp32 inputs/outputs)"):
            quantize_graph(source, folder / f"{stem}_fp16.onnx", "fp16", options)


def _promote_fp16(folder: Path, stems: Sequence[str]) -> None:
    """Rename ``<stem>_fp16.onnx`` to ``<stem>.onnx`` (external data is re-saved under the new name)."""
    import onnx

    for stem in stems:
        converted, final = folder / f"{stem}_fp16.onnx", folder / f"{stem}.onnx"
        data = folder / f"{stem}_fp16.onnx_data"
        for old in (final, folder / f"{stem}.onnx_data"):
            if old.exists():
                old.unlink()
        if not data.exists():
            os.replace(converted, final)
            continue
        model = onnx.load(str(converted), load_external_data=True)
        onnx.save_model(model, str(final), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=final.name + "_data", size_threshold=1024)
        converted.unlink()
        data.unlink()


def add_variants(folder: Path, part_configs: Dict[str, Any], task: str, modes: Sequence[str], layout: str,
                 options: QuantizeOptions, progress: Any, *, fp16_in_place: bool = False,
                 dynamic_axes: bool = True, trace_shapes: Optional[Dict[str, Any]] = None) -> Optional[Dict[str, Any]]:
    """Quantized variants (and the in-place fp16 conversion) of the graphs ``layout`` keeps.

    In the transformers.js layout the int4/q4f16 LM head takes 4 bits like the rest (not the
    default 8): transformers.js's onnxruntime-node rejects any other MatMulNBits width, so a
    ``_q4`` file with an 8-bit head would not load there (0, a float head, is kept when asked).
    """
    layouts.check_modes(layout, modes)
    if layouts.resolve(layout) == "transformers.js" and options.head_bits not in (0, layouts.TRANSFORMERS_JS_NBITS):
        options = dataclasses.replace(options, head_bits=layouts.TRANSFORMERS_JS_NBITS)
    present = [p.name[:-5] for p in sorted(folder.glob("*.onnx"))]
    stems = layouts.kept_graphs(layout, [s for s in present if s in part_configs or s == MERGED_NAME])
    makers = feed_makers(folder, part_configs, stems, dynamic_axes, trace_shapes)
    decoder = decoder_target(task, part_configs)
    report: Dict[str, Any] = {}
    if fp16_in_place:
        _replace_with_fp16(folder, stems, options, progress)
        fp16_options = QuantizeOptions(**{**options.__dict__, "min_cosine": None})
        checked = quantize_parts_existing(folder, makers, stems, fp16_options, progress, decoder)
        _promote_fp16(folder, stems)
        report["fp16_conversion"] = checked
    if modes:
        report.update(quantize_parts(folder, makers, modes, options, progress, decoder))
    return report or None


def quantize_parts_existing(folder: Path, makers: Dict[str, Any], stems: Sequence[str], options: QuantizeOptions,
                            progress: Any, decoder: Optional[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Validate already written ``<stem>_fp16.onnx`` files against ``<stem>.onnx`` (fp16 thresholds)."""
    from . import quantize_validate as checks

    entries, problems = [], []
    for stem in stems:
        source, target = folder / f"{stem}.onnx", folder / f"{stem}_fp16.onnx"
        with progress.step(f"validate fp16 {source.name} against fp32"):
            outputs = checks.compare_outputs(source, target, [makers[stem](1234), makers[stem](1235)])
            greedy = checks.greedy_agreement(source, target, decoder["vocab_size"]) \
                if decoder and decoder["stem"] == stem else None
        problems.extend(checks.check_variant(source.name, "fp16", outputs, greedy, options.min_cosine))
        entries.append({"file": source.name, "outputs": outputs, "greedy": greedy})
    checks.raise_if_problems(problems)
    return entries


def folder_parts(folder: Path) -> Dict[str, Any]:
    """Task and part configs of an xporter export folder (from export_report.json and config.json)."""
    from transformers import AutoConfig

    from xporter import TasksManager

    report = files.read_json(folder / "export_report.json")
    if not report or "task" not in report:
        raise ModelConfigError(f"{folder} has no export_report.json from xporter",
                               "export the model first: xporter export onnx -m MODEL DIR")
    if (folder / "onnx").is_dir() and not (folder / "model.onnx").exists():
        raise ModelConfigError(f"{folder} is in the transformers.js layout",
                               "quantize an export in the default (optimum) layout")
    task, model_type, library = report["task"], report["model_type"], report.get("library", "transformers")
    constructor = TasksManager.get_exporter_config_constructor("onnx", model_type=model_type, task=task,
                                                               library_name=library)
    try:
        config = AutoConfig.from_pretrained(str(folder))
        onnx_config = constructor(config, float_dtype=report.get("dtype", "fp32") if report.get("dtype") != "fp16"
                                  else "fp32")
        parts = {part.name: part.config for part in onnx_config.export_parts(None)}
    except Exception as exc:  # noqa: BLE001 - an architecture whose parts need the model object
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise ExportError(f"cannot rebuild the inputs of {model_type} ({task}) from {folder}: {first}",
                          "quantize at export time: xporter export onnx ... --quantize MODES") from exc
    return {"task": task, "parts": parts, "report": report, "dynamic_axes": report.get("dynamic_axes", True)}


def quantize_folder(in_dir: Path, out_dir: Path, modes: Sequence[str], layout: str, options: QuantizeOptions,
                    progress: Any, overwrite: bool = False) -> Dict[str, Any]:
    """``xporter quantize onnx IN OUT``: a copy of IN with the variants (validated), in ``layout``."""
    from xporter.output import atomic_output_dir, check_output_dir

    in_dir, out_dir = Path(in_dir), Path(out_dir)
    if not in_dir.is_dir():
        raise ModelConfigError(f"{in_dir} is not a folder", "give the folder of an xporter ONNX export")
    check_output_dir(out_dir, overwrite, source=in_dir)
    info = folder_parts(in_dir)
    sources = [p.name[:-5] for p in sorted(in_dir.glob("*.onnx")) if p.name[:-5] in info["parts"]
               or p.name[:-5] == MERGED_NAME]
    if not sources:
        raise ModelConfigError(f"{in_dir} holds none of the graphs of its export report", "give an export folder")
    layouts.kept_graphs(layout, sources)  # fail before copying
    layouts.check_modes(layout, modes)
    if not modes:
        raise ExportError("no quantization mode given", "pass --mode int8-dynamic (or several, comma-separated)")
    with atomic_output_dir(out_dir, overwrite, source=in_dir) as staging:
        with progress.step(f"copy {in_dir.name}"):
            for path in in_dir.iterdir():
                if path.name.startswith(".xporter") or path.name == "export_report.json":
                    continue
                (shutil.copytree if path.is_dir() else shutil.copy2)(path, staging / path.name)
        result = add_variants(staging, info["parts"], info["task"], modes, layout, options, progress,
                              dynamic_axes=info["dynamic_axes"])
        graph_files = layouts.arrange(staging, layout, sources)
        report = dict(info["report"], output=str(out_dir.resolve()), layout=layouts.resolve(layout),
                      quantization=result, source_export=str(in_dir.resolve()))
        names = sorted(set(graph_files) | {p.name for p in staging.iterdir() if p.is_file()} - {"export_report.json"})
        report["files"] = files.file_entries(staging, names)
        files.write_json(staging / "export_report.json", report)
    return report
