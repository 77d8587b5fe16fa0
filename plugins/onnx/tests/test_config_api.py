"""The config base API (seed 002) without exporting anything."""

from __future__ import annotations

import subprocess
import sys

import pytest

from xporter import TasksManager


def test_plugin_import_is_light():
    code = ("import sys; from xporter import TasksManager; "
            "t = TasksManager.get_supported_tasks_for_model_type('distilbert', 'onnx'); "
            "assert 'question-answering' in t; "
            "heavy = [m for m in ('torch', 'transformers', 'onnx', 'onnxruntime', 'tensorflow') if m in sys.modules]; "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_dummy_input_defaults_and_overrides():
    from transformers import BertConfig, ViTConfig, Wav2Vec2Config

    bert = TasksManager.get_exporter_config_constructor("onnx", model_type="bert", task="multiple-choice")(BertConfig())
    dummy = bert.generate_dummy_inputs()
    assert dummy["input_ids"].shape == (2, 4, 16)
    assert bert.generate_dummy_inputs(batch_size=3, sequence_length=5, num_choices=2)["input_ids"].shape == (3, 2, 5)
    assert bert.inputs["input_ids"] == {0: "batch_size", 1: "num_choices", 2: "sequence_length"}
    vit = TasksManager.get_exporter_config_constructor("onnx", model_type="vit", task="image-classification")(
        ViTConfig(image_size=64))
    assert vit.generate_dummy_inputs(framework="np")["pixel_values"].shape == (2, 3, 64, 64)
    w2v = TasksManager.get_exporter_config_constructor("onnx", model_type="wav2vec2", task="feature-extraction")(
        Wav2Vec2Config())
    assert w2v.generate_dummy_inputs()["input_values"].shape == (2, 16000)


def test_optimum_output_names():
    from transformers import BertConfig

    def outputs(task):
        return list(TasksManager.get_exporter_config_constructor("onnx", model_type="bert", task=task)(BertConfig()).outputs)

    assert outputs("feature-extraction") == ["last_hidden_state"]
    assert outputs("question-answering") == ["start_logits", "end_logits"]
    assert outputs("token-classification") == ["logits"]


def test_normalized_config_mapping():
    from types import SimpleNamespace

    from xporter_onnx.normalized import NormalizedTextConfig

    gpt2_like = NormalizedTextConfig.with_args(num_layers="n_layer", hidden_size="n_embd", num_attention_heads="n_head")
    cfg = gpt2_like(SimpleNamespace(n_layer=3, n_embd=64, n_head=4, vocab_size=10))
    assert (cfg.num_layers, cfg.hidden_size, cfg.num_key_value_heads, cfg.head_dim) == (3, 64, 4, 16)
    with pytest.raises(AttributeError):
        cfg.not_there


def test_past_key_values_and_behavior():
    from types import SimpleNamespace

    from xporter_onnx import ConfigBehavior, TextDecoderOnnxConfig, TextSeq2SeqOnnxConfig

    cfg = SimpleNamespace(num_hidden_layers=2, hidden_size=8, num_attention_heads=2, vocab_size=10)
    dec = TextDecoderOnnxConfig(cfg, task="text-generation", use_past=True, use_past_in_inputs=True)
    assert "past_key_values.1.value" in dec.inputs and "present.0.key" in dec.outputs
    dummy = dec.generate_dummy_inputs(batch_size=2, sequence_length=3)
    assert dummy["past_key_values.0.key"].shape == (2, 2, 3, 4) and dummy["attention_mask"].shape == (2, 6)
    s2s = TextSeq2SeqOnnxConfig(cfg, task="text2text-generation", use_past=True)
    enc = s2s.with_behavior("encoder")
    assert enc.behavior is ConfigBehavior.ENCODER and list(enc.outputs) == ["last_hidden_state"]
    d = s2s.with_behavior(ConfigBehavior.DECODER, use_past=True, use_past_in_inputs=True)
    assert "past_key_values.0.encoder.key" in d.inputs and "encoder_outputs" in d.inputs
    parts = [p.name for p in s2s.export_parts(SimpleNamespace(get_encoder=lambda: "enc"))]
    assert parts == ["encoder_model", "decoder_model", "decoder_with_past_model"]


def test_atol_per_task():
    from types import SimpleNamespace

    from xporter_onnx import TextEncoderOnnxConfig

    class Cfg(TextEncoderOnnxConfig):
        ATOL_FOR_VALIDATION = {"fill-mask": 1e-3, "default": 1e-5}

    cfg = SimpleNamespace(vocab_size=10, type_vocab_size=2)
    assert Cfg(cfg, task="fill-mask").atol_for_validation == 1e-3
    assert Cfg(cfg, task="text-classification").atol_for_validation == 1e-5


def test_every_reference_task_of_required_types_is_registered():
    import json
    from pathlib import Path

    reference = json.loads((Path(__file__).resolve().parents[3] / "tests" / "reference"
                            / "optimum-onnx-support.json").read_text())
    required = ["bert", "roberta", "distilbert", "albert", "electra", "xlm-roberta", "camembert", "deberta",
                "deberta-v2", "mpnet", "mobilebert", "modernbert", "vit", "deit", "beit", "convnext", "resnet", "swin",
                "dinov2", "segformer", "detr", "yolos", "mobilevit", "wav2vec2", "hubert", "wavlm", "siglip"]
    for model_type in required:
        wanted = set(reference[f"transformers:{model_type}"])
        have = set(TasksManager.get_supported_tasks_for_model_type(model_type, "onnx"))
        assert wanted <= have, (model_type, wanted - have)
    st = set(TasksManager.get_supported_tasks_for_model_type("transformer", "onnx", library_name="sentence_transformers"))
    assert st == set(reference["sentence_transformers:transformer"])
