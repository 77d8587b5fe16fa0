"""Declarative architecture tables, grouped by modality, and the named config classes they make.

Each table module (``text_encoders``, ``vision``, ``audio``, ``multimodal``,
``sentence_transformers``, ``decoder``, ``seq2seq`` ... listed in :data:`TABLE_MODULES`) exposes
``ARCHITECTURES``: a list of :class:`Arch` rows. A row is data: the model type, its tasks,
the mid-level base class and the class attributes that differ from it. The plugin's
``xporter_register_configs`` hook registers every row; nothing else is needed.

>>> Arch("bert", TEXT_TASKS, TextEncoderOnnxConfig, tiny=TINY_TEXT)
>>> Arch("gpt2", ("text-generation-with-past",), TextDecoderOnnxConfig,
...      attrs=dict(NORMALIZED_CONFIG_CLASS=NormalizedTextConfig.with_args(num_layers="n_layer")))

Every row is one class, importable by name from this package, as in Optimum::

    from xporter_onnx.configs import BertOnnxConfig

    class MyBertOnnxConfig(BertOnnxConfig): ...

``BertOnnxConfig`` is the very class the registry hands out
(``TasksManager.get_exporter_config_constructor("onnx", model_type="bert", ...)``). Its name is
``Arch.name`` when a row sets one, else :func:`default_class_name`: the transformers config class
of the model type with ``Config`` -> ``OnnxConfig`` (``GPT2Config`` -> ``GPT2OnnxConfig``), or
Optimum's name where Optimum spelled it otherwise; the spellings are data in :mod:`.class_names`.
The classes are built on first use (module ``__getattr__``), so ``import xporter_onnx.configs``
imports no table and no framework.

``base`` may also be a hand-written class (for models needing patching); with empty ``attrs``
it is used as is when its name is the row's, else a subclass carrying the row's name is made.
``tiny`` holds config kwargs for a tiny random model, used by the test sweep (test data kept
next to the row so adding an architecture is one line).
"""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

TABLE_MODULES = ("text_encoders", "vision", "audio", "multimodal", "sentence_transformers", "decoder", "seq2seq",
                 "time_series", "musicgen", "diffusers", "speecht5",
                 # transformers 5 architectures beyond Optimum's list (modules appear as they are written)
                 "decoder_llms", "hybrid_decoders", "vlm", "qwen_vl", "encoder_heads", "vision_heads", "towers", "audio_heads",
                 "seq2seq_more", "decoder_recent", "vlm_more", "encoders_more", "seq2seq_recent")
SUFFIX = "OnnxConfig"
# Helpers defined here; every other public name of this package is a config class.
_HELPERS = ["Arch", "TABLE_MODULES", "all_architectures", "config_classes", "default_class_name", "find_arch",
            "name_collisions"]

_CLASS_CACHE: Dict[Tuple[str, str, type, str], type] = {}
_LOCK = threading.RLock()


def _capitalized(model_type: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in model_type.replace("-", "_").split("_"))


def default_class_name(model_type: str, library: str = "transformers", model_class: Optional[str] = None,
                       role: str = "") -> str:
    """The config class name of a row that sets no ``name``.

    ``model_class`` (a transformers config class name such as ``"SiglipTextConfig"``) names rows of
    pseudo types; ``role`` distinguishes a second class of the same model type
    (``role="ForCausalLM"`` -> ``BartForCausalLMOnnxConfig``).
    """
    from .class_names import EXPLICIT_NAMES, TRANSFORMERS_SPELLINGS

    explicit = EXPLICIT_NAMES.get((library, model_type))
    if explicit is not None:
        stem = explicit[: -len(SUFFIX)]
    elif model_class:
        stem = model_class[: -len("Config")] if model_class.endswith("Config") else model_class
    else:
        spellings = (TRANSFORMERS_SPELLINGS.get(key) for key in
                     (model_type, model_type.replace("-", "_"), model_type.replace("_", "-")))
        stem = next((s for s in spellings if s), None) or _capitalized(model_type)
    return f"{stem}{role}{SUFFIX}"


@dataclass(frozen=True)
class Arch:
    """One architecture: ``model_type`` exported for ``tasks`` with ``base`` + ``attrs``, as class ``name``."""

    model_type: str
    tasks: Tuple[str, ...]
    base: type
    attrs: Dict[str, Any] = field(default_factory=dict)
    library: str = "transformers"
    tiny: Optional[Dict[str, Any]] = None
    model_class: Optional[str] = None  # transformers config class name when not the model type's default
    name: Optional[str] = None  # the config class name; None: default_class_name(model_type, library, model_class)

    @property
    def class_name(self) -> str:
        return self.name or default_class_name(self.model_type, self.library, self.model_class)

    @property
    def config_class(self) -> type:
        """The concrete config class, e.g. ``BertOnnxConfig``: a subclass of ``base`` carrying ``attrs``."""
        name = self.class_name
        if not self.attrs and not self.base.__module__.endswith(".modalities") and self.base.__name__ == name:
            return self.base  # a hand-written, architecture-specific class of that name
        key = (self.library, self.model_type, self.base, name)
        with _LOCK:
            cls = _CLASS_CACHE.get(key)
            if cls is None:
                namespace = {**self.attrs, "__module__": __name__, "__qualname__": name,
                             "__doc__": f"ONNX export config of {self.library} ``{self.model_type}`` "
                                        f"(tasks: {', '.join(self.tasks)}); built from "
                                        f"{self.base.__module__}.{self.base.__qualname__}."}
                cls = type(name, (self.base,), namespace)
                _CLASS_CACHE[key] = cls
        return cls


def all_architectures() -> List[Arch]:
    """Rows of every table module present (modules listed in TABLE_MODULES may not exist yet)."""
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


def _classes_and_collisions() -> Tuple[Dict[str, type], Dict[str, List[Arch]]]:
    classes: Dict[str, type] = {}
    owners: Dict[str, List[Arch]] = {}
    for row in all_architectures():
        cls = row.config_class
        owners.setdefault(cls.__name__, []).append(row)
        classes.setdefault(cls.__name__, cls)
    collisions = {name: rows for name, rows in owners.items()
                  if len({id(row.config_class) for row in rows}) > 1}
    return classes, collisions


def config_classes() -> Dict[str, type]:
    """Every registered architecture's config class by name (``"BertOnnxConfig"`` -> class)."""
    return _classes_and_collisions()[0]


def name_collisions() -> Dict[str, List[Arch]]:
    """Class names that two rows with different classes share (a table error; the test suite fails on it)."""
    return _classes_and_collisions()[1]


def __getattr__(name: str) -> Any:
    """``from xporter_onnx.configs import BertOnnxConfig``: the class, built from the tables on first use."""
    if name == "__all__":
        return _HELPERS + sorted(config_classes())
    if name.endswith(SUFFIX):
        cls = config_classes().get(name)
        if cls is not None:
            return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(config_classes()))
