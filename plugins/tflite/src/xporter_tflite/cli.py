"""``xporter export tflite``: arguments and the command body.

``configure`` only builds the parser (no heavy import); ``run`` imports the exporter.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from xporter import vocabulary

from .quantize import IO_TYPES, MODES

# the static sizes a TFLite graph is built with (names and flags from the core's vocabulary)
SHAPE_REQUIREMENT = {"batch_size": "required", "sequence_length": "required for text models",
                     "num_choices": "required for multiple-choice", "height": "required for vision models",
                     "width": "required for vision models", "decoder_sequence_length": "default: --sequence-length"}
SHAPE_FLAGS = tuple((flag, f"static {vocabulary.SHAPE_MEANINGS[name]} ({SHAPE_REQUIREMENT[name]})")
                    for name, flag in vocabulary.STATIC_SHAPE_FLAGS.items())


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-m", "--model", required=True, help="model folder or Hub id (PyTorch weights go through "
                        "litert-torch where it is installed, else through TensorFlow with from_pt)")
    parser.add_argument("output", help="output folder (model.tflite, config and tokenizer files, export_report.json)")
    parser.add_argument("--task", default="auto", help="task to export (default: inferred from the model)")
    parser.add_argument("--framework", choices=("pt", "tf"), default=None,
                        help="convert from PyTorch (litert-torch) or TensorFlow (default: the checkpoint's framework)")
    for flag, help_text in SHAPE_FLAGS:
        parser.add_argument(flag, type=int, default=None, help=help_text)
    quant = parser.add_argument_group("quantization")
    quant.add_argument("--quantize", choices=MODES, default=None, help="post-training quantization mode")
    quant.add_argument("--calibration-dataset", default=None,
                       help="local .csv/.json/.jsonl/.parquet file for int8/int8x16 (default: generated samples)")
    quant.add_argument("--calibration-column", default=None, help="text column of the calibration dataset")
    quant.add_argument("--num-calibration-samples", type=int, default=100, help="calibration samples (default 100)")
    quant.add_argument("--fallback-to-float", action="store_true",
                       help="allow float kernels for ops without an integer implementation")
    quant.add_argument("--input-type", choices=IO_TYPES, default=None, help="type of float inputs after int8 quantization")
    quant.add_argument("--output-type", choices=IO_TYPES, default=None, help="type of float outputs after int8 quantization")
    parser.add_argument("--atol", type=float, default=None, help="tolerance of float validation (default 1e-4)")
    parser.add_argument("--num-validation-samples", type=int, default=None, help="samples compared with the TF model")
    parser.add_argument("--no-validate", action="store_true", help="skip the LiteRT validation")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty output folder")
    parser.add_argument("--cache-dir", default=None, help="Hugging Face cache folder")
    parser.add_argument("--json", action="store_true", help="print the export report as JSON on stdout")


def options_from_args(args: argparse.Namespace) -> Any:
    """The parsed flags as the frozen :class:`xporter_tflite.options.TfliteExportOptions` the
    exporters take: the argparse object stops here."""
    from .options import TfliteExportOptions
    from .quantize import QuantizationOptions

    quantization = None
    if args.quantize:
        quantization = QuantizationOptions(
            args.quantize, calibration_dataset=args.calibration_dataset, calibration_column=args.calibration_column,
            num_calibration_samples=args.num_calibration_samples, fallback_to_float=args.fallback_to_float,
            input_type=args.input_type, output_type=args.output_type)
    elif args.calibration_dataset or args.fallback_to_float:
        print("xporter: warning: calibration options are ignored without --quantize int8/int8x16", file=sys.stderr)
    shapes = {name: getattr(args, name) for name in vocabulary.STATIC_SHAPE_FLAGS}
    return TfliteExportOptions(task=args.task, framework=args.framework, atol=args.atol, validate=not args.no_validate,
                               overwrite=args.overwrite, cache_dir=args.cache_dir, shapes=shapes,
                               quantization=quantization, num_validation_samples=args.num_validation_samples)


def run(args: argparse.Namespace) -> int:
    from xporter import TasksManager
    from xporter.plugins import PLUGINS
    from xporter.progress import Progress

    options = options_from_args(args)
    progress = Progress(enabled=not args.json)
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # the step display covers loading; failures stay one line
    # the exporter is looked up by the checkpoint's framework; options.framework stays as asked, so a
    # PyTorch checkpoint may still go through TensorFlow (from_pt) where litert-torch is missing
    framework = options.framework or TasksManager.determine_framework(args.model, cache_dir=args.cache_dir)
    report = PLUGINS.load_exporter("tflite", framework)(args.model, args.output, options, progress)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        _summary(report, progress)
    return 0


def _summary(report: dict, progress) -> None:
    """One line per exported file (size, ratio to float32, each output's gap and accuracy) from the
    core report: parts say the files, ``validation`` the compared outputs."""
    checks = {v["part"]: v["outputs"] for v in report["validation"]}
    for name, part in report["parts"].items():
        line = f"{part['file']}: {part['size_bytes'] / 1e6:.2f} MB"
        if "size_ratio" in part:
            line += f" ({part['size_ratio']:.2f}x the float32 file)"
        for check in checks.get(name, []):
            measures = [f"max|diff| {check['max_abs_diff']:.2e}"]
            if report["quantization"]:
                measures.append(f"cosine {check['metrics']['cosine_similarity']:.4f}")
                if "argmax_agreement" in check["metrics"]:
                    measures.append(f"argmax agreement {check['metrics']['argmax_agreement']:.1%}")
            line += f"; {check['name']}: {', '.join(measures)}"
        progress.note(line)
    print(f"TFLite export of {report['model_type']} ({report['task']}) written to {report['output']}")
