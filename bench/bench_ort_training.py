"""Step time: PyTorch Trainer vs ORTTrainer (ORTModule) vs training artifacts (onnxruntime.training.api).

Same model (BERT for sequence classification, eager attention, dropout 0), same batch, same
optimizer (AdamW). Each Trainer step is timed between ``on_step_begin`` and ``on_step_end``
(forward + backward + optimizer step); the artifact path times ``train_step``
(forward/backward + optimizer). Medians after warm-up; ratios are ORT / PyTorch.

    python bench/bench_ort_training.py                    # tiny and medium BERT
    python bench/bench_ort_training.py --sizes 256x4x128  # hidden x layers x sequence
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path


def _dataset(n, seq, vocab):
    from xporter_ort_training.testing import ListDataset, separable_examples

    return ListDataset(separable_examples(n, seq=seq, vocab=vocab))


def _model(hidden, layers):
    from xporter_ort_training.testing import tiny_model

    return tiny_model("bert", hidden=hidden, layers=layers, vocab=1000)


def _trainer_step_times(trainer_cls, args_cls, hidden, layers, seq, batch, steps, warmup, out):
    from transformers import TrainerCallback

    times, start = [], {}

    class Timer(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            start["t"] = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            times.append(time.perf_counter() - start["t"])

    args = args_cls(output_dir=str(out), max_steps=steps + warmup, per_device_train_batch_size=batch,
                    learning_rate=1e-4, report_to="none", save_strategy="no", logging_strategy="no", seed=0,
                    use_cpu=True, disable_tqdm=True, dataloader_pin_memory=False)
    trainer = trainer_cls(model=_model(hidden, layers), args=args, callbacks=[Timer()],
                          train_dataset=_dataset(batch * 4, seq, 1000))
    trainer.train()
    if hasattr(trainer, "ort_backend_active") and not trainer.ort_backend_active():
        raise SystemExit("ORTTrainer fell back to PyTorch: the benchmark would be meaningless")
    return times[warmup:]


def _artifact_step_times(hidden, layers, seq, batch, steps, warmup, out):
    import numpy as np

    from xporter_ort_training.artifact_training import ArtifactTrainer
    from xporter_ort_training.artifacts import generate_training_artifacts, resolve_config

    model = _model(hidden, layers)
    generate_training_artifacts(model, resolve_config(model, "text-classification"), out, sequence_length=seq)
    trainer = ArtifactTrainer(out, learning_rate=1e-4)
    rows = _dataset(batch, seq, 1000).rows
    feeds = {k: np.stack([r[k].numpy() for r in rows]) for k in rows[0]}
    feeds["token_type_ids"] = np.zeros_like(feeds["input_ids"])
    times = []
    for _ in range(steps + warmup):
        t = time.perf_counter()
        trainer.train_step(feeds)
        times.append(time.perf_counter() - t)
    return times[warmup:]


def bench(hidden, layers, seq, batch, steps, warmup, rounds):
    """Interleave the three paths for ``rounds`` rounds, so load from other processes on a
    shared machine hits all of them alike; medians over all timed steps."""
    from transformers import Trainer, TrainingArguments

    from xporter_ort_training import ORTTrainer, ORTTrainingArguments

    pt, ort, art = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for r in range(rounds):
            (tmp / f"art{r}").mkdir()
            pt += _trainer_step_times(Trainer, TrainingArguments, hidden, layers, seq, batch, steps, warmup,
                                      tmp / f"pt{r}")
            ort += _trainer_step_times(ORTTrainer, ORTTrainingArguments, hidden, layers, seq, batch, steps, warmup,
                                       tmp / f"ort{r}")
            art += _artifact_step_times(hidden, layers, seq, batch, steps, warmup, tmp / f"art{r}")
    med = {name: statistics.median(values) * 1000 for name, values in
           (("pytorch_trainer_ms", pt), ("ort_trainer_ms", ort), ("artifacts_ms", art))}
    return {
        "model": f"bert hidden={hidden} layers={layers}", "sequence": seq, "batch": batch,
        "timed_steps_per_path": len(pt),
        **{k: round(v, 3) for k, v in med.items()},
        "ort_trainer_vs_pytorch": round(med["ort_trainer_ms"] / med["pytorch_trainer_ms"], 3),
        "artifacts_vs_pytorch": round(med["artifacts_ms"] / med["pytorch_trainer_ms"], 3),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["32x2x16", "256x4x128"], help="hidden x layers x sequence")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per path")
    args = parser.parse_args()
    import os

    os.environ.setdefault("ORTMODULE_LOG_LEVEL", "ERROR")
    import torch

    results = []
    for size in args.sizes:
        hidden, layers, seq = (int(x) for x in size.split("x"))
        results.append(bench(hidden, layers, seq, args.batch, args.steps, args.warmup, args.rounds))
        print(json.dumps(results[-1]), flush=True)
    print(f"torch threads: {torch.get_num_threads()}; target: ORT paths <= 1.0x PyTorch step time")


if __name__ == "__main__":
    main()
