"""Image features whose token count follows ``image_sizes``, in tensor ops, so one trace serves any image sizes.

Two families (:mod:`xporter_onnx.configs.vlm_more`): LLaVA-NeXT / -NeXT-Video / -OneVision
"anyres" packing (here) and Mistral 3's Pixtral tower and patch merger (below).

``LlavaNextModel.get_image_features`` picks each image's crop grid from its ``image_sizes``
with Python (``select_best_resolution`` over ``image_grid_pinpoints``), splits the patch
features per image with Python ints, cuts the padding away (``unpad_image``, sizes from
``.tolist()``) and appends ``image_newline`` to every row. Traced, all of that freezes the
trace's image sizes and image count into the graph. :func:`anyres_image_features` computes
the same rows from tensors only:

* the best pinpoint per image: effective and wasted resolution against every pinpoint (a
  constant table), the largest effective one, ties to the least wasted, then the first, as the
  Python loop picks (float64, as Python computes the scales);
* every image's output as slots on a fixed canvas (the base patch's tokens, then the largest
  grid's rows x (columns + 1 newline)); a slot's source row in the flat patch features (or the
  newline row) and whether it lies inside the unpadded crop are index arithmetic on the grid
  and the crop of its image;
* the valid slots, in order, gathered with one boolean-mask selection: images, grids and
  crops all stay dynamic;
* OneVision (``vision_aspect_ratio = "anyres_max_N"``) resizes a crop of more than N tiles
  bilinearly to a size computed from it: each slot then gathers its four bilinear taps and
  sums them with PyTorch's weights (``align_corners=False``), the kept crops with weight 1.

``pixel_values`` are the processor's (images, patches, channels, H, W), padded with unused
patches up to the batch's largest count: every patch goes through the tower (they are
independent), the unused ones are never gathered.
"""

from __future__ import annotations

from typing import Any, List, Sequence


def anyres_layout(config: Any) -> dict:
    """The constants the packing needs, checked: pinpoints must be whole multiples of the tower's image size
    (the model reshapes ``patches - 1`` into that grid and fails otherwise)."""
    from xporter.errors import ExportError

    size = int(config.vision_config.image_size)
    side = size // int(config.vision_config.patch_size)
    pins = [(int(h), int(w)) for h, w in config.image_grid_pinpoints]
    if any(h % size or w % size for h, w in pins):
        raise ExportError(f"image_grid_pinpoints {pins} are not multiples of the vision image size {size}",
                          "use pinpoints that are whole numbers of vision tiles, as the released checkpoints do")
    return dict(size=size, side=side, pins=pins)


def best_pinpoints(image_sizes: Any, pins: Sequence[Sequence[int]]) -> Any:
    """``select_best_resolution`` for every image at once: (images, 2) (height, width) of the chosen pinpoint."""
    import torch

    table = torch.tensor(pins, dtype=torch.float64, device=image_sizes.device)
    sizes = image_sizes.to(torch.float64)
    oh, ow = sizes[:, :1], sizes[:, 1:]
    ph, pw = table[None, :, 0], table[None, :, 1]
    scale = torch.minimum(pw / ow, ph / oh)
    effective = torch.minimum(torch.floor(ow * scale) * torch.floor(oh * scale), ow * oh)
    wasted = ph * pw - effective
    best = effective == effective.max(dim=1, keepdim=True).values
    choice = torch.where(best, wasted, torch.full_like(wasted, float("inf"))).argmin(dim=1)
    return torch.tensor(pins, dtype=torch.int64, device=image_sizes.device)[choice]


def _python_round_7(x: Any) -> Any:
    """``int(round(x, 7))`` of ``unpad_image`` for positive float64 tensors."""
    import torch

    return torch.floor(torch.round(x * 1e7) / 1e7).to(torch.int64)


def unpadded_extent(image_sizes: Any, grid_h: Any, grid_w: Any) -> tuple:
    """``unpad_image`` as numbers: (row offset, rows, column offset, columns) of each image's crop
    on its (grid_h, grid_w) canvas of tokens."""
    import torch

    oh, ow = image_sizes[:, 0].to(torch.float64), image_sizes[:, 1].to(torch.float64)
    ch, cw = grid_h.to(torch.float64), grid_w.to(torch.float64)
    wide = (ow / oh) > (cw / ch)
    new_h = _python_round_7(oh * (cw / ow))
    new_w = _python_round_7(ow * (ch / oh))
    zero = torch.zeros_like(grid_h)
    pad_r = torch.where(wide, torch.div(grid_h - new_h, 2, rounding_mode="floor"), zero)
    pad_c = torch.where(wide, zero, torch.div(grid_w - new_w, 2, rounding_mode="floor"))
    return pad_r, grid_h - 2 * pad_r, pad_c, grid_w - 2 * pad_c


