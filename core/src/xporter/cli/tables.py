"""Render listings as aligned text tables or JSON."""

from __future__ import annotations

import json
import sys
from typing import Dict, List, Sequence


def emit(rows: List[Dict[str, str]], columns: Sequence[str], as_json: bool, stream=None) -> None:
    stream = stream or sys.stdout
    if as_json:
        json.dump(rows, stream, indent=2)
        stream.write("\n")
        return
    widths = {c: max([len(c)] + [len(str(r.get(c, ""))) for r in rows]) for c in columns}
    stream.write("  ".join(c.upper().ljust(widths[c]) for c in columns).rstrip() + "\n")
    for row in rows:
        stream.write("  ".join(str(row.get(c, "")).ljust(widths[c]) for c in columns).rstrip() + "\n")
