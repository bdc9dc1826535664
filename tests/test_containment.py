"""Containment: nothing written outside -o, no broken file saved as success, no failure called done.

Manifests cannot reach outside their folder or -o; huge or overflowing input is refused as NaN input
is; an output folder inside the inputs is refused; only whole outputs count as done; killed runs'
temporary files are cleared; realtime dropouts fail the run; a full disk is one line; malformed
manifests, presets, .npy files and checkpoints are one line with exit 2."""

import json
import os
import pickle
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from audio.files import write_audio
from audio.places import estimated_output_bytes, remove_stale_parts
from cli.main import main
from models.config import SeparationConfig
from models.errors import NonFiniteOutput
from models.separator import Separator
from realtime.engine import Engine, EngineSettings
from realtime.presets import Preset, find_preset, load_presets
from realtime.file_stream import stream_file
from tests.doubles import NanNet, SlowEngine

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def condition(tmp_path):
    c = np.random.default_rng(10).standard_normal(512).astype(np.float32)
    np.save(tmp_path / "c.npy", c / np.linalg.norm(c))
    return str(tmp_path / "c.npy")


def _noise(path, seconds=0.5, rate=32_000, channels=1, subtype="PCM_16", scale=0.1):
    x = (scale * np.random.default_rng(0).standard_normal((channels, int(seconds * rate)))).astype(np.float32)
    write_audio(path, x, rate, subtype)
    return path


def _files_below(folder):
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*") if p.is_file())


def _separate(inputs, out, bundle, condition, *extra):
    return main(["separate", *map(str, inputs), "--checkpoint", str(bundle), "--embedding", condition, "-o", str(out), *extra])


# --- 1. a manifest writes nowhere but -o, and reads nowhere but its folder -------------------------

@pytest.fixture
def work(tmp_path):
    """``tmp/a/b/`` holds a manifest's folder ``list/`` with one file; ``tmp/outside.wav`` lies outside it."""
    root = tmp_path / "a" / "b"
    _noise(root / "list" / "in.wav")
    _noise(tmp_path / "outside.wav")
    return root


@pytest.mark.parametrize("row, said", [
    ({"path": "in.wav", "output": "../../escape.wav"}, "is not a file inside -o"),
    ({"path": "in.wav", "output": "{tmp}/absolute-escape.wav"}, "is not a file inside -o"),
    ({"path": "in.wav", "output": "."}, "is not a file inside -o"),
    ({"path": "../../../outside.wav"}, "is outside the manifest's folder"),
    ({"path": "/etc/passwd"}, "is outside the manifest's folder"),
])
def test_a_manifest_row_that_reaches_outside_is_refused_by_its_number_before_any_work(work, small_bundle, condition, tmp_path, capsys, row, said):
    manifest = work / "list" / "rows.jsonl"
    row = {key: value.replace("{tmp}", str(tmp_path)) for key, value in row.items()}
    manifest.write_text(json.dumps({"path": "in.wav"}) + "\n" + json.dumps(row) + "\n")
    before = _files_below(tmp_path)
    assert _separate([manifest], work / "outs", small_bundle, condition) == 2
    error = capsys.readouterr().err
    assert f"{manifest}, row 2: " in error and said in error, error
    assert _files_below(tmp_path) == before


def test_inputs_elsewhere_need_the_flag_and_their_outputs_still_stay_in_o(work, small_bundle, condition, tmp_path, capsys):
    manifest = work / "list" / "rows.csv"
    manifest.write_text(f"path\nin.wav\n../../../outside.wav\n{tmp_path / 'outside.wav'}\n")
    assert _separate([manifest], work / "outs", small_bundle, condition) == 2
    assert "row 2: input ../../../outside.wav is outside" in capsys.readouterr().err
    # the two rows name one file elsewhere: both would write outs/outside.wav
    assert _separate([manifest], work / "outs", small_bundle, condition, "--inputs-anywhere") == 2
    assert "would both write" in capsys.readouterr().err
    manifest.write_text("path\nin.wav\n../../../outside.wav\n")
    before = _files_below(tmp_path)
    assert _separate([manifest], work / "outs", small_bundle, condition, "--inputs-anywhere") == 0
    made = sorted(set(_files_below(tmp_path)) - set(before))
    assert made == ["a/b/outs/in.wav", "a/b/outs/lass-separate.json", "a/b/outs/outside.wav"]


