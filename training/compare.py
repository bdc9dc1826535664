"""Two evaluations of the same mixtures side by side: per label (a class, a case) and overall, the
change in a metric and its 95 % confidence interval over the paired mixtures.

One model's mean over a few dozen mixtures moves by a dB or more with the draw (on the short-tone
check a case's mean moved by 3 to 10 dB between models at 10 mixtures per case), but the draw is
the same for both models when they score the same mixtures, so the change is measured mixture by
mixture: its interval says whether a change is larger than what the mixtures drawn make of it.
``lass compare BEFORE.json AFTER.json`` reads two ``lass eval --out`` JSONs.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from audio.places import write_atomically
from models.errors import UserError

CONFIDENCE = 0.95
OVERALL = "overall"


@dataclass(frozen=True)
class Change:
    """A label's mean ``metric`` in dB before and after, the mean paired change and the half-width of
    its ``CONFIDENCE`` interval (Student's t over the mixtures; NaN for one mixture)."""

    label: str
    mixtures: int
    before_db: float
    after_db: float
    change_db: float
    interval_db: float

    @property
    def settled(self) -> bool:
        """Whether the interval leaves out no change at all: the change is more than the draw's."""
        return abs(self.change_db) > self.interval_db


def _identity(item: dict) -> tuple:
    return item["label"], item.get("interferers", ""), item["caption"], repr(float(item["snr_db"]))


def paired_scores(before: dict, after: dict, metric: str = "si_sdri") -> tuple[list[str], np.ndarray, np.ndarray]:
    """``(labels, before, after)`` of two evaluations' items, ``(N,)`` each, after checking that they
    scored the same mixtures in the same order (label, interferers, caption and SNR of each)."""
    first, second = before["items"], after["items"]
    if len(first) != len(second) or any(_identity(a) != _identity(b) for a, b in zip(first, second)):
        raise ValueError("the two evaluations did not score the same mixtures")
    labels = [item["label"] for item in first]
    return labels, np.array([item[metric] for item in first]), np.array([item[metric] for item in second])


def _change(label: str, before_db: np.ndarray, after_db: np.ndarray) -> Change:
    difference = after_db - before_db
    n = len(difference)
    interval = float(stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1) * difference.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    return Change(label, n, float(before_db.mean()), float(after_db.mean()), float(difference.mean()), interval)


def changes(before: dict, after: dict, metric: str = "si_sdri") -> list[Change]:
    """One :class:`Change` per label (sorted), then ``overall`` over every mixture."""
    labels, first, second = paired_scores(before, after, metric)
    by_label = np.array(labels)
    rows = [_change(label, first[by_label == label], second[by_label == label]) for label in sorted(set(labels))]
    return rows + [_change(OVERALL, first, second)]


def format_changes(rows: list[Change], metric: str = "si_sdri") -> str:
    """A table: the change is starred where its interval leaves out zero."""
    lines = [
        f"| label | mixtures | before ({metric}, dB) | after | change | {CONFIDENCE:.0%} interval |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        star = "*" if row.settled else ""
        lines.append(
            f"| {row.label} | {row.mixtures} | {row.before_db:.2f} | {row.after_db:.2f} | "
            f"{row.change_db:+.2f}{star} | ±{row.interval_db:.2f} |"
        )
    return "\n".join(lines)


def _read(path: Path) -> dict:
    try:
        evaluation = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise UserError(f"cannot read the evaluation {path}: {error}; give a JSON that `lass eval --out` wrote") from error
    if "items" not in evaluation:
        raise UserError(f"{path} holds no scored mixtures ('items'); give a JSON that `lass eval --out` wrote")
    return evaluation


def run(before_path: Path, after_path: Path, metric: str = "si_sdri", out: Path | None = None) -> list[Change]:
    """Compare two ``lass eval`` JSONs; with ``out``, write the rows there as JSON (written whole or not at all)."""
    before, after = _read(before_path), _read(after_path)
    try:
        rows = changes(before, after, metric)
    except ValueError as error:
        raise UserError(f"{before_path} and {after_path}: {error}; score both models with the same `lass eval` options") from error
    except KeyError as error:
        raise UserError(f"{before_path} or {after_path} has no {error} score; choose a --metric that `lass eval` wrote") from error
    if out is not None:
        document = {"before": str(before_path), "after": str(after_path), "metric": metric, "confidence": CONFIDENCE, "changes": [asdict(row) for row in rows]}
        write_atomically(out, json.dumps(document, indent=1).encode())
    return rows
