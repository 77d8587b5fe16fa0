"""Sub-model towers that transformers 5.x registers as model types of their own, as data.

Vision-language and dual-encoder checkpoints ship towers that transformers gives their own
model type and ``AutoModel`` entry (``clip_text_model``, ``aimv2_vision_model``,
``internvl_vision``...): exporting one alone is how an image or text embedder is deployed
next to a separately served decoder. Only ``feature-extraction`` exists for them (their auto
mappings have no other head). Rows use the plain modality bases; where a tower's config class
name would repeat an existing config class name (``CLIPTextOnnxConfig`` is diffusers' CLIP
text encoder), ``name`` spells it with ``Model``.

Many towers have no auto mapping at all (``siglip_text_model``, ``blip_vision_model``...: what
``SiglipTextModel.save_pretrained`` writes): their rows name the tower's own class in
``MODEL_CLASSES`` (loaded with it, as ``AutoModel`` would if it knew the type) and their class
after it (``SiglipTextModelOnnxConfig``), which no other row uses.
"""

from __future__ import annotations

from ..modalities import TextEncoderOnnxConfig, VisionOnnxConfig
from . import Arch
from .decoder import OWN_CLASS, TINY_GQA, DecoderOnnxConfig, MoeDecoderOnnxConfig
from .decoder_llms import TINY_MOE
from .encoder_heads import PADDED_TEXT
from .multimodal import CLIP, TINY_CLIP, ClipLikeOnnxConfig
from .text_encoders import OPTIONAL_TT, TINY_TEXT
from .vision import PIXELS, TINY_CONV, TINY_VIT

FEATURES = ("feature-extraction",)
# multimodal rotary: the (temporal, height, width) sections sum to half the tiny head width (8)
TINY_MROPE = dict(TINY_GQA, rope_parameters=dict(rope_type="default", rope_theta=10000.0, mrope_section=[1, 1, 2]))


def vision_tower(model_type: str, tiny=TINY_VIT, **kwargs) -> Arch:
    return Arch(model_type, FEATURES, VisionOnnxConfig, dict(PIXELS), tiny=dict(tiny), **kwargs)


# no type_vocab_size: each tower's own config default decides whether token_type_ids is an input
# (BERT-based towers keep it, CLIP-likes have none)
TINY_TOWER_TEXT = {key: value for key, value in TINY_TEXT.items() if key != "type_vocab_size"}


def text_tower(model_type: str, tiny=TINY_TOWER_TEXT, **kwargs) -> Arch:
    return Arch(model_type, FEATURES, TextEncoderOnnxConfig, dict(OPTIONAL_TT), tiny=dict(tiny), **kwargs)


# (model type, its own transformers class) of towers without an auto mapping, by modality
OWN_CLASS_TEXT = (
    ("aimv2_text_model", "Aimv2TextModel"), ("align_text_model", "AlignTextModel"),
    ("altclip_text_model", "AltCLIPTextModel"), ("blip_text_model", "BlipTextModel"),
    ("chinese_clip_text_model", "ChineseCLIPTextModel"), ("clap_text_model", "ClapTextModel"),
    ("clipseg_text_model", "CLIPSegTextModel"), ("csm_depth_decoder_model", "CsmDepthDecoderModel"),
    ("flava_text_model", "FlavaTextModel"), ("granite4_vision_text", "Granite4VisionTextModel"),
    ("groupvit_text_model", "GroupViTTextModel"), ("instructblip_qformer", "InstructBlipQFormerModel"),
    ("instructblipvideo_qformer", "InstructBlipVideoQFormerModel"), ("metaclip_2_text_model", "MetaClip2TextModel"),
    ("owlv2_text_model", "Owlv2TextModel"), ("owlvit_text_model", "OwlViTTextModel"),
    ("paddleocr_vl_text", "PaddleOCRTextModel"), ("siglip2_text_model", "Siglip2TextModel"),
    ("siglip_text_model", "SiglipTextModel"), ("videoprism_text_model", "VideoPrismTextModel"),
    ("xclip_text_model", "XCLIPTextModel"),
)
OWN_CLASS_VISION = (
    ("align_vision_model", "AlignVisionModel"), ("altclip_vision_model", "AltCLIPVisionModel"),
    ("blip_2_vision_model", "Blip2VisionModel"), ("blip_vision_model", "BlipVisionModel"),
    ("clipseg_vision_model", "CLIPSegVisionModel"), ("flava_image_model", "FlavaImageModel"),
    ("git_vision_model", "GitVisionModel"), ("groupvit_vision_model", "GroupViTVisionModel"),
    ("instructblip_vision_model", "InstructBlipVisionModel"),
    ("instructblipvideo_vision_model", "InstructBlipVideoVisionModel"), ("janus_vision_model", "JanusVisionModel"),
    ("metaclip_2_vision_model", "MetaClip2VisionModel"), ("owlv2_vision_model", "Owlv2VisionModel"),
    ("owlvit_vision_model", "OwlViTVisionModel"), ("pp_formulanet_vision", "PPFormulaNetVisionModel"),
)
OWN_CLASS_DECODER = (
    ("emu3_text_model", "Emu3TextModel"), ("mllama_text_model", "MllamaTextModel"),
)


