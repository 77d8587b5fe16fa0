"""Every quantized graph against its fp32 source, ONNX Runtime on both sides.

A quantized graph is never equal to its source, so a max-abs-diff tolerance (what
:mod:`xporter_onnx.validate` uses) says little; what matters is whether the outputs point
the same way (cosine), how far any value moved (max abs diff, reported), whether the
predicted class/token is the same (argmax agreement over the last axis) and, for a
decoder, whether greedy generation still produces the same tokens. The minimums below
are the documented contract: a variant under one of them raises ``ValidationError`` and
the export writes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from xporter.errors import ValidationError

# Minimum cosine (over every output, flattened) per mode. fp16 keeps ~3 decimal digits;
# int8 moves each hidden state by a few percent; 4-bit weights by more.
MIN_COSINE = {"fp16": 0.999, "int8-dynamic": 0.98, "uint8-dynamic": 0.98, "int8-static": 0.95,
              "int4": 0.95, "q4f16": 0.95, "int8-weight": 0.98}
# Minimum teacher-forced top-1 agreement with the fp32 graph (share of decode steps, each fed the
# fp32 greedy prefix, whose next token is the same), per mode. Per-step, so it does not compound the
# way free-running agreement does (that one is reported, not gated; see greedy_agreement).
MIN_GREEDY_AGREEMENT = {"fp16": 0.95, "int8-dynamic": 0.85, "uint8-dynamic": 0.85, "int8-static": 0.7,
                        "int4": 0.7, "q4f16": 0.7, "int8-weight": 0.85}
GREEDY_PROMPTS = 4  # fixed prompt set: seeded random token ids (random-weight models have no language)
GREEDY_PROMPT_LENGTH = 8
GREEDY_NEW_TOKENS = 16


def _session(path: Path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _fit_feed(session: Any, feed: Dict[str, Any]) -> Dict[str, Any]:
    """The feed restricted to what the graph reads, floats cast to the graph's input type (fp16 I/O)."""
    import numpy as np

    result = {}
    for arg in session.get_inputs():
        if arg.name in feed:
            value = np.asarray(feed[arg.name])
            if arg.type == "tensor(float16)" and value.dtype != np.float16:
                value = value.astype(np.float16)
            result[arg.name] = value
    return result


