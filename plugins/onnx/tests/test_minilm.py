"""Real weights: the bundled all-MiniLM-L6-v2, exported and compared with sentence-transformers."""

from __future__ import annotations

import os


def test_minilm_export_matches_sentence_transformers(tmp_path):
    os.environ["HF_HUB_OFFLINE"] = "1"
    from xporter_onnx import demo
    from xporter_onnx.exporter import export

    source = demo.minilm_path()
    assert (source / "model.safetensors").is_file()
    report = export(source, tmp_path / "onnx")
    assert report.library == "sentence_transformers" and report.model_type == "transformer" and report.ok
    for name in ("model.onnx", "tokenizer.json", "config.json", "modules.json", "1_Pooling/config.json"):
        assert (tmp_path / "onnx" / name).is_file(), name
    got = demo.onnx_embeddings(tmp_path / "onnx", demo.SENTENCES)
    want = demo.reference_embeddings(source, demo.SENTENCES)
    assert min(demo.cosines(got, want)) >= demo.MIN_COSINE


def test_demo_command(tmp_path, capsys):
    from xporter_onnx import demo

    assert demo.main([str(tmp_path / "demo")]) == 0
    assert "PASS" in capsys.readouterr().out
