"""Quantized and half-precision variants of exported graphs, each validated against its fp32 source.

Every transform is one of ONNX Runtime's own tools; this module only picks the settings and
keeps the output contract (names, external data, validation, nothing left on failure):

``int8-dynamic``   ``quantize_dynamic``: int8 weights, uint8 activations quantized per call (u8s8,
                   the VNNI path). Only MatMuls with constant weights (attention's activation
                   MatMuls stay float). Per-column weight scales by default (all-MiniLM-L6-v2:
                   cosine 0.954 per-tensor -> 0.990 per-channel); ``--no-per-channel`` to drop them.
``uint8-dynamic``  the same with uint8 weights (u8u8; transformers.js ``uint8``).
``int8-static``    ``quantize_static`` in QDQ form, u8 activations / s8 per-channel weights, scales
                   calibrated on samples (:mod:`xporter_onnx.calibration`).
``int4``           ``MatMulNBitsQuantizer``: 4-bit block-wise weight-only MatMulNBits (blocks of 32
                   weights per scale, accuracy level 4 = int8 compute by default), for decoders and
                   large linears. The MatMul that writes a graph output (a decoder's LM head) keeps
                   8 bits (``head_bits``). Block size 32 rather than ORT's 128: 4x the scales (an fp32
                   scale + 4-bit zero point per 32 weights) for accuracy over speed; on the random
                   220M llama of ``bench/bench_quantize.py``: logit noise std 0.21 vs 0.27,
                   teacher-forced top-1 agreement 0.44 vs 0.33, 268 vs 248 MB, but 2.7x vs 3.9x
                   fp32 decode tokens/s (one run, 2 shared cores); ``--block-size 128`` for speed.
``int8-weight``    the same quantizer at 8 bits, LM head included: the accurate decode-speed mode.
                   Activations stay float between nodes (the kernel quantizes them per block inside,
                   level 4), so no DynamicQuantizeLinear pass per MatMul as in int8-dynamic; on the
                   same llama 2.6x fp32 tokens/s with teacher-forced agreement 0.95 at block 32
                   (2.8x, 0.92 at 128; int8-dynamic 2.4x, 0.86).
``fp16``           ``convert_float_to_float16`` with fp32 inputs/outputs (``keep_io_types``).
``q4f16``          int4, then fp16 (fp32 I/O). Accuracy level 0 unless given: MatMulNBits then computes
                   on the fp16 activations as they are (level 4 would quantize them to int8, which
                   leaves nothing for fp16 compute to do), and onnxruntime 1.21's CPU kernel
                   (transformers.js 3.x in Node) returns NaN logits for fp16 inputs at level 4
                   (measured on a tiny llama; onnxruntime 1.32 does not).

On x86 CPUs without VNNI, u8s8 products can saturate; weights then use 7 bits
(``reduce_range``) unless ``--reduce-range``/``--no-reduce-range`` says otherwise.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

from xporter.errors import ExportError, choices_message

from . import quantize_validate as checks
from .calibration import FeedReader, generated_samples, samples_from_file
from .layout import variant_file
from .torch_export import TWO_GB, _finalize, check_model

MODES: Dict[str, str] = {
    "int8-dynamic": "int8 weights, activations quantized at run time (no data needed)",
    "uint8-dynamic": "uint8 weights, activations quantized at run time",
    "int8-static": "int8 weights and activations, calibrated on samples",
    "int4": "4-bit block-wise weights (MatMulNBits), float activations",
    "int8-weight": "8-bit block-wise weights (MatMulNBits), float activations: fastest decoding at int8 accuracy",
    "fp16": "float16 weights and compute, float32 inputs/outputs",
    "q4f16": "4-bit weights, float16 compute, float32 inputs/outputs",
}
CALIBRATE_METHODS = ("minmax", "entropy", "percentile")
VALIDATION_SAMPLES = 2


@dataclass
class QuantizeOptions:
    """Settings shared by every mode; ``None`` means "pick for this machine/model"."""

    per_channel: bool = True
    reduce_range: Optional[bool] = None
    block_size: int = 32  # int4/q4f16/int8-weight: weights per scale (see the module docstring)
    accuracy_level: Optional[int] = None  # MatMulNBits compute type; None: 4 (int8), q4f16 0 (see above)
    head_bits: int = 8  # int4/q4f16: bits of the MatMul writing a graph output (LM head); 4 = as the rest, 0 = float
    symmetric: bool = False
    calibration_dataset: Optional[str] = None
    calibration_column: Optional[str] = None
    calibration_samples: int = 16
    calibrate_method: str = "minmax"
    min_cosine: Optional[float] = None
    fp16_io: bool = False
    validate: bool = True


def parse_modes(text: Optional[str]) -> List[str]:
    """``"int8-dynamic,fp16"`` -> ``["int8-dynamic", "fp16"]``; an unknown name is one line with the choices."""
    if not text:
        return []
    modes = []
    for name in (part.strip() for part in str(text).split(",")):
        if not name:
            continue
        if name not in MODES:
            message, hint = choices_message("quantization mode", name, MODES)
            raise ExportError(message, hint)
        if name not in modes:
            modes.append(name)
    return modes


def cpu_has_vnni() -> Optional[bool]:
    """Whether the CPU has int8 dot-product instructions (None when unknown, e.g. not Linux/x86)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    if "flags" not in flags:
        return None  # ARM: no u8s8 saturation issue
    return any(flag in flags for flag in ("avx512_vnni", "avx_vnni", "amx_int8"))


