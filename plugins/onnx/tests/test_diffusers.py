"""Diffusers components and pipelines -> ONNX (Optimum's component types and folder layout).

Every row of ``configs/diffusers.py``: a tiny random component saved to disk, exported with its
config as ``custom_onnx_config`` and validated on shapes other than the trace. A tiny Stable
Diffusion pipeline goes end to end through the CLI (and through a 2-step denoising loop run by
ONNX Runtime alone); tiny SD3, Flux and Sana pipelines export every component.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("diffusers")

sys.path.insert(0, str(Path(__file__).parent))
from diffusers_helpers import (ROWS, build_component, tiny_flux, tiny_sana, tiny_sd3,  # noqa: E402
                               tiny_stable_diffusion)

from xporter.cli.main import main  # noqa: E402

REFERENCE = Path(__file__).resolve().parents[3] / "tests" / "reference" / "optimum-onnx-support.json"


def test_every_optimum_diffusers_type_is_registered():
    from xporter import TasksManager

    reference = json.loads(REFERENCE.read_text())
    wanted = {key.split(":", 1)[1]: set(tasks) for key, tasks in reference.items() if key.startswith("diffusers:")}
    assert set(wanted) == set(ROWS)
    for model_type, tasks in wanted.items():
        have = set(TasksManager.get_supported_tasks_for_model_type(model_type, "onnx", library_name="diffusers"))
        assert tasks == have, model_type


@pytest.mark.parametrize("model_type", list(ROWS))
def test_component_exports_and_validates(model_type, tmp_path):
    import xporter_onnx

    row = ROWS[model_type]
    build_component(model_type).save_pretrained(str(tmp_path / "src"))
    report = xporter_onnx.export(tmp_path / "src", tmp_path / "onnx", task=row.tasks[0],
                                 custom_onnx_config=row.config_class, height=32, width=32)
    assert report.ok and len(report.validation) == 1, report.to_dict()
    saved = json.loads((tmp_path / "onnx" / "export_report.json").read_text())
    part = saved["parts"][saved["validation"][0]["part"]]
    assert (tmp_path / "onnx" / part["file"]).is_file()
    assert [c["name"] for c in saved["validation"][0]["outputs"]] == list(row.config_class(
        _config_of(tmp_path / "src"), task=row.tasks[0]).outputs)
    assert saved["validation"][0]["input_shapes"] != part["trace_shapes"]  # validated on other shapes


def _config_of(folder):
    data = json.loads((folder / "config.json").read_text())
    if "_diffusers_version" in data:
        return data
    import transformers

    return transformers.AutoConfig.from_pretrained(str(folder))


def test_sdxl_unet_takes_added_conditioning(tmp_path):
    """``addition_embed_type="text_time"``: text_embeds and time_ids are graph inputs (Optimum's names)."""
    import xporter_onnx

    unet = build_component("unet-2d-condition", addition_embed_type="text_time", addition_time_embed_dim=4,
                           projection_class_embeddings_input_dim=16 + 6 * 4)
    unet.save_pretrained(str(tmp_path / "unet"))
    report = xporter_onnx.export(tmp_path / "unet", tmp_path / "onnx", height=32, width=32)
    assert report.ok and report.model_type == "unet-2d-condition"
    assert list(report.parts["model"]["inputs"]) == ["sample", "timestep", "encoder_hidden_states", "text_embeds",
                                                     "time_ids"]
    assert report.validation[0].input_shapes["text_embeds"] == [3, 16]


@pytest.fixture(scope="module")
def sd_pipeline(tmp_path_factory):
    return tiny_stable_diffusion(tmp_path_factory.mktemp("sd") / "pipeline")


@pytest.fixture(scope="module")
def sd_onnx(sd_pipeline, tmp_path_factory):
    out = tmp_path_factory.mktemp("sd-onnx") / "onnx"
    assert main(["export", "onnx", "-m", str(sd_pipeline), str(out), "--height", "32", "--width", "32"]) == 0
    return out


def test_stable_diffusion_pipeline_through_the_cli(sd_pipeline, sd_onnx):
    report = json.loads((sd_onnx / "export_report.json").read_text())
    assert report["ok"] and report["library"] == "diffusers" and report["task"] == "text-to-image"
    assert report["model_type"] == "StableDiffusionPipeline"
    components = ["text_encoder", "unet", "vae_encoder", "vae_decoder"]
    assert [v["part"] for v in report["validation"]] == components == list(report["parts"])
    for name in components:
        assert (sd_onnx / name / "model.onnx").is_file() and (sd_onnx / name / "config.json").is_file()
        assert report["files"][f"{name}/model.onnx"]["sha256"]
    assert report["parts"]["unet"]["model_type"] == "unet-2d-condition"
    assert list(report["parts"]["unet"]["outputs"]) == ["out_sample"]
    assert list(report["parts"]["vae_encoder"]["outputs"]) == ["latent_parameters"]
    assert list(report["parts"]["text_encoder"]["outputs"]) == ["last_hidden_state", "pooler_output"]
    for copied in ("model_index.json", "scheduler/scheduler_config.json", "tokenizer/tokenizer_config.json"):
        assert (sd_onnx / copied).is_file() and (sd_onnx / copied).read_bytes() == (sd_pipeline / copied).read_bytes()
    assert not (sd_onnx / "vae").exists() and not list(sd_onnx.parent.glob(".*partial*"))


def test_pipeline_optimize_writes_and_validates_every_component(sd_pipeline, tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["export", "onnx", "-m", str(sd_pipeline), str(out), "--optimize", "O2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    folders = ("text_encoder", "unet", "vae_encoder", "vae_decoder")
    assert report["optimization"]["files"] == [f"{folder}/model_optimized.onnx" for folder in folders]
    checked = report["optimization"]["validation"]
    assert [v["part"] for v in checked] == [f"{folder}_optimized" for folder in folders]
    assert all(v["ok"] for v in checked)
    for folder in folders:
        assert (out / folder / "model_optimized.onnx").is_file()
        assert f"{folder}/model_optimized.onnx" in report["files"]


def test_unsupported_component_class_is_one_line(sd_pipeline, tmp_path, monkeypatch):
    from xporter.errors import UnknownModelTypeError

    import xporter_onnx
    from xporter_onnx.configs import diffusers as table

    monkeypatch.delitem(table.COMPONENT_TYPES, "UNet2DConditionModel")
    with pytest.raises(UnknownModelTypeError, match="UNet2DConditionModel"):
        xporter_onnx.export(sd_pipeline, tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_missing_diffusers_names_the_install(sd_pipeline, tmp_path, monkeypatch):
    from xporter.errors import PluginUnavailableError

    import xporter_onnx

    monkeypatch.setitem(sys.modules, "diffusers", None)  # import diffusers -> ImportError
    with pytest.raises(PluginUnavailableError) as info:
        xporter_onnx.export(sd_pipeline, tmp_path / "o")
    assert info.value.hint == "pip install diffusers"


def _cli_error(argv, capsys):
    """(exit code, stderr) of ``xporter export onnx ...``; stderr must be one line."""
    capsys.readouterr()
    code = main(["export", "onnx", *map(str, argv)])
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return code, err


def test_cli_unsupported_component_class_is_one_line(sd_pipeline, tmp_path, monkeypatch, capsys):
    from xporter_onnx.configs import diffusers as table

    monkeypatch.delitem(table.COMPONENT_TYPES, "UNet2DConditionModel")
    code, err = _cli_error(["-m", sd_pipeline, tmp_path / "o"], capsys)
    assert code == 1 and err.startswith("xporter: error: ") and "UNet2DConditionModel" in err
    assert not (tmp_path / "o").exists()


def test_cli_missing_diffusers_is_one_line(sd_pipeline, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "diffusers", None)
    code, err = _cli_error(["-m", sd_pipeline, tmp_path / "o"], capsys)
    assert code == 1 and "pip install diffusers" in err and not (tmp_path / "o").exists()


def test_cli_unknown_diffusers_class_in_a_component_folder(sd_pipeline, tmp_path, capsys):
    import shutil

    unet = shutil.copytree(sd_pipeline / "unet", tmp_path / "unet")
    config = json.loads((unet / "config.json").read_text())
    (unet / "config.json").write_text(json.dumps({**config, "_class_name": "NoSuchModel2D"}))
    code, err = _cli_error(["-m", unet, tmp_path / "o"], capsys)
    assert code == 1 and "NoSuchModel2D" in err and not (tmp_path / "o").exists()


def test_onnx_denoising_matches_the_pytorch_pipeline(sd_pipeline, sd_onnx):
    """Two DDIM steps with ONNX Runtime alone (unet + vae_decoder) equal the PyTorch pipeline's image."""
    import numpy as np
    import onnxruntime as ort
    import torch
    from diffusers import DiffusionPipeline

    pipeline = DiffusionPipeline.from_pretrained(str(sd_pipeline))
    generator = torch.Generator().manual_seed(0)
    latents = torch.randn((1, 4, 16, 16), generator=generator)
    prompt_embeds = torch.randn((1, 7, 16), generator=generator)
    expected = pipeline(prompt_embeds=prompt_embeds, latents=latents.clone(), num_inference_steps=2,
                        guidance_scale=1.0, output_type="np").images

    unet = ort.InferenceSession(str(sd_onnx / "unet" / "model.onnx"))
    decoder = ort.InferenceSession(str(sd_onnx / "vae_decoder" / "model.onnx"))
    scheduler = pipeline.scheduler
    scheduler.set_timesteps(2)
    sample = latents * scheduler.init_noise_sigma
    for t in scheduler.timesteps:
        noise = unet.run(None, {"sample": scheduler.scale_model_input(sample, t).numpy(),
                                "timestep": np.asarray(int(t), dtype=np.int64),
                                "encoder_hidden_states": prompt_embeds.numpy()})[0]
        sample = scheduler.step(torch.from_numpy(noise), t, sample).prev_sample
    scaling = pipeline.vae.config.scaling_factor
    image = decoder.run(None, {"latent_sample": (sample / scaling).numpy()})[0]
    image = np.clip(image / 2 + 0.5, 0, 1).transpose(0, 2, 3, 1)
    assert image.shape == expected.shape
    assert image.std() > 1e-3 and ((image > 0) & (image < 1)).mean() > 0.5  # not a saturated, trivial image
    assert np.abs(image - expected).max() < 1e-4  # measured 4.8e-07


# pipeline -> (component folders, their model types / first outputs)
DIT_PIPELINES = {
    "sd3": (tiny_sd3, {"text_encoder": "clip-text-with-projection", "text_encoder_2": "clip-text-with-projection",
                       "text_encoder_3": "t5-encoder", "transformer": "sd3-transformer-2d",
                       "vae_encoder": "vae-encoder", "vae_decoder": "vae-decoder"}),
    "flux": (tiny_flux, {"text_encoder": "clip-text", "text_encoder_2": "t5-encoder",
                         "transformer": "flux-transformer-2d", "vae_encoder": "vae-encoder",
                         "vae_decoder": "vae-decoder"}),
    "sana": (tiny_sana, {"text_encoder": "gemma2-text-encoder", "transformer": "sana-transformer",
                         "vae_encoder": "dcae-encoder", "vae_decoder": "dcae-decoder"}),
}


@pytest.mark.parametrize("name", list(DIT_PIPELINES))
def test_dit_pipeline_exports_every_component(name, tmp_path):
    import xporter_onnx

    build, expected = DIT_PIPELINES[name]
    source = build(tmp_path / name)
    report = xporter_onnx.export(source, tmp_path / "onnx", height=32, width=32, sequence_length=8)
    assert report.ok and report.library == "diffusers" and report.task == "text-to-image"
    assert [v.part for v in report.validation] == list(expected) == list(report.parts)
    assert {k: v["model_type"] for k, v in report.parts.items()} == expected
    for folder in expected:
        assert (tmp_path / "onnx" / folder / "model.onnx").is_file()
        assert (tmp_path / "onnx" / folder / "config.json").is_file()
    for folder in ("scheduler", "tokenizer", "tokenizer_2", "tokenizer_3"):
        assert (tmp_path / "onnx" / folder).is_dir() == (source / folder).is_dir()
    if name == "sd3":
        # SD3 reads the CLIP encoders' penultimate layer: every hidden state is an output (Optimum's names)
        outputs = list(report.parts["text_encoder"]["outputs"])
        assert outputs[:2] == ["text_embeds", "last_hidden_state"] and outputs[-1] == "hidden_states.2"
        assert list(report.parts["text_encoder_3"]["outputs"]) == ["last_hidden_state"]
