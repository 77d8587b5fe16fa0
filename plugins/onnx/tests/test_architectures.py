"""Every (model_type, task) in this plugin's tables: tiny random model -> export -> validate."""

from __future__ import annotations

import json

import pytest

from xporter_onnx.configs import all_architectures

MY_TABLES = ("text_encoders", "vision", "audio", "multimodal", "sentence_transformers")


def _cases():
    for row in all_architectures():
        if row.config_class.__module__.rsplit(".", 1)[-1] not in MY_TABLES and not _row_module(row) in MY_TABLES:
            continue
        if row.library != "transformers":
            continue
        for task in row.tasks:
            yield pytest.param(row, task, id=f"{row.model_type}-{task}")


def _row_module(row):
    import importlib

    for name in MY_TABLES:
        module = importlib.import_module(f"xporter_onnx.configs.{name}")
        if row in getattr(module, "ARCHITECTURES", ()):
            return name
    return None


@pytest.mark.parametrize("row,task", list(_cases()))
def test_tiny_export_validates(row, task, tmp_path):
    import xporter_onnx
    from xporter_onnx.testing import tiny_model_dir

    source = tiny_model_dir(row, task, tmp_path / "src")
    report = xporter_onnx.export(source, tmp_path / "onnx", task=task)
    assert report.ok and report.validation, report.to_dict()
    assert (tmp_path / "onnx" / "model.onnx").is_file()
    saved = json.loads((tmp_path / "onnx" / "export_report.json").read_text())
    assert saved["task"] == task and saved["ok"] is True
    outputs = [c["name"] for c in saved["validation"][0]["outputs"]]
    assert outputs == list(saved["parts"]["model"]["outputs"])
    # validation ran on a different shape than the trace when axes are dynamic
    assert saved["validation"][0]["input_shapes"] != saved["parts"]["model"]["trace_shapes"]
