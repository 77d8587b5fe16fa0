"""Every registered (model_type, task): tiny random TF checkpoint -> TFLite -> LiteRT validation."""

from __future__ import annotations

import json

import pytest

from tiny_models import SHAPES, save_tiny
from xporter_tflite.architectures import ARCHITECTURES

PAIRS = [(a.model_type, task) for a in ARCHITECTURES for task in a.tasks]


@pytest.mark.parametrize("model_type, task", PAIRS, ids=[f"{m}-{t}" for m, t in PAIRS])
def test_export_and_validate(model_type, task, tmp_path):
    from xporter_tflite import export_tflite

    checkpoint = save_tiny(model_type, task, tmp_path / "model")
    report = export_tflite(str(checkpoint), tmp_path / "out", task=task, **SHAPES)
    assert report["ok"] is True and report["model_type"] == model_type and report["task"] == task
    assert report["checkpoint_framework"] == "tf"
    on_disk = json.loads((tmp_path / "out" / "export_report.json").read_text())
    assert on_disk["ok"] is True
    checks = {v["part"]: v["outputs"] for v in report["validation"]}
    for name, part in report["parts"].items():
        assert (tmp_path / "out" / part["file"]).stat().st_size == part["size_bytes"] > 0
        assert report["files"][part["file"]]["bytes"] == part["size_bytes"]
        for check in checks[name]:
            assert check["ok"] and check["max_abs_diff"] <= check["atol"] == 1e-4, (name, check)
        assert {c["name"] for c in checks[name]} == set(part["outputs"])
    assert (tmp_path / "out" / "config.json").is_file()
    expected = {"t5": {"encoder_model", "decoder_model"}}.get(model_type, {"model"})
    assert set(report["parts"]) == expected == set(checks)