def shrunk_extent(rows: Any, cols: Any, side: int, max_tiles: int) -> tuple:
    """LLaVA-OneVision's ``anyres_max_N``: a crop of more than ``max_tiles`` tiles (by over 10 %) is resized
    to ``int(rows // ratio)`` x ``int(cols // ratio)`` with ``ratio = sqrt(area / (max_tiles * side**2))``."""
    import torch

    r, c = rows.to(torch.float64), cols.to(torch.float64)
    ratio = torch.sqrt(r * c / float(max_tiles * side * side))
    shrink = ratio > 1.1
    return (torch.where(shrink, torch.floor(r / ratio).to(torch.int64), rows),
            torch.where(shrink, torch.floor(c / ratio).to(torch.int64), cols))


def _bilinear_taps(out: Any, size: Any, steps: Any) -> tuple:
    """``interpolate(mode="bilinear", align_corners=False)`` along one axis for a per-image output size:
    the two source indices and their weights of every output index (float32, as PyTorch's CPU kernel)."""
    import torch

    scale = size.to(torch.float32) / out.to(torch.float32)
    source = torch.clamp((steps.to(torch.float32) + 0.5) * scale - 0.5, min=0.0)
    low = torch.minimum(source.to(torch.int64), size - 1)
    high = torch.minimum(low + 1, size - 1)
    weight = source - low.to(torch.float32)
    return low, high, 1.0 - weight, weight


def pack_anyres(features: Any, image_sizes: Any, newline: Any, layout: dict, max_tiles: Any = None,
                tiled: Any = None) -> Any:
    """``pack_image_features`` for (images, patches, tokens, hidden) projected features: (all tokens, hidden).

    ``max_tiles`` (LLaVA-OneVision's ``anyres_max_N``) also resizes large crops, bilinearly: each output
    slot is then the weighted sum of four gathered source tokens (one with weight 1 where the crop is kept).
    ``tiled`` (images,) False marks OneVision's untiled images: the base tokens and one newline (a canvas
    of one row and no column, whose newline slot is the only one kept)."""
    import torch

    images, patches, tokens, hidden = features.shape
    side, size, pins = layout["side"], layout["size"], layout["pins"]
    best = best_pinpoints(image_sizes, pins)
    cols = best[:, 1] // size  # patches across
    grid_h, grid_w = best[:, 0] // size * side, cols * side
    pad_r, rows_kept, pad_c, cols_kept = unpadded_extent(image_sizes, grid_h, grid_w)
    rows_out, cols_out = (rows_kept, cols_kept) if max_tiles is None else shrunk_extent(rows_kept, cols_kept,
                                                                                        side, max_tiles)
    if tiled is not None:
        rows_out = torch.where(tiled, rows_out, torch.ones_like(rows_out))
        cols_out = torch.where(tiled, cols_out, torch.zeros_like(cols_out))
    max_rows = max(h for h, _ in pins) // size * side
    max_cols = max(w for _, w in pins) // size * side + 1  # + the newline column
    device = features.device
    per = lambda t: t[:, None, None]  # noqa: E731  (per-image value against the canvas)
    r = torch.arange(max_rows, device=device)[None, :, None]
    c = torch.arange(max_cols, device=device)[None, None, :]
    valid = (r < per(rows_out)) & (c <= per(cols_out))
    is_newline = c == per(cols_out)
    first = (torch.arange(images, device=device) * (patches * tokens))[:, None, None]
    newline_row = images * patches * tokens

    def source(row: Any, col: Any) -> Any:
        """The flat feature row of crop position (row, col), the newline row on the newline column."""
        row, col = row + per(pad_r), torch.clamp(col + per(pad_c), max=max_cols - 2)
        patch = 1 + torch.div(row, side, rounding_mode="floor") * per(cols) + torch.div(col, side,
                                                                                          rounding_mode="floor")
        index = first + torch.clamp(patch, max=patches - 1) * tokens + (row % side) * side + col % side
        return torch.where(is_newline, torch.full_like(index, newline_row), index)

    base = first[:, :, 0] + torch.arange(tokens, device=device)[None]
    keep = torch.cat([torch.ones_like(base, dtype=torch.bool), valid.reshape(images, -1)], dim=1)
    table = torch.cat([features.reshape(-1, hidden), newline.reshape(1, hidden).to(features.dtype)], dim=0)

    def gather(index: Any) -> Any:
        return table.index_select(0, torch.cat([base, index.reshape(images, -1)], dim=1)[keep])

    if max_tiles is None:
        return gather(source(r, c))
    r0, r1, wr0, wr1 = _bilinear_taps(per(rows_out), per(rows_kept), r)
    c0, c1, wc0, wc1 = _bilinear_taps(per(cols_out), per(cols_kept), c)
    ones = torch.ones((images, tokens), dtype=torch.float32, device=device)

    def weight(w: Any, on_newline: float) -> Any:
        """Per kept slot; base tokens and the newline are copied (weight 1 on the first tap, 0 on the others)."""
        w = torch.where(is_newline, torch.full_like(w, on_newline), w).expand(images, max_rows, max_cols)
        return torch.cat([ones if on_newline else torch.zeros_like(ones), w.reshape(images, -1)], dim=1)[keep]

    taps = [((r0, c0), wr0 * wc0, 1.0), ((r0, c1), wr0 * wc1, 0.0), ((r1, c0), wr1 * wc0, 0.0),
            ((r1, c1), wr1 * wc1, 0.0)]
    return sum(gather(source(*at)) * weight(w, on_newline)[:, None].to(features.dtype) for at, w, on_newline in taps)


