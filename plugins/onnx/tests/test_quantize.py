"""--quantize / xporter quantize onnx: every variant written, validated against fp32, bad input one line."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from xporter.cli.main import main
from xporter.errors import ValidationError


def _one_error(err):
    lines = [line for line in err.splitlines() if line.startswith("xporter: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture(scope="module")
def bert_export(tiny_bert_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("q") / "bert"
    assert main(["export", "onnx", "-m", str(tiny_bert_dir), str(out), "--quantize", "int8-dynamic,int4,int8-weight"]) == 0
    return out


def _nbits(path):
    """``{node name: (bits, block_size)}`` of the MatMulNBits nodes of ``path``."""
    return {node.name: tuple(next(a.i for a in node.attribute if a.name == key) for key in ("bits", "block_size"))
            for node in onnx.load(str(path)).graph.node if node.op_type == "MatMulNBits"}


def test_export_quantize_writes_validated_variants(bert_export):
    report = json.loads((bert_export / "export_report.json").read_text())
    variants = {v["file"]: v for v in report["quantization"]["variants"]}
    assert set(variants) == {"model_quantized.onnx", "model_q4.onnx", "model_q8w.onnx"}
    for name, entry in variants.items():
        assert entry["ok"] and name in report["files"]
        assert entry["outputs"]["logits"]["cosine"] >= report["quantization"]["thresholds"]["min_cosine"][entry["mode"]]
        assert 0 < entry["size_ratio"] and "argmax_agreement" in entry["outputs"]["logits"]
    # int4 without --block-size: the default 32 reaches every MatMulNBits node (not ORT's own 128).
    assert report["quantization"]["options"]["block_size"] == 32 == variants["model_q4.onnx"]["settings"]["block_size"]
    assert _nbits(bert_export / "model_q4.onnx") and set(_nbits(bert_export / "model_q4.onnx").values()) == {(4, 32)}
    # int8-weight: every eligible MatMul (the classifier head included) is an 8-bit MatMulNBits.
    q8w = _nbits(bert_export / "model_q8w.onnx")
    assert len(q8w) == variants["model_q8w.onnx"]["settings"]["matmul_nbits_nodes"] == len(_nbits(bert_export / "model_q4.onnx"))
    graph = onnx.load(str(bert_export / "model_q8w.onnx")).graph
    constants = {t.name for t in graph.initializer}
    assert set(q8w.values()) == {(8, 32)}
    assert not [n.name for n in graph.node if n.op_type == "MatMul" and n.input[1] in constants]
    assert variants["model_q8w.onnx"]["outputs"]["logits"]["cosine"] >= 0.98
    ops = {n.op_type for n in onnx.load(str(bert_export / "model_quantized.onnx")).graph.node}
    assert ops & {"MatMulInteger", "DynamicQuantizeMatMul", "DynamicQuantizeLinear"}
    assert "LayerNormalization" in {n.op_type for n in onnx.load(str(bert_export / "model.onnx")).graph.node}


def test_quantize_command_static_fp16_and_layout(bert_export, tmp_path, capsys):
    data = tmp_path / "calib.jsonl"
    data.write_text("\n".join(json.dumps({"input_ids": [1, 5, 7, 9, 2], "attention_mask": [1] * 5}) for _ in range(4)))
    out = tmp_path / "js"
    assert main(["quantize", "onnx", str(bert_export), str(out), "--mode", "int8-static,fp16",
                 "--calibration-dataset", str(data), "--layout", "transformers.js", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["layout"] == "transformers.js"
    for name in ("model.onnx", "model_int8.onnx", "model_fp16.onnx"):
        assert (out / "onnx" / name).is_file(), name
    assert (out / "config.json").is_file() and not (out / "model.onnx").exists()
    session = ort.InferenceSession(str(out / "onnx" / "model_fp16.onnx"), providers=["CPUExecutionProvider"])
    assert {i.type for i in session.get_inputs()} == {"tensor(int64)"}
    assert session.get_outputs()[0].type == "tensor(float)"  # keep_io_types: fp32 outputs
    static = {v["mode"]: v for v in report["quantization"]["variants"]}["int8-static"]
    assert static["settings"]["calibration_samples"] == 4


@pytest.mark.parametrize("argv, fix", [
    (["--mode", "int9"], "did you mean 'int4'"),
    (["--mode", "int8-static", "--calibration-dataset", "missing.csv"], "--calibration-dataset"),
    (["--mode", "int8-static", "--calibration-dataset", "BAD"], "--calibration-column"),
    (["--mode", "int4", "--block-size", "7"], "--block-size"),
])
def test_bad_quantize_input_is_one_line(bert_export, tmp_path, capsys, argv, fix):
    bad = tmp_path / "bad.csv"
    bad.write_text("label,score\na,1\n")
    argv = [str(bad) if a == "BAD" else a for a in argv]
    out = tmp_path / "out"
    assert main(["quantize", "onnx", str(bert_export), str(out), *argv]) == 1
    assert fix in _one_error(capsys.readouterr().err)
    assert not out.exists()


def test_variant_under_its_threshold_leaves_nothing(bert_export, tmp_path):
    from xporter_onnx.quantize import QuantizeOptions
    from xporter_onnx.variants import quantize_folder

    with pytest.raises(ValidationError, match="cosine"):
        quantize_folder(bert_export, tmp_path / "strict", ["int8-dynamic"], "optimum", QuantizeOptions(min_cosine=1.0),
                        _Quiet())
    assert not (tmp_path / "strict").exists()


@pytest.mark.parametrize("mode", ["int4", "int8-weight"])
def test_weight_only_on_a_graph_without_eligible_matmul_is_refused(tmp_path, mode):
    from onnx import TensorProto, helper

    from xporter.errors import ExportError
    from xporter_onnx.quantize import QuantizeOptions, quantize_graph

    graph = helper.make_graph([helper.make_node("Add", ["x", "x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    source = tmp_path / "add.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(source))
    with pytest.raises(ExportError) as caught:
        quantize_graph(source, tmp_path / "add_q.onnx", mode, QuantizeOptions())
    assert str(caught.value).startswith(f"{mode}: add.onnx has no MatMul") and "\n" not in str(caught.value)
    assert "int8-dynamic" in caught.value.hint
    assert sorted(p.name for p in tmp_path.iterdir()) == ["add.onnx"]


def test_transformers_js_layout_refuses_int8_weight(bert_export, tiny_bert_dir, tmp_path, capsys):
    out = tmp_path / "web"
    assert main(["quantize", "onnx", str(bert_export), str(out), "--mode", "int8-weight",
                 "--layout", "transformers.js"]) == 1
    line = _one_error(capsys.readouterr().err)
    assert "cannot hold int8-weight" in line and "--layout optimum" in line and not out.exists()
    assert main(["export", "onnx", "-m", str(tiny_bert_dir), str(out), "--quantize", "int4,int8-weight",
                 "--layout", "transformers.js"]) == 1
    assert "cannot hold int8-weight" in _one_error(capsys.readouterr().err) and not out.exists()


def test_default_block_size_reaches_the_options():
    import argparse

    from xporter_onnx.cli import configure_quantization, quantize_options

    parser = argparse.ArgumentParser()
    configure_quantization(parser)
    assert quantize_options(parser.parse_args([])).block_size == 32
    assert quantize_options(parser.parse_args(["--block-size", "128"])).block_size == 128


class _Quiet:
    import contextlib

    @contextlib.contextmanager
    def step(self, name):
        yield


def test_dtype_fp16_keeps_fp32_io_unless_fp16_io(tiny_bert_dir, tmp_path):
    import xporter_onnx

    report = xporter_onnx.export(tiny_bert_dir, tmp_path / "half")
    assert report.dtype == "fp32"
    report = xporter_onnx.export(tiny_bert_dir, tmp_path / "fp16", dtype="fp16")
    assert report.dtype == "fp16" and report.quantization["fp16_conversion"][0]["outputs"]["logits"]["cosine"] > 0.999
    model = onnx.load(str(tmp_path / "fp16" / "model.onnx"))
    assert model.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in model.graph.initializer)
    xporter_onnx.export(tiny_bert_dir, tmp_path / "io16", dtype="fp16", fp16_io=True)
    model = onnx.load(str(tmp_path / "io16" / "model.onnx"))
    assert model.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT16


@pytest.mark.parametrize("stems, needle, fix", [
    (["encoder_model", "decoder_model", "decoder_with_past_model"], "needs decoder_model_merged.onnx",
     "drop --no-merge-decoders"),
    (["text_encoder", "unet"], "cannot hold the part text_encoder.onnx", "--layout optimum"),
])
def test_a_layout_that_cannot_hold_the_parts_names_the_fix(stems, needle, fix):
    from xporter.errors import ExportError
    from xporter_onnx.layout import kept_graphs

    with pytest.raises(ExportError) as caught:
        kept_graphs("transformers.js", stems)
    assert needle in str(caught.value) and fix in caught.value.hint
    assert kept_graphs("optimum", stems) == stems  # Optimum's layout holds every part


@pytest.fixture(scope="module")
def llama_with_past(tmp_path_factory):
    """A tiny random llama exported with past: the decoder graph the greedy checks run on."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    import xporter_onnx

    torch.manual_seed(0)
    config = LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, vocab_size=512, max_position_embeddings=64)
    root = tmp_path_factory.mktemp("llama")
    LlamaForCausalLM(config).eval().save_pretrained(str(root / "src"))
    xporter_onnx.export(root / "src", root / "fp32", task="text-generation-with-past")
    return root / "fp32"


