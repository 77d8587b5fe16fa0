"""Benchmark the ONNX exporter on the bundled all-MiniLM-L6-v2 (real weights, offline).

(a) ``xporter export onnx`` (export + validate) wall time and peak RSS, in a subprocess;
(b) onnxruntime vs PyTorch eager latency at batch 1 and 32, seq 128 (medians), for the
    plain export and the ``--optimize O2`` one, each side alone in its own process;
(c) the floor: a subprocess doing only ``AutoModel.from_pretrained`` + ``torch.onnx.export``
    (same TorchScript exporter and opset), and the ratios CLI / floor.

Run: ``python bench/bench_onnx.py [--repeats N] [--json]``. Targets: ONNX never slower than
eager; O2 >= 1.3x faster than eager at batch 1; CLI time <= floor; CLI RSS <= 1.05x floor.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

BIN = Path(sys.executable).parent

FLOOR_SCRIPT = textwrap.dedent("""
    import sys, torch
    from transformers import AutoModel
    model = AutoModel.from_pretrained(sys.argv[1]).eval()

    class Plain(torch.nn.Module):  # the minimal adapter torch.onnx.export needs for keyword inputs
        def __init__(self, m):
            super().__init__()
            self.m = m
        def forward(self, input_ids, attention_mask):
            return self.m(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    ids = torch.ones(2, 16, dtype=torch.long)
    torch.onnx.export(Plain(model).eval(), (ids, torch.ones_like(ids)), sys.argv[2], dynamo=False, opset_version=14,
                      input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
                      dynamic_axes={"input_ids": {0: "b", 1: "s"}, "attention_mask": {0: "b", 1: "s"}})
""")


def timed_subprocess(argv, env=None):
    """(seconds, peak RSS in MiB) of a child process (ru_maxrss of the waited child)."""
    import resource

    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    stderr = proc.stderr.read()
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{argv[0]} failed:\n{stderr[-3000:]}")
    return elapsed, usage.ru_maxrss / 1024


def bench_export(model_dir: Path, work: Path, repeats: int):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    cli, floor = [], []
    floor_script = work / "floor.py"
    floor_script.write_text(FLOOR_SCRIPT)
    for i in range(repeats):  # interleaved so machine load hits both alike
        cli.append(timed_subprocess([str(BIN / "xporter"), "export", "onnx", "-m", str(model_dir),
                                     str(work / f"cli{i}"), "--overwrite"], env))
        floor.append(timed_subprocess([sys.executable, str(floor_script), str(model_dir), str(work / f"floor{i}.onnx")],
                                      env))
    pick = lambda runs, k: statistics.median(r[k] for r in runs)  # noqa: E731
    return {"cli_s": pick(cli, 0), "cli_rss_mib": pick(cli, 1), "floor_s": pick(floor, 0),
            "floor_rss_mib": pick(floor, 1), "runs": repeats}


LATENCY_WORKER = textwrap.dedent("""
    import json, statistics, sys, time
    side, source, batch, iterations = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    import numpy as np
    ids = np.random.default_rng(batch).integers(1000, 20000, (batch, 128))
    mask = np.ones_like(ids)
    if side == "eager":
        import torch
        from transformers import BertModel
        model = BertModel.from_pretrained(source).eval()
        tids, tmask = torch.from_numpy(ids), torch.from_numpy(mask)
        def call():
            with torch.inference_mode():
                model(input_ids=tids, attention_mask=tmask)
    else:
        import onnxruntime as ort
        session = ort.InferenceSession(source, providers=["CPUExecutionProvider"])
        feed = {"input_ids": ids, "attention_mask": mask}
        call = lambda: session.run(None, feed)
    call(); call()
    times = []
    for _ in range(iterations):
        start = time.perf_counter(); call(); times.append(time.perf_counter() - start)
    print(json.dumps(statistics.median(times)))
""")


def latency_rounds(sides: dict, batch: int, rounds: int, iterations: int, work: Path) -> dict:
    """Per side, the median call time of each round. Every side runs alone in its own process
    (a torch process and ONNX Runtime sessions sharing one would fight over the 2 cores:
    ORT's pool threads spin after a run, OpenMP's too), one process per side per round, the
    order rotating every round so machine drift hits all sides alike."""
    script = work / "latency_worker.py"
    script.write_text(LATENCY_WORKER)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    names = list(sides)
    samples = {name: [] for name in names}
    for round_index in range(rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            side, source = sides[name]
            out = subprocess.run([sys.executable, str(script), side, str(source), str(batch), str(iterations)], env=env,
                                 capture_output=True, text=True, check=True).stdout
            samples[name].append(float(out.strip().splitlines()[-1]))
    return samples


def paired_speedup(baseline: list, candidate: list) -> float:
    """Median over rounds of baseline/candidate measured in the same round: steadier than a
    ratio of medians when the machine drifts between rounds."""
    return statistics.median(b / c for b, c in zip(baseline, candidate))


def bench_latency(model_dir: Path, export_dir: Path, rounds: int, work: Path):
    sides = {"eager": ("eager", model_dir), "onnx": ("onnx", export_dir / "model.onnx"),
             "onnx_O2": ("onnx", export_dir / "model_optimized.onnx")}
    results = {}
    for batch, iterations in ((1, 50), (32, 10)):
        samples = latency_rounds(sides, batch, rounds, iterations, work)
        row = {"eager_ms": statistics.median(samples["eager"]) * 1e3, "rounds": rounds, "iterations": iterations}
        for key in ("onnx", "onnx_O2"):
            row[f"{key}_ms"] = statistics.median(samples[key]) * 1e3
            row[f"{key}_speedup"] = paired_speedup(samples["eager"], samples[key])
            row[f"{key}_speedup_min"] = min(b / c for b, c in zip(samples["eager"], samples[key]))
        results[f"batch{batch}"] = row
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="export runs per side (medians)")
    parser.add_argument("--latency-rounds", type=int, default=5, help="processes per side and batch")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    os.environ["HF_HUB_OFFLINE"] = "1"
    from xporter_onnx.demo import minilm_path
    from xporter_onnx.exporter import export

    model_dir = minilm_path()
    with tempfile.TemporaryDirectory(prefix="bench-onnx-") as tmp:
        work = Path(tmp)
        export_stats = bench_export(model_dir, work, args.repeats)
        export(model_dir, work / "o2", optimize="O2")
        latency = bench_latency(model_dir, work / "o2", args.latency_rounds, work)
    results = {"export": export_stats, "latency": latency,
               "ratios": {"cli_over_floor_time": export_stats["cli_s"] / export_stats["floor_s"],
                          "cli_over_floor_rss": export_stats["cli_rss_mib"] / export_stats["floor_rss_mib"]},
               "machine": {"cpus": os.cpu_count(), "loadavg": os.getloadavg()}}
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    e, r = export_stats, results["ratios"]
    print(f"(a) CLI export+validate: {e['cli_s']:.2f} s, peak RSS {e['cli_rss_mib']:.0f} MiB (median of {e['runs']})")
    print(f"(c) floor from_pretrained+torch.onnx.export: {e['floor_s']:.2f} s, peak RSS {e['floor_rss_mib']:.0f} MiB")
    print(f"    CLI/floor: time {r['cli_over_floor_time']:.2f}x (target <= 1.00), RSS {r['cli_over_floor_rss']:.2f}x "
          "(target <= 1.05)")
    for batch, row in latency.items():
        print(f"(b) {batch} seq128: eager {row['eager_ms']:.2f} ms | onnx {row['onnx_ms']:.2f} ms "
              f"({row['onnx_speedup']:.2f}x) | onnx O2 {row['onnx_O2_ms']:.2f} ms ({row['onnx_O2_speedup']:.2f}x)"
              f"  [{row['rounds']} rounds x {row['iterations']} calls, one process per side and round; speedup = median "
              f"of per-round eager/onnx, worst round {row['onnx_speedup_min']:.2f}x / {row['onnx_O2_speedup_min']:.2f}x]")
    print(f"machine: {os.cpu_count()} cpus, load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
