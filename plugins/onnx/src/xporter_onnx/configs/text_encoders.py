"""Encoder-only text architectures (BERT family), as data.

Rows follow Optimum's task lists (reference/optimum-onnx-support.json). Input names:
BERT-likes take token_type_ids, RoBERTa-likes do not (as in Optimum's exports).
The few classes below exist only where an architecture needs logic (extra inputs with their
own axes, trace-time branches, a single ``inputs`` argument); each docstring says why.
"""

from __future__ import annotations

import contextlib
from typing import Any, Dict

from ..base import IOSpec, OnnxConfig
from ..dummy import DummyBboxInputGenerator, DummyTextInputGenerator, DummyVisionInputGenerator
from ..modalities import TextEncoderOnnxConfig
from ..normalized import NormalizedVisionConfig
from xporter.vocabulary import TEXT_ENCODER_TASKS

from . import Arch
from .document_inputs import GlobalAttentionMaskGenerator, VisualEmbedsGenerator, XPathInputGenerator

ALL_TEXT = TEXT_ENCODER_TASKS  # the core's shared group (xporter.vocabulary)
NO_MC = tuple(t for t in ALL_TEXT if t != "multiple-choice")
NO_MC_QA = tuple(t for t in NO_MC if t != "question-answering")

TINY_TEXT = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                 max_position_embeddings=64, type_vocab_size=2)
NO_TT = dict(INPUT_NAMES=("input_ids", "attention_mask"))
OPTIONAL_TT = dict(OPTIONAL_TOKEN_TYPE_IDS=True)

NO_MC_NO_QA = NO_MC_QA
FE_QA = ("feature-extraction", "question-answering")
LAYOUT = ("feature-extraction", "fill-mask", "text-classification", "token-classification")
DOC_TASKS = ("feature-extraction", "question-answering", "text-classification", "token-classification")
BATCH_SEQ = {0: "batch_size", 1: "sequence_length"}
BATCH_REGIONS = {0: "batch_size", 1: "visual_seq_length"}
XLM_TINY = dict(vocab_size=99, emb_dim=32, n_layers=2, n_heads=4, max_position_embeddings=64)


class TextWithExtraInputsOnnxConfig(TextEncoderOnnxConfig):
    """Token inputs plus inputs shaped otherwise: layout boxes, page images, HTML xpaths, image
    region features (LiLT, LayoutLMv3, MarkupLM, VisualBERT).

    The text base gives every input the token axes; a row names the axes of its other inputs
    in ``EXTRA_INPUT_AXES`` instead of getting a class of its own. Only axes the validation
    run changes are declared dynamic (page images and xpath depths are fixed by the config).
    """

    DUMMY_INPUT_GENERATOR_CLASSES = (DummyTextInputGenerator, DummyBboxInputGenerator, DummyVisionInputGenerator,
                                     XPathInputGenerator, VisualEmbedsGenerator)
    EXTRA_INPUT_AXES: Dict[str, Dict[int, str]] = {}

    @property
    def inputs(self) -> IOSpec:
        spec = super().inputs
        for name, axes in self.EXTRA_INPUT_AXES.items():
            if name in spec:
                spec[name] = dict(axes)
        return spec


