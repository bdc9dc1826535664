"""`lass separate` over a folder: mirrored outputs, bad files reported (never stopping the others),
reruns that skip what is done, outputs equal to single-file runs."""

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from audio.files import write_audio
from cli.main import main

# (relative path, rate, channels, seconds, subtype)
GOOD = [
    ("a.wav", 16_000, 1, 0.5, "PCM_16"),
    ("b.flac", 44_100, 2, 1.2, "PCM_24"),
    ("c.ogg", 48_000, 1, 0.8, "VORBIS"),
    ("nested/d.wav", 22_050, 2, 2.0, "FLOAT"),
    ("nested/deeper/e.flac", 32_000, 1, 11.0, "PCM_16"),  # two 10 s segments
]
BAD = ("corrupt.wav", "nested/empty.wav")  # bytes that are not audio; a valid file of zero samples


@pytest.fixture
def archive(tmp_path):
    root = tmp_path / "in"
    rng = np.random.default_rng(0)
    for name, rate, channels, seconds, subtype in GOOD:
        write_audio(root / name, (0.1 * rng.standard_normal((channels, int(seconds * rate)))).astype(np.float32), rate, subtype)
    (root / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really")
    sf.write(root / "nested" / "empty.wav", np.zeros((0, 1), np.float32), 32_000)
    (root / "notes.txt").write_text("not audio: ignored")
    return root


def _run(archive, out, small_bundle, condition, capsys):
    code = main(["separate", str(archive), "--embedding", condition, "--checkpoint", str(small_bundle), "-o", str(out)])
    return code, capsys.readouterr().out


def test_a_folder_separates_into_a_mirrored_tree_and_reports_bad_files(archive, small_bundle, tmp_path, capsys):
    condition = tmp_path / "c.npy"
    c = np.random.default_rng(1).standard_normal(512).astype(np.float32)
    np.save(condition, c / np.linalg.norm(c))
    out = tmp_path / "out"
    code, printed = _run(archive, out, small_bundle, str(condition), capsys)
    assert code == 1, printed
    for name, rate, channels, seconds, subtype in GOOD:
        info = sf.info(out / name)
        assert (info.samplerate, info.channels, info.frames) == (rate, channels, int(seconds * rate)), name
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == sorted([g[0] for g in GOOD] + ["lass-separate.json"])
    log = json.loads((out / "lass-separate.json").read_text())
    failed = {item["input"]: item["error"] for item in log["failed"]}
    assert set(failed) == {str(archive / name) for name in BAD}
    assert "contains no audio" in failed[str(archive / "nested/empty.wav")]
    assert "cannot read" in failed[str(archive / "corrupt.wav")]
    assert "separated 5, skipped 0 (already done), failed 2" in printed

    # a rerun separates nothing, and reports the same failures
    code, printed = _run(archive, out, small_bundle, str(condition), capsys)
    assert code == 1 and "separated 0, skipped 5 (already done), failed 2" in printed
    assert {item["input"] for item in json.loads((out / "lass-separate.json").read_text())["failed"]} == set(failed)

    # outputs equal single-file runs
    single = tmp_path / "single.flac"
    assert main(["separate", str(archive / "b.flac"), "--embedding", str(condition), "--checkpoint", str(small_bundle), "-o", str(single)]) == 0
    np.testing.assert_array_equal(sf.read(single)[0], sf.read(out / "b.flac")[0])


def test_inputs_that_name_nothing_or_collide_are_refused_before_any_work(archive, small_bundle, tmp_path, capsys):
    condition = tmp_path / "c.npy"
    np.save(condition, np.full(512, 512**-0.5, np.float32))
    common = ["--embedding", str(condition), "--checkpoint", str(small_bundle), "-o", str(tmp_path / "out")]
    assert main(["separate", str(tmp_path / "nothing-*.wav"), *common]) == 2
    assert "no files match" in capsys.readouterr().err
    assert main(["separate", str(archive / "a.wav"), str(archive / "a.wav"), *common]) == 2
    assert "would both write" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_two_processes_under_torchrun_split_the_files_once_and_equal_one_process(archive, small_bundle, tmp_path, capsys):
    import subprocess
    import sys
    from pathlib import Path

    condition = tmp_path / "c.npy"
    c = np.random.default_rng(1).standard_normal(512).astype(np.float32)
    np.save(condition, c / np.linalg.norm(c))
    arguments = ["separate", str(archive), "--embedding", str(condition), "--checkpoint", str(small_bundle)]
    assert main([*arguments, "-o", str(tmp_path / "one")]) == 1
    capsys.readouterr()
    launch = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29517", "-m", "cli.main"]
    done = subprocess.run([*launch, *arguments, "-o", str(tmp_path / "two")], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1])
    lines = done.stdout.splitlines()
    ranks = {rank: [line.split("] ", 2)[-1].split(":")[0] for line in lines if line.startswith(f"[rank {rank}/2]")] for rank in (0, 1)}
    everything = sorted(str(archive / name) for name in [g[0] for g in GOOD] + list(BAD))
    assert sorted(ranks[0] + ranks[1]) == everything and not set(ranks[0]) & set(ranks[1]), done.stdout + done.stderr
    assert all(ranks.values())  # both worked
    log = json.loads((tmp_path / "two" / "lass-separate.json").read_text())  # one log, merged
    assert sorted(log["separated"] + [item["input"] for item in log["failed"]]) == everything
    assert sum("separated 5, skipped 0 (already done), failed 2" in line for line in lines) == 1  # said once
    for name, *_ in GOOD:
        np.testing.assert_array_equal(sf.read(tmp_path / "one" / name)[0], sf.read(tmp_path / "two" / name)[0])


