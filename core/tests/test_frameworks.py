import json

import pytest

from xporter import TasksManager
from xporter import frameworks
from xporter.errors import FrameworkError, ModelNotFoundError

from core_support import write_config


def test_local_pt_and_tf(pt_dir, tf_dir):
    assert TasksManager.determine_framework(pt_dir) == "pt"
    assert TasksManager.determine_framework(str(tf_dir)) == "tf"


def test_local_pytorch_bin_and_sharded(tmp_path):
    a = write_config(tmp_path / "a", model_type="bert")
    (a / "pytorch_model.bin").write_bytes(b"0")
    b = write_config(tmp_path / "b", model_type="bert")
    (b / "model-00001-of-00002.safetensors").write_bytes(b"0")
    (b / "model.safetensors.index.json").write_text("{}")
    assert TasksManager.determine_framework(a) == "pt" and TasksManager.determine_framework(b) == "pt"


def test_both_frameworks_prefers_pytorch_when_installed(pt_dir, monkeypatch):
    (pt_dir / "tf_model.h5").write_bytes(b"0")
    monkeypatch.setattr(frameworks, "is_available", lambda fw: True)
    assert TasksManager.determine_framework(pt_dir) == "pt"
    monkeypatch.setattr(frameworks, "is_available", lambda fw: fw == "tf")
    assert TasksManager.determine_framework(pt_dir) == "tf"


def test_diffusers_and_sentence_transformers_layouts(tmp_path):
    pipe = tmp_path / "pipe"
    (pipe / "unet").mkdir(parents=True)
    (pipe / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    (pipe / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"0")
    st = write_config(tmp_path / "st", model_type="bert")
    (st / "modules.json").write_text("[]")
    (st / "model.safetensors").write_bytes(b"0")
    assert TasksManager.determine_framework(pipe) == "pt"
    assert TasksManager.determine_framework(st) == "pt"


def test_subfolder(tmp_path):
    root = tmp_path / "repo"
    write_config(root / "text_encoder", model_type="clip")
    (root / "text_encoder" / "tf_model.h5").write_bytes(b"0")
    assert TasksManager.determine_framework(root, subfolder="text_encoder") == "tf"
    with pytest.raises(ModelNotFoundError, match="subfolder 'nope' not found"):
        TasksManager.determine_framework(root, subfolder="nope")


def test_no_weights_is_a_clear_error(tmp_path):
    folder = write_config(tmp_path / "empty", model_type="bert")
    with pytest.raises(ModelNotFoundError, match="no model weights found.*save_pretrained"):
        TasksManager.determine_framework(folder)


def test_missing_path(tmp_path):
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        TasksManager.determine_framework(tmp_path / "missing" / "model")


def test_cache_offline(hf_cache, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    assert TasksManager.determine_framework("org/tiny", cache_dir=str(hf_cache)) == "tf"
    assert "config.json" in TasksManager.get_model_files("org/tiny", cache_dir=str(hf_cache))


def test_environment_fallback_runs_for_unlisted_repo(tmp_path, monkeypatch):
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    monkeypatch.setattr(frameworks, "is_available", lambda fw: fw == "tf")
    assert TasksManager.determine_framework("org/not-cached", cache_dir=str(tmp_path)) == "tf"
    monkeypatch.setattr(frameworks, "is_available", lambda fw: False)
    with pytest.raises(FrameworkError, match="neither PyTorch nor TensorFlow"):
        TasksManager.determine_framework("org/not-cached", cache_dir=str(tmp_path))


def test_hub_listing_used_when_online(tmp_path, monkeypatch):
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    monkeypatch.setattr("xporter.hub._hub_unreachable", lambda: "")  # this machine has no network
    calls = {}

    def fake_list(self, repo_id, revision=None, token=None):
        calls.update(repo_id=repo_id, revision=revision, token=token)
        return ["config.json", "sub/tf_model.h5", "sub/config.json"]

    monkeypatch.setattr("huggingface_hub.HfApi.list_repo_files", fake_list)
    assert TasksManager.determine_framework("org/remote", subfolder="sub", revision="v1", token="t",
                                            cache_dir=str(tmp_path)) == "tf"
    assert calls == {"repo_id": "org/remote", "revision": "v1", "token": "t"}
