"""State-space and hybrid decoders: their cache is in the graph, and ONNX Runtime alone generates what generate() does.

Each row of ``configs/hybrid_decoders.py`` is exported from a tiny random model through the
public API (validated by the exporter on batch 3 / past 7 against the trace's batch 2 / past
16), then :class:`~xporter_onnx.state_generation.OnnxStateDecoderGreedy` must give the same
10 greedy tokens as ``model.generate()``, for one prompt and for a left-padded batch.
Mamba and Mamba-2 (the pure SSMs) and two hybrids run by default; the other families under
``-m slow``.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TQDM_DISABLE", "1")

from xporter_onnx.configs import hybrid_decoders  # noqa: E402
from xporter_onnx.testing import skip_unless_known  # noqa: E402

TASK = "text-generation-with-past"
DEFAULT = ("mamba", "mamba2", "lfm2", "bamba")
ROWS = {row.model_type: row for row in hybrid_decoders.ARCHITECTURES}


def _needs_state_cache():
    from xporter_onnx.state_cache import has_state_cache

    if not has_state_cache():
        pytest.skip("this transformers keeps states in per-family cache classes (rows need transformers 5)")


def _cases():
    for model_type, row in ROWS.items():
        marks = (skip_unless_known(row),) + (() if model_type in DEFAULT else (pytest.mark.slow,))
        yield pytest.param(row, id=model_type, marks=marks)


def _export(row, tmp_path):
    import xporter_onnx
    from xporter_onnx.testing import tiny_model_dir

    src = tiny_model_dir(row, TASK, tmp_path / "src")
    report = xporter_onnx.export(src, tmp_path / "onnx", task=TASK)
    return src, report


def _generate(model, ids, mask=None, new=10):
    import torch

    kwargs = {} if mask is None else {"attention_mask": torch.tensor(mask)}
    with torch.no_grad():
        return model.generate(torch.tensor(ids), max_new_tokens=new, do_sample=False, pad_token_id=0,
                              eos_token_id=None, **kwargs).numpy()


PROMPTS = np.array([[0, 0, 5, 6, 7, 8], [9, 10, 11, 12, 13, 14]])
LEFT_PADDED = (np.arange(6)[None] >= np.array([[2], [0]])).astype(np.int64)


@pytest.mark.parametrize("row", list(_cases()))
def test_exported_step_generates_like_transformers(row, tmp_path):
    _needs_state_cache()
    from transformers import AutoModelForCausalLM
    from xporter_onnx.state_generation import OnnxStateDecoderGreedy

    src, report = _export(row, tmp_path)
    check = report.validation[0]
    assert all(out.ok for out in check.outputs) and not check.problems
    trace = report.parts["model"]["trace_shapes"]
    assert trace["input_ids"][0] == 2 and check.input_shapes["input_ids"][0] == 3  # other batch than the trace
    outputs = [out.name for out in check.outputs]
    assert outputs[0] == "logits" and any(n.startswith("present_conv.") for n in outputs)
    if not row.model_type.startswith("lfm2"):  # lfm2's conv layers keep a window only
        recurrent = row.attrs["RECURRENT_NAME"]
        assert any(n.startswith(f"present_{recurrent}.") for n in outputs), outputs

    model = AutoModelForCausalLM.from_pretrained(src).eval()
    runner = OnnxStateDecoderGreedy(tmp_path / "onnx" / "model.onnx")
    single = _generate(model, PROMPTS[1:])
    assert single.shape == (1, 16)
    np.testing.assert_array_equal(runner.generate(PROMPTS[1:], max_new_tokens=10), single)
    batch = _generate(model, PROMPTS, LEFT_PADDED)
    np.testing.assert_array_equal(runner.generate(PROMPTS, LEFT_PADDED, max_new_tokens=10), batch)
    np.testing.assert_array_equal(batch[1], single[0])  # padding the other row changes nothing
    if row.model_type in ("mamba", "mamba2"):
        assert len(set(single[0, 6:].tolist())) > 3, "the tiny model should not just repeat a token"


def test_mamba_graph_names_shapes_and_one_token_axis(tmp_path):
    """Per-layer state inputs named as transformers.js reads them, fixed sizes but the batch;
    the sequence axis is 1, so ONNX Runtime refuses a two-token feed instead of computing garbage."""
    _needs_state_cache()
    import onnxruntime as ort

    _export(ROWS["mamba"], tmp_path)
    session = ort.InferenceSession(str(tmp_path / "onnx" / "model.onnx"), providers=["CPUExecutionProvider"])
    shapes = {arg.name: arg.shape for arg in session.get_inputs()}
    assert shapes == {"input_ids": ["batch_size", 1], "attention_mask": ["batch_size", 1],
                      "past_conv.0": ["batch_size", 64, 4], "past_ssm.0": ["batch_size", 64, 8],
                      "past_conv.1": ["batch_size", 64, 4], "past_ssm.1": ["batch_size", 64, 8]}
    assert [o.name for o in session.get_outputs()] == ["logits", "present_conv.0", "present_ssm.0",
                                                       "present_conv.1", "present_ssm.1"]
    feed = {name: np.zeros([1 if d == "batch_size" else d for d in shape], dtype=np.float32)
            for name, shape in shapes.items() if name.startswith("past_")}
    feed.update(input_ids=np.array([[5, 6]]), attention_mask=np.ones((1, 2), dtype=np.int64))
    with pytest.raises(Exception, match="input_ids"):
        session.run(None, feed)


def test_hybrid_layout_is_read_from_the_model_cache():
    """falcon_h1's layers hold keys/values and Mamba-2 states together; lfm2's conv layer a window only."""
    _needs_state_cache()
    from transformers import AutoConfig
    from xporter_onnx.state_cache import state_layout

    falcon = state_layout(AutoConfig.for_model("falcon_h1", **ROWS["falcon_h1"].tiny))
    assert [(e.layer, e.kind) for e in falcon] == [(0, "key"), (0, "value"), (0, "conv"), (0, "recurrent"),
                                                  (1, "key"), (1, "value"), (1, "conv"), (1, "recurrent")]
    assert falcon[3].shape == (4, 16, 8)  # Mamba-2: heads, head_dim, state
    lfm2 = state_layout(AutoConfig.for_model("lfm2", **ROWS["lfm2"].tiny))
    assert [(e.layer, e.kind, e.shape) for e in lfm2] == [(0, "conv", (32, 3)),
                                                         (1, "key", (2, 1, 8)), (1, "value", (2, 1, 8))]


def test_cli_exports_mamba2_with_its_states(tmp_path):
    _needs_state_cache()
    from xporter_onnx.testing import tiny_model_dir

    src = tiny_model_dir(ROWS["mamba2"], TASK, tmp_path / "src")
    from xporter.cli.main import main

    assert main(["export", "onnx", "-m", str(src), str(tmp_path / "out"), "--task", TASK]) == 0
    import onnx

    graph = onnx.load(str(tmp_path / "out" / "model.onnx"), load_external_data=False).graph
    names = [i.name for i in graph.input]
    assert names[0] == "input_ids" and "past_ssm.1" in names and "past_conv.1" in names


def test_transformers_4_refuses_in_one_line(tmp_path):
    """transformers 4.57 keeps these states in per-family cache classes: one line naming the fix, nothing written."""
    from xporter_onnx.state_cache import has_state_cache

    if has_state_cache():
        pytest.skip("this transformers has the states in its DynamicCache")
    import xporter_onnx
    from xporter.errors import ExportError
    from xporter_onnx.testing import tiny_model_dir

    src = tiny_model_dir(ROWS["mamba"], TASK, tmp_path / "src")
    with pytest.raises(ExportError, match="transformers>=5"):
        xporter_onnx.export(src, tmp_path / "onnx", task=TASK)
    assert not (tmp_path / "onnx").exists()


@pytest.mark.parametrize("task", ["text-generation", "feature-extraction"])
def test_lfm2_cache_free_graphs_still_export(task, tmp_path):
    """lfm2's whole-prompt conv traces, so its cache-free graphs (allowed before its cache was) stay registered."""
    import xporter_onnx
    from xporter_onnx.testing import tiny_model_dir, transformers_knows

    row = ROWS["lfm2"]
    if not transformers_knows("lfm2"):
        pytest.skip("this transformers has no lfm2")
    src = tiny_model_dir(row, task, tmp_path / "src")
    report = xporter_onnx.export(src, tmp_path / "onnx", task=task)
    check = report.validation[0]
    assert all(out.ok for out in check.outputs)
    assert [out.name for out in check.outputs] == (["logits"] if task == "text-generation" else ["last_hidden_state"])
    assert check.input_shapes["input_ids"] != report.parts["model"]["trace_shapes"]["input_ids"]


def test_a_step_transformers_cannot_cache_is_one_error():
    """granitemoehybrid with only mamba layers fails in transformers' own cached forward (get_seq_length
    needs an attention layer): the layout probe says so in one ExportError instead of a traceback."""
    _needs_state_cache()
    from transformers import AutoConfig
    from xporter.errors import ExportError
    from xporter_onnx.state_cache import state_layout

    tiny = dict(ROWS["granitemoehybrid"].tiny, layer_types=["mamba", "mamba"])
    with pytest.raises(ExportError, match="one cached step of 'granitemoehybrid' failed in transformers"):
        state_layout(AutoConfig.for_model("granitemoehybrid", **tiny))
