"""PyTorch -> TFLite through litert-torch on transformers 5 (the ``litert`` venv).

Tiny random PyTorch checkpoints (BERT text-classification, ViT image-classification,
GPT-2 and Llama text-generation without past) are saved with ``save_pretrained`` and exported with
``xporter export tflite``; the export's own LiteRT validation compares the interpreter's
outputs with the PyTorch model on the static shapes, and the tests re-check the numbers
independently. Float tolerance: 1e-4 absolute (the exporter's default); measured gaps are
~1e-8..1e-6 on these models. Quantized exports are checked by cosine similarity to PyTorch.

The TF venv has no litert-torch: this module is skipped there (its suite is tflite-torch).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("litert_torch", reason="PyTorch -> TFLite needs litert-torch (the litert venv)")

from tiny_models import SHAPES, tiny_config, write_bert_tokenizer  # noqa: E402
from xporter.cli.main import main  # noqa: E402

FLOAT_ATOL = 1e-4
# llama-style decoders have no TF implementation, so tiny_models (TF tables) lacks them
LLAMA = dict(vocab_size=100, hidden_size=32, intermediate_size=37, num_hidden_layers=1, num_attention_heads=4,
             num_key_value_heads=2, max_position_embeddings=64)


def _save_torch(model_type: str, task: str, directory, seed: int = 0):
    import torch
    from transformers import AutoConfig
    from xporter import TasksManager

    torch.manual_seed(seed)
    config = AutoConfig.for_model(model_type, **LLAMA) if model_type == "llama" else tiny_config(model_type)
    model_class = TasksManager.get_model_class_for_task(task, framework="pt", model_type=config.model_type)
    model = model_class.from_config(config).eval()
    model.save_pretrained(directory)
    return model


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pt") / "bert"
    _save_torch("bert", "text-classification", directory)
    write_bert_tokenizer(directory, 100)
    return directory


def _export(model_dir, out, *flags, capsys):
    code = main(["export", "tflite", "-m", str(model_dir), str(out), "--json", *flags])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def _check(report, output="logits", part="model"):
    """One output's comparison in the core report (``validation`` entries of ``part``)."""
    (check,) = [c for v in report["validation"] if v["part"] == part for c in v["outputs"] if c["name"] == output]
    return check


def _independent_gap(model_dir, tflite_path, task, inputs):
    """max |LiteRT - PyTorch| on fresh inputs, computed outside the exporter."""
    import torch
    from ai_edge_litert.interpreter import Interpreter
    from xporter import TasksManager

    model = TasksManager.get_model_from_task(task, str(model_dir), framework="pt", attn_implementation="eager").eval()
    runner = Interpreter(model_path=str(tflite_path)).get_signature_runner()
    got = runner(**inputs)
    with torch.no_grad():
        kwargs = {k: torch.from_numpy(v) if v.dtype == np.float32 else torch.from_numpy(v).long() for k, v in inputs.items()}
        if task == "text-generation":
            kwargs["use_cache"] = False
        expected = model(**kwargs).logits.numpy()
    return float(np.max(np.abs(got["logits"] - expected)))


def test_bert_text_classification_matches_pytorch(bert_dir, tmp_path, capsys):
    out = tmp_path / "bert-tflite"
    report = _export(bert_dir, out, "--batch-size", "2", "--sequence-length", "8", capsys=capsys)
    assert (report["backend"], report["framework"], report["exporter"]) == ("tflite", "pt", "litert-torch")
    assert report["checkpoint_framework"] == "pt" and "litert-torch" in report["versions"]
    assert report["task"] == "text-classification" and report["ok"] is True
    assert _check(report)["max_abs_diff"] <= _check(report)["atol"] == FLOAT_ATOL
    assert report == json.loads((out / "export_report.json").read_text())
    assert {"model.tflite", "config.json", "vocab.txt", "export_report.json"} <= {p.name for p in out.iterdir()}
    from ai_edge_litert.interpreter import Interpreter

    signature = Interpreter(model_path=str(out / "model.tflite")).get_signature_list()["serving_default"]
    assert sorted(signature["inputs"]) == ["attention_mask", "input_ids", "token_type_ids"]
    assert signature["outputs"] == ["logits"]
    rng = np.random.default_rng(7)
    inputs = {"input_ids": rng.integers(5, 100, (2, 8), dtype=np.int32),
              "attention_mask": np.array([[1] * 8, [1] * 5 + [0] * 3], dtype=np.int32),
              "token_type_ids": np.zeros((2, 8), np.int32)}
    assert _independent_gap(bert_dir, out / "model.tflite", "text-classification", inputs) <= FLOAT_ATOL


