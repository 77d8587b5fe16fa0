import pytest

from xporter import TasksManager
from xporter import tasks as taxonomy
from xporter.errors import UnknownTaskError


def test_all_tasks_cover_seed_and_issue_tables():
    tasks = set(TasksManager.get_all_tasks())
    seed = {"text-generation", "text-generation-with-past", "feature-extraction", "feature-extraction-with-past",
            "fill-mask", "question-answering", "text2text-generation", "text2text-generation-with-past",
            "text-classification", "token-classification", "multiple-choice", "image-classification",
            "object-detection", "image-segmentation", "masked-im", "semantic-segmentation",
            "automatic-speech-recognition"}
    extra = {"audio-classification", "audio-frame-classification", "audio-xvector", "depth-estimation",
             "document-question-answering", "image-to-text", "image-text-to-text", "keypoint-detection",
             "mask-generation", "sentence-similarity", "text-to-audio", "visual-question-answering",
             "zero-shot-image-classification", "zero-shot-object-detection", "time-series-forecasting",
             "image-to-image", "reinforcement-learning"}
    assert seed | extra <= tasks
    assert all(not t.startswith("default") for t in tasks), "synonyms are not canonical tasks"


def test_tf_table_matches_seed():
    assert taxonomy.TF_TASKS["feature-extraction"] == ("TFAutoModel",)
    assert taxonomy.TF_TASKS["semantic-segmentation"] == ("TFAutoModelForSemanticSegmentation",)
    assert set(taxonomy.all_tasks("tf")) >= {"text-generation-with-past", "text2text-generation-with-past"}


@pytest.mark.parametrize("synonym, canonical", [
    ("default", "feature-extraction"),
    ("default-with-past", "feature-extraction-with-past"),
    ("sequence-classification", "text-classification"),
    ("causal-lm", "text-generation"),
    ("causal-lm-with-past", "text-generation-with-past"),
    ("seq2seq-lm", "text2text-generation"),
    ("masked-lm", "fill-mask"),
    ("speech2seq-lm", "automatic-speech-recognition"),
    ("vision2seq-lm", "image-to-text"),
    ("translation", "text2text-generation"),
    ("summarization", "text2text-generation"),
    ("zero-shot-classification", "text-classification"),
    ("fill-mask", "fill-mask"),
])
def test_map_from_synonym(synonym, canonical):
    assert TasksManager.map_from_synonym(synonym) == canonical


def test_synonyms_for_task():
    assert TasksManager.synonyms_for_task("text2text-generation") == {"seq2seq-lm", "summarization", "translation"}
    assert "default" in TasksManager.synonyms_for_task("feature-extraction")
    assert "feature-extraction" not in TasksManager.synonyms_for_task("default")


def test_library_maps_present():
    assert set(taxonomy.LIBRARY_TASKS) == {"sentence_transformers", "timm", "diffusers"}
    assert "sentence-similarity" in taxonomy.LIBRARY_TASKS["sentence_transformers"]


def test_unknown_task_suggests_closest():
    from xporter.model_classes import candidate_class_names

    with pytest.raises(UnknownTaskError, match="did you mean 'text-classification'"):
        candidate_class_names("text-clasification")
