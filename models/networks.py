"""The two separation networks a bundle can hold, as one type: the ResUNet30 (best quality, streamed
over overlapping windows) and the streaming-native low-latency network."""

from __future__ import annotations

from models.lowlatency import LowLatencyNet
from models.resunet import ResUNet30

SeparationNet = ResUNet30 | LowLatencyNet
