"""Fetching the official weights from the Hugging Face hub, for users who are online.

Files are cached by ``huggingface_hub`` (``HF_HOME``); a cached file is used without the network.
Offline, or when the hub cannot be reached (a connection probe, so the hub client's retries never
start), :func:`fetch` uses the cache or fails at once with a message naming the file to place and where.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from models.errors import ModelLoadingError

REACH_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class HubFile:
    repo_id: str
    filename: str
    repo_type: str = "model"

    @property
    def basename(self) -> str:
        return Path(self.filename).name


# The official release: the AudioSep Lightning checkpoint (separation + CLAP weights) and the
# laion-clap checkpoint that AudioSep initialises its query encoder from.
AUDIOSEP_CHECKPOINT = HubFile("Audio-AGI/AudioSep", "checkpoint/audiosep_base_4M_steps.ckpt", "space")
CLAP_CHECKPOINT = HubFile("Audio-AGI/AudioSep", "checkpoint/music_speech_audioset_epoch_15_esc_89.98.pt", "space")
ROBERTA_TOKENIZER_FILES = tuple(
    HubFile("FacebookAI/roberta-base", name)
    for name in ("vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json", "config.json")
)


def fetch(file: HubFile, cache_dir: Path | None = None) -> Path:
    """Local path of ``file``: from the cache, else downloaded (with a progress bar)."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        return Path(
            hf_hub_download(
                file.repo_id, file.filename, repo_type=file.repo_type, cache_dir=cache_dir, etag_timeout=10,
                local_files_only=not hub_reachable(),  # unreachable: the cache or a clear error, no retries
            )
        )
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError) as error:
        raise ModelLoadingError(
            f"could not get {file.basename} from the hub ({file.repo_type} {file.repo_id}): "
            f"{type(error).__name__}. Without a connection, download it elsewhere and pass its path with "
            f"--checkpoint, or place it in the Hugging Face cache ({_cache_hint(cache_dir)})."
        ) from error


def hub_reachable(timeout_s: float = REACH_TIMEOUT_S) -> bool:
    """Whether a TCP connection to the hub's endpoint opens within ``timeout_s`` (no DNS name, no route
    or a firewall answer at once; a silent network waits ``timeout_s`` at most)."""
    from huggingface_hub import constants

    endpoint = urlsplit(constants.ENDPOINT)
    try:
        socket.create_connection((endpoint.hostname, endpoint.port or 443), timeout=timeout_s).close()
    except OSError:
        return False
    return True


def _cache_hint(cache_dir: Path | None) -> str:
    from huggingface_hub import constants

    return str(cache_dir or constants.HF_HUB_CACHE)
