"""Text + image architectures (CLIP family), as data."""

from __future__ import annotations

from ..modalities import TextAndVisionOnnxConfig
from . import Arch

TINY_TEXT_TOWER = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                       max_position_embeddings=64)
TINY_VISION_TOWER = dict(image_size=32, patch_size=8, num_channels=3, hidden_size=32, num_hidden_layers=2,
                         num_attention_heads=4, intermediate_size=37)
CLIP_OUTPUTS = {"feature-extraction": {
    "logits_per_image": {0: "image_batch_size", 1: "text_batch_size"},
    "logits_per_text": {0: "text_batch_size", 1: "image_batch_size"},
    "text_embeds": {0: "text_batch_size"}, "image_embeds": {0: "image_batch_size"}}}

ARCHITECTURES = [
    Arch("clip", ("feature-extraction", "zero-shot-image-classification"), TextAndVisionOnnxConfig,
         dict(OUTPUTS=CLIP_OUTPUTS, ATOL_FOR_VALIDATION=1e-4),
         tiny=dict(text_config=dict(TINY_TEXT_TOWER, eos_token_id=2), vision_config=TINY_VISION_TOWER,
                   projection_dim=16)),
    Arch("siglip", ("feature-extraction", "zero-shot-image-classification"), TextAndVisionOnnxConfig,
         dict(INPUT_NAMES=("input_ids", "pixel_values"), OUTPUTS=CLIP_OUTPUTS, ATOL_FOR_VALIDATION=1e-4),
         tiny=dict(text_config=TINY_TEXT_TOWER, vision_config=TINY_VISION_TOWER)),
]
