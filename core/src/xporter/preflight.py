"""Checks on a local model folder that run before the model is loaded.

Loading is the first expensive step (seconds for a small model, minutes and all the RAM for
a config that asks for 200,000 layers), and the errors it gives are transformers' load
tables and allocator crashes. These checks read only config.json and the weight files'
headers and refuse with one line and the numbers:

* config fields that must be a string / a positive integer;
* safetensors files that are truncated or not safetensors, ``.bin`` files that are not a
  torch archive, shards an index names but that are missing;
* a model that cannot fit in the available memory (parameter count estimated from the
  config, or the weight files' size, whichever is larger, times the export's measured peak:
  :func:`export_memory`).

``XPORTER_SKIP_RESOURCE_CHECKS=1`` turns the memory estimate off (an unusual architecture
the estimate overrates); the file checks always run.
"""

from __future__ import annotations

import json
import os
import struct
import zipfile
from pathlib import Path
from typing import Any, Dict, Optional

from .errors import ModelConfigError, ResourceError

ENV_SKIP_RESOURCES = "XPORTER_SKIP_RESOURCE_CHECKS"
SIZE_FIELDS = ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size",
               "n_embd", "n_layer", "n_head", "d_model", "num_layers", "encoder_layers", "decoder_layers",
               "max_position_embeddings")
LAYER_FIELDS = ("num_hidden_layers", "n_layer", "num_layers", "encoder_layers", "decoder_layers")
MAX_LAYERS = 1024  # the deepest published transformers have ~200; building 200,000 takes minutes, then crashes
NESTED_CONFIGS = ("text_config", "vision_config", "audio_config", "encoder", "decoder")
BYTES_PER_PARAM = {"fp32": 4, "fp16": 2, "bf16": 2}
# Peak memory of an export + validation = PEAK_PER_WEIGHT_BYTE x the weights + RUNTIME_BYTES
# (torch, transformers, onnx and onnxruntime imported). Measured with bench/bench_scale.py on
# random llamas (weights streamed to external data, the model freed before ONNX Runtime maps
# them): 250M fp32, 1.06 GiB of weights -> 1.52 GiB peak. The factor leaves room for the
# largest transient tensor (a transposed copy of the output projection) and the activations.
PEAK_PER_WEIGHT_BYTE = 1.15
RUNTIME_BYTES = 512 * 2**20


def export_memory(weight_bytes: int) -> int:
    """Bytes of memory an export of ``weight_bytes`` of weights needs at its peak."""
    return int(weight_bytes * PEAK_PER_WEIGHT_BYTE) + RUNTIME_BYTES


def check_config_fields(config: Dict[str, Any], where: str) -> None:
    """Type checks transformers does late (or not at all), with the field named."""
    model_type = config.get("model_type")
    if model_type is not None and not isinstance(model_type, str):
        raise ModelConfigError(f"{where}: model_type must be a string, got {model_type!r}",
                               "fix model_type in config.json (e.g. \"bert\")")
    architectures = config.get("architectures")
    if architectures is not None and (not isinstance(architectures, list)
                                      or not all(isinstance(a, str) for a in architectures)):
        raise ModelConfigError(f"{where}: architectures must be a list of class names, got {architectures!r}",
                               "fix architectures in config.json (e.g. [\"BertForSequenceClassification\"])")
    for name in SIZE_FIELDS:
        value = config.get(name)
        if value is None:  # absent, or left to the model class's default (diffusers writes null)
            continue
        values = value if isinstance(value, list) else [value]  # per-stage sizes (segformer, levit ...)
        if not values or any(isinstance(v, bool) or not isinstance(v, int) or v <= 0 for v in values):
            raise ModelConfigError(f"{where}: {name} must be a positive integer, got {value!r}",
                                   f"fix {name} in config.json")
    for name in LAYER_FIELDS:
        value = config.get(name)
        if isinstance(value, int) and value > MAX_LAYERS and not _skip_resource_checks():
            raise ResourceError(f"{where}: {name} = {value:,} layers (more than {MAX_LAYERS}); building the model "
                                f"would take minutes and exhaust memory",
                                f"fix {name} in config.json, or set {ENV_SKIP_RESOURCES}=1 if it is real")
    for key in NESTED_CONFIGS:
        if isinstance(config.get(key), dict):
            check_config_fields(config[key], f"{where} ({key})")


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "list", tuple: "list", dict: "object"}.get(type(value), "")


def check_against_defaults(config: Dict[str, Any], defaults: Dict[str, Any], where: str) -> None:
    """Each field must have the kind (number, bool, string, list, object) of the model type's default;
    ``None`` stays allowed where the default is ``None``. Catches what transformers reports as a
    strict-dataclass error or a TypeError deep in the model's constructor."""
    for name, value in config.items():
        default = defaults.get(name)
        if default is None or value is None:
            continue
        expected, got = _kind(default), _kind(value)
        if {expected, got} == {"number", "list"}:  # many fields take one value or one per layer/stage
            continue
        if expected and expected != got:
            raise ModelConfigError(f"{where}: {name} must be a {expected} (like the default {default!r}), "
                                   f"got {value!r}", f"fix {name} in config.json")


def _skip_resource_checks() -> bool:
    return os.environ.get(ENV_SKIP_RESOURCES, "").strip().lower() in ("1", "true", "yes")


