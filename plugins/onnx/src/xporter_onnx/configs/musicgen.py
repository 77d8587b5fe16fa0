"""MusicGen (text-to-audio) exported as the five graphs Optimum writes for it.

``MusicgenForConditionalGeneration.generate`` is a T5 text encoder, a decoder that predicts
``num_codebooks`` EnCodec code streams in parallel (each stream delayed by one step more
than the previous one), and the EnCodec decoder that turns the codes into a waveform. An
ONNX Runtime loop needs each piece as a graph:

* ``text_encoder.onnx``: ``input_ids, attention_mask`` -> ``last_hidden_state``;
* ``encodec_decode.onnx``: ``audio_codes`` (1, batch, num_codebooks, frames) -> ``audio_values``
  (batch, channels, samples);
* ``decoder_model.onnx`` / ``decoder_with_past_model.onnx`` (merged into
  ``decoder_model_merged.onnx`` by the exporter): ``input_ids`` (batch * num_codebooks, seq),
  ``encoder_attention_mask``, ``encoder_hidden_states`` (+ past) -> ``logits``
  (batch * num_codebooks, seq, vocab) + ``present.*``. The whole model is traced, not its
  ``decoder``: the forward projects the text states (``enc_to_dec_proj``) and masks them;
* ``build_delay_pattern_mask.onnx``: ``input_ids, pad_token_id, max_length`` ->
  ``input_ids_edited, delay_pattern_mask`` (``MusicgenForCausalLM.build_delay_pattern_mask``,
  rewritten with tensor ops so the two scalars stay inputs of the graph).

Stereo checkpoints interleave left/right codebooks; ``encodec_decode`` then takes half of them
and runs once per channel, as ``generate`` does. Limits, as Optimum's: the audio encoder must be
EnCodec with ``chunk_length_s = None`` (the chunked decode loops over a data-dependent number of
frames); audio-prompted generation (``audio_encoder.encode``) is not exported. ``--dynamo``
fails on EnCodec's data-dependent padding branch (``_pad1d``); the default TorchScript path
exports every graph. ``--task auto`` picks ``text-to-audio`` (the core maps MusicGen's
``...ForConditionalGeneration`` to it).
"""

from __future__ import annotations

from typing import Any, Dict, List

from xporter.errors import ExportError

from ..base import ConfigBehavior, ExportPart, IOSpec
from ..dummy import DummyInputGenerator, DummyTextInputGenerator, to_framework
from . import Arch
from .seq2seq import Seq2SeqDecoderInputGenerator, Seq2SeqNormalizedConfig, Seq2SeqOnnxConfig

CODES_BATCH = "batch_size_x_num_codebooks"
TEXT_ENCODER, ENCODEC_DECODE, DELAY_PATTERN = "text_encoder", "encodec_decode", "build_delay_pattern_mask"
DECODER = "decoder"


class MusicgenNormalized(Seq2SeqNormalizedConfig):
    """Decoder sizes from ``config.decoder``, the text width/vocabulary from ``config.text_encoder``."""

    HIDDEN_SIZE = "decoder.hidden_size"
    NUM_ATTENTION_HEADS = "decoder.num_attention_heads"
    DECODER_NUM_ATTENTION_HEADS = "decoder.num_attention_heads"
    NUM_LAYERS = "decoder.num_hidden_layers"
    DECODER_NUM_LAYERS = "decoder.num_hidden_layers"
    VOCAB_SIZE = "text_encoder.vocab_size"
    ENCODER_HIDDEN_SIZE = "text_encoder.hidden_size"
    NUM_CODEBOOKS = "decoder.num_codebooks"
    CODE_VOCAB_SIZE = "decoder.vocab_size"
    AUDIO_CHANNELS = "decoder.audio_channels"
    PAD_TOKEN_ID = "decoder.pad_token_id"


class MusicgenCodesInputGenerator(DummyInputGenerator):
    """Audio-code inputs: decoder ``input_ids`` (batch * num_codebooks, sequence_length) in
    ``[0, vocab]`` (``vocab`` is the pad/start token), ``audio_codes`` (1, batch, codebooks per
    channel, sequence_length) in ``[0, vocab)``, and the scalars ``pad_token_id`` / ``max_length``
    (``2 * sequence_length + num_codebooks``: long enough for the delay pattern, and different
    between trace and validation)."""

    SUPPORTED_INPUT_NAMES = ("input_ids", "audio_codes", "pad_token_id", "max_length")

    def generate(self, input_name, framework="pt", int_dtype="int64", float_dtype="fp32"):
        cfg = self.normalized_config
        seq, codebooks, vocab = int(self.shapes["sequence_length"]), int(cfg.num_codebooks), int(cfg.code_vocab_size)
        if input_name == "input_ids":
            array = self.random_int(vocab + 1, (self.batch_size * codebooks, seq), int_dtype)
        elif input_name == "audio_codes":
            per_channel = codebooks // int(cfg.get("audio_channels", 1) or 1)
            array = self.random_int(vocab, (1, self.batch_size, per_channel, seq), int_dtype)
        elif input_name == "pad_token_id":
            pad = cfg.get("pad_token_id", None)
            return _scalar(vocab if pad is None else int(pad), framework)
        else:
            return _scalar(2 * seq + codebooks, framework)
        return to_framework(array, framework)


