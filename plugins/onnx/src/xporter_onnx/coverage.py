"""Coverage census of the ONNX tables against the installed transformers.

    python -m xporter_onnx.coverage                      # census table (reads the sweep results file)
    python -m xporter_onnx.coverage --json               # the same as JSON
    python -m xporter_onnx.coverage --sweep              # export + validate one task per type, then the census
    python -m xporter_onnx.coverage --sweep --all-tasks  # every registered (type, task) pair
    python -m xporter_onnx.coverage --sweep -k glm       # only types containing "glm"
    python -m xporter_onnx.coverage --sweep --missing    # only cases without a record (new rows)

The sweep builds each row's tiny random model, exports it with :func:`xporter_onnx.export`
(which validates against PyTorch on other shapes than the trace) and appends one record per
case to the results file (``--results``, default the committed
``coverage_results/results.json`` next to this module), keyed by the transformers version, so
the census of a given transformers is reproducible from the repository. The census reports only what a sweep on the
installed transformers recorded: nothing here is assumed validated.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

DEFAULT_RESULTS = Path(__file__).resolve().parent / "coverage_results" / "results.json"


def _norm(model_type: str) -> str:
    return model_type.replace("-", "_").lower()


def _versions() -> Dict[str, str]:
    import torch
    import transformers

    return {"transformers": transformers.__version__, "torch": torch.__version__.split("+")[0]}


def transformers_types() -> List[str]:
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    return sorted(_norm(t) for t in CONFIG_MAPPING_NAMES)


def registered_rows() -> List[Any]:
    """transformers rows whose model type the installed transformers has (pseudo types such as
    ``siglip-text``, exported from a sub-model class, are not model types and are left out)."""
    from .configs import all_architectures

    known = set(transformers_types())
    return [row for row in all_architectures() if row.library == "transformers" and _norm(row.model_type) in known]


def main_task(row: Any) -> str:
    """The task a one-per-type sweep runs: the cached generation graph where there is one."""
    with_past = [t for t in row.tasks if t.endswith("-with-past") and not t.startswith("feature-extraction")]
    return with_past[0] if with_past else row.tasks[0]


# -- results file ----------------------------------------------------------------------------------
def load_results(path: Path) -> Dict[str, Any]:
    if not Path(path).is_file():
        return {}
    return json.loads(Path(path).read_text())


def _save_results(path: Path, data: Dict[str, Any]) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(str(path) + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    tmp.replace(path)


def run_case(row: Any, task: str, folder: Path, use_row_class: bool = False) -> Dict[str, Any]:
    """Export + validate one (row, task) from a tiny random model; a record for the results file
    (``use_row_class``: export with the row's class, for rows the registry does not hold)."""
    import copy
    import dataclasses

    from . import export
    from .testing import tiny_model_dir

    started = time.perf_counter()
    record: Dict[str, Any] = {"model_type": _norm(row.model_type), "task": task}
    try:
        source = tiny_model_dir(dataclasses.replace(row, tiny=copy.deepcopy(row.tiny)), task, folder / "src")
        custom = row.config_class if (row.model_class or use_row_class) else None
        report = export(source, folder / "onnx", task=task, custom_onnx_config=custom)
        shapes_differ = all(check.input_shapes != report.parts[check.part]["trace_shapes"]
                            for check in report.validation if check.part in report.parts)
        record["ok"] = bool(report.ok and report.validation and shapes_differ)
        record["max_abs_diff"] = report.max_abs_diff
        if not record["ok"]:
            record["error"] = "validation did not run on other shapes than the trace" if report.ok else "validation failed"
    except Exception as exc:  # a failing architecture is a result, not a crash of the sweep
        record["ok"] = False
        record["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]
    record["seconds"] = round(time.perf_counter() - started, 2)
    return record


def sweep(results_path: Path, all_tasks: bool = False, match: Optional[str] = None,
          log: Any = sys.stderr, missing: bool = False) -> Dict[str, Any]:
    """Run the cases and merge their records into ``results_path`` (saved after every case;
    ``missing``: only the cases this transformers version has no record of, e.g. new rows)."""
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")
    versions = _versions()
    data = load_results(results_path)
    runs = data.setdefault("runs", {})
    run = runs.setdefault(versions["transformers"], {"torch": versions["torch"], "cases": {}})
    cases = [(row, task) for row in registered_rows() if match is None or match in _norm(row.model_type)
             for task in (row.tasks if all_tasks else (main_task(row),))
             if not (missing and f"{_norm(row.model_type)}:{task}" in run["cases"])]
    started = time.perf_counter()
    for index, (row, task) in enumerate(cases, 1):
        with tempfile.TemporaryDirectory(prefix="xporter-coverage-") as tmp:
            record = run_case(row, task, Path(tmp))
        run["cases"][f"{record['model_type']}:{task}"] = record
        run["swept_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        _save_results(results_path, data)
        print(f"[{index}/{len(cases)}] {record['model_type']} {task}: "
              f"{'ok' if record['ok'] else record['error']} ({record['seconds']}s)", file=log, flush=True)
    run["last_sweep_seconds"] = round(time.perf_counter() - started, 1)
    _save_results(results_path, data)
    return data


# -- census ----------------------------------------------------------------------------------------
def census(results: Dict[str, Any]) -> Dict[str, Any]:
    versions = _versions()
    rows = registered_rows()
    pairs = sorted({(_norm(r.model_type), t) for r in rows for t in r.tasks})
    types = sorted({t for t, _ in pairs})
    run = results.get("runs", {}).get(versions["transformers"], {})
    cases = run.get("cases", {})
    registered = set(pairs)
    by_type: Dict[str, List[Dict[str, Any]]] = {}
    for record in cases.values():
        if (record["model_type"], record["task"]) in registered:
            by_type.setdefault(record["model_type"], []).append(record)
    failed = {t: sorted(f"{r['task']}: {r['error']}" for r in recs if not r["ok"]) for t, recs in by_type.items()}
    failed = {t: reasons for t, reasons in failed.items() if reasons}
    validated = sorted(t for t in by_type if t not in failed)
    every = transformers_types()
    return {
        **versions,
        "transformers_types": len(every),
        "registered_types": len(types),
        "registered_pairs": len(pairs),
        "swept_pairs": sum(len(v) for v in by_type.values()),
        "validated_pairs": sum(1 for v in by_type.values() for r in v if r["ok"]),
        "validated_types": len(validated),
        "failed_types": len(failed),
        "not_swept_types": sorted(set(types) - set(by_type)),
        "unregistered_types": len(set(every) - set(types)),
        "swept_at": run.get("swept_at"),
        "last_sweep_seconds": run.get("last_sweep_seconds"),
        "validated": validated,
        "failed": failed,
    }


def format_table(summary: Dict[str, Any]) -> str:
    lines = [f"transformers {summary['transformers']} (torch {summary['torch']}), "
             f"sweep {summary['swept_at'] or 'never run'}", "",
             "| measure | count |", "|---|---|"]
    for key in ("transformers_types", "registered_types", "registered_pairs", "swept_pairs", "validated_pairs",
                "validated_types", "failed_types", "unregistered_types"):
        lines.append(f"| {key.replace('_', ' ')} | {summary[key]} |")
    lines.append(f"| registered, not swept | {len(summary['not_swept_types'])} |")
    if summary["failed"]:
        lines += ["", "failed:"] + [f"  {t}: {'; '.join(r)}" for t, r in sorted(summary["failed"].items())]
    return "\n".join(lines)


def main(argv: Optional[Iterable[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xporter_onnx.coverage", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the census as JSON")
    parser.add_argument("--results", default=DEFAULT_RESULTS, help="sweep results file (read; written by --sweep)")
    parser.add_argument("--sweep", action="store_true", help="export and validate before the census")
    parser.add_argument("--all-tasks", action="store_true", help="with --sweep: every registered pair")
    parser.add_argument("-k", dest="match", help="with --sweep: only model types containing this")
    parser.add_argument("--missing", action="store_true", help="with --sweep: only cases not yet recorded")
    args = parser.parse_args(list(argv) if argv is not None else None)
    results_path = Path(args.results)
    if args.sweep:
        results = sweep(results_path, args.all_tasks, args.match, missing=args.missing)
    else:
        results = load_results(results_path)
    summary = census(results)
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        print(format_table(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
