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
