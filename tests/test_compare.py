"""`lass compare`: two evaluations of the same mixtures, each label's paired change and its interval."""

import json
import math

import numpy as np
import pytest
from scipy import stats

from cli.main import main
from training.compare import changes


def evaluation(scores_db: dict[str, list[float]]) -> dict:
    items = [
        {"label": label, "interferers": "speech", "caption": label, "snr_db": 0.0, "si_sdri": score, "sdri": score + 1}
        for label, scores in scores_db.items()
        for score in scores
    ]
    return {"settings": {}, "summary": {}, "items": items}


def test_each_label_changes_by_its_paired_mean_within_a_student_t_interval():
    before = evaluation({"piano": [1.0, 2.0, 3.0, 4.0], "beeps": [10.0, -20.0]})
    after = evaluation({"piano": [2.0, 2.5, 4.0, 5.5], "beeps": [11.0, -19.0]})
    rows = {row.label: row for row in changes(before, after)}
    assert [row.label for row in changes(before, after)] == ["beeps", "piano", "overall"]
    differences = np.array([1.0, 0.5, 1.0, 1.5])
    assert rows["piano"].change_db == pytest.approx(1.0)
    assert rows["piano"].interval_db == pytest.approx(stats.t.ppf(0.975, 3) * differences.std(ddof=1) / 2)
    assert rows["piano"].settled
    assert (rows["beeps"].before_db, rows["beeps"].after_db, rows["beeps"].interval_db) == (-5.0, -4.0, 0.0)
    assert rows["overall"].mixtures == 6


def test_a_change_within_the_draw_is_not_settled():
    rows = changes(evaluation({"guitar": [0.0, 0.0, 0.0]}), evaluation({"guitar": [3.0, -2.0, 0.5]}))
    assert rows[0].change_db == pytest.approx(0.5) and not rows[0].settled


def test_one_mixture_has_no_interval():
    rows = changes(evaluation({"speech": [1.0]}), evaluation({"speech": [2.0]}))
    assert math.isnan(rows[0].interval_db) and not rows[0].settled


def test_the_command_prints_the_table_and_writes_the_rows(tmp_path, capsys):
    before, after, out = tmp_path / "before.json", tmp_path / "after.json", tmp_path / "change.json"
    before.write_text(json.dumps(evaluation({"bells": [1.0, 2.0]})))
    after.write_text(json.dumps(evaluation({"bells": [2.0, 4.0]})))
    assert main(["compare", str(before), str(after), "--metric", "sdri", "--out", str(out)]) == 0
    assert "| bells | 2 | 2.50 | 4.00 | +1.50 |" in capsys.readouterr().out
    written = json.loads(out.read_text())
    assert written["metric"] == "sdri" and [row["label"] for row in written["changes"]] == ["bells", "overall"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["after.json", "before.json", "change.json"]


def test_evaluations_of_other_mixtures_or_no_mixtures_are_refused_by_name(tmp_path, capsys):
    before, other, empty = tmp_path / "before.json", tmp_path / "other.json", tmp_path / "empty.json"
    before.write_text(json.dumps(evaluation({"bells": [1.0, 2.0]})))
    other.write_text(json.dumps(evaluation({"bells": [1.0], "brass": [2.0]})))
    empty.write_text(json.dumps({"summary": {}}))
    assert main(["compare", str(before), str(other)]) == 2
    assert "did not score the same mixtures" in capsys.readouterr().err
    assert main(["compare", str(before), str(empty)]) == 2
    assert f"{empty} holds no scored mixtures" in capsys.readouterr().err
    assert main(["compare", str(before), str(tmp_path / "missing.json")]) == 2
    assert "cannot read the evaluation" in capsys.readouterr().err