def _first(config: Dict[str, Any], *names: str) -> int:
    for name in names:
        value = config.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return 0


def estimate_parameters(config: Dict[str, Any]) -> int:
    """A lower-bound parameter count of a transformer from its config (0 when it has no sizes).

    Embeddings plus, per layer, attention (4 h^2) and the feed-forward block (2 h i, times
    the experts for MoE). Nested text/vision/encoder/decoder configs are added.
    """
    hidden = _first(config, "hidden_size", "n_embd", "d_model", "dim")
    layers = _first(config, "num_hidden_layers", "n_layer", "num_layers") or (
        _first(config, "encoder_layers") + _first(config, "decoder_layers"))
    total = 0
    if hidden and layers:
        inner = _first(config, "intermediate_size", "n_inner", "ffn_dim", "d_ff", "decoder_ffn_dim") or 4 * hidden
        experts = _first(config, "num_local_experts", "num_experts", "n_routed_experts") or 1
        total = _first(config, "vocab_size") * hidden + layers * (4 * hidden * hidden + 2 * hidden * inner * experts)
    for key in NESTED_CONFIGS:
        if isinstance(config.get(key), dict):
            total += estimate_parameters(config[key])
    return total


def _check_safetensors(path: Path) -> int:
    """Validate the header and the length of a safetensors file; return its tensor bytes."""
    size = path.stat().st_size
    problem = None
    with open(path, "rb") as handle:
        head = handle.read(8)
        if len(head) < 8:
            problem = f"{size} bytes, shorter than a safetensors header"
        else:
            (header_len,) = struct.unpack("<Q", head)
            if header_len > size - 8 or header_len > 100 * 2**20:
                problem = "the header length does not fit in the file (truncated, or not safetensors)"
            else:
                try:
                    header = json.loads(handle.read(header_len))
                except (ValueError, UnicodeDecodeError):
                    header, problem = None, "the header is not JSON (not a safetensors file)"
                if header is not None:
                    ends = [t["data_offsets"][1] for k, t in header.items()
                            if k != "__metadata__" and isinstance(t, dict) and "data_offsets" in t]
                    expected = 8 + header_len + max(ends, default=0)
                    if size < expected:
                        problem = f"{size} bytes, the header needs {expected} (truncated)"
                    else:
                        return max(ends, default=0)
    raise ModelConfigError(f"weights file {path} is corrupt: {problem}",
                           "download or save the checkpoint again (save_pretrained)")


def _check_torch_archive(path: Path) -> int:
    size = path.stat().st_size
    if zipfile.is_zipfile(path):
        return size
    with open(path, "rb") as handle:
        magic = handle.read(2)
    if magic == b"\x80\x02" and size > 64:  # legacy (pre-1.6) torch.save pickle stream
        return size
    raise ModelConfigError(f"weights file {path} is corrupt: not a torch.save archive (truncated or another format)",
                           "download or save the checkpoint again (save_pretrained, safetensors preferred)")


def check_weight_files(folder: Path) -> int:
    """Validate the weight files of ``folder``; return their tensor bytes (0 when there are none)."""
    total = 0
    for index in list(folder.glob("*.safetensors.index.json")) + list(folder.glob("pytorch_model.bin.index.json")):
        try:
            shards = set(json.loads(index.read_text()).get("weight_map", {}).values())
        except (OSError, ValueError, AttributeError) as exc:
            raise ModelConfigError(f"{index} is not a valid weight index ({exc})",
                                   "download or save the checkpoint again") from exc
        missing = sorted(s for s in shards if not (folder / s).is_file())
        if missing:
            raise ModelConfigError(f"{index.name} lists shards that are missing: {', '.join(missing[:5])}",
                                   "download the missing shards or save the checkpoint again")
    safetensors = sorted(folder.glob("*.safetensors"))
    for path in safetensors:
        total += _check_safetensors(path)
    if not safetensors:  # transformers reads .bin only when there is no safetensors file
        for path in sorted(folder.glob("pytorch_model*.bin")):
            total += _check_torch_archive(path)
    return total


def available_memory() -> Optional[int]:
    """Bytes of memory this process can still use: MemAvailable, capped by a cgroup limit."""
    candidates = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                candidates.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        usage = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
        if limit.isdigit():
            candidates.append(int(limit) - usage)
    except (OSError, ValueError):
        pass
    return min(candidates) if candidates else None


def _gib(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.1f} GiB"


def check_model_folder(folder: Path, config: Dict[str, Any], dtype: str = "fp32") -> int:
    """Run every check on a local model folder; return the estimated bytes of its weights in ``dtype``."""
    check_config_fields(config, str(folder / "config.json"))
    file_bytes = check_weight_files(folder)
    parameters = estimate_parameters(config)
    weights = max(parameters * BYTES_PER_PARAM.get(dtype, 4), file_bytes)
    if _skip_resource_checks():
        return weights
    available = available_memory()
    needed = export_memory(weights)
    if available is not None and needed > available:
        raise ResourceError(
            f"the export needs about {_gib(needed)} of memory ({parameters / 1e6:,.0f}M parameters estimated "
            f"from config.json, {_gib(file_bytes)} of weight files) and {_gib(available)} is available",
            f"check config.json's sizes, use a machine with more memory, or set {ENV_SKIP_RESOURCES}=1 "
            f"if the estimate is wrong")
    return weights
