"""Speech encoders of transformers 5.x beyond Optimum's list, as data.

The audio towers of current speech-LLMs and ASR stacks (GLM-ASR, Qwen2-Audio, Voxtral,
MOSS) are model types of their own with an ``AutoModel`` entry: log-mel ``input_features``
in, encoder states out, the part such a pipeline runs once per utterance before its text
decoder. They validate with the plain
:class:`~xporter_onnx.modalities.AudioFeaturesOnnxConfig`; only ``feature-extraction``
exists for them in the auto mappings. Found by ``scripts/probe_unregistered.py``.
"""

from __future__ import annotations

from ..modalities import AudioFeaturesOnnxConfig
from . import Arch
from .audio import AUDIO, FRAME_FEATURES, TINY_W2V
from .text_encoders import TINY_TEXT

# the size names of the families differ (d_model / hidden_size, num_mel_bins / feature_size): all set
TINY_FEATURES = dict(TINY_TEXT, num_mel_bins=16, feature_size=16, input_feat_per_channel=16, d_model=32,
                     encoder_layers=2, encoder_attention_heads=4, encoder_ffn_dim=37, pad_token_id=0)


# FastConformer stacks (Parakeet, Nemotron speech) take frame-major features: (batch, frames, mel bins)
TINY_FRAMES = dict(TINY_FEATURES, num_mel_bins=80, feature_size=80, input_feat_per_channel=80, input_channels=1,
                   subsampling_conv_channels=8)


# LASR: 128 mel bins and a deeper subsampling stack, so validation takes 40 frames (9 would shrink to nothing)
TINY_LASR = dict(TINY_FRAMES, num_mel_bins=128, feature_size=128, input_feat_per_channel=128)
LASR = dict(FRAME_FEATURES, VALIDATION_SHAPES={"batch_size": 3, "sequence_length": 40})


def speech_encoder(model_type: str, tasks=("feature-extraction",), frame_major: bool = False) -> Arch:
    if model_type.startswith("lasr_"):
        return Arch(model_type, tuple(tasks), AudioFeaturesOnnxConfig, dict(LASR), tiny=dict(TINY_LASR))
    if frame_major:
        return Arch(model_type, tuple(tasks), AudioFeaturesOnnxConfig, dict(FRAME_FEATURES), tiny=dict(TINY_FRAMES))
    return Arch(model_type, tuple(tasks), AudioFeaturesOnnxConfig, dict(AUDIO), tiny=dict(TINY_FEATURES))


# auto-mapped tasks a row does not export, and why (tests/test_head_tables.py reads this)
LEFT_OUT = {"parakeet_ctc": {"feature-extraction": "AutoModel maps parakeet_ctc to ParakeetForCTC, which returns "
                                                   "logits only: its encoder is the parakeet_encoder row"},
            "lasr_ctc": {"feature-extraction": "AutoModel maps lasr_ctc to LasrForCTC (logits only): its encoder is "
                                               "the lasr_encoder row"},
            "wav2vec2-bert": {"audio-xvector": "the x-vector head splits its statistics pooling by the traced "
                                               "batch, so other batch sizes fail in ONNX Runtime"}}
# w2v-BERT 2.0: frame-major filter-bank stacks (feature_projection_input_dim per frame), a conformer encoder
TINY_W2V_BERT = dict(TINY_W2V, feature_projection_input_dim=80, input_feat_per_channel=80, input_channels=1,
                     conv_depthwise_kernel_size=3, num_mel_bins=80, adapter_kernel_size=3, adapter_stride=2,
                     output_hidden_size=32)


ARCHITECTURES = [
    speech_encoder("glmasr_encoder"), speech_encoder("moss_transcribe_diarize_audio"),
    speech_encoder("qwen2_audio_encoder"), speech_encoder("voxtral_encoder"),
    speech_encoder("voxtral_realtime_encoder"), speech_encoder("parakeet_encoder", frame_major=True),
    speech_encoder("nemotron3_5_transcribe_asr_audio", frame_major=True),
    speech_encoder("nemotron3_diarization_audio", frame_major=True),
    speech_encoder("parakeet_ctc", ("automatic-speech-recognition",), frame_major=True),
    speech_encoder("lasr_encoder"), speech_encoder("lasr_ctc", ("automatic-speech-recognition",)),
    Arch("wav2vec2-bert", ("feature-extraction", "automatic-speech-recognition", "audio-classification",
                           "audio-frame-classification"), AudioFeaturesOnnxConfig, dict(FRAME_FEATURES),
         tiny=dict(TINY_W2V_BERT)),
]
