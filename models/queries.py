"""What a query is, and what a text query must be (checked before any model loads; nothing heavy is
imported here).

A query is a description (``str``), a ``Path`` (a saved condition, ``.npy`` from ``lass embed``, or an
example clip of the sound, any audio file), or a :class:`QuerySet` of several: sounds to take together
and sounds to leave out of them ("speech + guitar", "music but not the vocals"). ``Separator.condition``
turns any of them into the conditions the separation network takes, one row per sound, included ones
first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from models.errors import UserError

CONDITION_SUFFIX = ".npy"
AND = "+"
BUT_NOT = re.compile(r"\bbut\s+not\b", re.IGNORECASE)
SHOWN_CHARACTERS = 80  # a description echoed in a message is cut after this


@dataclass(frozen=True)
class QuerySet:
    """Several sounds as one: the sum of ``include``, without what ``exclude`` describes. In remove
    mode that whole is what is removed."""

    include: tuple[str | Path, ...]
    exclude: tuple[str | Path, ...] = ()

    def __post_init__(self) -> None:
        if not self.include:
            raise UserError("a query set needs at least one sound to include")

    @property
    def queries(self) -> tuple[str | Path, ...]:
        """Included, then excluded: the order of the conditions."""
        return (*self.include, *self.exclude)


Query = str | Path | QuerySet


def parse_query(text: str) -> str | QuerySet:
    """``"a + b but not c + d"`` -> ``QuerySet(("a", "b"), ("c", "d"))``; a single description stays a ``str``."""
    parts = BUT_NOT.split(text)
    if len(parts) > 2:
        raise UserError(
            f"{shown(text)!r} says 'but not' {len(parts) - 1} times; say it once and join what to leave out "
            f"with +, e.g. '{shown(parts[0].strip())} but not {shown(' + '.join(p.strip() for p in parts[1:]))}'"
        )
    split = lambda part: tuple(p.strip() for p in part.split(AND))
    include, exclude = split(parts[0]), split(parts[1]) if len(parts) > 1 else ()
    if len(include) + len(exclude) > 1 and not all([*include, *exclude]):
        raise UserError(f"{shown(text)!r} has an empty part: name a sound on each side of + and of 'but not', e.g. 'speech + guitar but not drums'")
    check_texts([*include, *exclude])
    return include[0] if len(include) == 1 and not exclude else QuerySet(include, exclude)


def shown(text: str, limit: int = SHOWN_CHARACTERS) -> str:
    """``text`` as echoed in a message: whole when short, else its start and how long it is."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def texts_of(query: Query) -> list[str]:
    """The descriptions in a query (none for a saved condition or a clip)."""
    parts = query.queries if isinstance(query, QuerySet) else (query,)
    return [part for part in parts if isinstance(part, str)]


def excluded_count(query: Query) -> int:
    """How many of the query's conditions (the last ones) are left out rather than taken."""
    return len(query.exclude) if isinstance(query, QuerySet) else 0


def check_texts(texts: list[str]) -> None:
    """Raise :class:`UserError` if there is no text or a text is empty."""
    if not texts or any(not t.strip() for t in texts):
        raise UserError("a query text is empty: describe the sound to separate, e.g. -q 'dog barking'")


def check_saved_condition(path: Path) -> None:
    """Raise :class:`UserError` unless ``path`` names a saved condition (``lass embed`` writes ``.npy``)."""
    if path.suffix != CONDITION_SUFFIX:
        raise UserError(f"--embedding takes a {CONDITION_SUFFIX} file saved by 'lass embed', not {path}")


def describe(query: Query) -> str:
    """How a query is shown to the user."""
    if isinstance(query, QuerySet):
        text = f" {AND} ".join(describe(q) for q in query.include)
        return f"{text} but not {f' {AND} '.join(describe(q) for q in query.exclude)}" if query.exclude else text
    if isinstance(query, Path):
        return f"saved condition {query.name}" if query.suffix == CONDITION_SUFFIX else f"example clip {query.name}"
    return query
