"""What the user reads: no "nan" before the first hop, a file's latency said as measured, and
messages that say what to write (issue #33, items 7 and 8)."""

from pathlib import Path

import pytest

from audio.places import OutputPlaceError, check_writable_format
from cli.main import main
from models.queries import parse_query
from realtime.stats import EngineStats, timing_text


@pytest.mark.parametrize("text", ["speech +", " + guitar", "speech but not", "speech + but not drums"])
def test_an_empty_side_of_a_query_is_named_as_such(text):
    with pytest.raises(ValueError, match="name a sound on each side of \\+ and of 'but not'"):
        parse_query(text)


def test_the_extension_message_names_mp3_where_it_is_written():
    import soundfile as sf

    with pytest.raises(OutputPlaceError) as refused:
        check_writable_format(Path("out.xyz"))
    assert ".wav" in str(refused.value) and (".mp3" in str(refused.value)) == ("MP3" in sf.available_formats())


def test_timings_before_the_first_hop_are_words_not_nan():
    stats = EngineStats(hop_duration_s=0.1)
    assert "nan" not in timing_text(stats.snapshot()).lower()
    stats.record_hops(2, 0.1)
    assert timing_text(stats.snapshot()) == "RTF 0.50 · hop 50.0/50.0 ms (p50/p99)"


def test_a_streamed_file_says_its_latency_as_measured(stream_command, capsys):
    _, args = stream_command(0.5)
    assert main(args + ["--hop-ms", "100"]) == 0
    said = capsys.readouterr().err
    assert "not measured yet" not in said and "nan" not in said.lower()
    latency = said.split("latency ")[-1]
    assert latency.split(" ms (measured ")[0] == latency.split(" ms (measured ")[1].split(" ms)")[0]  # no device: exactly the engine's


def test_a_bug_is_not_called_a_user_error(monkeypatch, capsys):
    """Typed user errors exit with 2 and one line; any other exception is a bug: it reaches the
    caller with its traceback (the installed command exits with 1), never 'lass: error: ...' and 2."""
    import cli.main
    from models.errors import UserError

    def user_error(args):
        raise UserError("no such sound file: say which")

    def bug(args):
        raise ValueError("an index went wrong")

    monkeypatch.setattr(cli.main, "run_embed", user_error)
    assert cli.main.main(["embed", "-q", "speech", "-o", "x.npy"]) == 2
    assert capsys.readouterr().err == "lass: error: no such sound file: say which\n"
    monkeypatch.setattr(cli.main, "run_embed", bug)
    with pytest.raises(ValueError, match="an index went wrong"):
        cli.main.main(["embed", "-q", "speech", "-o", "x.npy"])


def test_a_file_standing_in_for_a_microphone_loops_or_ends_in_silence_at_any_block_size():
    import numpy as np

    from realtime.file_blocks import FileBlocks

    samples = np.arange(1, 6, dtype=np.float32)  # shorter than a block
    looped, once = FileBlocks(samples), FileBlocks(samples, loop=False)
    blocks = [np.zeros(n, dtype=np.float32) for n in (3, 7, 2)]
    for block in blocks:
        looped.read_into(block)
    assert np.concatenate(blocks).tolist() == [1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 1, 2]
    for block in blocks:
        once.read_into(block)
    assert np.concatenate(blocks).tolist() == [1, 2, 3, 4, 5, 0, 0, 0, 0, 0, 0, 0] and once.position == 12


def test_the_kept_share_is_said_plainly_and_a_sound_found_little_is_said_so():
    from realtime.stats import kept_text

    assert kept_text(0.42) == "kept 42 % of the input's energy"
    assert kept_text(0.001) == "kept under 1 % of the input's energy: the model found little of the described sound"
    assert kept_text(0.001, remove=True) == "kept under 1 % of the input's energy"  # removing: little left is no failure
    assert kept_text(float("nan")) == ""


def test_the_live_share_names_the_described_sound_in_either_mode():
    """Live, the figure is the separated sound's share whether it is isolated or removed."""
    from realtime.stats import sound_share_text

    assert sound_share_text(0.42) == "the described sound: 42 % of the input's energy"
    assert sound_share_text(0.001) == "the described sound: under 1 % of the input's energy (the model found little of it)"
    assert sound_share_text(float("nan")) == ""
