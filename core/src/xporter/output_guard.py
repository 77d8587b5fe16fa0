"""Refuse output paths that would destroy or mix user data, before any expensive work.

An export replaces its output folder as a whole, so the destination must never be (or
contain, or sit inside) the model being exported, the current directory or one of its
parents, or the home directory; and a non-empty folder is only replaced when
``--overwrite`` is given *and* the folder is one xporter wrote itself (it carries
:data:`MARKER`). Everything here only reads the file system, except one probe folder that
proves the destination's parent is writable (``os.access`` says yes to root on ``/proc``
or a read-only mount).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Optional, Union

from .errors import OutputPathError

MARKER = ".xporter-output.json"  # written into every finished output folder
LEGACY_REPORT = "export_report.json"  # outputs of xporter releases before the marker
PARTIAL_INFIX = ".partial-"  # staging folders: .<name>.partial-<random>
PathLike = Union[str, Path]


def is_xporter_output(folder: Path) -> bool:
    """True when ``folder`` was written by xporter (marker file, or an older release's report)."""
    if (folder / MARKER).is_file() and not (folder / MARKER).is_symlink():
        return True
    report = folder / LEGACY_REPORT
    if report.is_file() and not report.is_symlink():
        try:
            data = json.loads(report.read_text())
        except (OSError, ValueError):
            return False
        versions = data.get("versions") if isinstance(data, dict) else None
        return isinstance(versions, dict) and any(str(k).startswith("xporter") for k in versions)
    return False


def _local_source(source: object) -> Optional[Path]:
    """The model's local path, resolved; None for repo ids and in-memory models."""
    if isinstance(source, (str, os.PathLike)) and str(source).strip() and Path(source).exists():
        return Path(source).resolve()
    return None


def _protected_folders(source: object):
    """(path, what) pairs an output may neither be, nor contain."""
    protected = [(Path.cwd().resolve(), "the current directory")]
    home = Path.home().resolve()
    if home != Path("/"):
        protected.append((home, "your home directory"))
    local = _local_source(source)
    if local is not None:
        protected.append((local, f"the model {local}"))
    return protected


def check_not_source(final: Path, source: object) -> None:
    """The output may not be, contain or lie inside the model folder; nor be/contain cwd or home."""
    if final == Path(final.anchor):
        raise OutputPathError(f"refusing to write the export to the file system root {final}",
                              "pass a new folder, e.g. ./model-onnx")
    for folder, what in _protected_folders(source):
        if final == folder or folder.is_relative_to(final):
            relation = "is" if final == folder else "contains"
            raise OutputPathError(f"output {final} {relation} {what}; replacing it would delete it",
                                  "pass a new folder for the export, e.g. ./model-onnx")
    model_dir = _local_source(source)
    if model_dir is not None and model_dir.is_dir():
        if final.is_relative_to(model_dir):
            raise OutputPathError(f"output {final} lies inside the model folder {model_dir}",
                                  "write the export next to the model folder, not into it")


def check_output_dir(path: PathLike, overwrite: bool = False, source: object = None,
                     required_bytes: int = 0) -> Path:
    """Validate the destination before any expensive work starts; return it resolved.

    ``source``: the model path, which the output must stay clear of. ``required_bytes``: a
    lower bound of what the export writes, checked against the free space.
    """
    if not str(path).strip():
        raise OutputPathError("the output path is empty", "pass a new folder for the export, e.g. ./model-onnx")
    final = Path(path).expanduser().resolve()
    check_not_source(final, source)
    if final.exists() and not final.is_dir():
        raise OutputPathError(f"output {final} exists and is a file", "pass a directory path")
    if final.is_dir():
        entries = [p for p in final.iterdir() if not _is_own_scratch(p)]
        if entries and not overwrite:
            raise OutputPathError(f"output directory {final} is not empty",
                                  "pass --overwrite to replace an earlier xporter export, or another path")
        if entries and not is_xporter_output(final):
            raise OutputPathError(f"output directory {final} is not empty and was not written by xporter "
                                  f"(no {MARKER}); --overwrite only replaces xporter exports",
                                  "choose a new or empty folder")
    parent = _first_existing_parent(final.parent)
    if not parent.is_dir():
        raise OutputPathError(f"cannot create {final}: {parent} is a file", "choose an output path inside a directory")
    probe_dir = final if final.is_dir() else parent
    _probe_writable(probe_dir, final)
    if required_bytes:
        check_free_space(probe_dir, required_bytes)
    return final


def _is_own_scratch(path: Path) -> bool:
    """Lock files and staging folders xporter keeps inside an output it fills in place."""
    return path.name.startswith(".xporter-lock") or path.name.startswith(".xporter-partial-")


def _first_existing_parent(path: Path) -> Path:
    for candidate in [path, *path.parents]:
        if candidate.exists():
            return candidate
    return Path(path.anchor or "/")


def _probe_writable(folder: Path, final: Path) -> None:
    try:
        Path(tempfile.mkdtemp(prefix=".xporter-probe-", dir=folder)).rmdir()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise OutputPathError(f"cannot write to {folder} (for output {final}): {reason}",
                              "choose an output directory you can write to") from exc


def _gib(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.2f} GiB"


def check_free_space(folder: Path, required_bytes: int) -> None:
    """Refuse with the numbers when the file system holding ``folder`` has less than ``required_bytes`` free."""
    free = shutil.disk_usage(folder).free
    if free < required_bytes:
        raise OutputPathError(f"not enough disk space in {folder}: the export needs about {_gib(required_bytes)}, "
                              f"{_gib(free)} free", "free some space or choose an output on a larger disk")