def own_class_tower(model_type: str, model_class: str, base: type, attrs: dict, tiny: dict) -> Arch:
    return Arch(model_type, FEATURES, base, dict(attrs, MODEL_CLASSES={"feature-extraction": model_class}),
                tiny=dict(tiny), name=f"{model_class}OnnxConfig")


ARCHITECTURES = [
    vision_tower("aimv2_vision_model"), vision_tower("chinese_clip_vision_model"), vision_tower("internvl_vision"),
    vision_tower("mlcd_vision_model", name="MLCDVisionModelOnnxConfig"), vision_tower("qianfan_ocr_vision"),
    vision_tower("radio"), vision_tower("sam3_vit_model"), vision_tower("sam_hq_vision_model"),
    vision_tower("sam_vision_model"), vision_tower("sam2_hiera_det_model", tiny=TINY_CONV),
    text_tower("clip_text_model", name="CLIPTextModelOnnxConfig"), text_tower("embedding_gemma2_text"),
    text_tower("muse_glimmer_text"), text_tower("granite_docling_text", PADDED_TEXT), text_tower("tipsv2_text_model"),
    text_tower("sam3_lite_text_text_model"),
    # DPR's AutoModel is the question encoder: its embedding is the pooled output, not token states
    Arch("dpr", FEATURES, TextEncoderOnnxConfig,
         dict(OPTIONAL_TT, OUTPUTS={"feature-extraction": {"pooler_output": {0: "batch_size"}}}), tiny=dict(TINY_TEXT)),
    # a decoder's text stack under AutoModel: hidden states without the cache
    Arch("molmo2_text", FEATURES, DecoderOnnxConfig, dict(OWN_CLASS), tiny=dict(TINY_GQA)),
    Arch("qwen3_vl_text", FEATURES, DecoderOnnxConfig, dict(OWN_CLASS), tiny=dict(TINY_GQA)),
    Arch("qwen2_vl_text", FEATURES, DecoderOnnxConfig, dict(OWN_CLASS), tiny=dict(TINY_MROPE)),
    Arch("qwen2_5_vl_text", FEATURES, DecoderOnnxConfig, dict(OWN_CLASS), tiny=dict(TINY_MROPE)),
    # GLM-Image's text stack keeps its special-token ids inside the tiny vocabulary; HunYuan-VL's rotary
    # is the 4-axis xdrope (sections sum to half the tiny head width)
    Arch("glm_image_text", FEATURES, DecoderOnnxConfig, dict(OWN_CLASS),
         tiny=dict(TINY_MROPE, pad_token_id=0, bos_token_id=1, eos_token_id=2, vision_vocab_size=64)),
    Arch("hunyuan_vl_text", FEATURES, DecoderOnnxConfig, dict(OWN_CLASS),
         tiny=dict(TINY_GQA, rope_parameters=dict(rope_type="default", rope_theta=10000.0,
                                                  xdrope_section=[1, 1, 1, 1]))),
    Arch("qwen3_vl_moe_text", FEATURES, MoeDecoderOnnxConfig, dict(OWN_CLASS), tiny=dict(TINY_MOE)),
    Arch("muse_spark_text", FEATURES, MoeDecoderOnnxConfig, dict(OWN_CLASS), tiny=dict(TINY_MOE)),
]
ARCHITECTURES += [own_class_tower(t, c, TextEncoderOnnxConfig, OPTIONAL_TT, TINY_TOWER_TEXT)
                  for t, c in OWN_CLASS_TEXT]
ARCHITECTURES += [own_class_tower(t, c, VisionOnnxConfig, PIXELS, TINY_VIT) for t, c in OWN_CLASS_VISION]
ARCHITECTURES += [own_class_tower(t, c, DecoderOnnxConfig, OWN_CLASS, TINY_GQA) for t, c in OWN_CLASS_DECODER]
ARCHITECTURES += [
    # Step3p5's vision tower (its class carries the 3p7 name); projector sizes set to the tiny width
    own_class_tower("tipsv2_vision_model", "Tipsv2VisionModel", VisionOnnxConfig, PIXELS,
                    dict(TINY_VIT, mlp_ratio=2, num_register_tokens=2)),
    own_class_tower("step3p5_vision", "Step3p7VisionModel", VisionOnnxConfig, PIXELS,
                    dict(TINY_VIT, vision_output_dim=32, projector_input_dim=32, projector_output_dim=32)),
    # dual encoders under AutoModel alone: text and image embeddings in one graph, as CLIP's row
    Arch("aimv2", FEATURES, ClipLikeOnnxConfig, dict(CLIP), tiny=dict(TINY_CLIP)),
    Arch("vision-text-dual-encoder", FEATURES, ClipLikeOnnxConfig, dict(CLIP), tiny=dict(TINY_CLIP)),
]
