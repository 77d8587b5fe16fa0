"""xporter plugin entry point for the ``ort_training`` backend (import-light: no torch here)."""

from __future__ import annotations

from xporter import hookimpl
from xporter.hookspecs import BackendInfo, CliCommand

from .configs import ARCHITECTURES
from .runtime import INSTALL_COMMAND


@hookimpl
def xporter_backend_info():
    return BackendInfo(
        description="ONNX Runtime training: ORTTrainer and on-device training artifacts",
        requires=("onnxruntime", "torch", "transformers", "onnx"),
        install_hint=f"pip install xporter-ort-training && {INSTALL_COMMAND}",
    )


@hookimpl
def xporter_register_configs(register, backend):
    for spec in ARCHITECTURES:
        register.add(spec.model_type, spec.supported_tasks, spec.config_class, library_name=spec.library)


@hookimpl
def xporter_cli_commands():
    from . import cli

    return [
        CliCommand(name="ort_training", help="export ONNX Runtime training artifacts (training/eval/optimizer "
                   "graphs + checkpoint)", configure=cli.configure_export, run=cli.run_export),
        CliCommand(name="train", help="train exported artifacts on a synthetic/JSON dataset and export an "
                   "inference model", configure=cli.configure_train, run=cli.run_train),
        CliCommand(name="build-extensions", help="compile ORTModule's aten_op_executor C++ extension",
                   configure=cli.configure_build, run=cli.run_build),
    ]
