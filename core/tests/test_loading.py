"""Model classes and loading with real (tiny) transformers models."""

import pytest

from xporter import TasksManager
from xporter.errors import ModelConfigError, UnknownTaskError

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    config = transformers.BertConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=16, vocab_size=64, num_labels=3)
    folder = tmp_path_factory.mktemp("bert")
    transformers.BertForSequenceClassification(config).save_pretrained(folder)
    return folder


def test_model_class_for_task():
    assert TasksManager.get_model_class_for_task("text-classification") is transformers.AutoModelForSequenceClassification
    assert TasksManager.get_model_class_for_task("default-with-past") is transformers.AutoModel
    assert TasksManager.get_model_class_for_task("automatic-speech-recognition", model_type="wav2vec2") \
        is transformers.AutoModelForCTC
    assert TasksManager.get_model_class_for_task("automatic-speech-recognition", model_type="whisper") \
        is transformers.AutoModelForSpeechSeq2Seq
    assert TasksManager.get_model_class_for_task("fill-mask", model_class_name="BertForMaskedLM") \
        is transformers.BertForMaskedLM
    with pytest.raises(UnknownTaskError, match="did you mean"):
        TasksManager.get_model_class_for_task("text-clasification")


def test_load_from_task_safetensors_and_dtype(tiny_bert):
    assert (tiny_bert / "model.safetensors").exists()
    model = TasksManager.get_model_from_task("text-classification", tiny_bert, torch_dtype=torch.float16)
    assert type(model).__name__ == "BertForSequenceClassification"
    assert next(model.parameters()).dtype == torch.float16
    assert not model.training
    base = TasksManager.get_model_from_task("default", str(tiny_bert), device="cpu")
    assert type(base).__name__ == "BertModel"


def test_load_pickle_only_checkpoint_uses_weights_only(tmp_path, tiny_bert, monkeypatch):
    model = transformers.BertForSequenceClassification.from_pretrained(tiny_bert)
    (tmp_path / "config.json").write_text((tiny_bert / "config.json").read_text())
    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")
    calls = []
    original = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return original(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    loaded = TasksManager.get_model_from_task("text-classification", tmp_path)
    assert torch.equal(loaded.classifier.weight, model.classifier.weight)
    assert calls and all(flag is True for flag in calls), "pickle checkpoints load with weights_only=True"


def test_trust_remote_code_is_off_by_default(tiny_bert, monkeypatch):
    seen = {}
    original = transformers.AutoModelForSequenceClassification.from_pretrained

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(transformers.AutoModelForSequenceClassification, "from_pretrained", spy)
    TasksManager.get_model_from_task("text-classification", tiny_bert)
    assert seen["trust_remote_code"] is False and seen["use_safetensors"] is True


def test_incomplete_checkpoint_is_one_clear_error(tmp_path, tiny_bert):
    (tmp_path / "config.json").write_text((tiny_bert / "config.json").read_text())
    (tmp_path / "model.safetensors").write_bytes(b"truncated")
    with pytest.raises(ModelConfigError, match="cannot load"):
        TasksManager.get_model_from_task("text-classification", tmp_path)


def test_standardize_sentence_transformers(tmp_path):
    st = pytest.importorskip("sentence_transformers")
    config = transformers.BertConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=16, vocab_size=64)
    transformers.BertModel(config).save_pretrained(tmp_path / "bert")
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *"abcdefghij"]))
    transformers.BertTokenizer(str(vocab)).save_pretrained(tmp_path / "bert")
    try:  # sentence-transformers >= 6 moved the modules
        from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    except ImportError:
        from sentence_transformers.models import Pooling, Transformer
    model = st.SentenceTransformer(modules=[Transformer(str(tmp_path / "bert")), Pooling(16)])
    TasksManager.standardize_model_attributes(model)
    assert model.config.model_type == "bert" and model.config.export_model_type == "transformer"
    assert TasksManager.infer_library_from_model(model) == "sentence_transformers"
