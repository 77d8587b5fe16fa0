"""Encoder-decoder architectures (text, speech, image-to-text) exported as separate graphs.

Generation tasks produce Optimum's folder layout, which ORTModelForSeq2SeqLM,
ORTModelForSpeechSeq2Seq, transformers.js and :class:`xporter_onnx.generation.OnnxSeq2SeqGreedy`
read:

* ``encoder_model.onnx``: ``input_ids, attention_mask`` (or ``input_features`` /
  ``pixel_values``) -> ``last_hidden_state``;
* ``decoder_model.onnx``: ``input_ids, [encoder_attention_mask,] encoder_hidden_states``
  -> ``logits`` (+ ``present.{i}.decoder.key/value`` and ``present.{i}.encoder.key/value``
  with a cache);
* ``decoder_with_past_model.onnx`` (``-with-past`` tasks): the same plus
  ``past_key_values.{i}.decoder/encoder.key/value`` in, decoder presents out only (the
  cross-attention cache does not change after the first step).

Classification-style heads of these models (bart text-classification, whisper
audio-classification ...) are one ``model.onnx``; causal-LM heads of bart-like models
(``BartForCausalLM``) are decoder-only graphs configured by :mod:`.decoder`. Families
that need classes of their own (moonshine, pix2struct, bigbird_pegasus, trocr) live in
:mod:`.seq2seq_families`; ``ARCHITECTURES`` lists their rows too.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from .. import past as kv
from ..base import ConfigBehavior, ExportPart, IOSpec, OnnxConfig, lookup_output
from ..dummy import (
    DummyAudioInputGenerator,
    DummyInputGenerator,
    DummyTextInputGenerator,
    DummyVisionInputGenerator,
    to_framework,
)
from ..modalities import TextSeq2SeqOnnxConfig
from ..normalized import NormalizedSeq2SeqConfig, NormalizedVisionConfig
from ..task_outputs import TASK_OUTPUTS
from . import Arch, default_class_name
from .decoder import DecoderNormalizedConfig, DecoderOnnxConfig

BATCH = "batch_size"
ENC_SEQ = "encoder_sequence_length"
DEC_SEQ = "decoder_sequence_length"
# Tasks exported as encoder + decoder graphs; every other task is one monolithic graph.
SPLIT_TASKS = ("feature-extraction", "text2text-generation", "automatic-speech-recognition", "image-to-text")


class Seq2SeqDecoderInputGenerator(DummyInputGenerator):
    """Decoder-graph inputs: encoder_hidden_states, encoder_attention_mask, and the flat
    ``past_key_values.{i}.decoder.*`` (past_sequence_length) / ``.encoder.*`` (encoder
    length) tensors of (batch, decoder heads, length, head_dim)."""

    SUPPORTED_INPUT_NAMES = ("encoder_hidden_states", "encoder_attention_mask", "past_key_values")

    def generate(self, input_name, framework="pt", int_dtype="int64", float_dtype="fp32"):
        cfg = self.normalized_config
        seq = self.shapes["sequence_length"]
        enc_len = int(self.shapes.get("encoder_sequence_length", seq))
        if input_name == "encoder_attention_mask":
            return to_framework(self.ones((self.batch_size, enc_len), int_dtype), framework)
        if input_name == "encoder_hidden_states":
            hidden = int(cfg.get("encoder_hidden_size", None) or cfg.hidden_size)
            return to_framework(self.random_float((self.batch_size, enc_len, hidden), float_dtype), framework, float_dtype)
        length = enc_len if ".encoder." in input_name else int(self.shapes.get("past_sequence_length", seq))
        shape = (self.batch_size, int(cfg.decoder_num_attention_heads), length, int(cfg.head_dim))
        return to_framework(self.random_float(shape, float_dtype), framework, float_dtype)


class WhisperFeaturesGenerator(DummyAudioInputGenerator):
    """Whisper's encoder needs exactly ``2 * max_source_positions`` mel frames."""

    SUPPORTED_INPUT_NAMES = ("input_features",)

    def generate(self, input_name, framework="pt", int_dtype="int64", float_dtype="fp32"):
        cfg = self.normalized_config
        shape = (self.batch_size, int(cfg.feature_size), 2 * int(cfg.max_source_positions))
        return to_framework(self.random_float(shape, float_dtype), framework, float_dtype)


