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
from .vision import PIXELS, TINY_VIT

FEATURES = ("feature-extraction",)


def vision_tower(model_type: str, **kwargs) -> Arch:
    return Arch(model_type, FEATURES, VisionOnnxConfig, dict(PIXELS), tiny=dict(TINY_VIT), **kwargs)


def text_tower(model_type: str, tiny=TINY_TEXT, **kwargs) -> Arch:
    return Arch(model_type, FEATURES, TextEncoderOnnxConfig, dict(OPTIONAL_TT), tiny=dict(tiny), **kwargs)


ARCHITECTURES = [
    vision_tower("aimv2_vision_model"), vision_tower("chinese_clip_vision_model"), vision_tower("internvl_vision"),
    vision_tower("mlcd_vision_model", name="MLCDVisionModelOnnxConfig"),
    text_tower("clip_text_model", name="CLIPTextModelOnnxConfig"), text_tower("embedding_gemma2_text"),
    text_tower("muse_glimmer_text"), text_tower("granite_docling_text", PADDED_TEXT),
    # a decoder's text stack under AutoModel: hidden states without the cache
    Arch("molmo2_text", FEATURES, DecoderOnnxConfig, dict(OWN_CLASS), tiny=dict(TINY_GQA)),
]
