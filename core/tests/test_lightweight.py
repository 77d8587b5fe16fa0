"""`import xporter`, task listings and backend queries must not import a framework."""

import json
import subprocess
import sys

HEAVY = ("torch", "tensorflow", "transformers", "onnx", "onnxruntime")

PROGRAM = """
import json, sys
import xporter
from xporter import TasksManager
TasksManager.get_all_tasks()
TasksManager.map_from_synonym("default")
{extra}
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


def loaded_after(extra: str = "") -> list:
    code = PROGRAM.format(extra=extra, heavy=HEAVY)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_import_and_listing_are_light():
    assert loaded_after() == []


def test_backend_query_is_light():
    # loads the installed test plugin through its entry point in a fresh process
    extra = 'assert "fill-mask" in TasksManager.get_supported_tasks_for_model_type("distilbert", "dummy")'
    assert loaded_after(extra) == []


def test_cli_listing_is_light():
    code = ("import sys, io, contextlib\nfrom xporter.cli.main import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n    main(['tasks']); main(['plugins'])\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stderr
