"""Separation quality metrics, in dB.

- SDR: plain signal-to-distortion ratio ``10 log10(|s|^2 / |s - s_hat|^2)``, the definition AudioSep's
  evaluation uses (not BSS-Eval's, which allows a distortion filter).
- SI-SDR: scale-invariant SDR (Le Roux et al. 2019): the estimate is projected on the reference first.
- SDRi / SI-SDRi: improvement of the estimate over the unprocessed mixture.

Values are clipped to +-100 dB, so a perfect estimate gives 100 rather than infinity.
"""

from __future__ import annotations

import numpy as np

MAX_DB = 100.0
EPS = 1e-12


def _ratio_db(signal_energy: float, error_energy: float) -> float:
    if error_energy <= EPS * max(signal_energy, EPS):
        return MAX_DB
    return float(np.clip(10 * np.log10(max(signal_energy, EPS) / error_energy), -MAX_DB, MAX_DB))


def sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    reference, estimate = np.asarray(reference, np.float64), np.asarray(estimate, np.float64)
    return _ratio_db(np.sum(reference**2), np.sum((reference - estimate) ** 2))


def si_sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    reference, estimate = np.asarray(reference, np.float64), np.asarray(estimate, np.float64)
    scale = np.dot(estimate.ravel(), reference.ravel()) / max(np.sum(reference**2), EPS)
    projection = scale * reference
    return _ratio_db(np.sum(projection**2), np.sum((estimate - projection) ** 2))


def separation_scores(reference: np.ndarray, estimate: np.ndarray, mixture: np.ndarray) -> dict[str, float]:
    """SDR, SDRi, SI-SDR and SI-SDRi of one estimate."""
    scores = {"sdr": sdr(reference, estimate), "si_sdr": si_sdr(reference, estimate)}
    scores["sdri"] = scores["sdr"] - sdr(reference, mixture)
    scores["si_sdri"] = scores["si_sdr"] - si_sdr(reference, mixture)
    return scores
