"""Shared helpers: train a tiny model with a given Trainer class on the separable dataset."""

import os

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ORTMODULE_LOG_LEVEL", "ERROR")


def train(trainer_cls, args_cls, family, task, tmp_path, name, steps=50, rows=64, trainer_kwargs=None, **arg_kwargs):
    """Train ``family``/``task`` for ``steps``; return (trainer, per-step losses)."""
    from xporter_ort_training.testing import ListDataset, accuracy, separable_examples, tiny_model

    data = ListDataset(separable_examples(rows, task))
    options = dict(output_dir=str(tmp_path / name), max_steps=steps, per_device_train_batch_size=8,
                   learning_rate=1e-3, logging_steps=1, report_to="none", save_strategy="no", seed=0, use_cpu=True,
                   disable_tqdm=True, dataloader_pin_memory=False)
    options.update(arg_kwargs)
    trainer = trainer_cls(model=tiny_model(family, task), args=args_cls(**options), train_dataset=data,
                          eval_dataset=data, compute_metrics=accuracy if task == "text-classification" else None,
                          **(trainer_kwargs or {}))
    trainer.train()
    return trainer, [h["loss"] for h in trainer.state.log_history if "loss" in h]


def assert_ort_ran(trainer):
    """Fail (never skip) when ORTModule fell back to PyTorch or was not used."""
    from xporter_ort_training import ort_module

    assert trainer.ort_model is not None, "ORTTrainer did not wrap the model in ORTModule"
    assert ort_module.find_ort_module(trainer.model_wrapped) is not None or trainer.is_deepspeed_enabled
    assert ort_module.ort_backend_active(trainer.ort_model), "ORTModule fell back to PyTorch"


@pytest.fixture(scope="session")
def ort_ready():
    """ORT training importable with the compat layer and the aten extension built (built once)."""
    from xporter_ort_training.runtime import import_ortmodule

    return import_ortmodule()
