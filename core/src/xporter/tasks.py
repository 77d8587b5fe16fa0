"""The task taxonomy, as data.

Nothing here imports a framework: class names are strings, resolved lazily by
:mod:`xporter.model_classes`. Where transformers renamed an auto class between major
versions, the tuple lists every spelling, newest first; the first one the installed
transformers has wins.
"""

from __future__ import annotations

WITH_PAST_SUFFIX = "-with-past"

# task -> transformers PyTorch auto class names (first available wins)
PT_TASKS: dict[str, tuple[str, ...]] = {
    "audio-classification": ("AutoModelForAudioClassification",),
    "audio-frame-classification": ("AutoModelForAudioFrameClassification",),
    "audio-xvector": ("AutoModelForAudioXVector",),
    "automatic-speech-recognition": ("AutoModelForSpeechSeq2Seq", "AutoModelForCTC"),
    "depth-estimation": ("AutoModelForDepthEstimation",),
    "document-question-answering": ("AutoModelForDocumentQuestionAnswering",),
    "feature-extraction": ("AutoModel",),
    "fill-mask": ("AutoModelForMaskedLM",),
    "image-classification": ("AutoModelForImageClassification",),
    "image-segmentation": ("AutoModelForImageSegmentation", "AutoModelForSemanticSegmentation",
                           "AutoModelForUniversalSegmentation", "AutoModelForInstanceSegmentation"),
    "image-to-image": ("AutoModelForImageToImage",),
    "image-to-text": ("AutoModelForVision2Seq", "AutoModelForImageTextToText"),
    "image-text-to-text": ("AutoModelForImageTextToText",),
    "keypoint-detection": ("AutoModelForKeypointDetection",),
    "mask-generation": ("AutoModel",),
    "masked-im": ("AutoModelForMaskedImageModeling",),
    "multiple-choice": ("AutoModelForMultipleChoice",),
    "object-detection": ("AutoModelForObjectDetection",),
    "question-answering": ("AutoModelForQuestionAnswering",),
    "reinforcement-learning": ("AutoModel",),
    "semantic-segmentation": ("AutoModelForSemanticSegmentation",),
    "sentence-similarity": ("AutoModel",),
    "text-classification": ("AutoModelForSequenceClassification",),
    "text-generation": ("AutoModelForCausalLM",),
    "text-to-audio": ("AutoModelForTextToSpectrogram", "AutoModelForTextToWaveform"),
    "text2text-generation": ("AutoModelForSeq2SeqLM",),
    "time-series-forecasting": ("AutoModelForTimeSeriesPrediction",),
    "token-classification": ("AutoModelForTokenClassification",),
    "visual-question-answering": ("AutoModelForVisualQuestionAnswering",),
    "zero-shot-image-classification": ("AutoModelForZeroShotImageClassification",),
    "zero-shot-object-detection": ("AutoModelForZeroShotObjectDetection",),
}

# task -> transformers TensorFlow auto class names (transformers < 5 only)
TF_TASKS: dict[str, tuple[str, ...]] = {
    "audio-classification": ("TFAutoModelForAudioClassification",),
    "automatic-speech-recognition": ("TFAutoModelForSpeechSeq2Seq",),
    "document-question-answering": ("TFAutoModelForDocumentQuestionAnswering",),
    "feature-extraction": ("TFAutoModel",),
    "fill-mask": ("TFAutoModelForMaskedLM",),
    "image-classification": ("TFAutoModelForImageClassification",),
    "image-to-text": ("TFAutoModelForVision2Seq",),
    "masked-im": ("TFAutoModelForMaskedImageModeling",),
    "multiple-choice": ("TFAutoModelForMultipleChoice",),
    "question-answering": ("TFAutoModelForQuestionAnswering",),
    "semantic-segmentation": ("TFAutoModelForSemanticSegmentation",),
    "text-classification": ("TFAutoModelForSequenceClassification",),
    "text-generation": ("TFAutoModelForCausalLM",),
    "text2text-generation": ("TFAutoModelForSeq2SeqLM",),
    "token-classification": ("TFAutoModelForTokenClassification",),
    "zero-shot-image-classification": ("TFAutoModelForZeroShotImageClassification",),
}

# Tasks whose graphs can carry a key/value cache; each gets a "-with-past" variant.
TASKS_WITH_PAST = (
    "automatic-speech-recognition",
    "feature-extraction",
    "image-to-text",
    "text-generation",
    "text2text-generation",
)

# synonym -> canonical task
SYNONYMS: dict[str, str] = {
    "default": "feature-extraction",
    "default-with-past": "feature-extraction-with-past",
    "audio-ctc": "automatic-speech-recognition",
    "causal-lm": "text-generation",
    "causal-lm-with-past": "text-generation-with-past",
    "image-captioning": "image-to-text",
    "masked-lm": "fill-mask",
    "mask-filling": "fill-mask",
    "sequence-classification": "text-classification",
    "sentiment-analysis": "text-classification",
    "zero-shot-classification": "text-classification",
    "seq2seq-lm": "text2text-generation",
    "seq2seq-lm-with-past": "text2text-generation-with-past",
    "speech2seq-lm": "automatic-speech-recognition",
    "speech2seq-lm-with-past": "automatic-speech-recognition-with-past",
    "summarization": "text2text-generation",
    "translation": "text2text-generation",
    "text-to-speech": "text-to-audio",
    "vision2seq-lm": "image-to-text",
    "vision2seq-lm-with-past": "image-to-text-with-past",
    "ner": "token-classification",
    "qa": "question-answering",
}

