"""Vision-language models (``configs/vlm.py``): the three-graph split, generated from ONNX Runtime alone.

Each row's tiny random model is exported as ``vision_encoder`` / ``embed_tokens`` /
``decoder_model_merged`` (each validated against PyTorch by the exporter on other shapes than
the trace), then :class:`~xporter_onnx.generation.OnnxVisionLanguageGreedy` generates from
images and left-padded prompts: its tokens must equal ``generate()`` token for token.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

os.environ.setdefault("TQDM_DISABLE", "1")

from xporter_onnx.configs import vlm  # noqa: E402
from xporter_onnx.testing import export_vlm_split, needs_newer_transformers, transformers_knows  # noqa: E402

TASK = "image-text-to-text"
NEW_TOKENS = 8
ROWS = {row.model_type: row for row in vlm.ARCHITECTURES}
# transformers 4.57's own generate() fails on these (the reference, not the export)
GENERATE_FAILS_ON_4X = {"got_ocr2": "4.57's generate() passes vision_feature_layer to get_image_features"}


def _exported(row, tmp_path, **options):
    import xporter_onnx
    from xporter_onnx.testing import tiny_model_dir

    model_dir = tiny_model_dir(row, TASK, tmp_path / "model")
    out = tmp_path / "onnx"
    report = xporter_onnx.export(str(model_dir), str(out), task=TASK, **options)
    return model_dir, out, report


def _prompts(runner, batched_images: bool, seed: int = 0):
    """Two prompts (bos, one image's placeholder tokens, text), the second left-padded by two."""
    rng = np.random.default_rng(seed)
    batch, size = 2, 16
    pixels = rng.uniform(-1, 1, (batch, 3, size, size)).astype(np.float32)
    images = {"pixel_values": pixels}
    if batched_images:
        images = {"pixel_values": pixels[:, None], "pixel_attention_mask": np.ones((batch, 1, size, size), bool)}
    one = {k: v[:1] for k, v in images.items()}
    per_image = runner.vision.run(["image_features"], one)[0].shape[0]
    text = rng.integers(3, 120, (batch, 5))
    ids = np.concatenate([np.ones((batch, 1), np.int64), np.full((batch, per_image), vlm.IMAGE_TOKEN), text], axis=1)
    mask = np.ones_like(ids)
    ids[1] = np.concatenate([[0, 0], ids[1, :-2]])
    mask[1, :2] = 0
    return ids, mask, images


@pytest.mark.parametrize("model_type", sorted(ROWS))
def test_vlm_split_generates_like_generate(model_type, tmp_path):
    import torch
    import transformers

    from xporter_onnx.generation import OnnxVisionLanguageGreedy

    row = ROWS[model_type]
    if not transformers_knows(model_type):
        pytest.skip(f"transformers {transformers.__version__} has no '{model_type}'")
    if model_type in GENERATE_FAILS_ON_4X and int(transformers.__version__.split(".")[0]) < 5:
        pytest.skip(GENERATE_FAILS_ON_4X[model_type])
    if needs_newer_transformers(row):
        pytest.skip(f"{row.class_name} needs transformers >= {row.config_class.MIN_TRANSFORMERS_VERSION}")
    model_dir, out, report = export_vlm_split(row, tmp_path)
    runner = OnnxVisionLanguageGreedy.from_folder(out)
    ids, mask, images = _prompts(runner, row.config_class.BATCHED_IMAGES)
    # the processors' token types: Gemma 3 marks image tokens, PaliGemma the prefix (all of the prompt) with 0
    types = np.zeros_like(ids) if model_type == "paligemma" else (ids == vlm.IMAGE_TOKEN).astype(np.int64)
    got = runner.generate(ids, images, vlm.IMAGE_TOKEN, attention_mask=mask, max_new_tokens=NEW_TOKENS,
                          token_type_ids=types)
    # eager attention, as exported: transformers' SDPA path drops PaliGemma's all-true prefix mask
    model = transformers.AutoModelForImageTextToText.from_pretrained(str(model_dir), attn_implementation="eager").eval()
    extra = {k: torch.tensor(v) for k, v in images.items()}
    if row.config_class.TOKEN_TYPE_IDS:
        extra["token_type_ids"] = torch.tensor(types)
    with torch.no_grad():
        expected = model.generate(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask), **extra,
                                  max_new_tokens=NEW_TOKENS,
                                  min_new_tokens=NEW_TOKENS, do_sample=False)
    np.testing.assert_array_equal(got, expected.numpy())


