"""The numbers every part of the system agrees on, named once.

The separation network runs at 32 kHz on a 2048-point STFT with a 320-sample hop (10 ms frames);
the CLAP query encoder listens at 48 kHz. Everything else derives from these.
"""

from __future__ import annotations

from dataclasses import dataclass

MODEL_SAMPLE_RATE_HZ = 32_000
N_FFT = 2048
HOP_LENGTH = 320
N_FREQ_BINS = N_FFT // 2 + 1
CONDITION_DIM = 512
MODES = ("isolate", "remove")  # a separation gives the described sound, or the input without it

# 127 hops + 1 = 128 STFT frames, a multiple of the U-Net's time downsampling (32): a segment of
# this length needs no padding inside the network (1.27 s, the cost of 1 s).
UNPADDED_SEGMENT_SAMPLES = 127 * HOP_LENGTH


def ms_to_samples(ms: float) -> int:
    """Milliseconds -> samples at the model rate."""
    return int(round(ms * MODEL_SAMPLE_RATE_HZ / 1000))


def samples_to_ms(samples: int) -> float:
    """Samples at the model rate -> milliseconds."""
    return 1000.0 * samples / MODEL_SAMPLE_RATE_HZ


# The official AudioSep model sees at most this many samples in one forward pass (10 s).
MAX_SEGMENT_SAMPLES = 10 * MODEL_SAMPLE_RATE_HZ

CLAP_SAMPLE_RATE_HZ = 48_000
CLAP_MAX_SAMPLES = 10 * CLAP_SAMPLE_RATE_HZ
CLAP_TEXT_MAX_TOKENS = 512

# ResUNet30 channel widths, encoder blocks 1-6 and the centre block 7a, at width 1.0.
RESUNET30_CHANNELS = (32, 32, 64, 128, 256, 384, 384, 384)


@dataclass(frozen=True)
class SeparationConfig:
    """Shape of a ResUNet30 separation network.

    ``width`` scales every channel count (1.0 is the official AudioSep model); the bundled default
    model uses the same code at a smaller width.
    """

    width: float = 1.0
    input_channels: int = 1
    output_channels: int = 1
    condition_dim: int = CONDITION_DIM

    def metadata(self) -> dict[str, float]:
        """What a bundle records of this shape: the width (the rest is the official model's)."""
        return {"width": self.width}

    def channels(self) -> tuple[int, ...]:
        """Channel counts (pre-conv, encoder 1-6, centre), scaled by ``width``, at least 4 each."""
        return tuple(max(4, int(round(c * self.width))) for c in RESUNET30_CHANNELS)
