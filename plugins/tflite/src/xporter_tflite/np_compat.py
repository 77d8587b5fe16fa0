"""NumPy 2 compatibility for tf2onnx 1.17.

tf2onnx 1.17 still calls ``np.product`` (removed in NumPy 2.0) when it writes external
tensor data (``large_model=True``, models over 2 GB) and in its tfjs reader. We add the
alias back, only if it is missing, before tf2onnx is imported. ``np.object``/``np.bool``/
``np.cast`` are not used by the 1.17 code paths xporter calls, so they are left alone.
"""

from __future__ import annotations

import numpy as np

ALIASES = {"product": "prod"}


def apply() -> list:
    """Add missing NumPy aliases; return the names that were added."""
    added = []
    for old, new in ALIASES.items():
        if not hasattr(np, old):
            setattr(np, old, getattr(np, new))
            added.append(old)
    return added
