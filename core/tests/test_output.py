"""Atomic output folders: nothing that looks valid is left behind by a failed export."""

import os

import pytest

from xporter.errors import OutputPathError
from xporter.output import MARKER, atomic_output_dir, check_output_dir


def test_success_renames_into_place(tmp_path):
    target = tmp_path / "out"
    with atomic_output_dir(target) as staging:
        assert staging != target and staging.parent == tmp_path
        (staging / "model.onnx").write_text("x")
        assert not target.exists()
    assert (target / "model.onnx").read_text() == "x"
    assert sorted(p.name for p in target.iterdir()) == [MARKER, "model.onnx"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no lock file or staging folder left


def test_failure_leaves_nothing(tmp_path):
    target = tmp_path / "out"
    with pytest.raises(RuntimeError):
        with atomic_output_dir(target) as staging:
            (staging / "model.onnx").write_text("half")
            raise RuntimeError("export crashed")
    assert list(tmp_path.iterdir()) == []


def test_interrupt_leaves_previous_output_untouched(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "model.onnx").write_text("old")
    (target / MARKER).write_text("{}")
    with pytest.raises(KeyboardInterrupt):
        with atomic_output_dir(target, overwrite=True) as staging:
            (staging / "model.onnx").write_text("new-half")
            raise KeyboardInterrupt
    assert (target / "model.onnx").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_overwrite_replaces_an_earlier_export(tmp_path):
    target = tmp_path / "out"
    with atomic_output_dir(target) as staging:
        (staging / "stale.txt").write_text("old")
    with atomic_output_dir(target, overwrite=True) as staging:
        (staging / "model.onnx").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == [MARKER, "model.onnx"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_refusals(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "f").write_text("x")
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputPathError, match="not empty.*--overwrite"):
        check_output_dir(tmp_path / "full")
    with pytest.raises(OutputPathError, match="not written by xporter"):
        check_output_dir(tmp_path / "full", overwrite=True)
    with pytest.raises(OutputPathError, match="not empty.*--overwrite"):
        check_output_dir(tmp_path / "full")
    with pytest.raises(OutputPathError, match="is a file"):
        check_output_dir(tmp_path / "file")
    with pytest.raises(OutputPathError, match="is a file"):
        check_output_dir(tmp_path / "file" / "sub")
    assert check_output_dir(tmp_path / "new" / "nested") == (tmp_path / "new" / "nested").resolve()


@pytest.mark.skipif(os.geteuid() == 0, reason="root bypasses directory permissions; covered by the file-parent case")
def test_unwritable_parent(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(OutputPathError, match="cannot write"):
            check_output_dir(locked / "out")
    finally:
        locked.chmod(0o700)
