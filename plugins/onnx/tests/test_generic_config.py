"""The generic path (issue 10, item 4): an unregistered transformers type with a standard head
is exported with a config derived from its model class, validated, and flagged as generic.

The tests hide a registered type (llama, bert) from the registry instead of relying on a type
the tables happen to lack today, so they keep testing the path as the tables grow.
"""

from __future__ import annotations

import json

import pytest

from xporter.errors import UnknownModelTypeError


@pytest.fixture
def unregister(monkeypatch):
    """Make the registry refuse ``model_type`` exactly as it refuses a type no table has."""
    from xporter import TasksManager

    hidden = set()
    constructor, supported = TasksManager.get_exporter_config_constructor, TasksManager.get_supported_tasks_for_model_type

    def refuse(model_type):
        if str(model_type).replace("_", "-") in hidden:
            raise UnknownModelTypeError(f"unsupported transformers model type for backend 'onnx' '{model_type}'")

    def get_constructor(*args, **kwargs):
        refuse(kwargs.get("model_type"))
        return constructor(*args, **kwargs)

    def get_supported(model_type, *args, **kwargs):
        refuse(model_type)
        return supported(model_type, *args, **kwargs)

    monkeypatch.setattr(TasksManager, "get_exporter_config_constructor", staticmethod(get_constructor))
    monkeypatch.setattr(TasksManager, "get_supported_tasks_for_model_type", staticmethod(get_supported))
    return hidden.add


def _tiny(model_type, task, folder):
    from xporter_onnx.testing import find_row, tiny_model_dir

    return tiny_model_dir(find_row(model_type), task, folder)


def test_unregistered_decoder_gets_a_validated_generic_cached_graph(unregister, tmp_path, capsys):
    import xporter_onnx

    source = _tiny("llama", "text-generation", tmp_path / "src")
    unregister("llama")
    report = xporter_onnx.export(source, tmp_path / "onnx")  # task inferred: the cached graph, as registered
    assert report.task == "text-generation-with-past"
    assert report.generic_config == "DecoderOnnxConfig derived from LlamaForCausalLM (model type not registered)"
    assert report.ok and report.validation
    assert any(name.startswith("past_key_values.") for name in report.parts["model"]["inputs"])
    assert "generic config" in capsys.readouterr().err
    saved = json.loads((tmp_path / "onnx" / "export_report.json").read_text())
    assert saved["generic_config"] == report.generic_config


def test_unregistered_encoder_head(unregister, tmp_path):
    import xporter_onnx

    source = _tiny("bert", "text-classification", tmp_path / "src")
    unregister("bert")
    report = xporter_onnx.export(source, tmp_path / "onnx", task="text-classification")
    assert report.ok and report.generic_config.startswith("TextEncoderOnnxConfig derived from BertForSequence")
    assert "token_type_ids" in report.parts["model"]["inputs"]  # BERT's forward takes them


def test_generic_config_is_never_used_unvalidated(unregister, tmp_path):
    import xporter_onnx

    source = _tiny("bert", "feature-extraction", tmp_path / "src")
    unregister("bert")
    with pytest.raises(UnknownModelTypeError, match="drop --no-validate"):
        xporter_onnx.export(source, tmp_path / "onnx", task="feature-extraction", validate=False)
    assert not (tmp_path / "onnx").exists()


def test_generic_off_keeps_the_registry_error(unregister, tmp_path):
    import xporter_onnx

    source = _tiny("bert", "feature-extraction", tmp_path / "src")
    unregister("bert")
    with pytest.raises(UnknownModelTypeError, match="unsupported transformers model type"):
        xporter_onnx.export(source, tmp_path / "onnx", task="feature-extraction", generic=False)


def test_cli_reports_generic_and_no_generic_fails_in_one_line(unregister, tmp_path, capsys):
    from xporter.cli.main import main

    source = _tiny("bert", "feature-extraction", tmp_path / "src")
    unregister("bert")
    assert main(["export", "onnx", "-m", str(source), str(tmp_path / "a"), "--task", "feature-extraction"]) == 0
    assert "generic config: TextEncoderOnnxConfig derived from BertModel" in capsys.readouterr().out
    assert main(["export", "onnx", "-m", str(source), str(tmp_path / "b"), "--task", "feature-extraction",
                 "--no-generic"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bert" in err[0] and not (tmp_path / "b").exists()


def test_heads_without_a_generic_base_name_the_reason():
    from transformers import AutoConfig
    from xporter_onnx.generic import generic_config

    with pytest.raises(UnknownModelTypeError, match="seq2seq config"):
        generic_config("t5", "text2text-generation", AutoConfig.for_model("t5"))
    with pytest.raises(UnknownModelTypeError, match="no transformers class"):
        generic_config("bert", "image-classification", AutoConfig.for_model("bert"))


def test_custom_class_for_a_with_past_task_exports_the_cache(tmp_path):
    """A bare config class passed as ``custom_onnx_config`` gets the cache inputs of a with-past task
    (as the registry's constructors do), not the cache-free graph under the with-past name."""
    import xporter_onnx
    from xporter_onnx.configs.decoder import DecoderOnnxConfig

    source = _tiny("llama", "text-generation", tmp_path / "src")
    report = xporter_onnx.export(source, tmp_path / "onnx", task="text-generation-with-past",
                                 custom_onnx_config=DecoderOnnxConfig)
    assert report.ok and "past_key_values.0.key" in report.parts["model"]["inputs"]
    assert "present.0.value" in report.parts["model"]["outputs"]


def test_cli_generic_with_no_validate_is_one_line_and_exit_1(unregister, tmp_path, capsys):
    from xporter.cli.main import main

    source = _tiny("bert", "feature-extraction", tmp_path / "src")
    unregister("bert")
    assert main(["export", "onnx", "-m", str(source), str(tmp_path / "out"), "--task", "feature-extraction",
                 "--no-validate"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("xporter: error:") and "drop --no-validate" in err[0]
    assert not (tmp_path / "out").exists()
