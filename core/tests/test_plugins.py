"""Entry-point discovery, lazy loading, failure policy and env switches (monkeypatched discovery)."""

import types

import pytest

from xporter import BackendInfo, TasksManager, hookimpl
from xporter.errors import PluginUnavailableError, UnknownBackendError

from core_support import FakeEntryPoint


class GoodConfig:
    def __init__(self, config, task="feature-extraction", **kwargs):
        self.task = task


def make_plugin(name, loaded_flag, requires=()):
    module = types.ModuleType(name)

    @hookimpl
    def xporter_backend_info():
        return BackendInfo(description=f"{name} backend", requires=requires, install_hint=f"pip install xporter-{name}")

    @hookimpl
    def xporter_register_configs(register, backend):
        loaded_flag.append(backend)
        register("distilbert", "fill-mask", "text-classification")(GoodConfig)

    module.xporter_backend_info = xporter_backend_info
    module.xporter_register_configs = xporter_register_configs
    return module


def raise_(exc):
    raise exc


@pytest.fixture
def three_plugins(isolated, fake_entry_points):
    registry, manager = isolated
    calls = {"good": [], "other": []}
    imported = []

    def loader(name, module):
        def load():
            imported.append(name)
            return module
        return load

    entry_points = [
        FakeEntryPoint("good", "fake_good.plugin", loader("good", make_plugin("good", calls["good"])), "xporter-good"),
        FakeEntryPoint("other", "fake_other.plugin", loader("other", make_plugin("other", calls["other"])), "xporter-other"),
        FakeEntryPoint("broken", "fake_broken.plugin", lambda: raise_(RuntimeError("boom")), "xporter-broken"),
        FakeEntryPoint("nodep", "fake_nodep.plugin", lambda: raise_(ModuleNotFoundError("no tf", name="tensorflow")),
                       "xporter-nodep"),
        FakeEntryPoint("declared", "fake_declared.plugin",
                       loader("declared", make_plugin("declared", [], requires=("no_such_mod_xyz",))), "xporter-declared"),
    ]
    fake_entry_points(manager, entry_points)
    return manager, calls, imported


def test_lookup_loads_only_the_named_backend(three_plugins):
    manager, calls, imported = three_plugins
    tasks = TasksManager.get_supported_tasks_for_model_type("distilbert", "good")
    assert set(tasks) == {"fill-mask", "text-classification"}
    assert imported == ["good"] and calls["other"] == []
    TasksManager.get_supported_tasks_for_model_type("distilbert", "good")
    assert imported == ["good"], "a plugin is imported once"


def test_broken_plugin_is_reported_and_isolated(three_plugins):
    manager, calls, _ = three_plugins
    with pytest.raises(PluginUnavailableError, match="'broken' \\(xporter-broken\\) is failed to load|failed to load"):
        TasksManager.get_supported_tasks_for_model_type("distilbert", "broken")
    record = manager.records()["broken"]
    assert record.status == "failed" and "RuntimeError: boom" in record.reason and "boom" in record.traceback
    assert TasksManager.get_supported_tasks_for_model_type("distilbert", "other")


def test_missing_import_dependency_is_unavailable_with_install_hint(three_plugins):
    manager, _, _ = three_plugins
    with pytest.raises(PluginUnavailableError, match="missing dependency 'tensorflow'.*pip install xporter-nodep"):
        TasksManager.get_supported_tasks_for_model_type("distilbert", "nodep")


def test_declared_requirement_missing_skips_registration(three_plugins):
    manager, _, _ = three_plugins
    record = manager.ensure_loaded("declared")
    assert record.status == "unavailable"
    assert "no_such_mod_xyz" in record.reason and "pip install xporter-declared" in record.reason
    assert manager.registry.tasks_for("distilbert", "declared") == {}


def test_load_all_statuses(three_plugins):
    manager, _, _ = three_plugins
    statuses = {name: r.status for name, r in manager.load_all().items()}
    assert statuses == {"good": "loaded", "other": "loaded", "broken": "failed", "nodep": "unavailable",
                        "declared": "unavailable"}
    assert manager.records()["good"].as_dict()["distribution"] == "xporter-good"


def test_allow_list(three_plugins, monkeypatch):
    manager, _, _ = three_plugins
    monkeypatch.setenv("XPORTER_PLUGINS", "other")
    manager._records = None
    assert manager.records()["good"].status == "disabled"
    with pytest.raises(PluginUnavailableError, match="disabled by XPORTER_PLUGINS"):
        TasksManager.get_supported_tasks_for_model_type("distilbert", "good")
    assert TasksManager.get_supported_tasks_for_model_type("distilbert", "other")


def test_block_list(three_plugins, monkeypatch):
    manager, _, imported = three_plugins
    monkeypatch.setenv("XPORTER_DISABLE_PLUGINS", "good,broken")
    manager._records = None
    assert manager.records()["good"].reason == "disabled by XPORTER_DISABLE_PLUGINS"
    manager.load_all()
    assert "good" not in imported


