"""What a query is, and what a text query must be (checked before any model loads; nothing heavy is
imported here).

A query is a description (``str``), or a ``Path``: a saved condition (``.npy``, from ``lass embed``) or
an example clip of the sound (any audio file). ``Separator.condition`` turns any of them into the
condition the separation network takes.
"""

from __future__ import annotations

from pathlib import Path

Query = str | Path
CONDITION_SUFFIX = ".npy"


def check_texts(texts: list[str]) -> None:
    """Raise ``ValueError`` if there is no text or a text is empty."""
    if not texts or any(not t.strip() for t in texts):
        raise ValueError("a query text is empty: describe the sound to separate, e.g. -q 'dog barking'")


def check_saved_condition(path: Path) -> None:
    """Raise ``ValueError`` unless ``path`` names a saved condition (``lass embed`` writes ``.npy``)."""
    if path.suffix != CONDITION_SUFFIX:
        raise ValueError(f"--embedding takes a {CONDITION_SUFFIX} file saved by 'lass embed', not {path}")


def describe(query: Query) -> str:
    """How a query is shown to the user."""
    if isinstance(query, Path):
        return f"saved condition {query.name}" if query.suffix == CONDITION_SUFFIX else f"example clip {query.name}"
    return query
