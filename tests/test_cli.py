"""`lass separate`: formats, rates, channels, lengths, modes, and clear errors with no partial output."""

import numpy as np
import pytest
import soundfile as sf
import torch

from audio.files import read_audio, write_audio
from cli.main import main
from models.metrics import sdr


def _noise(channels, frames, seed=0):
    return (0.1 * np.random.default_rng(seed).standard_normal((channels, frames))).astype(np.float32)


@pytest.fixture
def condition_files(tmp_path):
    paths = []
    for i in range(2):
        c = np.random.default_rng(10 + i).standard_normal(512).astype(np.float32)
        paths.append(tmp_path / f"cond{i}.npy")
        np.save(paths[-1], c / np.linalg.norm(c))
    return paths


def test_stereo_44k_two_queries_keep_rate_length_and_channels(small_bundle, condition_files, tmp_path):
    mix = tmp_path / "mix.flac"
    write_audio(mix, _noise(2, 44_100 * 2 + 17), 44_100, "PCM_24")
    out = tmp_path / "out.flac"
    args = ["separate", str(mix), "--checkpoint", str(small_bundle), "-o", str(out)]
    assert main(args + ["--embedding", str(condition_files[0]), "--embedding", str(condition_files[1])]) == 0
    outputs = sorted(tmp_path.glob("out-*.flac"))
    assert [p.name for p in outputs] == ["out-1-cond0.flac", "out-2-cond1.flac"]
    for path in outputs:
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.frames, info.subtype) == (44_100, 2, 44_100 * 2 + 17, "PCM_24")
    assert not np.allclose(read_audio(outputs[0]).samples, read_audio(outputs[1]).samples)


def test_remove_is_the_input_minus_the_isolated_target(small_bundle, condition_files, tmp_path):
    mix = tmp_path / "mix.wav"
    samples = _noise(1, 24_000)
    write_audio(mix, samples, 24_000, "FLOAT")
    common = ["--checkpoint", str(small_bundle), "--embedding", str(condition_files[0])]
    assert main(["separate", str(mix), *common, "-o", str(tmp_path / "iso.wav")]) == 0
    assert main(["separate", str(mix), *common, "--mode", "remove", "-o", str(tmp_path / "rem.wav")]) == 0
    isolated, removed = read_audio(tmp_path / "iso.wav").samples, read_audio(tmp_path / "rem.wav").samples
    np.testing.assert_allclose(isolated + removed, samples, atol=1e-6)


def test_long_file_windowed_agrees_with_single_pass(seeded_separation_net, official_checkpoint, tmp_path):
    """25 s through `lass separate` (three overlapping 10 s segments) vs one 25 s forward pass."""
    samples = _noise(1, 25 * 32_000, seed=3)
    condition = np.random.default_rng(4).standard_normal((1, 512)).astype(np.float32)
    condition /= np.linalg.norm(condition)
    np.save(tmp_path / "c.npy", condition)
    write_audio(tmp_path / "long.wav", samples, 32_000, "FLOAT")
    args = ["separate", str(tmp_path / "long.wav"), "--embedding", str(tmp_path / "c.npy")]
    assert main(args + ["--checkpoint", str(official_checkpoint), "-o", str(tmp_path / "out.wav")]) == 0
    windowed = read_audio(tmp_path / "out.wav").samples[0]
    with torch.inference_mode():
        single = seeded_separation_net(torch.from_numpy(samples[None]), torch.from_numpy(condition))[0, 0].numpy()
    snr_db = sdr(single, windowed)
    assert snr_db >= 30, f"windowed vs single pass: {snr_db:.1f} dB"


def _run_expecting_error(args, capsys, *fragments):
    assert main(args) == 2
    message = capsys.readouterr().err
    for fragment in fragments:
        assert fragment in message, message


def test_bad_inputs_are_clear_errors_with_no_output(small_bundle, condition_files, tmp_path, capsys):
    out = tmp_path / "out.wav"
    good = tmp_path / "good.wav"
    write_audio(good, _noise(1, 8000), 16_000)
    model = ["--checkpoint", str(small_bundle), "-o", str(out)]
    emb = ["--embedding", str(condition_files[0])]

    _run_expecting_error(["separate", str(tmp_path / "missing.wav"), *emb, *model], capsys, "not found", "missing.wav")
    (tmp_path / "text.wav").write_text("this is not audio")
    _run_expecting_error(["separate", str(tmp_path / "text.wav"), *emb, *model], capsys, "cannot read", "text.wav")
    sf.write(tmp_path / "empty.wav", np.zeros((0, 1), np.float32), 16_000)
    _run_expecting_error(["separate", str(tmp_path / "empty.wav"), *emb, *model], capsys, "no audio", "empty.wav")
    _run_expecting_error(["separate", str(good), "-q", "  ", *model], capsys, "query text is empty")
    _run_expecting_error(["separate", str(good), *model], capsys, "at least one query")
    (tmp_path / "corrupt.ckpt").write_bytes(b"\x80\x02garbage")
    _run_expecting_error(
        ["separate", str(good), *emb, "--checkpoint", str(tmp_path / "corrupt.ckpt"), "-o", str(out)], capsys, "corrupt.ckpt"
    )
    _run_expecting_error(["separate", str(good), *emb, "--checkpoint", str(small_bundle), "-o", str(tmp_path / "o.xyz")], capsys, "o.xyz")
    np.save(tmp_path / "bad.npy", np.zeros(17, np.float32))
    _run_expecting_error(["separate", str(good), "--embedding", str(tmp_path / "bad.npy"), *model], capsys, "bad.npy")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("out", "o.", ".out"))) == []


def test_help_and_argument_errors_answer_without_loading_torch():
    """`lass --help` and a wrong command line never import torch or transformers (they take seconds)."""
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from cli.main import main\n"
        "for argv in (['--help'], ['separate', '--help'], ['train', '--help'], ['stream']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(sorted(name for name in ('torch', 'transformers', 'lightning') if name in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"
    assert "usage: lass stream" in result.stderr


def test_a_description_the_bundled_model_does_not_know_is_said(tmp_path, capsys):
    from pathlib import Path

    example = Path(__file__).resolve().parents[1] / "examples" / "speech_and_beeps.wav"
    assert main(["separate", str(example), "-q", "a dog barking", "-q", "speech", "-o", str(tmp_path / "out.wav")]) == 0
    error = capsys.readouterr().err
    assert "'a dog barking' is not a sound this model was trained on (nearest: siren, similarity 0.49)" in error
    assert "'speech'" not in error  # a known sound passes quietly


def test_separate_says_how_much_of_the_input_each_output_kept(tmp_path, capsys):
    """Each output's energy as a share of the input's, printed beside its path (what the files hold)."""
    import re
    from pathlib import Path

    import numpy as np

    from audio.files import read_audio

    example = Path(__file__).resolve().parents[1] / "examples" / "speech_and_beeps.wav"
    assert main(["separate", str(example), "-q", "speech", "-q", "beeps", "-o", str(tmp_path / "out.wav")]) == 0
    said = capsys.readouterr().out
    energy = lambda path: float(np.square(read_audio(path).samples, dtype=np.float64).sum())
    for line in said.splitlines():
        path, percent = re.fullmatch(r"wrote (\S+) \(kept (\d+) % of the input's energy\)", line).groups()
        assert abs(int(percent) - 100 * energy(Path(path)) / energy(example)) <= 1  # the written file's share, rounded
