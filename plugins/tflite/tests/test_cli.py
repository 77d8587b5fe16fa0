"""``xporter export tflite`` end to end on a tiny BERT with a tokenizer."""

from __future__ import annotations

import json

import pytest

from tiny_models import save_tiny, write_bert_tokenizer
from xporter.cli.main import main


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("cli") / "bert"
    save_tiny("bert", "text-classification", directory)
    write_bert_tokenizer(directory, 100)
    return directory


def test_cli_json_report(bert_dir, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["export", "tflite", "-m", str(bert_dir), str(out), "--batch-size", "1", "--sequence-length", "8",
                 "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.loads(captured.out)
    assert report["task"] == "text-classification" and report["ok"] is True
    assert report["shapes"] == {"batch_size": 1, "sequence_length": 8}
    assert (report["backend"], report["framework"], report["exporter"]) == ("tflite", "tf", "tflite-converter")
    assert report == json.loads((out / "export_report.json").read_text())  # --json prints the file's report
    assert {"model.tflite", "vocab.txt", "tokenizer.json", "config.json"} <= {p.name for p in out.iterdir()}
    # the .tflite keeps a named serving signature
    from ai_edge_litert.interpreter import Interpreter

    signature = Interpreter(model_path=str(out / "model.tflite")).get_signature_list()["serving_default"]
    assert sorted(signature["inputs"]) == ["attention_mask", "input_ids", "token_type_ids"]
    assert signature["outputs"] == ["logits"]


def test_cli_json_follows_the_core_report_schema(bert_dir, tmp_path, capsys):
    """TFLite --json and export_report.json validate against the one schema of every backend, quantized too."""
    jsonschema = pytest.importorskip("jsonschema")
    from xporter.report import SCHEMA_VERSION, schema

    out = tmp_path / "out"
    code = main(["export", "tflite", "-m", str(bert_dir), str(out), "--batch-size", "2", "--sequence-length", "8",
                 "--quantize", "int8-dynamic", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    printed = json.loads(captured.out)
    jsonschema.validate(printed, schema())
    jsonschema.validate(json.loads((out / "export_report.json").read_text()), schema())
    assert printed["schema_version"] == SCHEMA_VERSION and printed["opset"] is None and printed["dynamic_axes"] is False
    assert printed["quantization"]["mode"] == "int8-dynamic" and printed["parts"]["model"]["size_ratio"] < 1.0
    assert "ai-edge-litert" in printed["versions"] and {"model.tflite", "config.json"} <= set(printed["files"])
    (check,) = [c for v in printed["validation"] for c in v["outputs"]]
    assert check["name"] == "logits" and check["atol"] is None and "cosine_similarity" in check["metrics"]


def test_cli_missing_sequence_length_fails_before_export(bert_dir, tmp_path, capsys):
    code = main(["export", "tflite", "-m", str(bert_dir), str(tmp_path / "out"), "--batch-size", "1"])
    err = capsys.readouterr().err
    assert code == 1 and "--sequence-length" in err
    assert not (tmp_path / "out").exists()


def test_cli_refuses_non_empty_output(bert_dir, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    code = main(["export", "tflite", "-m", str(bert_dir), str(out), "--batch-size", "1", "--sequence-length", "8"])
    assert code == 1 and "--overwrite" in capsys.readouterr().err
    assert (out / "keep.txt").is_file()


@pytest.mark.parametrize("extra, needle", [
    (["--batch-size", "0", "--sequence-length", "8"], "--batch-size must be a positive integer"),
    (["--batch-size", "1", "--sequence-length", "-4"], "--sequence-length must be a positive integer"),
    (["--batch-size", "1", "--sequence-length", "8", "--atol", "inf"], "--atol must be a finite number > 0"),
])
def test_cli_bad_arguments_are_one_line_before_loading(bert_dir, tmp_path, capsys, extra, needle):
    out = tmp_path / "out"
    code = main(["export", "tflite", "-m", str(bert_dir), str(out), *extra])
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("xporter: error:")]
    assert code == 1 and len(errors) == 1 and needle in errors[0], errors
    assert not out.exists()


def test_cli_output_inside_the_model_folder_is_refused(bert_dir, capsys):
    before = sorted(p.name for p in bert_dir.iterdir())
    assert main(["export", "tflite", "-m", str(bert_dir), str(bert_dir), "--batch-size", "1", "--sequence-length", "8",
                 "--overwrite"]) == 1
    assert "model" in capsys.readouterr().err
    assert sorted(p.name for p in bert_dir.iterdir()) == before


def test_cli_refuses_a_bad_sample_count_in_one_line(bert_dir, tmp_path, capsys):
    """Checked when the options object is made, before the model loads: exit 1, one line, nothing written."""
    out = tmp_path / "out"
    code = main(["export", "tflite", "-m", str(bert_dir), str(out), "--batch-size", "1", "--sequence-length", "8",
                 "--num-validation-samples", "0"])
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("xporter: error:")]
    assert code == 1 and len(errors) == 1 and "--num-validation-samples must be a positive integer" in errors[0]
    assert not out.exists()
