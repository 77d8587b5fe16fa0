"""Output folders never destroy or mix user data (issue 14, defects 1, 3 and 4).

Covers: the model folder, cwd and their parents refused as outputs; --overwrite only over an
earlier xporter export; files created by someone else during the export kept; concurrent
exports to one destination refused, not mixed; mount points filled in place; the umask's mode;
staging left by a killed process cleaned by the next run.
"""

import errno
import json
import os
import subprocess
import sys
import textwrap

import pytest

from xporter.errors import OutputPathError
from xporter.output import MARKER, atomic_output_dir, check_output_dir


@pytest.fixture
def model_dir(tmp_path):
    model = tmp_path / "mymodel"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"weights")
    (model / "config.json").write_text('{"model_type": "bert"}')
    return model


def _untouched(model):
    assert (model / "model.safetensors").read_bytes() == b"weights"


@pytest.mark.parametrize("relation", ["same", "parent", "inside"])
@pytest.mark.parametrize("overwrite", [False, True])
def test_output_and_model_folder_never_overlap(model_dir, relation, overwrite):
    output = {"same": model_dir, "parent": model_dir.parent, "inside": model_dir / "onnx"}[relation]
    with pytest.raises(OutputPathError, match="model"):
        with atomic_output_dir(output, overwrite=overwrite, source=str(model_dir)):
            pytest.fail("the export must not start")
    _untouched(model_dir)


@pytest.mark.parametrize("output", ["", ".", ".."])
def test_cwd_and_its_parents_refused(tmp_path, monkeypatch, output):
    project = tmp_path / "project"
    project.mkdir()
    (project / "notes.txt").write_text("mine")
    monkeypatch.chdir(project)
    with pytest.raises(OutputPathError, match="current directory|empty"):
        check_output_dir(output, overwrite=True, source="mymodel")
    assert (project / "notes.txt").read_text() == "mine"


def test_overwrite_only_replaces_xporter_exports(tmp_path):
    mine = tmp_path / "data"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    with pytest.raises(OutputPathError, match="not written by xporter"):
        with atomic_output_dir(mine, overwrite=True):
            pytest.fail("must not start")
    assert (mine / "thesis.tex").read_text() == "years of work"
    legacy = tmp_path / "legacy"  # an export of an xporter release before the marker
    legacy.mkdir()
    (legacy / "export_report.json").write_text(json.dumps({"versions": {"xporter-core": "0.1.0"}}))
    assert check_output_dir(legacy, overwrite=True) == legacy.resolve()


def test_destination_created_meanwhile_is_kept(tmp_path):
    target = tmp_path / "out"
    with pytest.raises(OutputPathError, match="filled by another process"):
        with atomic_output_dir(target) as staging:
            (staging / "model.onnx").write_text("mine")
            target.mkdir()
            (target / "theirs.onnx").write_text("theirs")
    assert sorted(p.name for p in target.iterdir()) == ["theirs.onnx"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_files_added_to_an_overwritten_export_meanwhile_are_kept(tmp_path):
    target = tmp_path / "out"
    with atomic_output_dir(target) as staging:
        (staging / "model.onnx").write_text("old")
    with pytest.raises(OutputPathError, match="changed while the export ran"):
        with atomic_output_dir(target, overwrite=True) as staging:
            (staging / "model.onnx").write_text("new")
            (target / "late.txt").write_text("added meanwhile")
    assert (target / "late.txt").read_text() == "added meanwhile"
    assert (target / "model.onnx").read_text() == "old"


def test_second_export_to_the_same_destination_is_refused(tmp_path):
    target = tmp_path / "out"
    with atomic_output_dir(target) as first:
        with pytest.raises(OutputPathError, match="another xporter export is writing"):
            with atomic_output_dir(target):
                pytest.fail("must not start")
        (first / "model.onnx").write_text("first")
    assert (target / "model.onnx").read_text() == "first"


CONCURRENT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from xporter.errors import OutputPathError
    from xporter.output import atomic_output_dir
    target, name, go = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    while not go.exists():
        time.sleep(0.005)
    try:
        with atomic_output_dir(target) as staging:
            for i in range(20):
                (staging / f"{name}-{i}.txt").write_text(name)
                time.sleep(0.01)
    except OutputPathError as exc:
        print("refused", exc)
        sys.exit(1)
""")


def test_concurrent_processes_never_mix_files(tmp_path):
    target, go = tmp_path / "out", tmp_path / "go"
    script = tmp_path / "writer.py"
    script.write_text(CONCURRENT)
    procs = [subprocess.Popen([sys.executable, str(script), str(target), name, str(go)], stdout=subprocess.PIPE,
                              text=True) for name in ("a", "b")]
    go.write_text("")
    codes = [p.wait(timeout=60) for p in procs]
    assert sorted(codes) == [0, 1], codes  # exactly one wins, the other is refused with one line
    names = {p.name.split("-")[0] for p in target.iterdir() if p.name != MARKER}
    assert len(names) == 1 and len(list(target.glob("*.txt"))) == 20
    assert sorted(p.name for p in tmp_path.iterdir()) == ["go", "out", "writer.py"]


def test_mount_point_is_filled_in_place(tmp_path, monkeypatch):
    volume = tmp_path / "volume"
    volume.mkdir()
    real_ismount = os.path.ismount
    monkeypatch.setattr(os.path, "ismount", lambda p: str(p) == str(volume) or real_ismount(p))
    with atomic_output_dir(volume) as staging:
        assert staging.parent == volume
        (staging / "model.onnx").write_text("x")
    assert sorted(p.name for p in volume.iterdir()) == [MARKER, "model.onnx"]
    with atomic_output_dir(volume, overwrite=True) as staging:  # an earlier export on the volume is replaced
        (staging / "model.tflite").write_text("y")
    assert sorted(p.name for p in volume.iterdir()) == [MARKER, "model.tflite"]


def test_rename_refused_by_the_kernel_falls_back_to_filling_in_place(tmp_path, monkeypatch):
    target = tmp_path / "out"
    target.mkdir()
    real_rename = os.rename

    def rename(src, dst):
        if str(dst) == str(target):
            raise OSError(errno.EBUSY, "Device or resource busy")
        return real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    with atomic_output_dir(target) as staging:
        (staging / "model.onnx").write_text("x")
    assert sorted(p.name for p in target.iterdir()) == [MARKER, "model.onnx"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_folder_mode_follows_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_output_dir(tmp_path / "out") as staging:
            (staging / "model.onnx").write_text("x")
    finally:
        os.umask(old)
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o755


def test_staging_left_by_a_killed_export_is_cleaned(tmp_path):
    stale = tmp_path / ".out.partial-dead1234"
    stale.mkdir()
    (stale / "model.onnx").write_text("half")
    with atomic_output_dir(tmp_path / "out") as staging:
        (staging / "model.onnx").write_text("x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_unwritable_or_virtual_parent_refused_before_work(tmp_path):
    with pytest.raises(OutputPathError, match="cannot write"):
        check_output_dir("/proc/xporter-out")
