"""xporter backend plugin: TensorFlow models to TFLite (LiteRT), and TensorFlow to ONNX.

Importing this package is cheap; TensorFlow, transformers, tf2onnx and LiteRT are imported
by the functions that need them (:func:`export_tflite`, :func:`export_tf_to_onnx`).
"""

from __future__ import annotations

__version__ = "0.1.0"


def export_tflite(*args, **kwargs):
    """See :func:`xporter_tflite.export.export_tflite`."""
    from .export import export_tflite as _export

    return _export(*args, **kwargs)


def export_tf_to_onnx(*args, **kwargs):
    """See :func:`xporter_tflite.tf_to_onnx.export_tf_to_onnx`."""
    from .tf_to_onnx import export_tf_to_onnx as _export

    return _export(*args, **kwargs)


__all__ = ["export_tflite", "export_tf_to_onnx", "__version__"]
