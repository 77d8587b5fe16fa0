"""Exported graphs generate the same tokens as PyTorch, driven by ONNX Runtime alone.

Tiny random models (2 layers, hidden 32, vocab 128) are exported with the KV cache, then
:mod:`xporter_onnx.generation` decodes greedily with numpy + onnxruntime and the tokens
are compared with ``model.generate(do_sample=False)`` (decoders, T5) or a cache-free
PyTorch greedy loop (Whisper, whose ``generate`` adds task/language tokens).
"""

from __future__ import annotations

import copy
import dataclasses
import os

import numpy as np
import pytest

os.environ.setdefault("TQDM_DISABLE", "1")

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import xporter_onnx  # noqa: E402
from xporter_onnx.configs import decoder as decoder_table  # noqa: E402
from xporter_onnx.configs import seq2seq as seq2seq_table  # noqa: E402
from xporter_onnx.generation import OnnxDecoderGreedy, OnnxSeq2SeqGreedy, _GreedyState  # noqa: E402
from xporter_onnx.testing import tiny_model_dir  # noqa: E402

NEW_TOKENS = 12


def _row(table, model_type):
    """The first row for ``model_type`` (for bart-likes in the seq2seq table: the seq2seq one)."""
    return next(r for r in table.ARCHITECTURES if r.model_type == model_type)


def _export(tmp_path_factory, table, model_type, task):
    folder = tmp_path_factory.mktemp(f"{model_type}-{task}")
    row = _row(table, model_type)
    # deepcopy: VisionEncoderDecoderConfig pops "model_type" out of the nested tiny dicts
    src = tiny_model_dir(dataclasses.replace(row, tiny=copy.deepcopy(row.tiny)), task, folder / "src")
    report = xporter_onnx.export(src, folder / "onnx", task=task)
    assert report.ok, report.to_dict()["validation"]
    return src, folder / "onnx"


def _no_eos(model):
    """Make generate() run the full NEW_TOKENS (random weights may hit eos early)."""
    model.generation_config.eos_token_id = None
    model.generation_config.forced_eos_token_id = None
    return model


@pytest.fixture(scope="module", params=["gpt2", "llama"])
def decoder_export(request, tmp_path_factory):
    src, out = _export(tmp_path_factory, decoder_table, request.param, "text-generation-with-past")
    model = transformers.AutoModelForCausalLM.from_pretrained(src).eval()
    return request.param, model, out


def test_decoder_graph_has_optimum_names(decoder_export):
    model_type, model, out = decoder_export
    runner = OnnxDecoderGreedy(out / "model.onnx")
    layers = model.config.num_hidden_layers
    past = [f"past_key_values.{i}.{kind}" for i in range(layers) for kind in ("key", "value")]
    assert runner.input_names == ["input_ids", "attention_mask", "position_ids"] + past
    assert runner.output_names == ["logits"] + [p.replace("past_key_values", "present") for p in past]
    shape = runner.session.get_inputs()[3].shape
    assert shape[0] == "batch_size" and shape[2] == "past_sequence_length"
    kv_heads = getattr(model.config, "num_key_value_heads", None) or model.config.num_attention_heads
    assert shape[1] == kv_heads  # GQA: llama's tiny config has 2 kv heads for 4 query heads


def test_decoder_greedy_matches_generate(decoder_export):
    _, model, out = decoder_export
    model = _no_eos(model)
    prompt = torch.tensor([[5, 17, 42, 9, 77, 3, 64], [11, 12, 13, 14, 15, 16, 17]])
    with torch.no_grad():
        expected = model.generate(prompt, attention_mask=torch.ones_like(prompt), do_sample=False,
                                  max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, pad_token_id=0)
    got = OnnxDecoderGreedy(out / "model.onnx").generate(prompt.numpy(), max_new_tokens=NEW_TOKENS)
    assert got.shape == (2, prompt.shape[1] + NEW_TOKENS)
    np.testing.assert_array_equal(got, expected.numpy())


