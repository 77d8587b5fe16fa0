"""Argument checks for an ONNX export, run before anything is loaded.

The shared ones (shapes, tolerance) live in :mod:`xporter.arguments` and run when the options
object is made (:mod:`xporter.options`); here the opset ranges
of the two torch exporters (``--opset 0`` used to export 14 and ``--dynamo --opset 12``
18, silently) and the device.
"""

from __future__ import annotations

from typing import Optional

from xporter.errors import ExportError, FrameworkError

# opsets each torch.onnx exporter can write (torch 2.13: TorchScript 7-20, dynamo 18-23);
# below 9 none of the tables' architectures export (no dynamic Slice / Where)
TORCHSCRIPT_OPSETS = (9, 20)
DYNAMO_OPSETS = (18, 23)


def check_opset(opset: Optional[int], dynamo: bool) -> None:
    if opset is None:
        return
    low, high = DYNAMO_OPSETS if dynamo else TORCHSCRIPT_OPSETS
    if not low <= opset <= high:
        exporter = "the dynamo exporter (--dynamo)" if dynamo else "the TorchScript exporter"
        other = (" or drop --dynamo" if dynamo and opset < low else
                 " or add --dynamo" if not dynamo and DYNAMO_OPSETS[0] <= opset <= DYNAMO_OPSETS[1] else "")
        raise ExportError(f"--opset {opset} is not supported by {exporter}: it writes opsets {low} to {high}",
                          f"pass an opset in {low}..{high}{other}, or leave --opset out for the architecture's default")


def check_device(device: str) -> None:
    """``cpu`` always; ``cuda[:N]`` only with a visible GPU N (torch is imported, no model is)."""
    kind, _, index = str(device).partition(":")
    if kind == "cpu" and not index:
        return
    if kind != "cuda" or (index and not index.isdigit()):
        raise FrameworkError(f"unknown --device '{device}'", "pass cpu, cuda or cuda:N")
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0:
        raise FrameworkError(f"--device {device}: no CUDA GPU is visible to torch "
                             f"(torch {torch.__version__}, CUDA build: {torch.version.cuda or 'no'})",
                             "pass --device cpu, or install a CUDA build of torch on a machine with a GPU")
    if index and int(index) >= count:
        raise FrameworkError(f"--device {device}: only {count} GPU(s) visible", f"pass cuda:0 .. cuda:{count - 1}")


def check_export_arguments(*, opset: Optional[int], device: str, dynamo: bool) -> None:
    """The checks above, in the order a user reads the flags (shapes and the tolerance were checked
    when the :class:`xporter.options.OnnxExportOptions` was made)."""
    check_opset(opset, dynamo)
    check_device(device)
