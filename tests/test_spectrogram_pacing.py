"""The live views scroll at the display rate: a hop's frames are released at the pace they were recorded."""

import numpy as np

from gui.spectrogram import FRAME_S, ColumnPacer


def _hop(start: int, frames: int = 10) -> np.ndarray:
    return np.arange(start, start + frames, dtype=np.float32)[:, None]


def test_a_hop_is_spread_over_display_refreshes_in_order():
    pacer = ColumnPacer()
    pacer.add(_hop(0))
    released, counts, now = [], [], 0.0
    assert pacer.take(now) is None  # the clock starts
    for _ in range(4):  # 30 fps for one 100 ms hop
        now += 1 / 30
        due = pacer.take(now)
        counts.append(0 if due is None else len(due))
        released += [] if due is None else list(due[:, 0])
    assert released == list(range(10))
    assert max(counts) <= 4 and sum(c > 0 for c in counts) >= 3  # several small steps, not one jump


def test_no_burst_after_the_queue_ran_dry():
    pacer = ColumnPacer()
    pacer.take(0.0)
    assert pacer.take(1.0) is None  # a second with nothing to show saves no credit
    pacer.add(_hop(0))
    due = pacer.take(1.0 + FRAME_S)
    assert due is not None and len(due) == 1


def test_a_display_that_falls_behind_skips_ahead():
    pacer = ColumnPacer()
    pacer.take(0.0)
    for start in (0, 10, 20, 30):
        pacer.add(_hop(start))
    due = pacer.take(0.0)
    assert len(due) == 20 and due[0, 0] == 0  # oldest released at once, down to two hops of backlog
    assert len(pacer.pending) == 20 and pacer.pending[-1, 0] == 39
