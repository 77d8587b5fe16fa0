"""Vision-language models (``image-text-to-text``) as the three graphs ONNX Runtime consumers run.

transformers.js and onnxruntime generation loops do not run a VLM as one graph: the image is
encoded once, its features replace the image placeholder tokens in the prompt's embeddings,
and only the language model runs per step. So the export writes, as transformers.js reads them:

* ``vision_encoder.onnx``: ``pixel_values`` (+ the row's extra vision inputs, e.g. idefics3's
  ``pixel_attention_mask``) -> ``image_features`` (image tokens, text hidden size): the
  model's own ``get_image_features`` (vision tower, feature-layer selection, projector, pixel
  shuffle), flattened to one row per placeholder token, in prompt order;
* ``embed_tokens.onnx``: ``input_ids`` -> ``inputs_embeds`` (the text embedding table, with
  the family's embedding scale where it lives in the embedding module);
* ``decoder_model_merged.onnx``: ``inputs_embeds``, ``attention_mask``, ``position_ids``,
  ``past_key_values.*`` -> ``logits``, ``present.*``: the whole model's forward on embeddings,
  one graph for prefill (past length 0) and decode, Optimum's cache names.

:class:`~xporter_onnx.generation.OnnxVisionLanguageGreedy` is the ORT-only loop over these
files; the tests check it against ``generate()`` token for token.

Gemma 3 lets each image's tokens attend to each other both ways on the prefill step, PaliGemma
the whole image + prompt prefix: their decoder graphs also take ``token_type_ids`` for the new
tokens (what the processor gives: Gemma 3 1 on image tokens, PaliGemma 0 on the prefix), and the
loop feeds the prompt's types on the first step (a generated token is never part of a
bidirectional block, so the mask is then causal, as in ``generate``).

Scope: families whose language model takes 1-D positions (llava-style projectors,
idefics3/smolvlm pixel shuffle, Aya Vision, Cohere2 Vision, Gemma 3 ...). The Qwen-VL families
(patch-list images, 3-D M-RoPE positions, Qwen3-VL's deepstack inputs) build on this class in
:mod:`.qwen_vl`.
"""

from __future__ import annotations

import copy
import functools
from typing import Any, Dict, List

from ..base import ExportPart, IOSpec
from ..dummy import DummyInputGenerator, DummyPastKeyValuesGenerator, DummyTextInputGenerator, to_framework
from . import Arch
from .decoder import TINY_GEMMA3, TINY_GQA, DecoderNormalizedConfig, DecoderOnnxConfig

VISION_ENCODER, EMBED_TOKENS, DECODER = "vision_encoder", "embed_tokens", "decoder_model_merged"
TOKENS = "decoder_on_tokens"  # the decoder described with input_ids: how its dummy inputs are made
VLM_TASKS = ("image-text-to-text",)


class VlmNormalized(DecoderNormalizedConfig):
    """Text sizes (layers, heads, cache) from the text config, image sizes from the vision config."""

    def __init__(self, config: Any, **overrides: Any) -> None:
        text = config.get_text_config() if hasattr(config, "get_text_config") else config
        super().__init__(text, **overrides)
        self.vision_config = getattr(config, "vision_config", None)

    def image_hw(self) -> tuple:
        size = getattr(self.vision_config, "image_size", 224)
        return tuple(size) if isinstance(size, (list, tuple)) else (int(size), int(size))

    @property
    def image_size(self) -> Any:
        return getattr(self.vision_config, "image_size", None)

    @property
    def num_channels(self) -> int:
        return int(getattr(self.vision_config, "num_channels", 3) or 3)


class ImageInputGenerator(DummyInputGenerator):
    """``pixel_values`` at the vision tower's image size, one image per prompt, laid out as the
    row says: (images, channels, H, W) or, for idefics3-style models, (batch, images, channels,
    H, W) with a boolean ``pixel_attention_mask`` (batch, images, H, W) of real pixels."""

    SUPPORTED_INPUT_NAMES = ("pixel_values", "pixel_attention_mask")

    def generate(self, input_name, framework="pt", int_dtype="int64", float_dtype="fp32"):
        height, width = self.normalized_config.image_hw()
        leading = tuple(self.shapes.get("image_layout", (self.batch_size,)))
        if input_name == "pixel_attention_mask":
            return to_framework(self.ones(leading + (height, width)).astype(bool), framework)
        channels = self.normalized_config.num_channels
        return to_framework(self.random_float(leading + (channels, height, width), float_dtype), framework, float_dtype)


