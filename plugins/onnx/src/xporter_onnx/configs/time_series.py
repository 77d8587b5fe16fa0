"""Time-series transformers (PatchTST, PatchTSMixer), as data.

Both take ``past_values`` of exactly (batch, context_length, num_input_channels): the
patcher unfolds context_length into a fixed number of patches whose position table and
mixer MLPs are sized at construction, so only the batch axis is dynamic (as in Optimum).
``time-series-forecasting`` loads ``*ForPrediction`` (named in ``MODEL_CLASSES``: the core's
AutoModelForTimeSeriesPrediction maps neither) and outputs ``prediction_outputs``.
"""

from __future__ import annotations

import contextlib
from typing import Any

from ..base import OnnxConfig
from . import Arch
from .extra_inputs import DummyTimeSeriesInputGenerator

BATCH = {0: "batch_size"}


def _patchify_forward(module: Any):
    """The patcher's forward with ``unfold`` on the positive time axis.

    transformers calls ``unfold(dimension=-2)``; TorchScript's ONNX symbolic for unfold
    re-inserts the window axis at ``dimension`` *after* moving the window to the end (one
    rank up), so -2 lands one axis too far right: patches and channels come out swapped and
    ONNX Runtime rejects the graph at the position-encoding Add (PatchTST) or the patch-mixer
    MatMul (PatchTSMixer). Axis 1 is the same axis for the 3-D input, and exports right.
    """

    def forward(past_values):
        windows = past_values[:, module.sequence_start:, :].unfold(1, module.patch_length, module.patch_stride)
        return windows.transpose(-2, -3).contiguous()

    return forward


class PatchTimeSeriesOnnxConfig(OnnxConfig):
    """PatchTST / PatchTSMixer: past_values in; last_hidden_state or prediction_outputs out."""

    INPUTS = {"past_values": dict(BATCH)}
    OUTPUTS = {"feature-extraction": {"last_hidden_state": dict(BATCH)},
               "time-series-forecasting": {"prediction_outputs": dict(BATCH)}}
    DUMMY_INPUT_GENERATOR_CLASSES = (DummyTimeSeriesInputGenerator,)
    VALIDATION_SHAPES = {"batch_size": 3}

    @contextlib.contextmanager
    def export_context(self, model: Any):
        patchers = [m for m in model.modules()
                    if type(m).__name__.endswith("Patchify") and hasattr(m, "sequence_start")]
        for patcher in patchers:
            patcher.forward = _patchify_forward(patcher)
        try:
            yield
        finally:
            for patcher in patchers:
                del patcher.forward


TASKS = ("feature-extraction", "time-series-forecasting")


def _forecaster(prefix: str) -> dict:
    """AutoModelForTimeSeriesPrediction (the core's class for the task) maps only TimesFM:
    name the forecasting head, as Optimum's task manager does for these two."""
    return dict(MODEL_CLASSES={"time-series-forecasting": f"{prefix}ForPrediction"})


# context 32 in patches of 8 (stride 8): 4 patches per channel
TINY_SERIES = dict(context_length=32, prediction_length=6, num_input_channels=3, patch_length=8, patch_stride=8,
                   d_model=16, num_hidden_layers=2)

ARCHITECTURES = [
    Arch("patchtst", TASKS, PatchTimeSeriesOnnxConfig, _forecaster("PatchTST"),
         tiny=dict(TINY_SERIES, num_attention_heads=2, ffn_dim=32)),
    Arch("patchtsmixer", TASKS, PatchTimeSeriesOnnxConfig, _forecaster("PatchTSMixer"),
         tiny=dict(TINY_SERIES, num_layers=2)),
]
