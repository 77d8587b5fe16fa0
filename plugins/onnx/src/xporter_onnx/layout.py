"""Where the graphs of an export go: Optimum's layout or transformers.js's.

* ``optimum`` (default): every graph at the top of the folder (``model.onnx``,
  ``encoder_model.onnx`` ...), next to config.json and the tokenizer; what Optimum's
  ORTModel classes load.
* ``transformers.js`` (alias ``onnx-community``, the Hub organisation that publishes such
  folders): configs and tokenizer at the top, graphs under ``onnx/``; transformers.js picks
  a file by the ``dtype`` the user asks for through a suffix. Seq2seq models keep only what
  it reads: ``encoder_model`` and ``decoder_model_merged`` (one decoder for both steps).

Variant suffixes are the ones transformers.js maps its dtypes to (``q8`` -> ``_quantized``),
used in both layouts so one name means one thing. ``int8-weight`` (8-bit MatMulNBits) has no
transformers.js dtype: its ``_q8w`` suffix is none of transformers.js's (``_quantized``, ``_int8``,
``_uint8``, ``_q4``, ``_q4f16``, ``_bnb4``, ``_fp16``), so no ``dtype`` selects it or picks it by
mistake. The transformers.js layout refuses it (:func:`check_modes`): transformers.js 3.x runs
graphs with onnxruntime-node 1.21, whose MatMulNBits kernel takes 4-bit weights only (session
creation fails with "Only 4b quantization is supported for MatMulNBits op"); for the same reason
that layout's ``_q4``/``_q4f16`` files keep the LM head at 4 bits (:mod:`xporter_onnx.variants`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, List

from xporter.errors import ExportError, choices_message

LAYOUTS = {"optimum": "optimum", "transformers.js": "transformers.js", "onnx-community": "transformers.js"}
GRAPH_FOLDER = {"optimum": "", "transformers.js": "onnx"}
SUFFIX_BY_MODE = {"fp32": "", "fp16": "_fp16", "int8-dynamic": "_quantized", "uint8-dynamic": "_uint8",
                  "int8-static": "_int8", "int4": "_q4", "q4f16": "_q4f16", "int8-weight": "_q8w"}
# Graph names transformers.js reads for the model families it runs from a single folder
# (vision-language models: vision_encoder + embed_tokens + decoder_model_merged).
TRANSFORMERS_JS_GRAPHS = ("model", "encoder_model", "decoder_model_merged", "vision_encoder", "embed_tokens")
TRANSFORMERS_JS_REPLACED = {"decoder_model": "decoder_model_merged", "decoder_with_past_model": "decoder_model_merged"}
TRANSFORMERS_JS_NBITS = 4  # the only MatMulNBits width onnxruntime-node 1.21 (transformers.js 3.x) runs
TRANSFORMERS_JS_REFUSED = ("int8-weight",)


def resolve(name: str) -> str:
    if name not in LAYOUTS:
        message, hint = choices_message("layout", name, LAYOUTS)
        raise ExportError(message, hint)
    return LAYOUTS[name]


def variant_file(stem: str, mode: str) -> str:
    return f"{stem}{SUFFIX_BY_MODE[mode]}.onnx"


def check_modes(layout: str, modes: Iterable[str]) -> None:
    """A quantization mode the layout's runtime cannot load is one line naming the fix."""
    refused = [mode for mode in modes if mode in TRANSFORMERS_JS_REFUSED] if resolve(layout) == "transformers.js" else []
    if refused:
        raise ExportError(f"--layout transformers.js cannot hold {refused[0]}: transformers.js has no dtype for it "
                          "and its onnxruntime-node 1.21 runs only 4-bit MatMulNBits",
                          f"use --layout optimum for {refused[0]}, or int8-dynamic (dtype q8) / int4 (q4) "
                          "for transformers.js")


def kept_graphs(layout: str, stems: Iterable[str]) -> List[str]:
    """The exported graphs (file stems) the layout holds; a part it cannot hold is one line naming the fix."""
    stems = list(stems)
    if resolve(layout) == "optimum":
        return stems
    kept = [stem for stem in stems if stem in TRANSFORMERS_JS_GRAPHS]
    for stem in stems:
        needed = TRANSFORMERS_JS_REPLACED.get(stem)
        if needed is not None and needed not in stems:
            raise ExportError(f"--layout transformers.js needs {needed}.onnx for {stem}.onnx",
                              "drop --no-merge-decoders, or use --layout optimum")
        if stem not in TRANSFORMERS_JS_GRAPHS and needed is None:
            raise ExportError(f"--layout transformers.js cannot hold the part {stem}.onnx "
                              f"(it reads {', '.join(TRANSFORMERS_JS_GRAPHS)})", "use --layout optimum")
    return kept


def arrange(folder: Path, layout: str, stems: Iterable[str]) -> List[str]:
    """Put the graphs of ``folder`` where ``layout`` wants them; return every graph file (relative paths).

    Graphs of stems the layout does not keep are removed; the kept ones and their variants
    (``<stem>_<suffix>.onnx`` plus ``*.onnx_data``) move under the layout's graph folder.
    """
    layout = resolve(layout)
    stems = list(stems)
    kept = kept_graphs(layout, stems)
    target = folder / GRAPH_FOLDER[layout]
    target.mkdir(exist_ok=True)
    names = []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or not (path.suffix == ".onnx" or path.name.endswith(".onnx_data")):
            continue
        stem = path.name.split(".onnx")[0]
        owner = next((s for s in sorted(kept, key=len, reverse=True) if _belongs(stem, s)), None)
        if owner is None and any(_belongs(stem, s) for s in stems):
            path.unlink()  # a part the layout replaces (decoder_model -> decoder_model_merged)
            continue
        if target != folder:
            os.replace(path, target / path.name)
        names.append((target / path.name).relative_to(folder).as_posix())
    return names


def _belongs(file_stem: str, graph_stem: str) -> bool:
    return file_stem == graph_stem or any(file_stem == graph_stem + suffix for suffix in SUFFIX_BY_MODE.values() if suffix)
