"""Greedy decoding driven by ONNX Runtime alone (numpy, no torch, no transformers).

These runners are the proof that an exported folder is usable for generation the way
ONNX Runtime loops, transformers.js or ORTModel use it: they read only the graphs' input
and output names (Optimum's), create the empty cache from the graphs' declared shapes,
and feed ``present.*`` back as ``past_key_values.*``.

* :class:`OnnxDecoderGreedy` -- one decoder graph (``model.onnx`` of
  ``text-generation-with-past``), prefill with past length 0, then one token per step.
* :class:`OnnxSeq2SeqGreedy` -- ``encoder_model.onnx`` + ``decoder_model.onnx``
  (+ ``decoder_with_past_model.onnx``): text, speech (input_features) or image
  (pixel_values) encoders alike.
* :class:`OnnxVisionLanguageGreedy` -- a vision-language split (``vision_encoder.onnx``,
  ``embed_tokens.onnx``, ``decoder_model_merged.onnx`` taking ``inputs_embeds``): the image
  features replace the prompt's placeholder tokens, then the decoder loop above runs on
  embeddings.

All stop when every sequence produced ``eos_token_id`` (finished rows are padded with
``pad_token_id``, as ``transformers.generate`` does) or after ``max_new_tokens``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

import numpy as np

from .merge import past_input_for

PathOrSession = Union[str, Path, Any]

_NUMPY_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
                "tensor(int64)": np.int64, "tensor(int32)": np.int32}


def open_session(model: PathOrSession, providers: Optional[Sequence[str]] = None) -> Any:
    """An ``onnxruntime.InferenceSession`` for a path (or the session itself)."""
    if not isinstance(model, (str, Path)):
        return model
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(str(model), options, providers=list(providers or ["CPUExecutionProvider"]))


def _empty_past(session: Any, batch_size: int, lengths: Optional[Dict[str, int]] = None,
                prefixes: Sequence[str] = ("past_key_values.",)) -> Dict[str, np.ndarray]:
    """Zero cache tensors for every input of ``session`` whose name starts with one of ``prefixes``.

    Static dims (heads, head_dim; a state's width) come from the graph; the batch axis is
    ``batch_size`` and every other symbolic axis is 0 (the past length) unless ``lengths`` names it.
    """
    past = {}
    for arg in session.get_inputs():
        if not arg.name.startswith(tuple(prefixes)):
            continue
        shape = []
        for axis, dim in enumerate(arg.shape):
            if isinstance(dim, int):
                shape.append(dim)
            elif axis == 0:
                shape.append(batch_size)
            else:
                shape.append((lengths or {}).get(dim, 0))
        past[arg.name] = np.zeros(shape, dtype=_NUMPY_TYPES.get(arg.type, np.float32))
    return past


def _present_to_past(names: Sequence[str], outputs: Sequence[np.ndarray]) -> Dict[str, np.ndarray]:
    return {past_input_for(name): value for name, value in zip(names, outputs) if name.startswith("present.")}


def _int_type(session: Any, name: str) -> Any:
    for arg in session.get_inputs():
        if arg.name == name:
            return _NUMPY_TYPES.get(arg.type, np.int64)
    return np.int64


class _GreedyState:
    """Token bookkeeping shared by both runners: argmax, eos handling, padding."""

    def __init__(self, eos_token_id: Optional[Union[int, Sequence[int]]], pad_token_id: Optional[int], batch: int):
        if eos_token_id is None:
            self.eos: List[int] = []
        else:
            self.eos = [eos_token_id] if isinstance(eos_token_id, int) else list(eos_token_id)
        self.pad = pad_token_id if pad_token_id is not None else (self.eos[0] if self.eos else 0)
        self.finished = np.zeros(batch, dtype=bool)

    def next_tokens(self, logits: np.ndarray) -> np.ndarray:
        tokens = np.argmax(logits[:, -1, :], axis=-1).astype(np.int64)
        tokens = np.where(self.finished, self.pad, tokens)
        if self.eos:
            self.finished |= np.isin(tokens, self.eos)
        return tokens

    @property
    def done(self) -> bool:
        return bool(self.eos) and bool(self.finished.all())


class OnnxDecoderGreedy:
    """Greedy generation with a decoder-only graph that takes and returns the cache.

    >>> runner = OnnxDecoderGreedy("out/model.onnx")
    >>> tokens = runner.generate(np.array([[5, 6, 7]]), max_new_tokens=12)
    """

    def __init__(self, model: PathOrSession, providers: Optional[Sequence[str]] = None,
                 embed_tokens: Optional[PathOrSession] = None):
        self.session = open_session(model, providers)
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]
        if not any(n.startswith("past_key_values.") for n in self.input_names):
            raise ValueError("this graph takes no past_key_values; export with --task text-generation-with-past")
        self.embed_tokens = open_session(embed_tokens, providers) if embed_tokens is not None else None
        if "inputs_embeds" in self.input_names and self.embed_tokens is None:
            raise ValueError("this decoder takes inputs_embeds: pass embed_tokens= (the embed_tokens.onnx graph)")

    def embed(self, input_ids: np.ndarray) -> np.ndarray:
        """Token embeddings from ``embed_tokens.onnx``."""
        ids = input_ids.astype(_int_type(self.embed_tokens, "input_ids"))
        return self.embed_tokens.run(["inputs_embeds"], {"input_ids": ids})[0]

    def _token_feed(self, step_ids: np.ndarray, prompt_embeds: Optional[np.ndarray]) -> Dict[str, np.ndarray]:
        if "inputs_embeds" not in self.input_names:
            return {"input_ids": step_ids.astype(_int_type(self.session, "input_ids"))}
        return {"inputs_embeds": prompt_embeds if prompt_embeds is not None else self.embed(step_ids)}

    def generate(self, input_ids: np.ndarray, attention_mask: Optional[np.ndarray] = None, max_new_tokens: int = 20,
                 eos_token_id: Optional[Union[int, Sequence[int]]] = None,
                 pad_token_id: Optional[int] = None, inputs_embeds: Optional[np.ndarray] = None,
                 token_type_ids: Optional[np.ndarray] = None,
                 step_inputs: Optional[Callable[[int, np.ndarray, int], Dict[str, np.ndarray]]] = None) -> np.ndarray:
        """Prompt plus up to ``max_new_tokens`` greedy tokens, shape (batch, prompt + new).

        ``inputs_embeds`` (a decoder taking embeddings only) replaces the prompt's token
        embeddings on the first step, e.g. with image features merged in; ``token_type_ids``
        (a decoder that takes them: Gemma 3's image blocks) are the prompt's, new tokens get 0.
        ``step_inputs(step, attention_mask, new_tokens)`` returns inputs by name that replace or
        add to the step's feed, for graphs whose inputs this loop cannot derive (Qwen-VL's 3-row
        M-RoPE ``position_ids``, Qwen3-VL's ``deepstack_embeds``)."""
        input_ids = np.asarray(input_ids, dtype=np.int64)
        batch = input_ids.shape[0]
        mask = np.ones_like(input_ids) if attention_mask is None else np.asarray(attention_mask, dtype=np.int64)
        state = _GreedyState(eos_token_id, pad_token_id, batch)
        past = _empty_past(self.session, batch)
        step_ids, sequences = input_ids, input_ids
        for step in range(max_new_tokens):
            prompt = step == 0
            feed: Dict[str, np.ndarray] = dict(past)
            feed.update(self._token_feed(step_ids, inputs_embeds if prompt else None))
            if "token_type_ids" in self.input_names:
                types = token_type_ids if prompt and token_type_ids is not None else np.zeros_like(step_ids)
                feed["token_type_ids"] = np.asarray(types).astype(_int_type(self.session, "token_type_ids"))
            if "attention_mask" in self.input_names:
                feed["attention_mask"] = mask.astype(_int_type(self.session, "attention_mask"))
            if "position_ids" in self.input_names:
                # Left padding: positions count real tokens only (what transformers does).
                positions = np.cumsum(mask, axis=-1) - 1
                positions = np.where(mask == 0, 1, positions)[:, -step_ids.shape[1]:]
                feed["position_ids"] = positions.astype(_int_type(self.session, "position_ids"))
            for name, value in (step_inputs(step, mask, step_ids.shape[1]) if step_inputs else {}).items():
                value = np.asarray(value)
                feed[name] = value.astype(_int_type(self.session, name)) if value.dtype.kind in "iu" else value
            outputs = self.session.run(None, feed)
            tokens = state.next_tokens(outputs[self.output_names.index("logits")])
            sequences = np.concatenate([sequences, tokens[:, None]], axis=1)
            if state.done:
                break
            past = _present_to_past(self.output_names, outputs)
            step_ids = tokens[:, None]
            mask = np.concatenate([mask, np.ones((batch, 1), dtype=mask.dtype)], axis=1)
        return sequences


class MergedDecoderBranch:
    """One branch of ``decoder_model_merged.onnx`` behaving like a plain decoder session:
    it sets ``use_cache_branch`` and, on the first step, feeds zero-length past tensors."""

    def __init__(self, session: Any, use_cache: bool):
        self.session, self.use_cache = session, use_cache

    def get_inputs(self):
        skip = ("use_cache_branch",) if self.use_cache else ("use_cache_branch", "past_key_values.")
        return [i for i in self.session.get_inputs() if not i.name.startswith(skip)]

    def get_outputs(self):
        return self.session.get_outputs()

    def run(self, names, feed):
        feed = dict(feed, use_cache_branch=np.array([self.use_cache]))
        if not self.use_cache:
            feed.update(_empty_past(self.session, next(iter(feed.values())).shape[0]))
        return self.session.run(names, feed)


class OnnxSeq2SeqGreedy:
    """Greedy generation with encoder + decoder (+ decoder-with-past) graphs.

    ``encoder_inputs`` are fed by name to the encoder (``input_ids``/``attention_mask``,
    ``input_features`` or ``pixel_values``); an ``attention_mask`` among them also goes to
    the decoder as ``encoder_attention_mask`` when the decoder graph takes it. Without a
    decoder-with-past graph, every step re-runs the decoder on the whole prefix.

    >>> runner = OnnxSeq2SeqGreedy.from_folder("out/")
    >>> tokens = runner.generate({"input_ids": ids, "attention_mask": mask}, decoder_start_token_id=0)
    """

    def __init__(self, encoder: PathOrSession, decoder: PathOrSession, decoder_with_past: Optional[PathOrSession] = None,
                 providers: Optional[Sequence[str]] = None):
        self.encoder = open_session(encoder, providers)
        self.decoder = open_session(decoder, providers)
        self.decoder_with_past = open_session(decoder_with_past, providers) if decoder_with_past is not None else None

    @classmethod
    def from_folder(cls, folder: Union[str, Path], providers: Optional[Sequence[str]] = None,
                    use_past: bool = True, merged: bool = False) -> "OnnxSeq2SeqGreedy":
        """``merged=True`` decodes with ``decoder_model_merged.onnx`` alone (both steps)."""
        folder = Path(folder)
        if merged:
            session = open_session(folder / "decoder_model_merged.onnx", providers)
            return cls(folder / "encoder_model.onnx", MergedDecoderBranch(session, False),
                       MergedDecoderBranch(session, True), providers)
        with_past = folder / "decoder_with_past_model.onnx"
        return cls(folder / "encoder_model.onnx", folder / "decoder_model.onnx",
                   with_past if use_past and with_past.exists() else None, providers)

    def encode(self, encoder_inputs: Dict[str, np.ndarray]) -> np.ndarray:
        names = [i.name for i in self.encoder.get_inputs()]
        missing = [n for n in names if n not in encoder_inputs]
        if missing:
            raise ValueError(f"encoder inputs missing: {missing}")
        return self.encoder.run(["last_hidden_state"], {n: np.asarray(encoder_inputs[n]) for n in names})[0]

    @staticmethod
    def _decoder_feed(session: Any, ids: np.ndarray, hidden: np.ndarray, mask: Optional[np.ndarray]) -> Dict[str, Any]:
        names = [i.name for i in session.get_inputs()]
        feed: Dict[str, Any] = {"input_ids": ids.astype(_int_type(session, "input_ids")),
                                "encoder_hidden_states": hidden}
        if "encoder_attention_mask" in names:
            if mask is None:
                mask = np.ones(hidden.shape[:2], dtype=np.int64)
            feed["encoder_attention_mask"] = mask.astype(_int_type(session, "encoder_attention_mask"))
        return feed

    def generate(self, encoder_inputs: Dict[str, np.ndarray], decoder_start_token_id: int, max_new_tokens: int = 20,
                 eos_token_id: Optional[Union[int, Sequence[int]]] = None, pad_token_id: Optional[int] = None,
                 decoder_input_ids: Optional[np.ndarray] = None) -> np.ndarray:
        """Decoder tokens, shape (batch, 1 + new) starting with ``decoder_start_token_id``
        (or the given ``decoder_input_ids`` prefix, e.g. Whisper's forced tokens)."""
        hidden = self.encode(encoder_inputs)
        batch = hidden.shape[0]
        mask = encoder_inputs.get("attention_mask")
        if decoder_input_ids is None:
            decoder_input_ids = np.full((batch, 1), decoder_start_token_id, dtype=np.int64)
        sequences = np.asarray(decoder_input_ids, dtype=np.int64)
        state = _GreedyState(eos_token_id, pad_token_id, batch)
        out_names = [o.name for o in self.decoder.get_outputs()]
        outputs = self.decoder.run(None, self._decoder_feed(self.decoder, sequences, hidden, mask))
        past = _present_to_past(out_names, outputs)
        logits = outputs[out_names.index("logits")]
        for step in range(max_new_tokens):
            tokens = state.next_tokens(logits)
            sequences = np.concatenate([sequences, tokens[:, None]], axis=1)
            if state.done or step == max_new_tokens - 1:
                break
            if self.decoder_with_past is None:
                outputs = self.decoder.run(None, self._decoder_feed(self.decoder, sequences, hidden, mask))
                logits = outputs[out_names.index("logits")]
                continue
            feed = self._decoder_feed(self.decoder_with_past, tokens[:, None], hidden, mask)
            wanted = {i.name for i in self.decoder_with_past.get_inputs()}
            feed.update({k: v for k, v in past.items() if k in wanted})
            feed = {k: v for k, v in feed.items() if k in wanted}
            with_past_names = [o.name for o in self.decoder_with_past.get_outputs()]
            outputs = self.decoder_with_past.run(None, feed)
            past.update(_present_to_past(with_past_names, outputs))  # cross-attention entries stay
            logits = outputs[with_past_names.index("logits")]
        return sequences


class OnnxVisionLanguageGreedy:
    """Greedy generation from an image and a prompt with the vision-language split.

    The prompt holds one ``image_token_id`` per image feature row (what the model's processor
    writes); ``image_inputs`` are the vision encoder's inputs by name (``pixel_values``, and
    e.g. ``pixel_attention_mask``).

    >>> runner = OnnxVisionLanguageGreedy.from_folder("out/")
    >>> tokens = runner.generate(ids, {"pixel_values": pixels}, image_token_id=32000)
    """

    def __init__(self, vision_encoder: PathOrSession, embed_tokens: PathOrSession, decoder: PathOrSession,
                 providers: Optional[Sequence[str]] = None):
        self.vision = open_session(vision_encoder, providers)
        self.decoder = OnnxDecoderGreedy(decoder, providers, embed_tokens=embed_tokens)

    @classmethod
    def from_folder(cls, folder: Union[str, Path],
                    providers: Optional[Sequence[str]] = None) -> "OnnxVisionLanguageGreedy":
        folder = Path(folder)
        if not (folder / "decoder_model_merged.onnx").exists() and (folder / "onnx").is_dir():
            folder = folder / "onnx"  # the transformers.js layout
        return cls(folder / "vision_encoder.onnx", folder / "embed_tokens.onnx", folder / "decoder_model_merged.onnx",
                   providers)

    def prompt_embeds(self, input_ids: np.ndarray, image_inputs: Dict[str, np.ndarray],
                      image_token_id: int) -> np.ndarray:
        """The prompt's embeddings with the image features in the placeholder positions, in order."""
        names = [i.name for i in self.vision.get_inputs()]
        missing = [n for n in names if n not in image_inputs]
        if missing:
            raise ValueError(f"vision encoder inputs missing: {missing}")
        features = self.vision.run(["image_features"], {n: np.asarray(image_inputs[n]) for n in names})[0]
        embeds = self.decoder.embed(input_ids).copy()
        slots = input_ids == image_token_id
        if int(slots.sum()) != features.shape[0]:
            raise ValueError(f"the prompt has {int(slots.sum())} image tokens but the images give "
                             f"{features.shape[0]} feature rows")
        embeds[slots] = features.reshape(-1, embeds.shape[-1]).astype(embeds.dtype)
        return embeds

    def generate(self, input_ids: np.ndarray, image_inputs: Dict[str, np.ndarray], image_token_id: int,
                 attention_mask: Optional[np.ndarray] = None, max_new_tokens: int = 20,
                 eos_token_id: Optional[Union[int, Sequence[int]]] = None,
                 pad_token_id: Optional[int] = None, token_type_ids: Optional[np.ndarray] = None) -> np.ndarray:
        """Prompt plus up to ``max_new_tokens`` greedy tokens, shape (batch, prompt + new).

        ``token_type_ids`` go to decoders that take them, as the model's processor writes them
        (PaliGemma: 0 on the image + prompt prefix); the default, 1 on image tokens, is Gemma 3's."""
        input_ids = np.asarray(input_ids, dtype=np.int64)
        embeds = self.prompt_embeds(input_ids, image_inputs, image_token_id)
        types = (input_ids == image_token_id).astype(np.int64) if token_type_ids is None else token_type_ids
        return self.decoder.generate(input_ids, attention_mask, max_new_tokens, eos_token_id, pad_token_id,
                                     inputs_embeds=embeds, token_type_ids=types)
