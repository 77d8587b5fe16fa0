"""Dummy inputs for the less common modalities of the audio / multimodal tables.

Spectrogram patches (AST), offline-RL trajectories (Decision Transformer), SAM's point
prompts / image embeddings, time-series past values (PatchTST / PatchTSMixer) and ColPali's
image-token prefixed text. Each generator reads its sizes from the model config: these
models fix the non-batch dimensions (position tables, patching, the prompt encoder), so
only the batch axis follows the shape keywords.
"""

from __future__ import annotations

from ..dummy import DummyInputGenerator, DummyTextInputGenerator, np, to_framework


class ConfigSizedFloatInputGenerator(DummyInputGenerator):
    """A float input of shape (batch, *sizes the config names in ``CONFIG_DIMS``)."""

    CONFIG_DIMS: tuple = ()

    def generate(self, input_name, framework="pt", int_dtype="int64", float_dtype="fp32"):
        cfg = self.normalized_config
        shape = (self.batch_size, *(int(getattr(cfg, dim)) for dim in self.CONFIG_DIMS))
        return to_framework(self.random_float(shape, float_dtype), framework, float_dtype)


class DummySpectrogramInputGenerator(ConfigSizedFloatInputGenerator):
    """AST ``input_values``: (batch, max_length frames, num_mel_bins), the size its position table expects."""

    SUPPORTED_INPUT_NAMES = ("input_values",)
    CONFIG_DIMS = ("max_length", "num_mel_bins")


class DummyTrajectoryInputGenerator(DummyInputGenerator):
    """Decision Transformer trajectories: states, actions, returns_to_go, timesteps, attention_mask.

    ``timesteps`` index an embedding of ``max_ep_len`` rows; the mask is right-padded on
    every row but the first when validating (``padding``), like text masks.
    """

    SUPPORTED_INPUT_NAMES = ("states", "actions", "returns_to_go", "timesteps", "attention_mask")

    def generate(self, input_name, framework="pt", int_dtype="int64", float_dtype="fp32"):
        cfg = self.normalized_config
        seq = self.shapes["sequence_length"]
        if input_name == "timesteps":
            array = self.random_int(int(cfg.max_ep_len), (self.batch_size, seq), int_dtype)
        elif input_name == "attention_mask":
            array = self.ones((self.batch_size, seq), int_dtype)
            if self.shapes.get("padding") and seq > 2:
                array[1:, -(seq // 3):] = 0
        else:
            width = {"states": "state_dim", "actions": "act_dim"}.get(input_name)
            last = int(cfg.get(width)) if width else 1
            array = self.random_float((self.batch_size, seq, last), float_dtype)
        return to_framework(array, framework, float_dtype)


class DummySamPromptInputGenerator(DummyInputGenerator):
    """SAM prompts and the vision encoder's outputs the mask decoder consumes.

    ``input_points`` (batch, point_batch, points, 2) in pixels of the resized image,
    ``input_labels`` (batch, point_batch, points) in {0, 1}, ``image_embeddings`` and
    ``image_positional_embeddings`` (batch, output_channels, side, side).
    """

    SUPPORTED_INPUT_NAMES = ("input_points", "input_labels", "image_embeddings", "image_positional_embeddings")
    POINT_BATCH, POINTS = 2, 3

    def generate(self, input_name, framework="pt", int_dtype="int64", float_dtype="fp32"):
        cfg = self.normalized_config
        prompt = (self.batch_size, self.POINT_BATCH, self.POINTS)
        if input_name == "input_points":
            size = float(cfg.get("image_size", 64))
            array = self.random_float(prompt + (2,), float_dtype, low=0.0, high=size)
        elif input_name == "input_labels":
            array = self.random_int(2, prompt, int_dtype)
        else:
            side = int(cfg.image_size) // int(cfg.patch_size)
            array = self.random_float((self.batch_size, int(cfg.output_channels), side, side), float_dtype)
        return to_framework(np.ascontiguousarray(array), framework, float_dtype)


class DummyTimeSeriesInputGenerator(ConfigSizedFloatInputGenerator):
    """PatchTST / PatchTSMixer ``past_values``: (batch, context_length, num_input_channels).

    The patching (``unfold`` over context_length) and the per-channel layers are sized by the
    config, so any other length or channel count fails in ONNX Runtime; only batch varies.
    """

    SUPPORTED_INPUT_NAMES = ("past_values",)
    CONFIG_DIMS = ("context_length", "num_input_channels")


class DummyImagePrefixedTextInputGenerator(DummyTextInputGenerator):
    """ColPali / PaliGemma text: ``num_image_tokens`` image placeholders, then the text.

    The language model swaps the placeholders for the image features and checks their
    count, so the prefix is (image_size // patch_size) ** 2 tokens of ``image_token_index``
    (never padded) before ``sequence_length`` text tokens (which never use that id).
    """

    def generate(self, input_name, framework="pt", int_dtype="int64", float_dtype="fp32"):
        text = np.asarray(super().generate(input_name, "np", int_dtype, float_dtype))
        cfg = self.normalized_config
        prefix = (int(cfg.image_size) // int(cfg.patch_size)) ** 2
        token = int(cfg.image_token_index)
        if input_name == "input_ids":
            text = np.where(text == token, token - 1 if token > 3 else token + 1, text)
            head = np.full((self.batch_size, prefix), token, dtype=text.dtype)
        else:
            head = np.ones((self.batch_size, prefix), dtype=text.dtype)
        return to_framework(np.concatenate([head, text], axis=1), framework, float_dtype)


class DummyFrameFeaturesInputGenerator(DummyInputGenerator):
    """Frame-major speech features (M-CTC-T): ``input_features`` (batch, frames, features per
    frame) and a frame ``attention_mask``, right-padded on every row but the first when validating."""

    SUPPORTED_INPUT_NAMES = ("input_features", "attention_mask")

    def generate(self, input_name, framework="pt", int_dtype="int64", float_dtype="fp32"):
        frames = self.shapes["sequence_length"]
        if input_name == "attention_mask":
            array = self.ones((self.batch_size, frames), int_dtype)
            if self.shapes.get("padding") and frames > 2:
                array[1:, -(frames // 3):] = 0
            return to_framework(array, framework, float_dtype)
        features = int(self.normalized_config.input_feat_per_channel) * int(self.normalized_config.input_channels)
        return to_framework(self.random_float((self.batch_size, frames, features), float_dtype), framework, float_dtype)
