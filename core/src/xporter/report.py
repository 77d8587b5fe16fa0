"""The export report every backend returns and writes as ``export_report.json``, and the
validation policy they share.

One shape for every (framework, backend) pair, so ``xporter export <backend> --json`` reads
the same whatever produced it; ``report.schema.json`` next to this module is that shape as a
JSON Schema (``schema_version`` says which revision a file follows; bump it when a key changes
meaning or goes away, not when an optional key is added).

* :class:`OutputCheck`: one output of one exported file compared with the source framework.
* :class:`PartValidation`: one exported file run on one set of inputs; ``ok`` when it has no
  problems and every output is within tolerance.
* :class:`ExportReport`: what was exported (files with sizes and sha256, parts with their
  inputs/outputs, versions of the stack, timings) and the validations.

The policy (:func:`raise_if_failed`): a backend validates inside
:func:`xporter.output.atomic_output_dir` and calls this before leaving the block, so a failed
validation raises one :class:`~xporter.errors.ValidationError` and leaves nothing at the
output path. Nothing here imports a framework.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

from .errors import ValidationError

SCHEMA_VERSION = 1
SCHEMA_FILE = Path(__file__).with_name("report.schema.json")
REPORT_FILE = "export_report.json"
NON_FINITE = "non-finite values"
# distributions whose versions every report records (those installed); backends add theirs
CORE_DISTRIBUTIONS = ("xporter-core", "numpy")


@dataclass
class OutputCheck:
    """One output compared: shapes, the largest absolute difference and the tolerance it met.

    ``atol`` is None when the criterion is not a tolerance (quantized models: finite values and
    shapes only); ``metrics`` holds other measures (``cosine_similarity``, ``argmax_agreement``).
    """

    name: str
    reference_shape: List[int]
    shape: List[int]
    max_abs_diff: float
    atol: Optional[float]
    ok: bool
    metrics: Dict[str, float] = field(default_factory=dict)

    @property
    def onnx_shape(self) -> List[int]:
        """The exported model's shape under its former ONNX-only name (Python readers)."""
        return self.shape

    def to_dict(self) -> Dict[str, Any]:
        return {"name": self.name, "reference_shape": list(self.reference_shape), "shape": list(self.shape),
                "max_abs_diff": self.max_abs_diff, "atol": self.atol, "ok": self.ok, "metrics": dict(self.metrics)}


@dataclass
class PartValidation:
    """One exported file run on one input set (``batches`` batches of ``input_shapes``)."""

    part: str
    input_shapes: Dict[str, List[int]]
    outputs: List[OutputCheck] = field(default_factory=list)
    problems: List[str] = field(default_factory=list)
    criterion: str = "max_abs_diff <= atol"
    batches: int = 1

    @property
    def ok(self) -> bool:
        return not self.problems and all(check.ok for check in self.outputs)

    def to_dict(self) -> Dict[str, Any]:
        return {"part": self.part, "ok": self.ok, "input_shapes": self.input_shapes, "problems": list(self.problems),
                "outputs": [check.to_dict() for check in self.outputs], "criterion": self.criterion,
                "batches": self.batches}


