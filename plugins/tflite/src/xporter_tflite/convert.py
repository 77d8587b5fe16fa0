"""TF model -> fixed-shape ``tf.function`` -> TFLite flatbuffer.

The converter is fed a minimal SavedModel holding only the export function and the
model's variables. ``TFLiteConverter.from_concrete_functions([f], model)`` would save
the whole Keras model (tracing every serving function: ~30 s for a 2-layer BERT on these
machines) and ``from_concrete_functions([f])`` alone loses the signature, so the output
names in the .tflite become ``Identity``, ``Identity_1``... The slim SavedModel keeps
``serving_default`` with named inputs and outputs and converts in ~2 s.
"""

from __future__ import annotations

import tempfile
from typing import Any, Callable, Dict, Optional, Sequence

from xporter.errors import ExportError

from .config_base import Component, TFLiteConfig
from .tfenv import import_tf


def tensor_specs(config: TFLiteConfig, component: Component, dynamic_axes: Optional[Sequence[str]] = None,
                 int_dtype: str = "int32") -> list:
    """``tf.TensorSpec`` per input; axes named in ``dynamic_axes`` become ``None``."""
    tf = import_tf()
    dynamic = set(dynamic_axes or ())
    specs = []
    for name, spec in component.inputs.items():
        shape = [None if axis in dynamic else size for axis, size in zip(spec.axes, config.input_shape(spec))]
        dtype = tf.float32 if spec.dtype == "float32" else getattr(tf, int_dtype)
        specs.append(tf.TensorSpec(shape, dtype, name=name))
    return specs


def export_function(model: Any, config: TFLiteConfig, component: Component, specs: list) -> Callable:
    """A ``tf.function`` with one named argument per input returning a dict of outputs."""
    tf = import_tf()
    names = [spec.name for spec in specs]

    def serve(*args):
        return config.call_model(model, component, dict(zip(names, args)))

    return tf.function(serve, input_signature=specs)


def convert(model: Any, config: TFLiteConfig, component: Component,
            configure: Optional[Callable[[Any], None]] = None) -> bytes:
    """Convert one component to a TFLite flatbuffer; ``configure(converter)`` sets quantization."""
    tf = import_tf()
    specs = tensor_specs(config, component)
    function = export_function(model, config, component, specs)
    try:
        concrete = function.get_concrete_function()
    except Exception as exc:  # tracing errors come from the model code: report them plainly
        raise ExportError(f"tracing {type(model).__name__} for {component.name} failed: {_first_line(exc)}",
                          "check --task and the static shapes; rerun with --debug for the traceback") from exc
    holder = tf.Module()
    holder.serve = function
    holder.weights = list(model.variables)  # tracked so the SavedModel can restore captured variables
    with tempfile.TemporaryDirectory(prefix="xporter-tflite-") as saved_model_dir:
        tf.saved_model.save(holder, saved_model_dir, signatures={"serving_default": concrete})
        converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir)
        if configure is not None:
            configure(converter)
        try:
            return converter.convert()
        except Exception as exc:
            raise ExportError(f"TFLite conversion of {component.name} failed: {_first_line(exc)}",
                              "try another --quantize mode or --fallback-to-float; rerun with --debug for details") from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    for line in text.splitlines():
        if "error" in line.lower():
            return line.strip()[:400]
    return (text.splitlines()[0] if text else type(exc).__name__)[:400]


def call_reference(model: Any, config: TFLiteConfig, component: Component, inputs: Dict[str, Any]) -> Dict[str, Any]:
    """Run the TF model eagerly on numpy inputs; numpy outputs."""
    tf = import_tf()
    tensors = {name: tf.convert_to_tensor(value) for name, value in inputs.items()}
    return {name: value.numpy() for name, value in config.call_model(model, component, tensors).items()}
