"""Training artifacts: onnxruntime.training.api lowers the loss; the inference model matches."""

import json

import numpy as np
import pytest

from xporter_ort_training.testing import separable_examples, tiny_model

FAST = [("bert", "text-classification"), ("gpt2", "text-generation"), ("bert", "question-answering")]
SLOW = [("bert", "token-classification"), ("bert", "fill-mask"), ("gpt2", "text-classification")]


def _batch(rows, names):
    batch = {k: np.stack([r[k].numpy() for r in rows]) for k in rows[0]}
    batch.setdefault("token_type_ids", np.zeros_like(batch["input_ids"]))
    return {k: batch[k] for k in names}


def _train_and_check(tmp_path, family, task, steps=200):
    import onnxruntime
    import torch

    from xporter_ort_training.artifact_training import ArtifactTrainer, load_trained_into_torch
    from xporter_ort_training.artifacts import generate_training_artifacts, resolve_config

    model = tiny_model(family, task)
    out = tmp_path / f"{family}-{task}"
    out.mkdir()
    report = generate_training_artifacts(model, resolve_config(model, task), out)
    for name in ("training_model.onnx", "eval_model.onnx", "optimizer_model.onnx", "checkpoint"):
        assert (out / name).exists(), name
    trainer = ArtifactTrainer(out, learning_rate=1e-3)
    rows = separable_examples(64, task)
    names = report["inputs"] + report["labels"]
    losses = [trainer.train_step(_batch(rows[(s * 8) % 64:(s * 8) % 64 + 8], names)) for s in range(steps)]
    assert np.mean(losses[-10:]) < 0.8 * np.mean(losses[:10]), (losses[:3], losses[-3:])

    path = trainer.export_inference_model(out / "inference" / "model.onnx")
    session = onnxruntime.InferenceSession(str(path))
    assert [i.name for i in session.get_inputs()] == report["inputs"]
    feeds = _batch(rows[:8], report["inputs"])
    onnx_outputs = session.run(report["inference_outputs"], feeds)
    eval_outputs = trainer.eval_step(_batch(rows[:8], names))
    torch_model = tiny_model(family, task, seed=99)  # different init: weights must come from the checkpoint
    assert load_trained_into_torch(torch_model, trainer) == report["trainable_parameters"]
    with torch.no_grad():
        reference = torch_model.eval()(**{k: torch.from_numpy(v) for k, v in feeds.items()})
    for name, onnx_value, eval_value in zip(report["inference_outputs"], onnx_outputs, eval_outputs[1:]):
        np.testing.assert_allclose(onnx_value, reference[name].numpy(), atol=1e-4)
        np.testing.assert_allclose(onnx_value, eval_value, atol=1e-5)
    return trainer


@pytest.mark.parametrize("family,task", FAST)
def test_artifacts_train_and_export_inference(tmp_path, family, task):
    _train_and_check(tmp_path, family, task)


@pytest.mark.slow
@pytest.mark.parametrize("family,task", SLOW)
def test_artifacts_more_heads(tmp_path, family, task):
    _train_and_check(tmp_path, family, task)


def test_artifact_graphs_are_loadable_by_ort_119(tmp_path):
    import onnx

    from xporter_ort_training.artifacts import MAX_IR_VERSION, generate_training_artifacts, resolve_config

    model = tiny_model("bert")
    generate_training_artifacts(model, resolve_config(model, "text-classification"), tmp_path)
    for name in ("training_model.onnx", "eval_model.onnx", "optimizer_model.onnx"):
        assert onnx.load(str(tmp_path / name), load_external_data=False).ir_version <= MAX_IR_VERSION
    training = onnx.load(str(tmp_path / "training_model.onnx"))
    assert all(len(n.output) == 3 for n in training.graph.node if n.op_type == "LayerNormalization")


def test_cli_export_then_train(tmp_path, capsys):
    from xporter.cli.main import main

    model_dir, out = tmp_path / "model", tmp_path / "artifacts"
    tiny_model("bert").save_pretrained(model_dir)
    assert main(["export", "ort_training", "-m", str(model_dir), str(out), "--task", "text-classification",
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["inputs"] == ["input_ids", "attention_mask", "token_type_ids"]
    assert main(["ort_training", "train", str(out), "--steps", "60",
                 "--inference-output", str(tmp_path / "inf" / "model.onnx")]) == 0
    printed = capsys.readouterr().out
    first, last = (float(x) for x in printed.split("loss ")[1].split()[0:3:2])
    assert last < first and (tmp_path / "inf" / "model.onnx").exists()
    # exporting into the same non-empty folder without --overwrite is refused with exit 1
    assert main(["export", "ort_training", "-m", str(model_dir), str(out), "--task", "text-classification"]) == 1


def test_cli_unsupported_task_is_a_clear_error(tmp_path, capsys):
    from xporter.cli.main import main

    model_dir = tmp_path / "model"
    tiny_model("bert").save_pretrained(model_dir)
    assert main(["export", "ort_training", "-m", str(model_dir), str(tmp_path / "o"), "--task",
                 "text2text-generation"]) == 1
    assert "unsupported task" in capsys.readouterr().err


def test_linear_schedule_warms_up_then_decays(tmp_path):
    """ORT 1.19.2's LinearLRScheduler binding swaps warmup/total; linear_schedule undoes it."""
    from xporter_ort_training.artifact_training import ArtifactTrainer
    from xporter_ort_training.artifacts import generate_training_artifacts, resolve_config

    model = tiny_model("bert")
    generate_training_artifacts(model, resolve_config(model, "text-classification"), tmp_path)
    trainer = ArtifactTrainer(tmp_path)
    trainer.linear_schedule(warmup_steps=2, total_steps=10, initial_lr=1e-2)
    rows = separable_examples(8)
    batch = _batch(rows, trainer.feed_names)
    rates = []
    for _ in range(10):
        trainer.train_step(batch)
        rates.append(trainer.optimizer.get_learning_rate())
    peak = int(np.argmax(rates))
    assert peak <= 2 and rates[peak] == pytest.approx(1e-2, rel=1e-3), rates
    assert rates[-1] < rates[peak] / 4, rates  # decays towards 0 at step 10
