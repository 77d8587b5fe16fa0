"""Step-by-step progress display (load, export, validate ...) for the CLI.

Uses rich when it is installed and the stream is a terminal; otherwise prints one plain
line per finished step to stderr, which keeps CI logs and ``--json`` stdout clean.
"""

from __future__ import annotations

import contextlib
import sys
import time
from typing import Iterator, List, Tuple


class Progress:
    """Reports named steps and how long each took."""

    def __init__(self, enabled: bool = True, stream=None) -> None:
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.timings: List[Tuple[str, float]] = []
        self._console = None
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
            with self._console.status(f"{name}..."):
                yield
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