def test_greedy_check_of_a_graph_against_itself_is_exact(llama_with_past):
    from xporter_onnx.quantize_validate import GREEDY_NEW_TOKENS, GREEDY_PROMPTS, greedy_agreement

    model = llama_with_past / "model.onnx"
    result = greedy_agreement(model, model, 512)
    # The teacher-forced loop replays the fp32 greedy run (same tokens, cache and positions) or raises.
    assert result["teacher_forced_agreement"] == result["free_running_agreement"] == result["agreement"] == 1.0
    assert result["gated_on"] == "teacher_forced_agreement" and result["logit_diff_std"] == 0.0
    assert result["first_divergence"] == [GREEDY_NEW_TOKENS] * GREEDY_PROMPTS
    assert result["identical_sequences"] == GREEDY_PROMPTS and result["reference_margin_median"] > 0


def test_int4_keeps_the_lm_head_at_8_bits(llama_with_past, tmp_path):
    from xporter_onnx.quantize import QuantizeOptions, quantize_graph

    settings = quantize_graph(llama_with_past / "model.onnx", tmp_path / "model_q4.onnx", "int4", QuantizeOptions())
    assert settings["heads"] == ["/model/lm_head/MatMul"] and settings["head_bits"] == 8
    bits = {node.name: next(a.i for a in node.attribute if a.name == "bits")
            for node in onnx.load(str(tmp_path / "model_q4.onnx")).graph.node if node.op_type == "MatMulNBits"}
    assert [name for name, value in bits.items() if value == 8] == ["/model/lm_head/MatMul_Q8"]
    assert len(bits) > 1 and all(value == 4 for name, value in bits.items() if "lm_head" not in name)
    settings = quantize_graph(llama_with_past / "model.onnx", tmp_path / "all4.onnx", "int4",
                              QuantizeOptions(head_bits=4))
    assert settings["heads"] == [] and settings["head_bits"] == 4


