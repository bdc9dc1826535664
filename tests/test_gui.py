"""The desktop app, headless (Qt offscreen), driving the real engine through the JACK server."""

from pathlib import Path

import numpy as np
import pytest
from PyQt6.QtCore import QSettings
from PyQt6.QtWidgets import QLabel, QMessageBox

from audio.files import read_audio, resample
from models.clap import ClapQueryNet, load_roberta_tokenizer
from models.separator import Separator, default_checkpoint
from realtime.live_session import LiveSession
from testing.no_portaudio import can_hide_portaudio, without_portaudio
from tests.live_audio import RATE_HZ, LoopbackTester

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def _open_window(qtbot, tmp_path, monkeypatch, separator, name):
    from gui.main_window import MainWindow

    warnings = []
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # presets of this test only
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: warnings.append(args[2]))
    monkeypatch.setattr(QMessageBox, "critical", lambda *args: warnings.append(args[2]))
    session = LiveSession(separator, name)
    win = MainWindow(session, QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    win.resize(1100, 760)
    win.show()
    win.warnings = warnings
    return win


@pytest.fixture
def window(qtbot, jack, tmp_path, monkeypatch):
    win = _open_window(qtbot, tmp_path, monkeypatch, Separator.from_checkpoint(default_checkpoint()), "bundled default")
    yield win
    win.session.stop()


@pytest.fixture
def clap_window(qtbot, jack, tmp_path, monkeypatch, seeded_clap_encoder, tokenizer_dir):
    """The bundled separation net queried through a (seeded) CLAP encoder, which also hears clips."""
    bundled = Separator.from_checkpoint(default_checkpoint())
    separator = Separator(
        bundled.separation_net, lambda: ClapQueryNet(seeded_clap_encoder, load_roberta_tokenizer(tokenizer_dir))
    )
    win = _open_window(qtbot, tmp_path, monkeypatch, separator, "bundled net + CLAP")
    yield win
    win.session.stop()


EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "speech_and_beeps.wav"


def _play_and_record(window, qtbot, seconds):
    clip = read_audio(EXAMPLE)
    example = resample(clip.samples, clip.sample_rate_hz, RATE_HZ)[0]
    signal = np.resize(example, int(seconds * RATE_HZ)).astype(np.float32)
    tester = LoopbackTester(signal)
    qtbot.waitUntil(lambda: tester.position >= len(signal), timeout=int(seconds * 1000) + 5000)
    return tester.wait()


def _start(window, qtbot):
    window.toggle_running()
    qtbot.waitUntil(lambda: window.session.phase != "starting", timeout=60_000)
    assert window.session.running, (window.session.start_error, window.warnings)


def test_the_window_keeps_drawing_while_start_measures_the_machine(window, qtbot):
    """With the hop on auto, Start encodes the query and times the model: seconds, off the GUI thread."""
    import threading

    window.hop.setCurrentIndex(window.hop.findData(None))
    phases = []
    window.timer.timeout.connect(lambda: phases.append(window.session.phase))
    threads = threading.active_count()
    window.toggle_running()
    assert window.start_button.text() == "Starting…" and not window.start_button.isEnabled()
    qtbot.waitUntil(lambda: window.session.running, timeout=60_000)
    assert phases.count("starting") >= 5  # the view timer fired all along
    qtbot.waitUntil(lambda: window.start_button.text() == "Stop" and window.start_button.isEnabled(), timeout=2000)
    window.toggle_running()
    assert window.status.text() == "stopped" and window.session.engine is None
    assert threading.active_count() <= threads + 1  # PortAudio's own thread at most


def test_a_start_that_fails_is_a_state_and_leaves_nothing_running(window, qtbot):
    import threading

    threads = threading.active_count()
    window.output_device.addItem("999: no such device", 999)
    window.output_device.setCurrentIndex(window.output_device.count() - 1)
    window.hop.setCurrentIndex(window.hop.findData(400))
    window.toggle_running()
    qtbot.waitUntil(lambda: window.session.phase == "failed", timeout=30_000)
    qtbot.waitUntil(lambda: bool(window.warnings), timeout=2000)
    assert window.status.text().startswith("could not start:") and window.start_button.text() == "Start"
    assert not window.session.running and window.session.engine is None
    assert threading.active_count() <= threads  # the engine's worker and the query helper were stopped


def test_something_answers_the_launch_before_torch_is_imported():
    import os
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from PyQt6.QtWidgets import QApplication\n"
        "from gui.app import starting_screen\n"
        "app = QApplication(sys.argv[:1])\n"
        "print(starting_screen().isVisible(), 'torch' in sys.modules)\n"
    )
    env = os.environ | {"QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.split() == ["True", "False"]


def test_the_window_shows_at_once_and_the_model_loads_behind_it(qtbot, tmp_path):
    from gui.app import open_window

    window = open_window(None, QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    assert window.isVisible() and window.session.separator is None
    qtbot.waitUntil(lambda: "loading bundled default" in window.model_label.text(), timeout=2000)
    qtbot.waitUntil(lambda: window.model_label.text() == "Model: bundled default", timeout=60_000)
    assert window.session.separator is not None


def test_query_typing_controls_and_views(window, qtbot, tmp_path):
    qtbot.waitUntil(lambda: window.input_device.count() > 0, timeout=2000)
    window.hop.setCurrentIndex(window.hop.findData(400))  # keeps up even on a busy 2-core machine
    _start(window, qtbot)
    assert window.session.running, window.warnings
    assert window.hop.currentText() == f"hop 400 ms · latency {window.session.engine.latency_ms:.0f} ms"  # what the menu said it costs
    assert window.hop.isEnabled()
    updater = window.session.updater
    assert window.query.currentText() == "speech"  # the box shows what is separated from the start
    window.query.lineEdit().clear()
    qtbot.keyClicks(window.query.lineEdit(), "a voice speaking")
    qtbot.wait(200)
    assert updater.encodings == 0  # still typing: nothing encoded yet
    qtbot.waitUntil(lambda: updater.active == "a voice speaking", timeout=5000)
    qtbot.wait(1000)
    assert updater.encodings == 1  # exactly one embedding once the text settled
    assert window.query_state.text().startswith("active: a voice speaking · like speech (")
    window.query.lineEdit().clear()  # an empty box is a state, not a silent default
    qtbot.waitUntil(lambda: window.query_state.text() == "empty box: still a voice speaking", timeout=2000)
    qtbot.keyClicks(window.query.lineEdit(), "a voice speaking")

    window.session.start_recording(tmp_path / "rec")
    qtbot.mouseClick(window.bypass, qtbot_button())
    _play_and_record(window, qtbot, 2.0)
    output, recorded_input = _recorded(window, tmp_path)
    steady = slice(len(output) // 2, None)  # after the gain ramp
    np.testing.assert_allclose(output[steady], recorded_input[steady], atol=1e-6)  # bypass: the dry input
    newest = slice(-20, None)  # what you hear is the input while bypassed
    np.testing.assert_allclose(window.output_view.data[:, newest], window.input_view.data[:, newest], atol=1e-4)

    paths = window.session.start_recording(tmp_path / "rec")
    qtbot.waitUntil(lambda: window.recording.text() == f"● REC 0:00 → {paths[0]}", timeout=2000)  # where it goes
    window.bypass.setChecked(False)
    window.remove.setChecked(True)
    _play_and_record(window, qtbot, 4.0)
    output, recorded_input = _recorded(window, tmp_path)
    assert len(output) > RATE_HZ, (len(output), window.session.status())
    steady = slice(len(output) // 2, None)
    assert np.abs(output[steady] - recorded_input[steady]).max() > 1e-3, (window.session.status(), window.session.engine.controls, window.session.engine.separator.infer)  # remove changes the sound
    assert window.session.engine.stats.dropouts == 0
    assert window.session.engine.controls.remove
    assert np.abs(window.output_view.data[:, newest] - window.input_view.data[:, newest]).max() > 1.0  # removed, in dB
    assert len(list((tmp_path / "rec").glob("lass-*-output.wav"))) == 2  # the second did not replace the first

    qtbot.wait(300)
    shot = window.grab()
    ARTIFACTS.mkdir(exist_ok=True)
    shot.save(str(ARTIFACTS / "gui.png"))
    image = shot.toImage()
    assert not image.isNull()
    data = window.mask_view.data
    assert np.ptp(data) > 0.01 and np.ptp(window.input_view.data) > 1.0  # views are drawn, not blank


def _recorded(window, tmp_path):
    import soundfile as sf

    paths = window.session.stop_recording()
    return [sf.read(p, dtype="float32")[0] for p in paths]


def qtbot_button():
    from PyQt6.QtCore import Qt

    return Qt.MouseButton.LeftButton


def test_chips_and_presets_change_the_engines_condition_once_per_change(window, qtbot, monkeypatch):
    from PyQt6.QtWidgets import QInputDialog

    from models.queries import QuerySet
    from realtime.presets import Preset, load_presets, presets_path, save_preset

    _start(window, qtbot)
    engine, updater = window.session.engine, window.session.updater
    changes = []
    set_condition = engine.set_condition
    monkeypatch.setattr(engine, "set_condition", lambda film, excluded=0: (changes.append(excluded), set_condition(film, excluded)))

    def settles(query, excluded, remove):
        qtbot.waitUntil(lambda: updater.state == "active" and updater.active == query, timeout=10_000)
        qtbot.wait(300)  # nothing more follows
        rows = next(iter(engine.separator.film.values())).shape[0]
        count = len(query.queries) if isinstance(query, QuerySet) else 1
        assert (rows, engine.separator.window_pass.condition[1], window.remove.isChecked()) == (count, excluded, remove)

    window.query.setEditText("beeps")
    qtbot.mouseClick(window.add_chip, qtbot_button())
    settles("beeps", 0, False)
    window.query.setEditText("a hum")
    qtbot.mouseClick(window.add_chip, qtbot_button())
    settles(QuerySet(("beeps", "a hum")), 0, False)
    assert window.query.currentText() == "" and [w.findChild(QLabel).text() for w in window.chips.chip_widgets()] == ["beeps", "a hum"]
    window.chips.toggle_at(1)  # "a hum": isolate -> remove, i.e. left out of the beeps
    settles(QuerySet(("beeps",), ("a hum",)), 1, False)
    window.chips.remove_at(0)  # only "a hum" is left, removed: remove mode
    settles("a hum", 0, True)
    monkeypatch.setattr(QInputDialog, "getText", lambda *args: ("hum out", True))
    window._save_preset()
    assert load_presets()["hum out"] == Preset("hum out", "a hum", "remove", 1.0)
    save_preset(Preset("two", "speech + beeps but not a hum", "isolate", 0.5))
    window._fill_presets()
    window.presets.activated.emit(window.presets.findText("two"))
    settles(QuerySet(("speech", "beeps"), ("a hum",)), 1, False)
    assert window.wet.value() == 50 and len(window.chips.chips) == 3
    assert changes == [0, 0, 1, 0, 1], changes  # one per chip added, switched, dropped, and the preset
    presets_path().write_text("{damaged")
    window._save_preset()  # said, and the damaged file is kept as it is
    assert "is damaged" in window.warnings[-1] and presets_path().read_text() == "{damaged"


def test_the_virtual_mic_switch_publishes_the_output_while_running(window, qtbot):
    import jack

    window.virtual_mic.setChecked(True)
    window.virtual_mic_name.setText("lass-app-mic")
    _start(window, qtbot)
    other = jack.Client("lass-app-listener", no_start_server=True)
    try:
        assert [p.name for p in other.get_ports("lass-app-mic:", is_output=True)] == ["lass-app-mic:capture_1"]
        qtbot.waitUntil(lambda: "virtual mic lass-app-mic:capture_1" in window.status.text(), timeout=5000)
        window.toggle_running()
        qtbot.waitUntil(lambda: not window.session.running, timeout=10_000)
        assert other.get_ports("lass-app-mic:") == []  # stopping removed it
    finally:
        other.close()


def test_an_overloaded_engine_makes_the_window_raise_its_hop_and_lower_it_once_released(qtbot, jack, tmp_path, monkeypatch):
    from tests.test_live_session import _slow_session

    session, net = _slow_session()  # the bundled net, slowed by a test double on demand
    window = _open_window(qtbot, tmp_path, monkeypatch, session.separator, session.model_name)
    try:
        window.remove.setChecked(True)
        _start(window, qtbot)  # hop: auto
        first_hop_ms = window.session.status().hop_ms
        net.delay_s = 0.5
        qtbot.waitUntil(lambda: "behind: playing silence where late" in window.status.text(), timeout=20_000)
        qtbot.waitUntil(lambda: window.warning.text().startswith("the hop was raised from"), timeout=60_000)
        assert window.session.status().hop_ms > first_hop_ms and window.session.running
        net.delay_s = 0.0  # released: the window's timer brings the hop down again
        qtbot.waitUntil(lambda: window.warning.text().startswith("the hop was lowered from"), timeout=60_000)
        qtbot.waitUntil(lambda: window.session.running, timeout=30_000)
        assert window.session.status().hop_ms >= first_hop_ms
    finally:
        window.session.stop()


def test_bad_checkpoint_shows_an_error_and_the_model_keeps_running(window, qtbot, tmp_path):
    _start(window, qtbot)
    bad = tmp_path / "broken.ckpt"
    bad.write_bytes(b"not a checkpoint")
    callbacks = window.session.engine.stats.callbacks
    window.load_model(bad)
    qtbot.waitUntil(lambda: bool(window.warnings), timeout=5000)
    assert "broken.ckpt" in window.warnings[0]
    assert window.session.model_name == "bundled default" and window.session.running
    qtbot.wait(300)
    assert window.session.engine.stats.callbacks > callbacks  # still playing


def _choose_example_clip(window, monkeypatch):
    from PyQt6.QtWidgets import QFileDialog

    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args: (str(EXAMPLE), "Audio"))
    window.example_clip.click()


def test_example_clip_query_replaces_the_text_query(clap_window, qtbot, monkeypatch):
    window = clap_window
    window.hop.setCurrentIndex(window.hop.findData(400))
    _start(window, qtbot)
    assert window.session.running, window.warnings
    updater, engine = window.session.updater, window.session.engine
    film_before = engine.separator.film
    _choose_example_clip(window, monkeypatch)
    qtbot.waitUntil(lambda: updater.active == EXAMPLE, timeout=20000)
    assert updater.encodings == 1
    assert engine.separator.film is not film_before  # the engine now runs on the clip's condition
    qtbot.wait(200)
    assert window.query_state.text() == f"active: example clip {EXAMPLE.name}"
    assert window.session.query == EXAMPLE and window.session.running


def test_example_clip_with_a_text_only_model_says_what_to_do(window, qtbot, monkeypatch):
    window.hop.setCurrentIndex(window.hop.findData(400))
    _start(window, qtbot)
    updater = window.session.updater
    _choose_example_clip(window, monkeypatch)
    qtbot.waitUntil(lambda: updater.state == "error", timeout=5000)
    qtbot.wait(200)
    assert "official AudioSep checkpoint" in window.warning.text()
    assert window.query_state.text() == "failed"
    assert updater.active == "speech" and window.session.query == "speech"  # the previous query keeps running
    callbacks = window.session.engine.stats.callbacks
    qtbot.wait(300)
    assert window.session.engine.stats.callbacks > callbacks


def test_without_the_gui_extra_the_app_says_what_to_install():
    """Run as if PyQt6 and pyqtgraph were not installed: the interpreter's site-packages are left out."""
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "sys.path = [p for p in sys.path if 'site-packages' not in p]\n"
        "from gui.app import main\n"
        "sys.exit(main([]))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("lass-gui: error: the app needs PyQt6 and pyqtgraph") and "Traceback" not in done.stderr
    assert "pip install 'lass-live[gui]'" in done.stderr


def test_missing_window_libraries_are_named_with_what_to_install():
    from gui.app import unresolved_libraries, window_libraries_advice

    listing = (
        "\tlibQt6XcbQpa.so.6 => /opt/qt/lib/libQt6XcbQpa.so.6 (0x7f)\n"
        "\tlibxcb-icccm.so.4 => not found\n"
        "\tlibxcb-keysyms.so.1 => not found\n"
        "\tlibxcb-icccm.so.4 => not found\n"
    )
    missing = unresolved_libraries(listing)
    assert missing == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    advice = window_libraries_advice(["libxcb-cursor.so.0", *missing])
    assert "sudo apt install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1" in advice
    assert "sudo dnf install xcb-util-cursor xcb-util-wm xcb-util-keysyms" in advice


def test_a_level_change_is_drawn_with_the_next_repaint_never_on_the_spot(qtbot):
    """The meters change with every view refresh: drawing there would hold the interpreter lock the
    separation worker needs (Qt's progress bar repainted inside setValue)."""
    from PyQt6.QtCore import QEvent, QObject

    from gui.meters import LevelMeter

    meter = LevelMeter("in")
    qtbot.addWidget(meter)
    meter.show()
    qtbot.waitExposed(meter)
    qtbot.wait(50)

    class Paints(QObject):
        count = 0

        def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt's name)
            Paints.count += event.type() == QEvent.Type.Paint
            return False

    paints = Paints()
    meter.bar.installEventFilter(paints)
    meter.show_peak(0.5, now_s=1.0)
    assert Paints.count == 0 and meter.bar.value() == -6
    qtbot.waitUntil(lambda: Paints.count > 0)  # drawn with the next repaint


def test_level_meter_holds_its_peak_and_lights_on_clipping(qtbot):
    from gui.meters import CLIP_HOLD_S, PEAK_HOLD_S, LevelMeter

    meter = LevelMeter("out")
    qtbot.addWidget(meter)
    meter.show_peak(0.5, now_s=10.0)
    assert meter.reading.text() == "-6.0 dBFS" and not meter.clipping
    meter.show_peak(0.1, now_s=10.5)
    assert meter.reading.text() == "-6.0 dBFS" and meter.bar.value() == -20  # the number holds, the bar follows
    meter.show_peak(0.1, now_s=10.0 + PEAK_HOLD_S + 0.1)
    assert meter.reading.text() == "-20.0 dBFS"
    meter.show_peak(1.0, now_s=20.0)
    assert meter.clipping and meter.reading.text() == "0.0 dBFS"
    meter.show_peak(0.1, now_s=20.0 + CLIP_HOLD_S - 0.1)
    assert meter.clipping  # still lit a while after
    meter.show_peak(0.1, now_s=20.0 + CLIP_HOLD_S + 0.1)
    assert not meter.clipping
    meter.reset()
    assert meter.reading.text() == "-inf dBFS" and meter.bar.value() == -60


NO_AUDIO_PROBE = (
    "import sys\n"
    "from PyQt6.QtCore import QSettings\n"
    "from PyQt6.QtWidgets import QApplication\n"
    "from gui.main_window import MainWindow\n"
    "from models.separator import Separator, default_checkpoint\n"
    "from realtime.live_session import LiveSession\n"
    "app = QApplication(sys.argv[:1])\n"
    "window = MainWindow(LiveSession(Separator.from_checkpoint(default_checkpoint()), 'bundled'),"
    " QSettings(sys.argv[1], QSettings.Format.IniFormat))\n"
    "window.refresh()\n"
    "print(window.status.text())\n"
    "print(window.warning.text())\n"
    "enabled = [window.start_button.isEnabled()]\n"
    "window.virtual_mic.setChecked(True)\n"
    "enabled.append(window.start_button.isEnabled())\n"
    "window.virtual_mic.setChecked(False)\n"
    "print(*enabled, window.start_button.isEnabled())\n"
    "window.hop.setCurrentIndex(window.hop.findData(400))\n"
    "window.toggle_running()\n"
    "window.session.stop()\n"
    "print(window.session.phase, window.session.start_error)\n"
)


def _probe_window(tmp_path, env, wrap=lambda command: command):
    """The app's window in a process of its own: its status and warning lines, whether Start is enabled
    (as it opens, with Virtual mic ticked, and unticked again), then the result of starting anyway (the
    shortcut)."""
    import subprocess
    import sys

    command = wrap([sys.executable, "-c", NO_AUDIO_PROBE, str(tmp_path / "s.ini")])
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 4, result.stderr[-2000:]
    return lines


def test_with_no_audio_server_the_app_says_what_to_start(tmp_path):
    """No server to reach (and no sound card): the window says so, Start is enabled only where the output
    can go to a virtual microphone, and starting anyway fails with the same words, before it measures
    the machine."""
    import os

    env = os.environ | {"QT_QPA_PLATFORM": "offscreen", "JACK_DEFAULT_SERVER": "no-such-server", "JACK_NO_START_SERVER": "1"}
    lines = _probe_window(tmp_path, env)
    assert lines[0] == "no audio devices"
    assert lines[1].startswith("no audio devices: is an audio server running? Start PipeWire, PulseAudio or JACK")
    assert lines[2] == "False True False"
    assert lines[3].startswith("failed no audio devices: is an audio server running?")


@pytest.mark.skipif(not can_hide_portaudio(), reason="hiding the PortAudio library needs root and unshare")
def test_without_portaudio_the_app_opens_and_says_what_to_install(tmp_path):
    import os

    lines = _probe_window(tmp_path, os.environ | {"QT_QPA_PLATFORM": "offscreen"}, without_portaudio)
    assert lines[0] == "no audio devices"
    assert lines[1].startswith("the PortAudio library is not installed") and "apt-get install libportaudio2" in lines[1]
    assert lines[2] == "False True False"
    assert lines[3].startswith("failed the PortAudio library is not installed")


def test_the_low_latency_choice_runs_the_low_latency_model_and_its_views(window, qtbot):
    """The latency choices name the latency and what each costs; the 30 ms one restarts the stream on
    the streaming-native model, whose 4 ms frames fill the same views."""
    from gui.main_window import LOWLATENCY

    _start(window, qtbot)
    texts = [window.latency_choice.itemText(i) for i in range(window.latency_choice.count())]
    assert any(text.startswith("30 ms") and "dB less" in text for text in texts)
    window.load_bundled(LOWLATENCY)
    qtbot.waitUntil(lambda: window.session.model_name == "bundled low-latency" and window.session.phase == "running", timeout=60_000)
    drawn = window.frames_drawn
    qtbot.waitUntil(lambda: window.frames_drawn > drawn + 10, timeout=10_000)
    status = window.session.status()
    assert status.hop_ms == 4 and status.latency_ms < 60
    assert np.ptp(window.mask_view.data[:, -20:]) > 0.01  # the newest columns hold the new model's masks
    assert not window.hop.isEnabled()  # its hop is its own


def test_cancelling_the_file_dialog_keeps_the_file_already_chosen(window, monkeypatch):
    from PyQt6.QtWidgets import QFileDialog

    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args: (str(EXAMPLE), "Audio"))
    window._choose_input_file()
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args: ("", ""))
    window._choose_input_file()
    assert window.input_file == EXAMPLE and str(EXAMPLE) in window.input_file_button.toolTip()


def test_long_statuses_and_saved_paths_never_widen_the_window(window, qtbot):
    """A saved recording's two full paths, a long warning, status and model name: the window asks for no
    more width than before (before, "saved <two paths>" widened it to 1593 px on a 1400 px screen),
    each text is whole in its tooltip, and the sliders keep a usable width. The window fits a 1280 px
    screen from the start."""
    from gui.main_window import SLIDER_MIN_WIDTH_PX

    before = window.minimumSizeHint().width()
    long_path = "/home/someone/" + "a-long-folder-name/" * 12 + "2026-12-06 21-00-00 output.wav"
    window.recording.setText(f"saved {long_path}, {long_path.replace('output', 'input')}")
    window.warning.setText("this machine is not keeping up " * 10)
    window.status.setText("separating · " * 40)
    window.query_state.setText("active: a dog barking · unknown to this model (nearest: siren, 0.49) " * 3)
    window.model_label.setText("Model: " + "very-long-checkpoint-name-" * 10 + ".safetensors")
    qtbot.wait(50)
    assert window.minimumSizeHint().width() == before <= 1200  # with its frame, within 1280 px
    assert window.width() == 1100
    assert window.recording.toolTip().startswith("saved /home/someone/") and window.recording.text().endswith("input.wav")
    assert min(window.wet.width(), window.gain.width()) >= SLIDER_MIN_WIDTH_PX


def test_ctrl_space_starts_and_stops_whatever_has_the_focus(window, qtbot, monkeypatch):
    """With "Input file…" or the query box focused, Ctrl+Space starts and stops; the button is not
    pressed and no space is typed (a user saw the button's file dialog open instead, on a desktop;
    offscreen, the window shortcut this replaces also passed)."""
    from PyQt6.QtCore import Qt
    from PyQt6.QtWidgets import QFileDialog

    dialogs = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args: dialogs.append(args) or ("", ""))
    window.hop.setCurrentIndex(window.hop.findData(400))
    for widget in (window.input_file_button, window.query.lineEdit()):
        widget.setFocus()
        qtbot.keyClick(widget, Qt.Key.Key_Space, Qt.KeyboardModifier.ControlModifier)
        qtbot.waitUntil(lambda: window.session.phase == "running", timeout=60_000)
        qtbot.keyClick(widget, Qt.Key.Key_Space, Qt.KeyboardModifier.ControlModifier)
        qtbot.waitUntil(lambda: window.session.phase == "stopped", timeout=10_000)
    assert dialogs == []
    assert window.query.currentText() == "speech"  # no space typed into the query box either
