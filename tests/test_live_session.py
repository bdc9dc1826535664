"""The live session owns its threads: start/stop cycles on JACK leave nothing behind."""

import gc
import threading
import time
import weakref

from models.fast_path import optimize_for_inference
from models.loading import load_separation_net
from models.resunet import ResUNet30
from models.separator import Separator, default_checkpoint
from realtime.live_session import ADAPT_AFTER_S, RECOVER_AFTER_S, LiveSession, StreamChoice
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
    assert session.status().start_error == session.start_error and not session.running


def test_a_model_load_is_owned_one_at_a_time_and_close_waits_for_it():
    import pytest

    release = threading.Event()
    loaded = []

    def slow_load():  # a test double for a checkpoint that takes a while
        release.wait(10)
        loaded.append(True)
        return Separator.from_checkpoint(default_checkpoint())

    session = LiveSession(None, "none yet")
    session.load_model(lambda: Separator.from_checkpoint(default_checkpoint()), "first")
    session.close()  # the first load starts what lives as long as the process (tqdm's monitor)
    threads = threading.active_count()
    session.load_model(slow_load, "slow model")
    assert session.loading
    with pytest.raises(RuntimeError, match="another model is still loading"):
        session.load_model(slow_load, "second model")
    releaser = threading.Timer(0.3, release.set)
    releaser.start()
    session.close()  # waits for the load: nothing is left running
    releaser.join()
    assert loaded == [True] and not session.loading and session.model_name == "slow model"
    assert threading.active_count() == threads


def _wait_for(condition, timeout_s=15.0):
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.1)


class SlowNet(ResUNet30):
    """A test double: the bundled net, with ``delay_s`` added to every forward pass."""

    delay_s = 0.0

    def separate_with_spectra(self, mixture, film):
        time.sleep(self.delay_s)
        return super().separate_with_spectra(mixture, film)


def test_behind_is_a_state_that_says_what_to_do_and_ends_when_the_engine_keeps_up(jack):
    session, net = _slow_session()
    session.start(StreamChoice(rate_hz=RATE_HZ, hop_ms=200))
    try:
        _wait_for(lambda: not session.status().behind)  # a busy machine may be late at first
        status = session.status()
        assert status.audio == "separating" and status.warning is None, status
        net.delay_s = 0.6  # three hops' time per hop
        _wait_for(lambda: session.status().behind)
        status = session.status()
        assert status.audio == "behind: playing the dry input where late"
        assert "choose a hop of 400 ms or more" in status.warning
        net.delay_s = 0.0
        _wait_for(lambda: not session.status().behind)
        assert session.status().audio == "separating"  # the state ends once it keeps up again
    finally:
        session.stop()


def test_in_remove_mode_an_overloaded_engine_never_plays_back_what_it_removes(jack):
    """Noise in (below 16 kHz: what the model hears), "noise" removed: the output is quiet, and stays
    quiet while the engine is far behind (before, the callback played the dry input there: the noise
    came back at full level)."""
    import numpy as np

    from audio.files import resample
    from models.config import MODEL_SAMPLE_RATE_HZ
    from tests.live_audio import LoopbackTester

    session, net = _slow_session()
    session.set_controls(remove=True)
    session.set_query("white noise")
    session.start(StreamChoice(rate_hz=RATE_HZ, hop_ms=200))
    try:
        seconds = 12
        white = 0.1 * np.random.default_rng(0).standard_normal((1, seconds * MODEL_SAMPLE_RATE_HZ))
        noise = resample(white.astype(np.float32), MODEL_SAMPLE_RATE_HZ, RATE_HZ)[0]
        tester = LoopbackTester(noise)
        time.sleep(seconds / 2)
        net.delay_s = 0.6  # three hops' time per hop: most blocks are late from here on
        _wait_for(lambda: session.status().behind)
        assert session.status().audio == "behind: playing silence where late"
        recorded = tester.wait()
        dropouts = session.engine.stats.dropouts
    finally:
        session.stop()
    half = len(noise) // 2
    level_db = lambda part: 10 * np.log10((np.mean(recorded[part] ** 2) + 1e-12) / np.mean(noise[part] ** 2))
    assert dropouts > 100
    assert level_db(slice(RATE_HZ, half)) < -10  # on time: the noise is removed
    assert level_db(slice(half + RATE_HZ, None)) < -10  # behind: still removed, not the dry input


