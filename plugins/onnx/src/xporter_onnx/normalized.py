"""Uniform attribute names over heterogeneous transformers configs.

Architectures spell the same idea differently (``hidden_size`` / ``d_model`` / ``n_embd``,
``num_hidden_layers`` / ``n_layer`` ...). A config class reads everything through a
:class:`NormalizedConfig`, so one ONNX config class serves many architectures: an
architecture whose names differ declares a mapping with :meth:`NormalizedConfig.with_args`
in its table row instead of getting its own class.

Mapped values may be dotted paths into nested configs (``"text_config.hidden_size"``).
"""

from __future__ import annotations

from typing import Any, Dict

_MISSING = object()


class NormalizedConfig:
    """Read a transformers config through canonical attribute names.

    Canonical names are looked up, in order: the class-level mapping (``HIDDEN_SIZE =
    "d_model"``), then the canonical name itself on the wrapped config.
    """

    # canonical name -> attribute path on the wrapped config
    HIDDEN_SIZE = "hidden_size"
    NUM_LAYERS = "num_hidden_layers"
    NUM_ATTENTION_HEADS = "num_attention_heads"
    VOCAB_SIZE = "vocab_size"
    NUM_KEY_VALUE_HEADS = "num_key_value_heads"
    HEAD_DIM = "head_dim"
    IMAGE_SIZE = "image_size"
    NUM_CHANNELS = "num_channels"
    TYPE_VOCAB_SIZE = "type_vocab_size"
    MAX_POSITION_EMBEDDINGS = "max_position_embeddings"
    NUM_LABELS = "num_labels"

    def __init__(self, config: Any, allow_new: bool = False, **overrides: Any) -> None:
        self.config = config
        self._overrides: Dict[str, Any] = dict(overrides)

    @classmethod
    def with_args(cls, allow_new: bool = False, **mapping: str) -> type:
        """A subclass whose canonical names map to other attribute paths.

        >>> GPT2Normalized = NormalizedConfig.with_args(num_layers="n_layer", hidden_size="n_embd")
        """
        attrs = {key.upper(): value for key, value in mapping.items()}
        return type(f"{cls.__name__}Custom", (cls,), attrs)

    @staticmethod
    def _resolve(obj: Any, path: str) -> Any:
        for part in path.split("."):
            if obj is None:
                return _MISSING
            obj = obj.get(part, _MISSING) if isinstance(obj, dict) else getattr(obj, part, _MISSING)
            if obj is _MISSING:
                return _MISSING
        return obj

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return getattr(self, name)
        except AttributeError:
            return default

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name == "config":
            raise AttributeError(name)
        overrides = self.__dict__.get("_overrides", {})
        if name in overrides:
            return overrides[name]
        path = getattr(type(self), name.upper(), None)
        fallback = getattr(self, f"_fallback_{name}", None)
        # a stored None (e.g. MistralConfig.head_dim on transformers 4.57) means "derive it"
        unusable = (_MISSING, None) if fallback is not None else (_MISSING,)
        if isinstance(path, str):
            value = self._resolve(self.config, path)
            if not any(value is u for u in unusable):
                return value
        value = self._resolve(self.config, name)
        if not any(value is u for u in unusable):
            return value
        if fallback is not None:
            return fallback()
        raise AttributeError(f"{type(self.config).__name__} has no attribute '{path or name}' (normalized '{name}')")

    # Derived values used when a config does not store them.
    def _fallback_num_key_value_heads(self) -> int:
        return self.num_attention_heads

    def _fallback_head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    def _fallback_num_channels(self) -> int:
        return 3


class NormalizedTextConfig(NormalizedConfig):
    """Text models: the defaults above."""


class NormalizedVisionConfig(NormalizedConfig):
    """Vision models; ``image_size`` may be an int or a (height, width) pair."""

    def image_hw(self, default: int = 64) -> tuple:
        size = self.get("image_size", None)
        if size is None:
            return default, default
        if isinstance(size, (list, tuple)):
            return int(size[0]), int(size[-1])
        if isinstance(size, dict):
            return int(size.get("height", default)), int(size.get("width", default))
        return int(size), int(size)


class NormalizedTextAndVisionConfig(NormalizedTextConfig, NormalizedVisionConfig):
    """CLIP-like models: text fields under ``text_config``, vision fields under ``vision_config``."""

    HIDDEN_SIZE = "text_config.hidden_size"
    NUM_LAYERS = "text_config.num_hidden_layers"
    NUM_ATTENTION_HEADS = "text_config.num_attention_heads"
    VOCAB_SIZE = "text_config.vocab_size"
    MAX_POSITION_EMBEDDINGS = "text_config.max_position_embeddings"
    IMAGE_SIZE = "vision_config.image_size"
    NUM_CHANNELS = "vision_config.num_channels"


class NormalizedSeq2SeqConfig(NormalizedTextConfig):
    """Encoder-decoder models; decoder-side names default to the shared ones."""

    ENCODER_NUM_LAYERS = "num_hidden_layers"
    DECODER_NUM_LAYERS = "num_hidden_layers"
    ENCODER_NUM_ATTENTION_HEADS = "num_attention_heads"
    DECODER_NUM_ATTENTION_HEADS = "num_attention_heads"


class NormalizedAudioConfig(NormalizedConfig):
    """Speech models (``num_mel_bins`` for log-mel inputs)."""

    FEATURE_SIZE = "num_mel_bins"
