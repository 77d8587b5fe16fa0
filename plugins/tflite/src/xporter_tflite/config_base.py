"""TFLite export configs: which tensors go in and out of a model, and their static shapes.

TFLite graphs have fixed shapes, so a config is built with concrete sizes (batch size,
sequence length, number of choices, image size ...). Each input is described by the
*names* of its axes; the sizes come from the user (``--batch-size`` ...) or, for axes
that are a property of the model (``num_channels``, ``hidden_size``), from the model
config. The same axis names double as ONNX dynamic-axis names, which is how TF->ONNX
falls back to these configs when the ONNX plugin is not installed.

Nothing here imports TensorFlow: :meth:`TFLiteConfig.call_model` runs inside a
``tf.function`` built by :mod:`xporter_tflite.convert`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np

from xporter.vocabulary import STATIC_SHAPE_FLAGS

from .errors import StaticShapeError

# flag the user passes for each user-chosen axis (used in error messages): the core's vocabulary
AXIS_FLAGS: Dict[str, str] = STATIC_SHAPE_FLAGS

# axis name -> model config attributes that fix its size (first one present wins)
MODEL_AXES: Dict[str, Tuple[str, ...]] = {
    "num_channels": ("num_channels",),
    "hidden_size": ("d_model", "hidden_size", "n_embd", "emb_dim"),
}

# axes that stay dynamic in ONNX (all user-chosen axes; model axes are fixed)
DYNAMIC_AXES = tuple(AXIS_FLAGS) + ("encoder_sequence_length",)

# an input's axis may alias another axis' size
AXIS_ALIASES = {"encoder_sequence_length": "sequence_length"}

INT, FLOAT = "int32", "float32"


@dataclass(frozen=True)
class InputSpec:
    """One model input: its axis names and its element kind (token ids, mask, floats)."""

    axes: Tuple[str, ...]
    kind: str = "ids"  # ids | mask | zeros | float

    @property
    def dtype(self) -> str:
        return FLOAT if self.kind == "float" else INT


@dataclass(frozen=True)
class Component:
    """One exported file: ``encoder_model`` and ``decoder_model`` for T5, ``model`` otherwise."""

    name: str
    inputs: Dict[str, InputSpec]
    outputs: Dict[str, Dict[int, str]]
    mode: str = "default"  # how call_model invokes the TF model for this component


IDS = InputSpec(("batch_size", "sequence_length"), "ids")
MASK = InputSpec(("batch_size", "sequence_length"), "mask")
TYPES = InputSpec(("batch_size", "sequence_length"), "zeros")
MC_IDS = InputSpec(("batch_size", "num_choices", "sequence_length"), "ids")
MC_MASK = InputSpec(("batch_size", "num_choices", "sequence_length"), "mask")
MC_TYPES = InputSpec(("batch_size", "num_choices", "sequence_length"), "zeros")
PIXELS = InputSpec(("batch_size", "num_channels", "height", "width"), "float")

BATCH = {0: "batch_size"}
BATCH_SEQ = {0: "batch_size", 1: "sequence_length"}

# task -> outputs of encoder-style text models (ONNX-style axis maps)
TEXT_OUTPUTS: Dict[str, Dict[str, Dict[int, str]]] = {
    "feature-extraction": {"last_hidden_state": BATCH_SEQ},
    "fill-mask": {"logits": BATCH_SEQ},
    "text-classification": {"logits": BATCH},
    "multiple-choice": {"logits": {0: "batch_size", 1: "num_choices"}},
    "token-classification": {"logits": BATCH_SEQ},
    "question-answering": {"start_logits": BATCH_SEQ, "end_logits": BATCH_SEQ},
    "text-generation": {"logits": BATCH_SEQ},
}

VISION_OUTPUTS: Dict[str, Dict[str, Dict[int, str]]] = {
    "feature-extraction": {"last_hidden_state": BATCH},
    "image-classification": {"logits": BATCH},
}


class TFLiteConfig:
    """Base class: static shapes, dummy inputs and the model call for one task.

    Subclasses set ``INPUTS`` (name -> :class:`InputSpec`), ``TASK_OUTPUTS`` and
    ``MANDATORY_AXES``; model-specific classes only override what differs.
    """

    INPUTS: Dict[str, InputSpec] = {}
    TASK_OUTPUTS: Dict[str, Dict[str, Dict[int, str]]] = {}
    MANDATORY_AXES: Tuple[str, ...] = ("batch_size",)
    TASK_AXES: Dict[str, Tuple[str, ...]] = {}  # extra mandatory axes per task
    DEFAULT_AXES: Dict[str, str] = {}  # axis -> axis whose size it takes when not given
    VOCAB_ATTRIBUTES = ("vocab_size", "n_words")
    SUPPORTS_PAST = False

    def __init__(self, config: Any, task: str = "feature-extraction", **shapes: Optional[int]) -> None:
        if task not in self.TASK_OUTPUTS:
            raise ValueError(f"{type(self).__name__} does not support task '{task}'")
        self._config = config
        self.task = task
        self.shapes = {k: v for k, v in shapes.items() if v is not None}

    # -- shapes -------------------------------------------------------------------------
    @property
    def mandatory_axes(self) -> Tuple[str, ...]:
        return self.MANDATORY_AXES + self.TASK_AXES.get(self.task, ())

    def check_shapes(self) -> Dict[str, int]:
        """The axis sizes; raise naming the missing flag(s) when a static size is missing."""
        missing = [a for a in self.mandatory_axes if a not in self.shapes and a not in self.DEFAULT_AXES]
        if missing:
            flags = ", ".join(AXIS_FLAGS.get(a, a) for a in missing)
            raise StaticShapeError(
                f"TFLite needs static shapes: {flags} missing for {self._config.model_type} / {self.task}",
                f"pass {' '.join(AXIS_FLAGS.get(a, a) + ' N' for a in missing)}",
            )
        sizes = dict(self.shapes)
        for axis, value in list(sizes.items()):
            if not isinstance(value, int) or value <= 0:
                raise StaticShapeError(f"{AXIS_FLAGS.get(axis, axis)} must be a positive integer, got {value!r}")
        for axis, source in self.DEFAULT_AXES.items():
            sizes.setdefault(axis, sizes[source])
        for alias, source in AXIS_ALIASES.items():
            if source in sizes:
                sizes.setdefault(alias, sizes[source])
        for axis, attributes in MODEL_AXES.items():
            value = next((getattr(self._config, a) for a in attributes if getattr(self._config, a, None)), None)
            if value is not None:
                sizes.setdefault(axis, int(value))
        return sizes

    def used_shapes(self) -> Dict[str, int]:
        """The sizes of the axes the exported inputs actually have."""
        sizes = self.check_shapes()
        used = {a for c in self.components() for s in c.inputs.values() for a in s.axes}
        return {a: v for a, v in sizes.items() if a in used}

    def input_shape(self, spec: InputSpec) -> Tuple[int, ...]:
        sizes = self.check_shapes()
        return tuple(sizes[a] for a in spec.axes)

    # -- structure ----------------------------------------------------------------------
    def model_inputs(self) -> Dict[str, InputSpec]:
        """Inputs the model takes (hook for config-dependent inputs, e.g. DeBERTa types)."""
        return dict(self.INPUTS)

    def components(self) -> List[Component]:
        return [Component("model", self.model_inputs(), self.TASK_OUTPUTS[self.task])]

    @property
    def inputs(self) -> Dict[str, Dict[int, str]]:
        """ONNX-style dynamic axes of the (single-component) inputs."""
        return {name: _dynamic(spec.axes) for name, spec in self.components()[0].inputs.items()}

    @property
    def outputs(self) -> Dict[str, Dict[int, str]]:
        return dict(self.components()[0].outputs)

    # -- data ---------------------------------------------------------------------------
    def vocab_size(self) -> int:
        return int(next((getattr(self._config, a) for a in self.VOCAB_ATTRIBUTES if getattr(self._config, a, None)), 2))

    def generate_dummy_inputs(self, component: Component, seed: int = 0) -> Dict[str, np.ndarray]:
        """Random inputs of the static shapes (ids drawn from the vocabulary)."""
        rng = np.random.default_rng(seed)
        inputs = {}
        for name, spec in component.inputs.items():
            shape = self.input_shape(spec)
            if spec.kind == "ids":
                # skip the first ids: they are special tokens (padding) for several vocabularies
                low = min(5, self.vocab_size() - 1)
                inputs[name] = rng.integers(low, self.vocab_size(), size=shape, dtype=np.int32)
            elif spec.kind == "mask":
                inputs[name] = np.ones(shape, dtype=np.int32)
            elif spec.kind == "zeros":
                inputs[name] = np.zeros(shape, dtype=np.int32)
            else:
                inputs[name] = rng.standard_normal(shape).astype(np.float32)
        return inputs

    # -- model call (runs under TensorFlow) ----------------------------------------------
    def call_model(self, model: Any, component: Component, inputs: Mapping[str, Any]) -> Dict[str, Any]:
        """Call the TF model and keep the outputs this task exports."""
        outputs = model(**inputs, training=False)
        return {name: outputs[name] for name in component.outputs}


def _dynamic(axes: Tuple[str, ...]) -> Dict[int, str]:
    return {i: a for i, a in enumerate(axes) if a in DYNAMIC_AXES}


class TextEncoderTFLiteConfig(TFLiteConfig):
    """BERT-style encoders: ids, mask and token types; multiple-choice adds ``num_choices``."""

    INPUTS = {"input_ids": IDS, "attention_mask": MASK, "token_type_ids": TYPES}
    TASK_OUTPUTS = {k: v for k, v in TEXT_OUTPUTS.items() if k != "text-generation"}
    MANDATORY_AXES = ("batch_size", "sequence_length")
    TASK_AXES = {"multiple-choice": ("num_choices",)}
    MULTIPLE_CHOICE = {"input_ids": MC_IDS, "attention_mask": MC_MASK, "token_type_ids": MC_TYPES}

    def model_inputs(self) -> Dict[str, InputSpec]:
        inputs = dict(self.INPUTS)
        if self.task == "multiple-choice":
            inputs = {name: self.MULTIPLE_CHOICE[name] for name in inputs}
        return inputs


class TextEncoderNoTypesTFLiteConfig(TextEncoderTFLiteConfig):
    """Encoders without token types (DistilBERT, RoBERTa family, MPNet)."""

    INPUTS = {"input_ids": IDS, "attention_mask": MASK}


class VisionTFLiteConfig(TFLiteConfig):
    """Image models taking NCHW ``pixel_values``; channels come from the model config."""

    INPUTS = {"pixel_values": PIXELS}
    TASK_OUTPUTS = VISION_OUTPUTS
    MANDATORY_AXES = ("batch_size", "height", "width")


class TextDecoderTFLiteConfig(TFLiteConfig):
    """Decoder-only LMs exported without a cache: the whole (static) sequence in, logits out."""

    INPUTS = {"input_ids": IDS, "attention_mask": MASK}
    TASK_OUTPUTS = {"text-generation": TEXT_OUTPUTS["text-generation"],
                    "feature-extraction": TEXT_OUTPUTS["feature-extraction"]}
    MANDATORY_AXES = ("batch_size", "sequence_length")

    def call_model(self, model: Any, component: Component, inputs: Mapping[str, Any]) -> Dict[str, Any]:
        outputs = model(**inputs, use_cache=False, training=False)
        return {name: outputs[name] for name in component.outputs}


class Seq2SeqTFLiteConfig(TFLiteConfig):
    """Encoder-decoder LMs as two files: the encoder, and the decoder + LM head (no cache).

    The decoder takes the whole (static) decoder sequence, so generation re-runs it per
    step; ``--decoder-sequence-length`` defaults to ``--sequence-length``.
    """

    TASK_OUTPUTS = {"text2text-generation": {"logits": {0: "batch_size", 1: "decoder_sequence_length"}}}
    MANDATORY_AXES = ("batch_size", "sequence_length")
    DEFAULT_AXES = {"decoder_sequence_length": "sequence_length"}

    def components(self) -> List[Component]:
        encoder = Component(
            "encoder_model",
            {"input_ids": IDS, "attention_mask": MASK},
            {"last_hidden_state": BATCH_SEQ},
            mode="encoder",
        )
        decoder = Component(
            "decoder_model",
            {
                "decoder_input_ids": InputSpec(("batch_size", "decoder_sequence_length"), "ids"),
                "encoder_hidden_states": InputSpec(("batch_size", "encoder_sequence_length", "hidden_size"), "float"),
                "encoder_attention_mask": InputSpec(("batch_size", "encoder_sequence_length"), "mask"),
            },
            self.TASK_OUTPUTS[self.task],
            mode="decoder",
        )
        return [encoder, decoder]

    def call_model(self, model: Any, component: Component, inputs: Mapping[str, Any]) -> Dict[str, Any]:
        if component.mode == "encoder":
            outputs = model.get_encoder()(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                                          training=False)
            return {"last_hidden_state": outputs.last_hidden_state}
        # Keras refuses a call without its first argument; with ``encoder_outputs`` given,
        # T5 never reads ``input_ids`` (the encoder is skipped), so the mask stands in for it.
        outputs = model(
            inputs["encoder_attention_mask"],
            attention_mask=inputs["encoder_attention_mask"],
            decoder_input_ids=inputs["decoder_input_ids"],
            encoder_outputs=(inputs["encoder_hidden_states"],),
            use_cache=False,
            training=False,
        )
        return {"logits": outputs.logits}
