"""Encoder, vision, video and audio architectures of transformers 5.x still missing from the other tables.

Rows reuse the modality bases; the input layouts those lack (SigLIP 2's NaFlex patches,
video clips) are in :mod:`.encoders_more_inputs`. Tasks are the types' auto mappings in
transformers 5.24 (``tests/test_head_tables.py`` checks it); a task left out is named in
``LEFT_OUT`` with the reason.

Tried and not registered (the reason, so nobody tries the same again blindly):

* ``dinat``: its neighbourhood attention needs the ``natten`` kernels, absent here (the
  model cannot even run in PyTorch).
* ``timm_wrapper``, ``timm_backbone``: need the ``timm`` package, absent from the environments.
* ``fnet``: its Fourier mixing is ``aten::fft_fftn``, which the TorchScript exporter cannot write.
"""

from __future__ import annotations

from ..normalized import NormalizedVisionConfig
from . import Arch
from .encoders_more_inputs import NaflexDualEncoderOnnxConfig, NaflexVisionOnnxConfig, VideoOnnxConfig
from .multimodal import CLIP, TINY_TEXT_TOWER, TINY_VISION_TOWER
from .vision import PIXELS, TINY_VIT

FEATURES = ("feature-extraction",)
VISION_TOWER_OUTPUTS = {"last_hidden_state": {0: "batch_size", 1: "num_patches"}, "pooler_output": {0: "batch_size"}}

# SigLIP 2: 16 patch slots of 4x4 pixels; the position table is a 4x4 grid resized to each image's
TINY_NAFLEX = dict(TINY_VISION_TOWER, patch_size=4, num_patches=16)
TINY_SIGLIP2 = dict(text_config=TINY_TEXT_TOWER, vision_config=TINY_NAFLEX)

# video clips: 4 frames of 32x32 pixels, tubelets of 2 frames
TINY_VIDEO = dict(TINY_VIT, num_frames=4, tubelet_size=2)
VJEPA2 = dict(PIXELS, INPUT_NAMES=("pixel_values_videos",), MODEL_KWARGS={"skip_predictor": True},
              NORMALIZED_CONFIG_CLASS=NormalizedVisionConfig.with_args(image_size="crop_size", num_channels="in_chans",
                                                                       num_frames="frames_per_clip"))
TINY_VJEPA2 = dict(patch_size=8, crop_size=32, frames_per_clip=4, tubelet_size=2, hidden_size=32, in_chans=3,
                   num_attention_heads=4, num_hidden_layers=2, mlp_ratio=2.0, num_pooler_layers=1,
                   pred_hidden_size=16, pred_num_attention_heads=2, pred_num_hidden_layers=1, pred_num_mask_tokens=2,
                   pred_mlp_ratio=2.0)

# auto-mapped tasks a row does not export, and why (tests/test_head_tables.py reads this)
LEFT_OUT = {}


def video(model_type: str, tiny=TINY_VIDEO, attrs=PIXELS) -> Arch:
    return Arch(model_type, FEATURES, VideoOnnxConfig, dict(attrs), tiny=dict(tiny))


# transformers 4.x resizes SigLIP 2's position table in a Python loop over the batch (a trace freezes the
# first image's grid), and V-JEPA 2's 4.57 modeling fails to trace (a tensor size mismatch inside the
# tracer): both are exported from transformers 5.0 on and refused in one line before.
FROM_5 = dict(MIN_TRANSFORMERS_VERSION="5.0.0")

ARCHITECTURES = [
    Arch("siglip2", ("feature-extraction", "image-classification", "zero-shot-image-classification"),
         NaflexDualEncoderOnnxConfig, dict(CLIP, **FROM_5), tiny=dict(TINY_SIGLIP2, num_labels=3)),
    Arch("siglip2_vision_model", FEATURES, NaflexVisionOnnxConfig,
         dict(PIXELS, OUTPUTS=VISION_TOWER_OUTPUTS, **FROM_5),
         tiny=dict(TINY_NAFLEX)),
    video("videomae", dict(TINY_VIDEO, use_mean_pooling=False)), video("timesformer"),
    video("vivit", dict(TINY_VIDEO, tubelet_size=[2, 8, 8])), video("vjepa2", TINY_VJEPA2, dict(VJEPA2, **FROM_5)),
]
