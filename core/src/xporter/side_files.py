"""Copy a model folder's side files (tokenizer, processor, pipeline configs) into an export.

Exports get published, so nothing outside the model folder may end up in one: a
``tokenizer_config.json -> /etc/shadow`` link or a ``1_Pooling -> ~/.ssh`` folder link is
skipped and reported, never followed. Only regular files are copied. The one kind of link
that is followed is the Hugging Face cache's own: a ``snapshots/<revision>/`` file that
points into the same repository's ``blobs/`` folder.
"""

from __future__ import annotations

import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, List, Optional, Tuple


@dataclass
class SideFileCopy:
    """What was copied (relative paths) and what was skipped, with the reason."""

    copied: List[str] = field(default_factory=list)
    skipped: List[Tuple[str, str]] = field(default_factory=list)

    def skipped_lines(self) -> List[str]:
        return [f"{name} ({why})" for name, why in self.skipped]


def _cache_blobs(root: Path) -> Optional[Path]:
    """``.../models--org--name/blobs`` when ``root`` is a snapshot folder of the HF cache."""
    if root.parent.name == "snapshots" and root.parent.parent.name.startswith(("models--", "datasets--")):
        return (root.parent.parent / "blobs").resolve()
    return None


def unsafe_reason(root: Path, path: Path) -> Optional[str]:
    """Why ``path`` (inside ``root``, not resolved) must not be copied, or None when it may."""
    root_resolved = root.resolve()
    blobs = _cache_blobs(root)
    relative = path.relative_to(root)
    current = root
    for part in relative.parts:
        current = current / part
        try:
            mode = current.lstat().st_mode
        except OSError as exc:
            return f"unreadable: {exc.strerror}"
        if stat.S_ISLNK(mode):
            target = current.resolve()
            inside = target.is_relative_to(root_resolved) or (blobs is not None and target.is_relative_to(blobs))
            if not inside:
                return f"symlink to {target}, outside the model folder"
    try:
        final_mode = path.stat().st_mode
    except OSError as exc:
        return f"unreadable: {exc.strerror}"
    if not stat.S_ISREG(final_mode):
        return "not a regular file"
    return None


def copy_side_files(source: Path, destination: Path, patterns: Iterable[str]) -> SideFileCopy:
    """Copy the regular files of ``source`` matching the glob ``patterns`` into ``destination``.

    Relative layout is kept (``1_Pooling/config.json``). A file the exporter already wrote
    into ``destination`` (e.g. ``config.json``) is kept. Links leaving ``source`` are skipped
    and listed in the result.
    """
    result = SideFileCopy()
    seen = set()
    for pattern in patterns:
        for path in sorted(source.glob(pattern)):
            relative = path.relative_to(source)
            if relative in seen or path.is_dir():
                continue
            seen.add(relative)
            reason = unsafe_reason(source, path)
            if reason is not None:
                result.skipped.append((str(relative), reason))
                continue
            target = destination / relative
            if target.exists():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
            result.copied.append(str(relative))
    return result
