"""Export patches for :mod:`.configs.seq2seq_recent` rows.

FSMT's ``FSMTModel.forward`` builds the decoder's causal mask only when it is called *without* a
cache (``use_cache=False`` and ``input_ids`` given); the decoder graphs are traced with a cache, so
unpatched, ``decoder_model.onnx`` would let every position of a multi-token prefix attend to later
ones (``generate()`` never notices: it feeds one token per step). :func:`fsmt_causal_decoder`
gives the decoder the causal mask the model would use without a cache, offset by the cached
length, so the graphs score any prefix like ``model(..., use_cache=False)``. transformers 4.57's
``FSMTDecoder`` (its cache argument is ``past_key_values``, not ``cache``) keeps only the last input
token when called with a cache, which needs no mask: there the decoder is left as it is.
``FSMTModel`` (the ``feature-extraction`` class) also requires a positional ``input_ids``: the
decoder graphs pass ``None``, the encoder states arrive as ``encoder_outputs``.
"""

from __future__ import annotations

import contextlib
from typing import Any, Dict

from .base import ConfigBehavior
from .configs.seq2seq import Seq2SeqOnnxConfig


@contextlib.contextmanager
def fsmt_causal_decoder(model: Any):
    """Wrap the model's ``FSMTDecoder.forward`` so a missing causal mask is made (see module docstring)."""
    import inspect

    import torch

    base = getattr(model, "model", model)
    decoder = base.decoder
    original = decoder.forward
    if "cache" not in inspect.signature(original).parameters:  # transformers 4.57: last token only
        yield
        return

    def forward(input_ids, encoder_hidden_states, encoder_padding_mask, decoder_padding_mask,
                decoder_causal_mask, *args, **kwargs):
        if decoder_causal_mask is None:
            cache = kwargs.get("cache")
            past = cache.self_attention_cache.get_seq_length() if cache is not None else 0
            new = input_ids.shape[1]
            rows = torch.arange(new, device=input_ids.device).unsqueeze(1) + past
            cols = torch.arange(new + past, device=input_ids.device).unsqueeze(0)
            dtype = decoder.embed_tokens.weight.dtype
            decoder_causal_mask = torch.zeros(rows.shape[0], cols.shape[1], dtype=dtype, device=input_ids.device)
            decoder_causal_mask = decoder_causal_mask.masked_fill(cols > rows, torch.finfo(dtype).min)
        return original(input_ids, encoder_hidden_states, encoder_padding_mask, decoder_padding_mask,
                        decoder_causal_mask, *args, **kwargs)

    decoder.forward = forward
    try:
        yield
    finally:
        del decoder.forward


class FSMTOnnxConfig(Seq2SeqOnnxConfig):
    """FSMT: BART-like sizes, the causal decoder patch, ``input_ids=None`` on the decoder graphs."""

    @contextlib.contextmanager
    def export_context(self, model: Any):
        with super().export_context(model):
            if self.behavior is not ConfigBehavior.DECODER:
                yield
                return
            with fsmt_causal_decoder(model):
                yield

    def prepare_model_inputs(self, inputs: Dict[str, Any]) -> Dict[str, Any]:
        kwargs = super().prepare_model_inputs(inputs)
        if self.behavior is ConfigBehavior.DECODER:
            kwargs.setdefault("input_ids", None)
        return kwargs

