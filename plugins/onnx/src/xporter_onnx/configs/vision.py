"""Image architectures, as data (tasks from reference/optimum-onnx-support.json)."""

from __future__ import annotations

import contextlib
from typing import Any, Dict

from ..modalities import TextEncoderOnnxConfig, VisionOnnxConfig
from ..normalized import NormalizedTextConfig, NormalizedVisionConfig
from . import Arch
from .multimodal import RenamedOutputsOnnxConfig

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


class RenamedOutputsVisionOnnxConfig(RenamedOutputsOnnxConfig, VisionOnnxConfig):
    """Image models whose ONNX output names (Optimum's) differ from the model's output fields."""


class UnmaskedViTMAEOnnxConfig(VisionOnnxConfig):
    """ViT-MAE's encoder without its random masking.

    MAE drops a random ``mask_ratio`` share of the patches on every call (a pre-training
    device; the graph would hold a RandomUniform and never match PyTorch). The export keeps
    every patch in order: ``mask_ratio`` is 0 while tracing and validating, and the model
    gets an ascending ``noise`` so its shuffle is the identity. Outputs are then the encoder
    features a downstream user of the checkpoint wants, deterministically.
    """

    def prepare_model_inputs(self, inputs: Dict[str, Any]) -> Dict[str, Any]:
        import torch

        pixels = inputs["pixel_values"]
        patch = self.normalized_config.get("patch_size", 16)
        num_patches = (pixels.shape[2] // patch) * (pixels.shape[3] // patch)
        noise = torch.arange(num_patches, dtype=pixels.dtype, device=pixels.device).expand(pixels.shape[0], -1)
        return {**inputs, "noise": noise}

    @contextlib.contextmanager
    def export_context(self, model: Any):
        saved = model.config.mask_ratio
        model.config.mask_ratio = 0.0
        try:
            yield
        finally:
            model.config.mask_ratio = saved


class ImageGptOnnxConfig(TextEncoderOnnxConfig):
    """ImageGPT reads colour-cluster token ids, not pixels (as Optimum's GPT-2-based config).

    Two transformers 4.57 bugs are worked around: positions are passed explicitly (it computes
    them as ``past_length + ...`` with ``past_length = None`` when the cache is off), and its
    ``torch_float`` returns ``int(x)`` outside tracing, so eager attention divides by
    ``int(sqrt(head_dim))`` while the traced graph divides by the true root. The export
    context restores the float the original model (and transformers 5) uses, on both sides.
    """

    INPUT_NAMES = ("input_ids", "attention_mask")
    MODEL_KWARGS = {"use_cache": False}
    NORMALIZED_CONFIG_CLASS = NormalizedTextConfig.with_args(num_layers="n_layer", hidden_size="n_embd",
                                                             num_attention_heads="n_head")

    def prepare_model_inputs(self, inputs: Dict[str, Any]) -> Dict[str, Any]:
        import torch

        ids = inputs["input_ids"]
        return {**inputs, "position_ids": torch.arange(ids.shape[1], device=ids.device).unsqueeze(0)}

    @contextlib.contextmanager
    def export_context(self, model: Any):
        from unittest import mock

        import torch
        from transformers.models.imagegpt import modeling_imagegpt

        def torch_float(x: Any) -> Any:
            return x.to(torch.float32) if isinstance(x, torch.Tensor) else float(x)

        with mock.patch.object(modeling_imagegpt, "torch_float", torch_float, create=False):
            yield


# Image models added for Optimum parity (tasks from reference/optimum-onnx-support.json).
# Some tiny configs raise `initializer_range`: with the default, these narrow random trunks
# shrink their outputs to 1e-9..1e-23 (EfficientNet, LeViT, DPT heads), and a 1e-4 tolerance
# would then compare nothing; the values chosen give outputs of order 0.1-1.
BATCH_ONLY = {0: "batch_size"}
FE_MAP = {"last_hidden_state": dict(SEG_AXES)}  # convolutional trunks: (batch, channels, height, width)
VISION_TOWER_OUTPUTS = {"last_hidden_state": {0: "batch_size", 1: "sequence_length"}, "pooler_output": BATCH_ONLY}
TINY_RT_DETR = dict(backbone_config=dict(model_type="rt_detr_resnet", embedding_size=8, hidden_sizes=[8, 16, 16, 32],
                                         depths=[1, 1, 1, 1], layer_type="basic", out_features=["stage3", "stage4"]),
                    encoder_in_channels=[16, 32], feat_strides=[16, 32], encode_proj_layers=[1], num_feature_levels=2,
                    encoder_hidden_dim=16, encoder_ffn_dim=32, encoder_attention_heads=2, d_model=16,
                    decoder_in_channels=[16, 16], decoder_ffn_dim=32, decoder_layers=2, decoder_attention_heads=2,
                    decoder_n_points=2, num_queries=10, num_denoising=0, num_labels=3,
                    initializer_range=0.2)  # the default 0.01 makes all encoder scores tie, so top-k picks arbitrarily
DETECTION = dict(PIXELS, DEFAULT_ONNX_OPSET=16)  # multi-scale deformable attention samples with GridSample (opset 16)

ARCHITECTURES += [
    # CvT indexes per-stage drop-path rates by stage number, so stage 2 needs depth >= 2
    Arch("cvt", FE_IC, VisionOnnxConfig, dict(PIXELS, OUTPUTS={"feature-extraction": FE_MAP}),
         tiny=dict(num_channels=3, patch_sizes=[7, 3], patch_stride=[4, 2], patch_padding=[2, 1], embed_dim=[8, 16],
                   num_heads=[1, 2], depth=[1, 2], mlp_ratio=[2.0, 2.0], attention_drop_rate=[0.0, 0.0],
                   drop_rate=[0.0, 0.0], drop_path_rate=[0.0, 0.0], qkv_bias=[True, True], cls_token=[False, True],
                   qkv_projection_method=["dw_bn", "dw_bn"], kernel_qkv=[3, 3], padding_kv=[1, 1],
                   stride_kv=[2, 2], padding_q=[1, 1], stride_q=[1, 1])),
    Arch("efficientnet", FE_IC, VisionOnnxConfig, dict(PIXELS, OUTPUTS={"feature-extraction": FE_MAP}),
         tiny=dict(num_channels=3, image_size=32, width_coefficient=0.025, depth_coefficient=1.0,
                   kernel_sizes=[3, 3], in_channels=[32, 16], out_channels=[16, 24], strides=[1, 2],
                   num_block_repeats=[1, 1], expand_ratios=[1, 2], hidden_dim=32, initializer_range=0.7)),
    Arch("levit", FE_IC, VisionOnnxConfig, PIXELS,
         tiny=dict(image_size=64, num_channels=3, patch_size=16, hidden_sizes=[16, 32, 48],  # LeViT needs 3 stages
                   num_attention_heads=[1, 2, 3], depths=[1, 1, 1], key_dim=[8, 8, 8], mlp_ratio=[2, 2, 2],
                   attention_ratio=[2, 2, 2], initializer_range=0.2)),
    Arch("glpn", ("feature-extraction", "depth-estimation"), VisionOnnxConfig,
         dict(PIXELS, OUTPUTS={"feature-extraction": FE_MAP}),
         tiny=dict(TINY_SEGFORMER, decoder_hidden_size=16)),
    Arch("dpt", ("feature-extraction", "depth-estimation", "image-segmentation", "semantic-segmentation"),
         VisionOnnxConfig, PIXELS,
         tiny=dict(TINY_VIT, backbone_out_indices=[0, 1], neck_hidden_sizes=[16, 32], reassemble_factors=[2, 1],
                   fusion_hidden_size=16, head_in_index=-1, num_labels=3, initializer_range=0.15)),
    Arch("hiera", FE_IC, VisionOnnxConfig, PIXELS,
         tiny=dict(image_size=[64, 64], embed_dim=8, depths=[1, 1], num_heads=[1, 2], num_query_pool=1,
                   masked_unit_attention=[True, False])),
    Arch("vit_mae", ("feature-extraction",), UnmaskedViTMAEOnnxConfig, PIXELS, tiny=TINY_VIT),
    Arch("swin2sr", ("feature-extraction", "image-to-image"), VisionOnnxConfig,
         dict(PIXELS, OUTPUTS={"feature-extraction": FE_MAP}),
         tiny=dict(image_size=16, patch_size=1, num_channels=3, embed_dim=8, depths=[1, 1], num_heads=[2, 2],
                   window_size=4, upscale=2)),
    Arch("imagegpt", FE_IC, ImageGptOnnxConfig, tiny=dict(vocab_size=99, n_positions=64, n_embd=32, n_layer=2, n_head=4)),
    # MODEL_CLASSES: the core's image-segmentation / keypoint-detection auto classes lack these two
    Arch("maskformer", ("feature-extraction", "image-segmentation"), RenamedOutputsVisionOnnxConfig,
         dict(PIXELS, MODEL_CLASSES={"image-segmentation": "MaskFormerForInstanceSegmentation"},
              OUTPUT_SOURCES={"last_hidden_state": "transformer_decoder_last_hidden_state"},
              OUTPUTS={"feature-extraction": {"last_hidden_state": {0: "batch_size", 1: "num_queries"}},
                       "image-segmentation": {"class_queries_logits": {0: "batch_size", 1: "num_queries"},
                                              "masks_queries_logits": {0: "batch_size", 1: "num_queries",
                                                                       2: "height", 3: "width"}}}),
         tiny=dict(backbone_config=dict(model_type="swin", image_size=32, patch_size=4, embed_dim=8,
                                        depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1], window_size=2,
                                        out_features=["stage1", "stage2", "stage3", "stage4"]),
                   decoder_config=dict(model_type="detr", d_model=16, encoder_layers=1, decoder_layers=1,
                                       encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=16,
                                       decoder_ffn_dim=16, num_queries=5),
                   fpn_feature_size=32, mask_feature_size=32, num_labels=3)),
    Arch("vitpose", ("keypoint-detection",), VisionOnnxConfig,
         dict(PIXELS, MODEL_CLASSES={"keypoint-detection": "VitPoseForPoseEstimation"},
              NORMALIZED_CONFIG_CLASS=NormalizedVisionConfig.with_args(image_size="backbone_config.image_size")),
         tiny=dict(backbone_config=dict(model_type="vitpose_backbone", image_size=[32, 24], patch_size=[8, 8],
                                        hidden_size=32, num_hidden_layers=2, num_attention_heads=4, mlp_ratio=2,
                                        out_indices=[2]))),
    Arch("d_fine", ("object-detection",), VisionOnnxConfig, DETECTION,
         tiny=dict(TINY_RT_DETR, decoder_n_points=[2, 2], lqe_hidden_dim=8, lqe_layers=2, max_num_bins=8,
                   top_prob_values=2)),
    Arch("rt_detr", ("object-detection",), VisionOnnxConfig, DETECTION, tiny=TINY_RT_DETR),
    Arch("rt_detr_v2", ("object-detection",), VisionOnnxConfig, DETECTION, tiny=dict(TINY_RT_DETR, decoder_n_levels=2)),
    # vision towers alone (CLIPVisionModel / SiglipVisionModel checkpoints)
    Arch("clip_vision_model", ("feature-extraction",), VisionOnnxConfig, dict(PIXELS, OUTPUTS=VISION_TOWER_OUTPUTS),
         tiny=TINY_VIT),
    Arch("siglip_vision_model", ("feature-extraction",), VisionOnnxConfig, dict(PIXELS, OUTPUTS=VISION_TOWER_OUTPUTS),
         tiny=TINY_VIT),
]
