"""Side files copied into an export never follow links out of the model folder (issue 14, defect 2)."""

import os

from xporter.side_files import copy_side_files


def test_links_out_of_the_model_folder_are_skipped(tmp_path):
    secrets = tmp_path / "home" / ".ssh"
    secrets.mkdir(parents=True)
    (secrets / "id_rsa").write_text("PRIVATE KEY")
    (tmp_path / "shadow").write_text("root:hash")
    model = tmp_path / "model"
    (model / "1_Pooling").mkdir(parents=True)
    (model / "1_Pooling" / "config.json").write_text("{}")
    (model / "vocab.txt").write_text("[PAD]")
    os.symlink(tmp_path / "shadow", model / "tokenizer_config.json")
    os.symlink(secrets, model / "2_Normalize")
    os.symlink(model / "vocab.txt", model / "merges.txt")  # a link inside the folder is fine
    out = tmp_path / "out"
    out.mkdir()
    result = copy_side_files(model, out, ["vocab.txt", "merges.txt", "tokenizer_config.json", "*_Pooling/config.json",
                                          "*_Normalize/*"])
    assert sorted(result.copied) == ["1_Pooling/config.json", "merges.txt", "vocab.txt"]
    assert {name for name, _ in result.skipped} == {"tokenizer_config.json", "2_Normalize/id_rsa"}
    assert all("outside the model folder" in why for _, why in result.skipped)
    copied_text = " ".join(p.read_text() for p in out.rglob("*") if p.is_file())
    assert "PRIVATE KEY" not in copied_text and "root:hash" not in copied_text
    assert not (out / "merges.txt").is_symlink()


def test_hub_cache_snapshot_links_into_blobs_are_followed(tmp_path):
    repo = tmp_path / "hub" / "models--org--tiny"
    (repo / "blobs").mkdir(parents=True)
    snapshot = repo / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (repo / "blobs" / "f00d").write_text("[PAD]")
    os.symlink(repo / "blobs" / "f00d", snapshot / "vocab.txt")
    out = tmp_path / "out"
    out.mkdir()
    result = copy_side_files(snapshot, out, ["vocab.txt"])
    assert result.copied == ["vocab.txt"] and not result.skipped
    assert (out / "vocab.txt").read_text() == "[PAD]"


def test_special_files_are_not_copied(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    os.mkfifo(model / "vocab.txt")  # reading a FIFO would hang the export
    out = tmp_path / "out"
    out.mkdir()
    result = copy_side_files(model, out, ["vocab.txt"])
    assert result.copied == [] and result.skipped == [("vocab.txt", "not a regular file")]
