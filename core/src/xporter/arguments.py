"""Argument checks every backend shares, run before anything is loaded.

Shapes and tolerances mean the same for every exporter, so they are refused the same way:
one line naming the flag and what it accepts (``--batch-size -2`` used to surface seconds
later as an exporter assertion; ``--atol inf`` silently disabled validation).
"""

from __future__ import annotations

import math
from typing import Any, Dict, Optional

from .errors import XporterError


class ArgumentError(XporterError, ValueError):
    """A flag value no exporter accepts."""


def flag_name(name: str) -> str:
    """``batch_size`` -> ``--batch-size``."""
    return "--" + name.replace("_", "-")


def check_shapes(shapes: Dict[str, Any]) -> None:
    """Every given dummy/static shape must be a positive integer."""
    for name, value in shapes.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ArgumentError(f"{flag_name(name)} must be a positive integer, got {value!r}",
                                f"pass e.g. {flag_name(name)} 2, or leave it out for the default")


def check_atol(atol: Optional[float]) -> None:
    """A tolerance must be finite and > 0: an infinite one would pass any output."""
    if atol is None:
        return
    if not isinstance(atol, (int, float)) or isinstance(atol, bool) or not math.isfinite(atol) or atol <= 0:
        raise ArgumentError(f"--atol must be a finite number > 0, got {atol!r}",
                            "pass e.g. --atol 1e-4; to skip validation say so with --no-validate")
