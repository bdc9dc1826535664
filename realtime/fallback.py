"""What the callback plays where the worker is late: the delayed dry input at a gain, or silence.

- ``dry``: the input as it is. In remove mode it brings back the very sound the user removed.
- ``attenuated``: the input ``ATTENUATION_DB`` lower.
- ``silence``: nothing.

``benchmarks/fallback.py`` scored these (and a gain held from the last output) where late, on
generated mixtures: in remove mode silence came closest to what was asked for and brings none of the
removed sound back; in isolate mode the dry input came closest. Those are the defaults
(``DEFAULT_FALLBACKS``); bypass plays the input either way.
"""

from __future__ import annotations

from typing import Literal

Fallback = Literal["dry", "attenuated", "silence"]
FALLBACKS: tuple[Fallback, ...] = ("dry", "attenuated", "silence")
ATTENUATION_DB = -20.0
FALLBACK_GAINS: dict[Fallback, float] = {"dry": 1.0, "attenuated": 10 ** (ATTENUATION_DB / 20), "silence": 0.0}
DEFAULT_FALLBACKS: dict[str, Fallback] = {"isolate": "dry", "remove": "silence"}
FALLBACK_DESCRIPTIONS: dict[Fallback, str] = {
    "dry": "the dry input",
    "attenuated": f"the dry input {-ATTENUATION_DB:.0f} dB down",
    "silence": "silence",
}


def fallback_for(remove: bool, bypass: bool, chosen: Fallback | None = None) -> Fallback:
    """The fallback played in a mode: ``chosen`` if given, else the measured default; bypass: dry."""
    if bypass:
        return "dry"
    return chosen or DEFAULT_FALLBACKS["remove" if remove else "isolate"]
