"""What one export is asked to do: frozen option objects, the contract between a CLI and an exporter.

Every exporter (``ExporterSpec.target``) is called as ``function(model, output, options, progress)``
and returns the report dict. ``options`` is one of the classes below, built once (by a CLI from its
flags, or by a Python API from its keywords) and never changed on the way down: a function that
needs a variant makes one with :meth:`ExportOptions.replace`. That is why argparse objects and
long keyword lists stop at the CLI, and why two plugins can share one exporter contract without
importing each other.

* :class:`ExportOptions`: what every backend understands (task, framework, tolerance, cache,
  safety switches, dummy/static shapes).
* :class:`OnnxExportOptions`: the options of any exporter whose product is ONNX. Two plugins
  implement that contract (PyTorch in ``xporter-onnx``, TensorFlow in ``xporter-tflite``), so it
  lives here, not in either of them. Backend-specific objects (the ONNX plugin's quantization
  settings) travel as opaque values.

Values are checked when the object is made (shapes, tolerance, known names), so a bad flag is
one line before anything is loaded.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any, ClassVar, FrozenSet, Mapping, Optional, TypeVar

from . import vocabulary
from .arguments import check_atol, check_shapes

_Options = TypeVar("_Options", bound="ExportOptions")

# every shape name some backend sizes its dummy or static inputs with
ALL_SHAPE_NAMES: FrozenSet[str] = frozenset(vocabulary.DEFAULT_SHAPES) | frozenset(vocabulary.STATIC_SHAPE_FLAGS)


@dataclass(frozen=True)
class ExportOptions:
    """The options every backend's exporter reads.

    ``shapes`` maps shape names (``batch_size``, ``sequence_length`` ... see
    :data:`SHAPE_NAMES`) to positive sizes; names the backend does not know are refused, ``None``
    values are dropped (not asked for).
    """

    task: str = "auto"
    framework: Optional[str] = None
    library_name: Optional[str] = None
    atol: Optional[float] = None
    validate: bool = True
    overwrite: bool = False
    cache_dir: Optional[str] = None
    trust_remote_code: bool = False
    shapes: Mapping[str, int] = field(default_factory=dict)

    SHAPE_NAMES: ClassVar[FrozenSet[str]] = ALL_SHAPE_NAMES

    def __post_init__(self) -> None:
        shapes = {name: size for name, size in dict(self.shapes or {}).items() if size is not None}
        unknown = sorted(set(shapes) - self.SHAPE_NAMES)
        if unknown:
            raise TypeError(f"{type(self).__name__}: unknown shape name(s) {', '.join(unknown)} "
                            f"(known: {', '.join(sorted(self.SHAPE_NAMES))})")
        check_shapes(shapes)
        check_atol(self.atol)
        object.__setattr__(self, "shapes", MappingProxyType(shapes))
        for item in fields(self):  # nested mappings are frozen too: the object is shared down the call chain
            value = getattr(self, item.name)
            if item.name != "shapes" and isinstance(value, dict):
                object.__setattr__(self, item.name, MappingProxyType(dict(value)))

    @classmethod
    def from_kwargs(cls: type[_Options], **kwargs: Any) -> _Options:
        """Keywords of a Python API in, options out: field names are fields, shape names go to
        ``shapes``; anything else is a ``TypeError`` naming it (a typo must not be ignored)."""
        names = {item.name for item in fields(cls)}
        shapes = dict(kwargs.pop("shapes", None) or {})
        for alias, name in vocabulary.SHAPE_ALIASES.items():
            if alias in kwargs:
                kwargs.setdefault(name, kwargs.pop(alias))
        for key in [k for k in kwargs if k not in names]:
            if key not in cls.SHAPE_NAMES:
                raise TypeError(f"unexpected export option '{key}'")
            shapes[key] = kwargs.pop(key)
        return cls(shapes=shapes, **kwargs)

    def replace(self: _Options, **changes: Any) -> _Options:
        """A copy with ``changes`` (checked like a new object)."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class OnnxExportOptions(ExportOptions):
    """Options of an export whose product is ONNX (``xporter export onnx``).

    ``dtype``: ``auto`` (the checkpoint's precision, see ``xporter_onnx.source_dtype``), ``fp32``,
    ``fp16`` (fp32 inputs/outputs unless ``fp16_io``) or ``bf16``;
    ``dynamic_axes=False`` fixes every input to the trace shapes; ``external_data=None`` decides
    from the weight size; ``quantize`` is the comma-separated variant modes and
    ``quantize_options`` the producing plugin's settings for them; ``generic``: an unregistered
    type may get a generic config (always validated); ``layout``: ``optimum`` or
    ``transformers.js``. An exporter refuses, in one line, an option it cannot honour.
    """

    opset: Optional[int] = None
    dtype: str = "auto"
    fp16_io: bool = False
    device: str = "cpu"
    dynamo: bool = False
    dynamic_axes: bool = True
    external_data: Optional[bool] = None
    optimize: Optional[str] = None
    merge_decoders: bool = True
    generic: bool = True
    layout: str = "optimum"
    quantize: Optional[str] = None
    quantize_options: Any = None
    model_kwargs: Mapping[str, Any] = field(default_factory=dict)


__all__ = ["ALL_SHAPE_NAMES", "ExportOptions", "OnnxExportOptions"]
