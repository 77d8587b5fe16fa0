"""Decoder and seq2seq tables: registration, graph names, and an export+validate sweep.

Every (model_type, task) row of ``configs/decoder.py`` and ``configs/seq2seq.py`` is
exported from a tiny random model and validated against PyTorch on shapes (batch, sequence,
past length, encoder length) different from the trace. Outside ``FAST_FAMILIES``, cases
whose code path another default case covers (seq2seq cache-free and feature-extraction
graphs, decoders' cache-free feature-extraction) run under ``-m slow`` only (time budget).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TQDM_DISABLE", "1")

from xporter_onnx.configs import decoder as decoder_table  # noqa: E402
from xporter_onnx.configs import seq2seq as seq2seq_table  # noqa: E402
from xporter_onnx.testing import skip_unless_known  # noqa: E402

ROWS = [*decoder_table.ARCHITECTURES, *seq2seq_table.ARCHITECTURES]
# Families whose every task runs by default; the others skip duplicated code paths by default.
FAST_FAMILIES = ("gpt2", "llama", "t5", "whisper", "vision-encoder-decoder")
# Families whose default run is text-generation-with-past only (their other tasks: -m slow).
WITH_PAST_ONLY = ("arcee", "cohere", "glm", "granite", "helium", "nemotron", "olmo", "olmo2", "stablelm", "smollm3",
                  "gemma2", "gemma3_text", "gemma3", "gpt_neo", "gptj", "codegen", "gpt_bigcode", "mpt", "qwen3_moe",
                  "deepseek_v3", "gpt_oss")
REFERENCE = Path(__file__).resolve().parents[3] / "tests" / "reference" / "optimum-onnx-support.json"


def _is_split(row, task) -> bool:
    return issubclass(row.config_class, seq2seq_table.Seq2SeqOnnxConfig) and \
        task.replace("-with-past", "") in seq2seq_table.SPLIT_TASKS


def _is_slow(row, task) -> bool:
    """Cases whose code path another default case already covers (kept for ``-m slow``)."""
    if row.model_type in FAST_FAMILIES:
        return False
    if row.model_type in WITH_PAST_ONLY:
        return task != "text-generation-with-past"
    if _is_split(row, task):  # cache-free graphs and the base-model head of seq2seq families
        return not task.endswith("-with-past") or task.startswith("feature-extraction")
    return task == "feature-extraction"  # decoders: the -with-past variant covers the base model


def _cases():
    for row in ROWS:
        for task in row.tasks:
            marks = ((pytest.mark.slow,) if _is_slow(row, task) else ()) + (skip_unless_known(row),)
            yield pytest.param(row, task, id=f"{row.model_type}-{task}", marks=marks)


def test_tables_register_with_the_tasks_manager():
    from xporter import TasksManager

    for row in ROWS:
        supported = TasksManager.get_supported_tasks_for_model_type(row.model_type, "onnx")
        for task in row.tasks:
            assert supported[task].config_class is row.config_class, (row.model_type, task)
    assert "text-generation-with-past" in TasksManager.get_supported_tasks_for_model_type("gpt-neox", "onnx")


def test_tables_cover_optimum_task_lists():
    """Each family exports at least the tasks Optimum registered for it."""
    assert REFERENCE.is_file(), "the coverage reference ships with the workspace"
    reference = json.loads(REFERENCE.read_text())
    for model_type in {row.model_type for row in ROWS}:
        key = f"transformers:{model_type}"
        expected = set(reference.get(key) or reference.get(key.replace("-", "_")) or ())
        assert expected, model_type
        ours = {t for row in ROWS if row.model_type == model_type for t in row.tasks}
        assert expected <= ours, (model_type, sorted(expected - ours))


def test_config_modules_stay_import_light():
    code = ("import sys; import xporter_onnx.configs.decoder, xporter_onnx.configs.seq2seq, xporter_onnx.past, "
            "xporter_onnx.generation; heavy = [m for m in ('torch', 'transformers', 'onnxruntime', 'onnx') "
            "if m in sys.modules]; print(heavy); sys.exit(1 if heavy else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_decoder_config_declares_optimum_io():
    from transformers import LlamaConfig

    cls = next(r for r in decoder_table.ARCHITECTURES if r.model_type == "llama").config_class
    cfg = LlamaConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)
    onnx_config = cls(cfg, task="text-generation", use_past=True, use_past_in_inputs=True)
    assert list(onnx_config.inputs)[:3] == ["input_ids", "attention_mask", "position_ids"]
    assert onnx_config.inputs["attention_mask"] == {0: "batch_size", 1: "past_sequence_length + sequence_length"}
    assert onnx_config.inputs["past_key_values.1.value"] == {0: "batch_size", 2: "past_sequence_length"}
    assert list(onnx_config.outputs) == ["logits"] + [f"present.{i}.{k}" for i in range(2) for k in ("key", "value")]
    dummy = onnx_config.generate_dummy_inputs("pt", batch_size=2, sequence_length=3, past_sequence_length=5)
    assert tuple(dummy["past_key_values.0.key"].shape) == (2, 2, 5, 8)  # GQA: 2 kv heads
    assert tuple(dummy["attention_mask"].shape) == (2, 8)
    assert dummy["position_ids"][0].tolist() == [5, 6, 7]
    classification = cls(cfg, task="text-classification")
    assert list(classification.inputs) == ["input_ids", "attention_mask"]


def test_falcon_cache_heads_follow_the_architecture():
    from transformers import FalconConfig

    cls = next(r for r in decoder_table.ARCHITECTURES if r.model_type == "falcon").config_class
    base = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4)
    heads = {name: cls(FalconConfig(**base, **kw)).normalized_config.num_key_value_heads for name, kw in {
        "multi_query": {}, "new_arch": dict(new_decoder_architecture=True, num_kv_heads=2),
        "mha": dict(multi_query=False)}.items()}
    assert heads == {"multi_query": 1, "new_arch": 4, "mha": 4}


def test_traceable_masks_match_transformers():
    """The vmap-free masks equal the library's: on 4.x for causal/sliding masks, on 5.x for the
    overlays that switch 5.x to vmap (Gemma 3's bidirectional image blocks, sliding windows)."""
    import torch
    from transformers import masking_utils as mu

    from xporter_onnx import past

    original = mu.sdpa_mask
    padding = torch.tensor([[0, 0, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1]], dtype=torch.bool)
    if "use_vmap" in __import__("inspect").signature(mu.sdpa_mask).parameters:
        blocks = torch.tensor([[-1, -1, 0, 0, 0, -1, 1], [0, 0, -1, 1, 1, 1, -1]])
        function = mu.and_masks(mu.or_masks(mu.causal_mask_function, mu.blockwise_overlay(blocks)),
                                mu.sliding_window_overlay(3))
        kwargs = dict(batch_size=2, q_length=4, kv_length=7, q_offset=3, mask_function=function,
                      attention_mask=padding, allow_is_causal_skip=False, use_vmap=True)
        expected = original(**kwargs)
        with past.traceable_masks():
            got = mu.sdpa_mask(**kwargs)  # use_vmap=True is overridden
        assert torch.equal(got, expected) and mu.sdpa_mask is original
        return
    padding = torch.tensor([[0, 0, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1]], dtype=torch.bool)
    for function in (mu.causal_mask_function, mu.sliding_window_causal_mask_function(3)):
        kwargs = dict(batch_size=2, cache_position=torch.arange(3, 7), kv_length=7, mask_function=function,
                      attention_mask=padding, allow_is_causal_skip=False)
        expected = original(**kwargs)
        with past.traceable_masks():
            assert mu.sdpa_mask is not original
            got = mu.sdpa_mask(**kwargs)
        assert torch.equal(got, expected)
    assert mu.sdpa_mask is original


@pytest.mark.parametrize("row,task", list(_cases()))
def test_tiny_export_validates(row, task, tmp_path):
    import onnx

    import xporter_onnx
    from xporter_onnx.testing import tiny_model_dir

    # deepcopy: VisionEncoderDecoderConfig pops "model_type" out of the nested tiny dicts
    source = tiny_model_dir(dataclasses.replace(row, tiny=copy.deepcopy(row.tiny)), task, tmp_path / "src")
    report = xporter_onnx.export(source, tmp_path / "onnx", task=task)
    assert report.ok and report.validation, report.to_dict()["validation"]
    with_past = task.endswith("-with-past")
    if _is_split(row, task):
        expected = ["encoder_model", "decoder_model"] + (["decoder_with_past_model"] if with_past else [])
    else:
        expected = ["model"]
    assert list(report.parts) == expected
    merged = [check for check in report.validation if check.part == "decoder_model_merged"]
    if _is_split(row, task) and with_past:  # both branches equal the two source graphs
        assert len(merged) == 1 and {c.name.split(":")[0] for c in merged[0].outputs} == {"cache", "no_cache"}
        assert (tmp_path / "onnx" / "decoder_model_merged.onnx").is_file()
    else:
        assert not merged
    for check in report.validation:
        if check in merged:
            continue
        part = report.parts[check.part]
        graph = onnx.load(str(tmp_path / "onnx" / part["file"]), load_external_data=False).graph
        assert [o.name for o in graph.output] == list(part["outputs"])
        assert set(i.name for i in graph.input) <= set(part["inputs"])
        assert check.input_shapes != part["trace_shapes"]  # validated on other shapes than traced
    names = [o for part in report.parts.values() for o in part["outputs"]]
    assert any(n.startswith("present.") for n in names) == with_past
    if with_past and not _is_split(row, task):
        assert "past_key_values.0.key" in report.parts["model"]["inputs"]


@pytest.mark.slow
@pytest.mark.parametrize("table,model_type,task", [(decoder_table, "llama", "text-generation-with-past"),
                                                   (seq2seq_table, "t5", "text2text-generation-with-past")],
                         ids=["llama", "t5"])
def test_dynamo_export_validates(table, model_type, task, tmp_path):
    """The torch.export (dynamo) path with caches; T5 needs eager attention there."""
    import xporter_onnx
    from xporter_onnx.testing import tiny_model_dir

    row = next(r for r in table.ARCHITECTURES if r.model_type == model_type)
    source = tiny_model_dir(dataclasses.replace(row, tiny=copy.deepcopy(row.tiny)), task, tmp_path / "src")
    report = xporter_onnx.export(source, tmp_path / "onnx", task=task, dynamo=True,
                                 model_kwargs={"attn_implementation": "eager"})
    assert report.ok and report.exporter == "dynamo", report.to_dict()["validation"]
