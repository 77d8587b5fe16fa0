"""``xporter export onnx -m MODEL OUTPUT [...]``: argument parsing and result display.

Flag names follow ``optimum-cli export onnx`` where one exists.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from typing import Any, Dict

from xporter import vocabulary
from xporter.progress import Progress

from .layout import LAYOUTS
from .quantize import CALIBRATE_METHODS, MODES, QuantizeOptions

# the dummy-input shapes of a trace, their defaults and meanings from the core's vocabulary
SHAPE_FLAGS = {name: f"{vocabulary.SHAPE_MEANINGS[name]} for tracing (default {default}"
               + (", or the model's image_size)" if name in ("width", "height") else ")")
               for name, default in vocabulary.DEFAULT_SHAPES.items()}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-m", "--model", required=True, help="local model folder or a (cached) Hub repo id")
    parser.add_argument("output", help="output folder (created; must be empty unless --overwrite)")
    parser.add_argument("--task", default="auto", help="task to export for (default: inferred; '-with-past' picked "
                        "automatically when the architecture supports a KV cache)")
    parser.add_argument("--opset", type=int, default=None, help="ONNX opset (default: the architecture's)")
    parser.add_argument("--atol", type=float, default=None, help="validation tolerance (default: per architecture/task)")
    parser.add_argument("--dtype", choices=("auto", "fp32", "fp16", "bf16"), default="auto",
                        help="export precision (default auto: the checkpoint's, so an fp16 checkpoint is never "
                             "loaded in fp32; bf16 on CPU exports fp32; fp16: fp32 inputs/outputs unless --fp16-io)")
    parser.add_argument("--fp16-io", action="store_true", help="with --dtype fp16: float16 inputs and outputs too")
    parser.add_argument("--device", default="cpu", help="device to export on (cpu, cuda, cuda:1 ...)")
    parser.add_argument("--framework", choices=("pt", "tf"), default=None, help="source framework (default: detected)")
    parser.add_argument("--library-name", default=None,
                        choices=("transformers", "sentence_transformers", "timm", "diffusers"),
                        help="library of the model (default: inferred)")
    parser.add_argument("--trust-remote-code", action="store_true", help="allow custom modeling code from the repo")
    parser.add_argument("--cache-dir", default=None, help="Hugging Face cache folder")
    parser.add_argument("--dynamo", action="store_true", help="use the torch.export (dynamo) ONNX exporter")
    parser.add_argument("--no-dynamic-axes", action="store_true", help="fix every input shape to the trace shapes")
    parser.add_argument("--external-data", action="store_true",
                        help="store weights in model.onnx_data (automatic from 1 GiB of weights)")
    parser.add_argument("--optimize", choices=("O1", "O2", "O3", "O4"), default=None,
                        help="also write an ONNX Runtime-optimized model_optimized.onnx")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty output folder")
    parser.add_argument("--no-validate", action="store_true", help="skip comparing ONNX outputs with PyTorch")
    parser.add_argument("--no-generic", action="store_true",
                        help="fail on a model type the tables lack instead of trying a generic config (validated)")
    parser.add_argument("--no-merge-decoders", action="store_true",
                        help="seq2seq with past: do not also write decoder_model_merged.onnx")
    parser.add_argument("--json", action="store_true", help="print the export report as JSON on stdout")
    parser.add_argument("--model-kwargs", type=_json_object, default=None, metavar="JSON",
                        help="extra keyword arguments for loading the model, as a JSON object "
                             "(e.g. '{\"attn_implementation\": \"eager\"}')")
    parser.add_argument("--layout", default="optimum", choices=sorted(LAYOUTS),
                        help="optimum: graphs at the top (default); transformers.js / onnx-community: under onnx/")
    parser.add_argument("--quantize", default=None, metavar="MODES",
                        help=f"also write validated variants, comma-separated: {', '.join(MODES)}")
    configure_quantization(parser)
    shapes = parser.add_argument_group("dummy input shapes")
    for name, help_text in SHAPE_FLAGS.items():
        shapes.add_argument(f"--{name.replace('_', '-')}", dest=name, type=int, default=None, help=help_text)


def configure_quantization(parser: argparse.ArgumentParser) -> None:
    """Options of every quantization mode (shared by ``export onnx --quantize`` and ``quantize onnx``)."""
    group = parser.add_argument_group("quantization")
    group.add_argument("--per-channel", action=argparse.BooleanOptionalAction, default=True,
                       help="int8/uint8-dynamic: per-column weight scales (default on: more accurate)")
    group.add_argument("--reduce-range", action=argparse.BooleanOptionalAction, default=None,
                       help="7-bit int8 weights (default: only on x86 CPUs without VNNI)")
    group.add_argument("--block-size", type=int, default=32,
                       help="int4/q4f16/int8-weight: weights per scale, a power of two >= 16 (default 32: "
                            "more accurate than 128; 128 decodes int4 faster on CPU)")
    group.add_argument("--accuracy-level", type=int, choices=(0, 1, 2, 3, 4), default=None,
                       help="int4/q4f16/int8-weight: MatMulNBits compute type (4 = int8, fastest on CPU; "
                            "0 = as the input; default 4, q4f16 0)")
    group.add_argument("--symmetric", action="store_true",
                       help="int4/q4f16/int8-weight: symmetric weights (no zero points)")
    group.add_argument("--calibration-dataset", default=None,
                       help="int8-static: local .csv/.json/.jsonl/.parquet file (default: generated samples)")
    group.add_argument("--calibration-column", default=None, help="text column of the calibration dataset")
    group.add_argument("--calibration-samples", type=int, default=16, help="int8-static: samples (default 16)")
    group.add_argument("--calibrate-method", choices=CALIBRATE_METHODS, default="minmax", help="int8-static ranges")
    group.add_argument("--min-cosine", type=float, default=None,
                       help="accept variants down to this cosine vs fp32 (default: per mode, see the README)")


def quantize_options(args: argparse.Namespace) -> Any:
    from xporter.errors import ExportError

    if args.block_size < 16 or args.block_size & (args.block_size - 1):
        raise ExportError(f"--block-size must be a power of two >= 16, got {args.block_size}", "e.g. --block-size 32")
    if args.calibration_samples <= 0:
        raise ExportError(f"--calibration-samples must be > 0, got {args.calibration_samples}",
                          "e.g. --calibration-samples 16")
    if args.min_cosine is not None and not -1.0 <= args.min_cosine <= 1.0:
        raise ExportError(f"--min-cosine must be in [-1, 1], got {args.min_cosine}", "e.g. --min-cosine 0.97")
    return QuantizeOptions(per_channel=args.per_channel, reduce_range=args.reduce_range, block_size=args.block_size,
                           accuracy_level=args.accuracy_level, symmetric=args.symmetric,
                           calibration_dataset=args.calibration_dataset, calibration_column=args.calibration_column,
                           calibration_samples=args.calibration_samples, calibrate_method=args.calibrate_method,
                           min_cosine=args.min_cosine, fp16_io=getattr(args, "fp16_io", False),
                           validate=not getattr(args, "no_validate", False))


def _json_object(text: str) -> Dict[str, Any]:
    """``--model-kwargs``: a JSON object, refused by argparse with one line otherwise."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object such as '{\"key\": \"value\"}'")
    return value


