"""Greedy generation with a state-space / hybrid decode-step graph, ONNX Runtime only.

The graph (:mod:`xporter_onnx.configs.hybrid_decoders`) takes one token per row and the
layers' past (``past_conv.{i}``, ``past_ssm.{i}`` / ``past_recurrent.{i}``, and for hybrids
``past_key_values.{i}.key/value``) and returns the same tensors one step later
(``present_conv.{i}``, ``present_ssm.{i}`` / ``present_recurrent.{i}``, ``present.{i}.*``).

Why the prompt goes one token per step: the step graph is the only traceable form of the
recurrence (see the config's docstring); starting from zero states and empty keys/values it
computes what the model's prompt pass computes, token for token.

Left padding: rows whose step token is padding get their recurrent and conv states reset to
zeros after the step, so a padded row starts its first real token from the state an unpadded
prompt would have. That is what ``generate()`` achieves on the prompt pass, where the model
multiplies padded positions' inputs by 0 (the SSM layers' mask) and a zero input leaves a
zero state (input projections without bias, the families' default); attention layers of
hybrids see the usual mask over past + new tokens, and positions count real tokens only.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Union

import numpy as np

from .generation import PathOrSession, _empty_past, _GreedyState, _int_type, open_session

STATE_PREFIXES = ("past_conv.", "past_ssm.", "past_recurrent.")


def _present_name(past_name: str) -> str:
    """``past_ssm.3`` -> ``present_ssm.3``; ``past_key_values.2.key`` -> ``present.2.key``."""
    if past_name.startswith("past_key_values."):
        return "present." + past_name[len("past_key_values."):]
    return "present_" + past_name[len("past_"):]


class OnnxStateDecoderGreedy:
    """Greedy tokens from a ``text-generation-with-past`` export of a Mamba-like / hybrid model.

    >>> runner = OnnxStateDecoderGreedy("out/model.onnx")
    >>> tokens = runner.generate(np.array([[5, 6, 7]]), max_new_tokens=12)
    """

    def __init__(self, model: PathOrSession, providers: Optional[Sequence[str]] = None):
        self.session = open_session(model, providers)
        self.inputs = {arg.name: arg for arg in self.session.get_inputs()}
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.state_names = [n for n in self.inputs if n.startswith(STATE_PREFIXES)]
        if not self.state_names:
            raise ValueError("this graph takes no past_conv/past_ssm/past_recurrent states; for a key/value cache "
                             "use xporter_onnx.generation.OnnxDecoderGreedy")
        mask = self.inputs.get("attention_mask")
        # pure SSMs take the step token's mask (batch, 1); hybrids the mask over past + new tokens
        self.step_mask = mask is not None and mask.shape[-1] == 1

    def initial_past(self, batch: int) -> Dict[str, np.ndarray]:
        """Zero states and zero-length keys/values, sized from the graph's declared shapes."""
        return _empty_past(self.session, batch, prefixes=(*STATE_PREFIXES, "past_key_values."))

    def _feed(self, token: np.ndarray, mask: np.ndarray, past: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        feed = dict(past)
        feed["input_ids"] = token[:, None].astype(_int_type(self.session, "input_ids"))
        if "attention_mask" in self.inputs:
            value = mask[:, -1:] if self.step_mask else mask
            feed["attention_mask"] = value.astype(_int_type(self.session, "attention_mask"))
        if "position_ids" in self.inputs:
            positions = np.where(mask == 0, 1, np.cumsum(mask, axis=-1) - 1)[:, -1:]
            feed["position_ids"] = positions.astype(_int_type(self.session, "position_ids"))
        return feed

    def step(self, token: np.ndarray, mask: np.ndarray, past: Dict[str, np.ndarray]):
        """Logits of one token per row (``mask``: every position so far, this one last) and the next past."""
        outputs = dict(zip(self.output_names, self.session.run(None, self._feed(token, mask, past))))
        padded = mask[:, -1] == 0
        following = {}
        for name in past:
            value = outputs[_present_name(name)]
            if padded.any() and name in self.state_names:
                value = np.where(padded.reshape((-1,) + (1,) * (value.ndim - 1)), 0, value).astype(value.dtype)
            following[name] = value
        return outputs["logits"], following

    def generate(self, input_ids: np.ndarray, attention_mask: Optional[np.ndarray] = None, max_new_tokens: int = 20,
                 eos_token_id: Optional[Union[int, Sequence[int]]] = None,
                 pad_token_id: Optional[int] = None) -> np.ndarray:
        """Prompt plus up to ``max_new_tokens`` greedy tokens, shape (batch, prompt + new)."""
        input_ids = np.asarray(input_ids, dtype=np.int64)
        batch, prompt_length = input_ids.shape
        full_mask = np.ones_like(input_ids) if attention_mask is None else np.asarray(attention_mask, dtype=np.int64)
        past = self.initial_past(batch)
        logits: Any = None
        for position in range(prompt_length):
            logits, past = self.step(input_ids[:, position], full_mask[:, : position + 1], past)
        state = _GreedyState(eos_token_id, pad_token_id, batch)
        sequences, mask = input_ids, full_mask
        for new in range(max_new_tokens):
            tokens = state.next_tokens(logits)
            sequences = np.concatenate([sequences, tokens[:, None]], axis=1)
            if state.done or new == max_new_tokens - 1:
                break
            mask = np.concatenate([mask, np.ones((batch, 1), dtype=mask.dtype)], axis=1)
            logits, past = self.step(tokens, mask, past)
        return sequences
