"""Seeded melodies as Standard MIDI Files, to play sampled instruments through a soundfont.

A melody is a line of notes in an instrument's range, with now and then a second voice (a third or
a fifth above), at 120 beats per minute; the same seed always writes the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TICKS_PER_BEAT = 480
MICROSECONDS_PER_BEAT = 500_000  # 120 beats per minute
BEAT_CHOICES = (0.25, 0.5, 0.5, 1.0, 1.0, 1.5, 2.0)
SCALE_STEPS = (0, 2, 4, 5, 7, 9, 11)  # major scale
DYAD_PROBABILITY = 0.25


@dataclass(frozen=True)
class Note:
    start_beats: float
    length_beats: float
    pitch: int  # MIDI note number
    velocity: int


def melody(rng: np.random.Generator, low: int, high: int, beats: float) -> list[Note]:
    """Notes filling ``beats`` beats, pitches in ``[low, high]`` on a random major scale."""
    key = int(rng.integers(12))
    pitches = [p for p in range(low, high + 1) if (p - key) % 12 in SCALE_STEPS]
    notes, now, index = [], 0.0, int(rng.integers(len(pitches)))
    while now < beats:
        length = float(rng.choice(BEAT_CHOICES))
        index = int(np.clip(index + rng.integers(-3, 4), 0, len(pitches) - 1))
        velocity = int(rng.integers(60, 110))
        notes.append(Note(now, length, pitches[index], velocity))
        if rng.random() < DYAD_PROBABILITY:
            upper = index + int(rng.choice([2, 4]))  # a third or a fifth above, on the scale
            if upper < len(pitches):
                notes.append(Note(now, length, pitches[upper], velocity - 10))
        now += length
    return notes


def standard_midi_file(notes: list[Note], program: int, channel: int = 0) -> bytes:
    """A format-0 MIDI file playing ``notes`` with General MIDI ``program`` (0-127) on ``channel``."""
    events = [(0, bytes([0xFF, 0x51, 0x03]) + MICROSECONDS_PER_BEAT.to_bytes(3, "big")), (0, bytes([0xC0 | channel, program]))]
    for note in notes:
        on, off = round(note.start_beats * TICKS_PER_BEAT), round((note.start_beats + note.length_beats) * TICKS_PER_BEAT)
        events.append((on, bytes([0x90 | channel, note.pitch, note.velocity])))
        events.append((off, bytes([0x80 | channel, note.pitch, 0])))
    events.sort(key=lambda event: (event[0], event[1][0] & 0xF0 == 0x90))  # offs before ons at one tick
    track, last = bytearray(), 0
    for tick, data in events:
        track += _variable_length(tick - last) + data
        last = tick
    track += _variable_length(0) + bytes([0xFF, 0x2F, 0x00])
    header = b"MThd" + (6).to_bytes(4, "big") + (0).to_bytes(2, "big") + (1).to_bytes(2, "big") + TICKS_PER_BEAT.to_bytes(2, "big")
    return header + b"MTrk" + len(track).to_bytes(4, "big") + bytes(track)


def _variable_length(value: int) -> bytes:
    """MIDI's variable-length quantity: 7 bits a byte, most significant first, high bit = more."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))
