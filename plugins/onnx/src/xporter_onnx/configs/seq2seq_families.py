"""Encoder-decoder families that need their own classes (inputs, sizes or patches), as
classes plus rows; :mod:`.seq2seq` holds the shared machinery and lists these rows in its
``ARCHITECTURES``.

* ``moonshine``: raw-waveform speech encoder; two traceability patches during export.
* ``pix2struct``: image-to-text over ``flattened_patches`` (what its processor returns).
* ``bigbird_pegasus``: bart-like, its encoder switched to full attention for export.
* ``trocr``: TrOCR's causal decoder alone (with its image encoder it is a
  ``vision-encoder-decoder`` row).
"""

from __future__ import annotations

import contextlib
from typing import Any, List

from .. import past as kv
from ..base import ExportPart
from ..dummy import DummyAudioInputGenerator, DummyTextInputGenerator, np, to_framework
from . import Arch
from .decoder import DecoderOnnxConfig
from .seq2seq import (
    ASR,
    BATCH,
    CAUSAL_LM_NAMES,
    ENC_SEQ,
    Seq2SeqDecoderInputGenerator,
    Seq2SeqNormalizedConfig,
    Seq2SeqOnnxConfig,
    TINY_BART,
    _bart_like,
)


# -- moonshine ---------------------------------------------------------------------------


