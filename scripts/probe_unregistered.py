"""Try the generic bases on every transformers model type the ONNX tables lack, and say which validate.

    .venvs/main/bin/python scripts/probe_unregistered.py --out /tmp/probe.json            # every pool
    .venvs/main/bin/python scripts/probe_unregistered.py --pool encoder --pool vision -k bit

Why: most unregistered architectures are a standard head on a standard body, so a row is one
line once someone knows which base class and which tiny config make the export validate. This
finds that out by trial instead of by reading each modeling file: for each type it takes the
tasks transformers' auto mappings give it (:func:`xporter_onnx.testing.auto_mapping_tasks`),
picks the candidate (base, tiny config) pairs of its modality, and runs the coverage sweep's
case (:func:`xporter_onnx.coverage.run_case`: tiny random model, export, validation on other
shapes than the trace) on the main task, then, for the first candidate that passes, on every
other task. The output is a JSON record per type (candidate tried, per-task result, error) from
which table rows are written by hand; nothing here registers anything.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

TEXT_TASKS = {"fill-mask", "text-classification", "token-classification", "question-answering", "multiple-choice"}
VISION_TASKS = {"image-classification", "masked-im", "object-detection", "image-segmentation", "depth-estimation",
                "semantic-segmentation", "keypoint-detection", "zero-shot-object-detection"}
AUDIO_TASKS = {"automatic-speech-recognition", "audio-classification", "audio-frame-classification", "audio-xvector"}
SEQ2SEQ_TASKS = {"text2text-generation", "summarization", "translation"}


def pool_of(tasks: set) -> str:
    """The modality a type's auto-mapped tasks point at (the candidates tried depend on it)."""
    if tasks & {"image-text-to-text", "image-to-text"}:
        return "vlm"  # a vision tower plus a decoder: the split export of issue 10 item 3, not a single base
    if tasks & AUDIO_TASKS:
        return "audio"
    if tasks & VISION_TASKS:
        return "vision"
    if tasks & SEQ2SEQ_TASKS:
        return "seq2seq"
    if tasks & {"fill-mask", "multiple-choice"} or (tasks & TEXT_TASKS and "text-generation" not in tasks):
        return "encoder"
    if "text-generation" in tasks:
        return "causal"
    return "base-only"


