"""SpeechT5 speech synthesis driven by ONNX Runtime alone (numpy, no torch, no transformers).

The proof that a ``text-to-audio`` export of SpeechT5 (:mod:`xporter_onnx.configs.speecht5`)
is usable the way transformers.js drives Optimum's layout: ``encoder_model.onnx`` once, then
one decoder step per ``reduction_factor`` frames (``decoder_model.onnx`` for the first step,
``decoder_with_past_model.onnx`` after it, or ``decoder_model_merged.onnx`` for both) until
the stop probability reaches ``threshold`` or ``maxlenratio`` ends it, then
``decoder_postnet_and_vocoder.onnx`` on the concatenated spectra. Stopping follows
transformers' ``generate_speech`` for one utterance (the layout's batch size).

``decoder_with_past_model.onnx`` lists ``encoder_outputs`` only where the transformers version
that exported it reads it there (5.x; 4.57 uses the cross-attention cache alone), so feeds are
filtered to the inputs each session declares.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

import numpy as np

from .generation import PathOrSession, _empty_past, _present_to_past, open_session


@dataclass
class Speech:
    """``spectrogram``: the decoder's spectra before the postnet, (steps * reduction_factor,
    num_mel_bins); ``waveform``: the vocoder's output; ``stop_probabilities``: (steps,
    reduction_factor), the ``prob`` output of every step."""

    spectrogram: np.ndarray
    waveform: np.ndarray
    stop_probabilities: np.ndarray

    @property
    def steps(self) -> int:
        return int(self.stop_probabilities.shape[0])


class OnnxSpeechT5Synthesizer:
    """>>> Speech = OnnxSpeechT5Synthesizer.from_folder("out").synthesize(ids, speaker_embedding)"""

    def __init__(self, encoder: PathOrSession, decoder: PathOrSession, decoder_with_past: Optional[PathOrSession],
                 postnet_and_vocoder: PathOrSession, providers: Optional[Sequence[str]] = None):
        self.encoder = open_session(encoder, providers)
        self.decoder = open_session(decoder, providers)
        self.decoder_with_past = open_session(decoder_with_past, providers) if decoder_with_past is not None else None
        self.postnet_and_vocoder = open_session(postnet_and_vocoder, providers)
        self.merged = any(i.name == "use_cache_branch" for i in self.decoder.get_inputs())

    @classmethod
    def from_folder(cls, folder: Any, merged: bool = False, providers: Optional[Sequence[str]] = None):
        folder = Path(folder)
        if merged:
            return cls(folder / "encoder_model.onnx", folder / "decoder_model_merged.onnx", None,
                       folder / "decoder_postnet_and_vocoder.onnx", providers)
        return cls(folder / "encoder_model.onnx", folder / "decoder_model.onnx", folder / "decoder_with_past_model.onnx",
                   folder / "decoder_postnet_and_vocoder.onnx", providers)

    def synthesize(self, input_ids: np.ndarray, speaker_embeddings: np.ndarray, threshold: float = 0.5,
                   minlenratio: float = 0.0, maxlenratio: float = 20.0) -> Speech:
        """``input_ids`` (1, tokens), ``speaker_embeddings`` (1, speaker_embedding_dim)."""
        encoder_outputs, encoder_mask = self.encoder.run(None, {"input_ids": np.asarray(input_ids, dtype=np.int64)})
        num_mel_bins = int(self.decoder.get_inputs()[0].shape[2])
        maxlen_frames, minlen_frames = encoder_outputs.shape[1] * maxlenratio, encoder_outputs.shape[1] * minlenratio
        sequence = np.zeros((1, 1, num_mel_bins), dtype=np.float32)
        spectra, probs = [], []
        past: Dict[str, np.ndarray] = {}
        step = 0
        while True:
            step += 1
            feed = {"output_sequence": sequence, "speaker_embeddings": np.asarray(speaker_embeddings, np.float32),
                    "encoder_outputs": encoder_outputs, "encoder_attention_mask": encoder_mask}
            session = self.decoder if step == 1 or self.decoder_with_past is None else self.decoder_with_past
            if self.merged:
                feed.update(past or _empty_past(session, 1))
                feed["use_cache_branch"] = np.array([step > 1])
            elif step > 1:
                feed.update(past)
            names = [o.name for o in session.get_outputs()]
            takes = {i.name for i in session.get_inputs()}  # the exporter drops inputs a graph never reads
            outputs = dict(zip(names, session.run(None, {k: v for k, v in feed.items() if k in takes})))
            past = {**past, **_present_to_past(names, [outputs[n] for n in names])}
            sequence, spectrum, prob = outputs["output_sequence_out"], outputs["spectrum"], outputs["prob"]
            spectra.append(spectrum)
            probs.append(prob)
            reduction = spectrum.shape[0]
            # generate_speech: maxlen / minlen count decoder steps, from the encoder length
            if step < int(minlen_frames / reduction):
                continue
            if step >= int(maxlen_frames / reduction) or float(np.sum(prob)) >= threshold:
                break
        spectrogram = np.concatenate(spectra, axis=0)
        (waveform,) = self.postnet_and_vocoder.run(None, {"spectrogram": spectrogram})
        return Speech(spectrogram, waveform, np.stack(probs))
