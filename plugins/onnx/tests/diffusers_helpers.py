"""Tiny random diffusers components and pipelines for the tests (no hub access)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Dict

from xporter_onnx.configs import diffusers as table

ROWS = {row.model_type: row for row in table.ARCHITECTURES}
LETTERS = "abcdefghijklmnopqrstuvwxyz"


def build_component(model_type: str, seed: int = 0, **overrides: Any) -> Any:
    """A random component for a row: diffusers models from their kwargs, text encoders from a transformers config."""
    import diffusers
    import torch
    import transformers

    torch.manual_seed(seed)
    row = ROWS[model_type]
    kwargs = {**copy.deepcopy(row.tiny), **overrides}
    class_name = table.COMPONENT_CLASS[model_type]
    if row.tasks == ("feature-extraction",):
        cls = getattr(transformers, class_name)
        return cls(cls.config_class(**kwargs)).eval()
    return getattr(diffusers, class_name)(**kwargs).eval()


def write_clip_tokenizer(folder: Path) -> Any:
    """A CLIP BPE tokenizer over single letters (+ one merge), saved to ``folder``."""
    from transformers import CLIPTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    tokens = ["<|startoftext|>", "<|endoftext|>"] + list(LETTERS) + [c + "</w>" for c in LETTERS] + ["ca", "cat</w>"]
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
    (folder / "merges.txt").write_text("#version: 0.2\nc a\nca t</w>\n")
    tokenizer = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=77)
    tokenizer.save_pretrained(str(folder))
    return tokenizer


def tiny_stable_diffusion(folder: Path, seed: int = 0) -> Path:
    """CLIPTextModel + UNet2DConditionModel + AutoencoderKL + DDIM scheduler + CLIP tokenizer."""
    from diffusers import DDIMScheduler, StableDiffusionPipeline

    pipeline = StableDiffusionPipeline(
        vae=build_component("vae-encoder", seed), text_encoder=build_component("clip-text", seed),
        tokenizer=write_clip_tokenizer(folder.parent / f"{folder.name}-tokenizer"),
        unet=build_component("unet-2d-condition", seed),
        scheduler=DDIMScheduler(num_train_timesteps=1000, clip_sample=False, steps_offset=1),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipeline.save_pretrained(str(folder))
    return folder


def tiny_sd3(folder: Path, seed: int = 0) -> Path:
    """SD3: two CLIP-with-projection encoders + T5 + SD3 transformer + KL VAE + flow-matching scheduler.

    The transformer's pooled width is the two CLIP projections concatenated; its joint width
    is the CLIP hidden states (padded) and T5's d_model.
    """
    from diffusers import FlowMatchEulerDiscreteScheduler, StableDiffusion3Pipeline
    tokenizer = write_clip_tokenizer(folder.parent / f"{folder.name}-tokenizer")
    t5_tokenizer = _t5_tokenizer(folder.parent / f"{folder.name}-t5-tokenizer")
    transformer = build_component("sd3-transformer-2d", seed, joint_attention_dim=32, pooled_projection_dim=32,
                                  caption_projection_dim=16)
    pipeline = StableDiffusion3Pipeline(
        transformer=transformer, scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=build_component("vae-encoder", seed, latent_channels=4),
        text_encoder=build_component("clip-text-with-projection", seed), tokenizer=tokenizer,
        text_encoder_2=build_component("clip-text-with-projection", seed + 1), tokenizer_2=tokenizer,
        text_encoder_3=build_component("t5-encoder", seed, d_model=32), tokenizer_3=t5_tokenizer)
    pipeline.save_pretrained(str(folder))
    return folder


def tiny_flux(folder: Path, seed: int = 0) -> Path:
    """Flux: CLIP (pooled) + T5 (sequence) encoders, Flux transformer, KL VAE."""
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxPipeline

    pipeline = FluxPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(), vae=build_component("vae-encoder", seed, latent_channels=1),
        text_encoder=build_component("clip-text", seed),
        tokenizer=write_clip_tokenizer(folder.parent / f"{folder.name}-tokenizer"),
        text_encoder_2=build_component("t5-encoder", seed),
        tokenizer_2=_t5_tokenizer(folder.parent / f"{folder.name}-t5-tokenizer"),
        transformer=build_component("flux-transformer-2d", seed))
    pipeline.save_pretrained(str(folder))
    return folder


def tiny_sana(folder: Path, seed: int = 0) -> Path:
    """Sana: Gemma-2 encoder, Sana transformer, DC-AE (Optimum's dcae-encoder / dcae-decoder graphs)."""
    from diffusers import FlowMatchEulerDiscreteScheduler, SanaPipeline

    pipeline = SanaPipeline(
        tokenizer=_t5_tokenizer(folder.parent / f"{folder.name}-tokenizer"),
        text_encoder=build_component("gemma2-text-encoder", seed), vae=build_component("dcae-encoder", seed),
        transformer=build_component("sana-transformer", seed), scheduler=FlowMatchEulerDiscreteScheduler())
    pipeline.save_pretrained(str(folder))
    return folder


def _t5_tokenizer(folder: Path) -> Any:
    """A word-level fast tokenizer standing in for T5's sentencepiece one (same special tokens)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab: Dict[str, int] = {"<pad>": 0, "</s>": 1, "<unk>": 2, **{c: i + 3 for i, c in enumerate(LETTERS)}}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", eos_token="</s>",
                                        unk_token="<unk>", model_max_length=32)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(str(folder))
    return tokenizer
