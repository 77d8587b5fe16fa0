"""TF -> ONNX with tf2onnx on tiny checkpoints, checked by onnx.checker and onnxruntime."""

from __future__ import annotations

import importlib.util
import json

import pytest

from tiny_models import save_tiny

CASES = [
    ("bert", "text-classification"),
    ("distilbert", "question-answering"),
    ("roberta", "feature-extraction"),
    ("gpt2", "text-generation"),
    ("vit", "image-classification"),
    ("t5", "text2text-generation"),
]


@pytest.mark.parametrize("model_type, task", CASES, ids=[m for m, _ in CASES])
def test_tf_to_onnx(model_type, task, tmp_path):
    import onnx
    import onnxruntime as ort

    from xporter_tflite import export_tf_to_onnx

    checkpoint = save_tiny(model_type, task, tmp_path / "model")
    report = export_tf_to_onnx(str(checkpoint), tmp_path / "out", task=task)
    assert report["ok"], report
    for name, component in report["parts"].items():
        path = tmp_path / "out" / component["file"]
        onnx.checker.check_model(str(path))
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        assert [i.name for i in session.get_inputs()] == list(component["inputs"])
        assert [o.name for o in session.get_outputs()] == list(component["outputs"])
        # dynamic axes are named, and validation ran at two sizes
        assert session.get_inputs()[0].shape[0] == "batch_size"
        assert len([v for v in report["validation"] if v["part"] == name]) == 2
    if model_type == "bert":  # exact GELU -> Erfc in TF >= 2.19 (gpt2 uses tanh GELU, tiny T5 ReLU)
        assert report["parts"]["model"]["erfc_rewritten"] >= 1
    assert json.loads((tmp_path / "out" / "export_report.json").read_text())["framework"] == "tf"


@pytest.mark.skipif(importlib.util.find_spec("xporter_onnx") is None, reason="xporter-onnx not installed")
def test_xporter_export_onnx_dispatches_tf_checkpoints(tmp_path, capsys):
    """`xporter export onnx` on a TF checkpoint goes through the (onnx, tf) ExporterSpec, with ONNX-config names."""
    from xporter.cli.main import main

    checkpoint = save_tiny("bert", "token-classification", tmp_path / "model")
    code = main(["export", "onnx", "-m", str(checkpoint), str(tmp_path / "out"), "--task", "token-classification",
                 "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    import jsonschema

    from xporter.report import schema

    report = json.loads((tmp_path / "out" / "export_report.json").read_text())
    assert report["exporter"] == "tf2onnx" and report["parts"]["model"]["io_source"] == "xporter_onnx"
    printed = json.loads(captured.out)  # --json: the same report, in the one schema of every backend
    jsonschema.validate(printed, schema())
    jsonschema.validate(report, schema())
    assert (printed["backend"], printed["framework"], printed["ok"]) == ("onnx", "tf", True)


def test_fallback_io_without_onnx_configs(tmp_path):
    from xporter_tflite import export_tf_to_onnx

    checkpoint = save_tiny("distilbert", "text-classification", tmp_path / "model")
    report = export_tf_to_onnx(str(checkpoint), tmp_path / "out", use_onnx_configs=False, batch_size=1,
                               sequence_length=5)
    component = report["parts"]["model"]
    assert report["ok"] and component["io_source"] == "xporter_tflite"
    assert component["inputs"] == {"input_ids": {"0": "batch_size", "1": "sequence_length"},
                                   "attention_mask": {"0": "batch_size", "1": "sequence_length"}} or \
        component["inputs"] == {"input_ids": {0: "batch_size", 1: "sequence_length"},
                                "attention_mask": {0: "batch_size", 1: "sequence_length"}}


@pytest.mark.skipif(importlib.util.find_spec("xporter_onnx") is None, reason="xporter-onnx not installed")
def test_tf_to_onnx_imports_no_unrelated_plugin(tmp_path):
    """The (onnx, tf) exporter is found through its ``xporter.exporters`` entry point: only the onnx
    and tflite plugins are imported, never ort_training or any other installed plugin."""
    import subprocess
    import sys
    from importlib import metadata

    checkpoint = save_tiny("bert", "text-classification", tmp_path / "model")
    others = sorted({ep.value.split(":")[0] for ep in metadata.entry_points(group="xporter")} - {
        "xporter_onnx.plugin", "xporter_tflite.plugin"} | {"xporter_ort_training", "xporter_ort_training.plugin"})
    code = ("import sys; from xporter.cli.main import main; "
            f"code = main(['export', 'onnx', '-m', {str(checkpoint)!r}, {str(tmp_path / 'out')!r}, '--json']); "
            f"loaded = [m for m in {others!r} if m in sys.modules]; "
            "assert code == 0 and not loaded, (code, loaded)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_pytorch_only_options_are_refused_for_tf(tmp_path):
    from xporter.errors import ExportError
    from xporter.options import OnnxExportOptions
    from xporter.progress import Progress
    from xporter_tflite.tf_to_onnx import export

    for options, flag in ((OnnxExportOptions(optimize="O2"), "--optimize"),
                          (OnnxExportOptions(model_kwargs={"revision": "x"}), "--model-kwargs")):
        with pytest.raises(ExportError, match=f"{flag} is not supported for TensorFlow models"):
            export(str(tmp_path / "model"), tmp_path / "out", options, Progress(enabled=False))
    assert not (tmp_path / "out").exists()


def test_failed_validation_leaves_nothing(tmp_path):
    """The core's policy: a TF->ONNX export that fails validation raises one error and writes nothing."""
    from xporter.errors import ValidationError
    from xporter_tflite import export_tf_to_onnx

    checkpoint = save_tiny("bert", "text-classification", tmp_path / "model")
    with pytest.raises(ValidationError, match="ONNX validation failed: model:logits max abs diff"):
        export_tf_to_onnx(str(checkpoint), tmp_path / "out", atol=1e-30, dynamic_axes=False)
    assert not (tmp_path / "out").exists()