class Speech2TextFeaturesGenerator(DummyAudioInputGenerator):
    """speech_to_text takes (batch, frames, features) plus a frame-level attention mask;
    frames = 4 x sequence_length keeps the two conv subsamplings non-empty and dynamic."""

    SUPPORTED_INPUT_NAMES = ("input_features", "attention_mask")

    def generate(self, input_name, framework="pt", int_dtype="int64", float_dtype="fp32"):
        frames = 4 * int(self.shapes["sequence_length"])
        if input_name == "attention_mask":
            return to_framework(self.ones((self.batch_size, frames), int_dtype), framework)
        shape = (self.batch_size, frames, int(self.normalized_config.feature_size))
        return to_framework(self.random_float(shape, float_dtype), framework, float_dtype)


class Seq2SeqNormalizedConfig(NormalizedSeq2SeqConfig, DecoderNormalizedConfig):
    """Decoder-side sizes (heads, head_dim) for the cache; ``with_args`` maps the spellings."""

    DECODER_NUM_ATTENTION_HEADS = "decoder_attention_heads"
    DECODER_NUM_LAYERS = "decoder_layers"
    HIDDEN_SIZE = "d_model"
    NUM_ATTENTION_HEADS = "decoder_attention_heads"
    NUM_LAYERS = "decoder_layers"