def test_decoder_under_its_greedy_threshold_is_a_validation_error(llama_with_past, tmp_path, monkeypatch):
    from xporter_onnx import quantize_validate
    from xporter_onnx.quantize import QuantizeOptions
    from xporter_onnx.variants import quantize_folder

    # No variant reaches agreement above 1: the gate, not the quantizer, is under test (cosine bar off).
    monkeypatch.setitem(quantize_validate.MIN_GREEDY_AGREEMENT, "int8-dynamic", 1.01)
    with pytest.raises(ValidationError, match=r"greedy top-1 agreement \(teacher_forced_agreement\)"):
        quantize_folder(llama_with_past, tmp_path / "q", ["int8-dynamic"], "optimum", QuantizeOptions(min_cosine=-1.0),
                        _Quiet())
    assert not (tmp_path / "q").exists()


def test_check_variant_gates_on_the_documented_decoder_minimum():
    from xporter_onnx.quantize_validate import MIN_GREEDY_AGREEMENT, check_variant

    outputs = {"logits": {"cosine": 0.999, "finite": True}}
    low = {"agreement": MIN_GREEDY_AGREEMENT["int4"] - 0.01, "gated_on": "teacher_forced_agreement"}
    assert check_variant("model_q4.onnx", "int4", outputs, low, None)
    assert not check_variant("model_q4.onnx", "int4", outputs, dict(low, agreement=MIN_GREEDY_AGREEMENT["int4"]), None)