class LongformerOnnxConfig(TextEncoderOnnxConfig):
    """Longformer: sliding-window attention plus ``global_attention_mask``.

    Two model-side choices are made in Python at trace time, so the dummy inputs must take
    the general branch of both: any token global (see
    :class:`~xporter_onnx.configs.document_inputs.GlobalAttentionMaskGenerator`) and a
    sequence that needs padding to a multiple of ``attention_window`` (the default trace
    length does for every real window size; the tiny test config uses a window of 6). A
    ``sequence_length`` shape that is a multiple of the window traces without the padding
    branch, and validation on another length then fails: keep the default trace length.

    The self-attention splits the sequence into overlapping chunks of ``2w`` tokens (step
    ``w``). transformers does it with ``as_strided`` (not exportable), with ``unfold`` under
    ``config.onnx_export`` on 5.x (the TorchScript exporter needs a static length for it) and
    with a Python loop on 4.x (the chunk count, hence the padded length, is frozen in the
    graph). The probabilities x values product uses ``as_strided`` on every version, which
    the exporter turns into a gather with the trace's strides frozen in. While exporting and
    validating, :func:`_overlapping_chunks` and :func:`_sliding_chunks_probs_value` replace
    both: the same values, built from ``w``-token blocks with a reshape and a concat, for any
    length.

    A batch without any global token runs the traced global branch on empty tensors, which
    ONNX ``Reshape`` cannot take (a 0 in a shape means "copy", ``view(0, -1)`` divides by
    zero). So the global slots are counted as at least one (:func:`_global_attn_indices`; an
    unused slot is masked out exactly like the spare slots of rows with fewer global tokens)
    and ``view(n, -1)`` of a 3-d tensor is exported as ``flatten(1)`` (:func:`_flatten_view`).
    """

    DUMMY_INPUT_GENERATOR_CLASSES = (DummyTextInputGenerator, GlobalAttentionMaskGenerator)
    INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids", "global_attention_mask")
    PATCHED = ("_chunk", "_sliding_chunks_matmul_attn_probs_value", "_get_global_attn_indices")

    @contextlib.contextmanager
    def export_context(self, model: Any):
        import sys

        attention = getattr(sys.modules.get(type(model).__module__), "LongformerSelfAttention", None)
        if attention is None:
            yield
            return
        import torch

        originals = {name: attention.__dict__[name] for name in self.PATCHED}
        attention._chunk = staticmethod(_overlapping_chunks)
        attention._sliding_chunks_matmul_attn_probs_value = _sliding_chunks_probs_value
        attention._get_global_attn_indices = staticmethod(_global_attn_indices)
        tensor_view = torch.Tensor.view
        torch.Tensor.view = _flatten_view(tensor_view)
        try:
            yield
        finally:
            torch.Tensor.view = tensor_view
            for name, original in originals.items():
                setattr(attention, name, original)


def _overlapping_chunks(hidden_states: Any, window_overlap: int, onnx_export: bool = False) -> Any:
    """(batch, length, dim) -> (batch, length // w - 1, 2w, dim): chunk ``c`` is blocks ``c`` and
    ``c + 1`` of ``w`` tokens, which is what Longformer's ``_chunk`` returns."""
    import torch

    blocks = hidden_states.reshape(hidden_states.size(0), -1, window_overlap, hidden_states.size(2))
    return torch.cat((blocks[:, :-1], blocks[:, 1:]), dim=2)


def _global_attn_indices(is_index_global_attn: Any) -> tuple:
    """Longformer's global-index helper with the slot count clamped to at least one."""
    import torch

    per_row = is_index_global_attn.long().sum(dim=1)
    slots = torch.clamp(per_row.max(), min=1)
    used = torch.arange(slots, device=is_index_global_attn.device) < per_row.unsqueeze(-1)
    return (slots, is_index_global_attn.nonzero(as_tuple=True), used.nonzero(as_tuple=True),
            (used == 0).nonzero(as_tuple=True))


def _flatten_view(tensor_view: Any) -> Any:
    """``Tensor.view`` that spells ``t.view(t.size(0), -1)`` of a 3-d ``t`` as ``t.flatten(1)``
    (same values; exported as ``Flatten``, which takes zero rows)."""

    def view(self: Any, *shape: Any) -> Any:
        if (len(shape) == 2 and isinstance(shape[1], int) and shape[1] == -1 and self.dim() == 3
                and shape[0] == self.size(0)):
            return self.flatten(1)
        return tensor_view(self, *shape)

    return view


def _sliding_chunks_probs_value(self: Any, attn_probs: Any, value: Any, window_overlap: int) -> Any:
    """Longformer's windowed probabilities x values, (batch, length, heads, head_dim).

    The values, padded by ``w`` on both sides, are cut into chunks of ``3w`` rows (step ``w``),
    i.e. blocks ``c .. c + 2`` of ``w`` rows, one chunk per ``w`` queries.
    """
    import torch

    batch, length, heads, head_dim = value.size()
    w = window_overlap
    probs = attn_probs.transpose(1, 2).reshape(batch * heads, -1, w, 2 * w + 1)
    value = value.transpose(1, 2).reshape(batch * heads, length, head_dim)
    blocks = torch.nn.functional.pad(value, (0, 0, w, w), value=-1).reshape(batch * heads, -1, w, head_dim)
    chunks = torch.cat((blocks[:, :-2], blocks[:, 1:-1], blocks[:, 2:]), dim=2)
    context = torch.einsum("bcwd,bcdh->bcwh", (self._pad_and_diagonalize(probs), chunks))
    return context.view(batch, heads, length, head_dim).transpose(1, 2)


