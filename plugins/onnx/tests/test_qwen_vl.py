"""Qwen2-VL / Qwen2.5-VL / Qwen3-VL (``configs/qwen_vl.py``): the vision-language split with M-RoPE.

Each tiny random model is exported once (Qwen2-VL through the CLI in the transformers.js layout,
the others through the API);
the tests then check the graphs' interface, the vision graph against the model's own
``get_image_features`` on image grids the trace never saw, the numpy M-RoPE positions against
the model's ``get_rope_index``, and ONNX Runtime greedy generation against ``generate()``
token for token (two left-padded prompts with images of different grids).
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

os.environ.setdefault("TQDM_DISABLE", "1")

from xporter_onnx.configs import qwen_vl  # noqa: E402
from xporter_onnx.testing import transformers_knows  # noqa: E402

TASK = "image-text-to-text"
NEW_TOKENS = 8
ROWS = {row.model_type: row for row in qwen_vl.ARCHITECTURES}
PATCH_WIDTH = 3 * 2 * 4 * 4  # channels * temporal_patch_size * patch_size**2 of the tiny towers


@pytest.fixture(scope="module", params=sorted(ROWS))
def exported(request, tmp_path_factory):
    """(model_type, model folder, export folder, report or CLI json) for each row, exported once."""
    import transformers

    model_type = request.param
    if not transformers_knows(model_type):
        pytest.skip(f"transformers {transformers.__version__} has no '{model_type}'")
    from xporter_onnx.testing import tiny_model_dir

    root = tmp_path_factory.mktemp(model_type)
    model_dir = tiny_model_dir(ROWS[model_type], TASK, root / "model")
    out = root / "onnx"
    if model_type == "qwen2_vl":
        import contextlib
        import io

        from xporter.cli.main import main

        stdout = io.StringIO()
        with contextlib.redirect_stdout(stdout):
            # the family transformers.js runs: its layout (graphs under onnx/, config.json beside)
            code = main(["export", "onnx", "-m", str(model_dir), str(out), "--task", TASK, "--json",
                         "--layout", "transformers.js"])
        assert code == 0
        report = json.loads(stdout.getvalue())
        assert set(report["parts"]) == {"vision_encoder", "embed_tokens", "decoder_model_merged"}
    else:
        import xporter_onnx

        report = xporter_onnx.export(str(model_dir), str(out), task=TASK)
        assert report.ok
    return model_type, model_dir, out, report


def _graphs(out):
    """The folder holding the graphs (``onnx/`` in the transformers.js layout)."""
    return out / "onnx" if (out / "onnx").is_dir() else out


def _model(model_dir):
    import transformers

    return transformers.AutoModelForImageTextToText.from_pretrained(str(model_dir), attn_implementation="eager").eval()


def _images(grids, seed=0):
    grids = np.asarray(grids, dtype=np.int64)
    pixels = np.random.default_rng(seed).uniform(-1, 1, (int(grids.prod(-1).sum()), PATCH_WIDTH))
    return {"pixel_values": pixels.astype(np.float32), "image_grid_thw": grids}


def _flat(layout):
    """Every image's grid of a prompt layout, in prompt order (what the processor's image_grid_thw lists)."""
    return [grid for images in layout for grid in ([images] if np.ndim(images) == 1 else images)]


def _prompts(layout, seed=0):
    """One prompt per row of ``layout`` (an image's grid, or a list of grids for several images):
    bos, per image <|vision_start|>, its merged tokens, <|vision_end|> and two text tokens, then
    three more; shorter prompts are left-padded to the longest."""
    rng = np.random.default_rng(seed)
    rows = []
    for images in layout:
        row = [1]
        for grid in ([images] if np.ndim(images) == 1 else images):
            row += [qwen_vl.VISION_START] + [qwen_vl.IMAGE_TOKEN] * (int(np.prod(grid)) // 4) + [qwen_vl.VISION_END]
            row += list(rng.integers(3, 120, 2))
        rows.append(row + list(rng.integers(3, 120, 3)))
    length = max(len(r) for r in rows)
    ids = np.array([[0] * (length - len(r)) + r for r in rows], dtype=np.int64)
    mask = np.array([[0] * (length - len(r)) + [1] * len(r) for r in rows], dtype=np.int64)
    return ids, mask


# one image per prompt (8 and 6 image tokens: the second prompt is left-padded by 2); two images
# in the first prompt, one in the second
LAYOUTS = {"one-image-each": [[1, 4, 8], [1, 6, 4]], "two-images-then-one": [[[1, 4, 4], [1, 2, 4]], [[1, 6, 4]]]}


def test_graphs_take_patches_grids_and_three_row_positions(exported):
    import onnxruntime as ort

    model_type, _, out, _ = exported
    assert sorted(p.name for p in _graphs(out).glob("*.onnx")) == ["decoder_model_merged.onnx", "embed_tokens.onnx",
                                                                  "vision_encoder.onnx"]
    assert (out / "config.json").is_file()
    assert (_graphs(out) != out) == (model_type == "qwen2_vl")  # the transformers.js layout
    vision = ort.InferenceSession(str(_graphs(out) / "vision_encoder.onnx"), providers=["CPUExecutionProvider"])
    grid = "grid_thw" if model_type == "qwen2_vl" else "image_grid_thw"  # transformers.js's names
    assert [(i.name, len(i.shape)) for i in vision.get_inputs()] == [("pixel_values", 2), (grid, 2)]
    decoder = ort.InferenceSession(str(_graphs(out) / "decoder_model_merged.onnx"), providers=["CPUExecutionProvider"])
    inputs = {i.name: i.shape for i in decoder.get_inputs()}
    assert list(inputs)[:3] == ["inputs_embeds", "attention_mask", "position_ids"]
    assert inputs["position_ids"][0] == 3 and len(inputs["position_ids"]) == 3
    past = [f"past_key_values.{i}.{kind}" for i in range(2) for kind in ("key", "value")]
    if model_type.startswith("qwen3_vl"):  # deepstack features: one vision layer, added after decoder layer 0
        assert [o.name for o in vision.get_outputs()] == ["image_features", "deepstack_features"]
        assert list(inputs)[3:] == ["deepstack_embeds"] + past and inputs["deepstack_embeds"][0] == 1
        return
    assert [o.name for o in vision.get_outputs()] == ["image_features"]
    assert list(inputs)[3:] == past


def test_export_validated_every_graph_on_other_shapes(exported):
    model_type, _, _, report = exported
    if model_type == "qwen2_vl":  # the CLI's json report
        assert all(part["ok"] for part in report["validation"]) and len(report["validation"]) == 3
        return
    vision = next(v for v in report.validation if v.part == "vision_encoder")
    # batch 3 (three images) at validation, two at the trace
    assert vision.input_shapes["image_grid_thw"] == [3, 3]
    assert all(check.ok for v in report.validation for check in v.outputs)


def _reference_features(out):
    """(features, deepstack layers or None) of ``get_image_features``, whatever the version returns:
    5.x a ModelOutput (features split per image, deepstack per layer and image); 4.57 the split
    features, or for Qwen3-VL (split features, deepstack per layer)."""
    import torch

    def joined(parts):
        return torch.cat(list(parts)) if isinstance(parts, (list, tuple)) else parts

    if hasattr(out, "pooler_output"):
        features, deepstack = out.pooler_output, getattr(out, "deepstack_features", None)
    elif isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], list):
        features, deepstack = out
    else:
        features, deepstack = out, None
    return joined(features), torch.stack([joined(layer) for layer in deepstack]) if deepstack else None


@pytest.mark.parametrize("grids", [[[1, 4, 4]], [[1, 4, 6], [1, 8, 8], [1, 2, 2]], [[1, 10, 4], [1, 6, 6]]])
def test_vision_graph_equals_the_models_features_for_other_grids(exported, grids):
    import onnxruntime as ort
    import torch

    _, model_dir, out, _ = exported
    images = _images(grids)
    session = ort.InferenceSession(str(_graphs(out) / "vision_encoder.onnx"), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    grid = session.get_inputs()[1].name
    got = dict(zip(names, session.run(names, {"pixel_values": images["pixel_values"], grid: images["image_grid_thw"]})))
    with torch.no_grad():
        out = _model(model_dir).get_image_features(torch.tensor(images["pixel_values"]),
                                                   torch.tensor(images["image_grid_thw"]))
    ref, deepstack = _reference_features(out)
    assert got["image_features"].shape == (int(np.prod(grids, axis=-1).sum()) // 4, 32)
    np.testing.assert_allclose(got["image_features"], ref.numpy(), atol=1e-4)
    assert (deepstack is not None) == ("deepstack_features" in got)
    if deepstack is not None:
        np.testing.assert_allclose(got["deepstack_features"], deepstack.numpy(), atol=1e-4)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_numpy_positions_equal_get_rope_index(exported, layout):
    import torch
    import transformers

    from xporter_onnx.qwen_vl_generation import rope_index

    _, model_dir, _, _ = exported
    ids, mask = _prompts(LAYOUTS[layout])
    grids = _flat(LAYOUTS[layout])
    positions, deltas = rope_index(ids, np.array(grids), qwen_vl.IMAGE_TOKEN, 2, mask)
    kwargs = dict(image_grid_thw=torch.tensor(grids), attention_mask=torch.tensor(mask))
    if int(transformers.__version__.split(".")[0]) >= 5:
        kwargs["mm_token_type_ids"] = torch.tensor(ids == qwen_vl.IMAGE_TOKEN).int()
    expected, expected_deltas = _model(model_dir).model.get_rope_index(torch.tensor(ids), **kwargs)
    real = np.broadcast_to(mask.astype(bool), positions.shape)
    np.testing.assert_array_equal(positions[real], expected.numpy()[real])
    # deltas: 4.57 counts padding in the prompt length, 5.x does not; both step positions alike
    padding = (mask == 0).sum(-1)
    offset = 0 if int(transformers.__version__.split(".")[0]) >= 5 else padding
    np.testing.assert_array_equal(deltas - offset, expected_deltas.numpy().reshape(-1))


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_onnx_runtime_greedy_equals_generate(exported, layout):
    import torch
    import transformers

    from xporter_onnx.qwen_vl_generation import OnnxQwenVLGreedy

    _, model_dir, out, _ = exported
    ids, mask = _prompts(LAYOUTS[layout])
    images = _images(_flat(LAYOUTS[layout]), seed=1)
    # eos ends a row in both loops (finished rows get pad); min_new_tokens would hide eos from generate() only
    got = OnnxQwenVLGreedy.from_folder(out).generate(ids, images, qwen_vl.IMAGE_TOKEN, attention_mask=mask,
                                                     max_new_tokens=NEW_TOKENS, eos_token_id=2, pad_token_id=0)
    extra = {}
    if int(transformers.__version__.split(".")[0]) >= 5:
        extra["mm_token_type_ids"] = torch.tensor(ids == qwen_vl.IMAGE_TOKEN).int()
    with torch.no_grad():
        expected = _model(model_dir).generate(
            input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask),
            pixel_values=torch.tensor(images["pixel_values"]), image_grid_thw=torch.tensor(images["image_grid_thw"]),
            max_new_tokens=NEW_TOKENS, eos_token_id=2, pad_token_id=0, do_sample=False, **extra)
    assert mask[1, 0] == 0  # left padding
    np.testing.assert_array_equal(got, expected.numpy())


def test_wrong_positions_change_the_tokens(exported):
    """The check above is not vacuous: 1-D text positions in all three rows (what a loop unaware
    of M-RoPE would feed) generate other tokens."""
    from xporter_onnx.qwen_vl_generation import OnnxQwenVLGreedy

    model_type, _, out, _ = exported
    grids = [[1, 4, 8], [1, 6, 4]]
    ids, mask = _prompts(grids)
    images = _images(grids, seed=1)
    runner = OnnxQwenVLGreedy.from_folder(out)
    good = runner.generate(ids, images, qwen_vl.IMAGE_TOKEN, attention_mask=mask, max_new_tokens=NEW_TOKENS)
    embeds, deepstack = runner.visual(ids, images, qwen_vl.IMAGE_TOKEN)

    def feed(text_positions):
        def step_inputs(step, so_far, new_tokens):
            if text_positions:
                rows = np.cumsum(so_far, axis=-1)[:, -new_tokens:] - 1
                positions = np.broadcast_to(rows, (3,) + rows.shape)
            else:
                positions = runner_positions(step, so_far, new_tokens)
            inputs = {"position_ids": positions}
            if deepstack is not None:
                inputs["deepstack_embeds"] = (deepstack if step == 0 else
                                              np.zeros(deepstack.shape[:2] + (new_tokens,) + deepstack.shape[3:],
                                                       np.float32))
            return inputs
        return runner.decoder.generate(ids, mask, NEW_TOKENS, inputs_embeds=embeds, step_inputs=step_inputs)

    from xporter_onnx.qwen_vl_generation import decode_positions, rope_index

    prompt, deltas = rope_index(ids, np.array(grids), qwen_vl.IMAGE_TOKEN, 2, mask)

    def runner_positions(step, so_far, new_tokens):
        return prompt if step == 0 else decode_positions(so_far, deltas, new_tokens)

    np.testing.assert_array_equal(feed(False), good)  # the same feed as the runner's
    assert (feed(True) != good).any()


def test_prompt_logits_equal_the_models_forward(exported):
    """The prompt step's logits (image features, M-RoPE positions and, for Qwen3-VL, deepstack
    features placed by the runner) equal the model's forward on the same images and prompts;
    leaving the deepstack features out is a visible difference (the tiny model's greedy tokens
    happen not to change)."""
    import torch
    import transformers

    from xporter_onnx.qwen_vl_generation import OnnxQwenVLGreedy, rope_index

    model_type, model_dir, out, _ = exported
    grids = [[1, 4, 8], [1, 6, 4]]
    ids, mask = _prompts(grids)
    images = _images(grids, seed=1)
    runner = OnnxQwenVLGreedy.from_folder(out)
    embeds, deepstack = runner.visual(ids, images, qwen_vl.IMAGE_TOKEN)
    session = runner.decoder.session
    feed = {"inputs_embeds": embeds, "attention_mask": mask,
            "position_ids": rope_index(ids, np.array(grids), qwen_vl.IMAGE_TOKEN, 2, mask)[0]}
    for arg in session.get_inputs():
        if arg.name.startswith("past_key_values."):
            feed[arg.name] = np.zeros((2, arg.shape[1], 0, arg.shape[3]), np.float32)
    if deepstack is not None:
        feed["deepstack_embeds"] = deepstack
    got = session.run(["logits"], feed)[0]
    extra = {}
    if int(transformers.__version__.split(".")[0]) >= 5:
        extra["mm_token_type_ids"] = torch.tensor(ids == qwen_vl.IMAGE_TOKEN).int()
    with torch.no_grad():
        expected = _model(model_dir)(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask),
                                     pixel_values=torch.tensor(images["pixel_values"]),
                                     image_grid_thw=torch.tensor(images["image_grid_thw"]), **extra).logits.numpy()
    real = mask.astype(bool)
    np.testing.assert_allclose(got[real], expected[real], atol=1e-4)
    if deepstack is not None:
        without = session.run(["logits"], dict(feed, deepstack_embeds=np.zeros_like(deepstack)))[0]
        assert np.abs(without[real] - expected[real]).max() > 1e-2


def test_a_grid_that_does_not_fit_the_prompt_is_refused(exported):
    from xporter_onnx.qwen_vl_generation import OnnxQwenVLGreedy

    _, _, out, _ = exported
    ids, mask = _prompts([[1, 4, 8]])
    runner = OnnxQwenVLGreedy.from_folder(out)
    with pytest.raises(ValueError, match="needs 12 consecutive image tokens"):
        runner.generate(ids, _images([[1, 6, 8]]), qwen_vl.IMAGE_TOKEN, attention_mask=mask, max_new_tokens=1)
