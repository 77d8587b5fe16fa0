"""Quantization modes: size and accuracy against the float TF model."""

from __future__ import annotations

import pytest

from tiny_models import save_tiny, write_bert_tokenizer

# ~5.3M parameters: big enough that weights, not flatbuffer overhead, dominate the file
MEDIUM_BERT = dict(vocab_size=8000, hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                   intermediate_size=1024, max_position_embeddings=128, num_labels=5)


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    directory = tmp_path_factory.mktemp("quant") / "bert"
    save_tiny("bert", "text-classification", directory)
    write_bert_tokenizer(directory, 100)
    csv = directory.parent / "calibration.csv"
    csv.write_text("label,text\n" + "\n".join(f"{i % 2},w{i} w{i + 3} w{(i * 7) % 90} w{i % 5}" for i in range(40)))
    return directory, csv


def _metrics(report, output, part="model"):
    """The accuracy measures of one output in the core report (quantized checks: no atol)."""
    (check,) = [c for v in report["validation"] if v["part"] == part for c in v["outputs"] if c["name"] == output]
    assert check["ok"] and check["atol"] is None, check
    return check["metrics"]


def test_int8_dynamic_on_5m_bert(tmp_path):
    from xporter_tflite import export_tflite

    checkpoint = save_tiny("bert", "text-classification", tmp_path / "bert", **MEDIUM_BERT)
    report = export_tflite(str(checkpoint), tmp_path / "out", task="text-classification", batch_size=8,
                           sequence_length=32, quantization="int8-dynamic", num_validation_samples=200)
    part = report["parts"]["model"]
    assert part["float32_size_bytes"] > 5_000_000 * 4  # >= 5M float32 parameters
    assert part["size_ratio"] <= 0.3, part["size_ratio"]
    (validation,) = report["validation"]
    assert validation["batches"] == 25  # 200 inputs
    logits = _metrics(report, "logits")
    assert logits["argmax_agreement"] >= 0.99, logits
    assert logits["cosine_similarity"] >= 0.99, logits


def test_full_int8_with_calibration_file(tiny_bert, tmp_path):
    from xporter_tflite import export_tflite
    from xporter_tflite.quantize import QuantizationOptions

    directory, csv = tiny_bert
    options = QuantizationOptions("int8", calibration_dataset=str(csv), num_calibration_samples=16)
    report = export_tflite(str(directory), tmp_path / "out", task="text-classification", batch_size=2,
                           sequence_length=16, quantization=options)
    logits = _metrics(report, "logits")
    assert report["quantization"]["mode"] == "int8" and report["ok"] is True
    assert logits["cosine_similarity"] > 0.9, logits


def test_fp16(tiny_bert, tmp_path):
    from xporter_tflite import export_tflite

    directory, _ = tiny_bert
    report = export_tflite(str(directory), tmp_path / "out", task="text-classification", batch_size=2,
                           sequence_length=16, quantization="fp16")
    logits = _metrics(report, "logits")
    assert logits["cosine_similarity"] > 0.999 and logits["argmax_agreement"] == 1.0, logits
    assert report["parts"]["model"]["size_ratio"] < 1.0


def test_int8x16_on_resnet(tmp_path):
    from xporter_tflite import export_tflite
    from xporter_tflite.quantize import QuantizationOptions

    checkpoint = save_tiny("resnet", "image-classification", tmp_path / "resnet")
    report = export_tflite(str(checkpoint), tmp_path / "out", batch_size=1, height=32, width=32,
                           quantization=QuantizationOptions("int8x16", num_calibration_samples=8))
    logits = _metrics(report, "logits")
    assert report["ok"] is True and logits["cosine_similarity"] > 0.99, logits


def test_interpreter_abort_becomes_validation_error(tiny_bert, tmp_path):
    """int8x16 + float fallback on BERT converts, but LiteRT aborts running it (a C++ abort):
    validation runs the interpreter in a child process, so this is a ValidationError, not a crash."""
    from xporter.errors import ValidationError

    from xporter_tflite import export_tflite
    from xporter_tflite.quantize import QuantizationOptions

    directory, _ = tiny_bert
    options = QuantizationOptions("int8x16", num_calibration_samples=4, fallback_to_float=True)
    with pytest.raises(ValidationError, match="LiteRT interpreter failed"):
        export_tflite(str(directory), tmp_path / "out", task="text-classification", batch_size=2, sequence_length=16,
                      quantization=options)
    assert not (tmp_path / "out").exists()  # a failed validation leaves nothing, as on every backend


def test_calibration_file_without_text_column(tiny_bert, tmp_path):
    from xporter_tflite import export_tflite
    from xporter_tflite.errors import CalibrationError
    from xporter_tflite.quantize import QuantizationOptions

    directory, _ = tiny_bert
    numbers = tmp_path / "numbers.csv"
    numbers.write_text("a,b\n1,2\n3,4\n")
    with pytest.raises(CalibrationError, match="no text column"):
        export_tflite(str(directory), tmp_path / "out", task="text-classification", batch_size=1, sequence_length=8,
                      quantization=QuantizationOptions("int8", calibration_dataset=str(numbers)))
    assert not (tmp_path / "out").exists()
