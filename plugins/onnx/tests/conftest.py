"""Shared fixtures: tiny random models saved to temp folders (no hub access)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory):
    from xporter_onnx.testing import find_row, tiny_model_dir

    return tiny_model_dir(find_row("bert"), "text-classification", tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def tiny_vit_dir(tmp_path_factory):
    from xporter_onnx.testing import find_row, tiny_model_dir

    return tiny_model_dir(find_row("vit"), "image-classification", tmp_path_factory.mktemp("tiny-vit"))