def projected_patches(model: Any, pixel_values: Any) -> Any:
    """Every patch through the tower, the configured feature layer(s) and strategy, and the projector:
    (images, patches, tokens, hidden)."""
    import torch

    inner = model.model if hasattr(model, "model") else model
    config = model.config
    images, patches = pixel_values.shape[:2]
    out = inner.vision_tower(pixel_values.flatten(0, 1), output_hidden_states=True, return_dict=True)
    layer = config.vision_feature_layer
    if isinstance(layer, int):
        selected = out.hidden_states[layer]
    else:
        selected = torch.cat([out.hidden_states[i] for i in layer], dim=-1)
    if config.vision_feature_select_strategy == "default":
        selected = selected[:, 1:]
    projected = inner.multi_modal_projector(selected)
    return projected.reshape(images, patches, projected.shape[-2], projected.shape[-1])


def anyres_image_features(model: Any, pixel_values: Any, image_sizes: Any, batch_num_images: Any = None) -> Any:
    """What ``get_image_features`` + the forward's concatenation give: one row per image token, in order.

    ``batch_num_images`` (prompts,), OneVision's: images of prompts with more than one are not tiled."""
    inner = model.model if hasattr(model, "model") else model
    aspect = getattr(model.config, "vision_aspect_ratio", None)  # LLaVA-OneVision's "anyres_max_9"
    max_tiles = int(aspect.strip("anyres_max_")) if aspect else None  # parsed as the model parses it
    return pack_anyres(projected_patches(model, pixel_values), image_sizes, inner.image_newline,
                       anyres_layout(model.config), max_tiles, tiled=single_image_prompts(batch_num_images,
                                                                                          image_sizes))


def single_image_prompts(batch_num_images: Any, image_sizes: Any) -> Any:
    """Per image: is it its prompt's only image (``need_patching``)? None without ``batch_num_images``."""
    import torch

    if batch_num_images is None:
        return None
    ends = torch.cumsum(batch_num_images, dim=0)
    images = torch.arange(image_sizes.shape[0], device=image_sizes.device)
    prompt = (images[:, None] >= ends[None, :]).sum(dim=1)
    return batch_num_images.index_select(0, prompt) == 1