class NystromformerOnnxConfig(TextEncoderOnnxConfig):
    """Nyströmformer: with landmarks, the sequence length is a config constant.

    The landmark approximation reshapes the sequence into ``num_landmarks`` segments of
    ``segment_means_seq_len // num_landmarks`` tokens, ``segment_means_seq_len`` being fixed
    (512 in the checkpoints, whose inputs are padded to it). Such a model runs on exactly that
    length, so the sequence axis is static and both trace and validation use it; a dynamic
    axis (as Optimum declares) yields a graph that fails on any other length. Only when
    ``num_landmarks == segment_means_seq_len`` (plain softmax attention) is the length free.

    transformers 5 builds a (batch, 1, query, key) padding mask, which the landmark scores
    (batch, heads, landmarks, key) cannot be added to: the model itself fails on any padded
    batch. A padding mask has identical rows, so :meth:`export_context` hands the model its
    first row, (batch, 1, 1, key), the mask transformers 4 used.
    """

    @contextlib.contextmanager
    def export_context(self, model: Any):
        import sys

        module = sys.modules.get(type(model).__module__)
        original = getattr(module, "create_bidirectional_mask", None)
        if original is None or self.fixed_sequence_length() is None:
            yield
            return

        def one_row_mask(*args: Any, **kwargs: Any) -> Any:
            mask = original(*args, **kwargs)
            return mask[:, :, :1, :] if mask is not None and mask.dim() == 4 else mask

        module.create_bidirectional_mask = one_row_mask
        try:
            yield
        finally:
            module.create_bidirectional_mask = original

    def fixed_sequence_length(self):
        seq = self.normalized_config.get("segment_means_seq_len", None)
        landmarks = self.normalized_config.get("num_landmarks", None)
        return None if seq is None or seq == landmarks else int(seq)

    def _static_sequence(self, spec: IOSpec) -> IOSpec:
        if self.fixed_sequence_length() is not None:
            for axes in spec.values():
                for axis in [a for a, name in axes.items() if name == "sequence_length"]:
                    del axes[axis]
        return spec

    @property
    def inputs(self) -> IOSpec:
        return self._static_sequence(super().inputs)

    @property
    def outputs(self) -> IOSpec:
        return self._static_sequence(super().outputs)

    def generate_dummy_inputs(self, framework: str = "pt", **kwargs: Any) -> Dict[str, Any]:
        fixed = self.fixed_sequence_length()
        if fixed is not None:
            kwargs["sequence_length"] = fixed
        return super().generate_dummy_inputs(framework, **kwargs)


class PerceiverOnnxConfig(OnnxConfig):
    """Perceiver IO: a single forward argument, ``inputs``, whose meaning the task's
    preprocessor fixes (byte ids for text heads, pixels for image heads).

    The ONNX graph takes the usual names (``input_ids`` + ``attention_mask``, or
    ``pixel_values``) and :meth:`prepare_model_inputs` renames them. The decoders query a
    fixed number of positions, so logits have no sequence axis (fill-mask returns
    ``max_position_embeddings`` rows whatever the input length), and learned image position
    encodings fix the image size.
    """

    NORMALIZED_CONFIG_CLASS = NormalizedVisionConfig
    DUMMY_INPUT_GENERATOR_CLASSES = (DummyTextInputGenerator, DummyVisionInputGenerator)
    IMAGE_TASKS = ("image-classification",)
    OUTPUTS = {"fill-mask": {"logits": {0: "batch_size"}}}

    @property
    def inputs(self) -> IOSpec:
        if self.task in self.IMAGE_TASKS:
            return {"pixel_values": {0: "batch_size"}}
        return {"input_ids": {0: "batch_size", 1: "sequence_length"},
                "attention_mask": {0: "batch_size", 1: "sequence_length"}}

    def prepare_model_inputs(self, inputs: Dict[str, Any]) -> Dict[str, Any]:
        kwargs = dict(inputs)
        kwargs["inputs"] = kwargs.pop("pixel_values" if self.task in self.IMAGE_TASKS else "input_ids")
        return kwargs


