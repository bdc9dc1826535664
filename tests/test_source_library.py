"""The library of real recordings: built from a package with a license for every file, reproducible
from its seed, trainable, and never reading a package reserved for independent evaluation."""

import json

import numpy as np
import pytest
import soundfile as sf

from cli.main import main
from models.config import MODEL_SAMPLE_RATE_HZ
from tests.doubles import RecordingPool
from tests.rcc_writer import rcc_bundle
from training.data import CombinedSources, GeneratedSources, LibrarySources, MixConfig, Mixtures
from training.midi import _variable_length, melody, standard_midi_file
from training.source_library import (
    CATALOGUE, HELDOUT_SOURCES, LibraryError, PatchSetSources, ResourceBundleSources, Rule, assign_splits, build_library,
    check_not_reserved, copyright_licenses,
)

PACKAGE = "sound-theme-freedesktop"  # installed by .ci/run


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    root = tmp_path_factory.mktemp("library")
    build_library(root, [PACKAGE], root / ".cache", seed=0)
    return root


def _rows(root):
    return [json.loads(line) for line in (root / "manifest.jsonl").read_text().splitlines()]


def test_every_file_has_its_license_class_and_captions(library):
    rows = _rows(library)
    assert {row["label"] for row in rows} >= {"speech", "phone ringing", "camera shutter", "notification chime"}
    for row in rows:
        stated = copyright_licenses((library / row["copyright"]).read_text())
        assert row["licenses"] and set(row["licenses"]) <= stated
        assert row["package"] == PACKAGE and len(row["captions"]) >= 3 and row["split"] in ("train", "heldout")  # not held out whole
        info = sf.info(library / row["file"])
        assert (info.samplerate, info.channels) == (MODEL_SAMPLE_RATE_HZ, 1)
        assert info.frames / MODEL_SAMPLE_RATE_HZ == pytest.approx(row["seconds"], abs=1e-3)


def test_the_same_seed_rebuilds_the_same_library(library, tmp_path):
    build_library(tmp_path, [PACKAGE], tmp_path / ".cache", seed=0)
    assert _rows(tmp_path) == _rows(library)
    build_library(tmp_path, [PACKAGE], tmp_path / ".cache", seed=1)
    assert [r["split"] for r in _rows(tmp_path)] != [r["split"] for r in _rows(library)]


def test_a_file_shipped_twice_is_listed_once(library):
    """The freedesktop theme ships camera-shutter.oga and screen-capture.oga as the same bytes: listed
    twice, one copy could train while the other is held out, and the held-out score would be a leak."""
    rows = _rows(library)
    assert len({row["sha256"] for row in rows}) == len(rows)
    assert sum(row["source"].endswith(("/camera-shutter.oga", "/screen-capture.oga")) for row in rows) == 1
    on_disk = {str(path.relative_to(library)) for path in library.glob(f"{PACKAGE}/*.flac")}
    assert on_disk == {row["file"] for row in rows}


def test_a_rebuilt_library_keeps_the_splits_it_is_told_to_keep(library, tmp_path):
    """Grown or rebuilt with another seed, a library that keeps an earlier one's splits never moves a
    file a model trained on into a held-out split."""
    build_library(tmp_path, [PACKAGE], tmp_path / ".cache", seed=1, keep_splits=library)
    assert [(r["sha256"], r["split"]) for r in _rows(tmp_path)] == [(r["sha256"], r["split"]) for r in _rows(library)]


def test_packages_held_out_whole_never_train_and_kept_splits_win():
    def rows(package, label, count):
        return [{"package": package, "label": label, "sha256": f"{package}-{label}-{i}"} for i in range(count)]

    trained, whole, earlier = rows("a", "piano", 10) + rows("b", "piano", 5), rows(HELDOUT_SOURCES[0], "piano", 3), rows("c", "bells", 2)
    assign_splits(trained + whole + earlier, seed=0, kept={earlier[0]["sha256"]: "train", earlier[1]["sha256"]: "train"})
    assert {r["split"] for r in whole} == {"heldout-source"}
    assert [r["split"] for r in earlier] == ["train", "train"]  # kept, though a class of two holds one out
    assert sorted(r["split"] for r in trained).count("heldout") == 3  # 20 % of the piano files that train


