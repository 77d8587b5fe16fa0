"""Qwen2-VL, Qwen2.5-VL and Qwen3-VL as the three graphs of the vision-language split (see :mod:`.vlm`).

What differs from the other VLM rows, and why:

* ``vision_encoder.onnx`` takes ``pixel_values`` as the processor gives them, every image's
  patches flattened and concatenated (patches, channels * temporal_patch_size * patch_size**2),
  plus ``image_grid_thw`` (images, 3; named ``grid_thw`` for Qwen2-VL, the name transformers.js
  feeds that family). The tower derives patch positions, per-image attention
  and (2.5) windows from the grid in Python; :mod:`xporter_onnx.qwen_vl_patches` computes them
  with tensor ops while exporting, so the graph holds for any number and size of images (the
  validation runs other grids than the trace). ``image_features`` has one row per
  ``<|image_pad|>`` token, images in order.
* ``decoder_model_merged.onnx`` takes M-RoPE ``position_ids`` of shape (3, batch, sequence):
  temporal, height and width positions, as transformers.js and onnxruntime-genai feed them. The
  positions depend on the prompt's image grids and padding, which only the caller knows;
  :mod:`xporter_onnx.qwen_vl_generation` computes them in numpy as ``get_rope_index`` does.
* Qwen3-VL adds learned position embeddings resampled to each grid (also in tensor ops) and
  "deepstack" features: intermediate vision layers, each through its own merger, that the
  language model adds to its hidden states at the image tokens after its first layers. The
  vision graph returns them as ``deepstack_features`` (layers, image tokens, hidden) and the
  decoder takes ``deepstack_embeds`` (layers, batch, sequence, hidden): the features scattered
  to the image tokens, 0 elsewhere and on decode steps (see :class:`Qwen3VlOnnxConfig`).

Videos are not covered: the processors give them ``pixel_values_videos`` / ``video_grid_thw``
and positions scaled by the frame rate, which these graphs and the generation loop do not take.
"""

from __future__ import annotations

import contextlib
from typing import Any, Dict, List

from ..base import IOSpec
from ..dummy import DummyInputGenerator, DummyPastKeyValuesGenerator, DummyTextInputGenerator, np, to_framework
from .. import past as kv
from . import Arch
from .decoder import TINY
from .vlm import DECODER, EMBED_TOKENS, TOKENS, VISION_ENCODER, VLM_TASKS, VlmOnnxConfig


class QwenPatchInputGenerator(DummyInputGenerator):
    """``image_grid_thw`` and matching flattened ``pixel_values``: ``batch_size`` images whose
    grids (multiples of the merge size, 2 to 4 merged tokens a side) change with the batch size
    and the sequence length, so validation sees other grids than the trace."""

    SUPPORTED_INPUT_NAMES = ("pixel_values", "image_grid_thw", "grid_thw")

    def grids(self) -> Any:
        vision = self.normalized_config.vision_config
        merge = int(vision.spatial_merge_size)
        seq = int(self.shapes.get("sequence_length", 16))
        rows = [[1, merge * (2 + (i + seq) % 3), merge * (2 + (2 * i + seq + 1) % 3)] for i in range(self.batch_size)]
        return np.array(rows, dtype=np.int64)

    def generate(self, input_name, framework="pt", int_dtype="int64", float_dtype="fp32"):
        grids = self.grids()
        if input_name in ("image_grid_thw", "grid_thw"):
            return to_framework(grids.astype(int_dtype), framework)
        vision = self.normalized_config.vision_config
        width = int(vision.in_channels) * int(vision.temporal_patch_size) * int(vision.patch_size) ** 2
        patches = int(grids.prod(-1).sum())
        return to_framework(self.random_float((patches, width), float_dtype), framework, float_dtype)


