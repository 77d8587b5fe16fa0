"""Registration, import-lightness and CLI argument errors (no TensorFlow work)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from xporter import TasksManager
from xporter.cli.main import main
from xporter_tflite.architectures import ARCHITECTURES
from xporter_tflite.errors import StaticShapeError
from xporter_tflite.export import build_config

REFERENCE = Path(__file__).resolve().parents[3] / "tests" / "reference" / "optimum-tflite-support.json"
EXTRA = {"gpt2": {"text-generation"}, "vit": {"image-classification"}, "t5": {"text2text-generation"}}


def _reference():
    if REFERENCE.is_file():
        data = json.loads(REFERENCE.read_text())
        return {key.split(":", 1)[1]: set(tasks) for key, tasks in data.items()}
    return {a.model_type: set(a.tasks) for a in ARCHITECTURES if a.model_type not in EXTRA}


def test_registrations_cover_optimum_tflite_and_extras():
    expected = {**_reference(), **EXTRA}
    for model_type, tasks in expected.items():
        registered = set(TasksManager.get_supported_tasks_for_model_type(model_type, "tflite"))
        assert registered == tasks, model_type
    assert set(TasksManager.registry.model_types("tflite")) == set(expected)


def test_config_class_names_match_optimum():
    if not REFERENCE.is_file():
        pytest.skip("reference table not available")
    for key, tasks in json.loads(REFERENCE.read_text()).items():
        for task, class_name in tasks.items():
            constructor = TasksManager.get_exporter_config_constructor("tflite", model_type=key.split(":")[1], task=task)
            assert constructor.config_class.__name__ == class_name


def test_plugin_is_import_light():
    code = ("import sys; from xporter import TasksManager; "
            "TasksManager.get_supported_tasks_for_model_type('bert', 'tflite'); "
            "import xporter_tflite.plugin, xporter_tflite.cli; "
            "heavy = [m for m in ('tensorflow', 'transformers', 'torch', 'onnx', 'tf2onnx') if m in sys.modules]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_exporter_spec_declared():
    specs = TasksManager.plugins.exporters("onnx", "tf")
    assert any(s.target == "xporter_tflite.tf_to_onnx:export" for s in specs)
    for framework in ("tf", "pt"):  # the TFLite CLI looks its exporter up the same way as ONNX's
        assert TasksManager.plugins.find_exporter("tflite", framework).target == \
            "xporter_tflite.export:export_with_options"


def test_tflite_options_are_frozen_and_checked_before_loading(tmp_path):
    import dataclasses

    from xporter.errors import ExportError
    from xporter_tflite import export_tflite
    from xporter_tflite.options import TfliteExportOptions
    from xporter_tflite.quantize import QuantizationOptions

    options = TfliteExportOptions.from_kwargs(batch_size=1, sequence_length=8, quantization="fp16")
    assert isinstance(options.quantization, QuantizationOptions) and dict(options.shapes) == {"batch_size": 1,
                                                                                             "sequence_length": 8}
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.validate = False
    with pytest.raises(TypeError, match="unknown shape name"):  # static shapes only: no ONNX dummy sizes
        TfliteExportOptions(shapes={"num_channels": 3})
    with pytest.raises(ExportError, match="--num-validation-samples must be a positive integer"):
        TfliteExportOptions(num_validation_samples=0)
    with pytest.raises(TypeError, match="unexpected export option 'batchsize'"):
        export_tflite(str(tmp_path / "model"), tmp_path / "out", batchsize=1)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("task, given, missing", [
    ("text-classification", dict(batch_size=1), "--sequence-length"),
    ("multiple-choice", dict(batch_size=1, sequence_length=8), "--num-choices"),
    ("feature-extraction", dict(sequence_length=8), "--batch-size"),
])
def test_missing_static_shape_names_the_flag(task, given, missing):
    with pytest.raises(StaticShapeError, match=missing):
        build_config(SimpleNamespace(model_type="bert", vocab_size=10), "bert", task, given)


def test_vision_needs_image_size():
    with pytest.raises(StaticShapeError, match="--height N --width N"):
        build_config(SimpleNamespace(model_type="vit", num_channels=3), "vit", "image-classification", dict(batch_size=1))


def test_pytorch_only_model_type_is_refused(tmp_path, capsys):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama", "architectures": ["LlamaForCausalLM"]}))
    (tmp_path / "model.safetensors").write_bytes(b"")
    code = main(["export", "tflite", "-m", str(tmp_path), str(tmp_path.parent / f"{tmp_path.name}-out"), "--batch-size", "1",
                 "--sequence-length", "8"])
    err = capsys.readouterr().err
    assert code == 1
    assert "unsupported" in err and "llama" in err and "bert" in err
    assert not (tmp_path.parent / f"{tmp_path.name}-out").exists()


def test_missing_calibration_file(tmp_path, capsys):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    code = main(["export", "tflite", "-m", str(tmp_path), str(tmp_path.parent / f"{tmp_path.name}-out"), "--batch-size", "1",
                 "--sequence-length", "8", "--quantize", "int8", "--calibration-dataset", str(tmp_path / "nope.csv")])
    err = capsys.readouterr().err
    assert code == 1
    assert "nope.csv does not exist" in err
