"""Census logic of ``xporter_onnx.coverage`` on a small hand-made results file (no sweep run)."""

import json

from xporter_onnx import coverage


def _results(version, cases):
    return {"runs": {version: {"torch": "x", "swept_at": "2026-01-01T00:00:00Z", "last_sweep_seconds": 1.5,
                               "cases": {f"{c['model_type']}:{c['task']}": c for c in cases}}}}


def test_census_counts_validated_failed_and_unknown_records(tmp_path):
    import transformers

    rows = coverage.registered_rows()
    first, second = rows[0], rows[1]
    cases = [
        {"model_type": coverage._norm(first.model_type), "task": first.tasks[0], "ok": True, "seconds": 1.0},
        {"model_type": coverage._norm(second.model_type), "task": second.tasks[0], "ok": False,
         "error": "ValueError: boom", "seconds": 1.0},
        {"model_type": "not_a_registered_type", "task": "feature-extraction", "ok": True, "seconds": 1.0},
    ]
    path = tmp_path / "results.json"
    path.write_text(json.dumps(_results(transformers.__version__, cases)))
    summary = coverage.census(coverage.load_results(path))
    assert summary["transformers_types"] == len(coverage.transformers_types())
    assert summary["registered_types"] <= summary["transformers_types"]
    assert summary["swept_pairs"] == 2 and summary["validated_pairs"] == 1
    assert summary["validated"] == [coverage._norm(first.model_type)]
    assert summary["failed"] == {coverage._norm(second.model_type): [f"{second.tasks[0]}: ValueError: boom"]}
    assert coverage._norm(first.model_type) not in summary["not_swept_types"]
    assert summary["last_sweep_seconds"] == 1.5
    table = coverage.format_table(summary)
    assert "| validated pairs | 1 |" in table and "ValueError: boom" in table


def test_census_of_another_transformers_version_counts_nothing_swept(tmp_path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps(_results("0.0.0", [{"model_type": "bert", "task": "feature-extraction", "ok": True}])))
    summary = coverage.census(coverage.load_results(path))
    assert summary["swept_pairs"] == 0 and summary["swept_at"] is None
    assert len(summary["not_swept_types"]) == summary["registered_types"]


def test_missing_results_file_is_an_empty_census(tmp_path):
    assert coverage.load_results(tmp_path / "absent.json") == {}


def test_sweep_missing_runs_only_cases_without_a_record(tmp_path, monkeypatch):
    import io

    rows = coverage.registered_rows()[:2]
    ran = []

    def fake_case(row, task, folder, use_row_class=False):
        ran.append(coverage._norm(row.model_type))
        return {"model_type": coverage._norm(row.model_type), "task": task, "ok": True, "seconds": 0.0}

    monkeypatch.setattr(coverage, "run_case", fake_case)
    path = tmp_path / "results.json"
    monkeypatch.setattr(coverage, "registered_rows", lambda: rows[:1])
    coverage.sweep(path, log=io.StringIO())
    monkeypatch.setattr(coverage, "registered_rows", lambda: rows)
    coverage.sweep(path, log=io.StringIO(), missing=True)  # the first row is recorded: only the second runs
    assert ran == [coverage._norm(rows[0].model_type), coverage._norm(rows[1].model_type)]