def _slow_session():
    bundled = Separator.from_checkpoint(default_checkpoint())
    plain = load_separation_net(default_checkpoint())
    slow = SlowNet(plain.config).eval()
    slow.load_state_dict(plain.state_dict())
    net = optimize_for_inference(slow)  # as fast as the bundled model, until slowed down
    return LiveSession(Separator(net, lambda: bundled.query_net), "slow double"), net


def test_with_the_hop_on_auto_an_overloaded_engine_raises_its_hop_says_so_and_lowers_it_once_the_load_passes(jack):
    session, net = _slow_session()
    session.start(StreamChoice(rate_hz=RATE_HZ))  # hop: auto
    try:
        first_hop_ms = session.status().hop_ms
        net.delay_s = 0.5
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (session.running and session.status().hop_ms >= 800 and not session.status().behind):
            session.keep_up()  # the window's timer calls it
            time.sleep(0.1)
        status = session.status()
        assert status.hop_ms == 800 > first_hop_ms  # in the app's steps, and no further than needed
        assert status.adaptation.startswith("the hop was raised from") and status.adaptation.endswith("to 800 ms to keep up")
        assert status.audio == "separating"
        net.delay_s = 0.0  # the load passes: the hop comes down a step, never below the one measured at start
        deadline = time.monotonic() + RECOVER_AFTER_S + 30
        while time.monotonic() < deadline and not (session.running and session.status().hop_ms < 800):
            session.keep_up()
            time.sleep(0.1)
        lowered_ms = max(first_hop_ms, 400)
        assert session.status().hop_ms == lowered_ms
        assert session.status().adaptation == f"the hop was lowered from 800 to {lowered_ms:.0f} ms: the load has passed"
    finally:
        session.stop()


def test_a_hop_the_user_chose_is_never_changed(jack):
    session, net = _slow_session()
    session.start(StreamChoice(rate_hz=RATE_HZ, hop_ms=200))
    try:
        net.delay_s = 0.6
        deadline = time.monotonic() + 2 * ADAPT_AFTER_S + 2
        while time.monotonic() < deadline:
            session.keep_up()
            time.sleep(0.1)
        status = session.status()
        assert status.hop_ms == 200 and status.behind and status.adaptation is None
    finally:
        session.stop()


def test_the_status_says_whether_the_model_knows_the_active_description(jack):
    session = LiveSession(Separator.from_checkpoint(default_checkpoint()), "bundled default")
    session.start(StreamChoice(rate_hz=RATE_HZ, hop_ms=200))
    try:
        assert session.status().query_match.known  # "speech", the default
        session.set_query("a dog barking")
        _wait_for(lambda: session.updater.active == "a dog barking")
        match = session.status().query_match
        assert (match.label, match.known) == ("siren", False)
    finally:
        session.stop()


def test_several_sounds_are_one_query_change_and_one_batched_condition(jack):
    from models.queries import parse_query

    session = LiveSession(Separator.from_checkpoint(default_checkpoint()), "bundled default")
    session.start(StreamChoice(rate_hz=RATE_HZ, hop_ms=200))
    try:
        encodings = session.updater.encodings
        session.set_query(parse_query("speech + beeps but not hum"))
        _wait_for(lambda: session.status().query == "speech + beeps but not hum")
        film, excluded = session.engine.separator.window_pass.condition
        assert next(iter(film.values())).shape[0] == 3 and excluded == 1  # three sounds, one pass
        assert session.updater.encodings == encodings + 1  # one change, encoded once
        hops = session.engine.stats.snapshot().hops
        _wait_for(lambda: session.engine.stats.snapshot().hops > hops + 2)
        # Still separating: a late hop on a loaded machine may say "behind", never "stopped".
        assert not session.status().audio.startswith("stopped") and session.engine.failure is None
    finally:
        session.stop()
