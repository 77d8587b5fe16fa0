"""Calibration samples for ``int8-static``: a local data file, or the config's dummy inputs.

Static quantization fixes every activation's scale from the ranges seen on these samples,
so they must look like real inputs. A file (csv, tsv, json, jsonl, parquet) is read with
``datasets`` when it is installed (the only reader of parquet here), else with the
standard library (csv/json/jsonl). Its rows are either already model inputs (columns named
like the graph's inputs, e.g. ``input_ids``) or text, tokenized with the export's
``tokenizer.json`` (``tokenizers``, no transformers). Without a file, samples are generated
from the ONNX config's dummy input generators with distinct seeds, the same generators
validation uses.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence

from xporter.errors import ExportError

FORMATS = {".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}
TEXT_COLUMNS = ("text", "sentence", "content", "prompt", "question")  # tried in order without --calibration-column
MAX_LENGTH = 128


class CalibrationDataError(ExportError):
    """The calibration file is missing, unreadable, empty, or has no usable column."""


def _rows_with_datasets(path: Path, fmt: str, limit: int) -> Optional[List[Dict[str, Any]]]:
    try:
        import datasets
    except ImportError:
        return None
    kwargs = {"delimiter": "\t"} if path.suffix == ".tsv" else {}
    dataset = datasets.load_dataset(fmt, data_files=str(path), split="train", **kwargs)
    return [dict(row) for row in dataset.select(range(min(limit, len(dataset))))]


def _rows_with_stdlib(path: Path, fmt: str, limit: int) -> List[Dict[str, Any]]:
    if fmt == "parquet":
        raise CalibrationDataError(f"reading {path.name} needs the datasets package",
                                   "pip install datasets, or give a .csv/.json/.jsonl file")
    text = path.read_text(encoding="utf-8")
    if fmt == "csv":
        return list(csv.DictReader(text.splitlines(), delimiter="\t" if path.suffix == ".tsv" else ","))[:limit]
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()][:limit]
    data = json.loads(text)
    if isinstance(data, dict):  # {"data": [...]} or {"column": [values...]}
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) == 1 and all(isinstance(r, dict) for r in lists[0]):
            data = lists[0]
        elif lists:
            data = [dict(zip(data, values)) for values in zip(*(data[k] for k in data if isinstance(data[k], list)))]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise CalibrationDataError(f"{path.name} is not a list of records", "give one JSON object per sample")
    return data[:limit]


def read_rows(path: Path, limit: int) -> List[Dict[str, Any]]:
    """Up to ``limit`` records of a calibration file (one line naming the fix when it is unusable)."""
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise CalibrationDataError(f"calibration file {path.name}: unknown format",
                                   f"use one of {', '.join(sorted(FORMATS))}")
    if not path.is_file():
        raise CalibrationDataError(f"calibration file {path} does not exist", "check the --calibration-dataset path")
    try:
        rows = _rows_with_datasets(path, fmt, limit)
        if rows is None:
            rows = _rows_with_stdlib(path, fmt, limit)
    except CalibrationDataError:
        raise
    except Exception as exc:  # noqa: BLE001 - parse errors of any reader: one line
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise CalibrationDataError(f"cannot read calibration file {path.name}: {first}",
                                   "check that it is valid csv/json/jsonl/parquet") from exc
    if not rows:
        raise CalibrationDataError(f"calibration file {path.name} has no rows", "give at least one sample")
    return rows


def _tokenizer(folder: Path):
    from tokenizers import Tokenizer

    path = folder / "tokenizer.json"
    if not path.is_file():
        raise CalibrationDataError("the calibration file holds text but the export has no tokenizer.json",
                                   "add tokenized columns named like the model inputs, or export with a tokenizer")
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.enable_truncation(max_length=MAX_LENGTH)
    return tokenizer


def samples_from_file(path: Path, folder: Path, input_specs: Dict[str, Any], column: Optional[str],
                      limit: int) -> List[Dict[str, Any]]:
    """Feeds (numpy, one sample each) for a graph whose inputs are ``input_specs`` (name -> numpy dtype)."""
    import numpy as np

    rows = read_rows(path, limit)
    columns = set(rows[0])
    if set(input_specs) & columns and not column:
        missing = [name for name in input_specs if name not in columns and name != "token_type_ids"]
        if missing:
            raise CalibrationDataError(f"calibration file {Path(path).name} lacks the input columns {missing}",
                                       "add them, or give a text column with --calibration-column")
        feeds = []
        for row in rows:
            feed = {name: np.asarray(row[name] if name in row else np.zeros_like(row["input_ids"]),
                                     dtype=dtype)[None] for name, dtype in input_specs.items()}
            feeds.append(feed)
        return feeds
    text_column = column or next((c for c in TEXT_COLUMNS if c in columns), None)
    if text_column is None or text_column not in columns:
        raise CalibrationDataError(f"calibration file {Path(path).name} has no column "
                                   f"'{column or '/'.join(TEXT_COLUMNS)}' (columns: {', '.join(sorted(columns))})",
                                   "name the text column with --calibration-column")
    if not set(input_specs) <= {"input_ids", "attention_mask", "token_type_ids"}:
        raise CalibrationDataError(f"text calibration data cannot feed the inputs {sorted(input_specs)}",
                                   "give a file with columns named like the model inputs, or leave it out "
                                   "(generated samples)")
    tokenizer = _tokenizer(folder)
    feeds = []
    for row in rows:
        encoding = tokenizer.encode(str(row[text_column]))
        values = {"input_ids": encoding.ids, "attention_mask": encoding.attention_mask,
                  "token_type_ids": encoding.type_ids}
        feeds.append({name: np.asarray([values[name]], dtype=dtype) for name, dtype in input_specs.items()})
    return feeds


def generated_samples(make_feed: Callable[[int], Dict[str, Any]], count: int) -> List[Dict[str, Any]]:
    """``count`` feeds from the config's dummy generators, seed ``i`` each (distinct random tokens/pixels)."""
    return [make_feed(seed) for seed in range(count)]


class FeedReader:
    """onnxruntime's ``CalibrationDataReader`` protocol over a list of feeds (only the graph's inputs)."""

    def __init__(self, feeds: Sequence[Dict[str, Any]], input_names: Sequence[str]):
        self._feeds = [{name: feed[name] for name in input_names if name in feed} for feed in feeds]
        self._iterator: Optional[Iterator[Dict[str, Any]]] = None

    def get_next(self) -> Optional[Dict[str, Any]]:
        if self._iterator is None:
            self._iterator = iter(self._feeds)
        return next(self._iterator, None)

    def rewind(self) -> None:
        self._iterator = None
