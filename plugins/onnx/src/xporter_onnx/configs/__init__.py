"""Declarative architecture tables, grouped by modality.

Each table module (``text_encoders``, ``vision``, ``audio``, ``multimodal``,
``sentence_transformers``, and the decoders helper's ``decoder`` / ``seq2seq``) exposes
``ARCHITECTURES``: a list of :class:`Arch` rows. A row is data: the model type, its tasks,
the mid-level base class and the class attributes that differ from it. The plugin's
``xporter_register_configs`` hook registers every row; nothing else is needed.

>>> Arch("bert", TEXT_TASKS, TextEncoderOnnxConfig, tiny=TINY_TEXT)
>>> Arch("gpt2", ("text-generation-with-past",), TextDecoderOnnxConfig,
...      attrs=dict(NORMALIZED_CONFIG_CLASS=NormalizedTextConfig.with_args(num_layers="n_layer")))

``base`` may also be a hand-written class (for models needing patching); then ``attrs``
is usually empty. ``tiny`` holds config kwargs for a tiny random model, used by the
test sweep (it is test data, kept next to the row so adding an architecture is one line).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

TABLE_MODULES = ("text_encoders", "vision", "audio", "multimodal", "sentence_transformers", "decoder", "seq2seq",
                 "time_series", "musicgen", "diffusers", "speecht5",
                 # transformers 5 architectures beyond Optimum's list (modules appear as they are written)
                 "decoder_llms", "vlm", "encoder_heads", "vision_heads", "audio_heads", "seq2seq_more")

_CLASS_CACHE: Dict[Tuple[str, str, type], type] = {}


def class_name_for(model_type: str) -> str:
    parts = model_type.replace("-", "_").split("_")
    return "".join(p[:1].upper() + p[1:] for p in parts) + "OnnxConfig"


@dataclass(frozen=True)
class Arch:
    """One architecture: ``model_type`` exported for ``tasks`` with ``base`` + ``attrs``."""

    model_type: str
    tasks: Tuple[str, ...]
    base: type
    attrs: Dict[str, Any] = field(default_factory=dict)
    library: str = "transformers"
    tiny: Optional[Dict[str, Any]] = None
    model_class: Optional[str] = None  # transformers config class name when not the model type's default

    @property
    def config_class(self) -> type:
        """The concrete config class, e.g. ``BertOnnxConfig``: a subclass of ``base`` carrying ``attrs``."""
        if not self.attrs and not self.base.__module__.endswith(".modalities"):
            return self.base  # a hand-written, architecture-specific class
        key = (self.library, self.model_type, self.base)
        cls = _CLASS_CACHE.get(key)
        if cls is None:
            cls = type(class_name_for(self.model_type), (self.base,), {**self.attrs, "__module__": __name__})
            _CLASS_CACHE[key] = cls
        return cls


def all_architectures() -> List[Arch]:
    """Rows of every table module present (``decoder``/``seq2seq`` may not exist yet)."""
    rows: List[Arch] = []
    for name in TABLE_MODULES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{name}":
                continue
            raise
        rows.extend(getattr(module, "ARCHITECTURES", ()))
    return rows


def find_arch(model_type: str, library: str = "transformers") -> Optional[Arch]:
    wanted = model_type.replace("_", "-").lower()
    for row in all_architectures():
        if row.library == library and row.model_type.replace("_", "-").lower() == wanted:
            return row
    return None
