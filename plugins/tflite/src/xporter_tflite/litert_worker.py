"""Run a .tflite in a child process: ``python -m xporter_tflite.litert_worker MODEL IN.npz OUT.npz``.

Some converter outputs make the LiteRT runtime abort (a C++ ``abort()``, e.g. int8x16
models with float fallback on these versions); in-process that would kill the exporting
program. Isolated, an abort is just a non-zero exit that validation reports.
The child imports numpy and ai_edge_litert only (no TensorFlow), so it starts fast.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List

import numpy as np

SEPARATOR = "__"


class LiteRTCrash(RuntimeError):
    """The interpreter process died; the message holds its exit code and last stderr line."""


def run_isolated(model_path: str, batches: List[Dict[str, np.ndarray]], timeout: float = 600) -> List[Dict[str, np.ndarray]]:
    with tempfile.TemporaryDirectory(prefix="xporter-litert-") as tmp:
        inputs, outputs = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        np.savez(inputs, **{f"{i}{SEPARATOR}{k}": v for i, batch in enumerate(batches) for k, v in batch.items()})
        proc = subprocess.run([sys.executable, "-m", __name__, str(model_path), str(inputs), str(outputs)],
                              capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0 or not outputs.is_file():
            lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
            raise LiteRTCrash(f"the LiteRT interpreter failed on {Path(model_path).name} (exit code {proc.returncode})"
                              + (f": {lines[-1][:300]}" if lines else ""))
        return _unpack(np.load(outputs), len(batches))


def _unpack(archive, count: int) -> List[Dict[str, np.ndarray]]:
    results: List[Dict[str, np.ndarray]] = [{} for _ in range(count)]
    for key in archive.files:
        index, name = key.split(SEPARATOR, 1)
        results[int(index)][name] = archive[key]
    return results


def main(argv: List[str]) -> int:
    from .validate import LiteRTRunner

    model_path, inputs, outputs = argv
    archive = np.load(inputs)
    batches = _unpack(archive, 1 + max(int(k.split(SEPARATOR, 1)[0]) for k in archive.files))
    runner = LiteRTRunner(model_path)
    results = [runner(batch) for batch in batches]
    np.savez(outputs, **{f"{i}{SEPARATOR}{k}": v for i, result in enumerate(results) for k, v in result.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
