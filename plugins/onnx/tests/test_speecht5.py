"""SpeechT5 text-to-audio: Optimum's four-graph layout, exported through the CLI, synthesizes
the same speech as transformers' ``generate_speech`` when driven by ONNX Runtime alone.

A tiny random SpeechT5ForTextToSpeech (2 layers, hidden 32, 8 mel bins, reduction factor 2)
and a tiny HiFi-GAN are saved locally. The main model has its decoder-prenet dropout at 0 so
PyTorch's synthesis is deterministic and comparable; a second export with dropout 0.5 checks
the in-graph dropout draw against the PyTorch prenet fed the same draw.
"""

from __future__ import annotations

import contextlib
import io
import json
import os

import numpy as np
import pytest

os.environ.setdefault("TQDM_DISABLE", "1")

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from xporter.cli.main import main  # noqa: E402
from xporter_onnx.configs.speecht5 import NOISE_PREFIX, TINY_SPEECHT5  # noqa: E402
from xporter_onnx.text_to_speech import OnnxSpeechT5Synthesizer  # noqa: E402

TEXT = np.array([[4, 15, 22, 7, 31, 9, 12, 40, 5, 18, 27, 6]])
ENCODER_IN = ["input_ids"]
ENCODER_OUT = ["encoder_outputs", "encoder_attention_mask"]
DECODER_IN = ["output_sequence", "speaker_embeddings", "encoder_outputs", "encoder_attention_mask"]
STEP_OUT = ["output_sequence_out", "spectrum", "prob"]
LAYERS = TINY_SPEECHT5["decoder_layers"]
PAST = [f"past_key_values.{i}.{side}.{kind}" for i in range(LAYERS) for side in ("decoder", "encoder")
        for kind in ("key", "value")]


def _save_models(folder, dropout):
    torch.manual_seed(0)
    config = transformers.SpeechT5Config(**TINY_SPEECHT5, speech_decoder_prenet_dropout=dropout)
    model = transformers.SpeechT5ForTextToSpeech(config).eval()
    model.save_pretrained(folder / "tts")
    # initializer_range 0.3: audible (not ~1e-6) waveforms from random weights
    vocoder = transformers.SpeechT5HifiGan(transformers.SpeechT5HifiGanConfig(
        model_in_dim=TINY_SPEECHT5["num_mel_bins"], upsample_initial_channel=16, upsample_rates=[2, 2],
        upsample_kernel_sizes=[4, 4], resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1, 3]],
        normalize_before=True, initializer_range=0.3)).eval()
    with torch.no_grad():  # a non-trivial normalisation, so the graph must keep it
        vocoder.mean.uniform_(-0.5, 0.5)
        vocoder.scale.uniform_(0.5, 2.0)
    vocoder.save_pretrained(folder / "vocoder")
    return folder / "tts", folder / "vocoder"