def patch_counts(image_sizes: Any, config: Any) -> List[int]:
    """Patches per image the processor makes (the grid of the best pinpoint + the base image), in numpy,
    for the dummy inputs and the tests."""
    import numpy as np
    import torch

    layout = anyres_layout(config)
    best = best_pinpoints(torch.as_tensor(np.asarray(image_sizes), dtype=torch.int64), layout["pins"])
    return [int(h // layout["size"] * (w // layout["size"]) + 1) for h, w in best.tolist()]


# -- Mistral 3: the Pixtral tower and the patch merger ------------------------------------------------------
# ``PixtralVisionModel.forward`` cuts each image's patch grid to its ``image_sizes`` with Python ints, builds
# the 2-D positions and the per-image block mask in Python loops, and ``Mistral3PatchMerger`` unfolds every
# image on its own. The functions below do the same on the padded batch: a boolean mask of each image's
# patches selects them in order (images, rows, columns), positions and image ids come with the same selection,
# and the merger's 2x2 (``spatial_merge_size``) blocks are gathered by index.

def pixtral_features(model: Any, pixel_values: Any, image_sizes: Any) -> Any:
    """``Mistral3Model.get_image_features`` + the concatenation the forward does: (image tokens, text hidden)."""
    import torch

    inner = model.model if hasattr(model, "model") else model
    tower, projector, config = inner.vision_tower, inner.multi_modal_projector, model.config
    patch = int(tower.config.patch_size)
    embeds = tower.patch_conv(pixel_values.to(tower.patch_conv.weight.dtype))  # (images, hidden, rows, cols)
    images, _, rows, cols = embeds.shape
    grid = torch.div(image_sizes, patch, rounding_mode="floor")  # (images, 2) patches per side
    y = torch.arange(rows, device=embeds.device)[None, :, None].expand(images, rows, cols)
    x = torch.arange(cols, device=embeds.device)[None, None, :].expand(images, rows, cols)
    inside = (y < grid[:, :1, None]) & (x < grid[:, 1:, None])
    image_id = torch.arange(images, device=embeds.device)[:, None, None].expand(images, rows, cols)[inside]
    hidden = tower.ln_pre(embeds.permute(0, 2, 3, 1)[inside][None])
    rope = tower.patch_positional_embedding
    if rope.inv_freq.dim() == 2:  # transformers 4.x: a (side * side, dim) table read at row * side + column
        positions = y[inside] * (int(tower.config.image_size) // patch) + x[inside]
    else:
        positions = torch.stack([y[inside], x[inside]], dim=-1)
    cos_sin = rope(hidden, positions)
    mask = torch.zeros((), dtype=hidden.dtype, device=hidden.device).expand(image_id.shape[0], image_id.shape[0])
    mask = torch.where(image_id[:, None] == image_id[None, :], mask, torch.finfo(hidden.dtype).min)[None, None]
    states = [hidden]
    for layer in tower.transformer.layers:
        out = layer(states[-1], mask, position_embeddings=cos_sin)
        states.append(out[0] if isinstance(out, tuple) else out)
    layer = config.vision_feature_layer
    selected = states[layer] if isinstance(layer, int) else torch.cat([states[i] for i in layer], dim=-1)
    merged = merge_patches(projector.norm(selected[0]), grid, int(config.spatial_merge_size), rows, cols)
    merged = projector.patch_merger.merging_layer(merged)
    return projector.linear_2(projector.act(projector.linear_1(merged)))


def merge_patches(tokens: Any, grid: Any, merge: int, rows: Any, cols: Any) -> Any:
    """``Mistral3PatchMerger`` before its linear layer: every image's ``merge`` x ``merge`` blocks (rows of
    blocks, floor of the grid), each as (hidden x block position), the layout ``unfold`` gives. ``rows`` x
    ``cols`` is the padded batch's patch grid (sizes recorded by the trace), which bounds every image's."""
    import torch

    hidden = tokens.shape[-1]
    counts = grid[:, 0] * grid[:, 1]
    offsets = torch.cumsum(counts, dim=0) - counts  # each image's first token
    blocks = torch.div(grid, merge, rounding_mode="floor")
    by = torch.arange(rows // merge, device=tokens.device)[None, :, None]
    bx = torch.arange(cols // merge, device=tokens.device)[None, None, :]
    inside = (by < blocks[:, :1, None]) & (bx < blocks[:, 1:, None])
    width = grid[:, 1:, None].expand_as(inside)[inside]  # the block's image width, in patches
    start = (offsets[:, None, None] + by * merge * grid[:, 1:, None] + bx * merge)[inside]
    ky = torch.arange(merge, device=tokens.device).repeat_interleave(merge)
    kx = torch.arange(merge, device=tokens.device).repeat(merge)
    index = start[:, None] + ky[None] * width[:, None] + kx[None]
    gathered = tokens.index_select(0, index.flatten()).reshape(-1, merge * merge, hidden)
    return gathered.transpose(1, 2).reshape(-1, hidden * merge * merge)
