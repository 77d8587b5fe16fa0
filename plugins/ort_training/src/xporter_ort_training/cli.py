"""``xporter export ort_training`` and ``xporter ort_training {train,build-extensions}``."""

from __future__ import annotations

import argparse
import json
import sys

from xporter.progress import Progress


def configure_export(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-m", "--model", required=True, help="model folder or hub id (transformers, PyTorch)")
    parser.add_argument("output", help="output folder for the artifacts")
    parser.add_argument("--task", required=True, help="text-classification, token-classification, "
                        "question-answering, fill-mask or text-generation")
    parser.add_argument("--opset", type=int, default=None, help="ONNX opset (default 17)")
    parser.add_argument("--optimizer", choices=("adamw", "sgd"), default="adamw")
    parser.add_argument("--batch-size", type=int, default=2, help="batch size of the export example")
    parser.add_argument("--sequence-length", type=int, default=16, help="sequence length of the export example")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty output folder")
    parser.add_argument("--json", action="store_true", help="print the export report as JSON")
    parser.add_argument("--trust-remote-code", action="store_true", help="allow custom model code (off by default)")


def export(args: argparse.Namespace, progress: Progress) -> dict:
    """Load the model, build the artifacts in a staging folder, move it into place."""
    from xporter import TasksManager
    from xporter.output import atomic_output_dir, check_output_dir

    from .artifacts import generate_training_artifacts, resolve_config
    from .runtime import check_environment

    check_environment()
    check_output_dir(args.output, args.overwrite, source=args.model)
    _check_task_before_loading(args)
    with progress.step("load"):
        model = TasksManager.get_model_from_task(args.task, args.model, framework="pt", library_name="transformers",
                                                 trust_remote_code=args.trust_remote_code,
                                                 attn_implementation="eager")
        config = resolve_config(model, args.task, args.opset)
    with atomic_output_dir(args.output, args.overwrite, source=args.model) as staging:
        with progress.step("export training artifacts"):
            report = generate_training_artifacts(model, config, staging, args.batch_size, args.sequence_length,
                                                 args.optimizer)
        model.config.save_pretrained(staging)
    report["output"] = str(args.output)
    return report


def _check_task_before_loading(args) -> None:
    """Fail fast (before loading weights) when the model type or task has no loss head."""
    from xporter import TasksManager, hub

    config = hub.read_json_file(args.model, "config.json") or {}
    if config.get("model_type"):
        TasksManager.get_exporter_config_constructor("ort_training", model_type=config["model_type"], task=args.task)


def run_export(args: argparse.Namespace) -> int:
    report = export(args, Progress(enabled=not args.json))
    print(json.dumps(report, indent=2) if args.json else f"artifacts written to {report['output']}: "
          f"{', '.join(report['files'])}")
    return 0


def configure_train(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("artifacts", help="folder written by `xporter export ort_training`")
    parser.add_argument("--data", help="JSON lines file of examples (keys: the artifact inputs and labels); "
                        "default: a synthetic separable dataset")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--inference-output", help="write the trained inference model here (model.onnx)")


def run_train(args: argparse.Namespace) -> int:
    import numpy as np

    from .artifact_training import ArtifactTrainer
    from .datasets import batches_for

    trainer = ArtifactTrainer(args.artifacts, learning_rate=args.learning_rate)
    losses = [trainer.train_step(batch) for batch in batches_for(trainer.manifest, args.artifacts, args.data,
                                                                 args.steps, args.batch_size)]
    print(f"trained {len(losses)} steps: loss {np.mean(losses[:10]):.4f} -> {np.mean(losses[-10:]):.4f}")
    if args.inference_output:
        print(f"inference model: {trainer.export_inference_model(args.inference_output)}")
    return 0


def configure_build(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--force", action="store_true", help="rebuild even if already installed")


def run_build(args: argparse.Namespace) -> int:
    from .extensions import build

    print(f"aten_op_executor: {build(force=args.force)}", file=sys.stdout)
    return 0
