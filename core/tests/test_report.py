"""The core report and validation policy (xporter.report) and the exporter lookup (no unrelated plugin imported)."""

from __future__ import annotations

import json
import types

import pytest

from xporter import ExporterSpec, hookimpl
from xporter.errors import PluginUnavailableError, ValidationError
from xporter.report import ExportReport, OutputCheck, PartValidation, file_entries, raise_if_failed, schema

from core_support import FakeEntryPoint


def _report(tmp_path, checks):
    (tmp_path / "model.bin").write_bytes(b"abc")
    report = ExportReport("m", str(tmp_path), "bert", "fill-mask", "transformers", None, "probe", "fp32", False,
                          backend="probe", framework="pt", shapes={"batch_size": 1})
    report.parts["model"] = {"file": "model.bin", "inputs": {"input_ids": [1, 8]}, "outputs": ["logits"]}
    report.files = file_entries(tmp_path, ["model.bin", "absent.bin"])
    report.validation.append(PartValidation("model", {"input_ids": [1, 8]}, checks))
    return report


def test_report_dict_follows_the_schema(tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    report = _report(tmp_path, [OutputCheck("logits", [1, 8, 5], [1, 8, 5], 1e-6, 1e-4, True, {"cosine_similarity": 1.0})])
    data = json.loads((report.write(tmp_path)).read_text())
    jsonschema.validate(data, schema())
    assert data["ok"] is True and data["max_abs_diff"] == 1e-6 and list(data["files"]) == ["model.bin"]
    assert data["files"]["model.bin"]["sha256"].startswith("ba7816bf")  # sha256("abc")
    bad = dict(data, surprise=1)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema())


def test_static_shape_quantized_report_follows_the_schema(tmp_path):
    """The TFLite layout: no opset, static ``shapes``, quantization options, checks without atol."""
    jsonschema = pytest.importorskip("jsonschema")
    report = _report(tmp_path, [OutputCheck("logits", [1, 5], [1, 5], 0.02, None, True,
                                            {"cosine_similarity": 0.999, "argmax_agreement": 1.0})])
    report.backend, report.exporter, report.quantization = "tflite", "litert-torch", {"mode": "int8-dynamic"}
    report.parts["model"].update(size_bytes=3, float32_size_bytes=12, size_ratio=0.25)
    report.validation.append(PartValidation("decoder_model", {"input_ids": [1, 8]}, [],
                                            ["the LiteRT interpreter failed (exit code -6)"], batches=0))
    data = report.to_dict()
    jsonschema.validate(data, schema())
    assert data["ok"] is False and data["validation"][0]["outputs"][0]["atol"] is None


def test_unvalidated_report_is_not_ok(tmp_path):
    report = _report(tmp_path, [])
    report.validation.clear()
    assert report.to_dict()["ok"] is None and report.to_dict()["validated"] is False


def test_failed_validation_is_one_line_naming_the_output():
    failing = PartValidation("model", {}, [OutputCheck("logits", [2], [2], 0.5, 1e-4, False)])
    with pytest.raises(ValidationError, match="TFLite validation failed: model:logits max abs diff 0.5 > atol 0.0001"):
        raise_if_failed([failing], "TFLite")
    nan = PartValidation("model", {}, [], ["non-finite values: ONNX output model:logits has 3 NaN/Inf values"])
    with pytest.raises(ValidationError) as info:
        raise_if_failed([nan], "ONNX")
    assert "--atol cannot fix" in str(info.value.hint)
    raise_if_failed([PartValidation("model", {}, [OutputCheck("x", [1], [1], 0.0, None, True)])], "ONNX")


def test_find_exporter_imports_only_the_declaring_plugin(isolated, fake_entry_points, monkeypatch):
    """An (onnx, tf) exporter declared as an entry point loads its own plugin, never the others."""
    _, manager = isolated
    imported = []

    def plugin(name):
        module = types.ModuleType(name)

        @hookimpl
        def xporter_register_configs(register, backend):
            imported.append(backend)

        module.xporter_register_configs = xporter_register_configs
        return module

    fake_entry_points(manager, [
        FakeEntryPoint("tflite", "fake_tflite.plugin", lambda: plugin("tflite"), "xporter-tflite"),
        FakeEntryPoint("ort_training", "fake_ort.plugin", lambda: plugin("ort_training"), "xporter-ort-training"),
    ])
    monkeypatch.setattr(manager, "_exporter_entry_points", lambda: [
        FakeEntryPoint("tf-to-onnx", "os.path:join", None, "xporter-tflite")])
    spec = manager.find_exporter("onnx", "tf")
    assert (spec.backend, spec.framework, spec.target) == ("onnx", "tf", "os.path:join")
    assert imported == ["tflite"], imported
    with pytest.raises(PluginUnavailableError, match="no installed plugin exports pt models to tflite"):
        manager.find_exporter("tflite", "pt")
    assert imported == ["tflite"]


def test_find_exporter_prefers_loaded_in_process_plugins(isolated):
    _, manager = isolated
    module = types.ModuleType("in_process")

    @hookimpl
    def xporter_exporters():
        return [ExporterSpec("onnx", "jax", "os:getcwd", "JAX -> ONNX")]

    module.xporter_exporters = xporter_exporters
    manager.register_plugin(module, "jaxonnx")
    assert manager.find_exporter("onnx", "jax").target == "os:getcwd"


def test_backends_share_the_core_vocabulary():
    """Task groups and shape defaults come from xporter.vocabulary, not from per-plugin copies."""
    from xporter import vocabulary

    onnx_text = pytest.importorskip("xporter_onnx.configs.text_encoders")
    dummy = pytest.importorskip("xporter_onnx.dummy")
    assert onnx_text.ALL_TEXT == vocabulary.TEXT_ENCODER_TASKS
    assert dummy.DEFAULT_DUMMY_SHAPES == vocabulary.DEFAULT_SHAPES
    assert vocabulary.shape_flag("decoder_sequence_length") == vocabulary.STATIC_SHAPE_FLAGS["decoder_sequence_length"]
