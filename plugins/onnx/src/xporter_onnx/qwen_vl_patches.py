"""Qwen2-VL / Qwen2.5-VL / Qwen3-VL vision towers in tensor ops, so one traced graph serves every image grid.

The towers take ``pixel_values`` as flattened patches of all images of a batch, one after the
other, and ``grid_thw`` (images, 3): frames, patch rows, patch columns of each image. Their own
forward derives three things from ``grid_thw`` in Python: the (row, column) of every patch for
the 2-D rotary embedding (a loop over ``grid_thw.tolist()``), ``cu_seqlens`` (where each image
ends; attention is computed per image by splitting at ``lengths.tolist()``) and, in Qwen2.5-VL,
a window permutation with its own ``cu_window_seqlens`` (another loop). A TorchScript trace
freezes each of these to the trace's grids: the graph then gives wrong features (or fails) for
any other number or size of images.

:func:`traceable_vision` replaces the tower's ``forward`` while exporting and validating with
:func:`vision_forward`, which computes the same values from ``grid_thw`` with tensor ops only:

* every patch's image, frame and position within its frame come from comparisons against the
  cumulative patch counts (no loop over images);
* (row, column) of a patch follow the towers' patch order: images are cut into
  ``merge x merge`` blocks, block-major, so the patch merger sees each block's patches in a row;
* attention per image (per frame, as ``cu_seqlens``) is one attention over all patches with a
  block-diagonal mask (patches of different frames never see each other): the same softmax
  over the same keys as the split;
* Qwen2.5-VL's windowed layers attend within ``window x window`` merged tokens of a frame. The
  model permutes the patches so that windows are contiguous, runs the blocks, then undoes the
  permutation after the merger; every layer except attention is per token and the merger is per
  block, so attention with a "same window" mask in the original order is the same computation
  and needs no permutation at all;
* Qwen3-VL's learned position table is resampled bilinearly to every image's grid (a loop over
  the images in the model) from each patch's (row, column) and its image's size; the outputs of
  its deepstack layers come back stacked as ``deepstack_features``.

The blocks' own submodules (norms, qkv, proj, MLP, merger) run unchanged; only the attention
core (rotary, scores, mask, softmax) is written here, in the eager form the towers use.
"""

from __future__ import annotations

import contextlib
import types
from typing import Any, Dict, Iterator, Optional, Tuple

# window ids pack (frame, window row, window column); this bounds the window rows/columns per frame
_WINDOW_BASE = 1 << 16


def vision_tower(model: Any) -> Any:
    """The vision transformer of a Qwen-VL model (``model.model.visual`` on 4.57 and 5.x)."""
    tower = getattr(getattr(model, "model", model), "visual", None)
    if tower is None:
        tower = getattr(model, "visual", None)
    if tower is None:
        from xporter.errors import ExportError

        raise ExportError(f"{type(model).__name__} has no 'visual' vision tower",
                          "export a Qwen2-VL, Qwen2.5-VL or Qwen3-VL ForConditionalGeneration checkpoint")
    return tower


