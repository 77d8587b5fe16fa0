"""Import TensorFlow quietly, once, with the environment switches that keep it fast.

TensorFlow logs dozens of C++ and absl lines on import and on every conversion; they
drown xporter's progress display, so the defaults here silence them unless the user set
the variables. ``USE_TORCH=0`` makes transformers 4.x skip importing PyTorch (about 3 s)
when the checkpoint holds TensorFlow weights, which is the only case that does not need it.
"""

from __future__ import annotations

import logging
import os
import sys

QUIET_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "TF_ENABLE_ONEDNN_OPTS": "0",  # bitwise-reproducible CPU kernels for validation
    "GRPC_VERBOSITY": "ERROR",
    "ABSL_MIN_LOG_LEVEL": "3",
}


def quiet_environment() -> None:
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)


def skip_torch_import() -> None:
    """Ask transformers not to import PyTorch, if it has not been imported yet."""
    if "transformers" not in sys.modules:
        os.environ.setdefault("USE_TORCH", "0")


def import_tf():
    """``tensorflow`` with its Python and absl loggers at ERROR level."""
    quiet_environment()
    import tensorflow as tf

    tf.get_logger().setLevel(logging.ERROR)
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:  # absl ships with TensorFlow; be lenient anyway
        pass
    for name in ("tensorflow", "tf2onnx", "transformers.modeling_tf_utils"):
        logging.getLogger(name).setLevel(logging.ERROR)
    return tf
