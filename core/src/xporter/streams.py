"""Keep stdout for the one thing a command promises to print there (``--json``).

Exporters print progress of their own (torch.onnx's dynamo path prints from Python and from
C++); with ``--json`` those lines would make stdout unparsable. Inside
:func:`stdout_to_stderr` both Python's ``sys.stdout`` and file descriptor 1 point at stderr.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Iterator


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError, AttributeError):  # no real fd 1 (captured by a test runner): Python level only
        with contextlib.redirect_stdout(sys.stderr):
            yield
        return
    try:
        sys.stderr.flush()
        os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.flush()
        os.dup2(saved, 1)
        os.close(saved)
