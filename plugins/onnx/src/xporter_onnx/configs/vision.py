"""Image architectures, as data (tasks from reference/optimum-onnx-support.json)."""

from __future__ import annotations

from ..modalities import VisionOnnxConfig
from ..normalized import NormalizedVisionConfig
from . import Arch

FE_IC = ("feature-extraction", "image-classification")
FE_IC_MIM = FE_IC + ("masked-im",)
SEG_AXES = {0: "batch_size", 1: "num_labels", 2: "height", 3: "width"}

TINY_VIT = dict(image_size=32, patch_size=8, num_channels=3, hidden_size=32, num_hidden_layers=2,
                num_attention_heads=4, intermediate_size=37, encoder_stride=8)
TINY_CONV = dict(num_channels=3, num_stages=2, hidden_sizes=[8, 16], depths=[1, 1], image_size=32)
TINY_SWIN = dict(image_size=32, patch_size=4, num_channels=3, embed_dim=8, depths=[1, 1], num_heads=[2, 2],
                 window_size=4, encoder_stride=8)
TINY_SEGFORMER = dict(num_channels=3, num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1], hidden_sizes=[8, 16],
                      patch_sizes=[7, 3], strides=[4, 2], num_attention_heads=[1, 2], mlp_ratios=[2, 2],
                      decoder_hidden_size=16, image_size=32)
TINY_DETR = dict(use_timm_backbone=False, use_pretrained_backbone=False, backbone=None,
                 backbone_config=dict(model_type="resnet", embedding_size=8, hidden_sizes=[8, 8, 16, 16],
                                      depths=[1, 1, 1, 1], layer_type="basic",
                                      out_features=["stage1", "stage2", "stage3", "stage4"]),
                 d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=8, decoder_attention_heads=8,
                 encoder_ffn_dim=16, decoder_ffn_dim=16, num_queries=5, num_labels=3)
TINY_YOLOS = dict(TINY_VIT, num_detection_tokens=5, image_size=[32, 32], num_labels=3)
TINY_MOBILEVIT = dict(image_size=32, num_channels=3, hidden_sizes=[16, 16, 16], neck_hidden_sizes=[8, 8, 8, 8, 8, 8, 16],
                      num_attention_heads=2, patch_size=2, expand_ratio=2.0)

PIXELS = dict(ATOL_FOR_VALIDATION=1e-4)

ARCHITECTURES = [
    Arch("vit", FE_IC_MIM, VisionOnnxConfig, PIXELS, tiny=TINY_VIT),
    Arch("deit", FE_IC_MIM, VisionOnnxConfig, PIXELS, tiny=TINY_VIT),
    Arch("beit", FE_IC, VisionOnnxConfig, PIXELS, tiny=dict(TINY_VIT, vocab_size=64)),
    Arch("dinov2", FE_IC, VisionOnnxConfig, PIXELS, tiny=dict(TINY_VIT, mlp_ratio=2)),
    Arch("convnext", FE_IC, VisionOnnxConfig, PIXELS, tiny=TINY_CONV),
    Arch("convnextv2", FE_IC, VisionOnnxConfig, PIXELS, tiny=TINY_CONV),
    Arch("resnet", FE_IC, VisionOnnxConfig, PIXELS,
         tiny=dict(num_channels=3, embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], layer_type="basic",
                   image_size=32)),
    Arch("swin", FE_IC_MIM, VisionOnnxConfig, PIXELS, tiny=TINY_SWIN),
    Arch("segformer", ("feature-extraction", "image-classification", "image-segmentation", "semantic-segmentation"),
         VisionOnnxConfig, dict(PIXELS, OUTPUTS={"feature-extraction": {"last_hidden_state": SEG_AXES},
                                                 "image-segmentation": {"logits": SEG_AXES}}),
         tiny=TINY_SEGFORMER),
    Arch("detr", ("feature-extraction", "object-detection", "image-segmentation"), VisionOnnxConfig,
         dict(INPUT_NAMES=("pixel_values", "pixel_mask"), ATOL_FOR_VALIDATION=1e-4, VALIDATION_SHAPES={"batch_size": 3},
              OUTPUTS={"feature-extraction": {"last_hidden_state": {0: "batch_size", 1: "num_queries"}},
                       "image-segmentation": {"logits": {0: "batch_size", 1: "num_queries"},
                                              "pred_boxes": {0: "batch_size", 1: "num_queries"},
                                              "pred_masks": {0: "batch_size", 1: "num_queries"}}}),
         tiny=dict(TINY_DETR, image_size=64)),
    Arch("yolos", ("feature-extraction", "object-detection"), VisionOnnxConfig, PIXELS, tiny=TINY_YOLOS),
    Arch("mobilevit", ("feature-extraction", "image-classification", "image-segmentation"), VisionOnnxConfig,
         dict(PIXELS, OUTPUTS={"feature-extraction": {"last_hidden_state": {0: "batch_size"}},
                               "image-segmentation": {"logits": SEG_AXES}}),
         tiny=TINY_MOBILEVIT),
    # beyond the required list
    Arch("data2vec-vision", FE_IC, VisionOnnxConfig, PIXELS, tiny=TINY_VIT),
    Arch("vit_msn", FE_IC, VisionOnnxConfig, PIXELS, tiny=TINY_VIT),
    Arch("swinv2", FE_IC_MIM, VisionOnnxConfig, PIXELS, tiny=TINY_SWIN),
    Arch("donut-swin", ("feature-extraction",), VisionOnnxConfig, PIXELS, tiny=TINY_SWIN),
    Arch("mobilenet_v1", FE_IC, VisionOnnxConfig, PIXELS,
         tiny=dict(num_channels=3, image_size=32, depth_multiplier=0.25, min_depth=8)),
    Arch("mobilenet_v2", FE_IC, VisionOnnxConfig, PIXELS,
         tiny=dict(num_channels=3, image_size=32, depth_multiplier=0.25, min_depth=8)),
    Arch("regnet", FE_IC, VisionOnnxConfig, PIXELS,
         tiny=dict(num_channels=3, embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], groups_width=8,
                   layer_type="x", image_size=32)),
    Arch("poolformer", FE_IC, VisionOnnxConfig, PIXELS,
         tiny=dict(num_channels=3, num_encoder_blocks=2, depths=[1, 1], hidden_sizes=[8, 16], patch_sizes=[7, 3],
                   strides=[4, 2], padding=[2, 1], pool_size=3, mlp_ratio=2.0, image_size=32)),
    Arch("pvt", FE_IC, VisionOnnxConfig, PIXELS,
         tiny=dict(image_size=32, num_channels=3, num_encoder_blocks=2, depths=[1, 1], sequence_reduction_ratios=[2, 1],
                   hidden_sizes=[8, 16], patch_sizes=[4, 2], strides=[4, 2], num_attention_heads=[1, 2],
                   mlp_ratios=[2, 2])),
    Arch("table-transformer", ("feature-extraction", "object-detection"), VisionOnnxConfig,
         dict(INPUT_NAMES=("pixel_values", "pixel_mask"), ATOL_FOR_VALIDATION=1e-4, VALIDATION_SHAPES={"batch_size": 3},
              OUTPUTS={"feature-extraction": {"last_hidden_state": {0: "batch_size", 1: "num_queries"}}}),
         tiny=dict(TINY_DETR, image_size=64)),
]
