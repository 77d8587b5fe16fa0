"""ORTTrainer vs transformers.Trainer on tiny models: same seed, same data, same losses."""

import numpy as np
import pytest
from transformers import Seq2SeqTrainer, Seq2SeqTrainingArguments, Trainer, TrainingArguments

from conftest import assert_ort_ran, train
from xporter.errors import ExportError
from xporter_ort_training import (ORTSeq2SeqTrainer, ORTSeq2SeqTrainingArguments, ORTTrainer,
                                  ORTTrainingArguments)

pytestmark = pytest.mark.usefixtures("ort_ready")


def test_bert_loss_curve_and_accuracy_match_pytorch(tmp_path):
    ref, ref_losses = train(Trainer, TrainingArguments, "bert", "text-classification", tmp_path, "pt")
    ort, ort_losses = train(ORTTrainer, ORTTrainingArguments, "bert", "text-classification", tmp_path, "ort")
    assert_ort_ran(ort)
    assert len(ort_losses) == len(ref_losses) == 50
    assert np.max(np.abs(np.array(ort_losses) - np.array(ref_losses))) < 1e-3
    assert ort_losses[-1] < ort_losses[0] - 0.2
    ref_acc, ort_acc = ref.evaluate()["eval_accuracy"], ort.evaluate()["eval_accuracy"]
    assert ort_acc == ref_acc and ort_acc >= 0.95


def test_gpt2_causal_lm_loss_curve_matches_pytorch(tmp_path):
    _, ref_losses = train(Trainer, TrainingArguments, "gpt2", "text-generation", tmp_path, "pt")
    ort, ort_losses = train(ORTTrainer, ORTTrainingArguments, "gpt2", "text-generation", tmp_path, "ort")
    assert_ort_ran(ort)
    assert np.max(np.abs(np.array(ort_losses) - np.array(ref_losses))) < 1e-3


def test_t5_seq2seq_trains_and_generates_like_seq2seq_trainer(tmp_path):
    common = dict(steps=20, rows=32, predict_with_generate=True)
    ref, ref_losses = train(Seq2SeqTrainer, Seq2SeqTrainingArguments, "t5", "text2text-generation", tmp_path, "pt",
                            **common)
    ort, ort_losses = train(ORTSeq2SeqTrainer, ORTSeq2SeqTrainingArguments, "t5", "text2text-generation", tmp_path,
                            "ort", **common)
    assert_ort_ran(ort)
    assert np.max(np.abs(np.array(ort_losses) - np.array(ref_losses))) < 1e-3
    data = ort.eval_dataset
    ref_pred = ref.predict(data, max_length=3, num_beams=2)
    ort_pred = ort.predict(data, max_length=3, num_beams=2)
    np.testing.assert_array_equal(ort_pred.predictions, ref_pred.predictions)
    generated = (ort_pred.predictions != -100) & (ort_pred.predictions != 0)
    assert generated.sum(axis=1).max() <= 3  # max_length honoured (decoder start + 2 tokens)
    assert ort.evaluate(max_length=4, num_beams=1)["eval_loss"] == pytest.approx(
        ref.evaluate(max_length=4, num_beams=1)["eval_loss"], abs=1e-3)


def test_resume_from_checkpoint(tmp_path):
    full, full_losses = train(ORTTrainer, ORTTrainingArguments, "bert", "text-classification", tmp_path, "full",
                              steps=10, save_strategy="steps", save_steps=5)
    checkpoint = tmp_path / "full" / "checkpoint-5"
    assert (checkpoint / "optimizer.pt").exists()
    from xporter_ort_training.testing import ListDataset, separable_examples, tiny_model

    args = ORTTrainingArguments(output_dir=str(tmp_path / "resumed"), max_steps=10, per_device_train_batch_size=8,
                                learning_rate=1e-3, logging_steps=1, report_to="none", save_strategy="no", seed=0,
                                use_cpu=True, disable_tqdm=True)
    resumed = ORTTrainer(model=tiny_model("bert", seed=123), args=args,
                         train_dataset=ListDataset(separable_examples(64)))
    resumed.train(resume_from_checkpoint=str(checkpoint))
    assert_ort_ran(resumed)
    history = [h["loss"] for h in resumed.state.log_history if "loss" in h]
    assert resumed.state.global_step == 10 and len(history) == 10  # steps 1-5 come from the checkpoint's state
    np.testing.assert_allclose(history[5:], full_losses[5:], atol=1e-4)


