"""More vision-language models (``configs/vlm_more.py``), generated from ONNX Runtime alone.

As ``test_vlm.py``: each row's tiny random model is exported as the three graphs (each
validated against PyTorch by the exporter on other shapes than the trace), then
:class:`~xporter_onnx.generation.OnnxVisionLanguageGreedy` must equal ``generate()`` token for
token. The rows whose vision graph takes ``image_sizes`` (the llava_next family, mistral3) get
images of other sizes than the trace and the validation, of different sizes within the batch,
so prompts carry different numbers of image tokens: a vision graph that froze a grid, a crop or
a patch count fails.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TQDM_DISABLE", "1")

from xporter_onnx.configs import vlm, vlm_more  # noqa: E402
from xporter_onnx.testing import export_vlm_split, needs_newer_transformers, skip_unless_known  # noqa: E402

TASK = "image-text-to-text"
NEW_TOKENS = 8
ROWS = {row.model_type: row for row in vlm_more.ARCHITECTURES}
ANYRES = {t for t, r in ROWS.items() if issubclass(r.config_class, vlm_more.AnyresVlmOnnxConfig)}
# (height, width) per prompt: other sizes than the dummy generator's, different grids and crops
ANYRES_SIZES = [[13, 41], [45, 40], [30, 20]]
ONEVISION_PER_PROMPT = [1, 2]  # the second prompt's two images are not tiled
PIXTRAL_SIZES = [[28, 20], [12, 32]]  # 3x2 and 1x4 merged tokens, the batch padded to 28x32 pixels


def _images(row, model_config, rng):
    """The prompts' images, as the row's processor lays them out, and the number of images per prompt."""
    batch, size = 2, 16
    if row.model_type in ANYRES:
        from xporter_onnx.vlm_more_patches import patch_counts

        per_prompt = ONEVISION_PER_PROMPT if "batch_num_images" in row.config_class.VISION_INPUTS else [1, 1]
        sizes = np.array(ANYRES_SIZES[:sum(per_prompt)], dtype=np.int64)
        tiled = np.repeat(np.array(per_prompt) == 1, per_prompt)
        counts = [n if tile else 1 for n, tile in zip(patch_counts(sizes, model_config), tiled)]
        pixels = rng.uniform(-1, 1, (len(sizes), max(counts), 3, size, size)).astype(np.float32)
        for i, count in enumerate(counts):
            pixels[i, count:] = 0  # the processor's padding patches
        images = {"pixel_values": pixels, "image_sizes": sizes}
        if "batch_num_images" in row.config_class.VISION_INPUTS:
            images["batch_num_images"] = np.array(per_prompt, dtype=np.int64)
        return images, per_prompt
    if issubclass(row.config_class, vlm_more.PixtralVlmOnnxConfig):
        sizes = np.array(PIXTRAL_SIZES, dtype=np.int64)
        pixels = rng.uniform(-1, 1, (batch, 3, *sizes.max(0))).astype(np.float32)
        for image, (height, width) in zip(pixels, sizes):
            image[:, height:] = 0
            image[:, :, width:] = 0
        return {"pixel_values": pixels, "image_sizes": sizes}, [1, 1]
    pixels = rng.uniform(-1, 1, (batch, 3, size, size)).astype(np.float32)
    if row.config_class.BATCHED_IMAGES:
        return {"pixel_values": pixels[:, None], "pixel_attention_mask": np.ones((batch, 1, size, size), bool)}, [1, 1]
    if "pixel_mask" in row.config_class.VISION_INPUTS:  # the second image padded below and right, partly in patches
        mask = np.ones((batch, size, size), bool)
        mask[1, 13:] = mask[1, :, 10:] = False
        pixels[1][:, ~mask[1]] = 0
        return {"pixel_values": pixels, "pixel_mask": mask}, [1, 1]
    return {"pixel_values": pixels}, [1, 1]


def _prompt_images(images, per_prompt, prompt):
    """The vision inputs of one prompt's images."""
    start = sum(per_prompt[:prompt])
    out = {k: v[start:start + per_prompt[prompt]] for k, v in images.items() if k != "batch_num_images"}
    if "batch_num_images" in images:
        out["batch_num_images"] = np.array([per_prompt[prompt]], dtype=np.int64)
    return out


