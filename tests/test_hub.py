"""The hub download path, up to the network boundary (this machine has no connection to the hub)."""

import time

import pytest

from models.errors import ModelLoadingError
from models.hub import AUDIOSEP_CHECKPOINT, fetch


def test_offline_fails_fast_naming_the_file_and_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    start = time.monotonic()
    with pytest.raises(ModelLoadingError) as error:
        fetch(AUDIOSEP_CHECKPOINT, cache_dir=tmp_path)
    assert time.monotonic() - start < 5
    message = str(error.value)
    assert "audiosep_base_4M_steps.ckpt" in message and "--checkpoint" in message and str(tmp_path) in message


def test_a_cached_file_is_used_without_the_network(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    repo = tmp_path / "spaces--Audio-AGI--AudioSep"
    snapshot = repo / "snapshots" / ("0" * 40) / "checkpoint"
    snapshot.mkdir(parents=True)
    (snapshot / "audiosep_base_4M_steps.ckpt").write_bytes(b"weights")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    path = fetch(AUDIOSEP_CHECKPOINT, cache_dir=tmp_path)
    assert path.read_bytes() == b"weights"


def test_an_unreachable_hub_is_not_retried(tmp_path, monkeypatch):
    """This machine cannot reach the hub; with no offline setting, fetch must not try to download."""
    import huggingface_hub

    calls = []
    real = huggingface_hub.hf_hub_download
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", lambda *a, **k: calls.append(k) or real(*a, **k))
    monkeypatch.setattr("huggingface_hub.constants.ENDPOINT", "https://hub.invalid")
    with pytest.raises(ModelLoadingError, match="--checkpoint"):
        fetch(AUDIOSEP_CHECKPOINT, cache_dir=tmp_path)
    assert calls and calls[0]["local_files_only"] is True
