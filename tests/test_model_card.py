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


def _evaluation(summary: dict, library: str = "None", all_captions: str = "True", sha256: str = "") -> dict:
    settings = {
        "library": library, "per_class": "12", "snr": "[-5.0, 0.0, 5.0]", "captions": "heldout",
        "all_captions": all_captions, "checkpoint_sha256": sha256 or file_sha256(DEFAULT_BUNDLE),
    }
    return {"settings": settings, "summary": summary, "items": []}


PASSING = {
    "real": _summary(speech=7.0, kick_drum=9.0, notification_chime=2.5),
    "heldout": _summary(speech=9.0, beeps=9.5),
    "train_captions": _summary(speech=9.4, beeps=9.0),
    "example": _summary(beeps=7.3, speech=12.0),
}


def test_every_target_passes_when_the_measurements_meet_it():
    checks = acceptance(PASSING["real"], PASSING["heldout"], PASSING["train_captions"], PASSING["example"])
    assert [ok for _, ok, _ in checks] == [True] * 5


def test_one_weak_real_class_or_example_query_fails_its_line_only():
    real = _summary(speech=9.0, kick_drum=9.0, notification_chime=1.9)
    example = _summary(beeps=6.9, speech=12.0)
    checks = acceptance(real, PASSING["heldout"], PASSING["train_captions"], example)
    assert [ok for _, ok, _ in checks] == [True, False, True, True, False]
    assert "notification chime 1.90 dB" in checks[1][2]
    assert "beeps 6.90 dB" in checks[4][2]


def test_a_paraphrase_gap_over_a_decibel_or_a_generated_drop_fails():
    heldout = _summary(speech=7.0, beeps=8.0)
    train = _summary(speech=8.2, beeps=8.0)
    checks = acceptance(PASSING["real"], heldout, train, PASSING["example"])
    assert [ok for _, ok, _ in checks] == [True, True, False, False, True]
    assert "speech 1.20 dB" in checks[3][2]


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
        {"package": "gajim", "version": "2", "licenses": ["GPL-3"], "label": "notification chime", "split": "train"},
    ]
    (library / "manifest.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return run, library


def test_the_card_holds_the_measured_tables_the_library_and_the_verdict(tmp_path):
    run, library = _run_and_library(tmp_path)
    evaluations = {key: _evaluation(summary) for key, summary in PASSING.items()}
    evaluations["real"] = _evaluation(_summary(speech=7.0, kick_drum=9.0, notification_chime=1.0), library="runs/lib2", all_captions="False")

    card = render(run, library, DEFAULT_BUNDLE, ["lass train --out runs/a", "lass train --out runs/b"], evaluations)

    assert "| notification chime | 36 | 1.00 | 1.00 | 1.00 | 1.00 |" in card
    assert "| real recordings: every class >= 2.0 dB | FAIL | lowest: notification chime 1.00 dB |" in card
    assert "| kick drum | 1 | 1 | hydrogen-drumkits |" in card
    assert "- gajim 2: GPL-3" in card
    assert "(kick drum, notification chime: fewer than 3 files held" in card
    assert "1. `lass train --out runs/a`\n2. `lass train --out runs/b`" in card
    assert "trained 600 steps" in card and "(step 400; generated and library held-out mixtures): SI-SDRi 7.50 dB" in card
    assert "--per-class 12 --snr -5 0 5 --library runs/lib2`" in card
    assert f"scored: `{file_sha256(DEFAULT_BUNDLE)}`" in card


def test_a_card_is_refused_for_evaluations_of_another_checkpoint(tmp_path):
    run, library = _run_and_library(tmp_path)
    evaluations = {key: _evaluation(summary) for key, summary in PASSING.items()}
    evaluations["example"] = _evaluation(PASSING["example"], sha256="0" * 64)
    with pytest.raises(CardError, match="the example evaluation scored a checkpoint with SHA-256 0000"):
        render(run, library, DEFAULT_BUNDLE, ["lass train --out runs/a"], evaluations)
