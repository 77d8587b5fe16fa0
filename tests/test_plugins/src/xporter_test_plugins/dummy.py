"""A working backend ``dummy``: registers configs and an export command that writes a file."""

import json
from pathlib import Path

from xporter import BackendInfo, CliCommand, hookimpl
from xporter.output import atomic_output_dir


class DummyConfig:
    """Stands in for a backend config class; remembers how it was built."""

    SUPPORTS_PAST = True

    def __init__(self, config, task="feature-extraction", use_past=False, use_past_in_inputs=False, **kwargs):
        self.config, self.task, self.use_past, self.kwargs = config, task, use_past, kwargs


ARCHITECTURES = (
    ("distilbert", ("feature-extraction", "fill-mask", "text-classification", "question-answering")),
    ("gpt2", ("feature-extraction", "text-generation", "text-generation-with-past")),
)


@hookimpl
def xporter_backend_info():
    return BackendInfo(description="test backend that writes JSON", requires=("json",))


@hookimpl
def xporter_register_configs(register, backend):
    for model_type, tasks in ARCHITECTURES:
        register(model_type, *tasks)(DummyConfig)


def _configure(parser):
    parser.add_argument("-m", "--model", required=True)
    parser.add_argument("output")
    parser.add_argument("--task", default="auto")
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--no-inspect", action="store_true", help="do not read the model folder")


def _run(args):
    """Resolve the model the way a real backend does (framework, task, config), then write JSON."""
    from xporter import TasksManager
    from xporter.hub import read_json_file

    record = {"model": args.model}
    if not args.no_inspect:
        record["framework"] = TasksManager.determine_framework(args.model)
        task = TasksManager.infer_task_from_model(args.model) if args.task == "auto" else args.task
        config = read_json_file(args.model, "config.json") or {}
        constructor = TasksManager.get_exporter_config_constructor("dummy", model_type=config.get("model_type", "?"),
                                                                   task=task)
        record.update(task=constructor.task, model_type=config.get("model_type"))
    with atomic_output_dir(args.output, args.overwrite, source=args.model) as staging:
        Path(staging, "model.json").write_text(json.dumps(record))
    print(f"exported {args.model} to {args.output}")
    return 0


@hookimpl
def xporter_cli_commands():
    return [CliCommand("dummy", "write a JSON file", _configure, _run)]