# --- 2. no non-finite or overflowing sample is ever written ---------------------------------------

def test_huge_finite_input_is_refused_like_nan_input_by_separate_and_stream(small_bundle, condition, tmp_path, capsys):
    x = (0.1 * np.random.default_rng(0).standard_normal((1, 32_000))).astype(np.float32)
    x[0, 8_000:] = 1e30
    write_audio(tmp_path / "mix.wav", x, 32_000, "FLOAT")
    assert _separate([tmp_path / "mix.wav"], tmp_path / "out.wav", small_bundle, condition) == 2
    assert "samples exceed 1e+06 in magnitude (full scale is 1) from 0.250 s (channel 1)" in capsys.readouterr().err
    stream = ["stream", "--input-file", str(tmp_path / "mix.wav"), "--output-file", str(tmp_path / "out.wav"),
              "--embedding", condition, "--checkpoint", str(small_bundle)]
    assert main(stream) == 2
    assert "samples exceed 1e+06 in magnitude" in capsys.readouterr().err
    assert _files_below(tmp_path) == ["c.npy", "mix.wav"]


@pytest.mark.parametrize("values, said", [
    (np.full(512, 1e300, np.float64), "overflow float32"),
    (np.full(512, 1e30, np.float32), "its length is 2.26e+31"),
])
def test_an_overflowing_embedding_is_refused_by_separate_and_stream(small_bundle, tmp_path, capsys, values, said):
    np.save(tmp_path / "huge.npy", values)
    _noise(tmp_path / "mix.wav")
    for output in ("out.wav", "out.flac"):
        assert _separate([tmp_path / "mix.wav"], tmp_path / output, small_bundle, str(tmp_path / "huge.npy")) == 2
        assert said in capsys.readouterr().err
    stream = ["stream", "--input-file", str(tmp_path / "mix.wav"), "--output-file", str(tmp_path / "out.wav"),
              "--embedding", str(tmp_path / "huge.npy"), "--checkpoint", str(small_bundle)]
    assert main(stream) == 2
    assert said in capsys.readouterr().err
    assert _files_below(tmp_path) == ["huge.npy", "mix.wav"]


def _nan_separator():
    torch.manual_seed(0)
    return NanNet(SeparationConfig(width=0.125)).eval()


def _film(net):
    with torch.inference_mode():
        return net.film(torch.nn.functional.normalize(torch.ones(1, 512), dim=-1))


def test_the_networks_output_is_checked_before_it_is_written(tmp_path):
    _noise(tmp_path / "mix.wav")
    net = _nan_separator()
    with pytest.raises(NonFiniteOutput, match="gave NaN or infinite samples from 0.000 s"):
        Separator(net).separate_file(tmp_path / "mix.wav", [tmp_path / "out.wav"], torch.ones(1, 512) / 512**0.5)
    with pytest.raises(NonFiniteOutput, match="NaN or infinite samples"):
        stream_file(Engine(net, _film(net), EngineSettings(device_rate_hz=32_000)), tmp_path / "mix.wav", tmp_path / "out.wav", False)
    assert _files_below(tmp_path) == ["mix.wav"]


# --- 3. no no-op reported as done ------------------------------------------------------------------

def test_an_output_folder_equal_to_or_inside_an_input_folder_is_refused(small_bundle, condition, tmp_path, capsys):
    folder = tmp_path / "in"
    _noise(folder / "a.wav")
    _noise(folder / "b.wav")
    for out in (folder, folder / "separated"):
        assert _separate([folder], out, small_bundle, condition) == 2
        assert "is inside the input folder" in capsys.readouterr().err
    assert _separate([folder / "*.wav"], folder, small_bundle, condition) == 2
    assert "would replace the input" in capsys.readouterr().err
    assert _files_below(tmp_path) == ["c.npy", "in/a.wav", "in/b.wav"]