@dataclass
class ExportReport:
    """What one export wrote and how well it matches its source model (``export_report.json``).

    The positional fields are those every backend knows; ``opset`` is None outside ONNX,
    ``dynamic_axes`` False for static-shape formats (TFLite, whose sizes are in ``shapes``).
    """

    model: str
    output: str
    model_type: str
    task: str
    library: str
    opset: Optional[int]
    exporter: str
    dtype: str
    dynamic_axes: bool
    backend: str = ""
    framework: str = ""
    checkpoint_framework: Optional[str] = None  # weights the model was loaded from, when converted (TF from_pt)
    files: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    parts: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    validation: List[PartValidation] = field(default_factory=list)
    shapes: Optional[Dict[str, int]] = None  # static sizes of static-shape formats
    optimization: Optional[Dict[str, Any]] = None
    quantization: Optional[Dict[str, Any]] = None
    layout: Optional[str] = None  # folder layout of the graphs, when the backend has several
    timings: Dict[str, float] = field(default_factory=dict)
    versions: Dict[str, str] = field(default_factory=dict)
    skipped_files: List[str] = field(default_factory=list)  # side files not copied (e.g. links out of the model)
    generic_config: Optional[str] = None  # set when no registered config existed and one was derived (validated)

    @property
    def ok(self) -> bool:
        return all(v.ok for v in self.validation)

    @property
    def max_abs_diff(self) -> float:
        return max((c.max_abs_diff for v in self.validation for c in v.outputs), default=0.0)

    def to_dict(self) -> Dict[str, Any]:
        data: Dict[str, Any] = {"schema_version": SCHEMA_VERSION}
        for key in ("backend", "framework", "exporter", "model", "output", "model_type", "task", "library", "opset",
                    "dtype", "dynamic_axes", "checkpoint_framework", "shapes", "layout", "parts", "files",
                    "optimization", "quantization", "timings", "versions", "skipped_files", "generic_config"):
            data[key] = getattr(self, key)
        data["validated"] = bool(self.validation)
        data["ok"] = self.ok if self.validation else None  # unvalidated is not "ok" (--no-validate)
        data["max_abs_diff"] = self.max_abs_diff if self.validation else None
        data["validation"] = [v.to_dict() for v in self.validation]
        return data

    def write(self, folder: Path) -> Path:
        """``export_report.json`` into ``folder`` (the staging folder, before it is published)."""
        path = Path(folder) / REPORT_FILE
        path.write_text(json.dumps(self.to_dict(), indent=2, default=str) + "\n")
        return path


def raise_if_failed(results: Sequence[PartValidation], fmt: str,
                    hint: str = "raise the tolerance with --atol, or skip with --no-validate") -> None:
    """The shared policy: any failed part is one ValidationError naming every failing output.

    NaN/Inf gets its own hint (no tolerance makes NaN equal NaN). Called inside the output
    block, so the export leaves nothing behind.
    """
    failed = [r for r in results if not r.ok]
    if not failed:
        return
    details: List[str] = []
    for result in failed:
        details.extend(result.problems)
        for check in result.outputs:
            if check.ok:
                continue
            limit = f" > atol {check.atol:.3g}" if check.atol is not None else ""
            shapes = f" (shape {check.shape} vs {check.reference_shape})" if check.shape != check.reference_shape else ""
            details.append(f"{result.part}:{check.name} max abs diff {check.max_abs_diff:.3g}{limit}{shapes}")
    message = f"{fmt} validation failed: " + "; ".join(details)
    if any(NON_FINITE in line for line in details):
        raise ValidationError(message, "the model produces NaN/Inf on the validation inputs: check the weights and "
                                       "config.json (--dtype fp16 can overflow: try fp32); --atol cannot fix this")
    raise ValidationError(message, hint)


# -- files and versions ------------------------------------------------------------------

def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def file_entries(folder: Path, names: Iterable[str],
                 digest: Optional[Callable[[Path], str]] = None) -> Dict[str, Dict[str, Any]]:
    """``{name: {"bytes", "sha256"}}`` of the files ``names`` in ``folder`` (missing ones skipped);
    ``digest`` may be a precomputing hasher's lookup."""
    entries = {}
    for name in names:
        path = Path(folder) / name
        if path.is_file():
            entries[name] = {"bytes": path.stat().st_size, "sha256": (digest or sha256_of)(path)}
    return entries


def package_versions(*distributions: str) -> Dict[str, str]:
    """Installed versions of ``distributions`` plus the core's, from metadata (nothing is imported)."""
    from importlib import metadata

    versions = {}
    for dist in (*CORE_DISTRIBUTIONS, *distributions):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return versions


def schema() -> Dict[str, Any]:
    """The JSON Schema of ``to_dict()`` / ``export_report.json`` / ``--json``."""
    return json.loads(SCHEMA_FILE.read_text())
