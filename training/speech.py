"""Speech from espeak-ng (a Debian package): random sentences, voices, languages, rates and pitches."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np

from audio.files import resample
from models.config import MODEL_SAMPLE_RATE_HZ

ESPEAK_RATE_HZ = 22_050
WAV_HEADER_BYTES = 44
LANGUAGES = ("en", "en-us", "de", "fr", "es", "it", "nl", "pt", "pl", "sv")
VARIANTS = ("m1", "m2", "m3", "m4", "m7", "f1", "f2", "f3", "f4", "f5")
WORDS = (
    "the time people way year day thing man world life hand part child eye woman place work week case point "
    "government company number group problem fact be have do say get make go know take see come think look "
    "want give use find tell ask seem feel try leave call good new first last long great little own other old "
    "right big high different small large next early young important few public bad same able river garden "
    "music window morning evening yellow purple seven eleven forty table market station coffee letter"
).split()


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def speech(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` samples at 32 kHz of a random sentence in a random voice, looped if shorter."""
    if not espeak_available():
        raise RuntimeError("espeak-ng is not installed: `apt-get install espeak-ng` (needed for speech sources)")
    text = " ".join(rng.choice(WORDS, size=int(rng.integers(6, 14))))
    voice = f"{rng.choice(LANGUAGES)}+{rng.choice(VARIANTS)}"
    command = ["espeak-ng", "-v", voice, "-s", str(int(rng.integers(130, 220))), "-p", str(int(rng.integers(20, 80)))]
    raw = subprocess.run([*command, "--stdout", text], capture_output=True, check=True).stdout
    pcm = np.frombuffer(raw[WAV_HEADER_BYTES:], dtype="<i2").astype(np.float32) / 32768.0
    audio = resample(pcm[None], ESPEAK_RATE_HZ, MODEL_SAMPLE_RATE_HZ)[0]
    start = int(rng.integers(0, max(1, len(audio) - n)))
    return np.resize(audio[start:], n)
