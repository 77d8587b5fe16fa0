"""Write export results atomically, without ever deleting what somebody else put there.

The export is built in a staging folder and published in one rename, so an interrupted or
failed export never leaves a ``model.onnx`` (or ``model.tflite``) that looks valid. The
rules that keep user data safe:

* the destination is checked by :mod:`xporter.output_guard` (not the model folder, not
  cwd, non-empty only with ``--overwrite`` over an earlier xporter export) before the
  export and again under the lock;
* an exclusive lock per destination serialises concurrent exports to one path (the second
  is refused at once, it never mixes files);
* publishing uses ``rename`` without replacement: a folder that another process filled in
  the meantime is left alone and the export fails with one line; an overwritten export is
  moved aside and only the entries it had when checked are deleted;
* a destination that is a mount point (a Docker volume, a tmpfs) or whose parent is not
  writable is filled in place through a staging folder inside it;
* folders get the mode the umask gives, not ``mkdtemp``'s 0700;
* staging folders left by a killed process (SIGKILL) are removed by the next export to the
  same destination, which holds the lock and so knows no live export owns them.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Dict, Iterator, Optional, Tuple

from .errors import OutputPathError
from .output_guard import MARKER, PARTIAL_INFIX, PathLike, check_output_dir

__all__ = ["atomic_output_dir", "check_output_dir", "MARKER"]

Snapshot = Dict[str, Tuple[int, int]]  # entry name -> (inode, mtime_ns) when the destination was checked
_RENAME_MOUNT_ERRORS = {errno.EBUSY, errno.EXDEV, errno.EROFS, errno.EPERM, errno.EACCES}


def _umask() -> int:
    try:  # Linux: read it without changing it (os.umask is process-wide and racy)
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fills_in_place(final: Path) -> bool:
    """A mount point cannot be renamed over, and a folder in an unwritable parent cannot be replaced."""
    return final.is_dir() and (os.path.ismount(final) or not os.access(final.parent, os.W_OK | os.X_OK))


def _snapshot(folder: Path) -> Snapshot:
    if not folder.is_dir():
        return {}
    entries = {}
    for entry in os.scandir(folder):
        if entry.name.startswith(".xporter-lock") or entry.name.startswith(".xporter-partial-"):
            continue
        stat = entry.stat(follow_symlinks=False)
        entries[entry.name] = (stat.st_ino, stat.st_mtime_ns)
    return entries


@contextlib.contextmanager
def _exclusive_lock(lock_path: Path, final: Path) -> Iterator[None]:
    """flock on a lock file beside (or inside) the destination; refused at once when held."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no cross-process lock, the rename rules still apply
        yield
        return
    while True:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputPathError(f"another xporter export is writing to {final}",
                                  "wait for it to finish, or choose another output") from None
        try:  # the holder before us may have unlinked the file between our open and our flock
            same = os.fstat(fd).st_ino == os.stat(lock_path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(lock_path)
        os.close(fd)


def _remove_stale_staging(area: Path, prefix: str) -> None:
    for path in area.glob(f"{prefix}*"):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)


def _write_marker(staging: Path) -> None:
    from . import __version__

    (staging / MARKER).write_text(json.dumps({"written_by": "xporter", "version": __version__,
                                              "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}) + "\n")


def _changed_meanwhile(final: Path, snapshot: Snapshot) -> None:
    if _snapshot(final) != snapshot:
        raise OutputPathError(f"{final} changed while the export ran (files were added or replaced by another "
                              f"process); nothing in it was touched", "rerun the export, or choose another output")


def _delete_entries(folder: Path, snapshot: Snapshot) -> None:
    """Delete the entries recorded in ``snapshot`` (and only those) from ``folder``."""
    for name, (inode, _) in snapshot.items():
        path = folder / name
        try:
            if path.lstat().st_ino != inode:
                continue
        except FileNotFoundError:
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def _publish_by_rename(staging: Path, final: Path, snapshot: Snapshot) -> None:
    if not snapshot:  # new or empty destination: rename(2) refuses a non-empty target, so nothing is replaced
        try:
            os.rename(staging, final)
            return
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                raise OutputPathError(f"{final} was filled by another process while the export ran; "
                                      f"nothing in it was touched", "choose another output") from exc
            if exc.errno in _RENAME_MOUNT_ERRORS and final.is_dir():
                _publish_in_place(staging, final, snapshot)
                return
            raise OutputPathError(f"cannot move the export into {final}: {exc.strerror}",
                                  "check permissions and free space") from exc
    _changed_meanwhile(final, snapshot)
    backup = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
    backup.rmdir()
    try:
        os.rename(final, backup)
    except OSError as exc:
        if exc.errno in _RENAME_MOUNT_ERRORS:
            _publish_in_place(staging, final, snapshot)
            return
        raise OutputPathError(f"cannot replace {final}: {exc.strerror}", "check permissions") from exc
    try:
        os.rename(staging, final)
    except OSError as exc:
        os.rename(backup, final)
        raise OutputPathError(f"cannot move the export into {final}: {exc.strerror}",
                              "check permissions and free space") from exc
    _delete_entries(backup, snapshot)
    try:
        backup.rmdir()
    except OSError:  # something appeared in the old folder at the last moment: keep it, say where
        import sys

        print(f"xporter: warning: files added to {final} during the export were kept in {backup}", file=sys.stderr)


def _publish_in_place(staging: Path, final: Path, snapshot: Snapshot) -> None:
    """Move the staged entries into ``final`` one by one (a mount point cannot be renamed over)."""
    _changed_meanwhile(final, snapshot)
    new_names = [p.name for p in staging.iterdir()]
    _delete_entries(final, snapshot)  # the earlier xporter export (checked under the lock)
    for name in new_names:  # shutil.move: the staging folder may be on another device than a mount point
        shutil.move(str(staging / name), str(final / name))
    staging.rmdir()


@contextlib.contextmanager
def atomic_output_dir(path: PathLike, overwrite: bool = False, source: object = None,
                      required_bytes: int = 0) -> Iterator[Path]:
    """Yield a staging folder; on success it becomes ``path``, on failure it is removed.

    ``source`` is the model path (the output must stay clear of it); ``required_bytes`` a
    lower bound of the export's size, checked against the free space.
    """
    final = check_output_dir(path, overwrite, source, required_bytes)
    in_place = _fills_in_place(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    area = final if in_place else final.parent
    lock_path = final / ".xporter-lock" if in_place else final.parent / f".{final.name}.xporter-lock"
    staging_prefix = ".xporter-partial-" if in_place else f".{final.name}{PARTIAL_INFIX}"
    with _exclusive_lock(lock_path, final):
        final = check_output_dir(path, overwrite, source)  # again: the destination may have changed before the lock
        _remove_stale_staging(area, staging_prefix)
        snapshot = _snapshot(final)
        staging = Path(tempfile.mkdtemp(prefix=staging_prefix, dir=area))
        try:
            os.chmod(staging, 0o777 & ~_umask())
            yield staging
            _write_marker(staging)
            if in_place:
                _publish_in_place(staging, final, snapshot)
            else:
                _publish_by_rename(staging, final, snapshot)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
