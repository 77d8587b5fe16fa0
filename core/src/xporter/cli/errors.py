"""Turn exceptions into one-line messages and exit codes for the CLI."""

from __future__ import annotations

import contextlib
import sys
import traceback
from typing import Callable, Iterator

from ..errors import XporterError

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so every ``with`` block (staging folders) cleans up."""


def _raise_terminated(signum, frame):  # noqa: ARG001 - signal handler signature
    raise Terminated()


@contextlib.contextmanager
def sigterm_unwinds() -> Iterator[None]:
    """``kill <pid>`` (docker stop, a CI timeout) unwinds like Ctrl-C instead of dying mid-write;
    the previous handler is restored afterwards (in-process callers such as test runners)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_guarded(action: Callable[[], int], debug: bool) -> int:
    """Run ``action``; print one line per failure (traceback only with ``--debug``)."""
    try:
        return int(action() or 0)
    except BrokenPipeError:  # e.g. `xporter tasks | head`
        sys.stderr.close()
        return EXIT_OK
    except KeyboardInterrupt:
        print("xporter: interrupted; nothing was written to the output", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Terminated:
        print("xporter: terminated (SIGTERM); nothing was written to the output", file=sys.stderr)
        return EXIT_TERMINATED
    except XporterError as exc:
        if debug:
            traceback.print_exc()
        print(f"xporter: error: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_FAILURE
    except Exception as exc:  # unexpected: still one line unless asked
        if debug:
            traceback.print_exc()
        print(f"xporter: error: unexpected {type(exc).__name__}: {one_line(str(exc))} "
              f"(rerun with --debug for the traceback)", file=sys.stderr)
        return EXIT_FAILURE


def one_line(text: str) -> str:
    return " ".join(text.split())