def test_training_runs_on_the_library_and_eval_scores_a_source_held_out_whole(library, tmp_path):
    assert set(LibrarySources(library, "heldout").labels) <= set(LibrarySources(library, "train").labels)
    run = tmp_path / "run"
    args = ["train", "--out", str(run), "--library", str(library), "--steps", "2", "--batch-size", "2", "--width", "0.125"]
    args += ["--segment-samples", "9920", "--val-items", "2", "--val-every", "2", "--checkpoint-every", "1000", "--warmup-steps", "1"]
    assert main(args) == 0
    assert (run / "model.safetensors").is_file()
    # A test double of a library with two classes held out whole: its manifest names the built files.
    held = {"phone ringing", "camera shutter"}
    rows = [r | {"file": str(library / r["file"]), "split": "heldout-source" if r["label"] in held else r["split"]} for r in _rows(library)]
    double = tmp_path / "double"
    double.mkdir()
    (double / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "eval"
    eval_args = ["eval", "--checkpoint", str(run / "model.safetensors"), "--library", str(double), "--split", "heldout-source"]
    assert main(eval_args + ["--per-class", "1", "--snr", "0", "--out", str(out)]) == 0
    assert set(json.loads(out.with_suffix(".json").read_text())["summary"]) == held | {"overall"}


@pytest.mark.parametrize("reserved", ["sonic-pi-samples", "alsa-utils", "asterisk-core-sounds-en-gsm"])
def test_reserved_packages_are_refused_before_anything_is_read(reserved, tmp_path):
    with pytest.raises(LibraryError, match="reserved for independent evaluation"):
        build_library(tmp_path / "lib", [PACKAGE, reserved], tmp_path / "cache")
    assert not (tmp_path / "lib").exists() and not (tmp_path / "cache").exists()
    for entry in CATALOGUE:
        check_not_reserved(entry.package)
    assert main(["library", "build", "--out", str(tmp_path / "lib"), "--package", reserved]) == 2


def test_melodies_are_seeded_midi_files():
    notes = melody(np.random.default_rng(0), 48, 84, beats=12.0)
    assert notes and all(48 <= n.pitch <= 84 for n in notes) and max(n.start_beats for n in notes) < 12.0
    data = standard_midi_file(notes, program=24)
    assert data == standard_midi_file(melody(np.random.default_rng(0), 48, 84, beats=12.0), program=24)
    assert data[:4] == b"MThd" and data[14:18] == b"MTrk"
    assert int.from_bytes(data[18:22], "big") == len(data) - 22  # the track's length is its bytes
    assert bytes([0xC0, 24]) in data and data.endswith(bytes([0x00, 0xFF, 0x2F, 0x00]))


@pytest.mark.parametrize("value, encoded", [(0, b"\x00"), (127, b"\x7f"), (128, b"\x81\x00"), (0x3FFF, b"\xff\x7f")])
def test_midi_variable_length_quantities(value, encoded):
    assert _variable_length(value) == encoded


def test_licenses_stated_in_prose_are_read():
    assert copyright_licenses('From README:\n  "I hereby release Fluid under the MIT license, as described in COPYING."') == {"MIT"}
    text = "These files are distributed under the Creative Commons Attribution-ShareAlike\n3.0 license"
    assert copyright_licenses(text) == {"CC-BY-SA-3.0"}
    assert copyright_licenses("License: http://creativecommons.org/licenses/by/3.0/deed\n") == {"CC-BY-3.0"}
    gpl = """  This patch set is free software; you can redistribute it and/or
  modify it under the terms of the GNU General Public License
  as published by the Free Software Foundation; either version 2
  of the License, or (at your option) any later version."""
    assert copyright_licenses(gpl) == {"GPL-2+"}


def test_a_patch_set_plays_only_the_programs_its_melodic_bank_holds(tmp_path):
    """timidity plays some other instrument for a program the set lacks: that melody would carry the
    wrong label, so the program is left out."""
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "set.cfg").write_text(
        "dir /usr/share/midi/set\ndrumset 0\n 35\tDrum_000/035_Kick_1.pat amp=100\n"
        "bank 0\n 0\tTone_000/000_Piano.pat amp=120\n 56\tTone_000/056_Trumpet.pat\n"
    )
    patches = PatchSetSources("set", ("GPL-2+",), "/etc/set.cfg", (), patch_folder="/usr/share/midi/set")
    assert patches.programs(tmp_path) == {0, 56}


