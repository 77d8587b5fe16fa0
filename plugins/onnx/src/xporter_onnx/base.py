"""ONNX export configs: what to feed a model, what to read back, and how to name it.

Extension points (for architecture authors, e.g. ``configs/decoder.py``)
-----------------------------------------------------------------------
A config class answers, for one model type and task:

* ``inputs`` / ``outputs``: ``{onnx_name: {axis: symbolic_name}}`` in ONNX order. Declare
  ``INPUTS``/``OUTPUTS`` class attributes for the simple cases or override the properties.
  ``OUTPUTS`` may be ``{task: {name: axes}}`` or a plain ``{name: axes}`` for every task;
  otherwise :data:`xporter_onnx.task_outputs.TASK_OUTPUTS` supplies Optimum's names.
* ``DUMMY_INPUT_GENERATOR_CLASSES``: generators (see :mod:`xporter_onnx.dummy`) that build
  tensors for those inputs; ``generate_dummy_inputs(framework, **shapes)`` uses them.
* ``NORMALIZED_CONFIG_CLASS``: a :class:`~xporter_onnx.normalized.NormalizedConfig`
  (subclass or ``NormalizedConfig.with_args(num_layers="n_layer")``) through which
  generators read sizes, so one class serves many architectures.
* ``ATTN_IMPLEMENTATION`` (``"eager"`` by default, ``None`` = transformers' default),
  passed to ``from_pretrained`` by the exporter.
* ``DEFAULT_ONNX_OPSET``, ``ATOL_FOR_VALIDATION`` (float or ``{task: float}``),
  ``SUPPORTS_PAST``, ``MODEL_KWARGS`` (extra forward kwargs, e.g. ``use_cache``),
  ``VALIDATION_SHAPES`` (the shapes validation uses, different from the trace shapes).
* Model plumbing, used by the exporter through :meth:`OnnxConfig.patch_model_for_export`,
  which returns a ``torch.nn.Module`` whose ``forward(*tensors)`` takes the ONNX inputs in
  ``inputs`` order and returns the ONNX outputs in ``outputs`` order. It calls, in order:
  ``prepare_model_inputs(dict) -> dict`` (e.g. flat past tensors -> ``DynamicCache``),
  ``call_model(model, kwargs)`` (default ``model(**kwargs, **MODEL_KWARGS)``) and
  ``flatten_outputs(model_output) -> list`` (e.g. cache -> ``present.*`` tensors).
  ``export_context(model)`` is a context manager active around tracing and validation
  (monkeypatches go there).
* ``export_parts(model) -> [ExportPart(name, model, config)]``: the ONNX files to write.
  The default is one part named ``model`` (``model.onnx``); encoder-decoder configs return
  ``encoder_model`` / ``decoder_model`` / ``decoder_with_past_model`` parts, each with its
  own config (``with_behavior``). The exporter exports and validates every part.
* ``post_process_exported_models(output_dir, parts, paths)``: after all parts are written
  (merging decoders, adding metadata); returns the possibly changed list of paths.

Register a class for model types and tasks through a row in a ``configs/*.py`` table
(see :mod:`xporter_onnx.configs`), or in-process with
``TasksManager.create_register("onnx")("my-type", "feature-extraction")(MyConfig)``.
"""

from __future__ import annotations

import contextlib
import copy
import enum
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional

from .dummy import DummyInputGenerator, normalize_shapes
from .normalized import NormalizedConfig
from .task_outputs import TASK_OUTPUTS

Axes = Dict[int, str]
IOSpec = Dict[str, Axes]


class ConfigBehavior(str, enum.Enum):
    """Which graph of an encoder-decoder model a config describes."""

    MONOLITH = "monolith"
    ENCODER = "encoder"
    DECODER = "decoder"


@dataclass
class ExportPart:
    """One ONNX file to produce: ``<name>.onnx`` from ``model`` described by ``config``."""

    name: str
    model: Any
    config: "OnnxConfig"