def patch_layout(grid_thw: Any, num_patches: Any, merge: int, window: Optional[int] = None) -> Dict[str, Any]:
    """Per patch, in the towers' patch order: ``row``, ``col`` (in patches), ``height``, ``width``
    (its image's grid), ``block`` (attention block id) and ``window`` (window id or None).

    ``num_patches`` is the patch embeddings' ``shape[0]`` (recorded as a size by the trace, so
    the graph's patch axis stays dynamic). The block id is one per frame (what ``cu_seqlens``
    delimits); the window id (``window`` merged tokens a side, Qwen2.5-VL) is None without one.
    """
    import torch

    grid = grid_thw.to(torch.int64)
    frames, height, width = grid[:, 0], grid[:, 1], grid[:, 2]
    per_frame = height * width
    per_image = frames * per_frame
    ends = per_image.cumsum(0)
    patch = torch.arange(num_patches, dtype=torch.int64, device=grid.device)
    image = (patch[:, None] >= ends[None, :]).to(torch.int64).sum(-1)  # which image each patch is in
    within = patch - (ends - per_image)[image]
    frame_size = per_frame[image]
    in_frame = within % frame_size
    block = (frames.cumsum(0) - frames)[image] + within // frame_size  # frame index over the batch
    blocks_wide = width[image] // merge
    unit = in_frame // (merge * merge)  # merged token of the patch, raster order in its frame
    merged_row, merged_col = unit // blocks_wide, unit % blocks_wide
    layout = dict(row=merged_row * merge + (in_frame // merge) % merge, col=merged_col * merge + in_frame % merge,
                  height=height[image], width=width[image], block=block, window=None)
    if window:
        layout["window"] = (block * _WINDOW_BASE + merged_row // window) * _WINDOW_BASE + merged_col // window
    return layout


def _resampled_positions(tower: Any, layout: Dict[str, Any]) -> Any:
    """Qwen3-VL's learned (side x side) position table, bilinearly resampled (corners aligned)
    to each image's grid: per patch, four table rows and their weights, as the tower computes
    them per image in a loop."""
    import torch

    side = int(tower.num_grid_per_side)

    def axis(index: Any, size: Any) -> Tuple[Any, Any]:
        source = index.float() * (side - 1) / (size - 1).clamp(min=1).float()
        taps = source.floor().long()[:, None] + torch.arange(2, device=index.device)
        weights = (1 - (source[:, None] - taps.float()).abs()).clamp(min=0)
        return taps.clamp(max=side - 1), weights

    rows, row_weights = axis(layout["row"], layout["height"])
    cols, col_weights = axis(layout["col"], layout["width"])
    indices = (rows[:, :, None] * side + cols[:, None, :]).reshape(-1, 4)
    weights = (row_weights[:, :, None] * col_weights[:, None, :]).reshape(-1, 4)
    table = tower.pos_embed(indices)
    return (table * weights[:, :, None].to(table.dtype)).sum(1)


def _mask(ids: Any, dtype: Any) -> Any:
    """Additive attention bias: 0 between patches of the same id, the dtype's minimum elsewhere."""
    import torch

    same = ids[:, None] == ids[None, :]
    return torch.zeros(same.shape, dtype=dtype, device=ids.device).masked_fill(~same, torch.finfo(dtype).min)


def _rotate_half(x: Any) -> Any:
    import torch

    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def _rotary(tower: Any, row: Any, col: Any) -> Tuple[Any, Any]:
    """cos/sin of the towers' axial rotary embedding: rows and columns each turn a quarter of
    the head, ``[rows, columns, rows, columns]`` (the layout of both transformers lines)."""
    import torch

    rotary = tower.rotary_pos_emb
    inv_freq = rotary.inv_freq.to(torch.float32)
    angles = torch.cat([row[:, None].float() * inv_freq, col[:, None].float() * inv_freq], dim=-1)
    angles = torch.cat([angles, angles], dim=-1)
    scale = float(getattr(rotary, "attention_scaling", 1.0) or 1.0)
    return angles.cos() * scale, angles.sin() * scale


def _attention(attn: Any, hidden: Any, cos: Any, sin: Any, bias: Any) -> Any:
    """The vision attention on all patches at once, ``bias`` keeping each block to itself."""
    import torch

    length = hidden.shape[0]
    qkv = attn.qkv(hidden).reshape(length, 3, attn.num_heads, -1).permute(1, 2, 0, 3)
    query, key, value = qkv[0], qkv[1], qkv[2]  # (heads, patches, head_dim)
    query = (query.float() * cos + _rotate_half(query.float()) * sin).to(value.dtype)
    key = (key.float() * cos + _rotate_half(key.float()) * sin).to(value.dtype)
    scores = torch.matmul(query, key.transpose(-1, -2)).float() * attn.scaling + bias  # bias is float32
    probs = torch.softmax(scores, dim=-1).to(value.dtype)
    out = torch.matmul(probs, value).transpose(0, 1).reshape(length, -1)
    return attn.proj(out)


def vision_forward(tower: Any, hidden_states: Any, grid_thw: Any, **_: Any) -> Dict[str, Any]:
    """The tower's forward from flattened patches to merged image tokens (one row per
    placeholder token, images in order), with no Python value taken from ``grid_thw``:
    ``image_features`` and, for Qwen3-VL, ``deepstack_features`` (deepstack layers, tokens, hidden)."""
    import torch

    config = tower.config
    merge = int(config.spatial_merge_size)
    window = None
    full_layers = set(getattr(config, "fullatt_block_indexes", None) or ())
    if getattr(config, "window_size", None) and full_layers:  # Qwen2.5-VL
        window = int(config.window_size) // merge // int(config.patch_size)
    hidden = tower.patch_embed(hidden_states.to(tower.patch_embed.proj.weight.dtype))
    layout = patch_layout(grid_thw, hidden.shape[0], merge, window)
    if getattr(tower, "pos_embed", None) is not None:  # Qwen3-VL
        hidden = hidden + _resampled_positions(tower, layout).to(hidden.dtype)
    cos, sin = _rotary(tower, layout["row"], layout["col"])
    cos, sin = cos[None], sin[None]  # broadcast over heads
    full = _mask(layout["block"], torch.float32)
    windowed = _mask(layout["window"], torch.float32) if window else full
    deepstack_layers = list(getattr(tower, "deepstack_visual_indexes", None) or ())
    deepstack = []
    for index, blk in enumerate(tower.blocks):
        bias = full if index in full_layers else windowed
        hidden = hidden + _attention(blk.attn, blk.norm1(hidden), cos, sin, bias)
        hidden = hidden + blk.mlp(blk.norm2(hidden))
        if index in deepstack_layers:
            deepstack.append(tower.deepstack_merger_list[deepstack_layers.index(index)](hidden))
    out = {"image_features": tower.merger(hidden)}
    if deepstack:
        out["deepstack_features"] = torch.stack(deepstack)
    return out


@contextlib.contextmanager
def traceable_vision(model: Any) -> Iterator[Any]:
    """The model's vision tower with :func:`vision_forward` as its forward, for the duration."""
    tower = vision_tower(model)
    tower.forward = types.MethodType(vision_forward, tower)
    try:
        yield tower
    finally:
        del tower.forward  # the class's forward again