def test_adamw_ort_fused_trains_and_saves_onnx(tmp_path):
    ort, losses = train(ORTTrainer, ORTTrainingArguments, "bert", "text-classification", tmp_path, "fused",
                        steps=20, optim="adamw_ort_fused", save_onnx=True, onnx_prefix="tinybert",
                        learning_rate=3e-3)
    assert_ort_ran(ort)
    assert "Adam" in type(ort.optimizer.optimizer if hasattr(ort.optimizer, "optimizer") else ort.optimizer).__name__
    assert np.mean(losses[-5:]) < np.mean(losses[:5]) - 0.05
    saved = sorted(p.name for p in (tmp_path / "fused").glob("tinybert*.onnx"))
    assert any("training" in name for name in saved), saved


def test_module_with_loss_and_label_smoothing_match_pytorch(tmp_path):
    _, ref_losses = train(Trainer, TrainingArguments, "bert", "text-classification", tmp_path, "pt", steps=10,
                          label_smoothing_factor=0.1)
    ort, ort_losses = train(ORTTrainer, ORTTrainingArguments, "bert", "text-classification", tmp_path, "ort", steps=10,
                            label_smoothing_factor=0.1, use_module_with_loss=True)
    assert_ort_ran(ort)
    assert np.max(np.abs(np.array(ort_losses) - np.array(ref_losses))) < 1e-3


class _Opaque:
    """Not a tensor: ORTModule cannot describe it as a graph output."""


def _unexportable_model():
    import torch

    class Unexportable(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(64, 8)
            self.linear = torch.nn.Linear(8, 2)

        def forward(self, input_ids, attention_mask=None, labels=None):
            logits = self.linear(self.embed(input_ids).mean(dim=1))
            return {"loss": torch.nn.functional.cross_entropy(logits, labels), "logits": logits, "state": _Opaque()}

    return Unexportable()


def _train_custom(tmp_path, **kwargs):
    from xporter_ort_training.testing import ListDataset, separable_examples

    args = ORTTrainingArguments(output_dir=str(tmp_path), max_steps=3, per_device_train_batch_size=8,
                                report_to="none", save_strategy="no", use_cpu=True, disable_tqdm=True, **kwargs)
    trainer = ORTTrainer(model=_unexportable_model(), args=args, train_dataset=ListDataset(separable_examples(32)))
    trainer.train()
    return trainer


def test_unexportable_forward_raises_naming_the_module(tmp_path):
    with pytest.raises(ExportError, match=r"Unexportable\.forward.*ort_fallback_to_pytorch"):
        _train_custom(tmp_path)


def test_fallback_to_pytorch_only_when_asked_and_detected(tmp_path):
    trainer = _train_custom(tmp_path, ort_fallback_to_pytorch=True)
    assert trainer.state.global_step == 3
    assert trainer.ort_backend_active() is False  # the fallback is visible, never reported as ORT
    with pytest.raises(AssertionError, match="fell back"):
        assert_ort_ran(trainer)


def test_artifact_export_after_ortmodule_ran_in_this_process(tmp_path):
    """ORTModule registers global ATen symbolics; the artifact export must not pick them up."""
    import onnx

    from xporter_ort_training.artifact_training import ArtifactTrainer
    from xporter_ort_training.artifacts import generate_training_artifacts, resolve_config
    from xporter_ort_training.testing import tiny_model

    train(ORTTrainer, ORTTrainingArguments, "bert", "text-classification", tmp_path, "ort", steps=1)
    model = tiny_model("bert")
    generate_training_artifacts(model, resolve_config(model, "text-classification"), tmp_path)
    assert not [n for n in onnx.load(str(tmp_path / "base_model.onnx")).graph.node if n.op_type == "ATen"]
    trainer = ArtifactTrainer(tmp_path)
    batch = {name: np.ones((2, 16), dtype=np.int64) for name in trainer.manifest["inputs"]}
    batch["labels"] = np.zeros((2,), dtype=np.int64)
    assert np.isfinite(trainer.train_step(batch))
