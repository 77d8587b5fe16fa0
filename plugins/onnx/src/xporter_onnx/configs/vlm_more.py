"""More vision-language models (``image-text-to-text``) as the three graphs of :mod:`.vlm`.

Same split, same names, same generation loop
(:class:`~xporter_onnx.generation.OnnxVisionLanguageGreedy`) as :mod:`.vlm`; rows say only
what differs:

* ``vipllava``: llava's graphs with its multi-layer feature concatenation and normed projector,
  which ``get_image_features`` already does (the plain :class:`~.vlm.VlmOnnxConfig`);
* ``idefics2``: idefics3's batched layout (``pixel_values`` (batch, images, C, H, W) and
  ``pixel_attention_mask``), features through its perceiver resampler (the ``connector``);
  transformers >= 5 only, as idefics3 (4.57's vision embeddings loop over the images in Python);
* ``aria``: ``pixel_values`` + the processor's ``pixel_mask`` (real pixels; the tower masks the
  patches with no real pixel), features through the cross-attention projector, whose query
  count the model looks up from the patch count: the graph takes the tower's ``image_size``
  (static height and width; the processor pads images to its ``max_image_size``, which must be
  that size) and the query count of that patch count. The language model routes experts: :class:`MoeVlmOnnxConfig` adds
  :class:`~.decoder.MoeDecoderOnnxConfig`'s traceable routing. transformers >= 5 only (4.57's
  projector looks the count up with a traced size as a dict key);
* ``llava_next``, ``llava_next_video`` (images; the video path, pooled frames, is not
  exported), ``llava_onevision`` ("anyres"): the vision graph takes the processor's
  ``pixel_values`` (images, patches, C, H, W; the base image + the tiles of the best
  pinpoint, padded to the batch's largest count) and ``image_sizes`` (images, 2), and returns
  every image's tokens (base tokens, then the unpadded tile grid with ``image_newline`` after
  each row; OneVision first resizes a crop of more than ``anyres_max_N`` tiles bilinearly);
* ``mistral3``: the Pixtral tower on ``pixel_values`` (images, C, H, W) zero-padded to the
  batch's largest height and width plus ``image_sizes``: each image's own patch grid, 2-D
  RoPE positions and attention within the image, then the 2x2 patch merger.

The token count of these last two kinds follows each image's size, which the models compute in
Python loops over ``.tolist()`` values; :mod:`xporter_onnx.vlm_more_patches` computes the same
rows with tensor ops, so one graph holds for any number and size of images (the validation runs
other image sizes and patch counts than the trace; the tests compare the functions with the
models' own ``get_image_features`` on many sizes, and greedy generation on images of sizes
unlike both). The greedy loop needs nothing new: it feeds the vision graph the inputs it declares.

OneVision's vision graph also takes the processor's ``batch_num_images`` (images per prompt):
the images of a prompt with several are not tiled (base tokens and one newline), as in the
model. Tasks the auto mappings also give these types are in ``LEFT_OUT`` with the reason.

Tried and not registered:

* ``lfm2_vl``: its language model is LFM2, a convolution/attention hybrid whose cache holds
  convolution states (:mod:`.hybrid_decoders` exports it as one-token steps without a prompt
  graph); the split's decoder graph carries key/value caches only. A tiny config of attention
  layers only would pass the tests without representing any checkpoint.
* ``fast_vlm``: its vision tower is a ``timm_wrapper`` (FastViTHD); timm is not installed in
  the test environments, so no tiny model can be built or checked.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Dict

from ..dummy import DummyInputGenerator, to_framework
from .decoder import MoeDecoderOnnxConfig
from .decoder_llms import TINY_MOE
from .vlm import (IDEFICS3_STYLE, IMAGE_TOKEN, TINY_TEXT, TINY_VISION, VISION_ENCODER, ImageInputGenerator,
                  VlmNormalized, VlmOnnxConfig, towers, vlm)


class AnyresNormalized(VlmNormalized):
    """Also keeps the whole config: the pinpoints live on it, not on the vision config."""

    def __init__(self, config: Any, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.root_config = config


class AnyresImageInputGenerator(DummyInputGenerator):
    """``image_sizes`` of ``batch_size`` images, from a fraction of a tile to three tiles a side, that change
    with the batch size and the sequence length (so validation sees other grids, crops and patch counts
    than the trace), ``pixel_values`` (images, patches, C, tile, tile) padded to the largest count, as
    the processor pads them, and OneVision's ``batch_num_images``."""

    SUPPORTED_INPUT_NAMES = ("pixel_values", "image_sizes", "batch_num_images")

    def image_sizes(self) -> Any:
        import numpy as np

        tile = int(self.normalized_config.vision_config.image_size)
        seq = int(self.shapes.get("sequence_length", 16))
        sizes = [[tile // 2 + (7 * (i + seq)) % (3 * tile), tile // 2 + (11 * (i + seq) + 5) % (3 * tile)]
                 for i in range(self.batch_size)]
        return np.array(sizes, dtype=np.int64)

    def batch_num_images(self) -> Any:
        """OneVision's images per prompt: one, then prompts of two (untiled) images."""
        import numpy as np

        count = self.batch_size - 1
        return np.array([1] + [2] * (count // 2) + [1] * (count % 2), dtype=np.int64)

    def generate(self, input_name, framework="pt", int_dtype="int64", float_dtype="fp32"):
        from ..vlm_more_patches import patch_counts

        sizes = self.image_sizes()
        if input_name == "image_sizes":
            return to_framework(sizes.astype(int_dtype), framework)
        if input_name == "batch_num_images":
            return to_framework(self.batch_num_images().astype(int_dtype), framework)
        tile = int(self.normalized_config.vision_config.image_size)
        patches = max(patch_counts(sizes, self.normalized_config.root_config))
        shape = (len(sizes), patches, self.normalized_config.num_channels, tile, tile)
        return to_framework(self.random_float(shape, float_dtype), framework, float_dtype)


class PixtralImageInputGenerator(DummyInputGenerator):
    """``image_sizes`` of ``batch_size`` images of 2 to ``image_size / patch_size`` patches a side (whole
    patches, as the processor resizes them), changing with the batch size and the sequence length, and
    ``pixel_values`` (images, C, H, W) zero-padded to the largest height and width, as the processor pads."""

    SUPPORTED_INPUT_NAMES = ("pixel_values", "image_sizes")

    def image_sizes(self) -> Any:
        import numpy as np

        vision = self.normalized_config.vision_config
        patch, most = int(vision.patch_size), int(vision.image_size) // int(vision.patch_size)
        seq = int(self.shapes.get("sequence_length", 16))
        sizes = [[patch * (2 + (3 * (i + seq)) % (most - 1)), patch * (2 + (5 * (i + seq) + 1) % (most - 1))]
                 for i in range(self.batch_size)]
        return np.array(sizes, dtype=np.int64)

    def generate(self, input_name, framework="pt", int_dtype="int64", float_dtype="fp32"):
        sizes = self.image_sizes()
        if input_name == "image_sizes":
            return to_framework(sizes.astype(int_dtype), framework)
        pixels = self.random_float((len(sizes), self.normalized_config.num_channels, *sizes.max(0)), float_dtype)
        for image, (height, width) in zip(pixels, sizes):
            image[:, height:] = 0
            image[:, :, width:] = 0
        return to_framework(pixels, framework, float_dtype)


class PixelMaskInputGenerator(ImageInputGenerator):
    """Also ``pixel_mask`` (images, H, W): the processor's real pixels, top-left, the rest padding; each image
    is cut short by a few pixels that change with the batch index and the sequence length, so whole and
    partly padded patches are both checked."""

    SUPPORTED_INPUT_NAMES = ("pixel_values", "pixel_mask")

    def generate(self, input_name, framework="pt", int_dtype="int64", float_dtype="fp32"):
        if input_name != "pixel_mask":
            return super().generate(input_name, framework, int_dtype, float_dtype)
        import numpy as np

        height, width = self.normalized_config.image_hw()
        seq = int(self.shapes.get("sequence_length", 16))
        mask = np.zeros((self.batch_size, height, width), dtype=bool)
        for i, image in enumerate(mask):
            image[:height - (3 * (i + seq)) % (height // 2), :width - (5 * i + seq) % (width // 2)] = True
        return to_framework(mask, framework)


class MoeVlmOnnxConfig(VlmOnnxConfig, MoeDecoderOnnxConfig):
    """A VLM whose language model routes experts: :class:`~.decoder.MoeDecoderOnnxConfig`'s traceable routing."""


class SizedImagesVlmOnnxConfig(VlmOnnxConfig):
    """Vision graphs that take ``image_sizes`` next to ``pixel_values`` and whose token count follows them:
    ``FEATURES`` names the tensor-op feature function of :mod:`xporter_onnx.vlm_more_patches`."""

    FEATURES = ""

    def call_model(self, model: Any, kwargs: Dict[str, Any]) -> Any:
        if self.part == VISION_ENCODER:
            from .. import vlm_more_patches

            features = getattr(vlm_more_patches, self.FEATURES)
            return {"image_features": features(model, **kwargs)}  # the vision inputs, by name
        return super().call_model(model, kwargs)


def _with_vision_generator(generator: type) -> Dict[str, tuple]:
    return {**VlmOnnxConfig.PART_GENERATORS, VISION_ENCODER: (generator,)}


class AnyresVlmOnnxConfig(SizedImagesVlmOnnxConfig):
    """LLaVA-NeXT's split: tiled ``pixel_values`` + ``image_sizes`` in, the packed anyres tokens out."""

    NORMALIZED_CONFIG_CLASS = AnyresNormalized
    VISION_INPUTS = {"pixel_values": {0: "num_images", 1: "num_patches"}, "image_sizes": {0: "num_images"}}
    PART_GENERATORS = _with_vision_generator(AnyresImageInputGenerator)
    FEATURES = "anyres_image_features"


class OnevisionVlmOnnxConfig(AnyresVlmOnnxConfig):
    """LLaVA-OneVision: also ``batch_num_images`` (prompts,), the processor's images per prompt; images of
    prompts with several are not tiled (their base tokens and one newline), as the model does."""

    VISION_INPUTS = {**AnyresVlmOnnxConfig.VISION_INPUTS, "batch_num_images": {0: "num_prompts"}}


class PixtralVlmOnnxConfig(SizedImagesVlmOnnxConfig):
    """Mistral 3's split: padded ``pixel_values`` of any height and width + ``image_sizes`` in, every image's
    merged patches out."""

    VISION_INPUTS = {"pixel_values": {0: "num_images", 2: "height", 3: "width"}, "image_sizes": {0: "num_images"}}
    PART_GENERATORS = _with_vision_generator(PixtralImageInputGenerator)
    FEATURES = "pixtral_features"


# tiles of 16 px (4x4 tokens of 4 px); pinpoints up to 3 tiles a side, both orientations
TINY_PINPOINTS = [[16, 32], [32, 16], [32, 32], [48, 16], [16, 48]]
TINY_ONEVISION_PINPOINTS = [[16 * rows, 16 * cols] for rows in (1, 2, 3) for cols in (1, 2, 3)]


def sized(model_type: str, tiny: Dict[str, Any], base: type) -> Any:
    """A :func:`~.vlm.vlm` row on one of the ``image_sizes`` bases."""
    return replace(vlm(model_type, tiny), base=base)


_NEXT = towers("llama", "clip_vision_model", image_token_index=IMAGE_TOKEN, projection_dim=32,
               image_grid_pinpoints=TINY_PINPOINTS)

# Aria: 4.57's projector looks its query count up with a traced size as a dict key
ARIA = dict(MIN_TRANSFORMERS_VERSION="5.0.0", PART_GENERATORS=_with_vision_generator(PixelMaskInputGenerator),
            VISION_INPUTS={"pixel_values": {0: "num_images"}, "pixel_mask": {0: "num_images"}})

ARCHITECTURES = [
    # CLIP tower per tile (CLS dropped: 16 tokens), base tile + best-pinpoint grid, unpadded, newline per row
    sized("llava_next", _NEXT, AnyresVlmOnnxConfig),
    sized("llava_next_video", _NEXT, AnyresVlmOnnxConfig),  # its image path; the video path is not exported
    # SigLIP tower per tile (all tokens), anyres packing; crops over 2 tiles (by 10 %) resized bilinearly
    sized("llava_onevision", towers("qwen2", "siglip_vision_model", image_token_index=IMAGE_TOKEN,
                                    image_grid_pinpoints=TINY_ONEVISION_PINPOINTS, vision_aspect_ratio="anyres_max_2"),
          OnevisionVlmOnnxConfig),
    # Pixtral tower on 2..8 x 2..8 patches of 4 px per image (2-D RoPE, per-image attention), 2x2 patch merger
    sized("mistral3", dict(towers("mistral", "pixtral", image_token_index=IMAGE_TOKEN),
                           vision_config=dict(TINY_VISION, model_type="pixtral", image_size=32, head_dim=8)),
          PixtralVlmOnnxConfig),
    # CLIP tower; features of layers -2 and 0 concatenated, layer-normed, 2-layer MLP: 16 tokens per image
    vlm("vipllava", towers("llama", "clip_vision_model", image_token_index=IMAGE_TOKEN, projection_dim=32,
                           vision_feature_layers=[-2, 0], image_seq_length=16)),
    # SigLIP-style tower, perceiver resampler to 4 latents per image (idefics3's batched inputs)
    vlm("idefics2", dict(text_config=dict(TINY_TEXT, model_type="mistral"), vision_config=TINY_VISION,
                         perceiver_config=dict(hidden_size=32, resampler_n_latents=4, resampler_depth=1,
                                               resampler_n_heads=2, resampler_head_dim=8, num_key_value_heads=1),
                         image_token_id=IMAGE_TOKEN), IDEFICS3_STYLE),
    # idefics3-style tower with a patch mask from pixel_mask, cross-attention projector to 4 queries, MoE text model
    replace(vlm("aria", dict(text_config=dict(TINY_MOE, vocab_size=128, model_type="aria_text"),
                             vision_config=dict(TINY_VISION, model_type="idefics3_vision"),
                             projector_patch_to_query_dict={16: 4}, image_token_index=IMAGE_TOKEN), ARIA),
            base=MoeVlmOnnxConfig),
]

# Tasks the types' auto mappings also give that these rows leave out, and why.
_SAME_MODEL = ("the same ForConditionalGeneration class as image-text-to-text; :mod:`.vlm` registers VLMs under "
               "that task only")
_NO_HEAD = "the base model without the LM head: the decoder graph of the split returns logits"
LEFT_OUT = {row.model_type: {"image-to-text": _SAME_MODEL, "feature-extraction": _NO_HEAD} for row in ARCHITECTURES}