def test_json_follows_the_core_report_schema(bert_dir, tmp_path, capsys):
    """PyTorch -> TFLite --json validates against the one report schema of every backend."""
    jsonschema = pytest.importorskip("jsonschema")
    from xporter.report import schema

    report = _export(bert_dir, tmp_path / "out", "--batch-size", "1", "--sequence-length", "8", capsys=capsys)
    jsonschema.validate(report, schema())
    assert report["opset"] is None and report["dynamic_axes"] is False and report["validated"] is True


def test_vit_image_classification_matches_pytorch(tmp_path, capsys):
    model_dir = tmp_path / "vit"
    _save_torch("vit", "image-classification", model_dir)
    out = tmp_path / "vit-tflite"
    report = _export(model_dir, out, "--batch-size", "1", "--height", "32", "--width", "32", capsys=capsys)
    assert report["ok"] is True and report["shapes"] == {"batch_size": 1, "num_channels": 3, "height": 32, "width": 32}
    assert _check(report)["max_abs_diff"] <= FLOAT_ATOL
    pixels = {"pixel_values": np.random.default_rng(3).standard_normal((1, 3, 32, 32)).astype(np.float32)}
    assert _independent_gap(model_dir, out / "model.tflite", "image-classification", pixels) <= FLOAT_ATOL


@pytest.mark.parametrize("model_type", ["gpt2", "llama"])
def test_decoder_text_generation_without_past_matches_pytorch(tmp_path, capsys, model_type):
    model_dir = tmp_path / model_type
    _save_torch(model_type, "text-generation", model_dir)
    out = tmp_path / f"{model_type}-tflite"
    report = _export(model_dir, out, "--task", "text-generation", "--batch-size", "1", "--sequence-length", "8",
                     capsys=capsys)
    assert report["ok"] is True
    check = _check(report)
    assert check["shape"] == check["reference_shape"] == [1, 8, 100] and check["max_abs_diff"] <= FLOAT_ATOL
    ids = {"input_ids": np.random.default_rng(5).integers(5, 100, (1, 8), dtype=np.int32),
           "attention_mask": np.ones((1, 8), np.int32)}
    assert _independent_gap(model_dir, out / "model.tflite", "text-generation", ids) <= FLOAT_ATOL


@pytest.mark.parametrize("mode, min_cosine", [("fp16", 0.999), ("int8-dynamic", 0.98), ("int8", 0.95)])
def test_quantized_bert_stays_close_to_pytorch(bert_dir, tmp_path, capsys, mode, min_cosine):
    out = tmp_path / f"bert-{mode}"
    report = _export(bert_dir, out, "--batch-size", "2", "--sequence-length", "8", "--quantize", mode,
                     "--num-calibration-samples", "8", capsys=capsys)
    part = report["parts"]["model"]
    assert report["ok"] is True and report["quantization"]["mode"] == mode
    assert part["size_ratio"] < 1.0, part  # quantized weights are smaller than float32
    check = _check(report)
    assert check["atol"] is None and check["metrics"]["cosine_similarity"] >= min_cosine, check


