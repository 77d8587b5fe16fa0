"""SpeechT5 text-to-speech (``text-to-audio``), exported in Optimum's four-file layout.

* ``encoder_model.onnx``: ``input_ids`` -> ``encoder_outputs``, ``encoder_attention_mask``
  (the mask is ``input_ids != pad_token_id``, what ``generate_speech`` uses without a mask);
* ``decoder_model.onnx`` / ``decoder_with_past_model.onnx`` (merged into
  ``decoder_model_merged.onnx`` by the exporter): one synthesis step. Inputs
  ``output_sequence`` (1, frames so far, num_mel_bins: the prenet's positional encoding
  needs the full sequence), ``speaker_embeddings`` (1, speaker_embedding_dim),
  ``encoder_outputs``, ``encoder_attention_mask`` (+ ``past_key_values.*``); outputs
  ``output_sequence_out`` (the sequence with the new frame), ``spectrum`` (reduction_factor,
  num_mel_bins), ``prob`` (reduction_factor,: the stop probabilities) and ``present.*``;
* ``decoder_postnet_and_vocoder.onnx``: ``spectrogram`` (frames, num_mel_bins: the spectra
  of all steps concatenated) -> ``waveform`` (samples,), through the speech postnet and a
  HiFi-GAN vocoder loaded from ``--model-kwargs '{"vocoder": "<id or path>"}'`` (see
  :data:`xporter_onnx.loader.COMPONENT_LOADERS`).

Batch size is 1, as in Optimum's export and in transformers.js, which read these shapes.

Prenet dropout: SpeechT5 keeps its decoder-prenet dropout on at inference (Tacotron 2's
trick): every step draws a fresh keep-mask (keep with probability ``p``, scale by
``1 / (1 - p)``, one mask shared by the batch). To validate the decoder graphs against
PyTorch element by element, they are traced with the uniform noise behind that mask as extra
inputs (``prenet_dropout_noise.{i}``, both sides get the same noise); after validation
:meth:`SpeechT5OnnxConfig.post_process_exported_models` replaces each of those inputs with
an in-graph ``RandomUniformLike`` draw (seeded per layer, so the merged decoder's branches
and a fresh session are reproducible), which leaves Optimum's input list.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

from .. import past as kv
from ..base import ConfigBehavior, ExportPart, IOSpec
from ..dummy import DummyInputGenerator, np, to_framework
from ..normalized import NormalizedConfig
from . import Arch
from .seq2seq import Seq2SeqOnnxConfig

ENC_SEQ = "encoder_sequence_length"
DEC_SEQ = "decoder_sequence_length"
NOISE_PREFIX = "prenet_dropout_noise"
POSTNET_AND_VOCODER = "decoder_postnet_and_vocoder"
VOCODER_HINT = "pass the HiFi-GAN vocoder with --model-kwargs '{\"vocoder\": \"<id or path>\"}'"


def load_vocoder(source: Any, dtype: str = "fp32", device: str = "cpu", cache_dir: Any = None) -> Any:
    """``SpeechT5HifiGan`` from a folder or Hub id (safetensors first, no remote code)."""
    from transformers import SpeechT5HifiGan
    from xporter.errors import ModelConfigError

    from ..loader import load_transformers

    if not isinstance(source, str) or not source:
        raise ModelConfigError(f"vocoder must be a model id or folder path, got {source!r}", VOCODER_HINT)
    return load_transformers(Path(source), SpeechT5HifiGan, dtype, device,
                             {} if Path(source).is_dir() or cache_dir is None else {"cache_dir": cache_dir})


class SpeechT5Normalized(NormalizedConfig):
    """Decoder-side sizes for the cache (Optimum maps heads to the encoder's: wrong when they differ)."""

    NUM_LAYERS = "decoder_layers"
    NUM_ATTENTION_HEADS = "decoder_attention_heads"


class SpeechT5InputGenerator(DummyInputGenerator):
    """Every SpeechT5 graph input, batch 1. ``encoder_sequence_length`` sizes the text side,
    ``sequence_length`` the frames so far, ``past_sequence_length`` the decoder cache."""

    SUPPORTED_INPUT_NAMES = ("input_ids", "output_sequence", "speaker_embeddings", "encoder_outputs",
                             "encoder_attention_mask", "past_key_values", NOISE_PREFIX, "spectrogram")

    def generate(self, input_name, framework="pt", int_dtype="int64", float_dtype="fp32"):
        cfg = self.normalized_config
        frames = int(self.shapes["sequence_length"])
        enc_len = int(self.shapes.get("encoder_sequence_length", frames))
        if input_name == "input_ids":  # clear of pad (1) and the special ids below it
            return to_framework(self.random_int(int(cfg.vocab_size), (1, enc_len), int_dtype, low=4), framework)
        if input_name == "encoder_attention_mask":
            return to_framework(self.ones((1, enc_len), int_dtype), framework)
        if input_name.startswith(NOISE_PREFIX):  # uniform in [0, 1), like the draw it stands for
            array = self.rng.random((frames, int(cfg.speech_decoder_prenet_units))).astype(np.float32)
            return to_framework(array, framework, float_dtype)
        if input_name == "output_sequence":
            shape = (1, frames, int(cfg.num_mel_bins))
        elif input_name == "speaker_embeddings":
            shape = (1, int(cfg.speaker_embedding_dim))
        elif input_name == "encoder_outputs":
            shape = (1, enc_len, int(cfg.hidden_size))
        elif input_name == "spectrogram":
            shape = (frames * int(cfg.reduction_factor), int(cfg.num_mel_bins))
        else:  # past_key_values.{i}.decoder/encoder.key/value
            length = enc_len if ".encoder." in input_name else int(self.shapes.get("past_sequence_length", frames))
            heads = int(cfg.num_attention_heads)
            shape = (1, heads, length, int(cfg.hidden_size) // heads)
        return to_framework(self.random_float(shape, float_dtype), framework, float_dtype)


class SpeechT5OnnxConfig(Seq2SeqOnnxConfig):
    """Encoder, decoder step (with / without cache) and postnet + vocoder; see the module docstring.

    ``behavior`` picks the encoder or decoder graph; ``MONOLITH`` stands for the postnet +
    vocoder graph (the model is never exported as one piece).
    """

    NORMALIZED_CONFIG_CLASS = SpeechT5Normalized
    DUMMY_INPUT_GENERATOR_CLASSES = (SpeechT5InputGenerator,)
    MODEL_CLASSES = {"text-to-audio": "SpeechT5ForTextToSpeech"}
    ATOL_FOR_VALIDATION = 1e-4  # the base default (Seq2Seq's is 2e-4); measured <= 3e-7 on the tiny model

    @property
    def noise_names(self) -> List[str]:
        return [f"{NOISE_PREFIX}.{i}" for i in range(int(self._config.speech_decoder_prenet_layers))]

    @property
    def inputs(self) -> IOSpec:
        if self.behavior is ConfigBehavior.ENCODER:
            return {"input_ids": {1: ENC_SEQ}}
        if self.behavior is ConfigBehavior.MONOLITH:
            return {"spectrogram": {0: "n_spectrums x reduction_factor"}}
        spec: IOSpec = {"output_sequence": {1: DEC_SEQ}, "speaker_embeddings": {}, "encoder_outputs": {1: ENC_SEQ},
                        "encoder_attention_mask": {1: ENC_SEQ}}
        if self.use_past_in_inputs:
            self.add_past_key_values(spec, direction="inputs")
        for name in self.noise_names:  # replaced by in-graph draws after validation
            spec[name] = {0: DEC_SEQ}
        return spec

    @property
    def outputs(self) -> IOSpec:
        if self.behavior is ConfigBehavior.ENCODER:
            return {"encoder_outputs": {1: ENC_SEQ}, "encoder_attention_mask": {1: ENC_SEQ}}
        if self.behavior is ConfigBehavior.MONOLITH:
            return {"waveform": {0: "n_samples"}}
        spec: IOSpec = {"output_sequence_out": {1: f"{DEC_SEQ} + 1"}, "spectrum": {}, "prob": {}}
        self.add_past_key_values(spec, direction="outputs")
        return spec

    def add_past_key_values(self, inputs_or_outputs: IOSpec, direction: str) -> None:
        """Optimum's names; one new frame per step; encoder presents only from the first step."""
        prefix = "past_key_values" if direction == "inputs" else "present"
        dec_len = {"inputs": "past_decoder_sequence_length", "outputs": "past_decoder_sequence_length + 1"}[direction]
        with_encoder = direction == "inputs" or not self.use_past_in_inputs
        for name in kv.past_names(self.num_layers, prefix, seq2seq=True, with_cross_attention=with_encoder):
            if ".encoder." in name:
                inputs_or_outputs[name] = {2: ENC_SEQ}
            else:  # the first step's decoder presents hold exactly one frame
                inputs_or_outputs[name] = {2: dec_len} if self.use_past_in_inputs or direction == "inputs" else {}

    def generate_dummy_inputs(self, framework: str = "pt", **kwargs: Any) -> Dict[str, Any]:
        return super().generate_dummy_inputs(framework, **{**kwargs, "batch_size": 1})

    def export_parts(self, model: Any) -> List[ExportPart]:
        """encoder_model, decoder_model, decoder_with_past_model (always: text-to-audio has no
        cache-free variant here) and decoder_postnet_and_vocoder."""
        if getattr(model, "vocoder", None) is None:
            from xporter.errors import ExportError

            raise ExportError("SpeechT5 text-to-audio export needs a vocoder for decoder_postnet_and_vocoder.onnx",
                              VOCODER_HINT)
        return [ExportPart("encoder_model", model, self.with_behavior("encoder")),
                ExportPart("decoder_model", model, self.with_behavior("decoder", use_past=True)),
                ExportPart("decoder_with_past_model", model,
                           self.with_behavior("decoder", use_past=True, use_past_in_inputs=True)),
                ExportPart(POSTNET_AND_VOCODER, model, self.with_behavior("monolith"))]

    # -- model plumbing (called by the base export wrapper) ------------------------------
    def prepare_model_inputs(self, inputs: Dict[str, Any]) -> Dict[str, Any]:
        return dict(inputs)

    def call_model(self, model: Any, kwargs: Dict[str, Any]) -> Any:
        if self.behavior is ConfigBehavior.ENCODER:
            ids = kwargs["input_ids"]
            mask = (ids != self._config.pad_token_id).to(ids.dtype)
            encoded = model.speecht5.encoder(input_values=ids, attention_mask=mask, return_dict=True)
            return {"encoder_outputs": encoded.last_hidden_state, "encoder_attention_mask": mask}
        if self.behavior is ConfigBehavior.MONOLITH:
            postnet = model.speech_decoder_postnet.postnet(kwargs["spectrogram"].unsqueeze(0)).squeeze(0)
            return {"waveform": model.vocoder(postnet)}
        return self._decoder_step(model, dict(kwargs))

    def _decoder_step(self, model: Any, kwargs: Dict[str, Any]) -> Dict[str, Any]:
        """One iteration of transformers' ``_generate_speech`` loop for batch 1."""
        import torch

        cfg = self._config
        sequence = kwargs.pop("output_sequence")
        noises = [kwargs.pop(name) for name in self.noise_names]
        hidden = self._prenet(model.speecht5.decoder.prenet, sequence, kwargs.pop("speaker_embeddings"), noises)
        decoder = model.speecht5.decoder.wrapped_decoder
        cache = kv.build_encoder_decoder_cache(kv.pop_past(kwargs))
        out = decoder(hidden_states=hidden[:, -1:], attention_mask=None, encoder_hidden_states=kwargs["encoder_outputs"],
                      encoder_attention_mask=kwargs["encoder_attention_mask"], use_cache=True, return_dict=True,
                      **{kv.cache_argument_name(decoder): cache})
        last = out.last_hidden_state[0, -1]
        spectrum = model.speech_decoder_postnet.feat_out(last).view(cfg.reduction_factor, cfg.num_mel_bins)
        return {"output_sequence_out": torch.cat((sequence, spectrum[-1].view(1, 1, cfg.num_mel_bins)), dim=1),
                "spectrum": spectrum, "prob": torch.sigmoid(model.speech_decoder_postnet.prob_out(last)),
                "cache": kv.output_cache(out)}

    def _prenet(self, prenet: Any, sequence: Any, speaker_embeddings: Any, noises: List[Any]) -> Any:
        """``SpeechT5SpeechDecoderPrenet.forward`` with its dropout draw taken from ``noises``:
        ``bernoulli(p)`` is ``uniform < p``; the mask is shared by the batch, kept values scaled."""
        import torch

        p = float(self._config.speech_decoder_prenet_dropout)
        hidden = sequence
        for layer, noise in zip(prenet.layers, noises):
            hidden = torch.nn.functional.relu(layer(hidden))
            hidden = torch.where((noise < p).unsqueeze(0), hidden, 0) * (1 / (1 - p))
        hidden = prenet.encode_positions(prenet.final_layer(hidden))
        speaker = torch.nn.functional.normalize(speaker_embeddings).unsqueeze(1).expand(-1, hidden.size(1), -1)
        return torch.nn.functional.relu(prenet.speaker_embeds_layer(torch.cat([hidden, speaker], dim=-1)))

    def flatten_outputs(self, model_output: Any) -> List[Any]:
        names = [name for name in self.outputs if not name.startswith("present.")]
        flat = [model_output[name] for name in names]
        if self.behavior is ConfigBehavior.DECODER:
            flat.extend(kv.flatten_encoder_decoder_cache(model_output["cache"],
                                                         with_cross_attention=not self.use_past_in_inputs))
        return flat

    def post_process_exported_models(self, output_dir: Any, parts: List[ExportPart], paths: List[Any]) -> List[Any]:
        """Swap the validation-only noise inputs of both decoder graphs for in-graph draws."""
        for part, path in zip(parts, paths):
            if part.config.behavior is ConfigBehavior.DECODER:
                replace_noise_inputs(Path(path), self.noise_names, int(self._config.speech_decoder_prenet_units))
        return paths


def replace_noise_inputs(path: Path, names: List[str], units: int) -> None:
    """Each ``names[i]`` input of (frames, units) becomes ``RandomUniformLike`` over zeros of
    that shape, frames read from ``output_sequence``; seed ``i + 1`` per layer (distinct
    masks per layer, the same draws in every fresh session and in both merged branches)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from ..torch_export import check_model, external_data_file

    model = onnx.load(str(path))
    graph = model.graph
    present = [value for value in graph.input if value.name in names]
    for value in present:
        graph.input.remove(value)
    if not present:
        return
    constants = {f"{NOISE_PREFIX}_{key}": numpy_helper.from_array(np.array(value, dtype=np.int64),
                                                                  f"{NOISE_PREFIX}_{key}")
                 for key, value in (("start", [1]), ("end", [2]), ("units", [units]))}
    graph.initializer.extend(constants.values())
    nodes = [helper.make_node("Shape", ["output_sequence"], [f"{NOISE_PREFIX}_seq_shape"]),
             helper.make_node("Slice", [f"{NOISE_PREFIX}_seq_shape", f"{NOISE_PREFIX}_start", f"{NOISE_PREFIX}_end"],
                              [f"{NOISE_PREFIX}_frames"]),
             helper.make_node("Concat", [f"{NOISE_PREFIX}_frames", f"{NOISE_PREFIX}_units"], [f"{NOISE_PREFIX}_shape"],
                              axis=0),
             helper.make_node("ConstantOfShape", [f"{NOISE_PREFIX}_shape"], [f"{NOISE_PREFIX}_zeros"],
                              value=helper.make_tensor("value", TensorProto.FLOAT, [1], [0.0]))]
    for index, name in enumerate(names):
        nodes.append(helper.make_node("RandomUniformLike", [f"{NOISE_PREFIX}_zeros"], [name], name=f"draw_{name}",
                                      low=0.0, high=1.0, seed=float(index + 1)))
    for node in reversed(nodes):  # before their consumers: keep the node list topologically sorted
        graph.node.insert(0, node)
    external = external_data_file(path)
    if external is not None:
        onnx.save(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True, location=external.name)
    else:
        onnx.save(model, str(path))
    check_model(path)


# Tiny random model for tests: 2 layers, hidden 32, 8 mel bins, reduction factor 2.
TINY_SPEECHT5 = dict(vocab_size=81, hidden_size=32, encoder_layers=2, encoder_attention_heads=4, encoder_ffn_dim=64,
                     decoder_layers=2, decoder_attention_heads=4, decoder_ffn_dim=64, num_mel_bins=8,
                     speech_decoder_prenet_layers=2, speech_decoder_prenet_units=16, speech_decoder_postnet_layers=2,
                     speech_decoder_postnet_units=16, speech_decoder_postnet_kernel=5, speaker_embedding_dim=16,
                     reduction_factor=2, max_speech_positions=128, max_text_positions=64,
                     encoder_max_relative_position=16, pad_token_id=1, bos_token_id=0, eos_token_id=2)

ARCHITECTURES = [
    Arch("speecht5", ("text-to-audio",), SpeechT5OnnxConfig, tiny=TINY_SPEECHT5),
]