class Seq2SeqOnnxConfig(TextSeq2SeqOnnxConfig):
    """Encoder-decoder models; ``behavior`` picks the graph (see the module docstring).

    Row-level knobs: ``ENCODER_INPUTS`` (names and axes of the encoder graph's inputs),
    ``DECODER_ENCODER_MASK`` (whether the decoder graph takes ``encoder_attention_mask``),
    ``NORMALIZED_CONFIG_CLASS`` and ``DUMMY_INPUT_GENERATOR_CLASSES``.
    """

    NORMALIZED_CONFIG_CLASS = Seq2SeqNormalizedConfig
    DUMMY_INPUT_GENERATOR_CLASSES = (Seq2SeqDecoderInputGenerator, DummyTextInputGenerator)
    ENCODER_INPUTS: IOSpec = {"input_ids": {0: BATCH, 1: ENC_SEQ}, "attention_mask": {0: BATCH, 1: ENC_SEQ}}
    DECODER_ENCODER_MASK = True
    ATOL_FOR_VALIDATION = 2e-4
    VALIDATION_SHAPES = {**OnnxConfig.VALIDATION_SHAPES, "past_sequence_length": 7, "encoder_sequence_length": 11}

    @property
    def is_split(self) -> bool:
        return self.task in SPLIT_TASKS

    @property
    def inputs(self) -> IOSpec:
        if self.behavior is not ConfigBehavior.DECODER:
            return {name: dict(axes) for name, axes in self.ENCODER_INPUTS.items()}
        spec: IOSpec = {"input_ids": {0: BATCH, 1: DEC_SEQ}}
        if self.DECODER_ENCODER_MASK:
            spec["encoder_attention_mask"] = {0: BATCH, 1: ENC_SEQ}
        spec["encoder_hidden_states"] = {0: BATCH, 1: ENC_SEQ}
        if self.use_past_in_inputs:
            self.add_past_key_values(spec, direction="inputs")
        return spec

    @property
    def outputs(self) -> IOSpec:
        if self.behavior is ConfigBehavior.ENCODER:
            return {"last_hidden_state": {0: BATCH, 1: ENC_SEQ}}
        if self.behavior is ConfigBehavior.MONOLITH:
            return {name: dict(axes) for name, axes in TASK_OUTPUTS[self.task].items()}
        main = "last_hidden_state" if self.task == "feature-extraction" else "logits"
        spec: IOSpec = {main: {0: BATCH, 1: DEC_SEQ}}
        if self.use_past:
            self.add_past_key_values(spec, direction="outputs")
        return spec

    def add_past_key_values(self, inputs_or_outputs: IOSpec, direction: str) -> None:
        """Optimum's names; encoder presents only on the graph that computes them."""
        if direction not in ("inputs", "outputs"):
            raise ValueError(f'direction must be "inputs" or "outputs", not {direction!r}')
        prefix = "past_key_values" if direction == "inputs" else "present"
        if direction == "inputs":
            dec_len = "past_decoder_sequence_length"
        else:
            dec_len = f"past_decoder_sequence_length + {DEC_SEQ}" if self.use_past_in_inputs else DEC_SEQ
        with_encoder = direction == "inputs" or not self.use_past_in_inputs
        for name in kv.past_names(self.num_layers, prefix, seq2seq=True, with_cross_attention=with_encoder):
            inputs_or_outputs[name] = {0: BATCH, 2: "encoder_sequence_length_out" if ".encoder." in name else dec_len}

    def generate_dummy_inputs(self, framework: str = "pt", **kwargs: Any) -> Dict[str, Any]:
        """Sequence classification pools the last ``eos`` token: every row must end with one."""
        dummy = super().generate_dummy_inputs(framework, **kwargs)
        eos = self.normalized_config.get("eos_token_id", None)
        if self.task == "text-classification" and "input_ids" in dummy and isinstance(eos, int):
            dummy["input_ids"][:, -1] = eos
        return dummy

    def export_parts(self, model: Any) -> List[ExportPart]:
        if not self.is_split and self.behavior is ConfigBehavior.MONOLITH:
            return [ExportPart("model", model, self)]
        return super().export_parts(model)

    # -- model plumbing (called by the base export wrapper) ------------------------------
    def export_context(self, model: Any):
        return kv.traceable_masks()

    def prepare_model_inputs(self, inputs: Dict[str, Any]) -> Dict[str, Any]:
        if self.behavior is not ConfigBehavior.DECODER:
            return dict(inputs)
        inputs = dict(inputs)
        past = kv.pop_past(inputs)
        kwargs: Dict[str, Any] = {"decoder_input_ids": inputs.pop("input_ids"),
                                  "encoder_outputs": self.wrap_encoder_outputs(inputs.pop("encoder_hidden_states"))}
        if "encoder_attention_mask" in inputs:
            kwargs["attention_mask"] = inputs.pop("encoder_attention_mask")
        # Always hand the model a cache object (empty for the first step): without one,
        # transformers 5 may probe position ids for packed sequences (aten::diff, which
        # the TorchScript exporter cannot convert).
        kwargs["past_key_values"] = kv.build_encoder_decoder_cache(past)
        kwargs.update(inputs)
        return kwargs

    def wrap_encoder_outputs(self, hidden_states: Any) -> Any:
        """A ModelOutput, not a tuple: some decoders (moonshine on transformers 5) read
        attributes of ``encoder_outputs``; the others index it like a tuple."""
        from transformers.modeling_outputs import BaseModelOutput

        return BaseModelOutput(last_hidden_state=hidden_states)

    def call_model(self, model: Any, kwargs: Dict[str, Any]) -> Any:
        if self.behavior is not ConfigBehavior.DECODER:
            return model(**kwargs, **self.MODEL_KWARGS)
        kwargs = dict(kwargs)
        if "past_key_values" in kwargs:
            kwargs[kv.cache_argument_name(model)] = kwargs.pop("past_key_values")
        return model(**kwargs, use_cache=True, return_dict=True, **self.MODEL_KWARGS)

    def flatten_outputs(self, model_output: Any) -> List[Any]:
        names = [n for n in self.outputs if not n.startswith("present.")]
        flat = [lookup_output(model_output, name) for name in names]
        if self.behavior is ConfigBehavior.DECODER and self.use_past:
            flat.extend(kv.flatten_encoder_decoder_cache(kv.output_cache(model_output),
                                                         with_cross_attention=not self.use_past_in_inputs))
        return flat


class T5Normalized(Seq2SeqNormalizedConfig):
    HIDDEN_SIZE = "d_model"
    NUM_ATTENTION_HEADS = "num_heads"
    DECODER_NUM_ATTENTION_HEADS = "num_heads"
    NUM_LAYERS = "num_decoder_layers"
    DECODER_NUM_LAYERS = "num_decoder_layers"
    HEAD_DIM = "d_kv"


class SpeechNormalized(Seq2SeqNormalizedConfig):
    FEATURE_SIZE = "num_mel_bins"


class Speech2TextNormalized(Seq2SeqNormalizedConfig):
    FEATURE_SIZE = "input_feat_per_channel"