class VlmOnnxConfig(DecoderOnnxConfig):
    """One config for the three graphs; ``part`` selects which one it describes.

    Row attributes: ``VISION_INPUTS`` (the vision encoder's inputs with their axes, in order),
    ``BATCHED_IMAGES`` (pixel_values carry a per-prompt image axis, idefics3-style), ``PROJECTOR``
    (the module name whose output is every image's features, see :func:`image_features`).
    """

    NORMALIZED_CONFIG_CLASS = VlmNormalized
    VISION_INPUTS: Dict[str, Dict[int, str]] = {"pixel_values": {0: "num_images"}}
    BATCHED_IMAGES = False
    TOKEN_TYPE_IDS = False  # the decoder takes token_type_ids (bidirectional attention within image blocks)
    PREFIX_MASK_EVERY_STEP = False  # PaliGemma: keep the token-type mask branch that the model picks on prefill
    PROJECTOR = "multi_modal_projector"
    PART_GENERATORS = {
        VISION_ENCODER: (ImageInputGenerator,),
        EMBED_TOKENS: (DummyTextInputGenerator,),
        DECODER: (DummyTextInputGenerator, DummyPastKeyValuesGenerator),
        TOKENS: (DummyTextInputGenerator, DummyPastKeyValuesGenerator),
    }
    part = DECODER

    def __init__(self, config: Any, task: str = "image-text-to-text", **kwargs: Any) -> None:
        kwargs.setdefault("use_past", True)
        kwargs.setdefault("use_past_in_inputs", True)
        super().__init__(config, task=task, **kwargs)

    # -- parts ----------------------------------------------------------------------------
    def for_part(self, part: str) -> "VlmOnnxConfig":
        config = copy.copy(self)
        config.part = part
        config.use_past = config.use_past_in_inputs = part == DECODER
        return config

    def export_parts(self, model: Any) -> List[ExportPart]:
        return [ExportPart(part, model, self.for_part(part)) for part in (VISION_ENCODER, EMBED_TOKENS, DECODER)]

    def uses_position_ids(self) -> bool:
        return self.part in (DECODER, TOKENS) and self.USE_POSITION_IDS

    def _generators(self, **shapes: Any) -> List[DummyInputGenerator]:
        if self.part == VISION_ENCODER and self.BATCHED_IMAGES:
            shapes = dict(shapes, image_layout=(shapes.get("batch_size", 2), 1))
        return [cls(self.task, self.normalized_config, **shapes) for cls in self.PART_GENERATORS[self.part]]

    @property
    def inputs(self) -> IOSpec:
        if self.part == VISION_ENCODER:
            return copy.deepcopy(self.VISION_INPUTS)
        if self.part == EMBED_TOKENS:
            return {"input_ids": {0: "batch_size", 1: "sequence_length"}}
        spec = super().inputs
        if self.TOKEN_TYPE_IDS:
            spec = _insert_after(spec, "position_ids" if "position_ids" in spec else "attention_mask",
                                 "token_type_ids", {0: "batch_size", 1: "sequence_length"})
        if self.part == TOKENS:
            return spec
        return {("inputs_embeds" if name == "input_ids" else name): axes for name, axes in spec.items()}

    @property
    def outputs(self) -> IOSpec:
        if self.part == VISION_ENCODER:
            return {"image_features": {0: "num_image_tokens"}}
        if self.part == EMBED_TOKENS:
            return {"inputs_embeds": {0: "batch_size", 1: "sequence_length"}}
        spec: IOSpec = {"logits": {0: "batch_size", 1: "sequence_length"}}
        self.add_past_key_values(spec, direction="outputs")
        return spec

    def generate_dummy_inputs(self, framework: str = "pt", **kwargs: Any) -> Dict[str, Any]:
        """The decoder's tokens become embeddings of the text width (what embed_tokens returns)."""
        if self.part != DECODER:
            return super(DecoderOnnxConfig, self).generate_dummy_inputs(framework, **kwargs)
        token_config = copy.copy(self)
        token_config.part = TOKENS
        dummy = DecoderOnnxConfig.generate_dummy_inputs(token_config, framework, **kwargs)
        batch, seq = tuple(dummy.pop("input_ids").shape)
        generator = DummyTextInputGenerator(self.task, self.normalized_config, **kwargs)
        embeds = generator.random_float((batch, seq, int(self.normalized_config.hidden_size)), self.float_dtype)
        dummy["inputs_embeds"] = to_framework(embeds, framework, self.float_dtype)
        # inputs the token-side generators do not know (Qwen3-VL's deepstack_embeds) are the subclass's to add
        return {name: dummy[name] for name in self.inputs if name in dummy}

    # -- model plumbing -------------------------------------------------------------------
    def prepare_model_inputs(self, inputs: Dict[str, Any]) -> Dict[str, Any]:
        inputs = super().prepare_model_inputs(inputs)
        if self.PREFIX_MASK_EVERY_STEP and "past_key_values" in inputs:
            inputs["past_key_values"] = _reads_as_prefill(inputs["past_key_values"])
        return inputs

    def call_model(self, model: Any, kwargs: Dict[str, Any]) -> Any:
        if self.part == VISION_ENCODER:
            return {"image_features": image_features(model, kwargs, self.PROJECTOR)}
        if self.part == EMBED_TOKENS:
            return {"inputs_embeds": model.get_input_embeddings()(kwargs["input_ids"])}
        return super().call_model(model, kwargs)


