"""Exception types raised by xporter.

Every failure a user can cause derives from :class:`XporterError`, so the CLI can catch
one type and print a single line. Each message names the fix; ``hint`` carries the
"what to do" part separately so callers can render it however they like.
"""

from __future__ import annotations

from typing import Iterable, Optional


class XporterError(Exception):
    """Root of every error xporter raises on purpose."""

    def __init__(self, message: str, hint: Optional[str] = None):
        self.message = message
        self.hint = hint
        super().__init__(message if not hint else f"{message}; {hint}")


class UnknownTaskError(XporterError, KeyError):
    """A task name that is not in the taxonomy (or not supported by a model type)."""

    def __str__(self) -> str:  # KeyError would quote the message otherwise
        return Exception.__str__(self)


class UnknownModelTypeError(XporterError, KeyError):
    """A model type that no config is registered for on the requested backend."""

    def __str__(self) -> str:
        return Exception.__str__(self)


class UnknownBackendError(XporterError, KeyError):
    """A backend id that no installed plugin provides."""

    def __str__(self) -> str:
        return Exception.__str__(self)


class UnknownLibraryError(XporterError, ValueError):
    """A library name outside transformers / sentence_transformers / timm / diffusers."""


class RegistrationConflictError(XporterError):
    """A second config registered for the same (library, model_type, backend, task)."""


class PluginUnavailableError(XporterError):
    """The backend's plugin is installed but cannot be used (missing dependency, import error)."""


class ModelNotFoundError(XporterError, FileNotFoundError):
    """The model path or repo id cannot be resolved to files."""


class ModelConfigError(XporterError, ValueError):
    """The model's config.json is missing, unreadable or lacks a field xporter needs."""


class FrameworkError(XporterError, ValueError):
    """The framework cannot be determined, or the required one is not installed."""


class ExportError(XporterError, RuntimeError):
    """The export itself failed."""


class ValidationError(XporterError, RuntimeError):
    """The exported model does not match the source model within tolerance."""


class OutputPathError(XporterError, OSError):
    """The output location cannot be written, or would overwrite something."""


class ResourceError(XporterError, MemoryError):
    """The machine cannot hold the model (memory) or the export (disk); the message gives the numbers."""


def suggest(value: str, choices: Iterable[str]) -> str:
    """Return a "did you mean ...?" suffix for ``value`` against ``choices`` (or "")."""
    import difflib  # only needed on the error path

    matches = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{matches[0]}'?" if matches else ""


def choices_message(kind: str, value: str, choices: Iterable[str], limit: int = 40) -> tuple[str, str]:
    """Build (message, hint) for an unknown ``value`` of ``kind`` among ``choices``."""
    choices = sorted(set(choices))
    guess = suggest(value, choices)
    shown = ", ".join(choices[:limit]) + (" ..." if len(choices) > limit else "")
    message = f"unknown {kind} '{value}'"
    if guess:
        message += f"; {guess}"
    hint = f"valid {kind}s: {shown}" if choices else f"no {kind}s are available"
    return message, hint
