"""Export a checkpoint with Optimum 1.27's ``main_export`` (export + validation), for side-by-side timing.

    .venvs/tx457/bin/pip install --no-deps --target /tmp/optimum-1.27 optimum==1.27.0
    HF_HUB_OFFLINE=1 .venvs/tx457/bin/python bench/optimum_export.py /tmp/optimum-1.27 CHECKPOINT OUT TASK

Runs in the transformers 4.57 venv (Optimum 1.27 predates transformers 5), with two torch 2.13
shims applied before optimum is imported: the moved TorchScript helpers (``optimum_load.py``), and
``torch.onnx.export(dynamo=False)`` as the default: torch 2.9 made the dynamo exporter the default,
which Optimum 1.27 never asks for and whose external-data layout it cannot clean up after.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main() -> None:
    optimum_path, checkpoint, output, task = sys.argv[1:5]
    sys.path.insert(0, optimum_path)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from optimum_load import shim_torch_onnx

    shim_torch_onnx()
    import torch.onnx

    torchscript_export = torch.onnx.export

    def export(*args, **kwargs):
        kwargs.setdefault("dynamo", False)
        return torchscript_export(*args, **kwargs)

    torch.onnx.export = export
    from optimum.exporters.onnx import main_export

    main_export(checkpoint, output, task=task, do_validation=True)


if __name__ == "__main__":
    main()
