"""Step-by-step progress display (load, export, validate ...) for the CLI.

Uses rich when it is installed and the stream is a terminal; otherwise prints one plain
line per finished step to stderr, which keeps CI logs and ``--json`` stdout clean.
Long byte-sized jobs (writing gigabytes of external weights) get :meth:`Progress.transfer`:
a bar with size and speed on a terminal, a line per quarter in logs.
"""

from __future__ import annotations

import contextlib
import sys
import time
from typing import Callable, Iterator, List, Tuple

PLAIN_STEPS = 4  # plain-text transfers report each quarter
PLAIN_MIN_BYTES = 256 * 1024**2  # ... when they are at least this large


def format_bytes(n_bytes: float) -> str:
    """``1.06 GiB``, ``12.0 MiB``, ``512 B``."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.2f} {unit}" if unit == "GiB" else f"{n_bytes / scale:.1f} {unit}"
    return f"{int(n_bytes)} B"


class Progress:
    """Reports named steps and how long each took."""

    def __init__(self, enabled: bool = True, stream=None) -> None:
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.timings: List[Tuple[str, float]] = []
        self._console = None
        self._status = None  # rich's spinner of the running step
        if enabled and getattr(self.stream, "isatty", lambda: False)():
            try:
                from rich.console import Console

                self._console = Console(file=self.stream)
            except ImportError:
                self._console = None

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        if self._console is not None:
            with self._console.status(f"{name}...") as status:
                outer, self._status = self._status, status
                try:
                    yield
                finally:
                    self._status = outer
        else:
            yield
        elapsed = time.perf_counter() - start
        self.timings.append((name, elapsed))
        if self.enabled:
            line = f"[xporter] {name}: done in {elapsed:.2f}s"
            if self._console is not None:
                self._console.print(f"[green]✓[/green] {name} ({elapsed:.2f}s)")
            else:
                print(line, file=self.stream, flush=True)

    @contextlib.contextmanager
    def transfer(self, name: str, total_bytes: int) -> Iterator[Callable[[int], None]]:
        """A step that moves ``total_bytes``; the block calls the yielded function with each chunk's size.

        On a terminal the running spinner's text shows bytes done and the rate (one live display:
        rich refuses a second one inside the enclosing step); in logs, a line per quarter."""
        done = [0, 0]  # bytes so far, quarters reported
        start = time.perf_counter()

        def advance(n_bytes: int) -> None:
            done[0] += n_bytes
            if not self.enabled or not total_bytes:
                return
            rate = done[0] / max(time.perf_counter() - start, 1e-9)
            text = f"{name}: {format_bytes(done[0])} of {format_bytes(total_bytes)} ({format_bytes(rate)}/s)"
            if self._status is not None:
                self._status.update(text)
                return
            quarter = min(PLAIN_STEPS, done[0] * PLAIN_STEPS // total_bytes)
            if total_bytes >= PLAIN_MIN_BYTES and PLAIN_STEPS > quarter > done[1]:
                done[1] = quarter
                self.note(text)

        if self._status is not None:  # inside a step already: its spinner shows the bytes
            yield advance
            return
        with self.step(f"{name} ({format_bytes(total_bytes)})"):
            yield advance

    def note(self, message: str) -> None:
        if self.enabled:
            print(f"[xporter] {message}", file=self.stream, flush=True)

    def warn(self, message: str) -> None:
        """Something the user should know although the export goes on (a logging warning when the display is off)."""
        if self.enabled:
            print(f"xporter: warning: {message}", file=self.stream, flush=True)
        else:
            import logging

            logging.getLogger("xporter").warning(message)
