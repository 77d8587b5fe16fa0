"""``xporter tasks`` and ``xporter plugins``."""

from __future__ import annotations

import argparse
import sys

from .. import tasks as taxonomy
from ..manager import TasksManager
from ..plugins import PLUGINS
from .tables import emit


def configure_tasks(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model-type", help="only this model type (needs --backend or lists all backends)")
    parser.add_argument("--backend", help="only configs registered for this backend, e.g. onnx")
    parser.add_argument("--library-name", default="transformers",
                        help="transformers, sentence_transformers, timm or diffusers")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run_tasks(args: argparse.Namespace) -> int:
    if args.backend or args.model_type:
        backends = [args.backend] if args.backend else [b for b in PLUGINS.available_backends()
                                                        if PLUGINS.ensure_loaded(b) is None or PLUGINS.ensure_loaded(b).status == "loaded"]
        rows = []
        for backend in backends:
            if args.model_type:
                model_types = [args.model_type]
                if not args.backend and not TasksManager.registry.tasks_for(args.model_type, backend, args.library_name):
                    continue
            else:
                TasksManager._ensure_backend(backend)
                model_types = TasksManager.registry.model_types(backend, args.library_name)
            for model_type in model_types:
                table = TasksManager.get_supported_tasks_for_model_type(model_type, backend, library_name=args.library_name)
                for task, ctor in table.items():
                    rows.append({"backend": backend, "model_type": model_type, "task": task,
                                 "config": ctor.config_class.__name__})
        if args.model_type and not rows:
            TasksManager.get_supported_tasks_for_model_type(args.model_type, backends[0] if backends else "onnx",
                                                            library_name=args.library_name)
        emit(rows, ["backend", "model_type", "task", "config"], args.json)
        return 0
    rows = []
    for task in taxonomy.all_tasks():
        base, past = taxonomy.strip_past(task)
        pt = taxonomy.PT_TASKS.get(base) or next((v for lib in taxonomy.LIBRARY_TASKS.values() for k, v in lib.items() if k == base), ())
        tf = taxonomy.TF_TASKS.get(base, ())
        synonyms = sorted(TasksManager.synonyms_for_task(task))
        rows.append({"task": task, "pytorch": " | ".join(pt), "tensorflow": " | ".join(tf), "synonyms": ", ".join(synonyms)})
    emit(rows, ["task", "pytorch", "tensorflow", "synonyms"], args.json)
    return 0


def configure_plugins(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="also print the traceback of each failed plugin")


def _registrations(owner_counts: dict, backend: str) -> str:
    """``onnx:561 dummy:3``: what the plugin of ``backend`` registered, per target backend."""
    return " ".join(f"{target}:{count}" for target, count in sorted(owner_counts.get(backend, {}).items()))


def run_plugins(args: argparse.Namespace) -> int:
    records = PLUGINS.load_all()
    owners = TasksManager.registry.owners()
    listed = list(records.values()) + [r for r in PLUGINS.conflicts if r not in records.values()]
    overrides = TasksManager.registry.overrides
    rows = []
    for record in listed:
        row = record.as_dict()
        row["registers"] = _registrations(owners, record.name) if record.status == "loaded" else ""
        mine = (f"plugin '{record.name}'",)
        row["overrides"] = [o.describe() for o in overrides if o.backend == record.name or o.kept in mine
                            or o.dropped in mine]
        rows.append(row)
    emit(rows, ["backend", "distribution", "version", "status", "registers", "reason"], args.json)
    if not args.json:
        for record in listed:
            for warning in record.warnings:
                print(f"xporter: warning: plugin {record.name} ({record.distribution}): {warning}", file=sys.stderr)
        grouped: dict = {}
        for o in overrides:
            grouped[(o.backend, o.kept, o.dropped)] = grouped.get((o.backend, o.kept, o.dropped), 0) + 1
        for (backend, kept, dropped), count in sorted(grouped.items()):
            print(f"xporter: note: {count} {backend} config(s) registered by both {kept} and {dropped}: "
                  f"{kept}'s are used (`xporter plugins --json` lists them)", file=sys.stderr)
    if getattr(args, "debug", False):
        for record in listed:
            if record.traceback:
                print(f"\n--- {record.name} ({record.distribution}) ---\n{record.traceback}", file=sys.stderr)
    if not rows and not args.json:
        print("no backend plugin installed; try `pip install xporter-onnx`", file=sys.stderr)
    return 0
