"""Greedy generation for the Qwen2-VL / Qwen2.5-VL / Qwen3-VL split with ONNX Runtime and numpy only.

The decoder graph takes M-RoPE ``position_ids`` of shape (3, batch, sequence) (see
:mod:`xporter_onnx.configs.qwen_vl`); what they hold is the caller's business, as in
transformers.js and onnxruntime-genai. :func:`rope_index` writes them as the models'
``get_rope_index`` does for prompts with images:

* text tokens get the same position in all three rows, counting real (unpadded) tokens;
* an image's ``t * (h / merge) * (w / merge)`` placeholder tokens get (frame, row, column) of
  their merged token, each offset by the position where the image starts;
* the text after an image continues at that start plus ``max(t, h / merge, w / merge)``, so a
  prompt's largest position is smaller than its length: the difference (the rope delta)
  carries over to every generated token, whose three rows are ``real tokens so far - 1 + delta``.

Qwen3-VL's decoder also takes ``deepstack_embeds``: the vision graph's ``deepstack_features``
placed at the image tokens on the prompt step, zeros on decode steps.

Only images are handled (one frame each, as the image processors write them); video positions
also scale time by the frame rate, which this loop is not given.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np

from .generation import OnnxVisionLanguageGreedy, PathOrSession


def rope_index(input_ids: np.ndarray, image_grid_thw: np.ndarray, image_token_id: int, spatial_merge_size: int,
               attention_mask: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
    """M-RoPE positions (3, batch, sequence) of a prompt and its rope deltas (batch,).

    ``image_grid_thw`` lists every image of the batch in prompt order (row after row, left to
    right), as the processor returns it; each image's placeholder tokens are consecutive.
    Padding (mask 0) gets position 1, which attention never reads.
    """
    input_ids = np.asarray(input_ids, dtype=np.int64)
    batch, length = input_ids.shape
    mask = np.ones_like(input_ids) if attention_mask is None else np.asarray(attention_mask, dtype=np.int64)
    grids = [tuple(int(v) for v in row) for row in np.asarray(image_grid_thw).reshape(-1, 3)]
    positions = np.ones((3, batch, length), dtype=np.int64)
    deltas = np.zeros(batch, dtype=np.int64)
    next_image = 0
    for b in range(batch):
        keep = np.flatnonzero(mask[b])
        tokens = input_ids[b, keep]
        row = np.zeros((3, len(tokens)), dtype=np.int64)
        i = start = 0
        while i < len(tokens):
            if tokens[i] != image_token_id:
                row[:, i] = start
                i, start = i + 1, start + 1
                continue
            if next_image >= len(grids):
                raise ValueError(f"the prompts have more images than the {len(grids)} rows of image_grid_thw")
            frames, height, width = grids[next_image]
            next_image += 1
            rows, cols = height // spatial_merge_size, width // spatial_merge_size
            count = frames * rows * cols
            if i + count > len(tokens) or np.any(tokens[i:i + count] != image_token_id):
                raise ValueError(f"image {next_image - 1} (grid {frames}x{height}x{width}) needs {count} "
                                 "consecutive image tokens in the prompt")
            grid = np.stack(np.meshgrid(np.arange(frames), np.arange(rows), np.arange(cols), indexing="ij"))
            row[:, i:i + count] = grid.reshape(3, -1) + start
            i, start = i + count, start + max(frames, rows, cols)
        positions[:, b, keep] = row
        deltas[b] = (row.max() + 1 if len(tokens) else 0) - len(tokens)
    if next_image != len(grids):
        raise ValueError(f"image_grid_thw has {len(grids)} images but the prompts hold {next_image}")
    return positions, deltas


def decode_positions(attention_mask: np.ndarray, deltas: np.ndarray, new_tokens: int) -> np.ndarray:
    """Positions (3, batch, new_tokens) of tokens after the prompt: real tokens so far - 1 + delta."""
    text = np.cumsum(attention_mask, axis=-1)[:, -new_tokens:] - 1 + deltas[:, None]
    return np.broadcast_to(text, (3,) + text.shape).copy()


class OnnxQwenVLGreedy(OnnxVisionLanguageGreedy):
    """Greedy generation from images and prompts with a Qwen-VL export.

    ``image_inputs`` are what the processor gives: ``pixel_values`` (all images' patches) and
    ``image_grid_thw`` (fed as ``grid_thw`` to a graph that calls it so); each image's
    ``<|image_pad|>`` tokens are its merged-token count.

    >>> runner = OnnxQwenVLGreedy.from_folder("out/")
    >>> tokens = runner.generate(ids, {"pixel_values": pixels, "image_grid_thw": grid}, image_token_id=151655)
    """

    def __init__(self, vision_encoder: PathOrSession, embed_tokens: PathOrSession, decoder: PathOrSession,
                 spatial_merge_size: int = 2, providers: Optional[Sequence[str]] = None):
        super().__init__(vision_encoder, embed_tokens, decoder, providers)
        self.spatial_merge_size = int(spatial_merge_size)

    @classmethod
    def from_folder(cls, folder: Union[str, Path], providers: Optional[Sequence[str]] = None) -> "OnnxQwenVLGreedy":
        """The three graphs of ``folder`` (or its ``onnx/``), the merge size from its ``config.json``."""
        folder = Path(folder)
        graphs = folder / "onnx" if not (folder / "decoder_model_merged.onnx").exists() else folder
        merge = 2
        config = folder / "config.json"
        if config.exists():
            merge = json.loads(config.read_text()).get("vision_config", {}).get("spatial_merge_size", 2)
        return cls(graphs / "vision_encoder.onnx", graphs / "embed_tokens.onnx", graphs / "decoder_model_merged.onnx",
                   merge, providers)

    def visual(self, input_ids: np.ndarray, image_inputs: Dict[str, np.ndarray],
               image_token_id: int) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        """The prompt's embeddings with the image features at the image tokens and, for a
        Qwen3-VL export, the deepstack inputs (layers, batch, sequence, hidden): each layer's
        features at the image tokens, 0 elsewhere."""
        names = [i.name for i in self.vision.get_inputs()]
        if "grid_thw" in names and "image_grid_thw" in image_inputs:  # Qwen2-VL's transformers.js name
            image_inputs = dict(image_inputs, grid_thw=image_inputs["image_grid_thw"])
        missing = [n for n in names if n not in image_inputs]
        if missing:
            raise ValueError(f"vision encoder inputs missing: {missing}")
        outputs = [o.name for o in self.vision.get_outputs()]
        values = dict(zip(outputs, self.vision.run(outputs, {n: np.asarray(image_inputs[n]) for n in names})))
        embeds = self.decoder.embed(input_ids).copy()
        slots = input_ids == image_token_id
        features = values["image_features"]
        if int(slots.sum()) != features.shape[0]:
            raise ValueError(f"the prompt has {int(slots.sum())} image tokens but the images give "
                             f"{features.shape[0]} feature rows")
        embeds[slots] = features.astype(embeds.dtype)
        deepstack = None
        if "deepstack_features" in values:
            layers = values["deepstack_features"]
            deepstack = np.zeros((layers.shape[0],) + embeds.shape, dtype=embeds.dtype)
            deepstack[:, slots] = layers.astype(embeds.dtype)
        return embeds, deepstack

    def generate(self, input_ids: np.ndarray, image_inputs: Dict[str, np.ndarray], image_token_id: int,
                 attention_mask: Optional[np.ndarray] = None, max_new_tokens: int = 20,
                 eos_token_id: Optional[Union[int, Sequence[int]]] = None,
                 pad_token_id: Optional[int] = None) -> np.ndarray:
        """Prompt plus up to ``max_new_tokens`` greedy tokens, shape (batch, prompt + new)."""
        input_ids = np.asarray(input_ids, dtype=np.int64)
        mask = np.ones_like(input_ids) if attention_mask is None else np.asarray(attention_mask, dtype=np.int64)
        if "image_grid_thw" not in image_inputs:
            raise ValueError("image_inputs needs 'image_grid_thw' (the processor returns it with pixel_values)")
        prompt, deltas = rope_index(input_ids, image_inputs["image_grid_thw"], image_token_id,
                                    self.spatial_merge_size, mask)
        embeds, deepstack = self.visual(input_ids, image_inputs, image_token_id)

        def step_inputs(step: int, so_far: np.ndarray, new_tokens: int) -> Dict[str, np.ndarray]:
            if step == 0:
                feed = {"position_ids": prompt}
                if deepstack is not None:
                    feed["deepstack_embeds"] = deepstack
                return feed
            feed = {"position_ids": decode_positions(so_far, deltas, new_tokens)}
            if deepstack is not None:  # generated tokens are text: nothing to add
                feed["deepstack_embeds"] = np.zeros(deepstack.shape[:2] + (new_tokens,) + deepstack.shape[3:],
                                                    deepstack.dtype)
            return feed

        return self.decoder.generate(input_ids, mask, max_new_tokens, eos_token_id, pad_token_id,
                                     inputs_embeds=embeds, step_inputs=step_inputs)