def _cli_export(src, vocoder, out):
    """``xporter export onnx ... --json``; the report read from stdout (fixtures cannot use capsys)."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(["export", "onnx", "-m", str(src), str(out),  # task inferred: text-to-audio
                     "--model-kwargs", json.dumps({"vocoder": str(vocoder)}), "--json"])
    assert code == 0
    return json.loads(buffer.getvalue())


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("speecht5")
    src, vocoder = _save_models(folder, dropout=0.0)
    report = _cli_export(src, vocoder, folder / "onnx")
    model = transformers.SpeechT5ForTextToSpeech.from_pretrained(src).eval()
    return model, transformers.SpeechT5HifiGan.from_pretrained(vocoder).eval(), folder / "onnx", report


def test_layout_names_and_validation(exported):
    import onnx

    _, _, out, report = exported
    names = {p.name for p in out.iterdir()}
    assert {"encoder_model.onnx", "decoder_model.onnx", "decoder_with_past_model.onnx", "decoder_model_merged.onnx",
            "decoder_postnet_and_vocoder.onnx", "config.json"} <= names

    def graph_io(name):
        graph = onnx.load(str(out / name)).graph
        return [i.name for i in graph.input], [o.name for o in graph.output]

    present = [p.replace("past_key_values", "present") for p in PAST]
    assert graph_io("encoder_model.onnx") == (ENCODER_IN, ENCODER_OUT)
    assert graph_io("decoder_model.onnx") == (DECODER_IN, STEP_OUT + present)
    # transformers 4.57's decoder reads only the cross-attention cache on later steps (the
    # exporter drops the unread encoder_outputs there); 5.x still reads encoder_outputs
    with_past_in, with_past_out = graph_io("decoder_with_past_model.onnx")
    assert with_past_in in (DECODER_IN + PAST, [n for n in DECODER_IN if n != "encoder_outputs"] + PAST)
    assert with_past_out == STEP_OUT + [p for p in present if ".decoder." in p]
    merged_in, merged_out = graph_io("decoder_model_merged.onnx")
    assert sorted(merged_in) == sorted(DECODER_IN + PAST + ["use_cache_branch"]) and merged_out == STEP_OUT + present
    assert graph_io("decoder_postnet_and_vocoder.onnx") == (["spectrogram"], ["waveform"])
    # every graph validated (the merged one branch by branch) on shapes other than the trace's
    assert report["ok"] and {v["part"] for v in report["validation"]} == {
        "encoder_model", "decoder_model", "decoder_with_past_model", "decoder_postnet_and_vocoder",
        "decoder_model_merged"}
    for check in report["validation"]:
        part = report["parts"].get(check["part"])
        assert all(c["ok"] and c["max_abs_diff"] <= 1e-4 for c in check["outputs"]), check
        if part is not None:
            traced = {k: v for k, v in part["trace_shapes"].items() if not k.startswith(NOISE_PREFIX)}
            assert any(check["input_shapes"][k] != v for k, v in traced.items()), (check["part"], traced)
    assert report["task"] == "text-to-audio" and report["model_type"] == "speecht5"


def _pytorch_speech(model, vocoder, speaker, threshold, maxlenratio=20.0):
    ids = torch.from_numpy(TEXT)
    with torch.no_grad():
        spectrogram = model.generate_speech(ids, torch.from_numpy(speaker), threshold=threshold,
                                            maxlenratio=maxlenratio)
        waveform = model.generate_speech(ids, torch.from_numpy(speaker), threshold=threshold,
                                         maxlenratio=maxlenratio, vocoder=vocoder)
    return spectrogram.numpy(), waveform.numpy()


def _postnet(model, raw):
    with torch.no_grad():
        return model.speech_decoder_postnet.postnet(torch.from_numpy(raw)[None])[0].numpy()


@pytest.mark.parametrize("merged", [False, True], ids=["decoder_with_past", "decoder_model_merged"])
def test_onnx_synthesis_matches_generate_speech(exported, merged):
    model, vocoder, out, _ = exported
    speaker = np.random.default_rng(0).standard_normal((1, TINY_SPEECHT5["speaker_embedding_dim"])).astype(np.float32)
    synthesizer = OnnxSpeechT5Synthesizer.from_folder(out, merged=merged)
    # A free run to the length limit (threshold above any reachable sum of reduction_factor probabilities) ...
    free = synthesizer.synthesize(TEXT, speaker, threshold=10.0, maxlenratio=2.0)
    steps = int(TEXT.shape[1] * 2.0 / TINY_SPEECHT5["reduction_factor"])
    assert free.steps == steps and free.spectrogram.shape == (2 * steps, TINY_SPEECHT5["num_mel_bins"])
    expected_spec, expected_wave = _pytorch_speech(model, vocoder, speaker, threshold=10.0, maxlenratio=2.0)
    np.testing.assert_allclose(_postnet(model, free.spectrogram), expected_spec, atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(free.waveform, expected_wave, atol=1e-4, rtol=1e-4)
    assert np.abs(expected_wave).max() > 1e-2  # a real signal, not numerical noise
    # ... then a threshold between two steps' stop probabilities: both stop at the same step.
    sums = free.stop_probabilities.sum(axis=1)
    stop = next(k for k in range(1, steps) if sums[k] > sums[:k].max() + 1e-3)
    threshold = float(sums[stop] + sums[:stop].max()) / 2
    early = synthesizer.synthesize(TEXT, speaker, threshold=threshold)
    expected_spec, expected_wave = _pytorch_speech(model, vocoder, speaker, threshold=threshold)
    assert early.steps == stop + 1 and expected_spec.shape[0] == 2 * (stop + 1)
    np.testing.assert_allclose(_postnet(model, early.spectrogram), expected_spec, atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(early.waveform, expected_wave, atol=1e-4, rtol=1e-4)


def test_missing_vocoder_is_one_line_error(exported, tmp_path, capsys):
    model, _, _, _ = exported
    src = tmp_path / "tts"
    model.save_pretrained(src)
    capsys.readouterr()  # drop save_pretrained's progress bar
    assert main(["export", "onnx", "-m", str(src), str(tmp_path / "out"), "--task", "text-to-audio", "--json"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--model-kwargs '{\"vocoder\"" in err, err
    assert not (tmp_path / "out").exists()
    assert main(["export", "onnx", "-m", str(src), str(tmp_path / "out"), "--task", "text-to-audio",
                 "--model-kwargs", json.dumps({"vocoder": str(tmp_path / "nowhere")}), "--json"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "SpeechT5HifiGan" in err, err


def test_vocoder_kwarg_loads_the_vocoder_not_a_model_argument(exported):
    from xporter_onnx.loader import load_model

    _, vocoder, out, _ = exported
    assert "vocoder" not in json.loads((out / "config.json").read_text())
    source = out.parent / "vocoder"
    model = load_model(out.parent / "tts", "text-to-audio", "transformers", model_kwargs={"vocoder": str(source)},
                       model_class="SpeechT5ForTextToSpeech")
    assert type(model).__name__ == "SpeechT5ForTextToSpeech" and type(model.vocoder).__name__ == "SpeechT5HifiGan"
    assert not hasattr(model.config, "vocoder")
    torch.testing.assert_close(model.vocoder.mean, vocoder.mean)


def test_prenet_dropout_is_drawn_in_graph(tmp_path):
    """Dropout 0.5 (real checkpoints' value): the final decoder graphs draw the mask themselves;
    exposing the draw and feeding it to the PyTorch prenet gives the graph's outputs."""
    import onnx
    import onnxruntime as ort
    import xporter_onnx
    from xporter_onnx.configs.speecht5 import SpeechT5OnnxConfig

    src, vocoder_dir = _save_models(tmp_path, dropout=0.5)
    report = xporter_onnx.export(src, tmp_path / "onnx", task="text-to-audio",
                                 model_kwargs={"vocoder": str(vocoder_dir)})
    assert report.ok
    model = transformers.SpeechT5ForTextToSpeech.from_pretrained(src).eval()
    model.vocoder = transformers.SpeechT5HifiGan.from_pretrained(vocoder_dir).eval()
    parts = {p.name: p for p in SpeechT5OnnxConfig(model.config, task="text-to-audio").export_parts(model)}
    noise = [f"{NOISE_PREFIX}.{i}" for i in range(TINY_SPEECHT5["speech_decoder_prenet_layers"])]
    for name in ("decoder_model", "decoder_with_past_model"):
        graph = onnx.load(str(tmp_path / "onnx" / f"{name}.onnx"))
        assert not {i.name for i in graph.graph.input} & set(noise)
        assert sum(n.op_type == "RandomUniformLike" for n in graph.graph.node) == len(noise)
        graph.graph.output.extend(onnx.helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None) for n in noise)
        session = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
        config = parts[name].config
        inputs = config.generate_dummy_inputs("pt", sequence_length=5, past_sequence_length=4,
                                              encoder_sequence_length=7, seed=3)
        takes = {i.name for i in session.get_inputs()}
        feed = {k: v.numpy() for k, v in inputs.items() if k in takes}
        got = session.run(None, feed)
        draws = got[-len(noise):]
        assert all(d.shape == (5, TINY_SPEECHT5["speech_decoder_prenet_units"]) for d in draws)
        assert all(0.3 < (d < 0.5).mean() < 0.7 for d in draws) and not np.array_equal(draws[0], draws[1])
        inputs.update({n: torch.from_numpy(d) for n, d in zip(noise, draws)})
        wrapper = config.patch_model_for_export(model)
        with torch.no_grad(), config.export_context(model):
            expected = wrapper(*inputs.values())
        for out_name, ref, value in zip(config.outputs, expected, got):
            np.testing.assert_allclose(value, ref.numpy(), atol=1e-5, err_msg=f"{name}:{out_name}")
        # seeded draws: a fresh session repeats them
        again = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feed)
        np.testing.assert_array_equal(again[-1], draws[-1])
    speaker = np.ones((1, TINY_SPEECHT5["speaker_embedding_dim"]), dtype=np.float32)
    speech = OnnxSpeechT5Synthesizer.from_folder(tmp_path / "onnx", merged=True).synthesize(
        TEXT, speaker, threshold=10.0, maxlenratio=1.0)
    assert speech.steps == TEXT.shape[1] // 2 and np.isfinite(speech.waveform).all()