def _scalar(value: int, framework: str) -> Any:
    """A 0-d int64 tensor (``to_framework`` makes arrays at least 1-d)."""
    if framework == "pt":
        import torch

        return torch.tensor(value, dtype=torch.int64)
    import numpy as np

    return np.array(value, dtype=np.int64)


class MusicgenOnnxConfig(Seq2SeqOnnxConfig):
    """All five graphs from one config: ``part`` selects the graph (see the module docstring);
    the decoder graphs reuse the seq2seq decoder plumbing (``Seq2SeqOnnxConfig``)."""

    MODEL_CLASSES = {"text-to-audio": "MusicgenForConditionalGeneration"}
    NORMALIZED_CONFIG_CLASS = MusicgenNormalized
    PART_GENERATORS = {
        TEXT_ENCODER: (DummyTextInputGenerator,),
        DECODER: (MusicgenCodesInputGenerator, Seq2SeqDecoderInputGenerator),
        ENCODEC_DECODE: (MusicgenCodesInputGenerator,),
        DELAY_PATTERN: (MusicgenCodesInputGenerator,),
    }
    ATOL_FOR_VALIDATION = 1e-4  # the base default (Seq2SeqOnnxConfig loosens it); measured diffs are ~1e-6
    part = DECODER

    def __init__(self, config: Any, task: str = "text-to-audio", **kwargs: Any) -> None:
        super().__init__(config, task=task, **kwargs)
        audio = getattr(config, "audio_encoder", None)
        if getattr(audio, "model_type", None) != "encodec":
            raise ExportError(f"MusicGen export supports an EnCodec audio encoder, this model has "
                              f"'{getattr(audio, 'model_type', None)}'", "use a checkpoint with an EnCodec audio encoder")
        if getattr(audio, "chunk_length_s", None) is not None:
            raise ExportError("MusicGen export needs audio_encoder.chunk_length_s = None (chunked EnCodec decoding "
                              "loops over a data-dependent number of frames)",
                              "set audio_encoder.chunk_length_s to null in config.json")

    # -- parts ----------------------------------------------------------------------------
    def for_part(self, part: str, use_past_in_inputs: bool = False) -> "MusicgenOnnxConfig":
        """The config of one graph; every graph but the decoders is a plain feed-forward one
        (ENCODER behaviour: no cache plumbing, outputs read by name)."""
        behavior = ConfigBehavior.DECODER if part == DECODER else ConfigBehavior.ENCODER
        config = self.with_behavior(behavior, use_past=part == DECODER, use_past_in_inputs=use_past_in_inputs)
        config.part = part
        return config

    def export_parts(self, model: Any) -> List[ExportPart]:
        """Optimum's files; the decoder always with a cache (generation is the only use)."""
        return [ExportPart(TEXT_ENCODER, model.text_encoder, self.for_part(TEXT_ENCODER)),
                ExportPart(ENCODEC_DECODE, model.audio_encoder, self.for_part(ENCODEC_DECODE)),
                ExportPart("decoder_model", model, self.for_part(DECODER)),
                ExportPart("decoder_with_past_model", model, self.for_part(DECODER, use_past_in_inputs=True)),
                ExportPart(DELAY_PATTERN, model.decoder, self.for_part(DELAY_PATTERN))]

    def _generators(self, **shapes: Any) -> List[DummyInputGenerator]:
        return [cls(self.task, self.normalized_config, **shapes) for cls in self.PART_GENERATORS[self.part]]

    @property
    def inputs(self) -> IOSpec:
        if self.part == TEXT_ENCODER:
            return {"input_ids": {0: "batch_size", 1: "encoder_sequence_length"},
                    "attention_mask": {0: "batch_size", 1: "encoder_sequence_length"}}
        if self.part == ENCODEC_DECODE:
            # axis 0 is the single EnCodec frame, axis 2 the number of codebooks: both fixed
            return {"audio_codes": {1: "batch_size", 3: "chunk_length"}}
        if self.part == DELAY_PATTERN:
            return {"input_ids": {0: CODES_BATCH, 1: "sequence_length"}, "pad_token_id": {}, "max_length": {}}
        spec = super().inputs
        spec["input_ids"] = {0: CODES_BATCH, 1: "decoder_sequence_length"}
        return spec

    @property
    def outputs(self) -> IOSpec:
        if self.part == TEXT_ENCODER:
            return {"last_hidden_state": {0: "batch_size", 1: "encoder_sequence_length"}}
        if self.part == ENCODEC_DECODE:
            return {"audio_values": {0: "batch_size", 2: "audio_length"}}
        if self.part == DELAY_PATTERN:
            return {"input_ids_edited": {0: CODES_BATCH, 1: "edited_sequence_length"},
                    "delay_pattern_mask": {0: CODES_BATCH, 1: "max_length"}}
        spec = {"logits": {0: CODES_BATCH, 1: "decoder_sequence_length"}}
        self.add_past_key_values(spec, direction="outputs")
        return spec

    # -- model plumbing (text encoder and decoders: the seq2seq behaviour) ---------------------
    def call_model(self, model: Any, kwargs: Dict[str, Any]) -> Any:
        if self.part == ENCODEC_DECODE:
            # EncodecModel.decode with one frame and no scales (MusicGen never rescales)
            return {"audio_values": model.decode(kwargs["audio_codes"], [None], return_dict=True).audio_values}
        if self.part == DELAY_PATTERN:
            return build_delay_pattern(kwargs["input_ids"], kwargs["pad_token_id"], kwargs["max_length"],
                                       int(model.num_codebooks), int(model.config.audio_channels))
        return super().call_model(model, kwargs)


