"""Closing a TFLite export report.

The report is written into the staging folder before it is renamed into place. A failed
validation is one ``ValidationError`` raised while still inside the staging block, so,
as for every other backend (``xporter.report.raise_if_failed``), nothing is left behind.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Union

from xporter.errors import ValidationError
from xporter.progress import Progress


def seal_report(report: Dict[str, Any], staging: Path, validate: bool, progress: Progress) -> None:
    """Record validity and timings, then write ``export_report.json`` into ``staging``."""
    report["validated"] = validate
    report["valid"] = all(c.get("validation", {}).get("valid", True) for c in report["components"].values())
    report["timings"] = {name: round(seconds, 3) for name, seconds in progress.timings}
    (staging / "export_report.json").write_text(json.dumps(report, indent=2, default=str))


def raise_if_invalid(report: Dict[str, Any], output: Union[str, Path], validate: bool, fmt: str,
                     reference: str = "source") -> Dict[str, Any]:
    """Set the final output path; raise ValidationError when validation ran and failed.

    Called inside the output block: raising there discards the staging folder.
    """
    report["output"] = str(Path(output).expanduser().resolve())
    if validate and not report["valid"]:
        problems = [p for c in report["components"].values() for p in c["validation"]["problems"]]
        raise ValidationError(f"the {fmt} model does not match the {reference} model: {'; '.join(problems)}",
                              "raise --atol if the gap is acceptable, or pass --no-validate to keep the unvalidated "
                              "files")
    return report
