"""Entry point of the ``onnx`` backend (``[project.entry-points.xporter] onnx = ...``).

Import-light on purpose: loading it to answer "which tasks does distilbert support?" reads
the architecture tables (pure data) and never imports torch, transformers or onnx.
"""

from __future__ import annotations

from xporter import hookimpl
from xporter.hookspecs import BackendInfo, CliCommand, ExporterSpec

BACKEND = "onnx"


@hookimpl
def xporter_backend_info():
    return BackendInfo(
        description="Export PyTorch models to ONNX (torch.onnx), validate with ONNX Runtime",
        requires=("onnx", "onnxruntime", "torch", "transformers"),
        install_hint="pip install xporter-onnx",
    )


@hookimpl
def xporter_register_configs(register, backend):
    from .configs import all_architectures

    for row in all_architectures():
        register.add(row.model_type, row.tasks, row.config_class, library_name=row.library)


@hookimpl
def xporter_cli_commands():
    from . import cli

    return [CliCommand(name=BACKEND, help="Export a model to ONNX and validate it with ONNX Runtime",
                       configure=cli.configure, run=cli.run),
            CliCommand(name="quantize", help="Add quantized/fp16 variants to an ONNX export, validated against it "
                       "(xporter quantize onnx IN OUT --mode ...)", configure=cli.configure_quantize_command,
                       run=cli.run_quantize)]


@hookimpl
def xporter_exporters():
    return [ExporterSpec(BACKEND, "pt", "xporter_onnx.exporter:export_with_options", "torch.onnx (TorchScript or dynamo)")]