def _reads_as_prefill(cache: Any) -> Any:
    """The cache, telling the model it is empty (``is_initialized`` False) while holding its tensors.

    PaliGemma builds its prefix mask from ``token_type_ids`` only "on the first iteration",
    which it reads from the cache state; in one graph for prefill and decode that choice
    would be frozen by the trace at the trace's past length. With the branch kept, decode
    steps stay causal anyway: a generated token's block id is -1 (suffix), and the block ids
    of the new tokens are what the mask reads.
    """
    cache.__class__ = _prefill_class(type(cache))
    return cache


@functools.lru_cache(maxsize=None)
def _prefill_class(cls: type) -> type:
    """One subclass per cache class (the wrapper runs on every traced and validated call)."""
    return type(f"Prefill{cls.__name__}", (cls,), {"is_initialized": property(lambda self: False)})


def _insert_after(spec: IOSpec, anchor: str, name: str, axes: Dict[int, str]) -> IOSpec:
    """``spec`` with ``name`` right after ``anchor`` (ONNX input order is the declaration order)."""
    out: IOSpec = {}
    for key, value in spec.items():
        out[key] = value
        if key == anchor:
            out[name] = axes
    return out


def image_features(model: Any, vision_inputs: Dict[str, Any], projector: str = "multi_modal_projector") -> Any:
    """``get_image_features`` as the model's forward uses it, one row per placeholder token.

    transformers 5 returns a ModelOutput whose ``pooler_output`` holds the projected features,
    4.57 the features themselves. Where they come as one tensor per image (llava), splitting
    them would freeze the number of images into the trace, so the projector's output (the
    same rows before the split) is read through a forward hook instead.
    """
    captured: List[Any] = []
    hooks = [module.register_forward_hook(lambda _m, _i, output: captured.append(output))
             for name, module in model.named_modules() if name.rsplit(".", 1)[-1] == projector]
    try:
        out = model.get_image_features(**vision_inputs)
    finally:
        for hook in hooks:
            hook.remove()
    features = getattr(out, "pooler_output", out)
    if isinstance(features, (list, tuple)):
        if len(captured) != 1 or captured[0].numel() != sum(f.numel() for f in features):
            from xporter.errors import ExportError

            raise ExportError(f"{type(model).__name__} returns image features per image and has no single "
                              f"'{projector}' module whose output holds them all",
                              "set PROJECTOR on the VLM row to the module that projects the image features")
        features = captured[0]
    return features.reshape(-1, features.shape[-1])


