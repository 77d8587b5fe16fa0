"""The `xporter` console script, driven in subprocesses against the installed test plugins.

`tests/test_plugins` (distribution xporter-test-plugins) is pip-installed by the README's
test command; it provides a working backend `dummy`, a `broken` one whose import raises
and a `needsdep` one whose declared dependency is missing.
"""

import json
import os
import shutil
import subprocess
import sys
from importlib import metadata

import pytest

XPORTER = shutil.which("xporter", path=os.path.dirname(sys.executable)) or "xporter"


def run(*args, env=None):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("XPORTER_")}
    full_env.update(env or {})
    return subprocess.run([XPORTER, *args], capture_output=True, text=True, env=full_env, timeout=120)


@pytest.fixture(scope="module", autouse=True)
def test_plugins_installed():
    try:
        metadata.distribution("xporter-test-plugins")
    except metadata.PackageNotFoundError:
        pytest.fail("tests need the test plugins: pip install ./tests/test_plugins (the README test command does it)")


def test_help_and_version():
    result = run("--help")
    assert result.returncode == 0 and "tasks" in result.stdout and "export" in result.stdout
    assert run("--version").stdout.startswith("xporter ")


def test_tasks_table_and_json():
    table = run("tasks")
    assert table.returncode == 0
    assert "text-classification" in table.stdout and "AutoModelForSequenceClassification" in table.stdout
    rows = json.loads(run("tasks", "--json").stdout)
    by_task = {r["task"]: r for r in rows}
    assert by_task["fill-mask"]["tensorflow"] == "TFAutoModelForMaskedLM"
    assert "default" in by_task["feature-extraction"]["synonyms"]


def test_tasks_for_backend_and_model_type():
    rows = json.loads(run("tasks", "--backend", "dummy", "--model-type", "distilbert", "--json").stdout)
    assert {r["task"] for r in rows} == {"feature-extraction", "fill-mask", "text-classification", "question-answering"}


def test_plugins_listing_reports_each_status():
    result = run("plugins", "--json")
    assert result.returncode == 0
    rows = {r["backend"]: r for r in json.loads(result.stdout)}
    assert rows["dummy"]["status"] == "loaded" and rows["dummy"]["distribution"] == "xporter-test-plugins"
    assert rows["broken"]["status"] == "failed" and "broken on purpose" in rows["broken"]["reason"]
    assert rows["needsdep"]["status"] == "unavailable"
    assert "pip install xporter-needsdep-extra" in rows["needsdep"]["reason"]


def test_plugins_debug_shows_traceback_only_when_asked():
    assert "Traceback" not in run("plugins").stderr
    assert "Traceback" in run("--debug", "plugins").stderr


def test_export_delegates_to_plugin(tmp_path):
    out = tmp_path / "out"
    result = run("export", "dummy", "-m", "some-model", str(out), "--no-inspect")
    assert result.returncode == 0, result.stderr
    assert json.loads((out / "model.json").read_text()) == {"model": "some-model"}
    again = run("export", "dummy", "-m", "some-model", str(out), "--no-inspect")
    assert again.returncode == 1 and "not empty" in again.stderr and "--overwrite" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args, needle", [
    (("export", "onxx", "-m", "x", "out"), "unknown backend 'onxx'"),
    (("export", "broken", "-m", "x", "out"), "failed to load"),
    (("export", "needsdep", "-m", "x", "out"), "missing dependency"),
    (("tasks", "--backend", "dummy", "--model-type", "distilbrt"), "did you mean 'distilbert'"),
])
def test_bad_input_is_one_line_and_nonzero(args, needle):
    result = run(*args)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("xporter: error:") and needle in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def model_dir(tmp_path, config, weights="model.safetensors"):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text(config if isinstance(config, str) else json.dumps(config))
    if weights:
        (folder / weights).write_bytes(b"0")
    return folder


def test_export_resolves_framework_and_task(tmp_path):
    folder = model_dir(tmp_path, {"model_type": "distilbert", "architectures": ["DistilBertForQuestionAnswering"]})
    result = run("export", "dummy", "-m", str(folder), str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    record = json.loads((tmp_path / "out" / "model.json").read_text())
    assert record == {"model": str(folder), "framework": "pt", "task": "question-answering", "model_type": "distilbert"}


@pytest.mark.parametrize("config, weights, extra, needle", [
    (None, None, (), "does not exist; pass an existing local directory"),
    ({"model_type": "distilbert"}, None, (), "no model weights found"),
    ("{broken json", "model.safetensors", (), "config.json is not valid JSON"),
    ({"model_type": "t5", "architectures": ["T5Model"]}, "model.safetensors", (),
     "unsupported transformers model type for backend 'dummy' 't5'"),
    ({"model_type": "distilbert"}, "model.safetensors", ("--task", "text-generation"),
     "unsupported task for 'distilbert' on 'dummy' 'text-generation'"),
    ({"model_type": "distilbert"}, "model.safetensors", ("--task", "fill-mak"), "did you mean 'fill-mask'"),
])
def test_bad_model_input_is_one_line(tmp_path, config, weights, extra, needle):
    folder = model_dir(tmp_path, config, weights) if config is not None else tmp_path / "missing" / "model"
    result = run("export", "dummy", "-m", str(folder), str(tmp_path / "out"), *extra)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], result.stderr
    assert not (tmp_path / "out").exists(), "a failed export leaves no output"


def test_unwritable_output(tmp_path):
    folder = model_dir(tmp_path, {"model_type": "distilbert", "architectures": ["DistilBertModel"]})
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        result = run("export", "dummy", "-m", str(folder), str(locked / "out"))
        if os.geteuid() == 0:  # root ignores directory permissions: /proc refuses even root
            result = run("export", "dummy", "-m", str(folder), "/proc/xporter-out")
        assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1
        assert "cannot write to" in result.stderr or "is a file" in result.stderr, result.stderr
    finally:
        locked.chmod(0o700)


def test_debug_flag_prints_traceback():
    result = run("--debug", "export", "broken", "-m", "x", "out")
    assert result.returncode == 1 and "Traceback" in result.stderr


def test_env_allow_list():
    rows = {r["backend"]: r for r in json.loads(run("plugins", "--json", env={"XPORTER_PLUGINS": "dummy"}).stdout)}
    assert rows["dummy"]["status"] == "loaded"
    assert rows["broken"]["status"] == "disabled" and rows["needsdep"]["status"] == "disabled"


def test_env_block_list():
    rows = {r["backend"]: r for r in json.loads(run("plugins", "--json", env={"XPORTER_DISABLE_PLUGINS": "dummy"}).stdout)}
    assert rows["dummy"]["status"] == "disabled"
    result = run("export", "dummy", "-m", "x", "out", env={"XPORTER_DISABLE_PLUGINS": "dummy"})
    assert result.returncode == 1 and "disabled by XPORTER_DISABLE_PLUGINS" in result.stderr


def test_env_disable_autoload():
    result = run("plugins", "--json", env={"XPORTER_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert json.loads(result.stdout) == []
    failed = run("export", "dummy", "-m", "x", "out", env={"XPORTER_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert failed.returncode == 1 and "unknown backend 'dummy'" in failed.stderr
