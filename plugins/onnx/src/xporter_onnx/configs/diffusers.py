"""Diffusers pipeline components (library ``diffusers``), as data.

Model types are Optimum's component types, registered for the tasks Optimum registers them
with (text encoders: feature-extraction; denoisers and VAE halves: semantic-segmentation).
``xporter_onnx.pipeline_export`` maps each pipeline component's class to its type with
``COMPONENT_TYPES`` / ``VAE_TYPES``; ``tiny`` holds the component config kwargs the tests
build a random component from (``COMPONENT_CLASS`` names its class).
"""

from __future__ import annotations

from ..normalized import NormalizedConfig, NormalizedTextConfig
from . import Arch
from .diffusion_components import (BATCH, SEQ, DcaeEncoderOnnxConfig, DiffusionComponentOnnxConfig,
                                   FluxTransformerOnnxConfig, GuidedDiTOnnxConfig, KlDecoderOnnxConfig,
                                   KlEncoderOnnxConfig,
                                   TextEncoderComponentOnnxConfig, UNetOnnxConfig, VaeDecoderOnnxConfig)

TEXT = ("feature-extraction",)
IMAGE = ("semantic-segmentation",)
LIB = "diffusers"
SPATIAL = {0: "batch_size", 2: "height", 3: "width"}
LATENT = {0: "batch_size", 2: "height_latent", 3: "width_latent"}
PACKED = {0: "batch_size", 1: "packed_height_width"}

# pipeline component class -> component model type (text encoders and denoisers)
COMPONENT_TYPES = {
    "CLIPTextModel": "clip-text",
    "CLIPTextModelWithProjection": "clip-text-with-projection",
    "T5EncoderModel": "t5-encoder",
    "Gemma2Model": "gemma2-text-encoder",
    "UNet2DConditionModel": "unet-2d-condition",
    "SD3Transformer2DModel": "sd3-transformer-2d",
    "FluxTransformer2DModel": "flux-transformer-2d",
    "SanaTransformer2DModel": "sana-transformer",
}
# VAE class -> (encoder type, decoder type): each VAE becomes two graphs
VAE_TYPES = {"AutoencoderKL": ("vae-encoder", "vae-decoder"), "AutoencoderDC": ("dcae-encoder", "dcae-decoder")}
# component model type -> class the tests build it from (transformers for text encoders)
COMPONENT_CLASS = {**{t: c for c, t in COMPONENT_TYPES.items()},
                   **{t: c for c, types in VAE_TYPES.items() for t in types}}


def _text(outputs, normalized=NormalizedTextConfig, inputs=None, sources=None, model_class=None):
    attrs = dict(BASE_OUTPUTS=outputs, NORMALIZED_CONFIG_CLASS=normalized,
                 MODEL_CLASSES={"feature-extraction": model_class})
    if inputs:
        attrs["INPUTS"] = inputs
    if sources:
        attrs["OUTPUT_SOURCES"] = sources
    return attrs


def _denoiser(inputs, outputs, component, hidden_size, sources):
    attrs = dict(OUTPUTS=outputs, OUTPUT_SOURCES=sources,
                 NORMALIZED_CONFIG_CLASS=NormalizedConfig.with_args(hidden_size=hidden_size, component=component))
    if inputs is not None:
        attrs["INPUTS"] = inputs
    return attrs


TINY_CLIP_TEXT = dict(vocab_size=99, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37,
                      max_position_embeddings=77, projection_dim=16, eos_token_id=2)
TINY_UNET = dict(block_out_channels=(16, 32), layers_per_block=1, norm_num_groups=8, sample_size=16, in_channels=4,
                 out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                 up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=16, attention_head_dim=2)
TINY_VAE = dict(block_out_channels=(8, 16), in_channels=3, out_channels=3, latent_channels=4, norm_num_groups=8,
                down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                layers_per_block=1, sample_size=32)
TINY_DCAE = dict(in_channels=3, latent_channels=4, attention_head_dim=2,
                 encoder_block_types=("ResBlock", "EfficientViTBlock"),
                 decoder_block_types=("ResBlock", "EfficientViTBlock"),
                 encoder_block_out_channels=(8, 8), decoder_block_out_channels=(8, 8),
                 encoder_qkv_multiscales=((), (5,)), decoder_qkv_multiscales=((), (5,)),
                 encoder_layers_per_block=(1, 1), decoder_layers_per_block=(1, 1),
                 upsample_block_type="interpolate", downsample_block_type="stride_conv")