# -- tiny models for the tests: 16x16 images in 4x4 patches, a 2-layer GQA llama-style text model --
TINY_TEXT = dict(TINY_GQA, vocab_size=128)
IMAGE_TOKEN = 127  # the last id of the tiny vocabulary is the image placeholder
TINY_VISION = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, image_size=16,
                   patch_size=4, num_channels=3)


def vlm(model_type: str, tiny: Dict[str, Any], attrs: Dict[str, Any] = None, **arch: Any) -> Arch:
    """A row: ``model_type`` exported for ``image-text-to-text`` as the three graphs."""
    return Arch(model_type, VLM_TASKS, VlmOnnxConfig, dict(attrs or {}, ATOL_FOR_VALIDATION=2e-4), tiny=tiny, **arch)


def towers(text_type: str, vision_type: str, **extra: Any) -> Dict[str, Any]:
    """A tiny config from the standard tiny text and vision towers of the given types."""
    return dict(text_config=dict(TINY_TEXT, model_type=text_type),
                vision_config=dict(TINY_VISION, model_type=vision_type), image_token_id=IMAGE_TOKEN, **extra)


# transformers 4.57's idefics3 vision embeddings loop over the images in Python (frozen by the trace)
IDEFICS3_STYLE = dict(BATCHED_IMAGES=True, PROJECTOR="connector", MIN_TRANSFORMERS_VERSION="5.0.0",
                      VISION_INPUTS={"pixel_values": {0: "batch_size", 1: "num_images"},
                                     "pixel_attention_mask": {0: "batch_size", 1: "num_images"}})

ARCHITECTURES = [
    # CLIP tower, second-to-last layer without CLS, 2-layer MLP projector: 16 image tokens
    vlm("llava", dict(text_config=dict(TINY_TEXT, model_type="llama"),
                      vision_config=dict(TINY_VISION, model_type="clip_vision_model", projection_dim=32),
                      image_token_index=IMAGE_TOKEN, image_seq_length=16)),
    # SigLIP-style tower + pixel shuffle (scale 2): 4 image tokens per image
    vlm("idefics3", dict(text_config=dict(TINY_TEXT, model_type="llama"), vision_config=TINY_VISION,
                         scale_factor=2, image_token_id=IMAGE_TOKEN), IDEFICS3_STYLE),
    # SigLIP tower average-pooled to mm_tokens_per_image, RMS-normed projection; bidirectional image blocks
    vlm("gemma3", dict(text_config=TINY_GEMMA3, vision_config=dict(TINY_VISION, model_type="siglip_vision_model"),
                       mm_tokens_per_image=4, image_token_index=IMAGE_TOKEN, boi_token_index=125,
                       eoi_token_index=126), dict(TOKEN_TYPE_IDS=True),
        name="Gemma3ForConditionalGenerationOnnxConfig"),
    # found by probing every image-text-to-text type with the standard towers (greedy equal to generate())
    vlm("aya_vision", towers("cohere2", "siglip_vision_model", image_token_index=IMAGE_TOKEN)),
    vlm("cohere2_vision", towers("cohere2", "siglip_vision_model")),
    vlm("got_ocr2", towers("qwen2", "got_ocr2_vision", image_token_index=IMAGE_TOKEN), name="GotOcr2OnnxConfig"),
    vlm("internvl", towers("qwen2", "internvl_vision")),
    # SigLIP tower, linear projector, gemma text model; the image + prompt prefix attends both ways
    vlm("paligemma", dict(text_config=dict(TINY_TEXT, model_type="gemma", head_dim=8),
                          vision_config=dict(TINY_VISION, model_type="siglip_vision_model", projection_dim=32),
                          image_token_index=IMAGE_TOKEN, projection_dim=32, hidden_size=32),
        dict(TOKEN_TYPE_IDS=True, PREFIX_MASK_EVERY_STEP=True)),
    vlm("smolvlm", dict(text_config=dict(TINY_TEXT, model_type="llama"), vision_config=TINY_VISION,
                        scale_factor=2, image_token_id=IMAGE_TOKEN), IDEFICS3_STYLE, name="SmolVLMOnnxConfig"),
]
