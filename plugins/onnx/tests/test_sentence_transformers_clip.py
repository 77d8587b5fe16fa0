"""sentence-transformers CLIP checkpoints (library ``sentence_transformers``, model type ``clip``):
one graph embeds texts and images; onnxruntime's outputs equal ``SentenceTransformer.encode``."""

from __future__ import annotations

import json

import numpy as np
import pytest

TEXTS = ["a photo of a cat", "dog", "the quick brown fox jumps"]


def _tiny_clip_sentence_transformer(folder):
    """A random tiny CLIP with a character-level tokenizer, saved as a sentence-transformers model."""
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    try:
        from sentence_transformers.base.modules import Transformer
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers.models import Transformer

    raw = folder / "raw"
    raw.mkdir(parents=True)
    torch.manual_seed(0)
    text = dict(vocab_size=60, hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
                max_position_embeddings=32, bos_token_id=0, eos_token_id=1, pad_token_id=1)
    vision = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4, image_size=30,
                  patch_size=10)
    CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)).eval().save_pretrained(raw)
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for char in "abcdefghijklmnopqrstuvwxyz":
        vocab[char] = len(vocab)
        vocab[char + "</w>"] = len(vocab)
    (raw / "vocab.json").write_text(json.dumps(vocab))
    (raw / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(str(raw / "vocab.json"), str(raw / "merges.txt"))
    images = CLIPImageProcessor(size={"shortest_edge": 30}, crop_size={"height": 30, "width": 30})
    CLIPProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(raw)
    target = folder / "st"
    SentenceTransformer(modules=[Transformer(str(raw))], device="cpu").save(str(target))
    return target


@pytest.fixture(scope="module")
def st_clip_dir(tmp_path_factory):
    pytest.importorskip("sentence_transformers")
    return _tiny_clip_sentence_transformer(tmp_path_factory.mktemp("st-clip"))


def _images(count):
    from PIL import Image

    rng = np.random.default_rng(count)
    return [Image.fromarray((rng.random((40 + 3 * i, 36, 3)) * 255).astype("uint8")) for i in range(count)]


def test_registered_tasks_match_optimum():
    from pathlib import Path

    from xporter import TasksManager

    reference = json.loads((Path(__file__).parents[3] / "tests/reference/optimum-onnx-support.json").read_text())
    tasks = TasksManager.get_supported_tasks_for_model_type("clip", "onnx", library_name="sentence_transformers")
    assert set(tasks) == set(reference["sentence_transformers:clip"])


def test_clip_sentence_transformer_matches_encode(st_clip_dir, tmp_path):
    import onnxruntime as ort
    from sentence_transformers import SentenceTransformer

    from xporter_onnx.exporter import export

    report = export(st_clip_dir, tmp_path / "onnx")
    assert (report.library, report.model_type, report.task) == ("sentence_transformers", "clip", "feature-extraction")
    assert report.ok and [c.name for c in report.validation[0].outputs] == ["text_embeds", "image_embeds"]
    for name in ("model.onnx", "modules.json", "tokenizer.json", "config.json"):
        assert (tmp_path / "onnx" / name).is_file(), name

    model = SentenceTransformer(str(st_clip_dir), device="cpu")
    images = _images(4)  # a text batch and an image batch of different sizes in one call
    text_features = model.preprocess(TEXTS) if hasattr(model, "preprocess") else model.tokenize(TEXTS)
    image_features = model.preprocess(images) if hasattr(model, "preprocess") else model.tokenize(images)
    feed = {"input_ids": text_features["input_ids"].numpy(), "attention_mask": text_features["attention_mask"].numpy(),
            "pixel_values": image_features["pixel_values"].numpy()}
    session = ort.InferenceSession(str(tmp_path / "onnx" / "model.onnx"), providers=["CPUExecutionProvider"])
    text_embeds, image_embeds = session.run(["text_embeds", "image_embeds"], feed)
    np.testing.assert_allclose(text_embeds, model.encode(TEXTS), atol=1e-4)
    np.testing.assert_allclose(image_embeds, model.encode(images), atol=1e-4)
    assert text_embeds.shape == (3, 16) and image_embeds.shape == (4, 16)
