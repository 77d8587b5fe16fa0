"""Decoder-only LLM types of ``configs/decoder_recent.py``.

Each row's tiny random causal LM is exported with its cache and validated against PyTorch on
other shapes than the trace (the exporter does that); its cache inputs/outputs must be exactly
the layers and shapes the model's own cache holds (Gemma 3n / 4 share caches across layers,
MiMo-V2 and Gemma 4 cache other shapes per layer), and an ONNX-Runtime-only greedy loop over a
left-padded batch of 2 equals ``generate()`` token for token over 8 new tokens. Hybrid rows (one-token
step graphs with conv / recurrent states) are driven by ``OnnxStateDecoderGreedy`` the same way.
The rows named in ``DEFAULT_FAMILIES`` run by default; the other rows and every other task
(cache-free graphs, base models, classification heads) with ``-m slow``.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TQDM_DISABLE", "1")

from test_decoder_llms import GENERATION, _task_params, _transformers_major  # noqa: E402
from test_hybrid_decoders import LEFT_PADDED, PROMPTS, _generate, _needs_state_cache  # noqa: E402
from xporter_onnx.configs import decoder_recent  # noqa: E402
from xporter_onnx.testing import skip_unless_known  # noqa: E402

NEW_TOKENS = 8
DEFAULT_FAMILIES = {"gemma4_text", "gemma3n_text", "llama4_text", "deepseek_v2", "mimo_v2_flash", "jetmoe", "lfm3"}


def _is_state_row(row):
    from xporter_onnx.configs.hybrid_decoders import StateDecoderOnnxConfig

    return issubclass(row.config_class, StateDecoderOnnxConfig)


def _row_params(state):
    for row in decoder_recent.ARCHITECTURES:
        if _is_state_row(row) != state:
            continue
        marks = [skip_unless_known(row)]
        if row.model_type not in DEFAULT_FAMILIES:
            marks.append(pytest.mark.slow)
        yield pytest.param(row, id=row.model_type, marks=marks)


def _export(row, task, tmp_path):
    import xporter_onnx
    from xporter_onnx.testing import tiny_model_dir

    source = tiny_model_dir(row, task, tmp_path / "src")
    report = xporter_onnx.export(source, tmp_path / "onnx", task=task)
    assert report.ok and report.validation, report.to_dict()["validation"]
    for check in report.validation:  # validated on other shapes than traced
        assert check.input_shapes != report.parts[check.part]["trace_shapes"]
    return source, tmp_path / "onnx", report


def _own_cache(model, prompt):
    """Per layer whose entry the model's own cache fills after a prompt: kind -> the sizes other than
    batch and length ((heads, width) of keys and values; (width,) of sparse attention's indexer keys)."""
    import torch

    from xporter_onnx import past as kv

    with torch.no_grad():
        cache = kv.output_cache(model(prompt, use_cache=True))
    layers = []
    for layer in cache.layers:
        if layer.keys is None:  # a layer reusing another's keys and values
            continue
        held = {"key": (layer.keys.shape[1], layer.keys.shape[3]),
                "value": (layer.values.shape[1], layer.values.shape[3])}
        if getattr(layer, "indexer_keys", None) is not None:
            held["indexer_key"] = (layer.indexer_keys.shape[2],)
        layers.append(held)
    return layers


@pytest.mark.parametrize("row", list(_row_params(state=False)))
def test_cached_graph_greedy_equals_generate(row, tmp_path):
    _check_greedy(row, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("model_type", ["deepseek_v32"])
def test_sparse_attention_with_fewer_keys_than_index_topk(model_type, tmp_path):
    """index_topk 16: validation (7 past + 9 new) and generation (7 to 15 keys) never have more keys
    than the indexer keeps, the trace (16 + 16) has: the padded, constant-k top-k of the export."""
    import dataclasses

    from xporter_onnx.testing import transformers_knows

    if not transformers_knows(model_type):
        pytest.skip(f"this transformers has no {model_type}")
    row = next(r for r in decoder_recent.ARCHITECTURES if r.model_type == model_type)
    _check_greedy(dataclasses.replace(row, tiny=dict(row.tiny, index_topk=16)), tmp_path)


def _check_greedy(row, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    from xporter_onnx.generation import OnnxDecoderGreedy

    source, out, _ = _export(row, GENERATION, tmp_path)
    model = AutoModelForCausalLM.from_pretrained(source).eval()
    runner = OnnxDecoderGreedy(out / "model.onnx")
    prompt = torch.tensor([[0, 0, 0, 21, 22, 23, 24], [31, 32, 33, 34, 35, 36, 37]])
    mask = torch.tensor([[0, 0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1]])
    # the graph's cache is what the model's own cache holds: same layers, kinds, heads and widths
    own = _own_cache(model, prompt)
    past = [n for n in runner.input_names if n.startswith("past_key_values.")]
    assert past == [f"past_key_values.{i}.{kind}" for i, held in enumerate(own) for kind in held]
    assert runner.output_names == ["logits"] + [p.replace("past_key_values", "present") for p in past]
    shapes = {arg.name: arg.shape for arg in runner.session.get_inputs()}
    for i, held in enumerate(own):
        for kind, expected in held.items():
            declared = shapes[f"past_key_values.{i}.{kind}"]
            sizes = (declared[2],) if kind == "indexer_key" else (declared[1], declared[3])
            assert sizes == expected, (i, kind, declared, expected)
    model.generation_config.eos_token_id = None  # random weights may hit eos early
    with torch.no_grad():
        expected = model.generate(prompt, attention_mask=mask, do_sample=False, max_new_tokens=NEW_TOKENS,
                                  min_new_tokens=NEW_TOKENS, pad_token_id=0)
    got = runner.generate(prompt.numpy(), attention_mask=mask.numpy(), max_new_tokens=NEW_TOKENS)
    np.testing.assert_array_equal(got, expected.numpy())


@pytest.mark.parametrize("row", list(_row_params(state=True)))
def test_hybrid_step_graph_greedy_equals_generate(row, tmp_path):
    """Hybrid rows: the one-token step graph carries every state the model's cache holds, and
    feeding prompts token by token through it gives ``generate()``'s tokens (left-padded batch)."""
    _needs_state_cache()
    from transformers import AutoModelForCausalLM

    from xporter_onnx.state_cache import state_layout
    from xporter_onnx.state_generation import OnnxStateDecoderGreedy

    source, out, _ = _export(row, GENERATION, tmp_path)
    model = AutoModelForCausalLM.from_pretrained(source).eval()
    runner = OnnxStateDecoderGreedy(out / "model.onnx")
    recurrent = row.attrs["RECURRENT_NAME"]
    expected_inputs = [entry.name("inputs", recurrent) for entry in state_layout(model.config)]
    inputs = [i.name for i in runner.session.get_inputs()]
    assert [n for n in inputs if n.startswith("past")] == expected_inputs
    assert any(n.startswith("past_conv.") for n in inputs) and any(n.startswith("past_key_values.") for n in inputs)
    np.testing.assert_array_equal(runner.generate(PROMPTS, LEFT_PADDED, max_new_tokens=NEW_TOKENS),
                                  _generate(model, PROMPTS, LEFT_PADDED, new=NEW_TOKENS))


@pytest.mark.parametrize("row,task", list(_task_params(decoder_recent)))
def test_other_tasks_export_and_validate(row, task, tmp_path):
    _, _, report = _export(row, task, tmp_path)
    assert any(n.startswith("present.") for n in report.parts["model"]["outputs"]) == task.endswith("-with-past")


def test_row_tasks_are_the_auto_mappings_heads():
    """Each row has exactly the tasks transformers 5.24's auto mappings give its type."""
    from transformers.models.auto import modeling_auto as auto

    from xporter_onnx.testing import auto_mapping_tasks

    if _transformers_major() < 5:
        pytest.skip("the rows' heads are transformers 5.24's auto mappings")
    for row in decoder_recent.ARCHITECTURES:
        assert row.model_type in auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES, row.model_type
        if _is_state_row(row):  # the step graph of the causal LM only (the prompt paths do not trace)
            assert row.tasks == (GENERATION,), row.model_type
            continue
        with_past = {t for t in row.tasks if t.endswith("-with-past")}
        assert set(row.tasks) - with_past == auto_mapping_tasks(row.model_type), row.model_type
        assert with_past == {"feature-extraction-with-past", "text-generation-with-past"}, row.model_type


def test_rows_are_new_types():
    """No row duplicates a type another table registers (the TasksManager would refuse it)."""
    from xporter_onnx.configs import all_architectures

    types = [r.model_type for r in all_architectures() if r.library == "transformers"]
    mine = [r.model_type for r in decoder_recent.ARCHITECTURES]
    assert len(set(mine)) == len(mine)
    assert all(types.count(t) == 1 for t in mine), [t for t in mine if types.count(t) > 1]
