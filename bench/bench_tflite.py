"""Benchmark of the TFLite plugin on a small random BERT (~5.3M parameters, CPU).

Measures, each export in a fresh child process (so peak RSS is the export's own):
  * TFLite export (float32) and TF -> ONNX export: wall time of the export call, and peak RSS;
and, in this process, inference latency medians:
  * LiteRT interpreter vs TF eager (and TF graph) on the same inputs, printed as ratios.

Run: .venvs/tf/bin/python bench/bench_tflite.py [--repeats 50] [--sequence-length 128]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("USE_TORCH", "0")

BERT = dict(vocab_size=8000, hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024,
            max_position_embeddings=512, num_labels=2)

CHILD = r"""
import json, os, resource, sys, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
kind, model, out, batch, seq = sys.argv[1:6]
start = time.perf_counter()
import xporter_tflite
if kind == "tflite":
    xporter_tflite.export_tflite(model, out, task="text-classification", batch_size=int(batch), sequence_length=int(seq))
else:
    xporter_tflite.export_tf_to_onnx(model, out, task="text-classification", batch_size=int(batch), sequence_length=int(seq))
elapsed = time.perf_counter() - start
print(json.dumps({"seconds": elapsed, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def make_checkpoint(directory: Path) -> int:
    import tensorflow as tf
    from transformers import BertConfig, TFBertForSequenceClassification

    tf.keras.utils.set_random_seed(0)
    model = TFBertForSequenceClassification(BertConfig(**BERT))
    model(model.dummy_inputs, training=False)
    model.save_pretrained(directory)
    return model.count_params()


def run_child(kind: str, model: Path, out: Path, batch: int, seq: int) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, kind, str(model), str(out), str(batch), str(seq)],
                          capture_output=True, text=True, env={**os.environ, "USE_TORCH": "0"})
    if proc.returncode != 0:
        raise SystemExit(f"{kind} export failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def median_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def latency(model_dir: Path, tflite_path: Path, batch: int, seq: int, repeats: int) -> dict:
    import numpy as np
    import tensorflow as tf
    from transformers import TFBertForSequenceClassification

    from xporter_tflite.validate import LiteRTRunner

    model = TFBertForSequenceClassification.from_pretrained(model_dir)
    rng = np.random.default_rng(0)
    inputs = {"input_ids": rng.integers(5, BERT["vocab_size"], (batch, seq), dtype=np.int32),
              "attention_mask": np.ones((batch, seq), np.int32), "token_type_ids": np.zeros((batch, seq), np.int32)}
    tensors = {k: tf.constant(v) for k, v in inputs.items()}
    graph = tf.function(lambda **kw: model(**kw, training=False).logits)
    runner = LiteRTRunner(str(tflite_path))
    return {
        "tf_eager_ms": median_ms(lambda: model(**tensors, training=False).logits.numpy(), repeats),
        "tf_function_ms": median_ms(lambda: graph(**tensors).numpy(), repeats),
        "litert_ms": median_ms(lambda: runner(inputs), repeats),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--sequence-length", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-tflite-") as tmp:
        tmp = Path(tmp)
        params = make_checkpoint(tmp / "bert")
        print(f"model: random BERT, {params / 1e6:.1f}M parameters; batch {args.batch_size}, "
              f"sequence {args.sequence_length}; {os.cpu_count()} CPUs")
        tflite = run_child("tflite", tmp / "bert", tmp / "tflite", args.batch_size, args.sequence_length)
        onnx = run_child("onnx", tmp / "bert", tmp / "onnx", args.batch_size, args.sequence_length)
        print(f"TFLite export (fresh process, incl. imports+load+validate): {tflite['seconds']:.1f} s, "
              f"peak RSS {tflite['peak_rss_mb']:.0f} MB")
        print(f"TF->ONNX export (fresh process, incl. imports+load+validate): {onnx['seconds']:.1f} s, "
              f"peak RSS {onnx['peak_rss_mb']:.0f} MB")
        lat = latency(tmp / "bert", tmp / "tflite" / "model.tflite", args.batch_size, args.sequence_length,
                      args.repeats)
        print(f"latency medians over {args.repeats} runs: TF eager {lat['tf_eager_ms']:.2f} ms, "
              f"tf.function {lat['tf_function_ms']:.2f} ms, LiteRT {lat['litert_ms']:.2f} ms")
        print(f"ratios: LiteRT / TF eager = {lat['litert_ms'] / lat['tf_eager_ms']:.3f}; "
              f"LiteRT / tf.function = {lat['litert_ms'] / lat['tf_function_ms']:.3f}")
        print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