def test_only_a_whole_output_counts_as_done(small_bundle, condition, tmp_path, capsys):
    folder = tmp_path / "in"
    _noise(folder / "a.wav", seconds=1.0)
    _noise(folder / "b.wav", seconds=1.0)
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.wav").write_bytes(b"")  # a 0-byte file, as a crashed tool leaves
    _noise(out / "b.wav", seconds=0.3)  # a readable file of the wrong length
    assert _separate([folder], out, small_bundle, condition) == 0
    printed = capsys.readouterr().out
    assert printed.count("not whole") == 2 and "separated 2, skipped 0" in printed
    assert sf.info(out / "a.wav").frames == sf.info(out / "b.wav").frames == 32_000
    assert _separate([folder], out, small_bundle, condition) == 0
    assert "separated 0, skipped 2" in capsys.readouterr().out


# --- 4. killed runs' temporary files ---------------------------------------------------------------

def test_a_part_file_of_a_killed_run_is_gone_after_the_next_run(small_bundle, condition, tmp_path):
    long = _noise(tmp_path / "long.wav", seconds=120.0)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "cli.main", "separate", str(long), "--checkpoint", str(small_bundle),
               "--embedding", condition, "-o", str(out / "long.wav")]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list(out.glob(".long.wav.*.part")) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    left = list(out.glob(".long.wav.*.part"))
    assert left and f".{process.pid}." in left[0].name
    mine = out / f".other.wav.{os.getpid()}.abcdefgh.part"  # a running process's: never touched
    mine.write_bytes(b"under way")
    _noise(tmp_path / "short.wav")
    assert _separate([tmp_path / "short.wav"], out / "short.wav", small_bundle, condition) == 0
    assert sorted(p.name for p in out.iterdir()) == [mine.name, "short.wav"]
    assert remove_stale_parts(out) == []


# --- 5. a realtime file run that could not keep up is no success ---------------------------------

def test_a_realtime_file_run_whose_worker_falls_behind_fails_and_says_how_much(stream_command, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(SlowEngine, "delay_s", 0.3)
    monkeypatch.setattr("realtime.assembly.Engine", SlowEngine)  # the worker takes 0.3 s more per cycle
    x, args = stream_command(2.0)
    assert main(args + ["--hop-ms", "100", "--block", "480", "--realtime"]) == 1
    error = capsys.readouterr().err
    said = error.split("went out unprocessed")[0].split("but ")[-1]  # "1.23 s of its 2.00 s"
    unprocessed_s = float(said.split(" s of its ")[0])
    assert 0.2 < unprocessed_s <= 2.0 and "s of its 2.00 s" in said and "without --realtime" in error
    monkeypatch.setattr(SlowEngine, "delay_s", 0.02)
    assert main(args + ["--hop-ms", "100", "--block", "480"]) == 0  # not paced: it waits, nothing drops
    assert "dropouts 0" in capsys.readouterr().err


# --- 6. a full disk is one line --------------------------------------------------------------------

def test_a_write_that_fails_midway_is_one_line_and_leaves_nothing(small_bundle, condition, tmp_path):
    _noise(tmp_path / "mix.wav", seconds=10.0)
    limit = 200_000  # bytes a file may grow to: the output (640 kB) fails midway, as on a full disk

    def limited():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "separate", str(tmp_path / "mix.wav"), "--checkpoint", str(small_bundle),
         "--embedding", condition, "-o", str(tmp_path / "out" / "out.wav")],
        cwd=REPO, capture_output=True, text=True, preexec_fn=limited, timeout=300,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"lass: error: cannot write {tmp_path / 'out' / 'out.wav'}: ")
    assert "MB free in" in lines[0] and "Traceback" not in done.stderr
    assert os.listdir(tmp_path / "out") == []