def compare_outputs(source: Path, quantized: Path, feeds: Sequence[Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    """Per output name: cosine, max abs diff and argmax agreement of ``quantized`` vs ``source`` over ``feeds``."""
    import numpy as np

    reference_session, candidate_session = _session(source), _session(quantized)
    names = [o.name for o in reference_session.get_outputs()]
    stats: Dict[str, Dict[str, Any]] = {}
    for feed in feeds:
        want = reference_session.run(None, _fit_feed(reference_session, feed))
        got = dict(zip([o.name for o in candidate_session.get_outputs()],
                       candidate_session.run(None, _fit_feed(candidate_session, feed))))
        for name, expected in zip(names, want):
            if name not in got or not np.issubdtype(np.asarray(expected).dtype, np.floating):
                continue
            a = np.asarray(expected, np.float64).ravel()
            b = np.asarray(got[name], np.float64).ravel()
            entry = stats.setdefault(name, {"dot": 0.0, "aa": 0.0, "bb": 0.0, "max_abs_diff": 0.0, "same": 0,
                                            "positions": 0, "finite": True})
            if a.shape != b.shape:
                entry["shape_mismatch"] = [list(np.shape(expected)), list(np.shape(got[name]))]
                continue
            entry["finite"] &= bool(np.isfinite(b).all())
            if a.size == 0:
                continue
            entry["dot"] += float(a @ b)
            entry["aa"] += float(a @ a)
            entry["bb"] += float(b @ b)
            entry["max_abs_diff"] = max(entry["max_abs_diff"], float(np.max(np.abs(a - b))))
            if np.ndim(expected) >= 2 and np.shape(expected)[-1] > 1:
                expected_top = np.argmax(np.asarray(expected), axis=-1)
                got_top = np.argmax(np.asarray(got[name]), axis=-1)
                entry["same"] += int((expected_top == got_top).sum())
                entry["positions"] += int(expected_top.size)
    return {name: _summary(entry) for name, entry in stats.items()}


def _summary(entry: Dict[str, Any]) -> Dict[str, Any]:
    import math

    if entry["aa"] == 0.0 and entry["bb"] == 0.0:
        cosine = 1.0
    else:
        cosine = entry["dot"] / math.sqrt(max(entry["aa"] * entry["bb"], 1e-300))
    result = {"cosine": round(cosine, 6), "max_abs_diff": entry["max_abs_diff"], "finite": entry["finite"]}
    if entry["positions"]:
        result["argmax_agreement"] = round(entry["same"] / entry["positions"], 4)
    if "shape_mismatch" in entry:
        result["shape_mismatch"] = entry["shape_mismatch"]
    return result


def _step_logits(session: Any, sequences: Any, prompt_length: int) -> Any:
    """Last-position logits of every decode step, each step fed the *given* tokens (teacher forcing).

    Step 0 reads the prompt with an empty cache; step ``i`` feeds ``sequences[:, prompt_length + i - 1]``
    with the cache of the steps before, exactly as greedy decoding feeds its own tokens. Result:
    (batch, steps, vocab), row ``i`` predicting ``sequences[:, prompt_length + i]``.
    """
    import numpy as np

    from .generation import _empty_past, _int_type, _present_to_past

    names = [arg.name for arg in session.get_inputs()]
    outputs = [arg.name for arg in session.get_outputs()]
    batch, steps = sequences.shape[0], sequences.shape[1] - prompt_length
    past, step_ids, logits = _empty_past(session, batch), sequences[:, :prompt_length], []
    for step in range(steps):
        seen = prompt_length + step  # tokens in the cache once this step's input is in
        feed = dict(past, input_ids=step_ids.astype(_int_type(session, "input_ids")))
        if "attention_mask" in names:
            feed["attention_mask"] = np.ones((batch, seen), dtype=_int_type(session, "attention_mask"))
        if "position_ids" in names:
            positions = np.arange(seen - step_ids.shape[1], seen)[None].repeat(batch, 0)
            feed["position_ids"] = positions.astype(_int_type(session, "position_ids"))
        if "token_type_ids" in names:
            feed["token_type_ids"] = np.zeros_like(step_ids).astype(_int_type(session, "token_type_ids"))
        result = session.run(None, feed)
        logits.append(np.asarray(result[outputs.index("logits")], np.float32)[:, -1])
        past = _present_to_past(outputs, result)
        step_ids = sequences[:, prompt_length + step:prompt_length + step + 1]
    return np.stack(logits, axis=1)


def greedy_agreement(source: Path, quantized: Path, vocab_size: int, eos_token_id: Any = None) -> Dict[str, Any]:
    """Greedy decoding of a decoder-with-past graph vs its fp32 source on the fixed prompt set.

    Two metrics, because they answer different questions:

    * ``teacher_forced_agreement`` (gated, also ``agreement``): at each step both graphs see the
      fp32 greedy prefix; the share of steps whose top-1 token is the same. It measures what
      quantization changes (one next-token decision) without compounding.
    * ``free_running_agreement``: each graph decodes its own tokens; the share of positions equal.
      After the first differing token the two continue from different prefixes, so on a model with
      near-flat logits (a random-weight one: top-1 margins of ~0.1 logit) one early flip costs most
      of the sequence. ``first_divergence`` (per prompt, ``new_tokens`` = never) shows where.

    ``reference_margin_median`` (fp32 top-1 minus top-2 logit) and ``logit_diff_std`` (quantized
    minus fp32 logits) explain the figure: flips are likely where the margin is under the noise.
    """
    import numpy as np

    from .generation import OnnxDecoderGreedy, open_session

    prompts = np.random.default_rng(0).integers(0, max(int(vocab_size), 2),
                                                (GREEDY_PROMPTS, GREEDY_PROMPT_LENGTH), dtype=np.int64)
    reference_runner = OnnxDecoderGreedy(open_session(source))
    candidate_runner = OnnxDecoderGreedy(open_session(quantized))
    reference = reference_runner.generate(prompts, max_new_tokens=GREEDY_NEW_TOKENS)
    want = reference[:, GREEDY_PROMPT_LENGTH:]
    got = candidate_runner.generate(prompts, max_new_tokens=GREEDY_NEW_TOKENS)[:, GREEDY_PROMPT_LENGTH:]
    length = min(want.shape[1], got.shape[1])
    equal = want[:, :length] == got[:, :length]
    result: Dict[str, Any] = {
        "prompts": GREEDY_PROMPTS, "new_tokens": int(length),
        "free_running_agreement": round(float(equal.mean()) if length else 1.0, 4),
        "identical_sequences": int(equal.all(axis=1).sum()),
        "first_divergence": [int(np.argmin(row)) if not row.all() else int(length) for row in equal]}
    if "input_ids" not in {arg.name for arg in reference_runner.session.get_inputs()}:
        result.update(agreement=result["free_running_agreement"], gated_on="free_running_agreement")
        return result  # a decoder on embeddings: no token feed to force
    expected = _step_logits(reference_runner.session, reference, GREEDY_PROMPT_LENGTH)
    forced = _step_logits(candidate_runner.session, reference, GREEDY_PROMPT_LENGTH)
    if not (expected.argmax(-1) == want).all():  # the forced loop must replay the fp32 greedy run exactly
        raise ValidationError(f"{Path(source).name}: teacher-forced decoding does not reproduce its own greedy tokens",
                              "report this export (cache or position handling differs between steps)")
    top2 = np.sort(expected, axis=-1)[..., -2:]
    teacher = round(float((forced.argmax(-1) == want).mean()), 4)
    result.update(teacher_forced_agreement=teacher, agreement=teacher, gated_on="teacher_forced_agreement",
                  reference_margin_median=round(float(np.median(top2[..., 1] - top2[..., 0])), 4),
                  logit_diff_std=round(float((forced - expected).std()), 4))
    return result


def check_variant(file_name: str, mode: str, outputs: Dict[str, Dict[str, Any]],
                  greedy: Optional[Dict[str, Any]], min_cosine: Optional[float]) -> List[str]:
    """The thresholds this variant misses, as lines (empty when it passes)."""
    floor = MIN_COSINE[mode] if min_cosine is None else min_cosine
    problems = []
    for name, stats in outputs.items():
        if "shape_mismatch" in stats:
            problems.append(f"{file_name}:{name} shape {stats['shape_mismatch'][1]} != {stats['shape_mismatch'][0]}")
        elif not stats["finite"]:
            problems.append(f"{file_name}:{name} has NaN/Inf values")
        elif stats["cosine"] < floor:
            problems.append(f"{file_name}:{name} cosine {stats['cosine']:.4f} < {floor}")
    if greedy is not None and greedy["agreement"] < MIN_GREEDY_AGREEMENT[mode]:
        problems.append(f"{file_name}: greedy top-1 agreement ({greedy.get('gated_on', 'agreement')}) "
                        f"{greedy['agreement']:.2f} < {MIN_GREEDY_AGREEMENT[mode]}")
    return problems


def raise_if_problems(problems: List[str]) -> None:
    if problems:
        raise ValidationError("quantized model differs from the fp32 export: " + "; ".join(problems),
                              "use a gentler mode (int8-dynamic, fp16), --per-channel, a larger calibration set "
                              "for int8-static, or lower the bar with --min-cosine")