def test_decoder_greedy_left_padding_matches_generate(decoder_export):
    """Batched prompts of different lengths, left-padded: the mask and position_ids handling."""
    _, model, out = decoder_export
    model = _no_eos(model)
    prompt = torch.tensor([[0, 0, 0, 21, 22, 23, 24], [31, 32, 33, 34, 35, 36, 37]])
    mask = torch.tensor([[0, 0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1]])
    with torch.no_grad():
        expected = model.generate(prompt, attention_mask=mask, do_sample=False, max_new_tokens=NEW_TOKENS,
                                  min_new_tokens=NEW_TOKENS, pad_token_id=0)
    got = OnnxDecoderGreedy(out / "model.onnx").generate(prompt.numpy(), attention_mask=mask.numpy(),
                                                         max_new_tokens=NEW_TOKENS)
    np.testing.assert_array_equal(got, expected.numpy())


def test_decoder_greedy_stops_at_eos_like_generate(decoder_export):
    _, model, out = decoder_export
    model = _no_eos(model)
    prompt = torch.tensor([[5, 17, 42, 9]])
    with torch.no_grad():
        free = model.generate(prompt, do_sample=False, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS,
                              pad_token_id=0)
    eos = int(free[0, prompt.shape[1] + 4])  # pretend the 5th new token is eos
    with torch.no_grad():
        expected = model.generate(prompt, do_sample=False, max_new_tokens=NEW_TOKENS, eos_token_id=eos, pad_token_id=0)
    got = OnnxDecoderGreedy(out / "model.onnx").generate(prompt.numpy(), max_new_tokens=NEW_TOKENS, eos_token_id=eos,
                                                         pad_token_id=0)
    np.testing.assert_array_equal(got, expected.numpy())
    assert got.shape[1] <= prompt.shape[1] + 5


def test_greedy_state_pads_finished_rows():
    state = _GreedyState(eos_token_id=7, pad_token_id=0, batch=2)
    logits = np.zeros((2, 1, 10), dtype=np.float32)
    logits[0, 0, 7] = logits[1, 0, 3] = 1.0
    assert state.next_tokens(logits).tolist() == [7, 3] and not state.done
    logits[:] = 0
    logits[:, 0, 7] = 1.0
    assert state.next_tokens(logits).tolist() == [0, 7] and state.done