# library -> task -> loader (library-specific callables, not transformers classes)
LIBRARY_TASKS: dict[str, dict[str, tuple[str, ...]]] = {
    "sentence_transformers": {
        "feature-extraction": ("SentenceTransformer",),
        "sentence-similarity": ("SentenceTransformer",),
    },
    "timm": {
        "image-classification": ("create_model",),
    },
    "diffusers": {
        "text-to-image": ("AutoPipelineForText2Image",),
        "image-to-image": ("AutoPipelineForImage2Image",),
        "inpainting": ("AutoPipelineForInpainting",),
    },
}

KNOWN_LIBRARIES = ("transformers", "sentence_transformers", "timm", "diffusers")

# Architecture class-name endings -> task, used when transformers is not importable
# (the exact auto-class mappings are preferred when it is).
ARCHITECTURE_SUFFIX_TASKS: tuple[tuple[str, str], ...] = (
    ("ForSequenceClassification", "text-classification"),
    ("ForTokenClassification", "token-classification"),
    ("ForQuestionAnswering", "question-answering"),
    ("ForMultipleChoice", "multiple-choice"),
    ("ForMaskedLM", "fill-mask"),
    ("ForCausalLM", "text-generation"),
    ("LMHeadModel", "text-generation"),
    ("ForSpeechSeq2Seq", "automatic-speech-recognition"),
    ("ForCTC", "automatic-speech-recognition"),
    ("ForAudioClassification", "audio-classification"),
    ("ForAudioFrameClassification", "audio-frame-classification"),
    ("ForXVector", "audio-xvector"),
    ("ForImageClassification", "image-classification"),
    ("ForImageClassificationWithTeacher", "image-classification"),
    ("ForObjectDetection", "object-detection"),
    ("ForSemanticSegmentation", "semantic-segmentation"),
    ("ForMaskedImageModeling", "masked-im"),
    ("ForDepthEstimation", "depth-estimation"),
    ("ForInstanceSegmentation", "image-segmentation"),
    ("ForUniversalSegmentation", "image-segmentation"),
    ("ForKeypointDetection", "keypoint-detection"),
    ("ForPoseEstimation", "keypoint-detection"),
    ("ForImageSuperResolution", "image-to-image"),
    ("ForPrediction", "time-series-forecasting"),
    ("ForTextToSpeech", "text-to-audio"),
    ("ForTextToWaveform", "text-to-audio"),
    ("VisionEncoderDecoderModel", "image-to-text"),
    ("ForImageTextToText", "image-text-to-text"),
    ("ForVision2Seq", "image-to-text"),
    ("Model", "feature-extraction"),
)

# model types whose "...ForConditionalGeneration" head means something other than
# text2text-generation; the default for that suffix is text2text-generation.
CONDITIONAL_GENERATION_TASK_BY_MODEL_TYPE: dict[str, str] = {
    "whisper": "automatic-speech-recognition",
    "speech_to_text": "automatic-speech-recognition",
    "speech-to-text": "automatic-speech-recognition",
    "pix2struct": "image-to-text",
    "blip": "image-to-text",
    # vision-language models (transformers' image-text-to-text auto mapping)
    **{model_type: "image-text-to-text" for model_type in (
        "aria", "aya_vision", "cohere2_vision", "emu3", "florence2", "gemma3", "gemma3n", "gemma4", "glm4v",
        "got_ocr2", "idefics", "idefics2", "idefics3", "instructblip", "internvl", "kosmos-2", "lfm2_vl", "llama4",
        "llava", "llava_next", "llava_next_video", "llava_onevision", "mistral3", "mllama", "paligemma",
        "perception_lm", "qwen2_5_vl", "qwen2_vl", "qwen3_vl", "qwen3_vl_moe", "shieldgemma2", "smolvlm",
        "video_llava", "vipllava")},
    "musicgen": "text-to-audio",
    "musicgen_melody": "text-to-audio",
}


def strip_past(task: str) -> tuple[str, bool]:
    """Split ``"x-with-past"`` into ``("x", True)``; other tasks into ``(task, False)``."""
    if task.endswith(WITH_PAST_SUFFIX):
        return task[: -len(WITH_PAST_SUFFIX)], True
    return task, False


def all_tasks(framework: str | None = None) -> list[str]:
    """Every canonical task name (with ``-with-past`` variants), optionally per framework."""
    sources: list[dict] = []
    if framework in (None, "pt"):
        sources.append(PT_TASKS)
    if framework in (None, "tf"):
        sources.append(TF_TASKS)
    names: set[str] = set()
    for table in sources:
        names.update(table)
    if framework is None:
        for per_library in LIBRARY_TASKS.values():
            names.update(per_library)
    names.update(f"{t}{WITH_PAST_SUFFIX}" for t in TASKS_WITH_PAST if t in names)
    return sorted(names)
