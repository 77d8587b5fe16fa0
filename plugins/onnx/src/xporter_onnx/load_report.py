"""What transformers says while loading weights, turned into one line or a refusal.

transformers prints a load report table (5.x) or a "newly initialized" warning (4.x) and, for
mismatched shapes, raises a RuntimeError that only says "look at the above report". During
an export the report is captured instead of printed, and:

* mismatched shapes become one ``ModelConfigError`` naming the first mismatched weight;
* task-head weights missing from the checkpoint (a plain encoder exported with
  ``--task text-classification``) would ship a random head that validates perfectly against
  itself: that is refused unless ``allow_random_head`` is given;
* other missing weights (a base model's pooler) are kept as warnings for the report.
"""

from __future__ import annotations

import ast
import contextlib
import logging
import re
from dataclasses import dataclass, field
from typing import Iterator, List

_ROW = re.compile(r"^\s*(\S.*?)\s*\|\s*(MISSING|MISMATCH|UNEXPECTED)\s*\|\s*(.*?)\s*$")  # keys may read a.{0, 1}.b
_NEWLY_INITIALIZED = re.compile(r"newly initialized: (\[.*?\])", re.S)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class LoadReport:
    missing: List[str] = field(default_factory=list)
    mismatched: List[str] = field(default_factory=list)  # "key: details"

    def parse(self, text: str) -> None:
        text = _ANSI.sub("", text)
        for line in text.splitlines():
            match = _ROW.match(line)
            if match and match.group(2) == "MISSING":
                self.missing.append(match.group(1))
            elif match and match.group(2) == "MISMATCH":
                self.mismatched.append(f"{match.group(1)}: {match.group(3)}")
            elif "size mismatch for" in line:  # transformers 4.x RuntimeError text
                self.mismatched.append(line.strip().removeprefix("size mismatch for "))
        found = _NEWLY_INITIALIZED.search(text)
        if found:
            with contextlib.suppress(ValueError, SyntaxError):
                self.missing.extend(ast.literal_eval(found.group(1)))


class _Collector(logging.Handler):
    def __init__(self, report: LoadReport) -> None:
        super().__init__(logging.WARNING)
        self.report = report

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):
            self.report.parse(record.getMessage())


@contextlib.contextmanager
def captured_load_report() -> Iterator[LoadReport]:
    """Collect (and do not print) transformers' load warnings while the block runs."""
    report = LoadReport()
    logger = logging.getLogger("transformers")
    handler = _Collector(report)
    saved_handlers, saved_propagate, saved_level = list(logger.handlers), logger.propagate, logger.level
    for existing in saved_handlers:
        logger.removeHandler(existing)
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.WARNING)  # the report is a warning; a quieter verbosity would hide it from us too
    try:
        yield report
    finally:
        logger.removeHandler(handler)
        for existing in saved_handlers:
            logger.addHandler(existing)
        logger.propagate = saved_propagate
        logger.setLevel(saved_level)


def missing_head_weights(model, missing: List[str]) -> List[str]:
    """Missing keys outside the base model of a head model (``classifier.*`` of ``BertFor...``)."""
    prefix = getattr(model, "base_model_prefix", "")
    if not prefix or not hasattr(model, prefix) or getattr(model, prefix) is model:
        return []  # a base model: nothing task-specific can be missing
    return [key for key in missing if not key.startswith(prefix + ".")]
