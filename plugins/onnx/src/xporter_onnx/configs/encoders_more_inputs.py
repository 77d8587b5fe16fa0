"""Input layouts of the ``encoders_more`` rows that the modality bases do not produce.

* SigLIP 2's NaFlex images: each image is cut into a variable number of patches, flattened
  and right-padded to ``max_num_patches``; ``spatial_shapes`` gives each image's patch grid
  and ``pixel_attention_mask`` marks the real patches. The patch axis is static: the
  processor pads every image to ``max_num_patches``, and the attention-pooling head's
  ``nn.MultiheadAttention`` traces that length as a constant. The position table is resized
  to each grid inside the graph, so validation runs on another batch of other grids, padded.
* Video clips (VideoMAE, TimeSformer, ViViT, V-JEPA 2): (batch, frames, channels, height,
  width); the frame count and the image size are fixed by the position tables, so only the
  batch axis is dynamic.
"""

from __future__ import annotations

from typing import Any, List

from ..base import IOSpec
from ..dummy import DummyInputGenerator, DummyTextInputGenerator, np, to_framework
from ..modalities import VisionOnnxConfig
from ..normalized import NormalizedTextAndVisionConfig, NormalizedVisionConfig
from .multimodal import ClipLikeOnnxConfig


class DummyNaflexInputGenerator(DummyInputGenerator):
    """``pixel_values`` (batch, patches, channels * patch ** 2), ``pixel_attention_mask`` and
    ``spatial_shapes`` (batch, 2) of NaFlex-patchified images.

    The first image fills every patch slot (a grid of ``num_patches`` patches), the others
    take smaller grids of other aspect ratios, so a graph that froze the grid, or ignored the
    mask, disagrees with PyTorch on the validation inputs.
    """

    SUPPORTED_INPUT_NAMES = ("pixel_values", "pixel_attention_mask", "spatial_shapes")

    def __init__(self, task: str, normalized_config: Any, **shapes: Any) -> None:
        super().__init__(task, normalized_config, **shapes)
        cfg = normalized_config
        self.patch = int(cfg.patch_size)
        self.num_channels = int(cfg.get("num_channels", None) or 3)
        self.num_patches = int(shapes.get("num_patches") or cfg.num_patches)

    def grids(self) -> List[tuple]:
        n = self.num_patches
        full = max(h for h in range(1, n + 1) if n % h == 0 and h * h <= n)
        grids = [(full, n // full)]
        smaller = [(h, w) for h in range(1, n + 1) for w in range(1, n + 1) if n // 2 <= h * w < n]
        for index in range(1, self.batch_size):
            grids.append(smaller[int(self.rng.integers(len(smaller)))] if smaller else grids[0])
        return grids

    def generate(self, input_name, framework="pt", int_dtype="int64", float_dtype="fp32"):
        grids = self.grids()
        if input_name == "spatial_shapes":
            array = np.asarray(grids, dtype="int64")
        elif input_name == "pixel_attention_mask":
            array = np.zeros((self.batch_size, self.num_patches), dtype="int64")
            for row, (h, w) in enumerate(grids):
                array[row, : h * w] = 1
            array = array.astype(int_dtype)
        else:
            width = self.num_channels * self.patch * self.patch
            array = self.random_float((self.batch_size, self.num_patches, width), float_dtype)
            for row, (h, w) in enumerate(grids):
                array[row, h * w:] = 0.0
        return to_framework(array, framework, float_dtype)


NAFLEX_AXES = {"pixel_values": {0: "batch_size"}, "pixel_attention_mask": {0: "batch_size"},
               "spatial_shapes": {0: "batch_size"}}


class NaflexVisionOnnxConfig(VisionOnnxConfig):
    """SigLIP 2's vision tower (and its image classifier) on NaFlex patches."""

    NORMALIZED_CONFIG_CLASS = NormalizedVisionConfig
    DUMMY_INPUT_GENERATOR_CLASSES = (DummyNaflexInputGenerator,)
    INPUTS = NAFLEX_AXES
    VALIDATION_SHAPES = {"batch_size": 3}


class NaflexDualEncoderOnnxConfig(ClipLikeOnnxConfig):
    """SigLIP 2: token ids (SigLIP pads texts to a fixed length, so no text mask) and NaFlex
    images; ``image-classification`` takes the image inputs only."""

    NORMALIZED_CONFIG_CLASS = NormalizedTextAndVisionConfig.with_args(patch_size="vision_config.patch_size",
                                                                      num_patches="vision_config.num_patches")
    DUMMY_INPUT_GENERATOR_CLASSES = (DummyTextInputGenerator, DummyNaflexInputGenerator)
    VALIDATION_SHAPES = {"batch_size": 3, "sequence_length": 9}

    @property
    def inputs(self) -> IOSpec:
        if self.task in self.IMAGE_ONLY_TASKS:
            return {name: dict(axes) for name, axes in NAFLEX_AXES.items()}
        images = {name: {**axes, 0: "image_batch_size"} for name, axes in NAFLEX_AXES.items()}
        return {"input_ids": {0: "text_batch_size", 1: "sequence_length"}, **images}


class DummyVideoInputGenerator(DummyInputGenerator):
    """A clip (batch, frames, channels, height, width) under the row's input name."""

    SUPPORTED_INPUT_NAMES = ("pixel_values",)  # pixel_values_videos too (prefix match)

    def generate(self, input_name, framework="pt", int_dtype="int64", float_dtype="fp32"):
        cfg = self.normalized_config
        frames = int(cfg.get("num_frames", None) or cfg.get("frames_per_clip", None))
        height, width = cfg.image_hw()
        channels = int(cfg.get("num_channels", None) or 3)
        array = self.random_float((self.batch_size, frames, channels, height, width), float_dtype)
        return to_framework(array, framework, float_dtype)


class VideoOnnxConfig(VisionOnnxConfig):
    """Video encoders: one clip per batch row, as its processor makes it."""

    NORMALIZED_CONFIG_CLASS = NormalizedVisionConfig.with_args(image_size="image_size")
    DUMMY_INPUT_GENERATOR_CLASSES = (DummyVideoInputGenerator,)

    @property
    def inputs(self) -> IOSpec:
        return {name: {0: "batch_size"} for name in self.INPUT_NAMES}
