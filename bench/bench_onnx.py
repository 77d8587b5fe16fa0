"""Benchmark the ONNX exporter on the bundled all-MiniLM-L6-v2 (real weights, offline).

(a) ``xporter export onnx`` (export + validate) wall time and peak RSS, in a subprocess;
(b) onnxruntime vs PyTorch eager latency at batch 1 and 32, seq 128 (medians), for the
    plain export and the ``--optimize O2`` one;
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


def interleaved_medians(fns: dict, repeats: int) -> dict:
    """Median seconds per callable, timed in interleaved rounds (one call of each per round) after
    one warm-up call each, so load or frequency drift on a shared machine hits all sides alike."""
    for fn in fns.values():
        fn()
    samples = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in samples.items()}


def bench_latency(model_dir: Path, export_dir: Path, repeats: int):
    import onnxruntime as ort
    import torch
    from transformers import BertModel

    model = BertModel.from_pretrained(str(model_dir)).eval()
    results = {}
    sessions = {name: ort.InferenceSession(str(export_dir / name), providers=["CPUExecutionProvider"])
                for name in ("model.onnx", "model_optimized.onnx")}
    for batch in (1, 32):
        torch.manual_seed(batch)
        ids = torch.randint(1000, 20000, (batch, 128))
        mask = torch.ones_like(ids)
        feed = {"input_ids": ids.numpy(), "attention_mask": mask.numpy()}

        def eager():
            with torch.inference_mode():
                model(input_ids=ids, attention_mask=mask)

        fns = {"eager": eager}
        for name, session in sessions.items():
            fns["onnx" if name == "model.onnx" else "onnx_O2"] = (lambda s=session: s.run(None, feed))
        medians = interleaved_medians(fns, repeats)
        row = {"eager_ms": medians["eager"] * 1e3}
        for key in ("onnx", "onnx_O2"):
            row[f"{key}_ms"] = medians[key] * 1e3
            row[f"{key}_speedup"] = medians["eager"] / medians[key]
        results[f"batch{batch}"] = row
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="export runs per side (medians)")
    parser.add_argument("--latency-repeats", type=int, default=20)
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
        latency = bench_latency(model_dir, work / "o2", args.latency_repeats)
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
              f"({row['onnx_speedup']:.2f}x) | onnx O2 {row['onnx_O2_ms']:.2f} ms ({row['onnx_O2_speedup']:.2f}x)")
    print(f"machine: {os.cpu_count()} cpus, load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
