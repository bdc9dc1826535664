"""The main window: pick devices, type what to hear, hear it live, see the spectrogram and the mask.

The window steers a :class:`realtime.live_session.LiveSession` and polls it on a timer; it never runs
model code and never waits on the engine. Settings persist with QSettings.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QSettings, Qt, QTimer
from PyQt6.QtGui import QKeySequence, QShortcut
from PyQt6.QtWidgets import (
    QButtonGroup, QCheckBox, QComboBox, QFileDialog, QGridLayout, QHBoxLayout, QInputDialog, QLabel, QLineEdit, QMainWindow,
    QMessageBox, QProgressBar, QPushButton, QRadioButton, QSizePolicy, QSlider, QVBoxLayout, QWidget,
)

from gui.chips import QueryChips, chips_query, query_chips
from gui.elided_label import ElidedLabel
from gui.meters import LevelMeter, dbfs
from gui.spectrogram import MIN_DB, ColumnPacer, SpectrogramView, display_bins, display_columns, display_db
from gui.start_stop_key import StartStopKey
from gui.view_rate import STRAINED_RTF, ViewRate
from models.queries import QuerySet, describe, parse_query
from models.separator import Separator, lowlatency_checkpoint, official_checkpoint
from realtime.assembly import hop_latency_ms
from realtime.audio_io import NO_DEVICES, list_devices
from realtime.errors import AudioDeviceError
from realtime.live_session import HOP_CHOICES_MS, LiveSession, SessionStatus, StreamChoice, describe_match
from realtime.presets import Preset, find_preset, load_presets, save_preset
from realtime.stats import measured_text, sound_share_text, timing_text

VIEW_FPS = 30
QUERY_SETTLE_MS = 700
RECENT_QUERIES = 12
RATES_HZ = (32_000, 44_100, 48_000)
QUERY_STATE_WIDTH_PX = 220
SLIDER_VALUE_WIDTH_PX = 70
SLIDER_MIN_WIDTH_PX = 90  # the dry/wet and gain sliders stay usable however long the query's state
RECORDING_MIN_WIDTH_PX = 160
MODEL_LABEL_MIN_WIDTH_PX = 140
DEVICE_NAME_CHARS, LATENCY_CHOICE_CHARS = 11, 30
INPUT_FILE_BUTTON, INPUT_FILE_NAME_WIDTH_PX = "Input file…", 120  # what a closed menu shows; its list shows the whole names
DEFAULT_VIRTUAL_MIC = "lass-live"
DEFAULT, LOWLATENCY = "default", "lowlatency"
# The latency setting: the bundled models by the latency each streams at and what it separates,
# from the benchmarks on this project's 2-core CPU. Latency from benchmarks/results/streaming_lowlatency.json
# (60 s paced at 48 kHz: the default at 500 ms with no dropout quiet, refused below 572 ms with one
# core busy; the low-latency model at 30 ms with no dropout quiet or with one core busy, and none in
# streaming_lowlatency_rerun3.json; sessions before, with more work per hop, 0 to 5); quality as
# SI-SDRi on the real held-out recordings (lowlatency_speed3_real.json against
# soup_real.json, the same mixtures), the low-latency model's cost said against the default.
BEST_QUALITY_REAL_DB, LOW_LATENCY_REAL_DB = 6.54, 5.86
LATENCY_CHOICES = (
    (f"about 500 ms: best quality ({BEST_QUALITY_REAL_DB:.1f} dB on real recordings)", DEFAULT),
    (f"30 ms: fast model, {BEST_QUALITY_REAL_DB - LOW_LATENCY_REAL_DB:.1f} dB less ({LOW_LATENCY_REAL_DB:.1f} dB)", LOWLATENCY),
)


def fit_to_width(combo: QComboBox, chars: int) -> None:
    """A menu whose closed width is ``chars`` characters whatever its items, and whose list is as wide
    as its longest item: long device or model names never widen the window."""
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(chars)
    combo.view().setTextElideMode(Qt.TextElideMode.ElideNone)
    combo.model().rowsInserted.connect(lambda *_: combo.view().setMinimumWidth(combo.view().sizeHintForColumn(0)))


class MainWindow(QMainWindow):
    def __init__(self, session: LiveSession, settings: QSettings | None = None) -> None:
        super().__init__()
        self.session = session
        self.settings = settings or QSettings("lass-live", "lass-live")
        self.setWindowTitle("lass-live — separate anything you describe")
        self._last_hop = -1
        self.pacer = ColumnPacer()
        self.frames_drawn = 0  # view updates drawn (what benchmarks/gui.py counts)
        self._shown_error: str | None = None
        self._shown_start_error: str | None = None
        self._loading_name: str | None = None
        # Statuses, warnings, model names and saved paths can be any length: they never widen the window.
        self.status = ElidedLabel("stopped")
        self.warning = ElidedLabel("")
        self.sound_share = ElidedLabel("")  # how much of the input the described sound takes: little means not found
        self.warning.setStyleSheet("color: #c0392b")
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addLayout(self._build_io_row())
        layout.addLayout(self._build_query_row())
        layout.addLayout(self._build_chips_row())
        layout.addLayout(self._build_mix_row())
        layout.addLayout(self._build_model_row())
        layout.addWidget(self._build_views(), stretch=1)
        layout.addWidget(self.status)
        layout.addWidget(self.sound_share)
        layout.addWidget(self.warning)
        self.setCentralWidget(central)
        self._shortcuts()
        self._restore()
        self._show_phase(self.session.status())  # e.g. "no audio devices" from the first paint
        self.debounce = QTimer(self, singleShot=True, interval=QUERY_SETTLE_MS, timeout=self._query_settled)
        self.timer = QTimer(self, interval=1000 // VIEW_FPS, timeout=self.refresh)
        self.view_rate = ViewRate(1000 // VIEW_FPS, time.thread_time(), time.monotonic())
        self.timer.start()

    # --- layout -----------------------------------------------------------------------
    def _build_io_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.input_device, self.output_device, self.rate = QComboBox(), QComboBox(), QComboBox()
        for combo in (self.input_device, self.output_device):
            fit_to_width(combo, DEVICE_NAME_CHARS)
        try:
            devices = list_devices()
            self.device_problem = None if devices else NO_DEVICES  # said in the warning line once the window is built
        except AudioDeviceError as error:  # no PortAudio: the window opens, says what to install, and plays nothing
            devices, self.device_problem = [], str(error)
        for device in devices:
            label = f"{device.index}: {device.name} ({device.default_rate_hz:.0f} Hz)"
            if device.max_input_channels:
                self.input_device.addItem(label, device.index)
            if device.max_output_channels:
                self.output_device.addItem(label, device.index)
        default_rates = [int(d.default_rate_hz) for d in devices if d.max_input_channels]
        for rate in sorted(set(RATES_HZ) | set(default_rates)):
            self.rate.addItem(f"{rate} Hz", rate)
        if default_rates:  # the device's own rate is the one that opens
            self.rate.setCurrentIndex(self.rate.findData(default_rates[0]))
        self.hop = QComboBox()
        self.hop.addItem("hop: auto", None)
        for hop_ms in HOP_CHOICES_MS:
            self.hop.addItem(f"hop {hop_ms} ms", hop_ms)
        self.rate.currentIndexChanged.connect(lambda _: self._label_hops())
        self._label_hops()
        self.input_file_button = QPushButton(INPUT_FILE_BUTTON, clicked=self._choose_input_file)
        self.input_file_button.setToolTip("play a file (looped) as the input instead of the microphone")
        self.input_file: Path | None = None
        self.start_button = QPushButton("Start", clicked=self.toggle_running)
        self.bypass = QCheckBox("Bypass", toggled=lambda on: self.session.set_controls(bypass=on))
        self.virtual_mic = QCheckBox("Virtual mic")
        self.virtual_mic.setToolTip("publish the output as a microphone other apps record from (JACK, or PipeWire with pipewire-jack), instead of playing it")
        self.virtual_mic.toggled.connect(lambda _: self._show_phase(self.session.status()))
        self.virtual_mic_name = QLineEdit(DEFAULT_VIRTUAL_MIC)
        self.virtual_mic_name.setMaximumWidth(110)
        for widget in (QLabel("In"), self.input_device, QLabel("Out"), self.output_device, self.rate, self.hop,
                       self.input_file_button, self.virtual_mic, self.virtual_mic_name, self.start_button, self.bypass):
            row.addWidget(widget)
        return row

    def _label_hops(self) -> None:
        """Each hop of the menu with the latency it gives at the chosen rate (the engine's formula)."""
        rate_hz = self.rate.currentData()
        for index in range(1, self.hop.count()):
            hop_ms = self.hop.itemData(index)
            self.hop.setItemText(index, f"hop {hop_ms} ms · latency {hop_latency_ms(hop_ms, rate_hz):.0f} ms" if rate_hz else f"hop {hop_ms} ms")

    def _build_query_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.query = QComboBox(editable=True)
        self.query.setMinimumWidth(260)
        self.query.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.query.lineEdit().setPlaceholderText("describe the sound, e.g. dog barking; several: speech + guitar, music but not the vocals")
        self.query.lineEdit().textEdited.connect(lambda _: self.debounce.start())
        self.query.activated.connect(lambda _: self._query_settled())
        self.query_state = ElidedLabel("", QUERY_STATE_WIDTH_PX)  # a longer state never shifts the controls
        self.add_chip = QPushButton("+ Add", clicked=self._add_chips)
        self.add_chip.setToolTip("keep this description as a chip, to separate several sounds at once")
        self.example_clip = QPushButton("Example clip…", clicked=self._choose_example_clip)
        self.example_clip.setToolTip("query with a recording of the sound instead of a description (CLAP models)")
        for widget in (QLabel("Query"), self.query, self.add_chip, self.example_clip, self.query_state):
            row.addWidget(widget)
        return row

    def _build_chips_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.chips = QueryChips()
        self.chips.changed.connect(self._chips_changed)
        row.addWidget(self.chips, stretch=1)
        return row

    def _build_mix_row(self) -> QHBoxLayout:
        """Isolate or remove, dry/wet and gain, and the presets that keep them with the sounds."""
        row = QHBoxLayout()
        self.isolate, self.remove = QRadioButton("Isolate"), QRadioButton("Remove")
        self.isolate.setChecked(True)
        modes = QButtonGroup(self)
        modes.addButton(self.isolate)
        modes.addButton(self.remove)
        self.remove.toggled.connect(lambda on: self.session.set_controls(remove=on))
        self.wet = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=100, value=100)
        self.wet_value = QLabel("")
        self.wet.valueChanged.connect(self._wet_changed)
        self.gain = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=200, value=100)
        self.gain_value = QLabel("")
        self.gain.valueChanged.connect(self._gain_changed)
        for label in (self.wet_value, self.gain_value):
            label.setMinimumWidth(SLIDER_VALUE_WIDTH_PX)
        for slider in (self.wet, self.gain):
            slider.setMinimumWidth(SLIDER_MIN_WIDTH_PX)
        self.presets = QComboBox()
        self.presets.setPlaceholderText("Presets")
        self.presets.activated.connect(lambda index: self._apply_preset(self.presets.itemText(index)))
        self._fill_presets()
        save = QPushButton("Save preset…", clicked=self._save_preset)
        save.setToolTip("save the sounds, the mode and the dry/wet mix under a name (also for lass stream --preset)")
        for widget in (self.isolate, self.remove, QLabel("Dry/wet"), self.wet, self.wet_value, QLabel("Gain"), self.gain, self.gain_value,
                       self.presets, save):
            row.addWidget(widget)
        self._wet_changed(self.wet.value())
        self._gain_changed(self.gain.value())
        return row

    def _add_chips(self) -> None:
        """The query box's description(s) become chips ("a + b but not c": three chips)."""
        text = self.query.currentText().strip()
        try:
            chips = query_chips(parse_query(text), self.remove.isChecked()) if text else None
        except ValueError:
            chips = None
        if chips is None:
            self.query_state.setText("type a description to add")
            return
        self.query.lineEdit().clear()
        self.chips.set_chips([*self.chips.chips, *(chip for chip in chips if chip not in self.chips.chips)])

    def _chips_changed(self) -> None:
        made = chips_query(self.chips.chips)
        if made is None:  # the last chip went: the query box speaks again
            self._query_settled()
            return
        query, remove = made
        self.remove.setChecked(remove)
        self.isolate.setChecked(not remove)
        if query != self.session.query:
            self.session.set_query(query)

    def _fill_presets(self) -> None:
        self.presets.clear()
        try:
            self.presets.addItems(sorted(load_presets()))
        except ValueError as error:
            self.warning.setText(str(error))

    def _apply_preset(self, name: str) -> None:
        try:
            preset = find_preset(name)
        except ValueError as error:
            QMessageBox.warning(self, "Preset not found", str(error))
            return
        self.wet.setValue(round(100 * preset.wet))
        chips = query_chips(parse_query(preset.query), preset.mode == "remove")
        if chips is not None:
            self.chips.set_chips(chips)
            return
        self.chips.set_chips([])
        self.remove.setChecked(preset.mode == "remove")
        self.query.setEditText(preset.query)
        self._query_settled()

    def _save_preset(self) -> None:
        query = self.session.query
        if isinstance(query, Path) or (isinstance(query, QuerySet) and not all(isinstance(q, str) for q in query.queries)):
            QMessageBox.information(self, "Cannot save", "Presets keep descriptions; an example clip or a saved condition cannot be one.")
            return
        name, ok = QInputDialog.getText(self, "Save preset", "Name:")
        if not ok or not name.strip():
            return
        mode = "remove" if self.remove.isChecked() else "isolate"
        try:
            save_preset(Preset(name.strip(), describe(query), mode, self.wet.value() / 100))
        except ValueError as error:  # a damaged or unwritable presets file: said, never overwritten
            QMessageBox.warning(self, "Preset not saved", str(error))
            return
        self._fill_presets()
        self.presets.setCurrentText(name.strip())

    def _wet_changed(self, percent: int) -> None:
        self.wet_value.setText(f"{percent} % wet")
        self.session.set_controls(wet=percent / 100)

    def _gain_changed(self, percent: int) -> None:
        self.gain_value.setText(f"{dbfs(percent / 100):+.1f} dB")
        self.session.set_controls(output_gain=percent / 100)

    def _build_model_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.model_label = ElidedLabel(f"Model: {self.session.model_name}", MODEL_LABEL_MIN_WIDTH_PX, Qt.TextElideMode.ElideMiddle)
        self.loading = QProgressBar(minimum=0, maximum=0, visible=False)
        row.addWidget(self.model_label)
        self.latency_choice = QComboBox(
            toolTip="the latency the stream reaches on a 2-core CPU, and what it costs: the bundled best-quality model "
            "streams in overlapping windows, the fast one frame by frame (SI-SDRi on held-out real recordings)"
        )
        for text, checkpoint in LATENCY_CHOICES:
            self.latency_choice.addItem(text, checkpoint)
        fit_to_width(self.latency_choice, LATENCY_CHOICE_CHARS)
        self.latency_choice.activated.connect(lambda index: self.load_bundled(self.latency_choice.itemData(index)))
        row.addWidget(QLabel("Latency"))
        row.addWidget(self.latency_choice)
        row.addWidget(QPushButton("Official checkpoint…", clicked=self._choose_checkpoint))
        row.addWidget(QPushButton("Download official", clicked=lambda: self._load(lambda: Separator.from_checkpoint(official_checkpoint()), "official (hub)")))
        row.addWidget(self.loading)
        self.record = QPushButton("Record", checkable=True, toggled=self._toggle_recording)
        self.recording = ElidedLabel("", RECORDING_MIN_WIDTH_PX, Qt.TextElideMode.ElideMiddle)  # where the recording goes, for how long
        self.recording.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        row.addWidget(self.record)
        row.addWidget(self.recording)
        return row

    def _build_views(self) -> QWidget:
        box = QWidget()
        grid = QGridLayout(box)
        self.graphics = graphics = pg.GraphicsLayoutWidget()
        self.input_view = SpectrogramView(graphics.addPlot(row=0, col=0), "input", (MIN_DB, 0), "viridis", "dB")
        self.mask_view = SpectrogramView(graphics.addPlot(row=1, col=0), "mask (the query's share)", (0, 1), "magma", "0..1")
        self.output_view = SpectrogramView(
            graphics.addPlot(row=2, col=0), "what you hear (mode, dry/wet and bypass applied)", (MIN_DB, 0), "viridis", "dB"
        )
        self.input_meter, self.output_meter = LevelMeter("in"), LevelMeter("out")
        grid.addWidget(graphics, 0, 0)
        grid.addWidget(self.input_meter, 0, 1)
        grid.addWidget(self.output_meter, 0, 2)
        return box

    def _shortcuts(self) -> None:
        self.start_stop_key = StartStopKey(self, self.toggle_running)  # Ctrl+Space, whatever has the focus
        QShortcut(QKeySequence("Ctrl+B"), self, activated=self.bypass.toggle)
        QShortcut(QKeySequence("Ctrl+L"), self, activated=lambda: self.query.setFocus())

    # --- actions ----------------------------------------------------------------------
    def toggle_running(self) -> None:
        """Start in the background (the window keeps drawing while the hop is measured), or stop."""
        if self.session.phase == "starting":
            return  # Start is disabled meanwhile; the shortcut changes nothing either
        if self.session.running:
            self.record.setChecked(False)  # a recording under way is saved, and said so
            self.session.stop()
        else:
            self.session.start_in_background(StreamChoice(
                self.input_device.currentData(), self.output_device.currentData(), self.rate.currentData(),
                input_file=self.input_file, hop_ms=self.hop.currentData(),
                virtual_mic=(self.virtual_mic_name.text().strip() or DEFAULT_VIRTUAL_MIC) if self.virtual_mic.isChecked() else None,
            ))
        self._show_phase(self.session.status())

    def _show_phase(self, status: SessionStatus) -> None:
        """The Start button and the status line follow the session's phase; a failed start is said once."""
        phase = status.phase
        self.start_button.setText({"starting": "Starting…", "running": "Stop"}.get(phase, "Start"))
        playable = phase == "running" or self.output_device.count() > 0 or self.virtual_mic.isChecked()
        self.start_button.setEnabled(phase != "starting" and playable)
        self.start_button.setToolTip("" if playable else "no device to play to: tick Virtual mic to publish the output instead")
        if phase == "starting":
            self.status.setText("starting: encoding the query and measuring this machine…")
        elif phase == "failed" and status.start_error != self._shown_start_error:
            self._shown_start_error = status.start_error
            self.status.setText(f"could not start: {status.start_error}")
            QMessageBox.critical(self, "Cannot start audio", f"{status.start_error}\n\nPick other devices or another sample rate.")
        elif phase == "stopped":
            self.status.setText("no audio devices" if self.device_problem else "stopped")
            self.warning.setText(self.device_problem or "")
            self.sound_share.setText("")
            self.input_meter.reset()
            self.output_meter.reset()

    def _query_settled(self) -> None:
        if self.chips.chips:  # the chips make the query; the box adds to them (+ Add)
            return
        text = self.query.currentText().strip()
        try:
            query = parse_query(text) if text else None  # "speech + guitar", "music but not the vocals"
        except ValueError:
            self.query_state.setText("incomplete: name a sound on each side of + and of 'but not'")
            return
        if query is not None and query != self.session.query:
            self.session.set_query(query)
            if self.query.findText(text) < 0:
                self.query.insertItem(0, text)
                while self.query.count() > RECENT_QUERIES:
                    self.query.removeItem(self.query.count() - 1)

    def _choose_example_clip(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Example clip of the sound", "", "Audio (*.wav *.flac *.ogg *.mp3)")
        if path:
            self.query.lineEdit().clear()
            self.session.set_query(Path(path))

    def load_model(self, checkpoint: Path | None) -> None:
        name = "bundled default" if checkpoint is None else checkpoint.name
        self._load(lambda: Separator.from_checkpoint(checkpoint), name)

    def load_bundled(self, which: str) -> None:
        """One of :data:`LATENCY_CHOICES`: the default, or the low-latency model."""
        if which == LOWLATENCY:
            self._load(lambda: Separator.from_checkpoint(lowlatency_checkpoint()), "bundled low-latency")
        else:
            self.load_model(None)

    def _load(self, load, name: str) -> None:
        if self.session.loading:
            QMessageBox.information(self, "A model is loading", f"{self._loading_name} is still loading; load {name} once it is ready.")
            return
        self._loading_name = name
        self.loading.setVisible(True)
        self.session.load_model(load, name)

    def _choose_checkpoint(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Official AudioSep checkpoint", "", "Checkpoints (*.ckpt *.pt *.safetensors)")
        if path:
            self.load_model(Path(path))

    def _choose_input_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Play a file as input", "", "Audio (*.wav *.flac *.ogg *.mp3)")
        if not path:
            return  # cancelled: the file already chosen stays
        self.input_file = Path(path)
        metrics = self.input_file_button.fontMetrics()  # a long name never widens the window
        self.input_file_button.setText(metrics.elidedText(self.input_file.name, Qt.TextElideMode.ElideMiddle, INPUT_FILE_NAME_WIDTH_PX))
        self.input_file_button.setToolTip(f"input: {self.input_file} (looped); click to choose another file")

    def _toggle_recording(self, on: bool) -> None:
        if on and self.session.running:
            folder = Path(self.settings.value("record_folder", str(Path.home() / "lass-recordings")))
            self.session.start_recording(folder)
        elif not on:
            paths = self.session.stop_recording()
            if paths:
                saved = "saved " + ", ".join(str(p) for p in paths)
                error = self.session.recording_error
                self.recording.setText(f"⚠ {error}; {saved}" if error else saved)
        else:
            self.record.setChecked(False)

    # --- the view timer ---------------------------------------------------------------
    def refresh(self) -> None:
        self.session.keep_up()
        status = self.session.status()
        strained = status.running and (status.behind or status.stats.rtf > STRAINED_RTF)
        self.timer.setInterval(self.view_rate.update(time.thread_time(), time.monotonic(), strained))  # what the machine can spare
        loading = f" · loading {self._loading_name}…" if self._loading_name else ""
        self.model_label.setText(f"Model: {status.model}{loading}")
        error = self.session.model_error
        if self._loading_name is not None and (status.model == self._loading_name or error):
            self._loading_name = None
            self.loading.setVisible(False)
        if error and error != self._shown_error:
            self._shown_error = error
            QMessageBox.warning(self, "Model not loaded", f"{error}\n\nThe previous model keeps running.")
        self._show_phase(status)
        own_hop = self.session.has_own_hop
        self.hop.setEnabled(not own_hop)
        self.hop.setToolTip("the low-latency model streams at its own hop" if own_hop else "a larger hop costs latency and keeps up on a slower machine")
        if not status.running:
            return
        if status.recording is not None and status.recording_error:
            self.record.setChecked(False)  # keeps what was written, and says why it stopped
        elif status.recording is not None:
            path, seconds = status.recording
            self.recording.setText(f"● REC {int(seconds) // 60}:{int(seconds) % 60:02d} → {path}")
        elif self.recording.text().startswith("●"):  # stopped without the button (by the session)
            self.recording.setText("")
        state = {"encoding": "encoding…", "active": "active", "error": "failed"}.get(status.query_state, "")
        if state != "active" or not status.query:
            self.query_state.setText(state)
        elif not self.query.currentText().strip() and not self.chips.chips and not isinstance(self.session.query, Path):
            self.query_state.setText(f"empty box: still {status.query}")  # never a silent default
        else:
            match = f" · {describe_match(status.query_match)}" if status.query_match else ""
            self.query_state.setText(f"active: {status.query}{match}")
        published = f" · virtual mic {status.virtual_mic}" if status.virtual_mic else ""
        self.status.setText(
            f"{status.audio}{published} · {status.model} on {status.device} · latency {status.latency_ms:.0f} ms "
            f"({measured_text(status.stats.measured_latency_ms)}) · {timing_text(status.stats)} · dropouts {status.stats.dropouts}"
        )
        self.sound_share.setText(sound_share_text(status.stats.sound_share))
        self.warning.setText(status.query_error or status.warning or status.adaptation or "")
        now_s = time.monotonic()
        self.input_meter.show_peak(status.input_peak, now_s)
        self.output_meter.show_peak(status.output_peak, now_s)
        frames = self.session.frames()
        if frames is not None and frames.hop_index != self._last_hop:
            self._last_hop = frames.hop_index
            dry, target = self.session.controls.gains()  # output = dry * input + target * separated
            heard = frames.input_magnitude * np.abs(dry + target * frames.mask)
            views = (display_db(frames.input_magnitude), display_bins(frames.mask), display_db(heard))
            self.pacer.add(display_columns(np.stack(views, axis=1), frames.frame_samples))
        due = self.pacer.take(now_s)
        if due is not None:
            for index, view in enumerate((self.input_view, self.mask_view, self.output_view)):
                view.push(due[:, index])
            self.frames_drawn += 1

    # --- settings ---------------------------------------------------------------------
    def _restore(self) -> None:
        s = self.settings
        for combo, key in ((self.input_device, "input_device"), (self.output_device, "output_device"), (self.rate, "rate")):
            index = combo.findText(str(s.value(key, "")))
            if index >= 0:
                combo.setCurrentIndex(index)
        hops = [str(self.hop.itemData(i)) for i in range(self.hop.count())]  # by value: the texts follow the rate
        if str(s.value("hop_ms", "")) in hops:
            self.hop.setCurrentIndex(hops.index(str(s.value("hop_ms"))))
        for text in s.value("recent_queries", []) or []:
            self.query.addItem(text)
        self.wet.setValue(int(s.value("wet", 100)))
        self.gain.setValue(int(s.value("gain", 100)))
        self.remove.setChecked(s.value("mode", "isolate") == "remove")
        self.query.setEditText(describe(self.session.query))  # the box shows what is separated, from the start

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self.start_stop_key.remove()
        s = self.settings
        s.setValue("input_device", self.input_device.currentText())
        s.setValue("output_device", self.output_device.currentText())
        s.setValue("rate", self.rate.currentText())
        s.setValue("hop_ms", str(self.hop.currentData()))
        s.setValue("recent_queries", [self.query.itemText(i) for i in range(self.query.count())])
        s.setValue("wet", self.wet.value())
        s.setValue("gain", self.gain.value())
        s.setValue("mode", "remove" if self.remove.isChecked() else "isolate")
        self.session.close()
        super().closeEvent(event)
