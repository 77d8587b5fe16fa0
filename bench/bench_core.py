"""Cold-process wall time of the core's hot paths (issue 2 target: <= 0.3 s each).

Measures, in fresh interpreter processes, median of N runs:
  * `python -c pass`                               (the interpreter floor, for context)
  * `xporter tasks`                                (console script, full table)
  * `TasksManager.get_supported_tasks_for_model_type("distilbert", "onnx")`
    (loads the onnx plugin through its entry point)

Usage: python bench/bench_core.py [--runs 7] [--backend onnx]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

TARGET_S = 0.3


def cold(cmd: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--backend", default="onnx")
    args = parser.parse_args()
    xporter = shutil.which("xporter", path=os.path.dirname(sys.executable)) or "xporter"
    query = ("from xporter import TasksManager; "
             f"TasksManager.get_supported_tasks_for_model_type('distilbert', '{args.backend}')")
    cold([sys.executable, "-c", query], 1)  # warm the OS file cache once
    floor = cold([sys.executable, "-c", "pass"], args.runs)
    rows = [
        ("python -c pass (floor)", floor),
        ("xporter tasks", cold([xporter, "tasks"], args.runs)),
        (f"get_supported_tasks_for_model_type('distilbert', '{args.backend}')", cold([sys.executable, "-c", query], args.runs)),
    ]
    print(f"median of {args.runs} cold runs (target <= {TARGET_S:.2f} s)")
    ok = True
    for name, seconds in rows:
        verdict = "" if name.endswith("(floor)") else ("  OK" if seconds <= TARGET_S else "  OVER TARGET")
        ok &= seconds <= TARGET_S or name.endswith("(floor)")
        print(f"  {name:<60} {seconds:6.3f} s  ({seconds / floor:4.1f}x interpreter floor){verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
