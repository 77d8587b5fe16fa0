"""Fixtures: an isolated registry + plugin manager per test, tiny model folders on disk."""

from __future__ import annotations

import json

import pytest

from xporter import TasksManager
from xporter.plugins import PluginManager
from xporter.registry import Registry

from core_support import write_config


@pytest.fixture
def isolated(monkeypatch):
    """A fresh registry and a plugin manager that discovers no entry points."""
    registry = Registry()
    manager = PluginManager(registry=registry, autoload=False)
    monkeypatch.setattr(TasksManager, "registry", registry)
    monkeypatch.setattr(TasksManager, "plugins", manager)
    return registry, manager


@pytest.fixture
def fake_entry_points(monkeypatch):
    """Install a list of FakeEntryPoints as what discovery finds; returns a setter."""

    def install(manager, entry_points):
        monkeypatch.setattr(manager, "_entry_points", lambda: list(entry_points))
        manager._autoload = True
        manager._records = None

    return install


@pytest.fixture
def pt_dir(tmp_path):
    folder = write_config(tmp_path / "pt", model_type="bert", architectures=["BertForSequenceClassification"])
    (folder / "model.safetensors").write_bytes(b"\0" * 8)
    return folder


@pytest.fixture
def tf_dir(tmp_path):
    folder = write_config(tmp_path / "tf", model_type="bert", architectures=["TFBertForMaskedLM"])
    (folder / "tf_model.h5").write_bytes(b"\0" * 8)
    return folder


@pytest.fixture
def hf_cache(tmp_path):
    """A real huggingface_hub cache layout holding ``org/tiny`` at revision ``main``."""
    cache = tmp_path / "hub"
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = cache / "models--org--tiny"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text(json.dumps({"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]}))
    (snapshot / "tf_model.h5").write_bytes(b"\0")
    return cache
