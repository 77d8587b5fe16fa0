"""TensorFlow checkpoints (runs in the TF environment: `scripts/test.sh core-tf`)."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow", reason="TensorFlow checks run in the core-tf suite")
transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

from xporter import TasksManager  # noqa: E402


@pytest.fixture(scope="module")
def tf_checkpoint(tmp_path_factory):
    config = transformers.BertConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=16, vocab_size=64, num_labels=3)
    model = transformers.TFBertForSequenceClassification(config)
    model(model.dummy_inputs)
    folder = tmp_path_factory.mktemp("tfbert")
    model.save_pretrained(folder)
    return folder, model


def test_tf_checkpoint_detected_and_loaded_as_tf(tf_checkpoint):
    folder, _ = tf_checkpoint
    assert TasksManager.determine_framework(folder) == "tf"
    assert TasksManager.infer_task_from_model(folder) == "text-classification"
    model = TasksManager.get_model_from_task("text-classification", folder)
    assert type(model).__name__ == "TFBertForSequenceClassification"
    assert TasksManager.get_model_class_for_task("fill-mask", framework="tf") is transformers.TFAutoModelForMaskedLM


def test_tf_weights_into_pytorch_model_are_real_not_meta(tf_checkpoint):
    folder, tf_model = tf_checkpoint
    model = TasksManager.get_model_from_task("text-classification", folder, framework="pt")
    assert type(model).__name__ == "BertForSequenceClassification"
    assert next(model.parameters()).device.type == "cpu"
    ids = np.array([[1, 2, 3, 4, 5]])
    expected = tf_model(ids).logits.numpy()
    got = model(torch.tensor(ids)).logits.detach().numpy()
    assert np.abs(expected - got).max() < 1e-5


def test_pytorch_checkpoint_into_tf_model(tmp_path):
    config = transformers.BertConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=16, vocab_size=64)
    transformers.BertForMaskedLM(config).save_pretrained(tmp_path)
    model = TasksManager.get_model_from_task("fill-mask", tmp_path, framework="tf")
    assert type(model).__name__ == "TFBertForMaskedLM"
