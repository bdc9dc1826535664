"""The model card's acceptance lines are computed from the evaluations, and its tables are theirs."""

import json
from pathlib import Path

import pytest

from training.evaluate import file_sha256
from training.model_card import CardError, acceptance, render

DEFAULT_BUNDLE = Path(__file__).parents[1] / "models" / "default" / "lass-default.safetensors"


def _row(si_sdri_db: float, count: int = 36) -> dict:
    return {"sdr": si_sdri_db, "sdri": si_sdri_db, "si_sdr": si_sdri_db, "si_sdri": si_sdri_db, "count": count}


def _summary(**si_sdri_db: float) -> dict:
    rows = {label.replace("_", " "): _row(value) for label, value in si_sdri_db.items()}
    rows["overall"] = _row(sum(si_sdri_db.values()) / len(si_sdri_db))
    return rows


def _evaluation(summary: dict, library: str = "None", all_captions: str = "True", sha256: str = "", items=(), **more) -> dict:
    settings = {
        "library": library, "per_class": "12", "snr": "[-5.0, 0.0, 5.0]", "captions": "heldout",
        "all_captions": all_captions, "checkpoint_sha256": sha256 or file_sha256(DEFAULT_BUNDLE), **more,
    }
    return {"settings": settings, "summary": summary, "items": list(items)}


def _tones(*si_sdri_db_in_speech: float, in_noise_db: float = -20.0) -> dict:
    """Short-tone results: beeps in speech at the given scores, and one mixture in noise that never counts."""
    items = [{"label": "beeps in speech", "si_sdri": value} for value in si_sdri_db_in_speech]
    items.append({"label": "beeps in noise", "si_sdri": in_noise_db})
    summary = _summary(beeps_in_speech=sum(si_sdri_db_in_speech) / len(si_sdri_db_in_speech), beeps_in_noise=in_noise_db)
    return _evaluation(summary, items=items, short_tones="True")


PASSING = {
    "leave_source_out": _evaluation(_summary(piano=6.5, phone_ringing=7.0, kick_drum=9.0), library="runs/lib4", split="heldout-source"),
    "real": _evaluation(_summary(speech=7.0, kick_drum=9.0, notification_chime=2.5), library="runs/lib4"),
    "heldout": _evaluation(_summary(speech=11.0, beeps=11.5)),
    "train_captions": _evaluation(_summary(speech=11.4, beeps=11.0)),
    "example": _evaluation(_summary(beeps=14.3, speech=15.0)),
    "short_tones": _tones(6.0, 7.0, 5.0),
}


def _with(**changed: dict) -> dict:
    return PASSING | changed


def test_every_target_passes_when_the_measurements_meet_it():
    assert [ok for _, ok, _ in acceptance(PASSING)] == [True] * 9


def test_one_weak_real_class_or_example_query_fails_its_line_only():
    real = _evaluation(_summary(speech=9.0, kick_drum=9.0, notification_chime=1.9), library="runs/lib4")
    example = _evaluation(_summary(beeps=13.9, speech=15.0))
    checks = acceptance(_with(real=real, example=example))
    assert [ok for _, ok, _ in checks] == [True, True, True, False, True, True, False, True, True]
    assert "notification chime 1.90 dB" in checks[3][2]
    assert "beeps 13.90 dB" in checks[6][2]


def test_a_source_held_out_whole_is_judged_apart_from_held_out_files():
    lso = _evaluation(_summary(piano=-3.0, phone_ringing=7.0, kick_drum=9.0), library="runs/lib4", split="heldout-source")
    checks = acceptance(_with(leave_source_out=lso))
    assert [ok for _, ok, _ in checks] == [False, False] + [True] * 7
    assert checks[0][2] == "4.33 dB" and checks[1][2] == "lowest: piano -3.00 dB"


def test_a_paraphrase_gap_over_a_decibel_or_a_generated_drop_fails():
    heldout = _evaluation(_summary(speech=9.0, beeps=10.0))
    train = _evaluation(_summary(speech=10.2, beeps=10.0))
    checks = acceptance(_with(heldout=heldout, train_captions=train))
    assert [ok for _, ok, _ in checks] == [True] * 4 + [False, False] + [True] * 3
    assert "speech 1.20 dB" in checks[5][2]