def _reduce_range(options: QuantizeOptions) -> bool:
    if options.reduce_range is not None:
        return options.reduce_range
    return cpu_has_vnni() is False


def _graph_bytes(path: Path) -> int:
    data = path.with_name(path.name + "_data")
    return path.stat().st_size + (data.stat().st_size if data.exists() else 0)


def _int8_dynamic(source: Path, target: Path, options: QuantizeOptions, weight_type: str, **_: Any) -> Dict[str, Any]:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    settings = {"per_channel": options.per_channel, "reduce_range": _reduce_range(options),
                "weight_type": weight_type, "op_types": ["MatMul", "Gemm"], "const_weights_only": True}
    quantize_dynamic(str(source), str(target), op_types_to_quantize=settings["op_types"],
                     per_channel=options.per_channel, reduce_range=settings["reduce_range"],
                     weight_type=getattr(QuantType, weight_type), extra_options={"MatMulConstBOnly": True},
                     use_external_data_format=_graph_bytes(source) >= TWO_GB)
    return settings


def _int8_static(source: Path, target: Path, options: QuantizeOptions,
                 calibration: Optional[Sequence[Dict[str, Any]]] = None, **_: Any) -> Dict[str, Any]:
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    if not calibration:
        raise ExportError("int8-static has no calibration samples", "give --calibration-dataset FILE or "
                          "--calibration-samples N > 0")
    names = [arg.name for arg in ort.InferenceSession(str(source), providers=["CPUExecutionProvider"]).get_inputs()]
    method = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
              "percentile": CalibrationMethod.Percentile}[options.calibrate_method]
    settings = {"format": "QDQ", "activation_type": "QUInt8", "weight_type": "QInt8", "per_channel": True,
                "reduce_range": _reduce_range(options), "calibrate_method": options.calibrate_method,
                "calibration_samples": len(calibration), "op_types": ["MatMul", "Gemm"]}
    quantize_static(str(source), str(target), FeedReader(calibration, names), quant_format=QuantFormat.QDQ,
                    op_types_to_quantize=settings["op_types"], per_channel=True, reduce_range=settings["reduce_range"],
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, calibrate_method=method,
                    use_external_data_format=_graph_bytes(source) >= TWO_GB,
                    extra_options={"MatMulConstBOnly": True, "ActivationSymmetric": False, "WeightSymmetric": True})
    return settings


def _output_matmuls(graph: Any) -> List[str]:
    """MatMul nodes that write a graph output (a decoder's LM head -> ``logits``), also inside the
    branches of a merged decoder's ``If``."""
    outputs = {output.name for output in graph.output}
    found = []
    for node in graph.node:
        if node.op_type == "MatMul" and set(node.output) & outputs:
            found.append(node.name)
        for attribute in node.attribute:
            for subgraph in [attribute.g] if attribute.HasField("g") else list(attribute.graphs):
                found.extend(_output_matmuls(subgraph))
    return found


def _count_ops(graph: Any, op_type: str) -> int:
    """Nodes of ``op_type`` in ``graph`` and its subgraphs (a merged decoder keeps its MatMuls in ``If`` branches)."""
    count = 0
    for node in graph.node:
        count += node.op_type == op_type
        for attribute in node.attribute:
            for subgraph in [attribute.g] if attribute.HasField("g") else list(attribute.graphs):
                count += _count_ops(subgraph, op_type)
    return count