def _prompts(runner, images, per_prompt, rng):
    """bos, the placeholder tokens of the prompt's images, 5 text tokens; shorter prompts left-padded."""
    counts = [runner.vision.run(["image_features"], _prompt_images(images, per_prompt, p))[0].shape[0]
              for p in range(len(per_prompt))]
    rows = [[1] + [vlm.IMAGE_TOKEN] * n + list(rng.integers(3, 120, 5)) for n in counts]
    rows[1] = [0, 0] + rows[1]  # padding even when the images give the same count
    width = max(map(len, rows))
    ids = np.array([[0] * (width - len(r)) + r for r in rows], dtype=np.int64)
    mask = np.array([[0] * (width - len(r)) + [1] * len(r) for r in rows], dtype=np.int64)
    mask[1, :2 + width - len(rows[1])] = 0
    return ids, mask


@pytest.mark.parametrize("model_type", [pytest.param(t, marks=skip_unless_known(ROWS[t])) for t in sorted(ROWS)])
def test_split_generates_like_generate(model_type, tmp_path):
    import torch
    import transformers

    from xporter_onnx.generation import OnnxVisionLanguageGreedy

    row = ROWS[model_type]
    if needs_newer_transformers(row):
        pytest.skip(f"{row.class_name} needs transformers >= {row.config_class.MIN_TRANSFORMERS_VERSION}")
    model_dir, out, report = export_vlm_split(row, tmp_path)
    model = transformers.AutoModelForImageTextToText.from_pretrained(str(model_dir), attn_implementation="eager").eval()
    rng = np.random.default_rng(0)
    runner = OnnxVisionLanguageGreedy.from_folder(out)
    images, per_prompt = _images(row, model.config, rng)
    ids, mask = _prompts(runner, images, per_prompt, rng)
    got = runner.generate(ids, images, vlm.IMAGE_TOKEN, attention_mask=mask, max_new_tokens=NEW_TOKENS)
    with torch.no_grad():
        expected = model.generate(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask),
                                  **{k: torch.tensor(v) for k, v in images.items()}, max_new_tokens=NEW_TOKENS,
                                  min_new_tokens=NEW_TOKENS, do_sample=False)
    np.testing.assert_array_equal(got, expected.numpy())


# many sizes and aspect ratios per family: wide and tall crops, images smaller and larger than every pinpoint
# (anyres), odd patch counts that the merger floors (pixtral)
FEATURE_SIZES = {vlm_more.AnyresVlmOnnxConfig: ([[20, 37], [37, 20], [30, 30], [50, 14], [13, 70], [100, 99], [5, 5],
                                                [16, 48], [17, 16]], 16),  # 9 images
                 vlm_more.PixtralVlmOnnxConfig: ([[32, 32], [16, 28], [12, 32], [8, 8], [20, 12], [8, 24], [28, 20]],
                                                 32)}
SIZED = sorted(t for t, r in ROWS.items() if issubclass(r.config_class, vlm_more.SizedImagesVlmOnnxConfig))


@pytest.mark.parametrize("model_type", [pytest.param(t, marks=skip_unless_known(ROWS[t])) for t in SIZED])
def test_tensor_op_features_equal_the_models(model_type):
    """The tensor-op image features equal the model's own get_image_features (concatenated) on many
    images of different sizes in one call."""
    import torch

    from xporter_onnx import vlm_more_patches
    from xporter_onnx.testing import build_tiny_model

    row = ROWS[model_type]
    model = build_tiny_model(model_type, TASK, dict(row.tiny))
    sizes, tile = next(v for k, v in FEATURE_SIZES.items() if issubclass(row.config_class, k))
    inputs = {"image_sizes": torch.tensor(sizes)}
    if model_type in ANYRES:
        counts = vlm_more_patches.patch_counts(np.array(sizes), model.config)
        assert len(set(counts)) > 1
        inputs["pixel_values"] = torch.randn(len(sizes), max(counts), 3, tile, tile)
    else:
        inputs["pixel_values"] = torch.randn(len(sizes), 3, tile, tile)
    if "batch_num_images" in row.config_class.VISION_INPUTS:  # prompts of 1, 2, 1, 3 and 2 images
        inputs["batch_num_images"] = torch.tensor([1, 2, 1, 3, 2])
    with torch.no_grad():
        reference = model.model.get_image_features(**inputs)  # (4.57's outer class lacks batch_num_images)
        reference = getattr(reference, "pooler_output", reference)
        got = getattr(vlm_more_patches, row.config_class.FEATURES)(model, **inputs)
    assert len({len(r) for r in reference}) > 1  # one tensor per image, of different token counts
    reference = torch.cat(list(reference))
    assert got.shape == reference.shape
    torch.testing.assert_close(got, reference, rtol=0, atol=1e-6)


