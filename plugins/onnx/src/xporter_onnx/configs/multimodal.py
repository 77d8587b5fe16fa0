"""Text + image architectures (CLIP family, OWL detectors, SAM, MGP-STR scene-text
recognition, ColPali retrieval), and the Decision Transformer (offline RL, a modality of its own), as data.

CLIP-like rows share :class:`ClipLikeOnnxConfig`; rows differ only in outputs and tiny
configs. Pseudo model types (``siglip-text``...) name a sub-model of a checkpoint, the way
Optimum's diffusers exporter addresses pipeline components: ``model_class`` names the
transformers config class the tests build them from, and a caller exports them with
``custom_onnx_config=`` or ``TasksManager.get_exporter_config_constructor(model_type=...)``.
"""

from __future__ import annotations

from typing import Any, Dict, List

from ..base import ExportPart, IOSpec, OnnxConfig, lookup_output
from ..dummy import DummyVisionInputGenerator
from ..modalities import PIXEL_AXES, TextAndVisionOnnxConfig, TextEncoderOnnxConfig, VisionOnnxConfig
from ..normalized import NormalizedConfig, NormalizedVisionConfig
from . import Arch
from .extra_inputs import (DummyImagePrefixedTextInputGenerator, DummySamPromptInputGenerator,
                           DummyTrajectoryInputGenerator)


SEQ_AXES = {0: "batch_size", 1: "sequence_length"}


class ClipLikeOnnxConfig(TextAndVisionOnnxConfig):
    """Dual encoders. ``image-classification`` puts a head on the vision tower alone, so it takes pixels only."""

    IMAGE_ONLY_TASKS = ("image-classification",)

    @property
    def inputs(self) -> IOSpec:
        if self.task in self.IMAGE_ONLY_TASKS:
            return {"pixel_values": dict(PIXEL_AXES)}
        return super().inputs


class RenamedOutputsOnnxConfig(OnnxConfig):
    """Reads some ONNX outputs from differently named model outputs (``OUTPUT_SOURCES``: onnx name -> model name)."""

    OUTPUT_SOURCES: Dict[str, str] = {}

    def flatten_outputs(self, model_output: Any) -> List[Any]:
        return [lookup_output(model_output, self.OUTPUT_SOURCES.get(name, name)) for name in self.outputs]


class TextTowerOnnxConfig(RenamedOutputsOnnxConfig, TextEncoderOnnxConfig):
    """A text tower exported alone (``input_ids`` only, as Optimum's CLIP/SigLIP text configs)."""

    INPUT_NAMES = ("input_ids",)


class SamOnnxConfig(OnnxConfig):
    """SAM, split as Optimum does: ``vision_encoder`` (image -> embeddings, run once per image)
    and ``prompt_encoder_mask_decoder`` (embeddings + point prompts -> masks, run per query)."""

    NORMALIZED_CONFIG_CLASS = NormalizedConfig.with_args(
        image_size="vision_config.image_size", patch_size="vision_config.patch_size",
        output_channels="vision_config.output_channels", num_channels="vision_config.num_channels")
    DUMMY_INPUT_GENERATOR_CLASSES = (DummyVisionInputGenerator, DummySamPromptInputGenerator)
    PROMPT_AXES = {0: "batch_size", 1: "point_batch_size", 2: "nb_points_per_image"}
    VALIDATION_SHAPES = {"batch_size": 3}
    part = "vision_encoder"

    @property
    def inputs(self) -> IOSpec:
        if self.part == "vision_encoder":
            return {"pixel_values": {0: "batch_size"}}
        return {"image_embeddings": {0: "batch_size"}, "image_positional_embeddings": {0: "batch_size"},
                "input_points": dict(self.PROMPT_AXES), "input_labels": dict(self.PROMPT_AXES)}

    @property
    def outputs(self) -> IOSpec:
        if self.part == "vision_encoder":
            return {"image_embeddings": {0: "batch_size"}, "image_positional_embeddings": {0: "batch_size"}}
        return {"iou_scores": {0: "batch_size", 1: "point_batch_size"},
                "pred_masks": {0: "batch_size", 1: "point_batch_size"}}

    def for_part(self, part: str) -> "SamOnnxConfig":
        config = type(self)(self._config, task=self.task, int_dtype=self.int_dtype, float_dtype=self.float_dtype,
                            preprocessors=self.preprocessors, legacy=self.legacy)
        config.part = part
        return config

    def export_parts(self, model: Any) -> List[ExportPart]:
        return [ExportPart(name, model, self.for_part(name)) for name in ("vision_encoder", "prompt_encoder_mask_decoder")]

    def call_model(self, model: Any, kwargs: Dict[str, Any]) -> Any:
        if self.part == "vision_encoder":
            embeddings = model.get_image_embeddings(kwargs["pixel_values"])
            positional = model.get_image_wide_positional_embeddings()
            return {"image_embeddings": embeddings,
                    "image_positional_embeddings": positional.repeat(embeddings.shape[0], 1, 1, 1)}
        return self._decode(model, **kwargs)

    @staticmethod
    def _decode(model, image_embeddings, image_positional_embeddings, input_points, input_labels):
        """SamModel.forward without the vision encoder, fed the exported positional embeddings."""
        sparse, dense = model.prompt_encoder(input_points=input_points, input_labels=input_labels,
                                             input_boxes=None, input_masks=None)
        decoded = model.mask_decoder(image_embeddings=image_embeddings,
                                     image_positional_embeddings=image_positional_embeddings,
                                     sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense,
                                     multimask_output=True)
        return {"pred_masks": decoded[0], "iou_scores": decoded[1]}


