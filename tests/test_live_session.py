"""The live session owns its threads: start/stop cycles on JACK leave nothing behind."""

import gc
import threading
import weakref

from models.separator import Separator, default_checkpoint
from realtime.live_session import LiveSession, StreamChoice
from tests.live_audio import RATE_HZ


def test_start_stop_cycles_leave_no_threads_and_free_every_engine(jack):
    session = LiveSession(Separator.from_checkpoint(default_checkpoint()), "bundled default")
    choice = StreamChoice(rate_hz=RATE_HZ, hop_ms=100)
    session.start(choice)  # the first cycle starts what lives as long as the process (PortAudio, torch)
    session.stop()
    threads = threading.active_count()
    engines = weakref.WeakSet()
    for cycle in range(20):
        session.start(choice)
        engines.add(session.engine)
        session.set_query("beeps" if cycle % 2 else "a man speaking")  # the updater's thread is busy
        session.stop()
        assert session.engine is None and session.updater is None
    gc.collect()
    assert threading.active_count() == threads
    assert len(engines) == 0


def test_recordings_never_replace_each_other(tmp_path):
    from datetime import datetime

    from realtime.recorder import recording_paths

    started = datetime(2026, 12, 1, 9, 30, 5)
    first = recording_paths(tmp_path, started)
    assert [p.name for p in first] == ["lass-2026-12-01_09-30-05-output.wav", "lass-2026-12-01_09-30-05-input.wav"]
    first[1].touch()  # only the input of that second exists: both names move on together
    assert [p.name for p in recording_paths(tmp_path, started)] == [
        "lass-2026-12-01_09-30-05-2-output.wav", "lass-2026-12-01_09-30-05-2-input.wav"
    ]


def test_a_start_before_any_model_is_a_failed_state_that_says_why():
    session = LiveSession(None, "none yet")
    session.start_in_background(StreamChoice(hop_ms=100))
    session.stop()  # waits for the start under way
    assert session.phase == "failed" and "start again once a model has loaded" in session.start_error
    assert session.status()["start_error"] == session.start_error and not session.running