def test_anyres_refuses_pinpoints_that_are_not_whole_tiles():
    from types import SimpleNamespace

    from xporter.errors import ExportError
    from xporter_onnx.vlm_more_patches import anyres_layout

    config = SimpleNamespace(vision_config=SimpleNamespace(image_size=16, patch_size=4),
                             image_grid_pinpoints=[[16, 32], [24, 16]])
    with pytest.raises(ExportError, match="not multiples of the vision image size 16"):
        anyres_layout(config)


@skip_unless_known(ROWS["llava_next"])
def test_cli_refuses_pinpoints_that_are_not_whole_tiles(tmp_path, capsys):
    """The same refusal from the CLI: one error line, exit 1, no output folder."""
    import dataclasses

    from xporter.cli.main import main

    from xporter_onnx.testing import tiny_model_dir

    row = ROWS["llava_next"]
    row = dataclasses.replace(row, tiny=dict(row.tiny, image_grid_pinpoints=[[16, 32], [24, 16]]))
    source = tiny_model_dir(row, TASK, tmp_path / "src")
    assert main(["export", "onnx", "-m", str(source), str(tmp_path / "out"), "--task", TASK]) == 1
    stderr = capsys.readouterr().err
    err = [line for line in stderr.strip().splitlines() if line.startswith("xporter: error:")]
    assert len(err) == 1 and "not multiples of the vision image size" in err[0]
    assert "Traceback" not in stderr and not (tmp_path / "out").exists()


def test_rows_register_with_their_auto_mapped_tasks():
    """Each row registers with the TasksManager; its tasks plus LEFT_OUT are the type's auto mappings."""
    import transformers
    from xporter import TasksManager

    from xporter_onnx.configs import all_architectures
    from xporter_onnx.testing import auto_mapping_tasks, transformers_knows

    others = {r.model_type for r in all_architectures() if r not in vlm_more.ARCHITECTURES}
    assert not others & set(ROWS) and len(ROWS) == len(vlm_more.ARCHITECTURES)
    for model_type, row in ROWS.items():
        if not transformers_knows(model_type):
            continue
        supported = TasksManager.get_supported_tasks_for_model_type(model_type, "onnx")
        assert all(supported[task].config_class is row.config_class for task in row.tasks), model_type
        if int(transformers.__version__.split(".")[0]) >= 5:
            assert set(row.tasks) | set(vlm_more.LEFT_OUT.get(model_type, {})) == auto_mapping_tasks(model_type)
            assert not set(row.tasks) & set(vlm_more.LEFT_OUT.get(model_type, {}))


@pytest.mark.parametrize("model_type", [pytest.param(t, marks=skip_unless_known(ROWS[t])) for t in sorted(ROWS)
                                        if "pixel_mask" in ROWS[t].config_class.VISION_INPUTS])
def test_pixel_mask_is_an_input_that_matters(model_type, tmp_path):
    """Aria's padding mask becomes the tower's patch mask: the graph keeps the input and reads it."""
    import onnxruntime as ort

    row = ROWS[model_type]
    if needs_newer_transformers(row):
        pytest.skip(f"{row.class_name} needs transformers >= {row.config_class.MIN_TRANSFORMERS_VERSION}")
    _, out, _ = export_vlm_split(row, tmp_path)
    session = ort.InferenceSession(str(out / "vision_encoder.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["pixel_values", "pixel_mask"]
    images, _ = _images(row, None, np.random.default_rng(0))
    padded = session.run(["image_features"], images)[0]
    whole = session.run(["image_features"], dict(images, pixel_mask=np.ones_like(images["pixel_mask"])))[0]
    half = len(padded) // 2
    np.testing.assert_allclose(padded[:half], whole[:half], atol=1e-5)  # the first image has no padding
    assert np.abs(padded[half:] - whole[half:]).max() > 1e-4