@pytest.mark.parametrize("extra, needle", [
    (["--batch-size", "1"], "--sequence-length missing"),
    (["--batch-size", "1", "--sequence-length", "8", "--quantize", "int8", "--input-type", "int8"],
     "--input-type int8 is not supported on the PyTorch path"),
    (["--batch-size", "1", "--sequence-length", "8", "--framework", "tf"], "--framework tf needs tensorflow"),
    (["--batch-size", "1", "--sequence-length", "8", "--task", "image-classification"], "image-classification"),
])
def test_bad_input_is_one_line(bert_dir, tmp_path, capsys, extra, needle):
    out = tmp_path / "out"
    code = main(["export", "tflite", "-m", str(bert_dir), str(out), *extra])
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("xporter: error:")]
    assert code == 1 and len(errors) == 1 and needle in errors[0], err
    assert "Traceback" not in err and not out.exists()


def test_unsupported_model_type_is_one_line(tmp_path, capsys):
    model_dir = tmp_path / "llama"
    (model_dir).mkdir()
    (model_dir / "config.json").write_text(json.dumps({"model_type": "speech_to_text"}))
    (model_dir / "model.safetensors").write_bytes(b"")
    code = main(["export", "tflite", "-m", str(model_dir), str(tmp_path / "out"), "--task", "feature-extraction",
                 "--batch-size", "1", "--sequence-length", "8"])
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("xporter: error:")]
    assert code == 1 and len(errors) == 1 and "speech_to_text" in errors[0], errors


def test_torch_only_decoders_registered_without_tensorflow():
    import importlib.util

    from xporter import TasksManager

    assert importlib.util.find_spec("tensorflow") is None  # this venv proves the path needs no TensorFlow
    for model_type in ("llama", "mistral", "qwen2"):
        assert "text-generation" in TasksManager.get_supported_tasks_for_model_type(model_type, "tflite")
    assert "tflite" in TasksManager.plugins.available_backends()


def _table():
    from xporter_tflite.architectures import ARCHITECTURES
    from xporter_tflite.torch_architectures import TORCH_UNSUPPORTED

    return [(a.model_type, task) for a in ARCHITECTURES for task in a.tasks if a.model_type not in TORCH_UNSUPPORTED]


@pytest.mark.parametrize("model_type", ["xlm", "flaubert"])
def test_types_litert_torch_cannot_lower_are_refused_before_loading(tmp_path, capsys, model_type):
    model_dir = tmp_path / model_type
    _save_torch(model_type, "text-classification", model_dir)
    code = main(["export", "tflite", "-m", str(model_dir), str(tmp_path / "out"), "--batch-size", "1",
                 "--sequence-length", "8"])
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("xporter: error:")]
    assert code == 1 and len(errors) == 1 and "lengths.max().item()" in errors[0], errors
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
@pytest.mark.parametrize("model_type, task", _table())
def test_every_tflite_table_pair_from_pytorch(tmp_path, capsys, model_type, task):
    """The whole TF table through litert-torch (``-m slow``): LiteRT matches PyTorch within 1e-4."""
    model_dir = tmp_path / model_type
    _save_torch(model_type, task, model_dir)
    shapes = {k: str(v) for k, v in SHAPES.items()}
    flags = [f"--{k.replace('_', '-')}" for k in shapes]
    args = [item for pair in zip(flags, shapes.values()) for item in pair]
    report = _export(model_dir, tmp_path / "out", "--task", task, *args, capsys=capsys)
    assert report["ok"] is True, report["validation"]


def test_python_api_takes_a_loaded_pytorch_model(tmp_path):
    from transformers import AutoModelForImageClassification
    from xporter_tflite import export_tflite

    torch_dir = tmp_path / "vit"
    _save_torch("vit", "image-classification", torch_dir)
    model = AutoModelForImageClassification.from_pretrained(torch_dir, attn_implementation="eager")
    report = export_tflite(model, tmp_path / "out", task="image-classification", batch_size=1, height=32, width=32)
    assert report["exporter"] == "litert-torch" and report["ok"] is True
    assert _check(report)["max_abs_diff"] <= FLOAT_ATOL
