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


def test_frames_of_4_ms_become_the_views_10_ms_columns():
    from gui.spectrogram import display_bins, display_columns

    frames = np.arange(5, dtype=np.float32)[:, None] * np.ones((1, 193), np.float32)  # 5 frames of 128 samples
    columns = display_columns(frames, 128)
    assert columns.shape == (2, 193) and list(columns[:, 0]) == [0.0, 2.0]  # the frames at 0 and 10 ms
    assert display_bins(columns).shape[-1] == display_bins(np.ones((1, 1025), np.float32)).shape[-1]
    np.testing.assert_array_equal(display_columns(frames, 320), frames)  # the ResUNet's frames are the columns