def weight_only(source: Path, target: Path, options: QuantizeOptions, bits: int = 4,
                mode: Optional[str] = None) -> Dict[str, Any]:
    """Block-wise weight-only MatMulNBits (``bits`` 4 or 8), the LM head at ``options.head_bits``.

    The head is the one MatMul whose error lands on the logits unfiltered (no later layer norm or
    residual averages it out); greedy decoding flips wherever the top-1 margin is below that
    error, so by default it keeps 8 bits (+~1/8 of its fp32 size) while the body takes ``bits``.
    """
    import logging

    root_level = logging.getLogger().level  # the module below sets the root logger to INFO on import
    import onnx
    from onnxruntime.quantization import QuantFormat
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    quiet = logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer")
    level = quiet.level
    quiet.setLevel(logging.WARNING)  # it logs every node at INFO
    try:
        model = onnx.load(str(source))
        accuracy = options.accuracy_level if options.accuracy_level is not None else (0 if mode == "q4f16" else 4)
        heads = list(dict.fromkeys(_output_matmuls(model.graph))) if options.head_bits != bits else []
        quantizer = MatMulNBitsQuantizer(model, bits=bits, block_size=options.block_size,
                                         is_symmetric=options.symmetric, accuracy_level=accuracy,
                                         quant_format=QuantFormat.QOperator, op_types_to_quantize=("MatMul",),
                                         nodes_to_exclude=heads)
        quantizer.process()
        if heads and options.head_bits:
            quantizer = MatMulNBitsQuantizer(quantizer.model.model, bits=options.head_bits,
                                             block_size=options.block_size, is_symmetric=options.symmetric,
                                             accuracy_level=accuracy, quant_format=QuantFormat.QOperator,
                                             op_types_to_quantize=("MatMul",), nodes_to_include=heads)
            quantizer.process()  # only the heads are left with a constant weight
    finally:
        quiet.setLevel(level)
        logging.getLogger().setLevel(root_level)
    converted = _count_ops(quantizer.model.model.graph, "MatMulNBits")
    if not converted:
        raise ExportError(f"{mode or f'int{bits}'}: {source.name} has no MatMul with a constant 2-D weight "
                          "to quantize",
                          "use --quantize int8-dynamic (or fp16) for this model")
    quantizer.model.save_model_to_file(str(target), use_external_data_format=_graph_bytes(source) >= TWO_GB)
    return {"bits": bits, "block_size": options.block_size, "accuracy_level": accuracy,
            "symmetric": options.symmetric, "matmul_nbits_nodes": converted,
            "head_bits": (options.head_bits or 32) if heads else bits, "heads": heads}


def _int4(source: Path, target: Path, options: QuantizeOptions, **_: Any) -> Dict[str, Any]:
    return weight_only(source, target, options, bits=4, mode="int4")


def _int8_weight(source: Path, target: Path, options: QuantizeOptions, **_: Any) -> Dict[str, Any]:
    return weight_only(source, target, options, bits=8, mode="int8-weight")


def _topologically_sorted(model: Any) -> Any:
    """``model`` with every node after the producers of its inputs, in the graph and its subgraphs.

    ``convert_float_to_float16`` appends the Cast it adds after each fp32 graph input at the *end*
    of the node list; with ``keep_io_types`` a decoder's ``past_key_values.*`` are such inputs, so
    their consumers come first. ONNX Runtime sorts on load, but ``onnx.checker`` (and runtimes that
    trust the order) reject the graph. onnx-ir's sort is stable and follows the outer-scope values
    an ``If`` branch reads (merged decoders), which a top-level-only sort would miss.
    """
    import onnx_ir as ir

    graph = ir.from_proto(model)
    graph.graph.sort()
    return ir.to_proto(graph)


def _fp16(source: Path, target: Path, options: QuantizeOptions, **_: Any) -> Dict[str, Any]:
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    large = _graph_bytes(source) >= TWO_GB
    model = _topologically_sorted(convert_float_to_float16(onnx.load(str(source)), keep_io_types=not options.fp16_io,
                                                           disable_shape_infer=large))
    onnx.save_model(model, str(target), save_as_external_data=large, all_tensors_to_one_file=True,
                    location=target.name + ".data")
    return {"keep_io_types": not options.fp16_io}


def _q4f16(source: Path, target: Path, options: QuantizeOptions, **_: Any) -> Dict[str, Any]:
    middle = target.with_name("q4-" + target.name)
    settings = weight_only(source, middle, options, bits=4, mode="q4f16")
    settings.update(_fp16(middle, target, options))
    for leftover in middle.parent.glob(middle.name + "*"):
        leftover.unlink()
    return settings