class EncoderDecoderNormalized(Seq2SeqNormalizedConfig):
    """Composite ``EncoderDecoderConfig``: sizes of the decoder sub-config, the encoder width
    (cross-attention input) from the encoder one."""

    HIDDEN_SIZE = "decoder.hidden_size"
    NUM_ATTENTION_HEADS = "decoder.num_attention_heads"
    DECODER_NUM_ATTENTION_HEADS = "decoder.num_attention_heads"
    NUM_LAYERS = "decoder.num_hidden_layers"
    DECODER_NUM_LAYERS = "decoder.num_hidden_layers"
    VOCAB_SIZE = "decoder.vocab_size"
    HEAD_DIM = "decoder.head_dim"
    ENCODER_HIDDEN_SIZE = "encoder.hidden_size"


class VisionEncoderDecoderNormalized(EncoderDecoderNormalized, NormalizedVisionConfig):
    """The decoder sizes as for text; the image from the encoder sub-config."""

    IMAGE_SIZE = "encoder.image_size"
    NUM_CHANNELS = "encoder.num_channels"


class WhisperOnnxConfig(Seq2SeqOnnxConfig):
    """Whisper: log-mel ``input_features`` of a fixed length, no encoder attention mask."""

    NORMALIZED_CONFIG_CLASS = SpeechNormalized
    DUMMY_INPUT_GENERATOR_CLASSES = (Seq2SeqDecoderInputGenerator, WhisperFeaturesGenerator, DummyTextInputGenerator)
    ENCODER_INPUTS = {"input_features": {0: BATCH, 1: "feature_size", 2: "encoder_sequence_length"}}
    DECODER_ENCODER_MASK = False
    ATOL_FOR_VALIDATION = 1e-3


class Speech2TextOnnxConfig(Seq2SeqOnnxConfig):
    """speech_to_text: (batch, frames, features) + frame mask; the decoder graph takes no
    encoder mask because the model subsamples frames before cross-attention."""

    NORMALIZED_CONFIG_CLASS = Speech2TextNormalized
    DUMMY_INPUT_GENERATOR_CLASSES = (Seq2SeqDecoderInputGenerator, Speech2TextFeaturesGenerator,
                                     DummyTextInputGenerator)
    ENCODER_INPUTS = {"input_features": {0: BATCH, 1: "encoder_sequence_length"},
                      "attention_mask": {0: BATCH, 1: "encoder_sequence_length"}}
    DECODER_ENCODER_MASK = False
    ATOL_FOR_VALIDATION = 1e-3


class VisionEncoderDecoderOnnxConfig(Seq2SeqOnnxConfig):
    """Image encoder (ViT-like) + text decoder with cross-attention (GPT-2, TrOCR ...)."""

    NORMALIZED_CONFIG_CLASS = VisionEncoderDecoderNormalized
    DUMMY_INPUT_GENERATOR_CLASSES = (Seq2SeqDecoderInputGenerator, DummyVisionInputGenerator, DummyTextInputGenerator)
    ENCODER_INPUTS = {"pixel_values": {0: BATCH, 1: "num_channels", 2: "height", 3: "width"}}
    DECODER_ENCODER_MASK = False
    ATOL_FOR_VALIDATION = 1e-3


BART_LIKE_NAMES = Seq2SeqNormalizedConfig  # d_model / decoder_attention_heads / decoder_layers
CAUSAL_LM_NAMES = DecoderNormalizedConfig.with_args(hidden_size="d_model", num_attention_heads="decoder_attention_heads",
                                                    num_layers="decoder_layers")
TEXT2TEXT = ("feature-extraction", "feature-extraction-with-past", "text2text-generation",
             "text2text-generation-with-past")
CAUSAL = ("text-generation", "text-generation-with-past")
ASR = ("automatic-speech-recognition", "automatic-speech-recognition-with-past")

TINY_BART = dict(vocab_size=128, d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
                 decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=128,
                 pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2, forced_eos_token_id=None)
