"""Errors specific to the TFLite plugin (all derive from xporter's root error)."""

from __future__ import annotations

from xporter.errors import XporterError


class StaticShapeError(XporterError, ValueError):
    """A static size TFLite needs (batch size, sequence length ...) was not given."""


class CalibrationError(XporterError, ValueError):
    """The calibration data for full-integer quantization cannot be read or used."""