def test_recordings_packed_in_a_qt_resource_bundle_are_collected_by_their_path_inside_it(tmp_path):
    """GCompris packs its instrument recordings in .rcc bundles: the rules match the bundle's path and
    the file's path inside it, and a file no rule names is left out."""
    tone = np.sin(2 * np.pi * 440 * np.arange(MODEL_SAMPLE_RATE_HZ) / MODEL_SAMPLE_RATE_HZ).astype(np.float32)
    recordings = {}
    for name in ("trumpet", "banjo"):
        wav = tmp_path / f"{name}.wav"
        sf.write(wav, 0.5 * tone, MODEL_SAMPLE_RATE_HZ)
        recordings[f"/activities/instruments/{name}.wav"] = wav.read_bytes()
    (tmp_path / "pkg/usr/share/game").mkdir(parents=True)
    (tmp_path / "pkg/usr/share/game/instruments.rcc").write_bytes(rcc_bundle(recordings | {"/activities/icon.svg": b"<svg/>"}))
    sources = ResourceBundleSources(
        "game-data", ("GPL-3+",), (Rule(r"/instruments/trumpet\.wav$", "brass"),), bundles=("/usr/share/game/instruments.rcc",)
    )
    rows = sources.collect(tmp_path / "pkg", tmp_path / "out", seed=0, say=print)
    assert [(row["label"], row["source"]) for row in rows] == [("brass", "/usr/share/game/instruments.rcc:/activities/instruments/trumpet.wav")]
    written, _ = sf.read(tmp_path / "out" / rows[0]["file"], dtype="float32")
    np.testing.assert_allclose(written, 0.5 * tone[1:], atol=1e-4)  # its silent first sample trimmed


@pytest.mark.parametrize(
    "package, folder",
    [("asterisk-core-sounds-fr-wav", "fr_CA_f_June"), ("asterisk-core-sounds-it-wav", "it_IT_m_Carlo"),
     ("asterisk-core-sounds-ru-wav", "ru_RU_f_IvrvoiceRU")],
)
def test_telephone_prompts_are_speech_and_the_tones_among_them_are_left_out(package, folder, tmp_path):
    """The prompt folders hold beeps and conference tones beside the sentences: labelled speech, they
    taught the models that a short beep in a voice is the voice (#34)."""
    sources = next(entry for entry in CATALOGUE if entry.package == package)
    prompts = tmp_path / "pkg/usr/share/asterisk/sounds" / folder
    (prompts / "digits").mkdir(parents=True)
    sound = 0.3 * np.random.default_rng(0).standard_normal(MODEL_SAMPLE_RATE_HZ // 2).astype(np.float32)
    for name in ("hello-world", "beep", "beeperr", "ascending-2tone", "descending-2tone", "confbridge-join",
                 "confbridge-leave", "digits/1"):
        sf.write(prompts / f"{name}.wav", sound, MODEL_SAMPLE_RATE_HZ)
    rows = sources.collect(tmp_path / "pkg", tmp_path / "out", seed=0, say=print)
    assert [(row["label"], row["source"].rsplit("/", 1)[1]) for row in rows] == [("speech", "hello-world.wav")]


def test_real_and_generated_sources_that_hold_one_another_are_never_mixed(library):
    pool = CombinedSources(GeneratedSources(), LibrarySources(library))
    assert {"speech", "drums", "camera shutter"} <= set(pool.labels)
    assert {"kick drum", "music"} <= pool.unmixable("drums") and "guitar" in pool.unmixable("plucked")
    assert pool.unmixable("speech") == set()
    assert "drums" not in pool.unmixable("speech") and "camera shutter" not in pool.unmixable("drums")


def test_sounds_side_by_side_are_mixed_and_a_sound_with_what_holds_it_is_not(library):
    for pool in (LibrarySources(library), CombinedSources(GeneratedSources(), LibrarySources(library))):
        assert "piano" in pool.unmixable("music") and "music" in pool.unmixable("piano")
        assert "music" in pool.unmixable("bells")  # bells are played on the soundfont as an instrument
        assert "hi-hat" in pool.unmixable("cymbal")
        assert {"phone ringing", "notification chime"} <= pool.unmixable("beeps")  # a ringback tone is beeps
        assert not {"guitar", "organ", "strings", "kick drum"} & pool.unmixable("piano")  # telling these apart is the job
        assert "snare drum" not in pool.unmixable("kick drum")


def test_mixtures_never_mix_a_target_with_a_label_that_holds_it():
    pool = RecordingPool()
    data = Mixtures(pool, 40, config=MixConfig(segment_samples=320), n_sources=3)
    for index in range(len(data)):
        pool.drawn.clear()
        data[index]
        target, *interferers = pool.drawn  # the target is drawn first
        assert not pool.unmixable(target) & set(interferers)