ARCHITECTURES = [
    Arch("bert", ALL_TEXT, TextEncoderOnnxConfig, tiny=TINY_TEXT),
    Arch("roberta", ALL_TEXT, TextEncoderOnnxConfig, NO_TT, tiny=TINY_TEXT),
    Arch("xlm-roberta", ALL_TEXT, TextEncoderOnnxConfig, NO_TT, tiny=TINY_TEXT),
    Arch("camembert", ALL_TEXT, TextEncoderOnnxConfig, NO_TT, tiny=TINY_TEXT),
    Arch("distilbert", ALL_TEXT, TextEncoderOnnxConfig, NO_TT,
         tiny=dict(vocab_size=99, dim=32, n_layers=2, n_heads=4, hidden_dim=37, max_position_embeddings=64)),
    Arch("albert", ALL_TEXT, TextEncoderOnnxConfig, tiny=dict(TINY_TEXT, embedding_size=16)),
    Arch("electra", ALL_TEXT, TextEncoderOnnxConfig, tiny=dict(TINY_TEXT, embedding_size=16)),
    Arch("deberta", NO_MC, TextEncoderOnnxConfig, OPTIONAL_TT, tiny=dict(TINY_TEXT, type_vocab_size=0)),
    Arch("deberta-v2", ALL_TEXT, TextEncoderOnnxConfig, OPTIONAL_TT, tiny=dict(TINY_TEXT, type_vocab_size=0)),
    Arch("mpnet", ALL_TEXT, TextEncoderOnnxConfig, NO_TT, tiny=TINY_TEXT),
    Arch("mobilebert", ALL_TEXT, TextEncoderOnnxConfig,
         tiny=dict(TINY_TEXT, embedding_size=16, intra_bottleneck_size=16, num_feedforward_networks=1)),
    Arch("modernbert", NO_MC_QA, TextEncoderOnnxConfig, NO_TT,
         tiny=dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                   max_position_embeddings=64, pad_token_id=0, bos_token_id=1, eos_token_id=2, sep_token_id=2,
                   cls_token_id=1)),
    # beyond the required list: cheap rows, same mid-level class
    Arch("convbert", ALL_TEXT, TextEncoderOnnxConfig, tiny=dict(TINY_TEXT, embedding_size=32, head_ratio=2)),
    Arch("data2vec-text", ALL_TEXT, TextEncoderOnnxConfig, NO_TT, tiny=TINY_TEXT),
    Arch("ibert", ALL_TEXT, TextEncoderOnnxConfig, NO_TT, tiny=TINY_TEXT),
    Arch("megatron-bert", ALL_TEXT, TextEncoderOnnxConfig, tiny=TINY_TEXT),
    Arch("rembert", ALL_TEXT, TextEncoderOnnxConfig,
         tiny=dict(TINY_TEXT, input_embedding_size=16, output_embedding_size=16)),
    Arch("roformer", ALL_TEXT, TextEncoderOnnxConfig, tiny=TINY_TEXT),
    Arch("big_bird", ALL_TEXT, TextEncoderOnnxConfig, tiny=dict(TINY_TEXT, attention_type="original_full")),
    Arch("esm", LAYOUT, TextEncoderOnnxConfig, NO_TT,
         tiny=dict(TINY_TEXT, vocab_size=33, pad_token_id=1, mask_token_id=32, position_embedding_type="absolute")),
    Arch("xlm", ALL_TEXT, TextEncoderOnnxConfig, tiny=XLM_TINY),
    Arch("flaubert", ALL_TEXT, TextEncoderOnnxConfig, tiny=XLM_TINY),
    Arch("layoutlm", LAYOUT, TextEncoderOnnxConfig,
         dict(INPUT_NAMES=("input_ids", "bbox", "attention_mask", "token_type_ids")),
         tiny=dict(TINY_TEXT, max_2d_position_embeddings=1024)),
    # SqueezeBERT's grouped 1x1 convolutions need sizes divisible by their groups (4 by default)
    Arch("squeezebert", ALL_TEXT, TextEncoderOnnxConfig, tiny=dict(TINY_TEXT, embedding_size=32, intermediate_size=64)),
    Arch("splinter", FE_QA, TextEncoderOnnxConfig, tiny=dict(TINY_TEXT, question_token_id=98)),
    Arch("nystromformer", ALL_TEXT, NystromformerOnnxConfig,
         tiny=dict(TINY_TEXT, segment_means_seq_len=16, num_landmarks=4, conv_kernel_size=3)),
    Arch("longformer", ALL_TEXT, LongformerOnnxConfig,
         # one layer: the global-attention graph is slow to trace; window 6 makes the trace length pad
         tiny=dict(TINY_TEXT, num_hidden_layers=1, attention_window=6, type_vocab_size=1, pad_token_id=1,
                   bos_token_id=0, eos_token_id=2, sep_token_id=2)),
    Arch("lilt", DOC_TASKS, TextWithExtraInputsOnnxConfig, dict(INPUT_NAMES=("input_ids", "bbox", "attention_mask")),
         # layout embeddings split the hidden size in six (x0, y0, x1, y1, w, h)
         tiny=dict(TINY_TEXT, hidden_size=48, channel_shrink_ratio=4, max_2d_position_embeddings=1024)),
    Arch("layoutlmv3", DOC_TASKS, TextWithExtraInputsOnnxConfig,
         dict(INPUT_NAMES=("input_ids", "attention_mask", "bbox", "pixel_values"),
              EXTRA_INPUT_AXES={"pixel_values": {0: "batch_size"}},  # visual_bbox fixes the patch grid
              NORMALIZED_CONFIG_CLASS=NormalizedVisionConfig.with_args(image_size="input_size")),
         tiny=dict(TINY_TEXT, coordinate_size=4, shape_size=8, input_size=32, patch_size=8, num_channels=3,
                   max_2d_position_embeddings=1024, rel_pos_bins=8, max_rel_pos=16, rel_2d_pos_bins=8,
                   max_rel_2d_pos=64, pad_token_id=1)),
    Arch("markuplm", ("feature-extraction", "text-classification", "token-classification", "question-answering"),
         TextWithExtraInputsOnnxConfig,
         dict(INPUT_NAMES=("input_ids", "attention_mask", "token_type_ids", "xpath_subs_seq", "xpath_tags_seq"),
              EXTRA_INPUT_AXES={"xpath_subs_seq": BATCH_SEQ, "xpath_tags_seq": BATCH_SEQ}),
         tiny=dict(TINY_TEXT, max_depth=4, xpath_unit_hidden_size=8, max_xpath_tag_unit_embeddings=20,
                   max_xpath_subs_unit_embeddings=30, tag_pad_id=19, subs_pad_id=29)),
    Arch("perceiver", ("fill-mask", "text-classification", "image-classification"), PerceiverOnnxConfig,
         tiny=dict(num_latents=8, d_latents=32, d_model=32, num_blocks=1, num_self_attends_per_block=1,
                   num_self_attention_heads=2, num_cross_attention_heads=2, vocab_size=99, max_position_embeddings=64,
                   image_size=32)),
    Arch("visual_bert", ("feature-extraction",), TextWithExtraInputsOnnxConfig,
         dict(INPUT_NAMES=("input_ids", "attention_mask", "visual_embeds", "visual_attention_mask",
                           "visual_token_type_ids"),
              EXTRA_INPUT_AXES={"visual_embeds": BATCH_REGIONS, "visual_attention_mask": BATCH_REGIONS,
                                "visual_token_type_ids": BATCH_REGIONS},
              OUTPUTS={"last_hidden_state": {0: "batch_size", 1: "sequence_length + visual_seq_length"}},
              VALIDATION_SHAPES=dict(OnnxConfig.VALIDATION_SHAPES, visual_seq_length=5)),
         tiny=dict(TINY_TEXT, visual_embedding_dim=16)),
]