def test_decoder_graph_takes_embeddings_and_the_cache(tmp_path):
    import onnxruntime as ort

    _, out, _ = _exported(ROWS["llava"], tmp_path)
    session = ort.InferenceSession(str(out / "decoder_model_merged.onnx"), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    assert names[:3] == ["inputs_embeds", "attention_mask", "position_ids"]
    assert names[3:] == [f"past_key_values.{i}.{kind}" for i in range(2) for kind in ("key", "value")]
    assert [o.name for o in session.get_outputs()][0] == "logits"


def test_fp16_export_converts_all_three_graphs(tmp_path):
    """--dtype fp16 on an fp32 checkpoint converts every graph after validation (the merged decoder is
    an exported part here, not a merge of two decoder graphs) and checks each against fp32."""
    import onnx

    _, out, report = _exported(ROWS["llava"], tmp_path, dtype="fp16")
    assert report.ok and report.dtype == "fp16"
    checked = {entry["file"] for entry in report.quantization["fp16_conversion"]}
    assert checked == {"vision_encoder.onnx", "embed_tokens.onnx", "decoder_model_merged.onnx"}
    weights = {t.data_type for t in onnx.load(str(out / "decoder_model_merged.onnx")).graph.initializer
               if len(t.dims) == 2}
    assert onnx.TensorProto.FLOAT16 in weights


def test_transformers_js_layout_puts_the_three_graphs_under_onnx(tmp_path):
    from xporter_onnx.generation import OnnxVisionLanguageGreedy

    _, out, _ = _exported(ROWS["llava"], tmp_path, layout="transformers.js")
    assert sorted(p.name for p in (out / "onnx").glob("*.onnx")) == ["decoder_model_merged.onnx",
                                                                   "embed_tokens.onnx", "vision_encoder.onnx"]
    assert (out / "config.json").exists()
    OnnxVisionLanguageGreedy.from_folder(out)  # finds the graphs under onnx/


def test_prompt_with_the_wrong_number_of_image_tokens_is_refused(tmp_path):
    from xporter_onnx.generation import OnnxVisionLanguageGreedy

    _, out, _ = _exported(ROWS["llava"], tmp_path)
    runner = OnnxVisionLanguageGreedy.from_folder(out)
    ids, mask, images = _prompts(runner, False)
    ids[0, 1] = 5  # one placeholder fewer than the image's features
    with pytest.raises(ValueError, match="image tokens"):
        runner.generate(ids, images, vlm.IMAGE_TOKEN, attention_mask=mask, max_new_tokens=2)


def test_cli_exports_the_split_and_reports_each_graph(tmp_path, capsys):
    from xporter.cli.main import main
    from xporter_onnx.testing import tiny_model_dir

    model_dir = tiny_model_dir(ROWS["llava"], TASK, tmp_path / "model")
    capsys.readouterr()
    assert main(["export", "onnx", "-m", str(model_dir), "--json", str(tmp_path / "cli")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["task"] == TASK  # auto-detected from LlavaForConditionalGeneration
    assert set(report["parts"]) == {"vision_encoder", "embed_tokens", "decoder_model_merged"}


def test_a_row_for_a_newer_transformers_is_one_line(tmp_path):
    from xporter.errors import ExportError

    row = ROWS["idefics3"]
    if not needs_newer_transformers(row):
        pytest.skip("this transformers is new enough for every row")
    with pytest.raises(ExportError, match="needs transformers >= 5.0.0"):
        _exported(row, tmp_path)
    assert not (tmp_path / "onnx").exists()


@pytest.mark.parametrize("model_type", ["gemma3", "paligemma"])
def test_token_types_shape_the_prefill_mask(model_type, tmp_path):
    """The decoder's token_type_ids input is live: bidirectional blocks change the prefill logits."""
    import onnxruntime as ort

    _, out, _ = _exported(ROWS[model_type], tmp_path)
    session = ort.InferenceSession(str(out / "decoder_model_merged.onnx"), providers=["CPUExecutionProvider"])
    if "token_type_ids" not in [i.name for i in session.get_inputs()]:
        import transformers

        # 4.57's forward leaves token types out of the inference mask, so the exporter drops the input
        # (the greedy test above checks the graph equals 4.57's generate())
        assert int(transformers.__version__.split(".")[0]) < 5
        pytest.skip("transformers 4.x does not use token_type_ids at inference")
    hidden = session.get_inputs()[0].shape[-1]
    feed = {"inputs_embeds": np.random.default_rng(0).uniform(-1, 1, (1, 6, hidden)).astype(np.float32),
            "attention_mask": np.ones((1, 6), np.int64), "position_ids": np.arange(6)[None]}
    for arg in session.get_inputs():
        if arg.name.startswith("past_key_values."):
            feed[arg.name] = np.zeros((1, arg.shape[1], 0, arg.shape[3]), np.float32)
    runs = [session.run(["logits"], dict(feed, token_type_ids=np.array([types])))[0]
            for types in ([0, 0, 0, 0, 0, 0], [0, 1, 1, 1, 0, 0])]
    assert np.abs(runs[0] - runs[1]).max() > 1e-4


def test_cli_refuses_a_row_newer_than_the_installed_transformers_in_one_line(tmp_path, capsys, monkeypatch):
    from xporter.cli.main import main
    from xporter_onnx.testing import tiny_model_dir

    row = ROWS["llava"]
    model_dir = tiny_model_dir(row, TASK, tmp_path / "model")
    monkeypatch.setattr(row.config_class, "MIN_TRANSFORMERS_VERSION", "99.0")
    capsys.readouterr()
    assert main(["export", "onnx", "-m", str(model_dir), str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "LlavaOnnxConfig needs transformers >= 99.0" in err[0]
    assert "pip install 'transformers>=99.0'" in err[0] and "Traceback" not in err[0]
    assert not (tmp_path / "out").exists()


def test_per_image_features_without_the_named_projector_is_one_error(tmp_path):
    import xporter_onnx
    from xporter.errors import ExportError
    from xporter_onnx.testing import tiny_model_dir

    row = ROWS["llava"]
    model_dir = tiny_model_dir(row, TASK, tmp_path / "model")
    wrong = type("WrongProjector", (row.config_class,), {"PROJECTOR": "no_such_module"})
    with pytest.raises(ExportError, match="returns image features per image and has no single 'no_such_module'"):
        xporter_onnx.export(str(model_dir), str(tmp_path / "out"), task=TASK, custom_onnx_config=wrong)
    assert not (tmp_path / "out").exists()
