"""Exporter options: dynamo path, dtype, external data, optimization, custom configs."""

from __future__ import annotations

import json

import pytest

import xporter_onnx


@pytest.mark.parametrize("fixture", ["tiny_bert_dir", "tiny_vit_dir"])
def test_dynamo_exporter(fixture, request, tmp_path):
    import onnx

    source = request.getfixturevalue(fixture)
    report = xporter_onnx.export(source, tmp_path / "out", dynamo=True)
    assert report.exporter == "dynamo" and report.opset >= 18 and report.ok
    graph = onnx.load(str(tmp_path / "out" / "model.onnx"), load_external_data=False).graph
    assert graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch_size"


def test_external_data_on_request(tiny_bert_dir, tmp_path):
    report = xporter_onnx.export(tiny_bert_dir, tmp_path / "out", external_data=True)
    assert (tmp_path / "out" / "model.onnx_data").is_file()
    assert "model.onnx_data" in report.files and report.ok


def test_fp16_export(tiny_bert_dir, tmp_path):
    import onnx

    report = xporter_onnx.export(tiny_bert_dir, tmp_path / "out", dtype="fp16")
    assert report.ok and report.dtype == "fp16"
    graph = onnx.load(str(tmp_path / "out" / "model.onnx")).graph
    weights = [t.data_type for t in graph.initializer if len(t.dims) == 2]
    assert weights.count(onnx.TensorProto.FLOAT16) > weights.count(onnx.TensorProto.FLOAT)  # weights, not helper constants


@pytest.mark.parametrize("level", ["O1", "O2", "O3"])
def test_optimize_levels(tiny_bert_dir, tmp_path, level):
    report = xporter_onnx.export(tiny_bert_dir, tmp_path / "out", optimize=level)
    assert (tmp_path / "out" / "model_optimized.onnx").is_file()
    assert report.optimization["level"] == level and report.optimization["validation"][0]["ok"]


def test_custom_onnx_config_for_unregistered_model(tiny_bert_dir, tmp_path):
    from xporter_onnx import TextEncoderOnnxConfig

    class MyConfig(TextEncoderOnnxConfig):
        INPUT_NAMES = ("input_ids", "attention_mask")

    report = xporter_onnx.export(tiny_bert_dir, tmp_path / "out", custom_onnx_config=MyConfig)
    assert list(report.parts["model"]["inputs"]) == ["input_ids", "attention_mask"] and report.ok


def test_opset_override(tiny_bert_dir, tmp_path):
    import onnx

    xporter_onnx.export(tiny_bert_dir, tmp_path / "out", opset=17)
    model = onnx.load(str(tmp_path / "out" / "model.onnx"))
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [17]
    assert json.loads((tmp_path / "out" / "export_report.json").read_text())["opset"] == 17


def test_cpu_o2_keeps_fusions_but_not_the_slow_skip_layernorm(tiny_bert_dir, tmp_path):
    """O2 for CPU fuses attention and GELU, and a default ONNX Runtime session loading the file
    must not turn the residual Add+LayerNormalization back into SkipLayerNormalization (its CPU
    kernel is ~3x slower than the pair; see optimize.py)."""
    import collections

    import onnx
    import onnxruntime as ort

    xporter_onnx.export(tiny_bert_dir, tmp_path / "out", optimize="O2")
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "as_loaded.onnx")
    ort.InferenceSession(str(tmp_path / "out" / "model_optimized.onnx"), options, providers=["CPUExecutionProvider"])
    ops = collections.Counter(node.op_type for node in onnx.load(str(tmp_path / "as_loaded.onnx")).graph.node)
    layers = 2
    assert ops["Attention"] == layers and ops["BiasGelu"] == layers
    assert ops["SkipLayerNormalization"] == 0 and ops["LayerNormalization"] >= 2 * layers


