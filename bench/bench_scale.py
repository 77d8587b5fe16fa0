"""Peak memory and wall time of ``xporter export onnx`` on random llamas of growing size.

    .venvs/main/bin/python bench/bench_scale.py                 # 250M and 1B
    .venvs/main/bin/python bench/bench_scale.py --sizes 250M 1B 2B
    .venvs/main/bin/python bench/bench_scale.py --sizes 250M --checkpoint-dtype fp16   # half checkpoint
    .venvs/main/bin/python bench/bench_scale.py --arch t5 --sizes 250M   # seq2seq, merged decoder

Each size: a random LlamaForCausalLM (fp32 safetensors, built once under --work) is exported
with ``--task text-generation-with-past`` (export + validation) by the CLI in a child
process (``--arch t5``: a random T5ForConditionalGeneration (LM head tied to the embeddings, as t5-base), exported with
``--task text2text-generation-with-past``: encoder + decoder with past, merged into one decoder); its peak RSS comes from ``wait4`` (ru_maxrss), so nothing runs beside it in the
measured process. Prints weights bytes, peak RSS, peak / weights, wall time; medians over
``--repeats``. ``--max-ratio 1.5`` makes it exit 1 when a peak exceeds 1.5x the weights (the
issue-12 bound; the only memory assertion: unit tests never measure memory). A watchdog kills
the child above ``--rss-limit-gib`` (default 16) so a regression cannot take the machine down.
The 2B case (8 GB of weights, ~12 GB peak) is not run by CI (nor by default).

``--optimum /tmp/optimum-1.27`` also times Optimum 1.27's ``main_export`` (export + validation,
same task) on the same checkpoint, alternating with xporter's runs, in the transformers 4.57 venv
(``--optimum-python``, default ``.venvs/tx457/bin/python``) through ``bench/optimum_export.py``
(which applies the torch 2.13 shim), and prints xporter / Optimum for wall time and peak RSS:

    .venvs/tx457/bin/pip install --no-deps --target /tmp/optimum-1.27 optimum==1.27.0
    .venvs/main/bin/python bench/bench_scale.py --sizes 250M --repeats 3 --optimum /tmp/optimum-1.27
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

# hidden, layers, intermediate, vocab -> about the named parameter count
SIZES = {
    "250M": dict(hidden_size=1024, num_hidden_layers=14, intermediate_size=4096, vocab_size=32000),
    "1B": dict(hidden_size=2048, num_hidden_layers=16, intermediate_size=5632, vocab_size=32000),
    "2B": dict(hidden_size=2560, num_hidden_layers=26, intermediate_size=6912, vocab_size=32000),
}
# d_model, layers (encoder and decoder each), d_ff, heads, vocab -> about the named parameter count
T5_SIZES = {
    "250M": dict(d_model=768, num_layers=14, d_ff=3072, num_heads=12, vocab_size=32128),
    "1B": dict(d_model=1536, num_layers=16, d_ff=6144, num_heads=16, vocab_size=32128),
    "2B": dict(d_model=2048, num_layers=18, d_ff=8192, num_heads=32, vocab_size=32128),
}
TASKS = {"llama": "text-generation-with-past", "t5": "text2text-generation-with-past"}


def _random_model_config(arch: str, size: str):
    """The transformers config and model class of a random ``arch`` model of ``size``."""
    if arch == "t5":
        from transformers import T5Config, T5ForConditionalGeneration

        return T5Config(decoder_start_token_id=0, **T5_SIZES[size]), \
            T5ForConditionalGeneration
    from transformers import LlamaConfig, LlamaForCausalLM

    return LlamaConfig(num_attention_heads=16, num_key_value_heads=8, max_position_embeddings=512,
                       tie_word_embeddings=False, **SIZES[size]), LlamaForCausalLM


def build(size: str, work: Path, dtype: str = "fp32", arch: str = "llama") -> Path:
    """A random ``arch`` model of ``size`` saved as ``dtype`` safetensors, written tensor by tensor (a 2B
    model is 8 GB: ``save_pretrained`` would hold it twice in memory on a machine shared with others)."""
    folder = work / (f"{arch}-{size}" if dtype == "fp32" else f"{arch}-{size}-{dtype}")
    if (folder / "model.safetensors").is_file():
        return folder
    import torch

    config, model_class = _random_model_config(arch, size)
    with torch.device("meta"):  # parameters once each: T5's tied input embeddings are one tensor
        shapes = {name: tuple(t.shape) for name, t in model_class(config).named_parameters()}
    folder.mkdir(parents=True, exist_ok=True)
    config.save_pretrained(folder)
    if dtype == "fp16":  # what a half checkpoint's config.json says (4.x and 5.x spellings)
        import json

        saved = json.loads((folder / "config.json").read_text())
        saved.update(torch_dtype="float16", dtype="float16")
        (folder / "config.json").write_text(json.dumps(saved, indent=2))
    std = getattr(config, "initializer_range", 0.02)  # T5 has initializer_factor (1.0) instead
    write_random_safetensors(folder / "model.safetensors", shapes, std, dtype)
    return folder


def write_random_safetensors(path: Path, shapes: dict, std: float, dtype: str = "fp32") -> None:
    """safetensors layout (8-byte header length, JSON header, raw little-endian data), one tensor
    in memory at a time: norms are ones, everything else N(0, std) as transformers initialises."""
    import json

    import torch

    tag, size, torch_dtype = ("F16", 2, torch.float16) if dtype == "fp16" else ("F32", 4, torch.float32)
    header, offset = {}, 0
    for name, shape in shapes.items():
        n_bytes = size * int(torch.Size(shape).numel())
        header[name] = {"dtype": tag, "shape": list(shape), "data_offsets": [offset, offset + n_bytes]}
        offset += n_bytes
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    generator = torch.Generator().manual_seed(0)
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as handle:
        handle.write(len(encoded).to_bytes(8, "little") + encoded)
        for name, shape in shapes.items():
            tensor = (torch.ones(shape) if name.endswith("norm.weight")
                      else torch.empty(shape).normal_(0.0, std, generator=generator)).to(torch_dtype)
            handle.write(memoryview(tensor.numpy()).cast("B"))
    partial.replace(path)


def weight_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("*.safetensors"))


def _watchdog(proc: subprocess.Popen, limit_bytes: int, tripped: list) -> None:
    """Kill ``proc`` when its RSS passes ``limit_bytes`` (other work shares this machine)."""
    while proc.poll() is None:
        try:
            rss = next(int(line.split()[1]) * 1024 for line in open(f"/proc/{proc.pid}/status")
                       if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            return
        if rss > limit_bytes:
            tripped.append(rss)
            proc.kill()
            return
        time.sleep(0.1)


def xporter_command(folder: Path, out: Path, task: str, extra: tuple = ()) -> list:
    return [str(Path(sys.executable).with_name("xporter")), "export", "onnx", "-m", str(folder), str(out), "--task",
            task, "--overwrite", *extra]


def optimum_command(python: str, optimum_path: str, folder: Path, out: Path, task: str) -> list:
    script = Path(__file__).resolve().with_name("optimum_export.py")
    return [python, str(script), optimum_path, str(folder), str(out), task]


def measure(command: list, folder: Path, limit_bytes: int) -> tuple:
    """(peak RSS bytes, wall seconds) of one export command run as a child process."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    started = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    tripped: list = []
    threading.Thread(target=_watchdog, args=(proc, limit_bytes, tripped), daemon=True).start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    err = proc.stderr.read().decode(errors="replace")
    if tripped:
        raise SystemExit(f"export of {folder.name} killed: RSS {tripped[0] / 2**30:.1f} GiB over the limit")
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"export of {folder.name} failed ({command[0]}):\n{err[-3000:]}")
    return usage.ru_maxrss * 1024, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["250M", "1B"], choices=sorted(SIZES))
    parser.add_argument("--arch", choices=sorted(TASKS), default="llama", help="decoder (llama) or seq2seq (t5)")
    parser.add_argument("--external-data", action="store_true", help="pass --external-data to xporter")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--work", type=Path, default=Path("/tmp/xporter-bench-scale"))
    parser.add_argument("--max-ratio", type=float, default=None, help="exit 1 when peak / weights exceeds this")
    parser.add_argument("--rss-limit-gib", type=float, default=16.0, help="kill the export above this RSS")
    parser.add_argument("--optimum", default=None, help="folder holding optimum 1.27 (pip --target): time it too")
    parser.add_argument("--checkpoint-dtype", choices=("fp32", "fp16"), default="fp32",
                        help="precision of the random checkpoint; fp16: xporter's default (--dtype auto) exports it "
                             "in fp16 without an fp32 copy, the ratio is to the fp16 weight bytes")
    parser.add_argument("--optimum-python",
                        default=str(Path(__file__).resolve().parents[1] / ".venvs/tx457/bin/python"))
    args = parser.parse_args()
    failed = []
    args.work.mkdir(parents=True, exist_ok=True)
    print(f"{'model':<12}{'tool':>9}{'params M':>10}{'weights GiB':>12}{'peak RSS GiB':>14}{'peak/weights':>14}"
          f"{'wall s':>9}")
    limit = int(args.rss_limit_gib * 2**30)
    for size in args.sizes:
        folder = build(size, args.work, args.checkpoint_dtype, args.arch)
        weights = weight_bytes(folder)
        task, extra = TASKS[args.arch], ("--external-data",) if args.external_data else ()
        commands = {"xporter": xporter_command(folder, args.work / f"out-{folder.name}", task, extra)}
        if args.optimum:
            commands["optimum"] = optimum_command(args.optimum_python, args.optimum, folder,
                                                  args.work / f"optimum-{folder.name}", task)
        runs: dict = {tool: [] for tool in commands}
        for _ in range(args.repeats):  # alternate the tools so machine load hits both alike
            for tool, command in commands.items():
                runs[tool].append(measure(command, folder, limit))
        medians = {tool: (statistics.median(r[0] for r in rs), statistics.median(r[1] for r in rs))
                   for tool, rs in runs.items()}
        for tool, (peak, wall) in medians.items():
            per_param = 2 if args.checkpoint_dtype == "fp16" else 4
            print(f"{folder.name:<12}{tool:>9}{weights / per_param / 1e6:>10,.0f}{weights / 2**30:>12.2f}{peak / 2**30:>14.2f}"
                  f"{peak / weights:>14.2f}{wall:>9.1f}", flush=True)
        if "optimum" in medians:
            (xp, xw), (op, ow) = medians["xporter"], medians["optimum"]
            print(f"{folder.name:<12} xporter / optimum: wall {xw / ow:.2f}x, peak RSS {xp / op:.2f}x "
                  f"(medians of {args.repeats})", flush=True)
        peak = medians["xporter"][0]
        if args.max_ratio is not None and peak / weights > args.max_ratio:
            failed.append(f"{folder.name}: peak {peak / weights:.2f}x the weights > {args.max_ratio}x")
    if failed:
        raise SystemExit("; ".join(failed))


if __name__ == "__main__":
    main()