TRANSFORMS: Dict[str, Callable[..., Dict[str, Any]]] = {
    "int8-dynamic": lambda s, t, o, **k: _int8_dynamic(s, t, o, "QInt8", **k),
    "uint8-dynamic": lambda s, t, o, **k: _int8_dynamic(s, t, o, "QUInt8", **k),
    "int8-static": _int8_static,
    "int4": _int4,
    "int8-weight": _int8_weight,
    "fp16": _fp16,
    "q4f16": _q4f16,
}


def quantize_graph(source: Path, target: Path, mode: str, options: QuantizeOptions,
                   calibration: Optional[Sequence[Dict[str, Any]]] = None) -> Dict[str, Any]:
    """Write ``target`` (``mode`` applied to ``source``); weights go to ``<target>_data`` above 2 GB."""
    scratch = Path(tempfile.mkdtemp(prefix="quantize-", dir=target.parent))
    try:
        staged = scratch / target.name
        settings = TRANSFORMS[mode](source, staged, options, calibration=calibration)
        _finalize(staged, target, None)
    except ExportError:
        raise
    except Exception as exc:  # noqa: BLE001 - an ORT tool failing on this graph: one line
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise ExportError(f"{mode} quantization of {source.name} failed: {type(exc).__name__}: {first}",
                          "try another --quantize mode, or --debug for the traceback") from exc
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    check_model(target)
    return settings


FeedMaker = Callable[[int], Dict[str, Any]]


def _calibration_feeds(mode: str, folder: Path, source: Path, make_feed: FeedMaker,
                       options: QuantizeOptions) -> Optional[List[Dict[str, Any]]]:
    if mode != "int8-static":
        return None
    if options.calibration_dataset:
        import onnxruntime as ort

        from .generation import _NUMPY_TYPES

        session = ort.InferenceSession(str(source), providers=["CPUExecutionProvider"])
        specs = {arg.name: _NUMPY_TYPES.get(arg.type) for arg in session.get_inputs()}
        return samples_from_file(Path(options.calibration_dataset), folder, specs, options.calibration_column,
                                 options.calibration_samples)
    return generated_samples(make_feed, options.calibration_samples)


def quantize_parts(folder: Path, feed_makers: Dict[str, FeedMaker], modes: Sequence[str], options: QuantizeOptions,
                   progress: Any, decoder: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """One variant per (graph in ``feed_makers``, mode), written next to its source in ``folder``.

    ``feed_makers[stem](seed)`` gives inputs for ``<stem>.onnx`` (validation seeds 1234+,
    calibration seeds 0+). ``decoder``: ``{"stem", "vocab_size"}`` of a decoder-with-past graph,
    whose variants are also checked by greedy generation. Raises ``ValidationError`` when a
    variant misses its threshold (the caller's staging folder is then discarded).
    """
    result: Dict[str, Any] = {"modes": list(modes), "options": asdict(options), "variants": [],
                              "thresholds": {"min_cosine": {m: options.min_cosine or checks.MIN_COSINE[m]
                                                            for m in modes},
                                             "min_greedy_agreement": {m: checks.MIN_GREEDY_AGREEMENT[m]
                                                                      for m in modes}}}
    problems: List[str] = []
    for stem, make_feed in feed_makers.items():
        source = folder / f"{stem}.onnx"
        validation = [make_feed(1234 + i) for i in range(VALIDATION_SAMPLES)] if options.validate else []
        for mode in modes:
            target = folder / variant_file(stem, mode)
            started = time.perf_counter()
            with progress.step(f"quantize {source.name} -> {target.name} ({mode})"):
                calibration = _calibration_feeds(mode, folder, source, make_feed, options)
                settings = quantize_graph(source, target, mode, options, calibration)
            entry: Dict[str, Any] = {"file": target.name, "source": source.name, "mode": mode, "settings": settings,
                                     "bytes": _graph_bytes(target),
                                     "size_ratio": round(_graph_bytes(target) / _graph_bytes(source), 4)}
            if options.validate:
                with progress.step(f"validate {target.name} against {source.name}"):
                    entry["outputs"] = checks.compare_outputs(source, target, validation)
                    greedy = None
                    if decoder and decoder.get("stem") == stem:
                        greedy = checks.greedy_agreement(source, target, decoder["vocab_size"])
                        entry["greedy"] = greedy
                    entry_problems = checks.check_variant(target.name, mode, entry["outputs"], greedy,
                                                          options.min_cosine)
                    entry["ok"] = not entry_problems
                    problems.extend(entry_problems)
            entry["seconds"] = round(time.perf_counter() - started, 3)
            result["variants"].append(entry)
    checks.raise_if_problems(problems)
    return result
