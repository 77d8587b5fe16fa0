"""The ``xporter`` console script.

Built-in commands import nothing heavy. ``xporter export <backend> ...`` loads only that
backend's plugin and hands the remaining arguments to the command it declares.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional

from .. import __version__
from ..errors import UnknownBackendError, choices_message
from ..plugins import PLUGINS
from . import listings
from .errors import EXIT_USAGE, run_guarded, sigterm_unwinds


def _base_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xporter", description="Export Hugging Face models to ONNX, TFLite and "
                                     "ONNX Runtime training artifacts.")
    parser.add_argument("--version", action="version", version=f"xporter {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    tasks = sub.add_parser("tasks", help="list tasks, or the tasks a backend supports per model type")
    listings.configure_tasks(tasks)
    tasks.set_defaults(handler=listings.run_tasks)
    plugins = sub.add_parser("plugins", help="list installed backend plugins and their status")
    listings.configure_plugins(plugins)
    plugins.set_defaults(handler=listings.run_plugins)
    backends = ", ".join(sorted(PLUGINS.records())) or "none installed"
    export = sub.add_parser("export", help=f"export a model with a backend ({backends})", add_help=False)
    export.add_argument("backend", nargs="?", help=f"backend id ({backends})")
    export.add_argument("rest", nargs=argparse.REMAINDER)
    export.set_defaults(handler=None)
    return parser


def _backend_command(backend: str, command_name: str, argv: List[str], debug: bool) -> int:
    commands = {c.name: c for c in PLUGINS.cli_commands(backend)}
    if command_name not in commands:
        message, hint = choices_message(f"command of backend '{backend}'", command_name, commands)
        raise UnknownBackendError(message, hint)
    command = commands[command_name]
    prog = f"xporter export {backend}" if command_name == backend else f"xporter {backend} {command_name}"
    parser = argparse.ArgumentParser(prog=prog, description=command.help)
    parser.add_argument("--debug", action="store_true", default=debug, help="show tracebacks on errors")
    command.configure(parser)
    args = parser.parse_args(argv)
    return command.run(args)


def main(argv: Optional[List[str]] = None) -> int:
    with sigterm_unwinds():
        return _main(list(sys.argv[1:] if argv is None else argv))


def _main(argv: List[str]) -> int:
    debug = "--debug" in argv
    while argv[:1] == ["--debug"]:  # `xporter --debug export onnx ...`: the global flag before the command
        argv = argv[1:]
    if argv and argv[0] not in ("tasks", "plugins", "export") and not argv[0].startswith("-"):
        # `xporter <backend> <command> ...`: extra commands a plugin declares
        if len(argv) >= 2 and argv[0] in PLUGINS.records():
            return run_guarded(lambda: _backend_command(argv[0], argv[1], argv[2:], debug), debug)
    if argv[:1] == ["quantize"] and len(argv) >= 2 and argv[1] in PLUGINS.records():
        # `xporter quantize <backend> ...`: the `quantize` command that backend's plugin declares
        return run_guarded(lambda: _backend_command(argv[1], "quantize", argv[2:], debug), debug)
    parser = _base_parser()
    if argv[:1] == ["export"] and len(argv) >= 2 and not argv[1].startswith("-"):
        backend, rest = argv[1], argv[2:]
        return run_guarded(lambda: _backend_command(backend, backend, rest, debug), debug)
    args = parser.parse_args(argv)
    if debug:
        args.debug = True
    if args.command is None or (args.command == "export" and not args.backend):
        parser.print_help()
        return EXIT_USAGE
    return run_guarded(lambda: args.handler(args), debug)


def console_main() -> None:
    """The ``xporter`` command: :func:`main`, then a process exit without interpreter teardown.

    With torch, transformers and ONNX Runtime loaded, the interpreter's module teardown takes
    about a second and does nothing a finished command needs: outputs are already renamed
    into place and files closed. Logging and the standard streams are flushed first.
    ``XPORTER_CLEAN_EXIT=1`` keeps the normal shutdown (coverage tools, leak checkers).
    """
    code = main()
    if os.environ.get("XPORTER_CLEAN_EXIT") == "1":
        sys.exit(code)
    import logging

    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed or broken pipe: nothing left to deliver
            pass
    os._exit(code)


if __name__ == "__main__":
    console_main()
