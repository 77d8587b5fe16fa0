"""Mid-level config classes: they know the modality (which inputs, which generators), not the model.

Architecture tables pick one of these as the base of each row and override only data
(input names, normalized-config mapping, outputs, tolerances).
"""

from __future__ import annotations

from typing import Any, Dict, Tuple

from .base import ConfigBehavior, IOSpec, OnnxConfig, OnnxConfigWithPast, OnnxSeq2SeqConfigWithPast
from .dummy import (
    DummyAudioInputGenerator,
    DummyBboxInputGenerator,
    DummyPastKeyValuesGenerator,
    DummySeq2SeqDecoderTextInputGenerator,
    DummyTextInputGenerator,
    DummyVisionInputGenerator,
)
from .normalized import (
    NormalizedAudioConfig,
    NormalizedSeq2SeqConfig,
    NormalizedTextAndVisionConfig,
    NormalizedTextConfig,
    NormalizedVisionConfig,
)

PIXEL_AXES = {0: "batch_size", 1: "num_channels", 2: "height", 3: "width"}


class TextEncoderOnnxConfig(OnnxConfig):
    """Encoder-only text models (BERT family).

    ``INPUT_NAMES`` lists the token inputs; ``token_type_ids`` is dropped automatically
    when ``OPTIONAL_TOKEN_TYPE_IDS`` is set and the config has ``type_vocab_size == 0``.
    """

    NORMALIZED_CONFIG_CLASS = NormalizedTextConfig
    DUMMY_INPUT_GENERATOR_CLASSES = (DummyTextInputGenerator, DummyBboxInputGenerator)
    INPUT_NAMES: Tuple[str, ...] = ("input_ids", "attention_mask", "token_type_ids")
    OPTIONAL_TOKEN_TYPE_IDS = False

    @property
    def inputs(self) -> IOSpec:
        if self.INPUTS is not None:
            return super().inputs
        if self.task == "multiple-choice":
            axes = {0: "batch_size", 1: "num_choices", 2: "sequence_length"}
        else:
            axes = {0: "batch_size", 1: "sequence_length"}
        names = list(self.INPUT_NAMES)
        if self.OPTIONAL_TOKEN_TYPE_IDS and not self.normalized_config.get("type_vocab_size", 0):
            names = [n for n in names if n != "token_type_ids"]
        spec = {name: dict(axes) for name in names}
        if "bbox" in spec:
            spec["bbox"] = {0: "batch_size", 1: "sequence_length"}
        return spec


class VisionOnnxConfig(OnnxConfig):
    """Image models: ``pixel_values`` (batch, channels, height, width)."""

    NORMALIZED_CONFIG_CLASS = NormalizedVisionConfig
    DUMMY_INPUT_GENERATOR_CLASSES = (DummyVisionInputGenerator,)
    INPUT_NAMES: Tuple[str, ...] = ("pixel_values",)
    ATOL_FOR_VALIDATION = 1e-4

    @property
    def inputs(self) -> IOSpec:
        if self.INPUTS is not None:
            return super().inputs
        spec: IOSpec = {}
        for name in self.INPUT_NAMES:
            spec[name] = dict(PIXEL_AXES) if name == "pixel_values" else {0: "batch_size", 1: "height", 2: "width"}
        return spec


class TextAndVisionOnnxConfig(OnnxConfig):
    """Text + image models (CLIP-like): input_ids, attention_mask?, pixel_values."""

    NORMALIZED_CONFIG_CLASS = NormalizedTextAndVisionConfig
    DUMMY_INPUT_GENERATOR_CLASSES = (DummyTextInputGenerator, DummyVisionInputGenerator)
    INPUT_NAMES: Tuple[str, ...] = ("input_ids", "pixel_values", "attention_mask")

    @property
    def inputs(self) -> IOSpec:
        if self.INPUTS is not None:
            return super().inputs
        spec: IOSpec = {}
        for name in self.INPUT_NAMES:
            if name == "pixel_values":
                spec[name] = {0: "image_batch_size", 1: "num_channels", 2: "height", 3: "width"}
            else:
                spec[name] = {0: "text_batch_size", 1: "sequence_length"}
        return spec


