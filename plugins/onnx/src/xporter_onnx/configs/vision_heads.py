"""Image architectures of transformers 5.x beyond Optimum's list, as data.

Each row validates with the plain :class:`~xporter_onnx.modalities.VisionOnnxConfig`
(``pixel_values`` in, the head's outputs out); rows differ in their tasks (the type's auto
mappings in transformers 5.24, checked by ``tests/test_head_tables.py``) and in the tiny
config the sweep builds. Found by ``scripts/probe_unregistered.py``; families needing more
(DETR-style detectors with their own post-processing, Mask2Former's query outputs) are left
to rows with classes of their own.
"""

from __future__ import annotations

from ..modalities import VisionOnnxConfig
from . import Arch
from .vision import FE_IC, FE_IC_MIM, PIXELS, TINY_CONV, TINY_DETR, TINY_VIT

DEPTH = ("depth-estimation",)
FEATURES = ("feature-extraction",)
# BiT's group norms take 8 groups, so every width is a multiple of 8 (the default 32 groups would not divide)
TINY_BIT = dict(num_channels=3, embedding_size=32, hidden_sizes=[32, 64], depths=[1, 1], num_groups=8,
                layer_type="preactivation", image_size=32)


# DINOv2/v3 with register tokens; their position embeddings are resized with antialiased bicubic (opset 18)
TINY_REGISTERS = dict(TINY_VIT, mlp_ratio=2, num_register_tokens=2)
# PVTv2: per-stage lists (two stages), the spatial-reduction ratios of PVT
TINY_PVT_V2 = dict(image_size=32, num_channels=3, num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1],
                   hidden_sizes=[8, 16], patch_sizes=[4, 2], strides=[4, 2], num_attention_heads=[1, 2],
                   mlp_ratios=[2, 2])
# DETR-style detectors: a pixel mask beside the pixels, one query axis in the outputs
DETR = dict(INPUT_NAMES=("pixel_values", "pixel_mask"), ATOL_FOR_VALIDATION=1e-4, VALIDATION_SHAPES={"batch_size": 3},
            OUTPUTS={"feature-extraction": {"last_hidden_state": {0: "batch_size", 1: "num_queries"}}})
TINY_DETR64 = dict(TINY_DETR, image_size=64)
# auto-mapped tasks a row does not export, and why (tests/test_head_tables.py reads this)
LEFT_OUT = {
    "sapiens2": {"image-segmentation": "its segmentation head reads a feature map the base forward does not return",
                 "semantic-segmentation": "same head as image-segmentation"},
    "hgnet_v2": {"feature-extraction": "AutoModel maps hgnet_v2 to HGNetV2Backbone, which returns a tuple of "
                                       "feature maps, not one hidden state"},
    "deformable_detr": {"object-detection": "transformers 5.24 cannot reload a saved DeformableDetrForObjectDetection "
                                            "(its tie_weights_keys pattern matches the first box head)"},
}


def detector(model_type: str, tasks=("feature-extraction", "object-detection")) -> Arch:
    return Arch(model_type, tuple(tasks), VisionOnnxConfig, dict(DETR), tiny=dict(TINY_DETR64))


def image(model_type: str, tasks=FE_IC, tiny=TINY_VIT, **kwargs) -> Arch:
    return Arch(model_type, tuple(tasks), VisionOnnxConfig, dict(PIXELS), tiny=dict(tiny), **kwargs)


ARCHITECTURES = [
    image("focalnet", FE_IC_MIM), image("ijepa"), image("swiftformer"), image("textnet"),
    image("chmv2", DEPTH), image("depth_anything", DEPTH, TINY_CONV), image("prompt_depth_anything", DEPTH, TINY_CONV),
    image("dinov3_convnext", FEATURES), image("mlcd", FEATURES, name="MLCDOnnxConfig"), image("pixio", FEATURES),
    image("maskformer-swin", FEATURES, TINY_CONV), image("bit", FE_IC, TINY_BIT),
    image("vitdet", FEATURES), image("sapiens2", FEATURES),
    # HGNetV2's default config is already small (a B0-sized classifier); stage widths tie the head to it
    image("hgnet_v2", ("image-classification",), {}),
    image("pvt_v2", FE_IC, TINY_PVT_V2), image("dinov2_with_registers", FE_IC, TINY_REGISTERS),
    image("dinov3_vit", FEATURES, TINY_REGISTERS),
    detector("conditional_detr"), detector("dab-detr"), detector("deformable_detr", FEATURES),
]
