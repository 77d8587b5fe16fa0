"""Import ONNX Runtime training safely and say exactly what is wrong when it cannot be.

Three environment problems look alike from the outside (an ImportError somewhere inside
onnxruntime), so they are told apart here:

* onnxruntime-training is not installed at all;
* regular ``onnxruntime`` is installed too: both wheels write the ``onnxruntime`` folder, the
  last one installed wins and ``pip check`` sees nothing wrong, so we look at the installed
  distributions' metadata instead;
* the folder holds the inference build (no ``onnxruntime.training``).
"""

from __future__ import annotations

import importlib.util
from importlib import metadata
from typing import List, Optional

from xporter.errors import PluginUnavailableError

INSTALL_COMMAND = "pip install onnxruntime-training-cpu==1.19.2"
TRAINING_DISTRIBUTIONS = ("onnxruntime-training-cpu", "onnxruntime-training")
# every other wheel that writes into the same ``onnxruntime`` folder
INFERENCE_DISTRIBUTIONS = ("onnxruntime", "onnxruntime-gpu", "onnxruntime-directml", "onnxruntime-openvino")


def _installed(names) -> List[str]:
    found = []
    for name in names:
        try:
            found.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    return found


def missing_ort_training_error(detail: Optional[str] = None) -> PluginUnavailableError:
    message = "ONNX Runtime training is not installed" + (f" ({detail})" if detail else "")
    return PluginUnavailableError(message, f"install it with `{INSTALL_COMMAND}` (and no regular onnxruntime)")


def check_environment() -> None:
    """Raise a one-line error if ORT training cannot work in this environment."""
    training = _installed(TRAINING_DISTRIBUTIONS)
    inference = _installed(INFERENCE_DISTRIBUTIONS)
    if not training:
        raise missing_ort_training_error()
    if inference:
        raise PluginUnavailableError(
            f"{', '.join(inference)} is installed next to {', '.join(training)}; both install the "
            "'onnxruntime' folder and the last one installed silently replaces the other",
            f"pip uninstall -y {' '.join(n.split('==')[0] for n in inference + training)} && {INSTALL_COMMAND}",
        )
    if importlib.util.find_spec("onnxruntime") is None:
        raise missing_ort_training_error("its files are missing; reinstall it")


def import_ort_training():
    """Check the environment, apply the torch compatibility layer, import onnxruntime.training."""
    check_environment()
    from . import compat

    compat.apply()
    try:
        import onnxruntime
        import onnxruntime.training as ort_training

        onnxruntime.set_default_logger_severity(3)  # warnings and errors only
    except ImportError as exc:
        raise missing_ort_training_error(f"import failed: {exc}") from exc
    return ort_training


def import_ortmodule(build_extensions: bool = True):
    """Return ``onnxruntime.training.ortmodule`` ready to use (extension built on demand).

    The extension is built *before* the first import: ORTModule records a missing extension
    at import time and would refuse to start even after a later build.
    """
    check_environment()
    if build_extensions:
        from . import extensions

        extensions.build()
    import_ort_training()
    try:
        from onnxruntime.training import ortmodule
    except ImportError as exc:
        raise missing_ort_training_error(f"ORTModule import failed: {exc}") from exc
    pending = ortmodule._FALLBACK_INIT_EXCEPTION
    if build_extensions and pending is not None and "extensions were not detected" in str(pending):
        ortmodule._FALLBACK_INIT_EXCEPTION = None  # imported before the build above; it is there now
    return ortmodule
