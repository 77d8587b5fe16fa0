"""Default ONNX outputs per task (names and dynamic axes), as data.

Names match Optimum's exports so consumers of Optimum ONNX folders (optimum-onnx,
transformers.js, ORT pipelines) read ours. Architectures whose outputs differ override
``OUTPUTS`` in their table row.
"""

from __future__ import annotations

from typing import Dict

Axes = Dict[int, str]
BATCH = {0: "batch_size"}
BATCH_SEQ = {0: "batch_size", 1: "sequence_length"}

TASK_OUTPUTS: Dict[str, Dict[str, Axes]] = {
    "audio-classification": {"logits": BATCH},
    "audio-frame-classification": {"logits": BATCH_SEQ},
    "audio-xvector": {"logits": BATCH, "embeddings": BATCH},
    "automatic-speech-recognition": {"logits": BATCH_SEQ},
    "depth-estimation": {"predicted_depth": {0: "batch_size", 1: "height", 2: "width"}},
    "document-question-answering": {"logits": {0: "batch_size", 1: "decoder_sequence_length"}},
    "feature-extraction": {"last_hidden_state": BATCH_SEQ},
    "fill-mask": {"logits": BATCH_SEQ},
    "image-classification": {"logits": BATCH},
    "image-segmentation": {"logits": {0: "batch_size", 1: "num_labels", 2: "height", 3: "width"}},
    "image-to-image": {"reconstruction": {0: "batch_size", 1: "num_channels", 2: "height", 3: "width"}},
    "image-to-text": {"logits": BATCH_SEQ},
    "keypoint-detection": {"heatmaps": {0: "batch_size", 1: "num_keypoints", 2: "height", 3: "width"}},
    "mask-generation": {"iou_scores": BATCH, "pred_masks": BATCH},
    "masked-im": {"reconstruction": BATCH},
    "multiple-choice": {"logits": {0: "batch_size", 1: "num_choices"}},
    "object-detection": {"logits": {0: "batch_size", 1: "num_queries"}, "pred_boxes": {0: "batch_size", 1: "num_queries"}},
    "question-answering": {"start_logits": BATCH_SEQ, "end_logits": BATCH_SEQ},
    "semantic-segmentation": {"logits": {0: "batch_size", 1: "num_labels", 2: "height", 3: "width"}},
    "sentence-similarity": {"last_hidden_state": BATCH_SEQ},
    "text-classification": {"logits": BATCH},
    "text-generation": {"logits": BATCH_SEQ},
    "text2text-generation": {"logits": {0: "batch_size", 1: "decoder_sequence_length"}},
    "time-series-forecasting": {"prediction_outputs": BATCH},
    "token-classification": {"logits": BATCH_SEQ},
    "zero-shot-image-classification": {
        "logits_per_image": {0: "image_batch_size", 1: "text_batch_size"},
        "logits_per_text": {0: "text_batch_size", 1: "image_batch_size"},
        "text_embeds": {0: "text_batch_size"},
        "image_embeds": {0: "image_batch_size"},
    },
    "zero-shot-object-detection": {
        "logits": {0: "batch_size", 1: "num_queries"},
        "pred_boxes": {0: "batch_size", 1: "num_queries"},
        "text_embeds": {0: "text_batch_size"},
        "image_embeds": {0: "batch_size"},
    },
}
