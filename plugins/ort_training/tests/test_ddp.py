"""The ORTTrainer example under torchrun --nproc_per_node 2 (gloo DDP on CPU)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "train_classification.py"


def _torchrun(tmp_path, name, *extra):
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or "torchrun"
    # --standalone: a rendezvous on a free local port, so back-to-back runs never collide on one
    # (a fixed port failed with EADDRINUSE while the previous run's socket was still closing)
    command = [torchrun, "--standalone", "--nproc_per_node", "2",
               str(EXAMPLE), "--output", str(tmp_path / name), "--max-steps", "10", *extra]
    try:
        # ~10 s when the machine is idle; the generous limit covers a loaded 2-core CI box, and the
        # example's ddp_timeout turns a stalled collective into an error well before it
        out = subprocess.run(command, capture_output=True, text=True, timeout=480)
    except subprocess.TimeoutExpired as exc:
        stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        pytest.fail(f"torchrun {name} did not finish in 480 s; stderr tail:\n{stderr[-3000:]}")
    assert out.returncode == 0, out.stderr[-3000:]
    line = next(l for l in out.stdout.splitlines() if l.startswith("{\"world_size\""))
    return json.loads(line)


@pytest.mark.usefixtures("ort_ready")
def test_two_process_ortrainer_matches_pytorch_ddp(tmp_path):
    ort = _torchrun(tmp_path, "ort")
    assert ort["world_size"] == 2
    assert ort["ort_active"] == [True, True], "a rank fell back to PyTorch"
    assert ort["wrapped"] == "DistributedDataParallel"
    pytorch = _torchrun(tmp_path, "pt", "--pytorch")
    assert np.max(np.abs(np.array(ort["losses"]) - np.array(pytorch["losses"]))) < 1e-3
