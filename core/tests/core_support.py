"""Helpers shared by the core tests (fake entry points, config folders)."""

from __future__ import annotations

import json
from pathlib import Path


class FakeDist:
    def __init__(self, name, version="1.0"):
        self.name, self.version = name, version


class FakeEntryPoint:
    """Quacks like importlib.metadata.EntryPoint; ``load`` returns or raises what it is given."""

    def __init__(self, name, value, loader, dist="xporter-fake"):
        self.name, self.value, self._loader, self.dist = name, value, loader, FakeDist(dist)

    def load(self):
        return self._loader()


def write_config(folder: Path, **config) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config))
    return folder