def test_disable_autoload(isolated, fake_entry_points, monkeypatch):
    _, manager = isolated
    fake_entry_points(manager, [FakeEntryPoint("good", "x", lambda: make_plugin("good", []))])
    manager._autoload = None
    monkeypatch.setenv("XPORTER_DISABLE_PLUGIN_AUTOLOAD", "1")
    with pytest.raises(UnknownBackendError):
        TasksManager.get_supported_tasks_for_model_type("distilbert", "good")
    # in-process registration still works with autoload off
    TasksManager.create_register("local")("distilbert", "fill-mask")(GoodConfig)
    assert TasksManager.get_supported_tasks_for_model_type("distilbert", "local")


def test_register_plugin_in_process(isolated):
    _, manager = isolated
    record = manager.register_plugin(make_plugin("inproc", []), "inproc")
    assert record.status == "loaded"
    assert "fill-mask" in TasksManager.get_supported_tasks_for_model_type("distilbert", "inproc")


def test_a_backends_own_plugin_keeps_its_configs_over_earlier_registrations(isolated):
    registry, manager = isolated
    TasksManager.create_register("clash")("distilbert", "fill-mask")(object)  # user code, before the plugin loads
    record = manager.register_plugin(make_plugin("clash", []), "clash")
    assert record.status == "loaded"
    assert registry.tasks_for("distilbert", "clash")["fill-mask"].config_class is GoodConfig
    assert [o.kept for o in registry.overrides] == ["plugin 'clash'"]


def test_an_explicit_override_is_kept_and_reported(isolated):
    registry, manager = isolated
    TasksManager.create_register("clash", overwrite_existing=True)("distilbert", "fill-mask")(object)
    record = manager.register_plugin(make_plugin("clash", []), "clash")
    assert record.status == "loaded"
    assert registry.tasks_for("distilbert", "clash")["fill-mask"].config_class is object
    assert "kept the config of user code" in registry.overrides[0].describe()


def test_registration_conflict_inside_plugin_fails_that_plugin_only(isolated):
    registry, manager = isolated
    manager.register_plugin(make_plugin("clash", []), "clash")

    intruder = types.ModuleType("intruder")

    @hookimpl
    def xporter_backend_info():
        return BackendInfo(description="third party")

    @hookimpl
    def xporter_register_configs(register, backend):
        TasksManager.create_register("clash")("distilbert", "fill-mask")(object)

    intruder.xporter_backend_info, intruder.xporter_register_configs = xporter_backend_info, xporter_register_configs
    record = manager.register_plugin(intruder, "intruder")
    assert record.status == "failed" and "already registered" in record.reason and "plugin 'clash'" in record.reason
    assert manager.require("clash").status == "loaded"
    assert registry.tasks_for("distilbert", "clash")["fill-mask"].config_class is GoodConfig


def test_exporters_and_cli_commands_hooks(isolated):
    from xporter import CliCommand, ExporterSpec
    from xporter.plugins import load_target

    _, manager = isolated
    module = types.ModuleType("tf_plugin")

    @hookimpl
    def xporter_exporters():
        return [ExporterSpec("onnx", "tf", "os.path:join", "TF -> ONNX"), ExporterSpec("tflite", "tf", "os:getcwd")]

    @hookimpl
    def xporter_cli_commands():
        return [CliCommand("tflite", "export", lambda parser: None, lambda args: 0)]

    module.xporter_exporters, module.xporter_cli_commands = xporter_exporters, xporter_cli_commands
    manager.register_plugin(module, "tflite")
    specs = manager.exporters("onnx", "tf")
    assert [s.target for s in specs] == ["os.path:join"]
    assert load_target(specs[0].target)("a", "b") == "a/b"
    assert manager.exporters("onnx", "pt") == []
    assert [c.name for c in manager.cli_commands("tflite")] == ["tflite"]


def test_backend_extra_command_route(isolated, capsys):
    from xporter import CliCommand
    from xporter.cli.main import main

    _, manager = isolated
    module = types.ModuleType("extra")
    ran = []

    @hookimpl
    def xporter_cli_commands():
        def configure(parser):
            parser.add_argument("--steps", type=int, default=1)

        return [CliCommand("train", "train something", configure, lambda args: ran.append(args.steps) or 0)]

    module.xporter_cli_commands = xporter_cli_commands
    manager.register_plugin(module, "extra")
    import xporter.cli.main as cli_main

    original = cli_main.PLUGINS
    cli_main.PLUGINS = manager
    try:
        assert main(["extra", "train", "--steps", "3"]) == 0
        assert main(["extra", "nope"]) == 1
    finally:
        cli_main.PLUGINS = original
    assert ran == [3]
    assert "unknown command of backend 'extra' 'nope'" in capsys.readouterr().err