class QwenVlOnnxConfig(VlmOnnxConfig):
    """The Qwen-VL split: patch-list vision inputs, 3-D M-RoPE positions in the decoder."""

    VISION_INPUTS = {"pixel_values": {0: "num_patches"}, "image_grid_thw": {0: "num_images"}}
    PART_GENERATORS = {
        VISION_ENCODER: (QwenPatchInputGenerator,),
        EMBED_TOKENS: (DummyTextInputGenerator,),
        DECODER: (DummyTextInputGenerator, DummyPastKeyValuesGenerator),
        TOKENS: (DummyTextInputGenerator, DummyPastKeyValuesGenerator),
    }

    @property
    def inputs(self) -> IOSpec:
        spec = super().inputs
        if "position_ids" in spec:
            spec["position_ids"] = {1: "batch_size", 2: "sequence_length"}
        return spec

    def generate_dummy_inputs(self, framework: str = "pt", **kwargs: Any) -> Dict[str, Any]:
        """Decoder positions as three different rows (temporal, height, width), so that the
        validation checks every M-RoPE section of the graph is fed from its own row."""
        dummy = super().generate_dummy_inputs(framework, **kwargs)
        if self.part == DECODER and "position_ids" in dummy:
            positions = dummy["position_ids"]
            stacked = [positions, positions // 2 + 1, positions + 3]
            if framework == "pt":
                import torch

                dummy["position_ids"] = torch.stack(stacked)
            else:
                dummy["position_ids"] = np.stack(stacked)
        return dummy

    @contextlib.contextmanager
    def export_context(self, model: Any):
        if self.part != VISION_ENCODER:
            with super().export_context(model):
                yield
            return
        from ..qwen_vl_patches import traceable_vision

        with traceable_vision(model):
            yield

    def call_model(self, model: Any, kwargs: Dict[str, Any]) -> Any:
        if self.part == VISION_ENCODER:
            from ..qwen_vl_patches import vision_tower

            grid = kwargs["grid_thw"] if "grid_thw" in kwargs else kwargs["image_grid_thw"]
            return vision_tower(model)(kwargs["pixel_values"], grid_thw=grid)
        return super().call_model(model, kwargs)


class DeepstackInputGenerator(DummyInputGenerator):
    """``deepstack_embeds`` (deepstack layers, batch, sequence, hidden) for the decoder."""

    SUPPORTED_INPUT_NAMES = ("deepstack_embeds",)

    def generate(self, input_name, framework="pt", int_dtype="int64", float_dtype="fp32"):
        cfg = self.normalized_config
        layers = len(cfg.vision_config.deepstack_visual_indexes)
        shape = (layers, self.batch_size, int(self.shapes["sequence_length"]), int(cfg.hidden_size))
        return to_framework(self.random_float(shape, float_dtype), framework, float_dtype)


class Qwen3VlOnnxConfig(QwenVlOnnxConfig):
    """Qwen3-VL: the vision graph also returns ``deepstack_features`` (the outputs of the
    tower's deepstack layers, each through its own merger, one row per image token) and the
    decoder takes them as ``deepstack_embeds`` (layers, batch, sequence, hidden), which the
    language model adds to the hidden states after its first layers.

    The model adds them at the image tokens only (a boolean-mask scatter); the graph adds the
    whole tensor, which the caller fills at the image tokens and leaves 0 elsewhere (and on every
    decode step): the same sums, without a data-dependent index in the graph.
    """

    @property
    def inputs(self) -> IOSpec:
        spec = super().inputs
        if self.part == DECODER:
            spec = {**{k: v for k, v in spec.items() if not k.startswith("past_key_values.")},
                    "deepstack_embeds": {1: "batch_size", 2: "sequence_length"},
                    **{k: v for k, v in spec.items() if k.startswith("past_key_values.")}}
        return spec

    @property
    def outputs(self) -> IOSpec:
        spec = super().outputs
        if self.part == VISION_ENCODER:
            spec["deepstack_features"] = {1: "num_image_tokens"}
        return spec

    def generate_dummy_inputs(self, framework: str = "pt", **kwargs: Any) -> Dict[str, Any]:
        dummy = super().generate_dummy_inputs(framework, **kwargs)
        if self.part == DECODER:
            batch, seq = tuple(dummy["inputs_embeds"].shape[:2])
            generator = DeepstackInputGenerator(self.task, self.normalized_config,
                                                **dict(kwargs, batch_size=batch, sequence_length=seq))
            dummy["deepstack_embeds"] = generator.generate("deepstack_embeds", framework, float_dtype=self.float_dtype)
            dummy = {name: dummy[name] for name in self.inputs}
        return dummy

    def call_model(self, model: Any, kwargs: Dict[str, Any]) -> Any:
        """The decoder part runs the language model and the LM head directly: the model's
        forward builds deepstack inputs from pixel values only."""
        if self.part != DECODER:
            return super().call_model(model, kwargs)
        kwargs = dict(kwargs)
        deepstack = kwargs.pop("deepstack_embeds")
        language_model = model.model.language_model
        cache = kwargs.pop("past_key_values", None)
        if cache is not None:
            kwargs[kv.cache_argument_name(language_model)] = cache
        language_model._deepstack_process = _add_dense
        try:
            out = language_model(**kwargs, use_cache=True, visual_pos_masks=None,
                                 deepstack_visual_embeds=list(deepstack.unbind(0)), return_dict=True)
        finally:
            del language_model._deepstack_process
        return {"logits": model.lm_head(out.last_hidden_state), "past_key_values": kv.output_cache(out)}

    def flatten_outputs(self, model_output: Any) -> List[Any]:
        if self.part != DECODER:
            return super().flatten_outputs(model_output)
        return [model_output["logits"], *kv.flatten_decoder_cache(model_output["past_key_values"])]


class Qwen3VlMoeOnnxConfig(Qwen3VlOnnxConfig):
    """Qwen3-VL-MoE: the Qwen3-VL split, experts routed without data-dependent loops while
    exporting the decoder (see :func:`.decoder_families.traceable_experts`)."""

    @contextlib.contextmanager
    def export_context(self, model: Any):
        from .decoder_families import traceable_experts

        with super().export_context(model):
            if self.part != DECODER:
                yield
                return
            with traceable_experts(model):
                yield


def _add_dense(hidden_states: Any, _visual_pos_masks: Any, visual_embeds: Any) -> Any:
    """Deepstack injection as a plain sum (``visual_embeds`` is 0 away from image tokens)."""
    return hidden_states + visual_embeds.to(hidden_states.dtype)



# -- tiny models for the tests: 4x4-pixel patches, 2x2 merge, a 2-layer GQA text model -------
IMAGE_TOKEN, VIDEO_TOKEN, VISION_START, VISION_END = 127, 124, 125, 126
# head_dim 8: M-RoPE sections of 2 (temporal), 1 (height), 1 (width) frequency pairs; both
# spellings, so that 4.57 (rope_scaling) and 5.x (rope_parameters) read the same sections.
# rope_theta 10 and larger weights make every section turn enough to change greedy tokens
# (with 10000 the height/width frequencies are ~0.01 and wrong positions go unnoticed).
TINY_QWEN_TEXT = dict(TINY, num_key_value_heads=2, head_dim=8, rope_theta=10.0, initializer_range=0.2,
                      rope_scaling={"type": "mrope", "mrope_section": [2, 1, 1]},
                      rope_parameters={"rope_type": "default", "rope_theta": 10.0, "mrope_section": [2, 1, 1]})
_SPECIAL = dict(initializer_range=0.2, image_token_id=IMAGE_TOKEN, video_token_id=VIDEO_TOKEN,
                vision_start_token_id=VISION_START, vision_end_token_id=VISION_END, pad_token_id=0, bos_token_id=1,
                eos_token_id=2)
_VISION = dict(depth=2, num_heads=4, patch_size=4, spatial_merge_size=2, temporal_patch_size=2, in_channels=3)
TINY_QWEN2_VL = dict(text_config=TINY_QWEN_TEXT, **_SPECIAL,
                     vision_config=dict(_VISION, embed_dim=32, hidden_size=32, mlp_ratio=2))
# window_size 16 px = 2x2 merged tokens: grids of 2 to 4 merged tokens have one to four windows,
# some padded; layer 1 attends over the whole image, layer 0 within windows
TINY_QWEN2_5_VL = dict(text_config=TINY_QWEN_TEXT, **_SPECIAL,
                       vision_config=dict(_VISION, hidden_size=32, out_hidden_size=32, intermediate_size=64,
                                          window_size=16, fullatt_block_indexes=[1]))


# Qwen3-VL: interleaved M-RoPE, a 4x4 learned position table, deepstack after vision layer 0
TINY_QWEN3_VL = dict(text_config=dict(TINY_QWEN_TEXT,
                                      rope_scaling={"rope_type": "default", "mrope_section": [2, 1, 1],
                                                    "mrope_interleaved": True},
                                      rope_parameters={"rope_type": "default", "rope_theta": 10.0,
                                                       "mrope_section": [2, 1, 1], "mrope_interleaved": True}),
                     **_SPECIAL,
                     vision_config=dict(_VISION, hidden_size=32, out_hidden_size=32, intermediate_size=64,
                                        num_position_embeddings=16, deepstack_visual_indexes=[0]))


TINY_QWEN3_VL_MOE = dict(TINY_QWEN3_VL, text_config=dict(TINY_QWEN3_VL["text_config"], num_experts=4,
                                                         num_experts_per_tok=2, moe_intermediate_size=32,
                                                         decoder_sparse_step=1))


# transformers.js (Qwen2VLForConditionalGeneration.encode_image) feeds Qwen2-VL's vision encoder
# the grid as ``grid_thw``; its Qwen2.5-VL class, like the processors, says ``image_grid_thw``
TRANSFORMERS_JS_GRID_NAME = dict(VISION_INPUTS={"pixel_values": {0: "num_patches"}, "grid_thw": {0: "num_images"}})


def qwen_vl(model_type: str, tiny: Dict[str, Any], base: type = QwenVlOnnxConfig, attrs: Dict[str, Any] = None,
            **arch: Any) -> Arch:
    return Arch(model_type, VLM_TASKS, base, dict(attrs or {}, ATOL_FOR_VALIDATION=2e-4), tiny=tiny, **arch)


ARCHITECTURES: List[Arch] = [
    qwen_vl("qwen2_vl", TINY_QWEN2_VL, attrs=TRANSFORMERS_JS_GRID_NAME),
    qwen_vl("qwen2_5_vl", TINY_QWEN2_5_VL),
    qwen_vl("qwen3_vl", TINY_QWEN3_VL, Qwen3VlOnnxConfig),
    qwen_vl("qwen3_vl_moe", TINY_QWEN3_VL_MOE, Qwen3VlMoeOnnxConfig),
]
