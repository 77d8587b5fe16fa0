"""Everything in an export folder besides the ONNX graphs: configs, tokenizer, report.

The layout matches Optimum's ONNX exports (model.onnx, config.json, tokenizer files ...),
so tools that read Optimum folders read ours.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

from xporter import report
from xporter.report import sha256_of

# Files a tokenizer / processor / sentence-transformers pipeline needs at inference.
PREPROCESSOR_PATTERNS = (
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "vocab.txt",
    "vocab.json", "merges.txt", "spiece.model", "sentencepiece.bpe.model", "*.tiktoken", "preprocessor_config.json",
    "processor_config.json", "image_processor_config.json", "feature_extractor_config.json", "chat_template.*",
    "modules.json", "sentence_bert_config.json", "config_sentence_transformers.json", "*_Pooling/config.json",
    "*_Normalize/*", "*_Dense/config.json",
)


def copy_preprocessor_files(source: Optional[Path], destination: Path, skipped: Optional[List[str]] = None,
                            progress: Any = None) -> list:
    """Copy tokenizer/processor files from a local model folder; return their names.

    Links that leave the model folder are not followed (see :mod:`xporter.side_files`);
    they are appended to ``skipped`` and announced through ``progress``.
    """
    from xporter.side_files import copy_side_files

    if source is None or not source.is_dir():
        return []
    result = copy_side_files(source, destination, PREPROCESSOR_PATTERNS)
    if skipped is not None:
        skipped.extend(result.skipped_lines())
    if progress is not None and result.skipped:
        progress.warn(f"not copied into the export: {', '.join(result.skipped_lines())}")
    return result.copied


def save_preprocessors_from_hub(model_name_or_path: str, destination: Path, cache_dir: Optional[str],
                                trust_remote_code: bool) -> list:
    """For repo ids: save whatever tokenizer/processor transformers can load (best effort)."""
    saved = []
    from transformers import AutoProcessor, AutoTokenizer

    for loader in (AutoTokenizer, AutoProcessor):
        try:
            obj = loader.from_pretrained(model_name_or_path, cache_dir=cache_dir, trust_remote_code=trust_remote_code)
            saved.extend(obj.save_pretrained(str(destination)))
            break
        except Exception:  # noqa: BLE001 - a model without a tokenizer is not an export failure
            continue
    return [str(Path(p).name) for p in saved]


def save_model_configs(model: Any, destination: Path) -> list:
    """config.json (and generation_config.json when the model has one)."""
    written = []
    config = getattr(model, "config", None)
    if config is not None and hasattr(config, "save_pretrained"):
        extra = {k: getattr(config, k) for k in ("export_model_type",) if hasattr(config, k)}
        for key in extra:
            delattr(config, key)  # not a transformers field; keep config.json loadable as is
        try:
            config.save_pretrained(str(destination))
        finally:
            for key, value in extra.items():
                setattr(config, key, value)
        written.append("config.json")
    generation = getattr(model, "generation_config", None)
    can_generate = getattr(model, "can_generate", lambda: False)
    if generation is not None and callable(can_generate) and can_generate():
        generation.save_pretrained(str(destination))
    if (Path(destination) / "generation_config.json").is_file():  # also written by some configs' save_pretrained
        written.append("generation_config.json")
    return written


class BackgroundHasher:
    """sha256 of finished files on a worker thread while the export goes on (validation runs
    ONNX Runtime and torch, which leave the GIL; hashlib leaves it too), so the report's
    checksums of a large model cost no wall time. A file changed after submission is hashed again."""

    def __init__(self) -> None:
        self._pending: Dict[Path, Any] = {}
        self._executor = None

    def submit(self, path: Path) -> None:
        if self._executor is None:
            from concurrent.futures import ThreadPoolExecutor

            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="xporter-sha256")
        stat = path.stat()
        self._pending[path] = ((stat.st_size, stat.st_mtime_ns), self._executor.submit(sha256_of, path))

    def digest(self, path: Path) -> str:
        stamp, future = self._pending.pop(path, (None, None))
        stat = path.stat()
        if future is not None and stamp == (stat.st_size, stat.st_mtime_ns):
            return future.result()
        return sha256_of(path)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> "BackgroundHasher":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()  # before the staging folder is renamed or removed


def file_entries(folder: Path, names: Iterable[str],
                 hasher: Optional[BackgroundHasher] = None) -> Dict[str, Dict[str, Any]]:
    """Sizes and sha256 of ``names`` (:func:`xporter.report.file_entries`), digests from ``hasher`` when given."""
    return report.file_entries(folder, names, hasher.digest if hasher is not None else None)


def package_versions(*extra: str) -> Dict[str, str]:
    """Installed versions of the export stack (read from metadata: nothing is imported), plus ``extra``."""
    return report.package_versions("xporter-onnx", "torch", "transformers", "onnx", "onnxruntime", "onnxscript",
                                   "sentence-transformers", *extra)


def read_json(path: Path) -> Optional[Dict[str, Any]]:
    """A JSON file's content, or None when it is missing or not JSON."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def write_json(path: Path, data: Dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
