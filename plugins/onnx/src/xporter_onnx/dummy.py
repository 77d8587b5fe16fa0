"""Dummy input generators: tensors to trace and validate a model with.

A config declares ``DUMMY_INPUT_GENERATOR_CLASSES``; for each ONNX input name the first
generator whose ``SUPPORTED_INPUT_NAMES`` contains it produces the tensor. Generators are
built from the normalized config plus the shape keywords of ``generate_dummy_inputs``,
so the same class serves tracing (defaults) and validation (other shapes).

Tensors are built with numpy and converted at the end, which keeps this module free of
framework imports until a tensor is actually requested.
"""

from __future__ import annotations

from typing import Any, Dict, Tuple

import importlib

from xporter import vocabulary


class _LazyModule:
    """Imports numpy on first attribute access: the plugin loads this module just to list
    tasks, and numpy alone costs more than the whole core import."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self._name), attr)


np = _LazyModule("numpy")

# Optimum's defaults and the image-size aliases, shared with the other backends (xporter.vocabulary).
DEFAULT_DUMMY_SHAPES: Dict[str, int] = dict(vocabulary.DEFAULT_SHAPES)
SHAPE_ALIASES = dict(vocabulary.SHAPE_ALIASES)

# dtype names (numpy resolves them lazily); bf16 is applied after conversion to the framework
_FLOAT = {"fp32": "float32", "fp16": "float16", "bf16": "float32"}
_INT = {"int64": "int64", "int32": "int32", "int8": "int8"}


def normalize_shapes(shapes: Dict[str, Any]) -> Dict[str, Any]:
    """Default shapes updated with ``shapes`` (aliases resolved, ``None`` ignored)."""
    result = dict(DEFAULT_DUMMY_SHAPES)
    for key, value in shapes.items():
        if value is not None:
            result[SHAPE_ALIASES.get(key, key)] = value
    return result


def to_framework(array: np.ndarray, framework: str, float_dtype: str = "fp32") -> Any:
    """Convert a numpy array to ``pt`` / ``tf`` / ``np``; bf16 is applied after conversion."""
    if framework == "np":
        return array
    if framework == "pt":
        import torch

        tensor = torch.from_numpy(np.ascontiguousarray(array))
        if float_dtype == "bf16" and tensor.is_floating_point():
            tensor = tensor.to(torch.bfloat16)
        return tensor
    if framework == "tf":
        import tensorflow as tf

        return tf.convert_to_tensor(array)
    raise ValueError(f"unknown framework '{framework}' (use pt, tf or np)")


class DummyInputGenerator:
    """Base class: one generator covers a family of related input names."""

    SUPPORTED_INPUT_NAMES: Tuple[str, ...] = ()

    def __init__(self, task: str, normalized_config: Any, **shapes: Any) -> None:
        self.task = task
        self.normalized_config = normalized_config
        self.shapes = normalize_shapes(shapes)
        self.batch_size = self.shapes["batch_size"]
        self.rng = np.random.default_rng(self.shapes.get("seed", 0))

    def supports_input(self, input_name: str) -> bool:
        return any(input_name.startswith(name) for name in self.SUPPORTED_INPUT_NAMES)

    def generate(self, input_name: str, framework: str = "pt", int_dtype: str = "int64", float_dtype: str = "fp32"):
        raise NotImplementedError

    # helpers ---------------------------------------------------------------------------
    def random_int(self, high: int, shape, int_dtype: str = "int64", low: int = 0) -> np.ndarray:
        return self.rng.integers(low, max(high, low + 1), size=shape).astype(_INT[int_dtype])

    def random_float(self, shape, float_dtype: str = "fp32", low: float = -1.0, high: float = 1.0) -> np.ndarray:
        return self.rng.uniform(low, high, size=shape).astype(_FLOAT[float_dtype])

    def ones(self, shape, int_dtype: str = "int64") -> np.ndarray:
        return np.ones(shape, dtype=_INT[int_dtype])


class DummyTextInputGenerator(DummyInputGenerator):
    """input_ids, attention_mask, token_type_ids, position_ids (with a num_choices axis for multiple-choice)."""

    SUPPORTED_INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids", "position_ids")

    def __init__(self, task: str, normalized_config: Any, **shapes: Any) -> None:
        super().__init__(task, normalized_config, **shapes)
        self.sequence_length = self.shapes["sequence_length"]
        self.num_choices = self.shapes["num_choices"]

    def shape(self) -> tuple:
        if self.task == "multiple-choice":
            return (self.batch_size, self.num_choices, self.sequence_length)
        return (self.batch_size, self.sequence_length)

    def generate(self, input_name, framework="pt", int_dtype="int64", float_dtype="fp32"):
        shape = self.shape()
        if input_name == "input_ids":
            # Stay clear of special ids at the start of the vocabulary and of its very end.
            vocab = int(self.normalized_config.get("vocab_size", 100) or 100)
            array = self.random_int(max(vocab - 1, 4), shape, int_dtype, low=min(3, vocab - 1))
        elif input_name == "attention_mask":
            array = self.ones(shape, int_dtype)
            if self.shapes.get("padding") and shape[-1] > 2:
                # Right padding on every row but the first: validation then proves the
                # graph kept the mask (a trace on an all-ones mask may drop it).
                array[1:, ..., -(shape[-1] // 3):] = 0
        elif input_name == "token_type_ids":
            types = int(self.normalized_config.get("type_vocab_size", 2) or 1)
            array = self.random_int(types, shape, int_dtype)
        else:  # position_ids
            array = np.broadcast_to(np.arange(shape[-1], dtype=_INT[int_dtype]), shape).copy()
        return to_framework(array, framework, float_dtype)


class DummyBboxInputGenerator(DummyInputGenerator):
    """LayoutLM-style ``bbox`` (batch, sequence, 4) with ordered corners in [0, 1000]."""

    SUPPORTED_INPUT_NAMES = ("bbox",)

    def generate(self, input_name, framework="pt", int_dtype="int64", float_dtype="fp32"):
        seq = self.shapes["sequence_length"]
        # two random points per token, sorted per coordinate -> (x0, y0, x1, y1) with x0 <= x1, y0 <= y1
        corners = np.sort(self.random_int(1000, (self.batch_size, seq, 2, 2), int_dtype), axis=2)
        array = corners.reshape(self.batch_size, seq, 4)
        return to_framework(array, framework, float_dtype)


class DummyVisionInputGenerator(DummyInputGenerator):
    """pixel_values (batch, channels, height, width) and pixel_mask.

    The image size comes from the model config when it declares one (position
    embeddings fix it), else from the ``height``/``width`` shape keywords.
    """

    SUPPORTED_INPUT_NAMES = ("pixel_values", "pixel_mask", "bool_masked_pos")

    def __init__(self, task: str, normalized_config: Any, **shapes: Any) -> None:
        super().__init__(task, normalized_config, **shapes)
        config_size = normalized_config.get("image_size", None) if not shapes.get("force_shape") else None
        if config_size is not None and hasattr(normalized_config, "image_hw"):
            self.height, self.width = normalized_config.image_hw()
        else:
            self.height, self.width = self.shapes["height"], self.shapes["width"]
        self.num_channels = int(normalized_config.get("num_channels", None) or self.shapes["num_channels"])

    def generate(self, input_name, framework="pt", int_dtype="int64", float_dtype="fp32"):
        if input_name == "pixel_mask":
            array = self.ones((self.batch_size, self.height, self.width), int_dtype)
        elif input_name == "bool_masked_pos":
            patch = int(self.normalized_config.get("patch_size", 16) or 16)
            n = (self.height // patch) * (self.width // patch)
            array = self.rng.integers(0, 2, size=(self.batch_size, n)).astype(bool)
        else:
            array = self.random_float((self.batch_size, self.num_channels, self.height, self.width), float_dtype)
        return to_framework(array, framework, float_dtype)


class DummyAudioInputGenerator(DummyInputGenerator):
    """Raw waveforms (``input_values``) and log-mel features (``input_features``)."""

    SUPPORTED_INPUT_NAMES = ("input_values", "input_features", "attention_mask")

    def generate(self, input_name, framework="pt", int_dtype="int64", float_dtype="fp32"):
        if input_name == "input_values":
            array = self.random_float((self.batch_size, self.shapes["audio_sequence_length"]), float_dtype)
        elif input_name == "input_features":
            feature_size = int(self.normalized_config.get("feature_size", None) or self.shapes["feature_size"])
            array = self.random_float((self.batch_size, feature_size, self.shapes["nb_max_frames"]), float_dtype)
        else:
            array = self.ones((self.batch_size, self.shapes["audio_sequence_length"]), int_dtype)
        return to_framework(array, framework, float_dtype)


class DummyPastKeyValuesGenerator(DummyInputGenerator):
    """Flat ``past_key_values.{i}.key/value`` of shape (batch, kv_heads, past_length, head_dim).

    Decoder configs use it as is or subclass it (e.g. for multi-query or fused caches).
    ``past_sequence_length`` defaults to ``sequence_length``.
    """

    SUPPORTED_INPUT_NAMES = ("past_key_values",)

    def past_shape(self) -> tuple:
        cfg = self.normalized_config
        past = self.shapes.get("past_sequence_length", self.shapes["sequence_length"])
        return (self.batch_size, int(cfg.num_key_value_heads), int(past), int(cfg.head_dim))

    def generate(self, input_name, framework="pt", int_dtype="int64", float_dtype="fp32"):
        return to_framework(self.random_float(self.past_shape(), float_dtype), framework, float_dtype)


class DummySeq2SeqDecoderTextInputGenerator(DummyTextInputGenerator):
    """decoder_input_ids / decoder_attention_mask and encoder_outputs (last hidden state)."""

    SUPPORTED_INPUT_NAMES = ("decoder_input_ids", "decoder_attention_mask", "encoder_outputs", "encoder_hidden_states")

    def generate(self, input_name, framework="pt", int_dtype="int64", float_dtype="fp32"):
        if input_name in ("encoder_outputs", "encoder_hidden_states"):
            hidden = int(self.normalized_config.hidden_size)
            shape = (self.batch_size, self.shapes.get("encoder_sequence_length", self.sequence_length), hidden)
            return to_framework(self.random_float(shape, float_dtype), framework, float_dtype)
        return super().generate(input_name.replace("decoder_", ""), framework, int_dtype, float_dtype)