def options_from_args(args: argparse.Namespace) -> Any:
    """The parsed flags as the frozen :class:`xporter.options.OnnxExportOptions` every (onnx, *)
    exporter takes: the argparse object stops here."""
    from xporter.options import OnnxExportOptions

    return OnnxExportOptions(
        task=args.task, opset=args.opset, atol=args.atol, dtype=args.dtype, device=args.device,
        framework=args.framework, library_name=args.library_name, trust_remote_code=args.trust_remote_code,
        cache_dir=args.cache_dir, dynamo=args.dynamo, dynamic_axes=not args.no_dynamic_axes,
        validate=not args.no_validate, merge_decoders=not args.no_merge_decoders, overwrite=args.overwrite,
        optimize=args.optimize, external_data=True if args.external_data else None,
        model_kwargs=args.model_kwargs or {}, quantize=args.quantize, layout=args.layout, fp16_io=args.fp16_io,
        generic=not args.no_generic, quantize_options=quantize_options(args),
        shapes={name: getattr(args, name) for name in SHAPE_FLAGS})


def find_exporter(framework: str) -> Any:
    """The (onnx, ``framework``) export function, found through the plugin registry (entry points
    ``<framework>-to-onnx`` of group ``xporter.exporters``) without importing unrelated plugins."""
    from xporter.errors import PluginUnavailableError
    from xporter.plugins import PLUGINS

    try:
        return PLUGINS.load_exporter("onnx", framework)
    except PluginUnavailableError as exc:
        if framework != "tf" or "no installed plugin" not in str(exc):
            raise
        raise PluginUnavailableError("no installed plugin exports TensorFlow models to ONNX",
                                     "pip install xporter-tflite (it provides the TF -> ONNX exporter)") from exc


