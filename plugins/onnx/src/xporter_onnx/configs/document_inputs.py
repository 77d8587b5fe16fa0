"""Dummy inputs that only a few encoder architectures take, beside tokens (and LayoutLM's bbox).

Kept out of :mod:`xporter_onnx.dummy` because each serves one or two model types of
``configs/text_encoders.py``. They follow the same contract: an input is served by the first
generator of a config's ``DUMMY_INPUT_GENERATOR_CLASSES`` whose names it starts with; shapes
come from the shape keywords (``batch_size``, ``sequence_length``, ``seed`` ...) plus the
extra keywords documented per class.
"""

from __future__ import annotations

from ..dummy import DummyInputGenerator, np, to_framework


class GlobalAttentionMaskGenerator(DummyInputGenerator):
    """Longformer's ``global_attention_mask`` (batch, sequence): 1 = the token attends globally.

    Longformer decides in Python whether any token is global
    (``is_index_global_attn.flatten().any().item()``), so a trace on an all-zero mask, as
    Optimum feeds, records only the sliding-window path and the exported graph ignores the
    input. Here the first token of every row is global (the ``<s>`` classification setting),
    which records the global path; that path is exact for rows without global tokens too.
    Validation (``padding`` set) adds random global tokens after the first one and leaves one
    row without any, so a graph that dropped either case fails.
    """

    SUPPORTED_INPUT_NAMES = ("global_attention_mask",)

    def generate(self, input_name, framework="pt", int_dtype="int64", float_dtype="fp32"):
        seq = self.shapes["sequence_length"]
        shape = (self.batch_size, self.shapes["num_choices"], seq) if self.task == "multiple-choice" else (
            self.batch_size, seq)
        array = np.zeros(shape, dtype=int_dtype)
        array[..., 0] = 1
        if self.shapes.get("padding"):
            array[..., 1:] = self.rng.random(shape[:-1] + (seq - 1,)) < 0.2
            if self.batch_size > 1:
                array[-1] = 0
        return to_framework(array, framework, float_dtype)


class XPathInputGenerator(DummyInputGenerator):
    """MarkupLM's ``xpath_tags_seq`` / ``xpath_subs_seq`` (batch, sequence, max_depth).

    ``max_depth`` is fixed by the config (one embedding table per depth). Real units are drawn
    below the pad ids (MarkupLM's tokenizer numbers tags and subscripts from 0 and pads with
    the next id), and the units deeper than each token's node hold the pad ids.
    """

    SUPPORTED_INPUT_NAMES = ("xpath_tags_seq", "xpath_subs_seq")

    _levels = None

    def node_levels(self, depth: int):
        """Node depth of each token, drawn once so both sequences pad the same units."""
        if self._levels is None:
            self._levels = self.rng.integers(1, depth + 1, size=(self.batch_size, self.shapes["sequence_length"]))
        return self._levels

    def generate(self, input_name, framework="pt", int_dtype="int64", float_dtype="fp32"):
        cfg = self.normalized_config
        depth = int(cfg.max_depth)
        levels = self.node_levels(depth)
        shape = levels.shape + (depth,)
        if input_name == "xpath_tags_seq":
            pad, size = int(cfg.tag_pad_id), int(cfg.max_xpath_tag_unit_embeddings)
        else:
            pad, size = int(cfg.subs_pad_id), int(cfg.max_xpath_subs_unit_embeddings)
        array = self.random_int(min(pad, size), shape, int_dtype)
        array[np.arange(depth)[None, None, :] >= levels[..., None]] = pad
        return to_framework(array, framework, float_dtype)


class VisualEmbedsGenerator(DummyInputGenerator):
    """VisualBERT's region features: ``visual_embeds`` (batch, regions, visual_embedding_dim)
    plus ``visual_attention_mask`` / ``visual_token_type_ids`` (batch, regions).

    The number of regions is the ``visual_seq_length`` shape keyword (default 4).
    """

    SUPPORTED_INPUT_NAMES = ("visual_embeds", "visual_attention_mask", "visual_token_type_ids")
    DEFAULT_REGIONS = 4

    def generate(self, input_name, framework="pt", int_dtype="int64", float_dtype="fp32"):
        regions = int(self.shapes.get("visual_seq_length", self.DEFAULT_REGIONS))
        if input_name == "visual_embeds":
            dim = int(self.normalized_config.visual_embedding_dim)
            array = self.random_float((self.batch_size, regions, dim), float_dtype)
        elif input_name == "visual_attention_mask":
            array = self.ones((self.batch_size, regions), int_dtype)
            if self.shapes.get("padding") and regions > 2:
                array[1:, -(regions // 3):] = 0  # padded regions, like the text mask
        else:  # image tokens use segment 1 (text uses 0), as in VisualBERT's pre-training
            array = self.ones((self.batch_size, regions), int_dtype)
        return to_framework(array, framework, float_dtype)