class PaddedWaveformGenerator(DummyAudioInputGenerator):
    """Raw ``input_values`` with a sample-level ``attention_mask`` whose rows 1..n are
    right-padded by a quarter, so validation checks that the encoder graph honours the mask."""

    SUPPORTED_INPUT_NAMES = ("input_values", "attention_mask")

    def generate(self, input_name, framework="pt", int_dtype="int64", float_dtype="fp32"):
        if input_name != "attention_mask":
            return super().generate(input_name, framework, int_dtype, float_dtype)
        samples = int(self.shapes["audio_sequence_length"])
        mask = self.ones((self.batch_size, samples), int_dtype)
        mask[1:, samples - samples // 4:] = 0
        return to_framework(mask, framework)


class MoonshineNormalized(Seq2SeqNormalizedConfig):
    """The decoder cache has ``decoder_num_key_value_heads`` heads (GQA) of hidden/heads width."""

    HIDDEN_SIZE = "hidden_size"
    NUM_ATTENTION_HEADS = "decoder_num_attention_heads"
    DECODER_NUM_ATTENTION_HEADS = "decoder_num_key_value_heads"
    NUM_LAYERS = "decoder_num_hidden_layers"
    DECODER_NUM_LAYERS = "decoder_num_hidden_layers"


class MoonshineOnnxConfig(Seq2SeqOnnxConfig):
    """Moonshine: the encoder reads the raw waveform (+ sample mask). The decoder graph takes
    no encoder mask: transformers 4.57 expects it per sample, 5.x per encoder frame."""

    NORMALIZED_CONFIG_CLASS = MoonshineNormalized
    DUMMY_INPUT_GENERATOR_CLASSES = (Seq2SeqDecoderInputGenerator, PaddedWaveformGenerator, DummyTextInputGenerator)
    ENCODER_INPUTS = {"input_values": {0: BATCH, 1: "num_samples"}, "attention_mask": {0: BATCH, 1: "num_samples"}}
    DECODER_ENCODER_MASK = False
    VALIDATION_SHAPES = {**Seq2SeqOnnxConfig.VALIDATION_SHAPES, "audio_sequence_length": 9000}

    def wrap_encoder_outputs(self, hidden_states: Any) -> Any:
        """transformers 5 reads ``encoder_outputs.attention_mask`` (None: no padding)."""
        from transformers.models.moonshine import modeling_moonshine as mm

        output_class = getattr(mm, "MoonshineEncoderModelOutput", None)
        if output_class is None:  # transformers 4.x
            return super().wrap_encoder_outputs(hidden_states)
        return output_class(last_hidden_state=hidden_states)

    @contextlib.contextmanager
    def export_context(self, model: Any):
        """Two traceability fixes, undone on exit: transformers computes the encoder frame
        count with ``int(...)`` (tracing freezes it to the trace's audio length; floor
        division keeps it a graph expression), and its rotary embedding uses
        ``repeat_interleave`` on the last axis, which the TorchScript exporter converts with
        a wrong rank; :func:`_moonshine_rotary` computes the same with ``stack``/``flatten``."""
        from transformers.models.moonshine import modeling_moonshine as mm

        saved = (mm.MoonshinePreTrainedModel._get_feat_extract_output_lengths, mm.apply_rotary_pos_emb)
        mm.MoonshinePreTrainedModel._get_feat_extract_output_lengths = _moonshine_frames
        mm.apply_rotary_pos_emb = _moonshine_rotary
        try:
            with kv.traceable_masks():
                yield
        finally:
            mm.MoonshinePreTrainedModel._get_feat_extract_output_lengths, mm.apply_rotary_pos_emb = saved


def _moonshine_frames(self: Any, samples: Any) -> Any:
    """Encoder frames after moonshine's three convolutions (kernels 127/7/3, strides 64/3/2)."""
    return ((((samples - 127) // 64 + 1) - 7) // 3 + 1 - 3) // 2 + 1


def _moonshine_rotary(q: Any, k: Any, cos: Any, sin: Any, position_ids: Any = None, unsqueeze_dim: int = 1):
    """Moonshine's partial, interleaved rotary embedding (pairs (0,1), (2,3) ... rotated;
    dimensions past the rotary width passed through), without ``repeat_interleave``."""
    import torch

    cos, sin = cos.unsqueeze(unsqueeze_dim), sin.unsqueeze(unsqueeze_dim)
    half = cos.shape[-1] // 2
    cos = torch.stack((cos[..., :half], cos[..., :half]), dim=-1).flatten(-2)
    sin = torch.stack((sin[..., :half], sin[..., :half]), dim=-1).flatten(-2)
    width = cos.shape[-1]

    def rotate(x: Any) -> Any:
        rot, rest = x[..., :width], x[..., width:]
        turned = torch.stack((-rot[..., 1::2], rot[..., 0::2]), dim=-1).flatten(-2)
        return torch.cat([rot * cos + turned * sin, rest], dim=-1)

    return rotate(q), rotate(k)


# -- pix2struct --------------------------------------------------------------------------


class FlattenedPatchesGenerator(DummyTextInputGenerator):
    """Pix2Struct's encoder input: ``sequence_length`` patches of (row, column, pixels...),
    row/column ids inside the patch-position tables, plus the patch ``attention_mask``
    (right-padded on validation like a text mask)."""

    SUPPORTED_INPUT_NAMES = ("flattened_patches", "attention_mask")

    def generate(self, input_name, framework="pt", int_dtype="int64", float_dtype="fp32"):
        if input_name == "attention_mask":
            return super().generate(input_name, framework, int_dtype, float_dtype)
        cfg = self.normalized_config
        shape = (self.batch_size, self.sequence_length)
        positions = self.random_int(int(cfg.max_patch_positions), shape + (2,)).astype("float32")
        pixels = self.random_float(shape + (int(cfg.patch_embed_hidden_size),))
        return to_framework(np.concatenate([positions, pixels], axis=-1), framework, float_dtype)


class Pix2StructNormalized(Seq2SeqNormalizedConfig):
    """Decoder sizes from ``text_config`` (T5-like), patch sizes from ``vision_config``."""

    HIDDEN_SIZE = "text_config.hidden_size"
    NUM_ATTENTION_HEADS = "text_config.num_heads"
    DECODER_NUM_ATTENTION_HEADS = "text_config.num_heads"
    NUM_LAYERS = "text_config.num_layers"
    DECODER_NUM_LAYERS = "text_config.num_layers"
    HEAD_DIM = "text_config.d_kv"
    VOCAB_SIZE = "text_config.vocab_size"
    ENCODER_HIDDEN_SIZE = "vision_config.hidden_size"
    PATCH_EMBED_HIDDEN_SIZE = "vision_config.patch_embed_hidden_size"
    MAX_PATCH_POSITIONS = "vision_config.seq_len"


class Pix2StructOnnxConfig(Seq2SeqOnnxConfig):
    """Pix2Struct: the encoder reads ``flattened_patches`` + patch mask (what its image
    processor returns); the decoder attends over the patches with that mask."""

    NORMALIZED_CONFIG_CLASS = Pix2StructNormalized
    DUMMY_INPUT_GENERATOR_CLASSES = (Seq2SeqDecoderInputGenerator, FlattenedPatchesGenerator, DummyTextInputGenerator)
    ENCODER_INPUTS = {"flattened_patches": {0: BATCH, 1: ENC_SEQ}, "attention_mask": {0: BATCH, 1: ENC_SEQ}}


# -- bigbird_pegasus ---------------------------------------------------------------------


class BigBirdPegasusOnnxConfig(Seq2SeqOnnxConfig):
    """Block-sparse attention picks blocks with Python control flow and random numbers, which
    a traced graph cannot reproduce; the encoder runs full attention while exporting and
    validating (the model itself does so below ``(5 + 2 * num_random_blocks) * block_size``
    tokens). Its decoder attention is always full."""

    @contextlib.contextmanager
    def export_context(self, model: Any):
        sparse = [m for m in model.modules() if hasattr(m, "set_attention_type") and hasattr(m, "layers")
                  and getattr(m, "attention_type", None) == "block_sparse"]
        for encoder in sparse:
            encoder.set_attention_type("original_full")
        try:
            with kv.traceable_masks():
                yield
        finally:
            for encoder in sparse:
                training = encoder.training
                encoder.set_attention_type("block_sparse")
                encoder.train(training)  # the rebuilt attention modules start in training mode


# -- trocr ------------------------------------------------------------------------------


class TrOCROnnxConfig(DecoderOnnxConfig):
    """TrOCR's causal decoder alone (``TrOCRForCausalLM`` checkpoints): ``last_hidden_state``
    of its ``TrOCRDecoder``, self-attention cache only (``past_key_values.{i}.key/value``).
    Positions come from the past length, so no ``position_ids``. TrOCR with its image
    encoder is the ``vision-encoder-decoder`` row."""

    NORMALIZED_CONFIG_CLASS = CAUSAL_LM_NAMES
    USE_POSITION_IDS = False
    MODEL_CLASSES = {task: "TrOCRForCausalLM" for task in ("feature-extraction", "feature-extraction-with-past")}

    def export_parts(self, model: Any) -> List[ExportPart]:
        decoder = model.get_decoder() if hasattr(model, "get_decoder") else model
        return [ExportPart("model", decoder, self)]


TINY_MOONSHINE = dict(vocab_size=128, hidden_size=64, intermediate_size=64, encoder_num_hidden_layers=2,
                      decoder_num_hidden_layers=2, encoder_num_attention_heads=4, decoder_num_attention_heads=4,
                      max_position_embeddings=64, pad_token_id=0, bos_token_id=1, eos_token_id=2,
                      decoder_start_token_id=1)

TINY_PIX2STRUCT = dict(
    text_config=dict(vocab_size=128, hidden_size=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
                     relative_attention_num_buckets=8, pad_token_id=0, decoder_start_token_id=0, eos_token_id=1),
    vision_config=dict(hidden_size=32, patch_embed_hidden_size=48, d_ff=64, d_kv=8, num_hidden_layers=2,
                       num_attention_heads=4, seq_len=64, relative_attention_num_buckets=8),
    pad_token_id=0, decoder_start_token_id=0, eos_token_id=1)

TINY_TROCR = dict(vocab_size=128, d_model=32, decoder_layers=2, decoder_attention_heads=4, decoder_ffn_dim=64,
                  max_position_embeddings=64, pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2)

FAMILY_ARCHITECTURES = [
    # block_size 2, one random block: the 16-token trace would take the block-sparse path
    *_bart_like("bigbird_pegasus", ("text-classification", "question-answering"), base=BigBirdPegasusOnnxConfig,
                tiny=dict(TINY_BART, block_size=2, num_random_blocks=1)),
    Arch("moonshine", ("feature-extraction", "feature-extraction-with-past") + ASR, MoonshineOnnxConfig,
         tiny=TINY_MOONSHINE),
    Arch("pix2struct", ("image-to-text", "image-to-text-with-past"), Pix2StructOnnxConfig, tiny=TINY_PIX2STRUCT),
    Arch("trocr", ("feature-extraction", "feature-extraction-with-past"), TrOCROnnxConfig, tiny=TINY_TROCR),
]
