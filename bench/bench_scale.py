"""Peak memory and wall time of ``xporter export onnx`` on random llamas of growing size.

    .venvs/main/bin/python bench/bench_scale.py                 # 250M and 1B
    .venvs/main/bin/python bench/bench_scale.py --sizes 250M 1B 2B

Each size: a random LlamaForCausalLM (fp32 safetensors, built once under --work) is exported
with ``--task text-generation-with-past`` (export + validation) by the CLI in a child
process; its peak RSS comes from ``wait4`` (ru_maxrss), so nothing runs beside it in the
measured process. Prints weights bytes, peak RSS, peak / weights, wall time; medians over
``--repeats``. The 2B case needs ~24 GB and is not run by CI (nor by default).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

# hidden, layers, intermediate, vocab -> about the named parameter count
SIZES = {
    "250M": dict(hidden_size=1024, num_hidden_layers=14, intermediate_size=4096, vocab_size=32000),
    "1B": dict(hidden_size=2048, num_hidden_layers=16, intermediate_size=5632, vocab_size=32000),
    "2B": dict(hidden_size=2560, num_hidden_layers=20, intermediate_size=6912, vocab_size=32000),
}


def build(size: str, work: Path) -> Path:
    folder = work / f"llama-{size}"
    if (folder / "config.json").is_file():
        return folder
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(num_attention_heads=16, num_key_value_heads=8, max_position_embeddings=512,
                         tie_word_embeddings=False, **SIZES[size])
    with torch.device("meta"):
        meta = LlamaForCausalLM(config)
    model = LlamaForCausalLM(config).eval()  # materialised once here, in the parent, before any measurement
    del meta
    model.save_pretrained(folder, safe_serialization=True)
    return folder


def weight_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("*.safetensors"))


def measure(folder: Path, out: Path) -> tuple:
    """(peak RSS bytes, wall seconds) of one CLI export into ``out``."""
    xporter = str(Path(sys.executable).with_name("xporter"))
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    started = time.perf_counter()
    proc = subprocess.Popen([xporter, "export", "onnx", "-m", str(folder), str(out), "--task",
                             "text-generation-with-past", "--overwrite"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    err = proc.stderr.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"export of {folder.name} failed:\n{err}")
    return usage.ru_maxrss * 1024, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["250M", "1B"], choices=sorted(SIZES))
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--work", type=Path, default=Path("/tmp/xporter-bench-scale"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    print(f"{'model':<12}{'weights GiB':>12}{'peak RSS GiB':>14}{'peak/weights':>14}{'wall s':>9}")
    for size in args.sizes:
        folder = build(size, args.work)
        runs = [measure(folder, args.work / f"out-{size}") for _ in range(args.repeats)]
        peak = statistics.median(r[0] for r in runs)
        wall = statistics.median(r[1] for r in runs)
        weights = weight_bytes(folder)
        print(f"llama-{size:<6}{weights / 2**30:>12.2f}{peak / 2**30:>14.2f}{peak / weights:>14.2f}{wall:>9.1f}",
              flush=True)


if __name__ == "__main__":
    main()
