"""Train a tiny BERT classifier with ORTTrainer; runs alone or under torchrun (gloo DDP on CPU).

    torchrun --nproc_per_node 2 examples/train_classification.py --output /tmp/ort-ddp --max-steps 20

Rank 0 prints one JSON line: the losses, eval accuracy, world size, and whether ONNX
Runtime (not PyTorch) ran the training step on every rank.
"""

import argparse
import json
import os
import sys

import torch.distributed as dist
from transformers import Trainer

from xporter_ort_training import ORTTrainer, ORTTrainingArguments
from xporter_ort_training.testing import ListDataset, accuracy, separable_examples, tiny_model


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--output", required=True)
    parser.add_argument("--max-steps", type=int, default=20)
    parser.add_argument("--optim", default="adamw_torch")
    parser.add_argument("--pytorch", action="store_true", help="use transformers.Trainer (the baseline)")
    args = parser.parse_args()
    data = ListDataset(separable_examples(64))
    training_args = ORTTrainingArguments(
        output_dir=args.output, max_steps=args.max_steps, per_device_train_batch_size=8, learning_rate=2e-3,
        logging_steps=1, report_to="none", save_strategy="no", seed=0, use_cpu=True, disable_tqdm=True,
        ddp_backend="gloo" if int(os.environ.get("WORLD_SIZE", "1")) > 1 else None, optim=args.optim,
        dataloader_pin_memory=False,
        # a rank that stalls makes the collectives fail within two minutes (default: 30 min) instead of hanging
        ddp_timeout=120, ddp_find_unused_parameters=False,
    )
    trainer_cls = Trainer if args.pytorch else ORTTrainer
    trainer = trainer_cls(model=tiny_model("bert"), args=training_args, train_dataset=data, eval_dataset=data,
                         compute_metrics=accuracy)
    trainer.train()
    active = False if args.pytorch else trainer.ort_backend_active()
    metrics = trainer.evaluate()
    flags = [None] * training_args.world_size
    if dist.is_available() and dist.is_initialized():
        dist.all_gather_object(flags, active)
    else:
        flags = [active]
    if training_args.process_index == 0:
        losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
        print(json.dumps({"world_size": training_args.world_size, "ort_active": flags, "losses": losses,
                          "eval_accuracy": metrics["eval_accuracy"],
                          "wrapped": type(trainer.model_wrapped).__name__}), flush=True)
    if dist.is_available() and dist.is_initialized():
        # Every rank leaves together, then the process ends without Python/C++ teardown. Both teardown
        # orders fail with torch 2.13's gloo backend: freeing DDP's reducer joins the gloo worker thread
        # while holding the GIL, and that thread needs the GIL to free its last work item (a deadlock,
        # seen as a hung torchrun in CI); exiting with the group alive can abort in a static destructor
        # ("terminate called without an active exception"). The results are printed and flushed above.
        dist.barrier()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


if __name__ == "__main__":
    main()