def test_the_free_space_check_counts_the_outputs_format_not_the_inputs(tmp_path):
    ogg = _noise(tmp_path / "mix.ogg", seconds=20.0, rate=44_100, channels=2, subtype="VORBIS")
    info = sf.info(ogg)
    wav = estimated_output_bytes(Path("out.wav"), info.frames, info.channels, info.samplerate, info.subtype)
    assert wav >= info.frames * 2 * 2 > 10 * ogg.stat().st_size  # 16-bit WAV, the format's default
    assert estimated_output_bytes(Path("out.ogg"), info.frames, 2, 44_100, "VORBIS") < wav / 2


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MB tmpfs (needs root, as in CI); skipped where mounting is not allowed."""
    mount = tmp_path / "small"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("mounting a tmpfs needs root")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_a_full_disk_is_said_before_the_model_loads(small_disk, condition, tmp_path, capsys):
    ogg = _noise(tmp_path / "mix.ogg", seconds=20.0, rate=44_100, channels=2, subtype="VORBIS")  # ~200 kB of Ogg
    missing_model = tmp_path / "no-such-model.safetensors"  # reached only if the place check passed
    assert _separate([ogg], small_disk / "out.wav", missing_model, condition) == 2
    error = capsys.readouterr().err
    assert f"cannot write {small_disk / 'out.wav'}: 2.1 MB free" in error and "about 3.6 MB needed" in error
    assert os.listdir(small_disk) == []


# --- 7. malformed files: one line, exit 2 ----------------------------------------------------------

@pytest.mark.parametrize("name, text, said", [
    ("rows.csv", "path,query\nin.wav,speech,extra\n", "row 1: more fields than the header names"),
    ("rows.jsonl", '{"path": 5}\n', 'row 1: path must be text, not 5'),
    ("rows.jsonl", '{"path": "in.wav", "query": 7}\n', "row 1: query must be text, not 7"),
    ("rows.jsonl", '["in.wav"]\n', "row 1: a row is an object of path, query, mode, output, not list"),
    ("rows.jsonl", '{"path": "in.wav", "query": "speech but not music but not dog"}\n',
     "'speech but not music + dog'"),
    ("rows.jsonl", "[" * 100_000 + "\n", "is not a readable manifest"),
])
def test_a_malformed_manifest_is_one_line(small_bundle, condition, tmp_path, capsys, name, text, said):
    _noise(tmp_path / "in.wav")
    (tmp_path / name).write_text(text)
    assert _separate([tmp_path / name], tmp_path / "out", small_bundle, condition) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and said in error, error
    assert not (tmp_path / "out").exists()


def test_an_npy_whose_header_claims_a_huge_array_is_refused_unread(small_bundle, tmp_path, capsys):
    header = {"descr": "<f4", "fortran_order": False, "shape": (100_000_000_000,)}
    with open(tmp_path / "huge.npy", "wb") as handle:
        np.lib.format.write_array_header_1_0(handle, header)
        handle.write(b"\0" * 2048)
    np.save(tmp_path / "short.npy", np.zeros(512, np.float32))
    with open(tmp_path / "short.npy", "r+b") as handle:
        handle.truncate(handle.seek(0, 2) - 100)
    _noise(tmp_path / "mix.wav")
    for name, said in (("huge.npy", "its header says (100000000000,)"), ("short.npy", "is damaged: it holds 1948 bytes")):
        assert _separate([tmp_path / "mix.wav"], tmp_path / "out.wav", small_bundle, str(tmp_path / name)) == 2
        assert said in capsys.readouterr().err


def test_damaged_presets_are_one_line_and_wet_must_be_a_number(tmp_path):
    presets = tmp_path / "presets.json"
    presets.write_text("[" * 100_000)
    with pytest.raises(ValueError, match="nested too deep"):
        load_presets(presets)
    with pytest.raises(ValueError, match="cannot read the presets file /proc/self/mem"):
        load_presets(Path("/proc/self/mem"))  # a file whose read fails (as an unreadable one does)
    presets.write_text(json.dumps({"calls": {"query": "speech", "wet": True}}))
    with pytest.raises(ValueError, match="wet must be a number between 0 and 1, not true"):
        find_preset("calls", presets)
    with pytest.raises(ValueError, match="query must be text"):
        Preset("x", 7)


def test_output_and_training_places_are_checked_as_one_line(small_bundle, condition, tmp_path, capsys):
    _noise(tmp_path / "mix.wav")
    (tmp_path / "out.wav").mkdir()
    missing_model = tmp_path / "no-such-model.safetensors"  # reached only if the place check passed
    assert _separate([tmp_path / "mix.wav"], tmp_path / "out.wav", missing_model, condition) == 2
    assert "out.wav: it is a folder" in capsys.readouterr().err
    assert main(["embed", "-q", "speech", "-o", "/proc/lass/dog.npy", "--checkpoint", str(missing_model)]) == 2
    assert "is not writable" in capsys.readouterr().err
    assert main(["embed", "-q", "speech", "-o", str(tmp_path / "dog"), "--checkpoint", str(missing_model)]) == 2
    assert "name it " + str(tmp_path / "dog.npy") in capsys.readouterr().err

    class RunsCode:
        def __reduce__(self):
            return (print, ("this would run",))

    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "last.ckpt").write_bytes(pickle.dumps(RunsCode(), protocol=2))
    assert main(["train", "--out", str(run), "--steps", "1", "--width", "0.125"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "cannot resume training" in error and "would run code" in error


# --- 8. smaller ------------------------------------------------------------------------------------

def test_a_cut_short_file_is_said_and_a_fifo_is_named(small_bundle, condition, tmp_path, capsys):
    _noise(tmp_path / "full.wav", seconds=2.0)
    data = (tmp_path / "full.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(data[: len(data) // 2])
    assert _separate([tmp_path / "cut.wav"], tmp_path / "out.wav", small_bundle, condition) == 0
    assert "cut.wav is cut short: its header announces 2.0 s of audio, it holds 1.0 s" in capsys.readouterr().err
    os.mkfifo(tmp_path / "pipe.wav")
    assert _separate([tmp_path / "pipe.wav"], tmp_path / "out2.wav", small_bundle, condition) == 2
    assert "pipe.wav is a FIFO: give an audio file" in capsys.readouterr().err


def test_a_text_file_named_ckpt_is_not_called_code(condition, tmp_path, capsys):
    (tmp_path / "model.ckpt").write_text("hello, not a checkpoint\n")
    _noise(tmp_path / "mix.wav")
    assert _separate([tmp_path / "mix.wav"], tmp_path / "out.wav", tmp_path / "model.ckpt", condition) == 2
    error = capsys.readouterr().err
    assert "is not a PyTorch checkpoint" in error and "run code" not in error


def test_two_but_nots_and_a_long_query_are_said_briefly(small_bundle, condition, tmp_path, capsys):
    _noise(tmp_path / "mix.wav")
    long = "speech " * 1500 + "but not music but not dog"
    assert main(["separate", str(tmp_path / "mix.wav"), "-q", long, "--checkpoint", str(small_bundle), "-o", str(tmp_path / "o.wav")]) == 2
    error = capsys.readouterr().err
    assert "says 'but not' 2 times" in error and "(10525 characters)" in error and len(error) < 400 + len(long) // 2


def test_sigterm_says_so_and_an_interrupted_batch_keeps_its_log(small_bundle, condition, tmp_path):
    folder = tmp_path / "in"
    _noise(folder / "a.wav")
    _noise(folder / "b.wav", seconds=300.0)
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "separate", str(folder), "--checkpoint", str(small_bundle), "--embedding", condition, "-o", str(out)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 120
    while not list(out.glob(".b.wav.*.part")) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    printed, error = process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM
    assert "lass: terminated (SIGTERM)" in error and "interrupted: separated 1" in printed
    log = json.loads((out / "lass-separate.json").read_text())
    assert log["interrupted"] and log["separated"] == [str(folder / "a.wav")]
    assert sorted(os.listdir(out)) == ["a.wav", "lass-separate.json"]
