"""A mistyped local path says so in seconds instead of retrying the Hub for ~45 s (issue 14, defect 10)."""

import time

import pytest

from xporter import hub
from xporter.errors import ModelNotFoundError


def test_unreachable_hub_is_detected_quickly_and_the_path_named(tmp_path, monkeypatch):
    (tmp_path / "mymodel").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(hub, "_is_offline", lambda: False)
    monkeypatch.setattr(hub, "_REACHABILITY", {})
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # discard port: nothing listens there
    started = time.monotonic()
    with pytest.raises(ModelNotFoundError) as info:
        hub.get_model_files("mymodle")
    assert time.monotonic() - started < 10
    message = str(info.value)
    assert "'mymodle' is not a local folder" in message and "did you mean ./mymodel" in message
    assert "cannot be reached" in message