class MgpstrOnnxConfig(VisionOnnxConfig):
    """MGP-STR reads text from an image with three heads (characters, GPT-2 BPE, BERT
    wordpieces). Optimum exports ``MgpstrForSceneTextRecognition`` as feature-extraction: the
    core's AutoModel would give the bare ViT trunk, so ``MODEL_CLASSES`` names the full model.
    Its ``logits`` output is the tuple of the three heads, split here into named outputs."""

    MODEL_CLASSES = {"feature-extraction": "MgpstrForSceneTextRecognition"}
    HEADS = ("char_logits", "bpe_logits", "wp_logits")
    OUTPUTS = {name: {0: "batch_size"} for name in HEADS}

    def flatten_outputs(self, model_output: Any) -> List[Any]:
        logits = dict(zip(self.HEADS, lookup_output(model_output, "logits")))
        return [logits[name] for name in self.outputs]


class ColPaliOnnxConfig(OnnxConfig):
    """ColPali's multi-vector embeddings of a page image and its prompt (Optimum's default
    "vision" variant; its text-only query variant is not exported): ``ColPaliForRetrieval`` is
    in no auto class, so ``MODEL_CLASSES`` names it."""

    MODEL_CLASSES = {"feature-extraction": "ColPaliForRetrieval"}
    NORMALIZED_CONFIG_CLASS = NormalizedVisionConfig.with_args(
        vocab_size="vlm_config.text_config.vocab_size", image_size="vlm_config.vision_config.image_size",
        patch_size="vlm_config.vision_config.patch_size", num_channels="vlm_config.vision_config.num_channels",
        image_token_index="vlm_config.image_token_index")
    DUMMY_INPUT_GENERATOR_CLASSES = (DummyImagePrefixedTextInputGenerator, DummyVisionInputGenerator)
    INPUTS = {"input_ids": dict(SEQ_AXES), "attention_mask": dict(SEQ_AXES), "pixel_values": {0: "batch_size"}}
    OUTPUTS = {"embeddings": dict(SEQ_AXES)}
    MODEL_KWARGS = {"use_cache": False}


TINY_TEXT_TOWER = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                       max_position_embeddings=64)
TINY_VISION_TOWER = dict(image_size=32, patch_size=8, num_channels=3, hidden_size=32, num_hidden_layers=2,
                         num_attention_heads=4, intermediate_size=37)
TINY_CLIP = dict(text_config=dict(TINY_TEXT_TOWER, eos_token_id=2), vision_config=TINY_VISION_TOWER, projection_dim=16)
# the OWL class head compares vision features projected to the text width with text embeddings
TINY_OWL = dict(TINY_CLIP, projection_dim=TINY_TEXT_TOWER["hidden_size"])
CLIP_OUTPUTS = {"feature-extraction": {
    "logits_per_image": {0: "image_batch_size", 1: "text_batch_size"},
    "logits_per_text": {0: "text_batch_size", 1: "image_batch_size"},
    "text_embeds": {0: "text_batch_size"}, "image_embeds": {0: "image_batch_size"}}}
CLIP = dict(OUTPUTS=CLIP_OUTPUTS, ATOL_FOR_VALIDATION=1e-4)
CLIP_TASKS = ("feature-extraction", "zero-shot-image-classification")
# OWL-ViT/v2 detection: one image against max_text_queries = text_batch / image_batch queries
OWL_OUTPUTS = {**CLIP_OUTPUTS, "zero-shot-object-detection": {
    "logits": {0: "image_batch_size", 2: "max_text_queries"}, "pred_boxes": {0: "image_batch_size"},
    "text_embeds": {0: "image_batch_size", 1: "max_text_queries"}, "image_embeds": {0: "image_batch_size"}}}
SIGLIP_TEXT = dict(NORMALIZED_CONFIG_CLASS=NormalizedConfig, ATOL_FOR_VALIDATION=1e-4)
# Decision Transformer: batch-only axes. TorchScript records the final un-interleave
# `x.reshape(batch, seq_length, 3, hidden)` with 3 * seq_length (ORT rejects any other
# length than the trace's), so the context length is fixed at export (--sequence_length).
DT_INPUTS = {name: {0: "batch_size"} for name in ("states", "actions", "timesteps", "returns_to_go", "attention_mask")}
DT_OUTPUTS = {name: {0: "batch_size"} for name in ("state_preds", "action_preds", "return_preds", "last_hidden_state")}

