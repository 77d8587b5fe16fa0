"""Entry point of the ``tflite`` backend (``[project.entry-points.xporter] tflite = ...``).

Import-light by contract: the hooks only read the declarative tables; the heavy modules
are named as strings (exporter target, CLI run function) and imported on use.
"""

from __future__ import annotations

from xporter import hookimpl
from xporter.hookspecs import BackendInfo, CliCommand, ExporterSpec

from . import architectures

# What every path needs; each conversion path checks its own framework (xporter_tflite.paths):
# TensorFlow (+ tf2onnx for TF->ONNX) or litert-torch, so a venv with either one works.
REQUIRES = ("ai_edge_litert", "transformers")


@hookimpl
def xporter_backend_info():
    return BackendInfo(
        description="TensorFlow or PyTorch (litert-torch) models to TFLite/LiteRT (static shapes, fp16/int8 "
                    "quantization) and TF to ONNX",
        requires=REQUIRES,
        install_hint="pip install 'xporter-tflite[tf]' (TensorFlow) or 'xporter-tflite[torch]' (PyTorch)",
    )


@hookimpl
def xporter_register_configs(register, backend):
    from . import configs

    for spec in architectures.ARCHITECTURES:
        register.add(spec.model_type, spec.tasks, getattr(configs, spec.config_class), library_name=spec.library)
    from .paths import torch_path_available

    if torch_path_available():  # types without a TF implementation: litert-torch only
        from . import torch_architectures

        for spec in torch_architectures.TORCH_ONLY_ARCHITECTURES:
            register.add(spec.model_type, spec.tasks, getattr(torch_architectures, spec.config_class),
                         library_name=spec.library)


@hookimpl
def xporter_cli_commands():
    from . import cli

    return [CliCommand(name="tflite", help="Export a TensorFlow or PyTorch model to TFLite.",
                       configure=cli.configure, run=cli.run)]


@hookimpl
def xporter_exporters():
    return [ExporterSpec(backend="onnx", framework="tf", target="xporter_tflite.tf_to_onnx:export",
                         description="TensorFlow -> ONNX with tf2onnx (Erfc rewritten, onnxruntime-validated)"),
            ExporterSpec(backend="tflite", framework="tf", target="xporter_tflite.export:export_with_options",
                         description="TensorFlow -> TFLite with the TF converter (LiteRT-validated)"),
            ExporterSpec(backend="tflite", framework="pt", target="xporter_tflite.export:export_with_options",
                         description="PyTorch -> TFLite with litert-torch (else TensorFlow from_pt)")]