class AudioOnnxConfig(OnnxConfig):
    """Speech encoders on raw waveforms (wav2vec2 family): ``input_values``."""

    NORMALIZED_CONFIG_CLASS = NormalizedAudioConfig
    DUMMY_INPUT_GENERATOR_CLASSES = (DummyAudioInputGenerator,)
    INPUT_NAMES: Tuple[str, ...] = ("input_values",)
    ATOL_FOR_VALIDATION = 1e-4

    @property
    def inputs(self) -> IOSpec:
        if self.INPUTS is not None:
            return super().inputs
        return {name: {0: "batch_size", 1: "sequence_length"} for name in self.INPUT_NAMES}


class AudioFeaturesOnnxConfig(AudioOnnxConfig):
    """Speech models on log-mel features (AST, speech_to_text encoders): ``input_features``."""

    INPUT_NAMES = ("input_features",)

    @property
    def inputs(self) -> IOSpec:
        if self.INPUTS is not None:
            return OnnxConfig.inputs.fget(self)
        return {"input_features": {0: "batch_size", 1: "feature_size", 2: "encoder_sequence_length"}}


class TextDecoderOnnxConfig(OnnxConfigWithPast):
    """Decoder-only text models: input_ids, attention_mask (+ past) -> logits (+ present).

    A baseline; ``configs/decoder.py`` refines it (position_ids, cache objects, GQA ...).
    """

    NORMALIZED_CONFIG_CLASS = NormalizedTextConfig
    DUMMY_INPUT_GENERATOR_CLASSES = (DummyTextInputGenerator, DummyPastKeyValuesGenerator)
    INPUT_NAMES: Tuple[str, ...] = ("input_ids", "attention_mask")

    @property
    def inputs(self) -> IOSpec:
        if self.INPUTS is not None:
            return super().inputs
        spec: IOSpec = {}
        for name in self.INPUT_NAMES:
            if name == "attention_mask" and self.use_past_in_inputs:
                spec[name] = {0: "batch_size", 1: "past_sequence_length + sequence_length"}
            else:
                spec[name] = {0: "batch_size", 1: "sequence_length"}
        if self.use_past_in_inputs:
            self.add_past_key_values(spec, direction="inputs")
        return spec

    def generate_dummy_inputs(self, framework: str = "pt", **kwargs: Any) -> Dict[str, Any]:
        """With a cache in the inputs, the attention mask covers past + new tokens."""
        dummy = super().generate_dummy_inputs(framework, **kwargs)
        if self.use_past_in_inputs and "attention_mask" in dummy:
            past = kwargs.get("past_sequence_length", kwargs.get("sequence_length", 16))
            batch = kwargs.get("batch_size", 2)
            mask_gen = DummyTextInputGenerator(self.task, self.normalized_config, batch_size=batch,
                                               sequence_length=dummy["input_ids"].shape[1] + past)
            dummy["attention_mask"] = mask_gen.generate("attention_mask", framework, self.int_dtype, self.float_dtype)
        return dummy


class TextSeq2SeqOnnxConfig(OnnxSeq2SeqConfigWithPast):
    """Encoder-decoder text models; a baseline refined by ``configs/seq2seq.py``."""

    NORMALIZED_CONFIG_CLASS = NormalizedSeq2SeqConfig
    DUMMY_INPUT_GENERATOR_CLASSES = (DummyTextInputGenerator, DummySeq2SeqDecoderTextInputGenerator,
                                     DummyPastKeyValuesGenerator)

    @property
    def inputs(self) -> IOSpec:
        if self.INPUTS is not None:
            return super().inputs
        spec: IOSpec = {}
        if self.behavior is not ConfigBehavior.DECODER:
            spec["input_ids"] = {0: "batch_size", 1: "encoder_sequence_length"}
        spec["attention_mask"] = {0: "batch_size", 1: "encoder_sequence_length"}
        if self.behavior is not ConfigBehavior.ENCODER:
            spec["decoder_input_ids"] = {0: "batch_size", 1: "decoder_sequence_length"}
            if self.behavior is ConfigBehavior.DECODER:
                spec["encoder_outputs"] = {0: "batch_size", 1: "encoder_sequence_length"}
            if self.use_past_in_inputs:
                self.add_past_key_values(spec, direction="inputs")
        return spec

    @property
    def outputs(self) -> IOSpec:
        if self.behavior is ConfigBehavior.ENCODER:
            return {"last_hidden_state": {0: "batch_size", 1: "encoder_sequence_length"}}
        return super().outputs