def candidates(pool: str, tasks: set, model_type: str = "") -> List[Tuple[str, type, Dict[str, Any], Dict[str, Any]]]:
    """(label, base class, class attributes, tiny config kwargs) to try, most common first."""
    from xporter_onnx.configs import decoder_llms as llms
    from xporter_onnx.configs.audio import AUDIO, TINY_W2V
    from xporter_onnx.configs.decoder import (OWN_CLASS, TINY, TINY_GQA, DecoderOnnxConfig, MlaDecoderOnnxConfig,
                                              MoeDecoderOnnxConfig)
    from xporter_onnx.configs.text_encoders import NO_TT, OPTIONAL_TT, TINY_TEXT
    from xporter_onnx.configs.vision import PIXELS, TINY_CONV, TINY_DETR, TINY_SWIN, TINY_VIT
    from xporter_onnx.modalities import AudioFeaturesOnnxConfig, AudioOnnxConfig, TextEncoderOnnxConfig, VisionOnnxConfig

    padded = dict(TINY_TEXT, pad_token_id=0, bos_token_id=1, eos_token_id=2)  # default ids beyond the tiny vocab
    text = [("text", TextEncoderOnnxConfig, OPTIONAL_TT, TINY_TEXT), ("text-no-tt", TextEncoderOnnxConfig, NO_TT,
                                                                       TINY_TEXT),
            ("text-padded", TextEncoderOnnxConfig, OPTIONAL_TT, padded)]
    features = ("features", AudioFeaturesOnnxConfig, AUDIO,
                dict(TINY_TEXT, num_mel_bins=16, feature_size=16, input_feat_per_channel=16, d_model=32,
                     encoder_layers=2, encoder_attention_heads=4, encoder_ffn_dim=37, num_attention_heads=4,
                     pad_token_id=0))
    DETR = dict(INPUT_NAMES=("pixel_values", "pixel_mask"), ATOL_FOR_VALIDATION=1e-4, VALIDATION_SHAPES={"batch_size": 3},
                OUTPUTS={"feature-extraction": {"last_hidden_state": {0: "batch_size", 1: "num_queries"}}})
    decoders = [("decoder", DecoderOnnxConfig, OWN_CLASS, TINY_GQA),
                ("decoder-moe", MoeDecoderOnnxConfig, OWN_CLASS, llms.TINY_MOE),
                ("decoder-sliding", DecoderOnnxConfig, OWN_CLASS, dict(TINY_GQA, **llms.SLIDING)),
                ("decoder-mla", MlaDecoderOnnxConfig, OWN_CLASS, llms.TINY_MLA),
                ("decoder-mha", DecoderOnnxConfig, OWN_CLASS, TINY)]  # families without num_key_value_heads
    if pool == "causal":
        return decoders + (text if tasks & TEXT_TASKS else [])
    if pool == "encoder":
        return text + (decoders if "text-generation" in tasks else [])
    if pool == "vision":
        return [("vit", VisionOnnxConfig, PIXELS, TINY_VIT), ("conv", VisionOnnxConfig, PIXELS, TINY_CONV),
                ("swin", VisionOnnxConfig, PIXELS, TINY_SWIN),
                ("vit-dims", VisionOnnxConfig, PIXELS, dict(TINY_VIT, embed_dim=32, hidden_sizes=[8, 16],
                                                            depths=[1, 1], num_heads=[2, 2])),
                ("detr", VisionOnnxConfig, DETR, dict(TINY_DETR, image_size=64))]
    if pool == "audio":
        return [("w2v", AudioOnnxConfig, AUDIO, TINY_W2V), features]
    if pool == "composite":  # dual encoders (CLIP-likes): a text and a vision tower under one model
        from xporter_onnx.configs.multimodal import CLIP, TINY_CLIP, TINY_TEXT_TOWER, TINY_VISION_TOWER, ClipLikeOnnxConfig

        return [("clip-like", ClipLikeOnnxConfig, dict(CLIP), dict(TINY_CLIP)),
                ("clip-like-tt", ClipLikeOnnxConfig, dict(CLIP), dict(
                    text_config=dict(TINY_TEXT_TOWER, type_vocab_size=2), vision_config=TINY_VISION_TOWER,
                    projection_dim=16))]
    if pool == "seq2seq":
        from xporter_onnx.configs.seq2seq import BART_LIKE_NAMES, TINY_BART, TINY_T5, T5Normalized, Seq2SeqOnnxConfig

        return [("bart-like", Seq2SeqOnnxConfig, dict(NORMALIZED_CONFIG_CLASS=BART_LIKE_NAMES), TINY_BART),
                ("t5-like", Seq2SeqOnnxConfig, dict(NORMALIZED_CONFIG_CLASS=T5Normalized), TINY_T5)]
    if pool.startswith("tower-"):
        return [(f"own-{label}", base, dict(attrs, MODEL_CLASSES={"feature-extraction": own_model_class(model_type)}),
                 tiny) for label, base, attrs, tiny in candidates("base-" + pool[6:], tasks, model_type)]
    if pool.startswith("base-"):
        padded_decoder = ("decoder-padded", DecoderOnnxConfig, OWN_CLASS, dict(TINY_GQA, pad_token_id=0, bos_token_id=1,
                                                                                eos_token_id=2))
        return {"base-text": text + decoders[:2] + decoders[-1:] + [padded_decoder], "base-vision": candidates("vision", tasks),
                "base-audio": candidates("audio", tasks), "base-features": [features]}.get(pool, [])
    return []


class CaseTimeout(Exception):
    """A case ran past ``--timeout`` (a default config far from tiny, a trace that loops)."""


