"""A PyTorch-only checkpoint (model.safetensors) is converted with from_pt=True and exported.

Runs in a child process with PyTorch enabled (the rest of the suite sets USE_TORCH=0).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

BUILD = r"""
import sys
from transformers import BertConfig, BertForSequenceClassification
import torch
torch.manual_seed(0)
cfg = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37)
BertForSequenceClassification(cfg).save_pretrained(sys.argv[1])
"""


@pytest.mark.slow
def test_pytorch_checkpoint_is_converted(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("USE_TORCH", "USE_TF")}
    subprocess.run([sys.executable, "-c", BUILD, str(tmp_path / "pt")], check=True, env=env, capture_output=True)
    assert not (tmp_path / "pt" / "tf_model.h5").exists()
    proc = subprocess.run([sys.executable, "-m", "xporter.cli.main", "export", "tflite", "-m", str(tmp_path / "pt"),
                           str(tmp_path / "out"), "--batch-size", "1", "--sequence-length", "8", "--json"],
                          env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    assert report["checkpoint_framework"] == "pt" and report["ok"] is True
