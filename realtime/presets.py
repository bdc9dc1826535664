"""Presets: saved query sets with their settings ("calls": remove keyboard + dog + traffic), chosen in the
app or with ``lass stream --preset NAME``.

They live in one JSON file, ``$XDG_CONFIG_HOME/lass-live/presets.json`` (``~/.config`` by default):
``{"calls": {"query": "keyboard typing + dog barking + traffic noise", "mode": "remove", "wet": 1.0}}``.
The query is written as the query box takes it (``a + b but not c``). The file is rewritten
atomically, so a crash never leaves half of it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from audio.places import OutputPlaceError, write_atomically
from models.config import MODES
from models.errors import UserError
from models.queries import parse_query


@dataclass(frozen=True)
class Preset:
    name: str
    query: str
    mode: str = "isolate"
    wet: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise UserError("a preset needs a name")
        if not isinstance(self.query, str):
            raise UserError(f"preset {self.name!r}: query must be text, not {self.query!r}")
        parse_query(self.query)  # raises on an empty part
        if self.mode not in MODES:
            raise UserError(f"preset {self.name!r}: mode must be isolate or remove, not {self.mode!r}")
        if isinstance(self.wet, bool) or not isinstance(self.wet, (int, float)) or not 0.0 <= self.wet <= 1.0:
            raise UserError(f"preset {self.name!r}: wet must be a number between 0 and 1, not {json.dumps(self.wet)}")


def presets_path() -> Path:
    config = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(config) / "lass-live" / "presets.json"


def load_presets(path: Path | None = None) -> dict[str, Preset]:
    """Every saved preset by name (none when the file does not exist yet)."""
    path = path or presets_path()
    if not path.is_file():
        return {}
    try:
        raw = json.loads(path.read_text())
        return {name: Preset(name, **fields) for name, fields in raw.items()}
    except OSError as error:
        raise UserError(f"cannot read the presets file {path}: {error.strerror}") from None
    except RecursionError:
        raise UserError(f"the presets file {path} is damaged (nested too deep to read): fix or delete it") from None
    except (json.JSONDecodeError, TypeError, AttributeError, ValueError) as error:
        raise UserError(f"the presets file {path} is damaged ({error}): fix or delete it") from None


def save_preset(preset: Preset, path: Path | None = None) -> None:
    """Add or replace ``preset`` by its name."""
    path = path or presets_path()
    presets = load_presets(path) | {preset.name: preset}
    data = {name: {k: v for k, v in asdict(p).items() if k != "name"} for name, p in sorted(presets.items())}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, (json.dumps(data, indent=1) + "\n").encode())
    except (OSError, OutputPlaceError) as error:
        raise UserError(f"cannot save the preset: {getattr(error, 'strerror', None) or error}") from None


def find_preset(name: str, path: Path | None = None) -> Preset:
    presets = load_presets(path)
    if name not in presets:
        known = ", ".join(sorted(presets)) or "none yet (save one in the app)"
        raise UserError(f"no preset {name!r} in {path or presets_path()}; saved presets: {known}")
    return presets[name]
