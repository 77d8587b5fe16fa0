"""Every (model_type, task) in this plugin's tables: tiny random model -> export -> validate."""

from __future__ import annotations

import json

import pytest

from xporter_onnx.configs import all_architectures
from xporter_onnx.testing import skip_unless_known

MY_TABLES = ("text_encoders", "vision", "audio", "multimodal", "sentence_transformers", "time_series")
# Model types the issue lists: every task in the default run. Rows added beyond them run
# their first and last task by default (other heads share the same trunk), the rest with -m slow.
REQUIRED = {"bert", "roberta", "distilbert", "albert", "electra", "xlm-roberta", "camembert", "deberta", "deberta-v2",
            "mpnet", "mobilebert", "modernbert", "vit", "deit", "beit", "convnext", "resnet", "swin", "dinov2",
            "segformer", "detr", "yolos", "mobilevit", "wav2vec2", "hubert", "wavlm", "clip", "siglip"}


def _cases():
    for row in all_architectures():
        if row.config_class.__module__.rsplit(".", 1)[-1] not in MY_TABLES and not _row_module(row) in MY_TABLES:
            continue
        if row.library != "transformers":
            continue
        for i, task in enumerate(row.tasks):
            default = row.model_type in REQUIRED or i in (0, len(row.tasks) - 1)
            marks = (skip_unless_known(row),) if default else (pytest.mark.slow, skip_unless_known(row))
            yield pytest.param(row, task, id=f"{row.model_type}-{task}", marks=marks)


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
    # a pseudo model type (a sub-model, e.g. siglip-text) is not the checkpoint's model_type:
    # callers pick its config explicitly, as Optimum's diffusers exporter does
    custom = row.config_class if row.model_class else None
    report = xporter_onnx.export(source, tmp_path / "onnx", task=task, custom_onnx_config=custom)
    assert report.ok and report.validation, report.to_dict()
    saved = json.loads((tmp_path / "onnx" / "export_report.json").read_text())
    assert saved["task"] == task and saved["ok"] is True
    # one validation per part (model.onnx, or e.g. SAM's vision_encoder + prompt_encoder_mask_decoder)
    assert [v["part"] for v in saved["validation"]] == list(saved["parts"])
    for checked in saved["validation"]:
        part = saved["parts"][checked["part"]]
        assert (tmp_path / "onnx" / part["file"]).is_file()
        assert [c["name"] for c in checked["outputs"]] == list(part["outputs"])
        # validation ran on a different shape than the trace when axes are dynamic
        assert checked["input_shapes"] != part["trace_shapes"]
