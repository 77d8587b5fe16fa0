"""Listing and reading model files: a local directory, the Hugging Face cache, or the Hub.

Uses huggingface_hub for everything that touches the cache or the network, imported
only when a non-local model is asked for.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import List, Optional, Union

from .errors import ModelConfigError, ModelNotFoundError

_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?$")


def default_cache_dir() -> str:
    """The hub cache folder, honouring HF_HUB_CACHE / HF_HOME like huggingface_hub does."""
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    home = os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface")
    return os.path.join(home, "hub")


def looks_like_repo_id(name: str) -> bool:
    """True for ``org/name`` or ``name`` strings that could be Hub repo ids."""
    return bool(_REPO_ID.match(name)) and ".." not in name


def local_dir(model_name_or_path: Union[str, Path], subfolder: str = "") -> Optional[Path]:
    """The local directory for the model, or None if the argument is not a local path.

    Raises ModelNotFoundError for something that is clearly a path but does not exist.
    """
    path = Path(model_name_or_path).expanduser()
    if path.is_dir():
        target = path / subfolder if subfolder else path
        if not target.is_dir():
            raise ModelNotFoundError(f"subfolder '{subfolder}' not found in {path}", "check --subfolder")
        return target
    if path.exists():
        raise ModelNotFoundError(f"{path} is a file, not a model directory", "pass the folder that holds config.json")
    if not looks_like_repo_id(str(model_name_or_path)):
        raise ModelNotFoundError(
            f"model path {model_name_or_path} does not exist",
            "pass an existing local directory or a Hugging Face Hub repo id",
        )
    return None


def _is_offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


_REACHABILITY: dict = {}


def _hub_unreachable(timeout: float = 3.0) -> str:
    """The Hub's host name when a TCP connection to it fails within ``timeout`` (else "").

    huggingface_hub retries a dead network for ~45 s before giving up; one short probe per
    process tells a mistyped local path from a Hub repo id in seconds instead."""
    import socket
    from urllib.parse import urlparse

    from huggingface_hub import constants

    parsed = urlparse(constants.ENDPOINT)
    host, port = parsed.hostname or "huggingface.co", parsed.port or (443 if parsed.scheme == "https" else 80)
    if host not in _REACHABILITY:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            _REACHABILITY[host] = ""
        except OSError:
            _REACHABILITY[host] = host
    return _REACHABILITY[host]


def _did_you_mean(name: str) -> str:
    """``; did you mean './mymodel'?`` for a close folder name in the current directory."""
    from .errors import suggest

    try:
        folders = [p.name for p in Path.cwd().iterdir() if p.is_dir()]
    except OSError:
        return ""
    guess = suggest(name, folders)
    return f" ({guess.replace(chr(39), '').replace('did you mean ', 'did you mean ./')})" if guess else ""


def cached_snapshot(repo_id: str, revision: Optional[str], cache_dir: Optional[str], token=None) -> Optional[Path]:
    """The cached snapshot folder of ``repo_id`` (real huggingface_hub layout), or None."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        # local_files_only resolves refs/<revision> in the cache and never touches the network
        return Path(
            snapshot_download(
                repo_id, revision=revision, cache_dir=cache_dir or default_cache_dir(), local_files_only=True, token=token
            )
        )
    except (LocalEntryNotFoundError, FileNotFoundError, OSError, ValueError):
        return None


def get_model_files(
    model_name_or_path: Union[str, Path],
    subfolder: str = "",
    cache_dir: Optional[str] = None,
    revision: Optional[str] = None,
    token: Optional[Union[bool, str]] = None,
) -> List[str]:
    """File names of the model (relative to ``subfolder``): local dir, then cache, then Hub."""
    directory = local_dir(model_name_or_path, subfolder)
    if directory is not None:
        return sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file())
    repo_id = str(model_name_or_path)
    snapshot = cached_snapshot(repo_id, revision, cache_dir, token)
    if snapshot is not None:
        root = snapshot / subfolder if subfolder else snapshot
        if root.is_dir():
            return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    if _is_offline():
        raise ModelNotFoundError(
            f"'{repo_id}' is not a local directory and is not in the Hugging Face cache",
            "HF_HUB_OFFLINE is set: download it first or pass a local directory",
        )
    from huggingface_hub import HfApi

    not_local = f"'{repo_id}' is not a local folder (no such path in {Path.cwd()}){_did_you_mean(repo_id)}"
    host = _hub_unreachable()
    if host:
        raise ModelNotFoundError(f"{not_local}, and the Hugging Face Hub ({host}) cannot be reached",
                                 "check the path; for a Hub repo id check the network, or download it first")
    try:
        files = HfApi().list_repo_files(repo_id, revision=revision, token=token)
    except Exception as exc:  # network errors, 404s, auth: one clear message
        raise ModelNotFoundError(
            f"{not_local}, and listing it on the Hugging Face Hub failed ({type(exc).__name__})",
            "check the path or the repo id, your network, or pass a local directory",
        ) from exc
    prefix = f"{subfolder.strip('/')}/" if subfolder else ""
    return sorted(f[len(prefix):] for f in files if f.startswith(prefix))


def read_json_file(
    model_name_or_path: Union[str, Path],
    filename: str,
    subfolder: str = "",
    cache_dir: Optional[str] = None,
    revision: Optional[str] = None,
    token: Optional[Union[bool, str]] = None,
) -> Optional[dict]:
    """Read ``filename`` (e.g. config.json) from the model; None if the model lacks it."""
    directory = local_dir(model_name_or_path, subfolder)
    if directory is not None:
        path = directory / filename
    else:
        path = _hub_file(str(model_name_or_path), filename, subfolder, cache_dir, revision, token)
    if path is None or not Path(path).is_file():
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelConfigError(f"{path} is not valid JSON ({exc})", f"fix or regenerate {filename}") from exc
    if not isinstance(data, dict):
        raise ModelConfigError(f"{path} does not hold a JSON object", f"fix or regenerate {filename}")
    return data


def _hub_file(repo_id, filename, subfolder, cache_dir, revision, token) -> Optional[str]:
    from huggingface_hub import hf_hub_download, try_to_load_from_cache

    cache_dir = cache_dir or default_cache_dir()
    path_in_repo = f"{subfolder.strip('/')}/{filename}" if subfolder else filename
    cached = try_to_load_from_cache(repo_id, path_in_repo, cache_dir=cache_dir, revision=revision)
    if isinstance(cached, str):
        return cached
    if _is_offline() or _hub_unreachable():
        return None
    try:
        return hf_hub_download(
            repo_id, filename, subfolder=subfolder or None, revision=revision, cache_dir=cache_dir, token=token
        )
    except Exception:
        return None
