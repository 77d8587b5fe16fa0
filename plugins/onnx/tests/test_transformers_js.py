"""--layout transformers.js folders loaded by the real transformers.js (Node, local files only).

MiniLM (real weights) fp32 / q8 / fp16 embeddings vs sentence-transformers; tiny GPT-2 and T5
(fp32) and llama (q4, q4f16) greedy tokens vs the ONNX graphs run from Python. Skipped only when ``node`` is absent; a
missing ``tests/js/node_modules`` fails (CI installs it: scripts/test.sh, suite ``js``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

JS = Path(__file__).resolve().parents[3] / "tests" / "js"
pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


def _node(jobs, tmp_path):
    assert (JS / "node_modules" / "@huggingface" / "transformers").is_dir(), \
        "run: cd tests/js && ONNXRUNTIME_NODE_INSTALL=skip npm ci"
    job_file = tmp_path / "jobs.json"
    job_file.write_text(json.dumps(jobs))
    done = subprocess.run(["node", str(JS / "run.mjs"), str(job_file)], capture_output=True, text=True, timeout=600,
                          cwd=JS)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _export(model, out, *extra):
    from xporter.cli.main import main

    assert main(["export", "onnx", "-m", str(model), str(out), "--layout", "transformers.js", *extra]) == 0
    return out


def test_minilm_fp32_q8_fp16_embeddings_match_sentence_transformers(tmp_path):
    os.environ["HF_HUB_OFFLINE"] = "1"
    from xporter_onnx import demo

    source = demo.minilm_path()
    out = _export(source, tmp_path / "minilm", "--quantize", "int8-dynamic,fp16")
    for name in ("model.onnx", "model_quantized.onnx", "model_fp16.onnx"):
        assert (out / "onnx" / name).is_file(), name
    results = _node([{"kind": "embed", "folder": str(out), "dtype": dtype, "sentences": list(demo.SENTENCES)}
                     for dtype in ("fp32", "q8", "fp16")], tmp_path)
    want = demo.reference_embeddings(source, demo.SENTENCES)
    for dtype, floor, result in zip(("fp32", "q8", "fp16"), (0.9999, 0.97, 0.999), results):
        cosines = demo.cosines(np.asarray(result["embeddings"]), want)
        assert min(cosines) >= floor, (dtype, cosines)


def _tiny(model_type, task, folder):
    from xporter_onnx.testing import find_row, tiny_model_dir

    return tiny_model_dir(find_row(model_type), task, folder)


def test_gpt2_and_t5_greedy_tokens_match_python(tmp_path):
    from xporter_onnx.generation import MergedDecoderBranch, OnnxDecoderGreedy, OnnxSeq2SeqGreedy, open_session

    gpt2 = _export(_tiny("gpt2", "text-generation", tmp_path / "gpt2-src"), tmp_path / "gpt2")
    t5 = _export(_tiny("t5", "text2text-generation", tmp_path / "t5-src"), tmp_path / "t5")
    assert (t5 / "onnx" / "encoder_model.onnx").is_file() and (t5 / "onnx" / "decoder_model_merged.onnx").is_file()
    prompt = [[5, 9, 13, 2, 7, 11]]
    results = _node([{"kind": "causal", "folder": str(gpt2), "dtype": "fp32", "input_ids": prompt, "max_new_tokens": 8},
                     {"kind": "seq2seq", "folder": str(t5), "dtype": "fp32", "input_ids": prompt,
                      "max_new_tokens": 8}], tmp_path)
    gpt2_config = json.loads((gpt2 / "config.json").read_text())
    want = OnnxDecoderGreedy(gpt2 / "onnx" / "model.onnx").generate(
        np.array(prompt), max_new_tokens=8, eos_token_id=gpt2_config.get("eos_token_id"))
    assert results[0]["tokens"][0] == want[0].tolist() and want.shape[1] > len(prompt[0])  # new tokens came
    t5_config = json.loads((t5 / "config.json").read_text())
    merged = open_session(t5 / "onnx" / "decoder_model_merged.onnx")
    runner = OnnxSeq2SeqGreedy(t5 / "onnx" / "encoder_model.onnx", MergedDecoderBranch(merged, False),
                               MergedDecoderBranch(merged, True))
    ids = np.array(prompt)
    want = runner.generate({"input_ids": ids, "attention_mask": np.ones_like(ids)},
                           decoder_start_token_id=t5_config.get("decoder_start_token_id", 0), max_new_tokens=8,
                           eos_token_id=t5_config.get("eos_token_id"))
    assert results[1]["tokens"][0] == want[0].tolist() and want.shape[1] > 1


def _tiny_llama(folder):
    """A seeded 2-layer llama whose greedy tokens vary (the tables' tiny rows repeat one token)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, vocab_size=512, max_position_embeddings=64)
    LlamaForCausalLM(config).eval().save_pretrained(str(folder))
    return folder


def test_llama_q4_and_q4f16_greedy_tokens_match_python(tmp_path):
    """dtype q4 / q4f16 read the int4 / q4f16 files. transformers.js 3.8 runs them with
    onnxruntime-node 1.21, which takes 4-bit MatMulNBits only and returns NaN logits for fp16
    inputs at accuracy level 4: that layout's LM head takes 4 bits and q4f16 computes at level 0."""
    from xporter_onnx.generation import OnnxDecoderGreedy

    out = _export(_tiny_llama(tmp_path / "src"), tmp_path / "llama", "--quantize", "int4,q4f16")
    report = json.loads((out / "export_report.json").read_text())
    settings = {v["mode"]: v["settings"] for v in report["quantization"]["variants"]}
    assert settings["int4"]["head_bits"] == settings["q4f16"]["head_bits"] == 4
    assert (settings["int4"]["accuracy_level"], settings["q4f16"]["accuracy_level"]) == (4, 0)
    prompt = [[5, 9, 13, 2, 7, 11]]
    dtypes = {"q4": "model_q4.onnx", "q4f16": "model_q4f16.onnx"}
    results = _node([{"kind": "causal", "folder": str(out), "dtype": dtype, "input_ids": prompt, "max_new_tokens": 8}
                     for dtype in dtypes], tmp_path)
    eos = json.loads((out / "config.json").read_text()).get("eos_token_id")
    for (dtype, file), result in zip(dtypes.items(), results):
        want = OnnxDecoderGreedy(out / "onnx" / file).generate(np.array(prompt), max_new_tokens=8, eos_token_id=eos)
        assert result["tokens"][0] == want[0].tolist(), dtype
        assert len(set(want[0, len(prompt[0]):].tolist())) > 1, want  # real decoding, not one repeated token


def test_transformers_js_runtime_rejects_8_bit_matmul_nbits(tiny_bert_dir, tmp_path):
    """Why --layout transformers.js refuses int8-weight: its onnxruntime-node cannot open the file.
    When this fails, transformers.js's runtime gained 8-bit MatMulNBits: lift layout.TRANSFORMERS_JS_REFUSED."""
    from xporter.cli.main import main

    out = tmp_path / "bert"
    assert main(["export", "onnx", "-m", str(tiny_bert_dir), str(out), "--quantize", "int8-weight,int4"]) == 0
    loaded, refused = _node([{"kind": "session", "file": str(out / "model_q4.onnx")},
                             {"kind": "session", "file": str(out / "model_q8w.onnx")}], tmp_path)
    assert loaded == {"ok": True}
    assert "Only 4b quantization is supported for MatMulNBits" in refused["error"], refused


@pytest.mark.parametrize("model_type", ["llava", "smolvlm"])
def test_vision_language_greedy_tokens_match_python(model_type, tmp_path):
    """transformers.js runs the three-graph split (vision_encoder, embed_tokens, decoder_model_merged)."""
    from xporter_onnx.configs import vlm
    from xporter_onnx.generation import OnnxVisionLanguageGreedy

    row = next(r for r in vlm.ARCHITECTURES if r.model_type == model_type)
    from xporter_onnx.testing import tiny_model_dir, transformers_knows

    if not transformers_knows(model_type):
        pytest.skip(f"this transformers has no '{model_type}'")
    out = _export(tiny_model_dir(row, "image-text-to-text", tmp_path / "src"), tmp_path / model_type)
    runner = OnnxVisionLanguageGreedy.from_folder(out)
    pixels = np.random.default_rng(0).uniform(-1, 1, (1, 3, 16, 16)).astype(np.float32)
    images = {"pixel_values": pixels}
    if row.config_class.BATCHED_IMAGES:
        images = {"pixel_values": pixels[:, None], "pixel_attention_mask": np.ones((1, 1, 16, 16), bool)}
    per_image = runner.vision.run(["image_features"], images)[0].shape[0]
    prompt = [[1] + [vlm.IMAGE_TOKEN] * per_image + [5, 9, 13, 7]]
    job = {"kind": "vlm", "folder": str(out), "dtype": "fp32", "input_ids": prompt, "max_new_tokens": 8}
    for name, value in images.items():
        job[name] = {"dims": list(value.shape), "data": value.astype(np.float32).ravel().tolist()}
    [result] = _node([job], tmp_path)
    config = json.loads((out / "config.json").read_text())
    eos = config.get("eos_token_id", config.get("text_config", {}).get("eos_token_id"))
    want = runner.generate(np.array(prompt), images, vlm.IMAGE_TOKEN, max_new_tokens=8, eos_token_id=eos)
    assert result["tokens"][0] == want[0].tolist() and want.shape[1] > len(prompt[0])