def test_bf16_export_is_valid_and_cpu_validation_failure_names_the_fix(tiny_bert_dir, tmp_path):
    """bf16 graphs get an opset whose ops accept bfloat16 (checker + ORT load), and ORT's CPU
    provider, which has no bfloat16 kernels, gives one clear error instead of a raw one."""
    import onnx
    from xporter.errors import ExportError, ValidationError

    report = xporter_onnx.export(tiny_bert_dir, tmp_path / "raw", dtype="bf16", validate=False)
    assert report.opset >= 17
    model = onnx.load(str(tmp_path / "raw" / "model.onnx"))
    onnx.checker.check_model(model, full_check=True)
    assert any(t.data_type == onnx.TensorProto.BFLOAT16 for t in model.graph.initializer)
    with pytest.raises(ValidationError, match="no kernel for .*--device cuda"):
        xporter_onnx.export(tiny_bert_dir, tmp_path / "checked", dtype="bf16")
    assert not (tmp_path / "checked").exists()
    with pytest.raises(ExportError, match="opset 17"):
        xporter_onnx.export(tiny_bert_dir, tmp_path / "old", dtype="bf16", opset=14)


def test_options_object_and_keywords_are_the_same_export(tiny_bert_dir, tmp_path):
    """The Python keywords are the fields of one frozen OnnxExportOptions; passing both is refused."""
    from xporter.options import OnnxExportOptions

    options = OnnxExportOptions(task="feature-extraction", opset=17, shapes={"batch_size": 1, "sequence_length": 8})
    report = xporter_onnx.export(tiny_bert_dir, tmp_path / "out", options=options)
    assert (report.task, report.opset, report.parts["model"]["trace_shapes"]["input_ids"]) == ("feature-extraction", 17,
                                                                                         [1, 8])
    assert options.opset == 17  # the exporter resolves its own copy, never the caller's object
    with pytest.raises(TypeError, match="not both"):
        xporter_onnx.export(tiny_bert_dir, tmp_path / "again", options=options, opset=18)
    with pytest.raises(TypeError, match="unexpected export option 'opst'"):
        xporter_onnx.export(tiny_bert_dir, tmp_path / "again", opst=18)
    assert not (tmp_path / "again").exists()


def test_cli_hands_the_registered_exporter_one_frozen_options_object(tiny_bert_dir, tmp_path, monkeypatch):
    """`xporter export onnx` finds the (onnx, pt) exporter through the registry and calls it with an
    OnnxExportOptions (no argparse object past the CLI)."""
    from xporter.cli.main import main
    from xporter.options import OnnxExportOptions
    from xporter.plugins import PLUGINS

    from xporter_onnx import exporter

    assert PLUGINS.find_exporter("onnx", "pt").target == "xporter_onnx.exporter:export_with_options"
    seen = {}
    real = exporter.export_with_options

    def spy(model, output, options, progress):
        seen["options"] = options
        return real(model, output, options, progress)

    monkeypatch.setattr(exporter, "export_with_options", spy)
    assert main(["export", "onnx", "-m", str(tiny_bert_dir), str(tmp_path / "out"), "--batch-size", "1",
                 "--no-generic", "--model-kwargs", '{"attn_implementation": "eager"}']) == 0
    options = seen["options"]
    assert type(options) is OnnxExportOptions and options.framework == "pt" and options.generic is False
    assert dict(options.shapes) == {"batch_size": 1} and dict(options.model_kwargs) == {"attn_implementation": "eager"}
    assert (tmp_path / "out" / "model.onnx").is_file()


def test_pytorch_exporter_is_found_without_importing_other_plugins():
    """The ``pt-to-onnx`` entry point names the exporter: looking it up loads the ONNX plugin only."""
    import subprocess
    import sys

    code = ("import sys; from xporter.plugins import PLUGINS; "
            "spec = PLUGINS.find_exporter('onnx', 'pt'); "
            "assert spec.target == 'xporter_onnx.exporter:export_with_options', spec; "
            "others = [m for m in sys.modules if m.startswith(('xporter_tflite', 'xporter_ort_training', 'torch', "
            "'transformers', 'onnxruntime'))]; assert not others, others")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