TINY_T5 = dict(vocab_size=128, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_decoder_layers=2, num_heads=4,
               relative_attention_num_buckets=8, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
TINY_WHISPER = dict(vocab_size=128, d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
                    decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64, num_mel_bins=16,
                    max_source_positions=16, max_target_positions=64, pad_token_id=0, bos_token_id=1, eos_token_id=2,
                    decoder_start_token_id=1, suppress_tokens=None, begin_suppress_tokens=None)
TINY_S2T = dict(vocab_size=128, d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
                decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64, input_feat_per_channel=16,
                input_channels=1, conv_channels=32, num_conv_layers=2, conv_kernel_sizes=[5, 5],
                max_source_positions=256, max_target_positions=64, pad_token_id=1, bos_token_id=0, eos_token_id=2,
                decoder_start_token_id=2)
TINY_VED = dict(encoder=dict(model_type="vit", hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                             intermediate_size=64, image_size=32, patch_size=8, num_channels=3),
                decoder=dict(model_type="gpt2", n_embd=32, n_layer=2, n_head=4, vocab_size=128, n_positions=64,
                             add_cross_attention=True, is_decoder=True, bos_token_id=1, eos_token_id=2,
                             pad_token_id=0),
                decoder_start_token_id=1, pad_token_id=0, eos_token_id=2)

TINY_BERT = dict(model_type="bert", vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                 intermediate_size=64, max_position_embeddings=128, pad_token_id=0)
TINY_BERT2BERT = dict(encoder=TINY_BERT, decoder=dict(TINY_BERT, is_decoder=True, add_cross_attention=True),
                      decoder_start_token_id=1, pad_token_id=0, eos_token_id=2)


def _bart_like(model_type: str, extra_tasks: tuple = (), tiny: Any = None,
               base: Optional[type] = None) -> List[Arch]:
    """A bart-like family: seq2seq tasks (+ extra monolithic heads) and the causal-LM head."""
    tiny = tiny or TINY_BART
    return [Arch(model_type, TEXT2TEXT + extra_tasks, base or Seq2SeqOnnxConfig,
                 dict(NORMALIZED_CONFIG_CLASS=BART_LIKE_NAMES), tiny=tiny),
            Arch(model_type, CAUSAL, DecoderOnnxConfig,
                 dict(NORMALIZED_CONFIG_CLASS=CAUSAL_LM_NAMES, USE_POSITION_IDS=False), tiny=tiny,
                 name=default_class_name(model_type, role="ForCausalLM"))]


_ROWS = [
    Arch("t5", TEXT2TEXT, Seq2SeqOnnxConfig, dict(NORMALIZED_CONFIG_CLASS=T5Normalized), tiny=TINY_T5),
    Arch("mt5", TEXT2TEXT, Seq2SeqOnnxConfig, dict(NORMALIZED_CONFIG_CLASS=T5Normalized), tiny=TINY_T5),
    *_bart_like("bart", ("text-classification", "question-answering")),
    *_bart_like("mbart", ("text-classification", "question-answering")),
    *_bart_like("marian", tiny=dict(TINY_BART, pad_token_id=0, decoder_start_token_id=0)),
    *_bart_like("pegasus", tiny=dict(TINY_BART, pad_token_id=0, decoder_start_token_id=0)),
    *_bart_like("blenderbot"),
    *_bart_like("blenderbot-small"),
    Arch("longt5", TEXT2TEXT, Seq2SeqOnnxConfig, dict(NORMALIZED_CONFIG_CLASS=T5Normalized),
         tiny=dict(TINY_T5, local_radius=4, global_block_size=4, encoder_attention_type="transient-global")),
    Arch("m2m_100", TEXT2TEXT, Seq2SeqOnnxConfig, dict(NORMALIZED_CONFIG_CLASS=BART_LIKE_NAMES), tiny=TINY_BART),
    Arch("whisper", ("feature-extraction", "feature-extraction-with-past", "audio-classification") + ASR,
         WhisperOnnxConfig, tiny=TINY_WHISPER),
    Arch("speech_to_text", ("feature-extraction", "feature-extraction-with-past") + ASR, Speech2TextOnnxConfig,
         tiny=TINY_S2T),
    Arch("encoder-decoder", ("text2text-generation", "text2text-generation-with-past"), Seq2SeqOnnxConfig,
         dict(NORMALIZED_CONFIG_CLASS=EncoderDecoderNormalized), tiny=TINY_BERT2BERT),
    Arch("vision-encoder-decoder", ("image-to-text", "image-to-text-with-past"), VisionEncoderDecoderOnnxConfig,
         tiny=TINY_VED),
]


def __getattr__(name: str) -> Any:
    """``ARCHITECTURES``: the rows above plus :mod:`.seq2seq_families`' (imported on first use,
    because that module builds on the classes here; any import order works)."""
    if name == "ARCHITECTURES":
        from .seq2seq_families import FAMILY_ARCHITECTURES

        return [*_ROWS, *FAMILY_ARCHITECTURES]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