ARCHITECTURES = [
    Arch("clip-text", TEXT, TextEncoderComponentOnnxConfig,
         _text({"last_hidden_state": dict(SEQ), "pooler_output": dict(BATCH)}, model_class="CLIPTextModel"),
         library=LIB, tiny=TINY_CLIP_TEXT),
    Arch("clip-text-with-projection", TEXT, TextEncoderComponentOnnxConfig,
         _text({"text_embeds": dict(BATCH), "last_hidden_state": dict(SEQ)}, model_class="CLIPTextModelWithProjection"),
         library=LIB, tiny=TINY_CLIP_TEXT),
    Arch("t5-encoder", TEXT, TextEncoderComponentOnnxConfig,
         _text({"last_hidden_state": dict(SEQ)}, NormalizedTextConfig.with_args(hidden_size="d_model",
                                                                                num_layers="num_layers"),
               model_class="T5EncoderModel"),
         library=LIB, tiny=dict(vocab_size=99, d_model=16, d_ff=32, num_layers=2, num_heads=2, d_kv=8,
                                relative_attention_num_buckets=8)),
    # Sana's Gemma-2 encoder reads padded prompts: the mask is an input. Eager attention, as
    # transformers recommends for Gemma-2 (its attention logit soft-capping)
    Arch("gemma2-text-encoder", TEXT, TextEncoderComponentOnnxConfig,
         dict(_text({"last_hidden_state": dict(SEQ)}, inputs={"input_ids": dict(SEQ), "attention_mask": dict(SEQ)},
                    model_class="Gemma2Model"), ATTN_IMPLEMENTATION="eager"),
         library=LIB, tiny=dict(vocab_size=99, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                                num_attention_heads=2, num_key_value_heads=1, head_dim=8, max_position_embeddings=64,
                                sliding_window=32)),
    Arch("unet-2d-condition", IMAGE, UNetOnnxConfig,
         _denoiser(None, {"out_sample": dict(SPATIAL)}, "unet", "cross_attention_dim", {"out_sample": "sample"}),
         library=LIB, tiny=TINY_UNET),
    Arch("sd3-transformer-2d", IMAGE, DiffusionComponentOnnxConfig,
         _denoiser({"hidden_states": dict(SPATIAL), "encoder_hidden_states": dict(SEQ),
                    "pooled_projections": dict(BATCH), "timestep": {0: "step"}},
                   {"out_hidden_states": dict(SPATIAL)}, "sd3", "joint_attention_dim",
                   {"out_hidden_states": "sample"}),
         library=LIB, tiny=dict(sample_size=32, patch_size=2, in_channels=4, out_channels=4, num_layers=2,
                                attention_head_dim=8, num_attention_heads=2, joint_attention_dim=16,
                                caption_projection_dim=16, pooled_projection_dim=16, pos_embed_max_size=32)),
    Arch("flux-transformer-2d", IMAGE, FluxTransformerOnnxConfig,
         _denoiser({"hidden_states": dict(PACKED), "encoder_hidden_states": dict(SEQ),
                    "pooled_projections": dict(BATCH), "timestep": {0: "step"},
                    "img_ids": {0: "packed_height_width"}, "txt_ids": {0: "sequence_length"}},
                   {"out_hidden_states": dict(PACKED)}, "flux", "joint_attention_dim",
                   {"out_hidden_states": "sample"}),
         library=LIB, tiny=dict(patch_size=1, in_channels=4, num_layers=1, num_single_layers=1, attention_head_dim=8,
                                num_attention_heads=2, joint_attention_dim=16, pooled_projection_dim=16,
                                axes_dims_rope=(2, 2, 4))),
    # Optimum's Sana graph keeps the UNet's output name (out_sample)
    Arch("sana-transformer", IMAGE, GuidedDiTOnnxConfig,
         _denoiser({"hidden_states": dict(SPATIAL), "encoder_hidden_states": dict(SEQ),
                    "encoder_attention_mask": dict(SEQ), "timestep": {0: "batch_size"}},
                   {"out_sample": dict(SPATIAL)}, "sana", "caption_channels", {"out_sample": "sample"}),
         library=LIB, tiny=dict(in_channels=4, out_channels=4, num_attention_heads=2, attention_head_dim=8,
                                num_layers=1, num_cross_attention_heads=2, cross_attention_head_dim=8,
                                cross_attention_dim=16, caption_channels=16, sample_size=32, patch_size=1)),
    Arch("vae-encoder", IMAGE, KlEncoderOnnxConfig, library=LIB, tiny=TINY_VAE),
    Arch("vae-decoder", IMAGE, KlDecoderOnnxConfig, library=LIB, tiny=TINY_VAE),
    Arch("dcae-encoder", IMAGE, DcaeEncoderOnnxConfig,
         dict(INPUTS={"sample": dict(SPATIAL)}, OUTPUTS={"latent_sample": dict(LATENT)}), library=LIB, tiny=TINY_DCAE),
    Arch("dcae-decoder", IMAGE, VaeDecoderOnnxConfig,
         dict(INPUTS={"latent_sample": dict(LATENT)}, OUTPUTS={"sample": dict(SPATIAL)}), library=LIB, tiny=TINY_DCAE),
]