def _quiet_weight_loading_bars() -> None:
    """The CLI names each step itself; transformers' per-weight "Loading weights" bar would
    interleave with that display and precede a one-line error. Hub download bars stay."""
    try:
        from transformers.utils import logging as transformers_logging
    except ImportError:
        return
    transformers_logging.disable_progress_bar()


def run(args: argparse.Namespace) -> int:
    from xporter import TasksManager

    from xporter.streams import stdout_to_stderr

    progress = Progress(enabled=not args.json)
    _quiet_weight_loading_bars()
    with stdout_to_stderr() if args.json else contextlib.nullcontext():  # stdout carries the JSON only
        options = options_from_args(args)
        framework = options.framework or TasksManager.determine_framework(args.model, cache_dir=args.cache_dir)
        report = find_exporter(framework)(args.model, args.output, options.replace(framework=framework), progress)
    if args.json:
        json.dump(report, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        _print_summary(report)
    return 0


def _print_summary(report: Dict[str, Any]) -> None:
    print(f"Exported {report.get('model')} ({report.get('model_type')}, task {report.get('task')}) "
          f"to {report.get('output')} with opset {report.get('opset')} ({report.get('exporter')})")
    for part in report.get("validation", []):
        for check in part["outputs"]:
            print(f"  {part['part']}.{check['name']}: shape {check['shape']} max abs diff "
                  f"{check['max_abs_diff']:.2e} (atol {check['atol']:.0e}) {'OK' if check['ok'] else 'FAIL'}")
    if not report.get("validated", True):
        print("  validation skipped (--no-validate)")
    if report.get("generic_config"):
        print(f"  generic config: {report['generic_config']}")
    _print_variants(report.get("quantization"))
    for name, entry in report.get("files", {}).items():
        print(f"  {name}: {entry['bytes']} bytes")


def _print_variants(quantization: Any) -> None:
    for entry in (quantization or {}).get("variants", []):
        cosine = min((o["cosine"] for o in entry.get("outputs", {}).values()), default=None)
        greedy = entry.get("greedy")
        print(f"  {entry['file']} ({entry['mode']}): {entry['size_ratio']:.2f}x the size"
              + (f", min cosine {cosine:.4f}" if cosine is not None else ", not validated")
              + (f", greedy agreement {greedy['agreement']:.2f}" if greedy else ""))


def configure_quantize_command(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="folder of an xporter ONNX export (default layout)")
    parser.add_argument("output", help="output folder: a copy of the input with the variants")
    parser.add_argument("--mode", required=True, help=f"comma-separated modes: {', '.join(MODES)}")
    parser.add_argument("--layout", default="optimum", choices=sorted(LAYOUTS), help="layout of the output")
    parser.add_argument("--fp16-io", action="store_true", help="fp16/q4f16: float16 inputs and outputs")
    parser.add_argument("--no-validate", action="store_true", help="skip comparing the variants with fp32")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty output folder")
    parser.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    configure_quantization(parser)


def run_quantize(args: argparse.Namespace) -> int:
    """``xporter quantize onnx IN OUT --mode ...``."""
    from xporter.streams import stdout_to_stderr

    from .quantize import parse_modes
    from .variants import quantize_folder

    progress = Progress(enabled=not args.json)
    modes, options = parse_modes(args.mode), quantize_options(args)
    with stdout_to_stderr() if args.json else contextlib.nullcontext():
        report = quantize_folder(args.input, args.output, modes, args.layout, options, progress, args.overwrite)
    if args.json:
        json.dump(report, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        print(f"Quantized {args.input} into {report['output']} ({report['layout']} layout)")
        _print_variants(report["quantization"])
    return 0