def test_a_manifest_gives_each_file_its_query_mode_and_output(archive, tmp_path, capsys):
    (archive / "list.csv").write_text(
        "path,query,mode,output\n"
        "a.wav,,,\n"  # the command's query and mode, the mirrored name
        "nested/d.wav,speech + beeps,remove,custom/d-quiet.wav\n"
        "corrupt.wav,,,\n"
    )
    out = tmp_path / "out"
    assert main(["separate", str(archive / "list.csv"), "-q", "beeps", "-o", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "separated 2, skipped 0 (already done), failed 1" in printed and "corrupt.wav: FAILED" in printed
    for name, arguments in (("a.wav", ["-q", "beeps"]), ("custom/d-quiet.wav", ["-q", "speech + beeps", "--mode", "remove"])):
        source = archive / ("a.wav" if name == "a.wav" else "nested/d.wav")
        assert main(["separate", str(source), *arguments, "-o", str(tmp_path / "single.wav")]) == 0
        np.testing.assert_array_equal(sf.read(tmp_path / "single.wav")[0], sf.read(out / name)[0])
    (archive / "bad.jsonl").write_text('{"path": "a.wav", "mode": "louder"}\n')
    assert main(["separate", str(archive / "bad.jsonl"), "-q", "beeps", "-o", str(tmp_path / "x")]) == 2
    assert "bad.jsonl, row 1: mode must be isolate or remove, not 'louder'" in capsys.readouterr().err
    (archive / "none.jsonl").write_text('{"path": "a.wav"}\n')
    assert main(["separate", str(archive / "none.jsonl"), "-o", str(tmp_path / "x")]) == 2
    assert "has no query in its manifest row, and none was given" in capsys.readouterr().err


def test_files_of_one_length_share_passes_and_equal_single_file_runs(small_bundle, tmp_path, capsys):
    root, out = tmp_path / "in", tmp_path / "out"
    rng = np.random.default_rng(2)
    names = [f"{i}.wav" for i in range(6)]
    for i, name in enumerate(names):  # 2 s each: one segment, the same length at the model's rate
        write_audio(root / name, (0.1 * rng.standard_normal((1 + i % 2, 96_000))).astype(np.float32), 48_000, "FLOAT")
    condition = tmp_path / "c.npy"
    np.save(condition, np.full(512, 512**-0.5, np.float32))
    model = ["--embedding", str(condition), "--checkpoint", str(small_bundle)]
    assert main(["separate", str(root), *model, "-o", str(out), "--workers", "3"]) == 0
    assert json.loads((out / "lass-separate.json").read_text())["forward_passes"] == 2  # three files per pass
    for name in names:
        assert main(["separate", str(root / name), *model, "-o", str(tmp_path / "single.wav")]) == 0
        np.testing.assert_allclose(sf.read(out / name)[0], sf.read(tmp_path / "single.wav")[0], rtol=0, atol=1e-6)
    capsys.readouterr()


@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGINT"])
def test_an_interrupted_run_stops_its_workers_and_leaves_no_partial_output(signal_name, small_bundle, tmp_path):
    import signal
    import subprocess
    import sys
    from pathlib import Path

    root, out = tmp_path / "in", tmp_path / "out"
    for i in range(40):
        write_audio(root / f"{i:02}.wav", np.full((1, 30 * 16_000), 0.01 * (i + 1), np.float32), 16_000)
    condition = tmp_path / "c.npy"
    np.save(condition, np.full(512, 512**-0.5, np.float32))
    command = [sys.executable, "-m", "cli.main", "separate", str(root), "--embedding", str(condition),
               "--checkpoint", str(small_bundle), "-o", str(out), "--workers", "2"]
    run = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[1])
    assert "of audio in" in run.stdout.readline()  # a file is done, others are under way
    run.send_signal(getattr(signal, signal_name))
    run.communicate(timeout=60)
    assert run.returncode == 128 + getattr(signal, signal_name)
    assert not list(out.rglob("*.part"))  # the files under way were dropped
    written = [p for p in out.glob("*.wav")]
    assert 1 <= len(written) < 40
    assert all(sf.info(p).frames == 30 * 16_000 for p in written)


def test_running_out_of_memory_ends_the_run_instead_of_failing_each_file(tmp_path):
    """Only what one file can get wrong is that file's failure; an out-of-memory error is no file's
    fault: the run ends with it (exit 1 and its traceback from the command), nothing reported failed."""
    from models.many_files import BatchReport, Job, separate_files
    from models.config import SeparationConfig
    from models.separator import Separator
    from tests.doubles import OutOfMemoryNet

    torch.manual_seed(0)
    separator = Separator(OutOfMemoryNet(SeparationConfig(width=0.125)).eval())
    jobs = []
    for name in ("a", "b"):
        write_audio(tmp_path / f"{name}.wav", np.zeros((1, 16_000), np.float32), 32_000)
        jobs.append(Job(tmp_path / f"{name}.wav", (tmp_path / "out" / f"{name}.wav",)))
    condition = torch.nn.functional.normalize(torch.ones(1, 512), dim=-1)
    report = BatchReport()
    with pytest.raises(torch.OutOfMemoryError):
        separate_files(separator, jobs, lambda job: (condition, None), "isolate", False, report)
    assert report.failed == {} and not any((tmp_path / "out").rglob("*"))  # nothing half-written either