def _timed_case(row: Any, task: str, seconds: int) -> Dict[str, Any]:
    import signal

    from xporter_onnx.coverage import run_case

    def expire(signum: int, frame: Any) -> None:
        raise CaseTimeout(f"over {seconds}s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        with tempfile.TemporaryDirectory(prefix="xporter-probe-") as tmp:
            return run_case(row, task, Path(tmp), use_row_class=True)  # records exceptions, CaseTimeout too
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def probe_type(model_type: str, tasks: List[str], pool: str, log: Any, timeout: int = 120,
               earlier: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Try the pool's candidates in order until one validates the main task, then the other tasks
    (``earlier``: a previous record of this type, whose candidates are not tried again)."""
    from xporter_onnx.configs import Arch
    from xporter_onnx.coverage import main_task

    tried_before = list((earlier or {}).get("tried", []))
    record: Dict[str, Any] = {"model_type": model_type, "pool": pool, "tasks": tasks, "tried": tried_before}
    for label, base, attrs, tiny in candidates(pool, set(tasks), model_type):
        if any(t["candidate"] == label for t in tried_before):
            continue
        row_tasks = tuple(t for t in tasks if not (label.startswith("text") and t.startswith("text-generation")
                                                   and t.endswith("-with-past")))
        row = Arch(model_type, row_tasks, base, dict(attrs), tiny=dict(tiny))
        first = main_task(row)
        result = _timed_case(row, first, timeout)
        record["tried"].append({"candidate": label, "task": first, "ok": result["ok"],
                                "error": result.get("error"), "seconds": result["seconds"]})
        print(f"  {model_type} [{label}] {first}: {'ok' if result['ok'] else result.get('error')}", file=log, flush=True)
        if not result["ok"]:
            if "CaseTimeout" in str(result.get("error")):
                break  # the config is far from tiny: the other candidates would time out as well
            continue
        record["candidate"] = label
        record["results"] = {first: True}
        for task in row_tasks:
            if task == first:
                continue
            other = _timed_case(row, task, timeout)
            record["results"][task] = other["ok"] or other.get("error")
            print(f"    {task}: {'ok' if other['ok'] else other.get('error')}", file=log, flush=True)
        break
    return record


def unregistered() -> Iterable[Tuple[str, List[str], str]]:
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES
    from xporter_onnx.configs import all_architectures
    from xporter_onnx.testing import auto_mapping_tasks

    known = {r.model_type.replace("-", "_").lower() for r in all_architectures() if r.library == "transformers"}
    for model_type in sorted(CONFIG_MAPPING_NAMES):
        if model_type.replace("-", "_").lower() in known:
            continue
        tasks = auto_mapping_tasks(model_type)
        if "text-generation" in tasks:
            tasks.add("text-generation-with-past")
        if "text2text-generation" in tasks and pool_of(tasks) == "seq2seq":
            tasks |= {"text2text-generation-with-past", "feature-extraction-with-past"}
        ordered = sorted(tasks, key=lambda t: (t != "feature-extraction", t))
        pool = pool_of(tasks)
        if pool == "base-only" and tasks == {"feature-extraction"}:
            pool = base_pool(model_type)
        elif pool == "base-only" and not tasks and own_model_class(model_type):
            # no auto mapping at all: a sub-model type whose own class (Aimv2TextConfig -> Aimv2TextModel)
            # is exported for feature-extraction through the row's MODEL_CLASSES
            pool, ordered = "tower-" + base_pool(model_type, own_model_class(model_type))[5:], ["feature-extraction"]
        yield model_type, ordered, pool


def own_model_class(model_type: str) -> Optional[str]:
    """``<Stem>Model`` for a type whose config class is ``<Stem>Config``, when transformers has it."""
    import transformers
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    name = CONFIG_MAPPING_NAMES[model_type][: -len("Config")] + "Model"
    return name if hasattr(transformers, name) else None


# what a base model's forward takes first -> the pool whose candidates fit it
BASE_POOLS = {"input_ids": "base-text", "pixel_values": "base-vision", "input_values": "base-audio",
              "input_features": "base-features"}


def base_pool(model_type: str, class_name: Optional[str] = None) -> str:
    """Pool of a type whose only head is the base model: from the model class's main input;
    composite configs (sub-models inside) are left to their own work (towers, VLM split)."""
    import transformers
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING
    from xporter_onnx.generic import model_class_for

    if getattr(CONFIG_MAPPING[model_type], "sub_configs", None):
        return "composite"
    try:
        model_class = getattr(transformers, class_name) if class_name else model_class_for(model_type,
                                                                                           "feature-extraction")
        main_input = getattr(model_class, "main_input_name", None)
    except Exception:  # a class needing a backend this environment lacks (torchaudio ...)
        return "base-only"
    return BASE_POOLS.get(main_input, "base-only")


def _save(out: Path, data: Dict[str, Any]) -> None:
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    tmp.replace(out)


def main(argv: Optional[Iterable[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="/tmp/probe.json", help="JSON results (merged, saved after every type)")
    parser.add_argument("--pool", action="append", help="only these pools (causal, encoder, vision, audio)")
    parser.add_argument("-k", dest="match", help="only model types containing this")
    parser.add_argument("--timeout", type=int, default=120, help="seconds per case")
    parser.add_argument("--retry", action="store_true", help="probe again the types no candidate passed")
    parser.add_argument("--list", action="store_true", help="list the unregistered types and pools, run nothing")
    args = parser.parse_args(list(argv) if argv is not None else None)
    out = Path(args.out)
    data = json.loads(out.read_text()) if out.is_file() else {}
    todo = [(t, tasks, pool) for t, tasks, pool in unregistered()
            if (not args.pool or pool in args.pool) and (not args.match or args.match in t)]
    for index, (model_type, tasks, pool) in enumerate(todo, 1):
        if args.list:
            print(f"{pool:9} {model_type}: {', '.join(tasks)}")
            continue
        if model_type in data and not (args.retry and not data[model_type].get("candidate")
                                       and "hung" not in str(data[model_type].get("error"))):
            continue
        started = time.perf_counter()
        print(f"[{index}/{len(todo)}] {model_type} ({pool})", file=sys.stderr, flush=True)
        # recorded before the run: a type that hangs in native code (where the alarm cannot
        # interrupt it) is killed from outside and skipped when the probe is restarted
        _save(out, dict(data, **{model_type: {"model_type": model_type, "pool": pool, "tasks": tasks,
                                               "tried": [], "error": "hung or killed (no result)"}}))
        data[model_type] = dict(probe_type(model_type, tasks, pool, sys.stderr, args.timeout, data.get(model_type)),
                                seconds=round(time.perf_counter() - started, 1))
        _save(out, data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
