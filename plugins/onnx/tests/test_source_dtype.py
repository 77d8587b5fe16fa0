"""Exports keep the checkpoint's precision (issue 12): an fp16 checkpoint is traced in fp16 (never
loaded in fp32) and written as an fp16 graph with fp32 edges; fp32 only when asked; bf16 on CPU
falls back to fp32 with one warning line."""

from __future__ import annotations

import json

import numpy as np
import pytest

import xporter_onnx
from xporter_onnx import exporter, source_dtype


def _tiny_llama(folder, dtype):
    """The llama row's tiny model, stored in ``dtype`` (config.json then says so, as real checkpoints do)."""
    import torch

    from xporter_onnx.testing import build_tiny_model, find_row

    model = build_tiny_model("llama", "text-generation", dict(find_row("llama").tiny)).to(getattr(torch, dtype))
    model.save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="module")
def fp16_llama(tmp_path_factory):
    return _tiny_llama(tmp_path_factory.mktemp("llama-fp16"), "float16")


def _spy_load(monkeypatch):
    seen = []
    real = exporter.load_model

    def spy(*args, **kwargs):
        seen.append(kwargs["dtype"])
        return real(*args, **kwargs)

    monkeypatch.setattr(exporter, "load_model", spy)
    return seen


def _elem_types(path):
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    return ({v.name: v.type.tensor_type.elem_type for v in graph.input},
            {v.name: v.type.tensor_type.elem_type for v in graph.output},
            {t.data_type for t in graph.initializer if len(t.dims) == 2})


def test_fp16_checkpoint_exports_fp16_without_an_fp32_copy(fp16_llama, tmp_path, monkeypatch):
    import onnx
    import onnxruntime as ort

    loads = _spy_load(monkeypatch)
    report = xporter_onnx.export(fp16_llama, tmp_path / "out", task="text-generation-with-past")
    assert loads == ["fp16"] and report.dtype == "fp16" and report.ok
    inputs, outputs, weights = _elem_types(tmp_path / "out" / "model.onnx")
    assert weights == {onnx.TensorProto.FLOAT16}
    # fp32 at the edges (what runtimes and transformers.js feed), fp16 inside
    assert inputs["past_key_values.0.key"] == onnx.TensorProto.FLOAT and inputs["input_ids"] == onnx.TensorProto.INT64
    assert {outputs["logits"], outputs["present.1.value"]} == {onnx.TensorProto.FLOAT}
    onnx.checker.check_model(str(tmp_path / "out" / "model.onnx"))
    session = ort.InferenceSession(str(tmp_path / "out" / "model.onnx"), providers=["CPUExecutionProvider"])
    feed = {"input_ids": np.array([[1, 2, 3]], np.int64), "attention_mask": np.ones((1, 3), np.int64),
            "position_ids": np.arange(3, dtype=np.int64)[None]}
    for i in range(2):
        for kind in ("key", "value"):
            feed[f"past_key_values.{i}.{kind}"] = np.zeros((1, 2, 0, 8), np.float32)
    feed = {k: v for k, v in feed.items() if k in {i.name for i in session.get_inputs()}}
    logits = session.run(["logits"], feed)[0]
    assert logits.dtype == np.float32 and logits.shape == (1, 3, 128) and np.isfinite(logits).all()
    written = json.loads((tmp_path / "out" / "export_report.json").read_text())
    assert written["dtype"] == "fp16" and "quantization" not in written or not written["quantization"]


def test_fp32_from_a_half_checkpoint_only_when_asked(fp16_llama, tmp_path, monkeypatch):
    import onnx

    loads = _spy_load(monkeypatch)
    report = xporter_onnx.export(fp16_llama, tmp_path / "out", task="text-generation", dtype="fp32")
    assert loads == ["fp32"] and report.dtype == "fp32" and report.ok
    assert _elem_types(tmp_path / "out" / "model.onnx")[2] == {onnx.TensorProto.FLOAT}


def test_fp16_io_keeps_half_edges(fp16_llama, tmp_path):
    import onnx

    report = xporter_onnx.export(fp16_llama, tmp_path / "out", task="text-generation", dtype="fp16", fp16_io=True)
    assert report.ok and _elem_types(tmp_path / "out" / "model.onnx")[1]["logits"] == onnx.TensorProto.FLOAT16


def test_bf16_checkpoint_on_cpu_exports_fp32_and_says_so(tmp_path, capsys):
    from xporter.cli.main import main

    source = _tiny_llama(tmp_path / "bf16", "bfloat16")
    assert main(["export", "onnx", "-m", str(source), str(tmp_path / "out"), "--task", "text-generation"]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "bfloat16" in warnings[0] and "--dtype fp16" in warnings[0]
    assert json.loads((tmp_path / "out" / "export_report.json").read_text())["dtype"] == "fp32"


@pytest.mark.parametrize("requested, stored, device, expected", [
    ("auto", "fp16", "cpu", ("fp16", "fp16", False, True)),
    ("auto", "bf16", "cuda", ("bf16", "bf16", False, False)),
    ("auto", "bf16", "cpu", ("fp32", "fp32", False, False)),
    ("auto", None, "cpu", ("fp32", "fp32", False, False)),
    ("fp16", "fp32", "cpu", ("fp32", "fp16", True, False)),  # fp32 checkpoint: validate fp16 against fp32
    ("fp16", "bf16", "cpu", ("fp16", "fp16", False, True)),
    ("fp32", "fp16", "cpu", ("fp32", "fp32", False, False)),
])
def test_precision_plan(requested, stored, device, expected):
    plan = source_dtype.plan(requested, stored, device, fp16_io=False)
    assert (plan.trace, plan.graph, plan.convert_after, plan.float32_io) == expected


def test_checkpoint_dtype_reads_both_spellings():
    assert source_dtype.checkpoint_dtype({"torch_dtype": "float16"}) == "fp16"
    assert source_dtype.checkpoint_dtype({"dtype": "bfloat16"}) == "bf16"
    assert source_dtype.checkpoint_dtype({"text_config": {"dtype": "float16"}}) == "fp16"
    assert source_dtype.checkpoint_dtype({}) is None and source_dtype.checkpoint_dtype({"dtype": "int8"}) is None
