"""Batches for ``xporter ort_training train``: a JSON-lines file, or synthetic separable data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, Iterator, Optional


def _synthetic_rows(manifest: Dict, artifact_dir, n: int = 256):
    from .testing import separable_examples

    config = json.loads((Path(artifact_dir) / "config.json").read_text()) if (Path(artifact_dir) / "config.json").exists() else {}
    rows = separable_examples(n, manifest["task"], vocab=config.get("vocab_size", 64))
    for row in rows:
        row.setdefault("token_type_ids", row["input_ids"] * 0)
    return [{k: v.numpy() for k, v in row.items()} for row in rows]


def batches_for(manifest: Dict, artifact_dir, data: Optional[str], steps: int, batch_size: int) -> Iterator[Dict]:
    import numpy as np

    if data:
        rows = [{k: np.asarray(v) for k, v in json.loads(line).items()}
                for line in Path(data).read_text().splitlines() if line.strip()]
    else:
        rows = _synthetic_rows(manifest, artifact_dir)
    for step in range(steps):
        start = (step * batch_size) % max(1, len(rows) - batch_size + 1)
        chunk = rows[start:start + batch_size]
        yield {k: np.stack([r[k] for r in chunk]) for k in chunk[0]}
