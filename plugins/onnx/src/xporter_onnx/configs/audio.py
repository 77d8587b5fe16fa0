"""Speech encoders on raw waveforms (wav2vec2 family), spectrogram transformers and VITS
text-to-speech, as data."""

from __future__ import annotations

from ..modalities import AudioOnnxConfig, TextEncoderOnnxConfig
from ..normalized import NormalizedAudioConfig, NormalizedConfig
from . import Arch
from .extra_inputs import DummyFrameFeaturesInputGenerator, DummySpectrogramInputGenerator

CTC_FAMILY = ("feature-extraction", "automatic-speech-recognition", "audio-classification")
FULL_FAMILY = CTC_FAMILY + ("audio-frame-classification", "audio-xvector")

TINY_W2V = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                conv_dim=(16, 16), conv_stride=(5, 4), conv_kernel=(10, 8), num_conv_pos_embeddings=16,
                num_conv_pos_embedding_groups=2, vocab_size=32, tdnn_dim=(16, 16), tdnn_kernel=(3, 1),
                tdnn_dilation=(1, 1), xvector_output_dim=16, classifier_proj_size=16, do_stable_layer_norm=True,
                feat_extract_norm="layer", num_labels=2)
TINY_SEW = dict(TINY_W2V, conv_dim=(16, 16, 16), conv_stride=(5, 2, 1), conv_kernel=(10, 3, 1), squeeze_factor=2)
AUDIO = dict(ATOL_FOR_VALIDATION=1e-4)
# AST: log-mel frames (batch, max_length, num_mel_bins); its position table fixes both sizes
SPECTROGRAM = dict(AUDIO, INPUTS={"input_values": {0: "batch_size"}}, NORMALIZED_CONFIG_CLASS=NormalizedAudioConfig,
                   DUMMY_INPUT_GENERATOR_CLASSES=(DummySpectrogramInputGenerator,))

# M-CTC-T (transformers 4.x only): frame-major features (batch, frames, input_feat_per_channel)
FRAME_FEATURES = dict(AUDIO, INPUTS={"input_features": {0: "batch_size", 1: "sequence_length"},
                                     "attention_mask": {0: "batch_size", 1: "sequence_length"}},
                      NORMALIZED_CONFIG_CLASS=NormalizedConfig,
                      DUMMY_INPUT_GENERATOR_CLASSES=(DummyFrameFeaturesInputGenerator,))

# VITS: text in, waveform out in one graph; the duration predictor sets the output length,
# so the sample/frame axes follow the data. The tiny row turns the sampling noise off
# (noise_scale*=0): torch and ONNX Runtime draw different random numbers, so only a
# noise-free model can be compared. A checkpoint that samples (noise_scale > 0) exports
# as-is, noise included, but fails validation: export it with --no-validate.
VITS = dict(INPUT_NAMES=("input_ids", "attention_mask"),
            OUTPUTS={"waveform": {0: "batch_size", 1: "n_samples"}, "spectrogram": {0: "batch_size", 2: "n_frames"}})

ARCHITECTURES = [
    Arch("wav2vec2", FULL_FAMILY, AudioOnnxConfig, AUDIO, tiny=TINY_W2V),
    Arch("hubert", CTC_FAMILY, AudioOnnxConfig, AUDIO, tiny=TINY_W2V),
    Arch("wavlm", FULL_FAMILY, AudioOnnxConfig, AUDIO, tiny=dict(TINY_W2V, num_buckets=16, max_bucket_distance=32)),
    Arch("unispeech", CTC_FAMILY, AudioOnnxConfig, AUDIO, tiny=TINY_W2V),
    Arch("unispeech-sat", FULL_FAMILY, AudioOnnxConfig, AUDIO, tiny=TINY_W2V),
    Arch("data2vec-audio", FULL_FAMILY, AudioOnnxConfig, AUDIO,
         tiny=dict(TINY_W2V, num_conv_pos_embeddings=4, conv_pos_kernel_size=4)),
    Arch("sew", CTC_FAMILY, AudioOnnxConfig, AUDIO, tiny=TINY_SEW),
    Arch("wav2vec2-conformer", FULL_FAMILY, AudioOnnxConfig, AUDIO,
         tiny=dict(TINY_W2V, conv_depthwise_kernel_size=3, position_embeddings_type="relative")),
    Arch("sew-d", CTC_FAMILY, AudioOnnxConfig, AUDIO,
         tiny=dict(TINY_SEW, position_buckets=16, max_position_embeddings=64, share_att_key=True)),
    Arch("audio-spectrogram-transformer", ("feature-extraction", "audio-classification"), AudioOnnxConfig,
         SPECTROGRAM, tiny=dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                                patch_size=8, frequency_stride=4, time_stride=4, num_mel_bins=16, max_length=32,
                                num_labels=3)),
    Arch("mctct", ("feature-extraction", "automatic-speech-recognition"), AudioOnnxConfig, FRAME_FEATURES,
         tiny=dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, attention_head_dim=8,
                   intermediate_size=37, input_feat_per_channel=8, conv_kernel=[7], conv_stride=[3],
                   max_position_embeddings=64, vocab_size=32)),
    Arch("vits", ("text-to-audio",), TextEncoderOnnxConfig, VITS,
         tiny=dict(vocab_size=38, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, window_size=2, ffn_dim=32,
                   flow_size=8, spectrogram_bins=9, upsample_initial_channel=16, upsample_rates=[4, 4],
                   upsample_kernel_sizes=[8, 8], resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1, 3]],
                   prior_encoder_num_flows=2, prior_encoder_num_wavenet_layers=1,
                   posterior_encoder_num_wavenet_layers=1, duration_predictor_num_flows=2,
                   duration_predictor_filter_channels=16, depth_separable_num_layers=2, noise_scale=0.0,
                   noise_scale_duration=0.0)),
]