def _torch_greedy_seq2seq(model, encoder_inputs, start, steps):
    """Reference: re-run the full PyTorch model on the growing prefix, no cache."""
    ids = torch.full((next(iter(encoder_inputs.values())).shape[0], 1), start, dtype=torch.long)
    with torch.no_grad():
        for _ in range(steps):
            logits = model(**encoder_inputs, decoder_input_ids=ids, use_cache=False).logits
            ids = torch.cat([ids, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    return ids.numpy()


@pytest.fixture(scope="module", params=["t5", "umt5"])
def t5_export(request, tmp_path_factory):
    from xporter_onnx.configs import seq2seq_more

    table = seq2seq_table if request.param == "t5" else seq2seq_more
    src, out = _export(tmp_path_factory, table, request.param, "text2text-generation-with-past")
    return transformers.AutoModelForSeq2SeqLM.from_pretrained(src).eval(), out


def test_t5_folder_layout_and_names(t5_export):
    model, out = t5_export
    runner = OnnxSeq2SeqGreedy.from_folder(out)
    enc = [i.name for i in runner.encoder.get_inputs()]
    assert enc == ["input_ids", "attention_mask"]
    assert [o.name for o in runner.encoder.get_outputs()] == ["last_hidden_state"]
    dec_out = [o.name for o in runner.decoder.get_outputs()]
    layers = model.config.num_decoder_layers
    assert dec_out == ["logits"] + [f"present.{i}.{side}.{kind}" for i in range(layers)
                                    for side in ("decoder", "encoder") for kind in ("key", "value")]
    with_past_in = {i.name for i in runner.decoder_with_past.get_inputs()}
    assert {"input_ids", "encoder_attention_mask", "past_key_values.0.encoder.key"} <= with_past_in
    with_past_out = [o.name for o in runner.decoder_with_past.get_outputs()]
    assert with_past_out == ["logits"] + [f"present.{i}.decoder.{kind}" for i in range(layers) for kind in ("key", "value")]
    # Optimum's merged layout: one file, the inputs of both decoder graphs plus use_cache_branch,
    # the no-past graph's outputs, weights stored once
    import onnx

    merged = onnx.load(str(out / "decoder_model_merged.onnx"))
    assert [i.name for i in merged.graph.input][-1] == "use_cache_branch"
    dec_in = {i.name for i in runner.decoder.get_inputs()}
    assert {i.name for i in merged.graph.input} == with_past_in | dec_in | {"use_cache_branch"}
    assert [o.name for o in merged.graph.output] == dec_out
    assert [n.op_type for n in merged.graph.node] == ["If"]
    weights = {name: sum(t.ByteSize() for t in onnx.load(str(out / name)).graph.initializer)
               for name in ("decoder_model.onnx", "decoder_with_past_model.onnx", "decoder_model_merged.onnx")}
    assert weights["decoder_model_merged.onnx"] <= max(weights["decoder_model.onnx"],
                                                       weights["decoder_with_past_model.onnx"]) * 1.05


@pytest.mark.parametrize("use_past,merged", [(True, False), (False, False), (True, True)],
                         ids=["decoder_with_past", "decoder_only", "decoder_model_merged"])
def test_t5_greedy_matches_generate(t5_export, use_past, merged):
    model, out = t5_export
    model = _no_eos(model)
    ids = torch.tensor([[5, 17, 42, 9, 77, 3, 64, 1], [11, 12, 13, 14, 15, 16, 17, 1]])
    mask = torch.tensor([[1] * 8, [1] * 6 + [0] * 2])
    with torch.no_grad():
        expected = model.generate(input_ids=ids, attention_mask=mask, do_sample=False, max_new_tokens=NEW_TOKENS,
                                  min_new_tokens=NEW_TOKENS)
    runner = OnnxSeq2SeqGreedy.from_folder(out, use_past=use_past, merged=merged)
    got = runner.generate({"input_ids": ids.numpy(), "attention_mask": mask.numpy()},
                          decoder_start_token_id=model.config.decoder_start_token_id, max_new_tokens=NEW_TOKENS)
    np.testing.assert_array_equal(got, expected.numpy())


def test_whisper_greedy_matches_pytorch(tmp_path_factory):
    src, out = _export(tmp_path_factory, seq2seq_table, "whisper", "automatic-speech-recognition-with-past")
    model = transformers.AutoModelForSpeechSeq2Seq.from_pretrained(src).eval()
    frames = 2 * model.config.max_source_positions
    features = torch.from_numpy(np.random.default_rng(0).standard_normal((2, model.config.num_mel_bins, frames))
                                .astype(np.float32))
    start = model.config.decoder_start_token_id
    expected = _torch_greedy_seq2seq(model, {"input_features": features}, start, NEW_TOKENS)
    for merged in (False, True):
        runner = OnnxSeq2SeqGreedy.from_folder(out, merged=merged)
        assert [i.name for i in runner.encoder.get_inputs()] == ["input_features"]
        got = runner.generate({"input_features": features.numpy()}, decoder_start_token_id=start,
                              max_new_tokens=NEW_TOKENS)
        np.testing.assert_array_equal(got, expected)


def test_vision_encoder_decoder_greedy_matches_pytorch(tmp_path_factory):
    src, out = _export(tmp_path_factory, seq2seq_table, "vision-encoder-decoder", "image-to-text-with-past")
    model = transformers.VisionEncoderDecoderModel.from_pretrained(src).eval()
    size = model.config.encoder.image_size
    pixels = torch.from_numpy(np.random.default_rng(0).standard_normal((2, 3, size, size)).astype(np.float32))
    start = model.config.decoder_start_token_id
    expected = _torch_greedy_seq2seq(model, {"pixel_values": pixels}, start, NEW_TOKENS)
    got = OnnxSeq2SeqGreedy.from_folder(out).generate({"pixel_values": pixels.numpy()}, decoder_start_token_id=start,
                                                      max_new_tokens=NEW_TOKENS)
    np.testing.assert_array_equal(got, expected)
