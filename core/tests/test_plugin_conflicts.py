"""Third-party plugins can never turn a built-in backend 'failed' or shadow it silently (issue 14, defect 5)."""

import json
import types

import pytest

from xporter import BackendInfo, TasksManager, hookimpl
from xporter.cli.main import main

from core_support import FakeEntryPoint


class OnnxBert:
    def __init__(self, config, task="feature-extraction", **kwargs):
        self.task = task


class IntruderBert(OnnxBert):
    pass


def plugin(name, register_into=None, config=OnnxBert, extra_hooks=()):
    module = types.ModuleType(name)

    @hookimpl
    def xporter_backend_info():
        return BackendInfo(description=f"{name} backend")

    @hookimpl
    def xporter_register_configs(register, backend):
        target = TasksManager.create_register(register_into) if register_into else register
        target("bert", "feature-extraction", "text-classification")(config)

    module.xporter_backend_info, module.xporter_register_configs = xporter_backend_info, xporter_register_configs
    for hook in extra_hooks:
        setattr(module, hook, hookimpl(lambda: None))
    return module


@pytest.fixture(autouse=True)
def cli_uses_the_isolated_manager(isolated, monkeypatch):
    import xporter.cli.listings
    import xporter.cli.main

    for module in (xporter.cli.main, xporter.cli.listings):
        monkeypatch.setattr(module, "PLUGINS", isolated[1])


def test_intruder_registering_into_onnx_first_cannot_fail_onnx(isolated, fake_entry_points, capsys):
    registry, manager = isolated
    fake_entry_points(manager, [
        FakeEntryPoint("intruder", "intruder.plugin", lambda: plugin("intruder", "onnx", IntruderBert), "acme-intruder"),
        FakeEntryPoint("onnx", "xporter_onnx.plugin", lambda: plugin("onnx"), "xporter-onnx"),
    ])
    records = manager.load_all()
    assert records["onnx"].status == "loaded" and records["intruder"].status == "loaded"
    table = TasksManager.get_supported_tasks_for_model_type("bert", "onnx")
    assert table["text-classification"].config_class is OnnxBert
    assert main(["plugins", "--json"]) == 0
    rows = {r["backend"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["onnx"]["registers"] == "onnx:2"
    assert any("not the one of plugin 'intruder'" in line for line in rows["onnx"]["overrides"])
    assert main(["tasks", "--model-type", "bert"]) == 0
    assert "onnx" in capsys.readouterr().out


def test_second_distribution_claiming_a_builtin_id_is_listed_not_loaded(isolated, fake_entry_points, capsys):
    _, manager = isolated
    loaded = []
    fake_entry_points(manager, [
        FakeEntryPoint("onnx", "evil.plugin", lambda: loaded.append("evil") or plugin("onnx", config=IntruderBert),
                       "evil-onnx"),
        FakeEntryPoint("onnx", "xporter_onnx.plugin", lambda: plugin("onnx"), "xporter-onnx"),
    ])
    assert manager.require("onnx").distribution == "xporter-onnx"
    assert loaded == []
    assert main(["plugins"]) == 0
    captured = capsys.readouterr()
    assert "evil-onnx" in captured.out and "conflict" in captured.out and "xporter-onnx" in captured.out
    assert "evil-onnx also declares backend 'onnx'" in captured.err


def test_two_third_party_distributions_for_one_id_are_both_refused(isolated, fake_entry_points, capsys):
    _, manager = isolated
    fake_entry_points(manager, [
        FakeEntryPoint("coreml", "a.plugin", lambda: plugin("coreml"), "acme-coreml"),
        FakeEntryPoint("coreml", "b.plugin", lambda: plugin("coreml"), "other-coreml"),
    ])
    assert main(["export", "coreml", "-m", "x", "out"]) == 1
    err = capsys.readouterr().err
    assert "acme-coreml" in err and "other-coreml" in err and "uninstall one" in err
    assert main(["plugins", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["status"] for r in rows] == ["conflict", "conflict"]
    assert {r["distribution"] for r in rows} == {"acme-coreml", "other-coreml"}


def test_hook_implementations_for_unknown_hooks_are_reported(isolated, capsys):
    _, manager = isolated
    record = manager.register_plugin(plugin("typo", extra_hooks=("xporter_register_config",)), "typo")
    assert record.status == "loaded"
    assert any("xporter_register_config" in w and "not an xporter hook" in w for w in record.warnings)


def test_failed_plugin_hint_names_a_command_that_works(isolated, fake_entry_points, capsys):
    _, manager = isolated

    def boom():
        raise RuntimeError("boom")

    fake_entry_points(manager, [FakeEntryPoint("broken", "broken.plugin", boom, "acme-broken")])
    assert main(["export", "broken", "-m", "x", "out"]) == 1
    assert "`xporter --debug plugins`" in capsys.readouterr().err
    assert main(["plugins", "--debug"]) == 0  # the form users type also works
    assert "RuntimeError: boom" in capsys.readouterr().err
