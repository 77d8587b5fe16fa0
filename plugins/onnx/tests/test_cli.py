"""``xporter export onnx`` on good and bad input (in-process through the core CLI's main)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from xporter.cli.main import main


def run_cli(*argv):
    return main(["export", "onnx", *map(str, argv)])


def test_cli_export_json_report(tiny_bert_dir, tmp_path, capsys):
    out = tmp_path / "out"
    assert run_cli("-m", tiny_bert_dir, out, "--json", "--batch-size", "1", "--sequence-length", "8") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["task"] == "text-classification"  # inferred from architectures
    assert report["ok"] and report["opset"] == 18  # the default (LayerNormalization)
    assert report["parts"]["model"]["trace_shapes"]["input_ids"] == [1, 8]
    for name in ("model.onnx", "config.json", "export_report.json"):
        assert (out / name).is_file()
    on_disk = json.loads((out / "export_report.json").read_text())
    assert on_disk["files"]["model.onnx"]["sha256"] and on_disk["versions"]["torch"]


def test_model_kwargs_reach_the_loader(tiny_bert_dir, tmp_path, capsys):
    out = tmp_path / "out"
    # an unknown attention implementation is refused by transformers: proof the kwargs arrived
    assert run_cli("-m", tiny_bert_dir, out, "--model-kwargs", '{"attn_implementation": "no-such-attention"}') == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no-such-attention" in err and not out.exists()
    assert run_cli("-m", tiny_bert_dir, out, "--model-kwargs", '{"attn_implementation": "eager"}') == 0


@pytest.mark.parametrize("bad", ["{not json", "[1, 2]"])
def test_model_kwargs_must_be_a_json_object(tiny_bert_dir, tmp_path, capsys, bad):
    with pytest.raises(SystemExit) as exit_info:
        run_cli("-m", tiny_bert_dir, tmp_path / "out", "--model-kwargs", bad)
    assert exit_info.value.code == 2 and "--model-kwargs" in capsys.readouterr().err


def test_unsupported_architecture_lists_supported_and_custom_config(tmp_path, capsys):
    from transformers import PretrainedConfig

    src = tmp_path / "src"
    src.mkdir()
    (src / "config.json").write_text(json.dumps({"model_type": "my-new-arch", "architectures": ["MyNewArchModel"]}))
    (src / "model.safetensors").write_bytes(b"")
    assert run_cli("-m", src, tmp_path / "out") == 1
    err = capsys.readouterr().err
    assert "my-new-arch" in err and "bert" in err  # the supported list
    assert "create_register" in err  # how to pass a custom config
    assert not (tmp_path / "out").exists()


def test_task_the_architecture_lacks(tiny_bert_dir, tmp_path, capsys):
    assert run_cli("-m", tiny_bert_dir, tmp_path / "out", "--task", "image-classification") == 1
    err = capsys.readouterr().err
    assert "image-classification" in err and "text-classification" in err


def test_non_empty_output_refused_without_overwrite(tiny_bert_dir, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert run_cli("-m", tiny_bert_dir, out) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "mine"
    assert run_cli("-m", tiny_bert_dir, out, "--overwrite") == 1  # --overwrite only replaces xporter exports
    assert "not written by xporter" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "mine" and not (out / "model.onnx").exists()


def test_output_not_writable(tiny_bert_dir, tmp_path, monkeypatch, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # root ignores permission bits: simulate the kernel's answer
        import xporter.output_guard

        real_mkdtemp = xporter.output_guard.tempfile.mkdtemp

        def mkdtemp(*args, dir=None, **kwargs):
            if str(dir).startswith(str(locked)):
                raise PermissionError(13, "Permission denied")
            return real_mkdtemp(*args, dir=dir, **kwargs)

        monkeypatch.setattr(xporter.output_guard.tempfile, "mkdtemp", mkdtemp)
    try:
        assert run_cli("-m", tiny_bert_dir, locked / "out") == 1
        assert "cannot write" in capsys.readouterr().err
        assert not (locked / "out").exists()
    finally:
        locked.chmod(0o700)


def test_output_under_a_file_is_refused(tiny_bert_dir, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert run_cli("-m", tiny_bert_dir, blocker) == 1
    assert "is a file" in capsys.readouterr().err


def test_interrupted_export_leaves_no_model(tiny_bert_dir, tmp_path, monkeypatch):
    from xporter_onnx import exporter

    def boom(*args, **kwargs):
        raise KeyboardInterrupt("simulated interrupt mid-export")

    monkeypatch.setattr(exporter, "validate_part", boom)  # after model.onnx was written to staging
    with pytest.raises(KeyboardInterrupt):
        exporter.export(tiny_bert_dir, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.rglob("model.onnx"))


def test_validation_failure_exits_non_zero(tiny_bert_dir, tmp_path, monkeypatch, capsys):
    from xporter_onnx.base import OnnxConfig

    original = OnnxConfig.flatten_outputs

    def perturbed(self, output):  # the torch reference drifts from what was traced
        import torch

        values = original(self, output)
        return [v + 1.0 if not torch.jit.is_tracing() else v for v in values]

    monkeypatch.setattr(OnnxConfig, "flatten_outputs", perturbed)
    assert run_cli("-m", tiny_bert_dir, tmp_path / "out") == 1
    err = capsys.readouterr().err
    assert "validation failed" in err and "--atol" in err
    assert not (tmp_path / "out").exists()


def test_atol_flag_and_no_validate(tiny_bert_dir, tmp_path, capsys):
    assert run_cli("-m", tiny_bert_dir, tmp_path / "a", "--atol", "0.5", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["validation"][0]["outputs"][0]["atol"] == 0.5
    assert run_cli("-m", tiny_bert_dir, tmp_path / "b", "--no-validate", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["validated"] is False and report["validation"] == []


def test_no_dynamic_axes_fixes_shapes(tiny_bert_dir, tmp_path):
    import onnx

    assert run_cli("-m", tiny_bert_dir, tmp_path / "out", "--no-dynamic-axes") == 0
    graph = onnx.load(str(tmp_path / "out" / "model.onnx")).graph
    dims = [d.dim_value for d in graph.input[0].type.tensor_type.shape.dim]
    assert dims == [2, 16]


def test_missing_model_dir(tmp_path, capsys):
    assert run_cli("-m", tmp_path / "nope" / "x", tmp_path / "out") == 1
    assert "does not exist" in capsys.readouterr().err


def test_tf_framework_delegates_or_explains(tiny_bert_dir, tmp_path, capsys):
    from xporter.plugins import PLUGINS

    code = run_cli("-m", tiny_bert_dir, tmp_path / "out", "--framework", "tf")
    if not PLUGINS.exporters("onnx", "tf"):
        assert code == 1
        assert "pip install xporter-tflite" in capsys.readouterr().err


def test_console_script_subprocess(tiny_bert_dir, tmp_path):
    """The real ``xporter`` executable, progress on stderr, exit code 0."""
    exe = os.path.join(os.path.dirname(sys.executable), "xporter")
    proc = subprocess.run([exe, "export", "onnx", "-m", str(tiny_bert_dir), str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "[xporter] export model.onnx" in proc.stderr and "validate" in proc.stderr
    assert "OK" in proc.stdout


def test_cli_seq2seq_merged_decoder_is_default_and_can_be_switched_off(tmp_path, capsys):
    from xporter_onnx.configs import seq2seq
    from xporter_onnx.testing import tiny_model_dir

    row = next(r for r in seq2seq.ARCHITECTURES if r.model_type == "t5")
    src = tiny_model_dir(row, "text2text-generation", tmp_path / "src")
    assert run_cli("-m", src, tmp_path / "merged", "--json") == 0  # auto task -> text2text-generation-with-past
    report = json.loads(capsys.readouterr().out)
    assert report["task"] == "text2text-generation-with-past"
    assert "decoder_model_merged.onnx" in report["files"]
    assert any(v["part"] == "decoder_model_merged" and v["ok"] for v in report["validation"])
    assert run_cli("-m", src, tmp_path / "split", "--no-merge-decoders") == 0
    assert not (tmp_path / "split" / "decoder_model_merged.onnx").exists()
    assert (tmp_path / "split" / "decoder_with_past_model.onnx").is_file()


def _one_error_line(err: str) -> str:
    """The single ``xporter: error:`` line (progress lines aside), and no traceback."""
    errors = [line for line in err.splitlines() if line.startswith("xporter: error:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


def test_bf16_below_opset_17_and_bf16_on_cpu_validation_are_one_line_errors(tiny_bert_dir, tmp_path, capsys):
    assert run_cli("-m", tiny_bert_dir, tmp_path / "old", "--dtype", "bf16", "--opset", "14") == 1
    err = capsys.readouterr().err
    assert "opset 17" in _one_error_line(err) and "load" not in err  # refused before loading the model
    assert run_cli("-m", tiny_bert_dir, tmp_path / "cpu", "--dtype", "bf16") == 1
    line = _one_error_line(capsys.readouterr().err)
    assert "no kernel for" in line and "--device cuda" in line and "--no-validate" in line
    assert not (tmp_path / "old").exists() and not (tmp_path / "cpu").exists()


def test_decoder_merge_failure_is_one_line_naming_the_switch(tmp_path, monkeypatch, capsys):
    from xporter_onnx import exporter
    from xporter_onnx.configs import seq2seq
    from xporter_onnx.testing import tiny_model_dir

    def refuse(*args, **kwargs):
        raise ValueError("a decoder graph has nested subgraphs, which this merge does not rename")

    monkeypatch.setattr(exporter, "merge_decoder_files", refuse)
    row = next(r for r in seq2seq.ARCHITECTURES if r.model_type == "t5")
    src = tiny_model_dir(row, "text2text-generation", tmp_path / "src")
    assert run_cli("-m", src, tmp_path / "out") == 1
    line = _one_error_line(capsys.readouterr().err)
    assert "cannot merge the decoder graphs" in line and "--no-merge-decoders" in line
    assert not (tmp_path / "out").exists()
