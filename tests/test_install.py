"""A fresh install without extras (no Lightning, no Qt) runs `lass separate` and `lass stream` with the
bundled model, quietly."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "speech_and_beeps.wav"
EXTRAS = ("lightning", "tensorboard", "PyQt6", "pyqtgraph", "pytest")


def test_install_without_extras_separates_and_streams(tmp_path):
    source = tmp_path / "source"  # pip builds in the tree it is given: a copy keeps the checkout clean
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", ".venv", ".whl", "build", "*.egg-info", "__pycache__", "runs", "artifacts"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(source)], check=True)
    python, lass = str(venv / "bin" / "python"), str(venv / "bin" / "lass")
    present = subprocess.run(
        [python, "-c", f"import importlib.util as u; print([m for m in {EXTRAS!r} if u.find_spec(m)])"],
        capture_output=True, text=True, check=True,
    )
    assert present.stdout.strip() == "[]"  # really without the extras

    assert "usage: lass" in subprocess.run([lass, "--help"], capture_output=True, text=True, check=True).stdout
    separated = subprocess.run(
        [lass, "separate", str(EXAMPLE), "-q", "speech", "-o", str(tmp_path / "speech.wav")],
        capture_output=True, text=True, cwd=tmp_path, check=True,
    )
    assert (tmp_path / "speech.wav").is_file()
    assert separated.stderr == ""  # no progress bars from the model libraries (no terminal, no --verbose)
    subprocess.run(
        [lass, "stream", "--input-file", str(EXAMPLE), "-q", "speech", "--output-file", str(tmp_path / "streamed.wav"), "--hop-ms", "200"],
        capture_output=True, text=True, cwd=tmp_path, check=True,
    )
    assert (tmp_path / "streamed.wav").is_file()
