"""Sub-model towers that transformers 5.x registers as model types of their own, as data.

Vision-language and dual-encoder checkpoints ship towers that transformers gives their own
model type and ``AutoModel`` entry (``clip_text_model``, ``aimv2_vision_model``,
``internvl_vision``...): exporting one alone is how an image or text embedder is deployed
next to a separately served decoder. Only ``feature-extraction`` exists for them (their auto
mappings have no other head). Rows use the plain modality bases; where a tower's config class
name would repeat an existing config class name (``CLIPTextOnnxConfig`` is diffusers' CLIP
text encoder), ``name`` spells it with ``Model``.
"""

from __future__ import annotations

from ..modalities import TextEncoderOnnxConfig, VisionOnnxConfig
from . import Arch
from .decoder import OWN_CLASS, TINY_GQA, DecoderOnnxConfig
from .encoder_heads import PADDED_TEXT
from .text_encoders import OPTIONAL_TT, TINY_TEXT
from .vision import PIXELS, TINY_CONV, TINY_VIT

FEATURES = ("feature-extraction",)
# multimodal rotary: the (temporal, height, width) sections sum to half the tiny head width (8)
TINY_MROPE = dict(TINY_GQA, rope_parameters=dict(rope_type="default", rope_theta=10000.0, mrope_section=[1, 1, 2]))


def vision_tower(model_type: str, tiny=TINY_VIT, **kwargs) -> Arch:
    return Arch(model_type, FEATURES, VisionOnnxConfig, dict(PIXELS), tiny=dict(tiny), **kwargs)


def text_tower(model_type: str, tiny=TINY_TEXT, **kwargs) -> Arch:
    return Arch(model_type, FEATURES, TextEncoderOnnxConfig, dict(OPTIONAL_TT), tiny=dict(tiny), **kwargs)


ARCHITECTURES = [
    vision_tower("aimv2_vision_model"), vision_tower("chinese_clip_vision_model"), vision_tower("internvl_vision"),
    vision_tower("mlcd_vision_model", name="MLCDVisionModelOnnxConfig"), vision_tower("qianfan_ocr_vision"),
    vision_tower("radio"), vision_tower("sam3_vit_model"), vision_tower("sam_hq_vision_model"),
    vision_tower("sam_vision_model"), vision_tower("sam2_hiera_det_model", tiny=TINY_CONV),
    text_tower("clip_text_model", name="CLIPTextModelOnnxConfig"), text_tower("embedding_gemma2_text"),
    text_tower("muse_glimmer_text"), text_tower("granite_docling_text", PADDED_TEXT), text_tower("tipsv2_text_model"),
    # a decoder's text stack under AutoModel: hidden states without the cache
    Arch("molmo2_text", FEATURES, DecoderOnnxConfig, dict(OWN_CLASS), tiny=dict(TINY_GQA)),
    Arch("qwen3_vl_text", FEATURES, DecoderOnnxConfig, dict(OWN_CLASS), tiny=dict(TINY_GQA)),
    Arch("qwen2_vl_text", FEATURES, DecoderOnnxConfig, dict(OWN_CLASS), tiny=dict(TINY_MROPE)),
    Arch("qwen2_5_vl_text", FEATURES, DecoderOnnxConfig, dict(OWN_CLASS), tiny=dict(TINY_MROPE)),
]