ARCHITECTURES = [
    Arch("clip", CLIP_TASKS + ("image-classification",), ClipLikeOnnxConfig, CLIP, tiny=dict(TINY_CLIP, num_labels=3)),
    Arch("siglip", CLIP_TASKS, TextAndVisionOnnxConfig, dict(CLIP, INPUT_NAMES=("input_ids", "pixel_values")),
         tiny=dict(text_config=TINY_TEXT_TOWER, vision_config=TINY_VISION_TOWER)),
    # beyond the required list
    Arch("chinese_clip", CLIP_TASKS, ClipLikeOnnxConfig, CLIP,
         tiny=dict(text_config=dict(TINY_TEXT_TOWER, type_vocab_size=2), vision_config=TINY_VISION_TOWER,
                   projection_dim=16)),
    Arch("metaclip_2", CLIP_TASKS + ("image-classification",), ClipLikeOnnxConfig, CLIP,
         tiny=dict(TINY_CLIP, num_labels=3)),
    Arch("groupvit", ("feature-extraction",), ClipLikeOnnxConfig, CLIP,
         tiny=dict(text_config=TINY_TEXT_TOWER, projection_dim=16, projection_intermediate_dim=16,
                   vision_config=dict(TINY_VISION_TOWER, depths=[1, 1], num_group_tokens=[4, 0],
                                      num_output_groups=[4, 4]))),
    Arch("owlvit", ("feature-extraction", "zero-shot-object-detection"), ClipLikeOnnxConfig,
         dict(CLIP, OUTPUTS=OWL_OUTPUTS), tiny=TINY_OWL),
    Arch("owlv2", ("feature-extraction", "zero-shot-object-detection"), ClipLikeOnnxConfig,
         dict(CLIP, OUTPUTS=OWL_OUTPUTS), tiny=TINY_OWL),
    Arch("siglip-text", ("feature-extraction",), TextTowerOnnxConfig,
         dict(SIGLIP_TEXT, OUTPUTS={"last_hidden_state": dict(SEQ_AXES), "pooler_output": {0: "batch_size"}}),
         tiny=TINY_TEXT_TOWER, model_class="SiglipTextConfig"),
    # SigLIP's text projection is the `head` inside the pooler: pooler_output is what
    # SiglipModel.get_text_features returns as the text embedding
    Arch("siglip-text-with-projection", ("feature-extraction",), TextTowerOnnxConfig,
         dict(SIGLIP_TEXT, OUTPUTS={"text_embeds": {0: "batch_size"}, "last_hidden_state": dict(SEQ_AXES)},
              OUTPUT_SOURCES={"text_embeds": "pooler_output"}),
         tiny=TINY_TEXT_TOWER, model_class="SiglipTextConfig"),
    Arch("sam", ("feature-extraction",), SamOnnxConfig,
         tiny=dict(vision_config=dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, image_size=64,
                                      patch_size=8, output_channels=16, window_size=4, global_attn_indexes=[1],
                                      mlp_dim=37, num_pos_feats=8),
                   prompt_encoder_config=dict(hidden_size=16, image_size=64, patch_size=8, mask_input_channels=4),
                   mask_decoder_config=dict(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, mlp_dim=32,
                                            iou_head_hidden_dim=16))),
    # scene text: a 16x32 image in 4-pixel patches, 3 heads over small vocabularies
    Arch("mgp-str", ("feature-extraction",), MgpstrOnnxConfig,
         tiny=dict(image_size=[16, 32], patch_size=4, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                   mlp_ratio=2.0, max_token_length=7, num_character_labels=38, num_bpe_labels=99,
                   num_wordpiece_labels=99)),
    Arch("colpali", ("feature-extraction",), ColPaliOnnxConfig,
         tiny=dict(embedding_dim=16, vlm_config=dict(
             model_type="paligemma", image_token_index=98, projection_dim=32, hidden_size=32,
             vision_config=dict(TINY_VISION_TOWER, model_type="siglip_vision_model", projection_dim=32),
             text_config=dict(TINY_TEXT_TOWER, model_type="gemma", num_key_value_heads=1, head_dim=8)))),
    # offline RL
    Arch("decision_transformer", ("feature-extraction", "reinforcement-learning"), OnnxConfig,
         dict(INPUTS=DT_INPUTS, OUTPUTS=DT_OUTPUTS, DUMMY_INPUT_GENERATOR_CLASSES=(DummyTrajectoryInputGenerator,),
              VALIDATION_SHAPES={"batch_size": 3}),
         tiny=dict(state_dim=5, act_dim=3, hidden_size=32, n_layer=2, n_head=4, n_inner=37, max_ep_len=100,
                   n_positions=64, vocab_size=1)),
]
