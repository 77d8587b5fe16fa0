import json

import pytest

from xporter import TasksManager
from xporter.errors import ModelConfigError, UnknownTaskError

from core_support import write_config


@pytest.mark.parametrize("architecture, model_type, task", [
    ("BertForSequenceClassification", "bert", "text-classification"),
    ("BertForMaskedLM", "bert", "fill-mask"),
    ("GPT2LMHeadModel", "gpt2", "text-generation"),
    ("LlamaForCausalLM", "llama", "text-generation"),
    ("T5ForConditionalGeneration", "t5", "text2text-generation"),
    ("WhisperForConditionalGeneration", "whisper", "automatic-speech-recognition"),
    ("Wav2Vec2ForCTC", "wav2vec2", "automatic-speech-recognition"),
    ("ViTForImageClassification", "vit", "image-classification"),
    ("DetrForObjectDetection", "detr", "object-detection"),
    ("SegformerForSemanticSegmentation", "segformer", "semantic-segmentation"),
    ("VisionEncoderDecoderModel", "vision-encoder-decoder", "image-to-text"),
    ("BertModel", "bert", "feature-extraction"),
    ("SpeechT5ForTextToSpeech", "speecht5", "text-to-audio"),
    ("MusicgenForConditionalGeneration", "musicgen", "text-to-audio"),
    ("TFBertForQuestionAnswering", "bert", "question-answering"),
])
def test_task_from_local_directory(tmp_path, architecture, model_type, task):
    folder = write_config(tmp_path / "m", model_type=model_type, architectures=[architecture])
    (folder / "model.safetensors").write_bytes(b"0")
    assert TasksManager.infer_task_from_model(str(folder)) == task
    assert TasksManager.infer_library_from_model(folder) == "transformers"


def test_task_from_cache_offline(hf_cache, monkeypatch):
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    assert TasksManager.infer_task_from_model("org/tiny", cache_dir=str(hf_cache)) == "text-generation"


def test_library_detection(tmp_path):
    st = write_config(tmp_path / "st", model_type="bert", architectures=["BertModel"])
    (st / "modules.json").write_text("[]")
    timm_dir = write_config(tmp_path / "timm", architecture="resnet18", num_classes=10, pretrained_cfg={})
    pipe = tmp_path / "pipe"
    pipe.mkdir()
    (pipe / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionImg2ImgPipeline"}))
    assert TasksManager.infer_library_from_model(st) == "sentence_transformers"
    assert TasksManager.infer_task_from_model(st) == "feature-extraction"
    assert TasksManager.infer_library_from_model(timm_dir) == "timm"
    assert TasksManager.infer_task_from_model(timm_dir) == "image-classification"
    assert TasksManager.infer_library_from_model(pipe) == "diffusers"
    assert TasksManager.infer_task_from_model(pipe) == "image-to-image"


def test_corrupt_config_json(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "config.json").write_text("{not json")
    (folder / "model.safetensors").write_bytes(b"0")
    with pytest.raises(ModelConfigError, match="config.json is not valid JSON"):
        TasksManager.infer_task_from_model(folder)


def test_no_config(tmp_path):
    folder = tmp_path / "noconf"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"0")
    with pytest.raises(ModelConfigError, match="--library-name"):
        TasksManager.infer_library_from_model(folder)


def test_unknown_architecture_suffix(tmp_path):
    folder = write_config(tmp_path / "m", model_type="x", architectures=["XWeirdHead"])
    with pytest.raises(UnknownTaskError, match="pass --task"):
        TasksManager.infer_task_from_model(folder)


def test_instances_and_classes():
    transformers = pytest.importorskip("transformers")
    config = transformers.BertConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16,
                                     vocab_size=50)
    model = transformers.BertForTokenClassification(config)
    assert TasksManager.infer_library_from_model(model) == "transformers"
    assert TasksManager.infer_task_from_model(model) == "token-classification"
    assert TasksManager.infer_task_from_model(transformers.BertForMultipleChoice) == "multiple-choice"
    assert TasksManager.infer_library_from_model(transformers.BertModel) == "transformers"
