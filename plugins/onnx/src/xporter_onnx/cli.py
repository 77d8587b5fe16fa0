"""``xporter export onnx -m MODEL OUTPUT [...]``: argument parsing and result display.

Flag names follow ``optimum-cli export onnx`` where one exists.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from typing import Any, Dict

from xporter.progress import Progress

SHAPE_FLAGS = {
    "batch_size": "batch size of the dummy inputs used for tracing (default 2)",
    "sequence_length": "text sequence length for tracing (default 16)",
    "num_choices": "candidate answers for multiple-choice (default 4)",
    "width": "image width for tracing (default 64, or the model's image_size)",
    "height": "image height for tracing (default 64, or the model's image_size)",
    "num_channels": "image channels (default 3)",
    "feature_size": "audio feature bins (default 80)",
    "nb_max_frames": "audio frames for log-mel inputs (default 3000)",
    "audio_sequence_length": "raw audio samples for tracing (default 16000)",
}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-m", "--model", required=True, help="local model folder or a (cached) Hub repo id")
    parser.add_argument("output", help="output folder (created; must be empty unless --overwrite)")
    parser.add_argument("--task", default="auto", help="task to export for (default: inferred; '-with-past' picked "
                        "automatically when the architecture supports a KV cache)")
    parser.add_argument("--opset", type=int, default=None, help="ONNX opset (default: the architecture's)")
    parser.add_argument("--atol", type=float, default=None, help="validation tolerance (default: per architecture/task)")
    parser.add_argument("--dtype", choices=("fp32", "fp16", "bf16"), default="fp32", help="export precision")
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
                        help="store weights in model.onnx_data (automatic above 2 GB)")
    parser.add_argument("--optimize", choices=("O1", "O2", "O3", "O4"), default=None,
                        help="also write an ONNX Runtime-optimized model_optimized.onnx")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty output folder")
    parser.add_argument("--no-validate", action="store_true", help="skip comparing ONNX outputs with PyTorch")
    parser.add_argument("--no-merge-decoders", action="store_true",
                        help="seq2seq with past: do not also write decoder_model_merged.onnx")
    parser.add_argument("--json", action="store_true", help="print the export report as JSON on stdout")
    parser.add_argument("--model-kwargs", type=_json_object, default=None, metavar="JSON",
                        help="extra keyword arguments for loading the model, as a JSON object "
                             "(e.g. '{\"attn_implementation\": \"eager\"}')")
    shapes = parser.add_argument_group("dummy input shapes")
    for name, help_text in SHAPE_FLAGS.items():
        shapes.add_argument(f"--{name.replace('_', '-')}", dest=name, type=int, default=None, help=help_text)


def _json_object(text: str) -> Dict[str, Any]:
    """``--model-kwargs``: a JSON object, refused by argparse with one line otherwise."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object such as '{\"key\": \"value\"}'")
    return value


def options_from_args(args: argparse.Namespace) -> Dict[str, Any]:
    shapes = {name: getattr(args, name) for name in SHAPE_FLAGS if getattr(args, name, None) is not None}
    return dict(task=args.task, opset=args.opset, atol=args.atol, dtype=args.dtype, device=args.device,
                framework=args.framework, library_name=args.library_name, trust_remote_code=args.trust_remote_code,
                cache_dir=args.cache_dir, dynamo=args.dynamo, dynamic_axes=not args.no_dynamic_axes,
                validate=not args.no_validate, merge_decoders=not args.no_merge_decoders, overwrite=args.overwrite,
                optimize=args.optimize, external_data=True if args.external_data else None,
                model_kwargs=getattr(args, "model_kwargs", None), **shapes)


def export_from_args(args: argparse.Namespace, progress: Progress) -> Dict[str, Any]:
    """The (onnx, pt) exporter in the ExporterSpec contract: parsed args in, report dict out."""
    from .exporter import export

    options = options_from_args(args)
    options.pop("framework")
    return export(args.model, args.output, framework="pt", progress=progress, **options).to_dict()


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
        framework = args.framework or TasksManager.determine_framework(args.model, cache_dir=args.cache_dir)
        if framework == "tf":
            from .exporter import export_tf

            report = export_tf(args.model, args.output, progress, **options_from_args(args))
        else:
            report = export_from_args(args, progress)
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
    for name, entry in report.get("files", {}).items():
        print(f"  {name}: {entry['bytes']} bytes")
