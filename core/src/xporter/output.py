"""Write export results atomically: build in a temp folder beside the target, then rename.

An interrupted or failed export therefore never leaves a ``model.onnx`` (or
``model.tflite``) that looks valid in the destination.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator, Union

from .errors import OutputPathError


def check_output_dir(path: Union[str, Path], overwrite: bool = False) -> Path:
    """Validate the destination before any expensive work starts."""
    path = Path(path).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise OutputPathError(f"output {path} exists and is a file", "pass a directory path")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise OutputPathError(f"output directory {path} is not empty", "pass --overwrite to replace it, or another path")
    parent = path if path.is_dir() else _first_existing_parent(path)
    if not parent.is_dir():
        raise OutputPathError(f"cannot create {path}: {parent} is a file", "choose an output path inside a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputPathError(f"cannot write to {parent}", "choose an output directory you can write to")
    return path


def _first_existing_parent(path: Path) -> Path:
    for candidate in [path, *path.parents]:
        if candidate.exists():
            return candidate
    return Path("/")


@contextlib.contextmanager
def atomic_output_dir(path: Union[str, Path], overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder; on success it replaces ``path``, on failure it is removed."""
    final = check_output_dir(path, overwrite)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.partial-", dir=final.parent))
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    backup = None
    if final.exists():
        backup = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, backup)
    try:
        os.replace(staging, final)
    except OSError as exc:
        if backup is not None:
            os.replace(backup, final)
        shutil.rmtree(staging, ignore_errors=True)
        raise OutputPathError(f"cannot move the export into {final}: {exc}", "check permissions and free space") from exc
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)