def build_delay_pattern(input_ids: Any, pad_token_id: Any, max_length: Any, num_codebooks: int,
                        audio_channels: int) -> Dict[str, Any]:
    """``MusicgenForCausalLM.build_delay_pattern_mask`` with ``pad_token_id`` and ``max_length``
    as 0-d tensors and no Python control flow on values, so one trace serves every length.

    Codebook ``k`` (``k // 2`` for interleaved stereo) is delayed by ``k`` steps: position ``t``
    of its row holds prompt token ``t - k`` (or -1, "to predict") where ``k < t < k +
    max_length - codebooks + 1`` and ``pad_token_id`` elsewhere. ``input_ids_edited`` is the
    mask up to the first -1 of the first codebook (the whole mask when there is none).
    Assumes ``max_length >= 2 * codebooks - 1``, as ``generate`` does for any useful length.
    """
    import torch

    rows = input_ids.reshape(-1, num_codebooks, input_ids.shape[-1])
    # the prompt length as a tensor: a Python int from .shape would be frozen into the trace
    seq = torch.ones_like(rows[0, 0]).sum()
    delay_per_row = 2 if audio_channels == 2 else 1
    channel_codebooks = num_codebooks // delay_per_row
    offsets = (torch.arange(num_codebooks, device=input_ids.device) // delay_per_row)[:, None]
    positions = torch.arange(max_length).to(input_ids.device)[None, :]  # (1, max_length); traced dynamic
    source = positions - offsets  # prompt index shown at each position, per codebook
    in_prompt = (source >= 0) & (source < seq)
    index = torch.minimum(source.clamp(min=0), seq - 1).unsqueeze(0).expand(rows.shape[0], -1, -1)
    shifted = torch.where(in_prompt.unsqueeze(0), rows.gather(2, index), torch.full_like(index, -1))
    keep = (positions > offsets) & (positions < offsets + max_length - channel_codebooks + 1)
    pattern = torch.where(keep.unsqueeze(0), shifted, pad_token_id.to(shifted.dtype))
    # first slot to predict in codebook 0 (transformers: min of those, else the prompt length)
    free = (pattern[:, 0, :] == -1).any(dim=0)
    first = torch.minimum(torch.where(free, positions[0], seq).min(), seq.clamp(max=max_length))
    edited = pattern.index_select(2, torch.arange(first).to(input_ids.device))
    rows_out = rows.shape[0] * num_codebooks
    return {"input_ids_edited": edited.reshape(rows_out, -1), "delay_pattern_mask": pattern.reshape(rows_out, -1)}


# Tiny MusicGen for tests: 1-layer T5 text encoder (width 16, so enc_to_dec_proj is used),
# EnCodec with 2 quantizers (hop 4 samples; 2 kbps at 200 frames/s and 32-entry codebooks),
# 2-layer decoder over 2 codebooks; 32 is the pad/start token (embedding size vocab + 1).
TINY_MUSICGEN = dict(
    text_encoder=dict(model_type="t5", vocab_size=64, d_model=16, d_kv=4, d_ff=32, num_layers=1, num_heads=4,
                      relative_attention_num_buckets=8, pad_token_id=0, eos_token_id=1),
    audio_encoder=dict(model_type="encodec", audio_channels=1, sampling_rate=800, target_bandwidths=[2.0],
                       hidden_size=16, num_filters=4, num_residual_layers=1, upsampling_ratios=[2, 2],
                       codebook_size=32, codebook_dim=16, num_lstm_layers=1, normalize=False, chunk_length_s=None,
                       kernel_size=3, last_kernel_size=3, residual_kernel_size=3),
    decoder=dict(model_type="musicgen_decoder", vocab_size=32, hidden_size=32, num_hidden_layers=2,
                 num_attention_heads=4, ffn_dim=64, num_codebooks=2, max_position_embeddings=64,
                 initializer_factor=0.2, pad_token_id=32, bos_token_id=32, decoder_start_token_id=32),
)

ARCHITECTURES = [Arch("musicgen", ("text-to-audio",), MusicgenOnnxConfig, tiny=TINY_MUSICGEN)]