def test_short_tones_count_in_speech_only_and_every_mixture_counts():
    checks = acceptance(_with(short_tones=_tones(12.0, 2.9, 9.0)))
    assert [ok for _, ok, _ in checks[-2:]] == [True, False]
    assert checks[-1][2] == "lowest: beeps in speech 2.90 dB"
    assert checks[-2][2] == "7.97 dB over 3 mixtures"  # the mixture in noise (-20 dB) is not among them


def _run_and_library(tmp_path: Path) -> tuple[Path, Path]:
    run = tmp_path / "run"
    (run / "logs" / "csv" / "version_0").mkdir(parents=True)
    (run / "logs" / "csv" / "version_0" / "metrics.csv").write_text(
        "epoch,step,train/loss,val/si_sdri\n0,398,0.02,\n0,399,,7.5\n0,599,0.01,\n"
    )
    library = tmp_path / "lib"
    library.mkdir()
    rows = [
        {"package": "hydrogen-drumkits", "version": "1", "licenses": ["GPL-2+"], "label": "kick drum", "split": "train"},
        {"package": "hydrogen-drumkits", "version": "1", "licenses": ["GPL-2+"], "label": "kick drum", "split": "heldout"},
        {"package": "lmms-common", "version": "3", "licenses": ["GPL-2+"], "label": "kick drum", "split": "heldout-source"},
        {"package": "gajim", "version": "2", "licenses": ["GPL-3"], "label": "notification chime", "split": "train"},
    ]
    (library / "manifest.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return run, library


def test_the_card_holds_the_measured_tables_the_library_and_the_verdict(tmp_path):
    run, library = _run_and_library(tmp_path)
    real = _evaluation(_summary(speech=7.0, kick_drum=9.0, notification_chime=1.0), library="runs/lib2", all_captions="False")
    evaluations = _with(real=real)

    card = render(run, library, DEFAULT_BUNDLE, ["lass train --out runs/a", "lass train --out runs/b"], evaluations)

    assert "| notification chime | 36 | 1.00 | 1.00 | 1.00 | 1.00 |" in card
    assert "| real recordings, held-out files: every class >= 2.0 dB | FAIL | lowest: notification chime 1.00 dB |" in card
    assert "| real recordings from packages held out whole: mean SI-SDRi >= 6.0 dB | pass | 7.50 dB |" in card
    assert "| kick drum | 1 | 1 | hydrogen-drumkits | 1 | lmms-common |" in card
    assert "--per-class 12 --snr -5 0 5 --library runs/lib4 --split heldout-source`" in card
    assert "--short-tones --per-class 12`" in card
    assert "(leave-source-out, 3 classes):\n7.50 dB SI-SDRi, lowest class piano\n6.50 dB" in card
    assert "- gajim 2: GPL-3" in card
    assert "(kick drum, notification chime: fewer than 3 files held" in card
    assert "No package is held out whole for notification chime:" in card
    assert "1. `lass train --out runs/a`\n2. `lass train --out runs/b`" in card
    assert "trained 600 steps" in card and "(step 400; generated and library held-out mixtures): SI-SDRi 7.50 dB" in card
    assert "--per-class 12 --snr -5 0 5 --library runs/lib2`" in card
    assert f"scored: `{file_sha256(DEFAULT_BUNDLE)}`" in card
    assert "training.average" not in card


def test_a_card_of_an_average_says_what_its_last_line_is(tmp_path):
    run, library = _run_and_library(tmp_path)
    commands = ["lass train --out runs/a", "lass train --out runs/b --init-checkpoint runs/a/model.safetensors", "python -m training.average --out m.safetensors runs/b/model.safetensors runs/a/model.safetensors"]
    card = render(run, library, DEFAULT_BUNDLE, commands, _with())
    assert "(`--init-checkpoint`); the last, `training.average`, is the mean of the weights of the runs it names:" in card
    assert "3. `python -m training.average --out m.safetensors" in card


def test_a_card_is_refused_for_evaluations_of_another_checkpoint(tmp_path):
    run, library = _run_and_library(tmp_path)
    evaluations = _with(example=_evaluation(PASSING["example"]["summary"], sha256="0" * 64))
    with pytest.raises(CardError, match="the example evaluation scored a checkpoint with SHA-256 0000"):
        render(run, library, DEFAULT_BUNDLE, ["lass train --out runs/a"], evaluations)
