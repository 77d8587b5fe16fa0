"""The tables of transformers 5 architectures with standard heads beyond Optimum's list
(``configs/encoder_heads.py``, ``vision_heads.py``, ``audio_heads.py``, ``towers.py``, ``seq2seq_more.py``,
``encoders_more.py``; issue 10).

Each row's tiny random model is exported for each of its tasks and validated against PyTorch
on other shapes than the trace. One row per table runs by default, every other (row, task)
with ``-m slow``. The rows' tasks are checked against the installed transformers' auto
mappings, so a row never claims a head its type lacks nor drops one silently (a table names
the tasks it leaves out, and why, in ``LEFT_OUT``).
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import os

import pytest

os.environ.setdefault("TQDM_DISABLE", "1")

from xporter_onnx.testing import skip_unless_known  # noqa: E402

TABLES = ("encoder_heads", "vision_heads", "audio_heads", "towers", "seq2seq_more", "encoders_more")
# one family per table, on its main task, in the default run
DEFAULT = {"encoder_heads": "ernie", "vision_heads": "focalnet", "audio_heads": "glmasr_encoder",
           "towers": "clip_text_model", "seq2seq_more": "pegasus_x", "encoders_more": "videomae"}


def _tables():
    for name in TABLES:
        try:
            yield name, importlib.import_module(f"xporter_onnx.configs.{name}")
        except ModuleNotFoundError:
            continue


def _cases():
    for name, module in _tables():
        for row in module.ARCHITECTURES:
            for index, task in enumerate(row.tasks):
                marks = [skip_unless_known(row)]
                if not (row.model_type == DEFAULT.get(name) and index == 0):
                    marks.append(pytest.mark.slow)
                yield pytest.param(row, task, id=f"{row.model_type}-{task}", marks=marks)


@pytest.mark.parametrize("row,task", list(_cases()))
def test_export_validates_on_other_shapes(row, task, tmp_path):
    import xporter_onnx
    from xporter_onnx.testing import tiny_model_dir

    source = tiny_model_dir(dataclasses.replace(row, tiny=copy.deepcopy(row.tiny)), task, tmp_path / "src")
    report = xporter_onnx.export(source, tmp_path / "onnx", task=task)
    assert report.ok and report.validation and report.generic_config is None
    traced = [check for check in report.validation if check.part in report.parts]  # the merged decoder: no trace
    assert traced and all(check.input_shapes != report.parts[check.part]["trace_shapes"] for check in traced)


def test_rows_register_with_the_tasks_manager():
    from xporter import TasksManager

    from xporter_onnx.testing import transformers_knows

    for _, module in _tables():
        for row in module.ARCHITECTURES:
            if transformers_knows(row.model_type):
                supported = TasksManager.get_supported_tasks_for_model_type(row.model_type, "onnx")
                for task in row.tasks:
                    assert supported[task].config_class is row.config_class, (row.model_type, task)


def test_row_tasks_are_the_auto_mappings():
    import transformers

    from xporter_onnx.testing import auto_mapping_tasks, transformers_knows

    if int(transformers.__version__.split(".")[0]) < 5:
        pytest.skip("the rows' tasks are transformers 5.24's auto mappings")
    for _, module in _tables():
        left_out = getattr(module, "LEFT_OUT", {})
        by_type = {}  # a type's rows together (a seq2seq family and its ForCausalLM decoder are two rows)
        for row in module.ARCHITECTURES:
            by_type.setdefault(row.model_type, set()).update(t.replace("-with-past", "") for t in row.tasks)
        for model_type, tasks in by_type.items():
            if not transformers_knows(model_type):
                continue
            expected = auto_mapping_tasks(model_type) - set(left_out.get(model_type, {}))
            row = next(r for r in module.ARCHITECTURES if r.model_type == model_type)
            if not expected and getattr(row.config_class, "MODEL_CLASSES", {}).get("feature-extraction"):
                expected = {"feature-extraction"}  # a sub-model type without auto mapping, loaded by its own class
            assert tasks == expected, model_type


def test_rows_are_new_types():
    from xporter_onnx.configs import all_architectures

    for name, module in _tables():
        mine = {r.model_type.replace("-", "_") for r in module.ARCHITECTURES}
        others = {r.model_type.replace("-", "_") for r in all_architectures()
                  if r.library == "transformers" and r not in module.ARCHITECTURES}
        assert not mine & others, (name, sorted(mine & others))