def test_llama_int8_weight_and_fp16_variants_pass_the_checker_and_validate(llama_with_past, tmp_path):
    """int8-weight: 8-bit MatMulNBits everywhere, LM head included; fp16: the Casts after the fp32
    ``past_key_values.*`` inputs come before their consumers (onnx.checker used to reject the order)."""
    out = tmp_path / "q"
    assert main(["quantize", "onnx", str(llama_with_past), str(out), "--mode", "int8-weight,fp16"]) == 0
    report = json.loads((out / "export_report.json").read_text())
    variants = {v["file"]: v for v in report["quantization"]["variants"]}
    assert set(variants) == {"model_q8w.onnx", "model_fp16.onnx"}
    for name, entry in variants.items():
        onnx.checker.check_model(str(out / name), full_check=True)
        assert entry["ok"] and name in report["files"]
        assert entry["greedy"]["teacher_forced_agreement"] >= report["quantization"]["thresholds"][
            "min_greedy_agreement"][entry["mode"]]
    assert report["quantization"]["thresholds"]["min_greedy_agreement"]["int8-weight"] == 0.85
    bits = _nbits(out / "model_q8w.onnx")
    assert "/model/lm_head/MatMul_Q8" in bits and len(bits) > 1 and set(bits.values()) == {(8, 32)}
    assert variants["model_q8w.onnx"]["settings"]["heads"] == []  # head_bits 8 == bits: nothing set apart
    assert 0.2 < variants["model_q8w.onnx"]["size_ratio"] < 0.6  # the fp32 token embedding (a Gather) stays
    half = onnx.load(str(out / "model_fp16.onnx"))
    assert {i.type.tensor_type.elem_type for i in half.graph.input if i.name.startswith("past_key_values.")} \
        == {onnx.TensorProto.FLOAT}  # keep_io_types: the casts are in the graph


def test_llama_dtype_fp16_passes_the_checker(tmp_path, llama_with_past):
    import xporter_onnx

    report = xporter_onnx.export(llama_with_past.parent / "src", tmp_path / "fp16", task="text-generation-with-past",
                                 dtype="fp16")
    onnx.checker.check_model(str(tmp_path / "fp16" / "model.onnx"), full_check=True)
    [checked] = report.quantization["fp16_conversion"]
    assert checked["greedy"]["teacher_forced_agreement"] >= 0.95 and checked["outputs"]["logits"]["cosine"] > 0.999


def test_merged_seq2seq_decoder_q4f16_quantizes_the_if_branches(tmp_path):
    """A merged decoder keeps its MatMuls inside the ``If`` branches: they are quantized and counted
    there (a top-level count refused the graph), and its fp16 conversion passes onnx.checker."""
    from xporter_onnx.quantize import _count_ops
    from xporter_onnx.testing import find_row, tiny_model_dir

    source = tiny_model_dir(find_row("t5"), "text2text-generation", tmp_path / "src")
    out = tmp_path / "t5"
    assert main(["export", "onnx", "-m", str(source), str(out), "--layout", "transformers.js",
                 "--quantize", "q4f16"]) == 0
    merged = out / "onnx" / "decoder_model_merged_q4f16.onnx"
    # Not full_check: ONNX shape inference cannot type com.microsoft.MatMulNBits, so an If branch
    # holding one has an untyped output; ORT runs it (entry["ok"] below is its validation).
    onnx.checker.check_model(str(merged))
    graph = onnx.load(str(merged)).graph
    assert [n.op_type for n in graph.node].count("MatMulNBits") == 0 < _count_ops(graph, "MatMulNBits")
    report = json.loads((out / "export_report.json").read_text())
    entry = {v["file"]: v for v in report["quantization"]["variants"]}["decoder_model_merged_q4f16.onnx"]
    assert entry["ok"] and entry["settings"]["matmul_nbits_nodes"] == _count_ops(graph, "MatMulNBits")
