"""Decoder-only LLM families beyond Optimum's list (``configs/decoder_llms.py``).

Each family's tiny random causal LM is exported with its cache, validated against PyTorch
on other shapes than the trace (the exporter does that), and then driven by onnxruntime
alone: greedy tokens from left-padded batched prompts equal ``generate()`` token for token.
The families the issue names run by default; the others, and every other task of every
row (cache-free graphs, base models, classification heads), run with ``-m slow``.
"""

from __future__ import annotations

import copy
import dataclasses
import os

import numpy as np
import pytest

os.environ.setdefault("TQDM_DISABLE", "1")

from xporter_onnx.configs import decoder_llms  # noqa: E402
from xporter_onnx.testing import skip_unless_known  # noqa: E402

NEW_TOKENS = 6
# One family per distinct code path runs by default (interleaved rotary, sliding window +
# interleaved rotary, xIELU's expm1, routed experts, shared experts, latent attention, ...);
# the other rows' greedy loops and every other task run with ``-m slow``.
DEFAULT_FAMILIES = {"glm4", "cohere2", "apertus", "olmo3", "mixtral", "qwen2_moe", "glm4_moe_lite", "vaultgemma"}
GENERATION = "text-generation-with-past"
# Known to fail on transformers 4.x (5.x passes): xIELU keeps bfloat16 parameters in an fp32
# model (apertus), and 4.57's expert loops / histc routing have no dense patch yet.
FAILS_ON_4X = {"apertus": "bf16 xIELU constants in an fp32 graph", "aria_text": "aten::histc routing",
               "ernie4_5_moe": "4.57 expert loop", "granitemoe": "4.57 expert loop",
               "granitemoeshared": "4.57 expert loop", "hunyuan_v1_moe": "4.57 expert loop"}


def _transformers_major() -> int:
    import transformers

    return int(transformers.__version__.split(".")[0])


def _row_params(default):
    for row in decoder_llms.ARCHITECTURES:
        marks = [skip_unless_known(row)]
        if not default(row):
            marks.append(pytest.mark.slow)
        yield pytest.param(row, id=row.model_type, marks=marks)


def _export(row, task, tmp_path, **options):
    import xporter_onnx
    from xporter_onnx.testing import tiny_model_dir

    source = tiny_model_dir(dataclasses.replace(row, tiny=copy.deepcopy(row.tiny)), task, tmp_path / "src")
    report = xporter_onnx.export(source, tmp_path / "onnx", task=task, **options)
    assert report.ok and report.validation, report.to_dict()["validation"]
    for check in report.validation:  # validated on other shapes than traced
        assert check.input_shapes != report.parts[check.part]["trace_shapes"]
    return source, tmp_path / "onnx", report


@pytest.mark.parametrize("row", list(_row_params(lambda r: r.model_type in DEFAULT_FAMILIES)))
def test_cached_graph_greedy_equals_generate(row, tmp_path):
    if row.model_type in FAILS_ON_4X and _transformers_major() < 5:
        pytest.skip(f"not yet on transformers 4.x: {FAILS_ON_4X[row.model_type]}")
    _check_greedy(row, tmp_path)


@pytest.mark.parametrize("opset", [14, 18])
def test_rows_export_at_opsets_14_and_18(opset, tmp_path):
    """The rows inherit the base opset; both the old default and opset 18 work (glm4: interleaved rotary)."""
    row = next(r for r in decoder_llms.ARCHITECTURES if r.model_type == "glm4")
    _check_greedy(row, tmp_path, opset=opset)


def _check_greedy(row, tmp_path, **options):
    import onnx
    import torch
    from transformers import AutoModelForCausalLM

    from xporter_onnx.generation import OnnxDecoderGreedy

    source, out, report = _export(row, GENERATION, tmp_path, **options)
    if "opset" in options:
        imports = onnx.load(str(out / "model.onnx"), load_external_data=False).opset_import
        assert {i.version for i in imports if i.domain in ("", "ai.onnx")} == {options["opset"]}
    model = AutoModelForCausalLM.from_pretrained(source).eval()
    layers = model.config.get_text_config().num_hidden_layers
    runner = OnnxDecoderGreedy(out / "model.onnx")
    past = [n for n in runner.input_names if n.startswith("past_key_values.")]
    assert past[:2] == ["past_key_values.0.key", "past_key_values.0.value"] and len(past) == 2 * layers
    assert runner.output_names[0] == "logits"
    assert runner.output_names[1:] == [p.replace("past_key_values", "present") for p in past]
    model.generation_config.eos_token_id = None  # random weights may hit eos early
    prompt = torch.tensor([[0, 0, 0, 21, 22, 23, 24], [31, 32, 33, 34, 35, 36, 37]])
    mask = torch.tensor([[0, 0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1]])
    with torch.no_grad():
        expected = model.generate(prompt, attention_mask=mask, do_sample=False, max_new_tokens=NEW_TOKENS,
                                  min_new_tokens=NEW_TOKENS, pad_token_id=0)
    got = runner.generate(prompt.numpy(), attention_mask=mask.numpy(), max_new_tokens=NEW_TOKENS)
    np.testing.assert_array_equal(got, expected.numpy())