class OnnxConfig:
    """Base class for every ONNX export config (modality-agnostic)."""

    NORMALIZED_CONFIG_CLASS: type = NormalizedConfig
    DUMMY_INPUT_GENERATOR_CLASSES: tuple = ()
    DEFAULT_ONNX_OPSET: int = 18  # LayerNormalization (17+) instead of six primitive nodes; as Optimum 2.x
    MIN_DYNAMO_OPSET: int = 18
    ATOL_FOR_VALIDATION: Any = 1e-4
    SUPPORTS_PAST: bool = False
    INPUTS: Optional[IOSpec] = None
    OUTPUTS: Optional[Mapping[str, Any]] = None
    MODEL_KWARGS: Dict[str, Any] = {}
    VALIDATION_SHAPES: Dict[str, Any] = {"batch_size": 3, "sequence_length": 9, "num_choices": 3,
                                         "audio_sequence_length": 12000, "nb_max_frames": 3000}
    MIN_TRANSFORMERS_VERSION: Optional[str] = None
    # Attention implementation the model is loaded with for export. "eager" traces to the
    # classic MatMul/Softmax pattern ONNX Runtime's fusions recognise (SDPA's does not);
    # None keeps the transformers default.
    ATTN_IMPLEMENTATION: Optional[str] = "eager"

    def __init__(
        self,
        config: Any,
        task: str = "feature-extraction",
        preprocessors: Optional[List[Any]] = None,
        int_dtype: str = "int64",
        float_dtype: str = "fp32",
        legacy: bool = False,
    ) -> None:
        if float_dtype not in ("fp32", "fp16", "bf16"):
            raise ValueError(f"float_dtype must be fp32, fp16 or bf16, not {float_dtype!r}")
        if int_dtype not in ("int64", "int32", "int8"):
            raise ValueError(f"int_dtype must be int64, int32 or int8, not {int_dtype!r}")
        self._config = config
        self.task = task
        self.preprocessors = preprocessors
        self.int_dtype = int_dtype
        self.float_dtype = float_dtype
        self.legacy = legacy
        self._normalized_config = self.NORMALIZED_CONFIG_CLASS(config)

    # -- declaration ----------------------------------------------------------------------
    @property
    def inputs(self) -> IOSpec:
        """ONNX inputs in order: ``{name: {axis: symbolic name}}``."""
        if self.INPUTS is None:
            raise NotImplementedError(f"{type(self).__name__} declares no INPUTS and does not override `inputs`")
        return copy.deepcopy(dict(self.INPUTS))

    @property
    def outputs(self) -> IOSpec:
        """ONNX outputs in order; per-task defaults follow Optimum's names."""
        declared = self.OUTPUTS
        if declared is not None:
            per_task = declared.get(self.task) if self.task in declared else None
            if per_task is not None:
                return copy.deepcopy(dict(per_task))
            if declared and all(isinstance(v, dict) and all(isinstance(k, int) for k in v) for v in declared.values()):
                return copy.deepcopy(dict(declared))
        if self.task not in TASK_OUTPUTS:
            raise NotImplementedError(f"{type(self).__name__} declares no outputs for task '{self.task}'")
        return copy.deepcopy(TASK_OUTPUTS[self.task])

    @property
    def normalized_config(self) -> NormalizedConfig:
        return self._normalized_config

    @property
    def config(self) -> Any:
        return self._config

    @property
    def atol_for_validation(self) -> float:
        atol = self.ATOL_FOR_VALIDATION
        if isinstance(atol, Mapping):
            return float(atol.get(self.task, atol.get("default", 1e-4)))
        return float(atol)

    @property
    def values_override(self) -> Dict[str, Any]:
        """Optimum-compatible alias of ``MODEL_KWARGS``."""
        return dict(self.MODEL_KWARGS)

    def dynamic_axes(self) -> Dict[str, Axes]:
        """Input and output axes in the form ``torch.onnx.export(dynamic_axes=...)`` takes."""
        return {**self.inputs, **self.outputs}

    # -- dummy inputs ---------------------------------------------------------------------
    def _generators(self, **shapes: Any) -> List[DummyInputGenerator]:
        return [cls(self.task, self.normalized_config, **shapes) for cls in self.DUMMY_INPUT_GENERATOR_CLASSES]

    def generate_dummy_inputs(self, framework: str = "pt", **kwargs: Any) -> Dict[str, Any]:
        """Tensors for every input in ``inputs``, with the default shapes unless given.

        Shape keywords: batch_size (2), sequence_length (16), num_choices (4), width /
        image_width (64), height / image_height (64), num_channels (3), feature_size (80),
        nb_max_frames (3000), audio_sequence_length (16000); plus ``seed``.
        """
        generators = self._generators(**kwargs)
        dummy = {}
        for name in self.inputs:
            generator = next((g for g in generators if g.supports_input(name)), None)
            if generator is None:
                raise RuntimeError(f"{type(self).__name__}: no dummy input generator for input '{name}'; "
                                   "add one to DUMMY_INPUT_GENERATOR_CLASSES")
            dummy[name] = generator.generate(name, framework, self.int_dtype, self.float_dtype)
        return dummy

    def validation_shapes(self, dynamic: bool = True, trace_shapes: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """Shapes for validation: different from the trace when axes are dynamic, same otherwise."""
        if dynamic:
            return {**(trace_shapes or {}), **self.VALIDATION_SHAPES, "seed": 1234, "padding": True}
        return {**normalize_shapes(trace_shapes or {}), "seed": 1234, "padding": True}

    # -- model plumbing -------------------------------------------------------------------
    def export_parts(self, model: Any) -> List[ExportPart]:
        """The ONNX files this config produces: one ``model.onnx`` by default."""
        return [ExportPart("model", model, self)]

    def prepare_model_inputs(self, inputs: Dict[str, Any]) -> Dict[str, Any]:
        """Map ONNX-named tensors to the model's forward kwargs (identity by default)."""
        return inputs

    def call_model(self, model: Any, kwargs: Dict[str, Any]) -> Any:
        return model(**kwargs, **self.MODEL_KWARGS)

    def flatten_outputs(self, model_output: Any) -> List[Any]:
        """The tensors named in ``outputs``, in order, read from the model's output."""
        return [lookup_output(model_output, name) for name in self.outputs]

    def patch_model_for_export(self, model: Any) -> Any:
        """A ``torch.nn.Module`` with ONNX-ordered positional inputs and tuple outputs."""
        return export_wrapper_class()(model, self)

    @contextlib.contextmanager
    def export_context(self, model: Any):
        """Active around tracing and validation; override for monkeypatches."""
        yield

    def post_process_exported_models(self, output_dir: Any, parts: List[ExportPart], paths: List[Any]) -> List[Any]:
        return paths

    def __repr__(self) -> str:
        return f"{type(self).__name__}(task={self.task!r}, float_dtype={self.float_dtype!r})"


def lookup_output(model_output: Any, name: str) -> Any:
    """Read ``name`` from a ModelOutput, dict, tuple-with-attributes or object."""
    if isinstance(model_output, Mapping) or hasattr(model_output, "keys"):
        try:
            value = model_output[name]
            if value is not None:
                return value
        except (KeyError, TypeError):
            pass
    value = getattr(model_output, name, None)
    if value is None:
        available = list(model_output.keys()) if hasattr(model_output, "keys") else type(model_output).__name__
        raise KeyError(f"model output has no '{name}' (available: {available}); "
                       "override `outputs` or `flatten_outputs` in the ONNX config")
    return value


_WRAPPER_CLASS = None


def export_wrapper_class():
    """The torch wrapper class, created on first use so this module never imports torch."""
    global _WRAPPER_CLASS
    if _WRAPPER_CLASS is None:
        import torch

        class OnnxExportWrapper(torch.nn.Module):
            """Positional ONNX inputs in, ONNX outputs (a tuple) out."""

            def __init__(self, model, onnx_config):
                super().__init__()
                self.model = model
                self.onnx_config = onnx_config
                self.input_names = list(onnx_config.inputs)
                # torch.onnx.export restores the wrapper's train/eval mode recursively after
                # tracing; a wrapper left in train mode would switch dropout on in the model.
                self.eval()

            def forward(self, *args):
                kwargs = self.onnx_config.prepare_model_inputs(dict(zip(self.input_names, args)))
                output = self.onnx_config.call_model(self.model, kwargs)
                return tuple(self.onnx_config.flatten_outputs(output))

        _WRAPPER_CLASS = OnnxExportWrapper
    return _WRAPPER_CLASS


class OnnxConfigWithPast(OnnxConfig):
    """Configs whose graph can take/return a key/value cache (``-with-past`` tasks).

    ``use_past``: the graph returns ``present.*``; ``use_past_in_inputs``: it also takes
    ``past_key_values.*``. Flat names: ``past_key_values.{i}.key`` / ``.value`` and
    ``present.{i}.key`` / ``.value``.
    """

    SUPPORTS_PAST = True
    PAST_KEY_VALUES_NAMES = ("key", "value")

    def __init__(self, config: Any, task: str = "feature-extraction", int_dtype: str = "int64",
                 float_dtype: str = "fp32", use_past: bool = False, use_past_in_inputs: bool = False,
                 preprocessors: Optional[List[Any]] = None, legacy: bool = False) -> None:
        super().__init__(config, task=task, preprocessors=preprocessors, int_dtype=int_dtype,
                         float_dtype=float_dtype, legacy=legacy)
        self.use_past = use_past
        self.use_past_in_inputs = use_past_in_inputs
        self.is_merged = False
        self.use_cache_branch = None

    @property
    def num_layers(self) -> int:
        return int(self.normalized_config.num_layers)

    @property
    def outputs(self) -> IOSpec:
        outputs = super().outputs
        if self.use_past:
            self.add_past_key_values(outputs, direction="outputs")
        return outputs

    @property
    def values_override(self) -> Dict[str, Any]:
        return {**self.MODEL_KWARGS, "use_cache": self.use_past}

    def add_past_key_values(self, inputs_or_outputs: IOSpec, direction: str) -> None:
        """Add ``past_key_values.*`` (inputs) or ``present.*`` (outputs) with their axes."""
        if direction not in ("inputs", "outputs"):
            raise ValueError(f'direction must be "inputs" or "outputs", not {direction!r}')
        if direction == "inputs":
            prefix, length = "past_key_values", "past_sequence_length"
        else:
            prefix, length = "present", "past_sequence_length + sequence_length"
        for i in range(self.num_layers):
            for kind in self.PAST_KEY_VALUES_NAMES:
                inputs_or_outputs[f"{prefix}.{i}.{kind}"] = {0: "batch_size", 2: length}

    def flatten_past_key_values(self, flattened: Dict[str, Any], name: str, idx: int, t: Iterable[Any]) -> None:
        for kind, tensor in zip(self.PAST_KEY_VALUES_NAMES, t):
            flattened[f"{name}.{idx}.{kind}"] = tensor


class OnnxSeq2SeqConfigWithPast(OnnxConfigWithPast):
    """Encoder-decoder configs; ``behavior`` selects the encoder or decoder graph."""

    def __init__(self, config: Any, task: str = "feature-extraction", int_dtype: str = "int64",
                 float_dtype: str = "fp32", use_past: bool = False, use_past_in_inputs: bool = False,
                 behavior: ConfigBehavior = ConfigBehavior.MONOLITH, preprocessors: Optional[List[Any]] = None,
                 legacy: bool = False) -> None:
        super().__init__(config, task=task, int_dtype=int_dtype, float_dtype=float_dtype, use_past=use_past,
                         use_past_in_inputs=use_past_in_inputs, preprocessors=preprocessors, legacy=legacy)
        self._behavior = ConfigBehavior(behavior)

    @property
    def behavior(self) -> ConfigBehavior:
        return self._behavior

    def with_behavior(self, behavior, use_past: bool = False, use_past_in_inputs: bool = False) -> "OnnxSeq2SeqConfigWithPast":
        """A copy of this config for another graph (encoder / decoder) and cache setting."""
        return type(self)(self._config, task=self.task, int_dtype=self.int_dtype, float_dtype=self.float_dtype,
                          use_past=use_past, use_past_in_inputs=use_past_in_inputs,
                          behavior=ConfigBehavior(behavior), preprocessors=self.preprocessors, legacy=self.legacy)

    @property
    def num_layers(self) -> int:
        cfg = self.normalized_config
        return int(cfg.get("decoder_num_layers", None) or cfg.num_layers)

    def add_past_key_values(self, inputs_or_outputs: IOSpec, direction: str) -> None:
        """``past_key_values.{i}.decoder.key`` ... and ``.encoder.key`` (cross-attention)."""
        if direction not in ("inputs", "outputs"):
            raise ValueError(f'direction must be "inputs" or "outputs", not {direction!r}')
        if direction == "inputs":
            prefix, length = "past_key_values", "past_decoder_sequence_length"
        else:
            prefix, length = "present", "past_decoder_sequence_length + 1"
        for i in range(self.num_layers):
            for kind in self.PAST_KEY_VALUES_NAMES:
                inputs_or_outputs[f"{prefix}.{i}.decoder.{kind}"] = {0: "batch_size", 2: length}
            if direction == "inputs" or not self.use_past_in_inputs or self.is_merged:
                for kind in self.PAST_KEY_VALUES_NAMES:
                    inputs_or_outputs[f"{prefix}.{i}.encoder.{kind}"] = {0: "batch_size", 2: "encoder_sequence_length_out"}

    def export_parts(self, model: Any) -> List[ExportPart]:
        """encoder_model, decoder_model and (with past) decoder_with_past_model.

        Which module each part wraps is the architecture's business: override
        ``encoder_for_export`` / ``decoder_for_export`` when the whole model is not right.
        """
        if self.behavior is not ConfigBehavior.MONOLITH:
            return [ExportPart(f"{self.behavior.value}_model", model, self)]
        parts = [ExportPart("encoder_model", self.encoder_for_export(model), self.with_behavior("encoder")),
                 ExportPart("decoder_model", self.decoder_for_export(model),
                            self.with_behavior("decoder", use_past=self.use_past, use_past_in_inputs=False))]
        if self.use_past:
            parts.append(ExportPart("decoder_with_past_model", self.decoder_for_export(model),
                                    self.with_behavior("decoder", use_past=True, use_past_in_inputs=True)))
        return parts

    def encoder_for_export(self, model: Any) -> Any:
        return model.get_encoder() if hasattr(model, "get_encoder") else model

    def decoder_for_export(self, model: Any) -> Any:
        return model
