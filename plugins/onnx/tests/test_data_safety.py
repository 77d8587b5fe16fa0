"""``xporter export onnx`` never destroys the source or leaks files linked into the model folder (issue 14)."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from xporter.cli.main import main


def run_cli(*argv):
    return main(["export", "onnx", *map(str, argv)])


def _error_line(err: str) -> str:
    errors = [line for line in err.splitlines() if line.startswith("xporter: error:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


@pytest.fixture
def my_model(tiny_bert_dir, tmp_path):
    model = tmp_path / "project" / "mymodel"
    shutil.copytree(tiny_bert_dir, model)
    return model


def _listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize("output", ["model", "project", "inside", "cwd", "empty"])
def test_overwrite_never_deletes_the_source_or_cwd(my_model, monkeypatch, capsys, output):
    project = my_model.parent
    (project / "README.md").write_text("my project")
    monkeypatch.chdir(project)
    before = _listing(project)
    target = {"model": my_model, "project": project, "inside": my_model / "onnx", "cwd": ".", "empty": ""}[output]
    assert run_cli("-m", "mymodel", target, "--overwrite") == 1
    line = _error_line(capsys.readouterr().err)
    assert "model" in line or "current directory" in line or "empty" in line, line
    assert _listing(project) == before


def test_symlinked_secrets_are_not_copied_and_are_reported(my_model, tmp_path, capsys):
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$secret-hash")
    keys = tmp_path / "dot-ssh"
    keys.mkdir()
    (keys / "id_ed25519").write_text("PRIVATE KEY")
    (my_model / "vocab.txt").write_text("[PAD]\n[UNK]\n")
    (my_model / "tokenizer_config.json").unlink(missing_ok=True)
    os.symlink(secret, my_model / "tokenizer_config.json")
    os.symlink(keys, my_model / "1_Normalize")
    out = tmp_path / "out"
    assert run_cli("-m", my_model, out, "--json") == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert any(s.startswith("tokenizer_config.json") for s in report["skipped_files"])
    assert any(s.startswith("1_Normalize/id_ed25519") for s in report["skipped_files"])
    exported = " ".join(p.read_text(errors="ignore") for p in out.rglob("*") if p.is_file())
    assert "secret-hash" not in exported and "PRIVATE KEY" not in exported
    assert not any(p.is_symlink() for p in out.rglob("*"))
    assert (out / "vocab.txt").is_file()  # the model's own files are still copied


def test_no_validate_is_never_reported_ok(tiny_bert_dir, tmp_path, capsys):
    assert run_cli("-m", tiny_bert_dir, tmp_path / "out", "--no-validate", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["validated"] is False and report["ok"] is None
    on_disk = json.loads((tmp_path / "out" / "export_report.json").read_text())
    assert on_disk["ok"] is None


def test_overwrite_replaces_only_an_earlier_export(tiny_bert_dir, tmp_path, capsys):
    out = tmp_path / "out"
    assert run_cli("-m", tiny_bert_dir, out, "--no-validate") == 0
    assert run_cli("-m", tiny_bert_dir, out, "--overwrite") == 0  # ours: replaced
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "data.csv").write_text("a,b")
    capsys.readouterr()
    assert run_cli("-m", tiny_bert_dir, mine, "--overwrite") == 1
    assert "not written by xporter" in _error_line(capsys.readouterr().err)
    assert (mine / "data.csv").read_text() == "a,b"