def _task_params(table=decoder_llms):
    """Every (row, task) of ``table`` but text-generation-with-past, as slow cases (shared with
    ``test_decoder_recent.py``)."""
    for row in table.ARCHITECTURES:
        for task in row.tasks:
            if task != GENERATION:
                yield pytest.param(row, task, id=f"{row.model_type}-{task}",
                                   marks=(pytest.mark.slow, skip_unless_known(row)))


@pytest.mark.parametrize("row,task", list(_task_params()))
def test_other_tasks_export_and_validate(row, task, tmp_path):
    _, _, report = _export(row, task, tmp_path)
    outputs = list(report.parts["model"]["outputs"])
    assert any(n.startswith("present.") for n in outputs) == task.endswith("-with-past")


def test_rows_register_with_the_tasks_manager():
    from xporter import TasksManager

    from xporter_onnx.configs import decoder_recent
    from xporter_onnx.testing import transformers_knows

    for row in [*decoder_llms.ARCHITECTURES, *decoder_recent.ARCHITECTURES]:
        if not transformers_knows(row.model_type):
            continue
        supported = TasksManager.get_supported_tasks_for_model_type(row.model_type, "onnx")
        for task in row.tasks:
            assert supported[task].config_class is row.config_class, (row.model_type, task)


def test_row_tasks_are_the_auto_mappings_heads():
    """Each row has exactly the heads transformers' auto mappings give its type (and a causal LM)."""
    from transformers.models.auto import modeling_auto as auto

    from xporter_onnx.testing import transformers_knows

    if _transformers_major() < 5:
        pytest.skip("the rows' heads are transformers 5.24's auto mappings")
    heads = {"text-classification": auto.MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES,
             "token-classification": auto.MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING_NAMES,
             "question-answering": auto.MODEL_FOR_QUESTION_ANSWERING_MAPPING_NAMES}
    for row in decoder_llms.ARCHITECTURES:
        if not transformers_knows(row.model_type):
            continue
        assert row.model_type in auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES, row.model_type
        expected = {task for task, mapping in heads.items() if row.model_type in mapping}
        assert set(row.tasks) - set(decoder_llms.GENERATION_TASKS) == expected, row.model_type


def test_rows_are_new_types():
    """No row duplicates a type another table registers (the TasksManager would refuse it)."""
    from xporter_onnx.configs import all_architectures

    types = [r.model_type for r in all_architectures() if r.library == "transformers"]
    mine = [r.model_type for r in decoder_llms.ARCHITECTURES]
    assert len(set(mine)) == len(mine)
    assert all(types.count(t) == 1 for t in mine), [t for t in mine if types.count(t) > 1]


def test_hybrid_layers_are_refused_with_the_reason(tmp_path):
    """A decoder whose layers keep convolution state (lfm2 checkpoints mix conv and attention layers)
    is refused in one line instead of exported with a cache that lacks that state."""
    import xporter_onnx
    from transformers import AutoConfig, AutoModelForCausalLM
    from xporter.errors import ExportError

    from xporter_onnx.configs.decoder import TINY_GQA
    from xporter_onnx.testing import transformers_knows

    if not transformers_knows("lfm2"):
        pytest.skip("this transformers has no lfm2")
    config = AutoConfig.for_model("lfm2", **dict(TINY_GQA, layer_types=["conv", "full_attention"]))
    AutoModelForCausalLM.from_config(config).save_pretrained(tmp_path / "src")
    with pytest.raises(ExportError, match="conv layers"):
        xporter_onnx.export(tmp_path / "src", tmp_path / "onnx", task="text-generation-with-past",
                            custom_onnx_config=decoder_llms.DecoderOnnxConfig)
    assert not (tmp_path / "onnx").exists()


def test_cli_refuses_a_hybrid_cache_in_one_line(tmp_path, capsys):
    from transformers import AutoConfig, AutoModelForCausalLM
    from xporter.cli.main import main

    from xporter_onnx.configs.decoder import TINY_GQA
    from xporter_onnx.testing import transformers_knows

    import transformers

    # a state family no row carries yet (recurrent_gemma keeps its states in the modules); lfm2 and the
    # other hybrids export their states (test_hybrid_decoders.py). 4.57's recurrent_gemma has no layer_types.
    if not transformers_knows("recurrent_gemma") or int(transformers.__version__.split(".")[0]) < 5:
        pytest.skip("needs transformers 5's recurrent_gemma")
    config = AutoConfig.for_model("recurrent_gemma", **dict(TINY_GQA, lru_width=32, attention_window_size=16,
                                                             conv1d_width=4, block_types=["recurrent", "attention"]))
    AutoModelForCausalLM.from_config(config).save_pretrained(tmp_path / "src")
    assert main(["export", "onnx", "-m", str(tmp_path / "src"), str(tmp_path / "out"),
                 "--task", "text-generation-with-past"]) == 1
    err = [line for line in capsys.readouterr().err.strip().splitlines() if line.startswith("xporter: error:")]
    assert len(err) == 1 and "linear_attention layers" in err[0] and "--task text-generation" in err[0]
    assert not (tmp_path / "out").exists()
