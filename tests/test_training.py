"""Training pipeline: metrics against known values, data, a tiny model learning, eval, fine-tuning."""

import hashlib
import json

import numpy as np
import pytest
import torch
from scipy.ndimage import maximum_filter1d

from audio.files import write_audio
from cli.main import main
from models.config import MODEL_SAMPLE_RATE_HZ, UNPADDED_SEGMENT_SAMPLES, SeparationConfig
from models.errors import ModelLoadingError, UserError
from models.loading import bundle_metadata, load_query_net
from models.minilm import CaptionMemory, MiniLmQueryNet
from models.resunet import ResUNet30
from tests.doubles import RecordingPool
from training.caption_memory import TEMPERATURES, leave_one_caption_out_accuracy
from training.data import CONFUSED_WITH, CaptionText, FolderSources, GeneratedSources, MixConfig, Mixtures, mix_sources, rms
from models.metrics import MAX_DB, sdr, separation_scores, si_sdr
from training.sources import PHRASINGS, SOUND_CLASSES, beeps, chirps
from training.task import SeparationTask
from training.train import TrainConfig, train


def test_metrics_known_values():
    rng = np.random.default_rng(0)
    s = rng.standard_normal(32_000)
    assert si_sdr(s, 0.3 * s) == MAX_DB  # scale-invariant: a scaled copy is perfect (clipped)
    assert sdr(s, s) == MAX_DB
    assert sdr(s, 0.5 * s) == pytest.approx(20 * np.log10(2), abs=1e-9)
    noise = rng.standard_normal(32_000)
    noise *= np.sqrt(np.sum(s**2) / np.sum(noise**2)) * 10 ** (-10 / 20)
    assert sdr(s, s + noise) == pytest.approx(10.0, abs=1e-9)
    assert si_sdr(s, s + noise) == pytest.approx(10.0, abs=0.1)
    scores = separation_scores(s, s + 0.1 * noise, s + noise)
    assert scores["sdri"] == pytest.approx(20.0, abs=1e-6)


def test_mixing_sets_snr_and_level():
    rng = np.random.default_rng(1)
    target, other = rng.standard_normal(8000), 5 * rng.standard_normal(8000)
    mixture, scaled = mix_sources(target, [other], snr_db=-5.0, level_dbfs=-20.0)
    interference = mixture - scaled
    assert 20 * np.log10(rms(scaled) / rms(interference)) == pytest.approx(-5.0, abs=1e-3)
    assert 20 * np.log10(rms(mixture)) == pytest.approx(-20.0, abs=1e-3)
    assert np.abs(mixture).max() <= 0.99


def test_generated_items_are_seeded_and_splits_differ():
    data = Mixtures(GeneratedSources(), 4, seed=3)
    again = Mixtures(GeneratedSources(), 4, seed=3)
    heldout = Mixtures(GeneratedSources("heldout"), 4, seed=3, split="heldout")
    np.testing.assert_array_equal(data[2]["mixture"], again[2]["mixture"])
    assert not torch.equal(data[2]["mixture"], heldout[2]["mixture"])
    for sound in SOUND_CLASSES:
        assert not set(sound.train_captions) & set(sound.heldout_captions)
    item = data[0]
    assert item["mixture"].shape == item["target"].shape == (1, UNPADDED_SEGMENT_SAMPLES)
    assert item["caption"] in next(c.train_captions for c in SOUND_CLASSES if c.name == item["label"])


def test_generated_beeps_come_at_every_length_and_duty_and_every_clip_holds_one():
    """#34: trained on beeps of a few lengths, the models dropped short sparse ones (a tenth of a second
    every second), which the rings and chimes of the library had taught as theirs."""
    n = UNPADDED_SEGMENT_SAMPLES
    beep_lengths_s, duties = [], []
    for seed in range(100):
        on = maximum_filter1d(np.abs(beeps(np.random.default_rng(seed), n)), size=100) > 0.1
        assert on.any()
        edges = np.flatnonzero(np.diff(on.astype(int)))
        starts, ends = edges[on[edges + 1]], edges[~on[edges + 1]]
        beep_lengths_s += [(end - start) / MODEL_SAMPLE_RATE_HZ for start in starts for end in ends[ends > start][:1]]
        duties.append(on.mean())
    assert min(beep_lengths_s) < 0.07 and max(beep_lengths_s) > 0.6
    assert min(duties) < 0.2 and max(duties) > 0.8


def test_generated_chirps_are_sweeps_of_every_length_and_duty_and_every_clip_holds_one():
    """#34: trained on chirps of 30-90 ms, a model met with longer ones (the short-tone check's run to
    250 ms) had only the beeps of every length to call them by. Each chirp sweeps, up or down."""
    n = UNPADDED_SEGMENT_SAMPLES
    chirp_lengths_s, duties = [], []
    for seed in range(100):
        sound = chirps(np.random.default_rng(seed), n)
        on = maximum_filter1d(np.abs(sound), size=100) > 0.1
        assert on.any()
        edges = np.flatnonzero(np.diff(on.astype(int)))
        starts, ends = edges[on[edges + 1]], edges[~on[edges + 1]]
        chirp_lengths_s += [(end - start) / MODEL_SAMPLE_RATE_HZ for start in starts for end in ends[ends > start][:1]]
        duties.append(on.mean())
        if duties[-1] < 0.4:  # chirps apart: the first one alone from its start to its end
            start, end = starts[0], ends[ends > starts[0]][0]
            third = (end - start) // 3
            crossings = [np.count_nonzero(np.diff(np.sign(part)) != 0) for part in (sound[start : start + third], sound[end - third : end])]
            assert max(crossings) > 1.1 * min(crossings)
    assert min(chirp_lengths_s) < 0.035 and max(chirp_lengths_s) > 0.2
    assert min(duties) < 0.2 and max(duties) > 0.8


def test_a_confusable_share_pairs_speech_with_pitched_sounds():
    """At share 1 every mixture whose target has a confusable label pairs it with one (speech with a
    pitched sound, a pitched sound with speech); at share 0 the draw stays random; a share outside 0..1
    is refused."""

    def pairs(share: float) -> list[tuple[str, str]]:
        data = Mixtures(RecordingPool(("beeps", "drums", "noise", "piano", "speech", "ticking"), held={}), 60, seed=1, config=MixConfig(segment_samples=320, confusable_share=share))
        return [(item["label"], item["interferers"].split(" + ")[0]) for item in data]

    always = [(target, first) for target, first in pairs(1.0) if target in CONFUSED_WITH]
    assert always and all(first in CONFUSED_WITH[target] for target, first in always)
    by_chance = [(target, first) for target, first in pairs(0.0) if target in CONFUSED_WITH]
    assert any(first not in CONFUSED_WITH[target] for target, first in by_chance)
    with pytest.raises(UserError, match="0 to 1"):
        MixConfig(confusable_share=1.5)


def test_training_phrasings_never_produce_a_heldout_caption():
    every_training_text = {
        phrasing.format(caption) for sound in SOUND_CLASSES for caption in sound.train_captions
        for phrasing in ("{}", *PHRASINGS)
    }
    assert not every_training_text & {h for sound in SOUND_CLASSES for h in sound.heldout_captions}
    rng = np.random.default_rng(0)
    always, never = GeneratedSources("train", phrasing_probability=1.0), GeneratedSources("heldout", 0.0)
    phrased = {always.caption(rng, "siren") for _ in range(50)}
    siren = next(c for c in SOUND_CLASSES if c.name == "siren")
    assert phrased <= every_training_text and not phrased & set(siren.train_captions)
    assert {never.caption(rng, "siren") for _ in range(20)} == set(siren.heldout_captions)


def test_caption_memory_blends_the_nearest_training_texts():
    rng = torch.Generator().manual_seed(0)
    centres = torch.nn.functional.normalize(torch.randn(2, 384, generator=rng), dim=-1)
    features = torch.nn.functional.normalize(centres.repeat_interleave(3, 0) + 0.05 * torch.randn(6, 384, generator=rng), dim=-1)
    texts = [CaptionText(label, f"{label} {i}", f"{label} {i}") for label in "ab" for i in range(3)]
    conditions = torch.nn.functional.normalize(torch.randn(6, 512, generator=rng), dim=-1)
    assert leave_one_caption_out_accuracy(features, conditions, texts, 0.02) == 1.0
    memory = CaptionMemory(features, 0.02)
    weights = memory.weights(features[:1])
    assert weights.sum().item() == pytest.approx(1.0) and weights[0, 0] > 0.99  # a memory text answers itself
    query = torch.nn.functional.normalize(centres[1:] + 0.05 * torch.randn(1, 384, generator=rng), dim=-1)
    assert memory.weights(query)[0, 3:].sum() > 0.99  # an unseen text near b blends only b's texts
    with pytest.raises(ModelLoadingError, match="positive temperature"):
        CaptionMemory(features, 0.0)


def test_folder_sources_from_captions_csv(tmp_path):
    for i in range(3):
        write_audio(tmp_path / f"clip{i}.wav", 0.1 * np.sin(np.arange(8000) * (i + 1) / 10)[None].astype(np.float32), 16_000)
    (tmp_path / "captions.csv").write_text("file,caption\nclip0.wav,a low tone\nclip0.wav,low hum\nclip1.wav,mid tone\nclip2.wav,high tone\n")
    pool = FolderSources(tmp_path, tmp_path / "captions.csv")
    item = Mixtures(pool, 2, seed=0)[1]
    assert item["mixture"].shape == (1, UNPADDED_SEGMENT_SAMPLES) and item["label"] in pool.labels
    assert pool.captions_by_file["clip0.wav"] == ["a low tone", "low hum"]


@pytest.fixture(scope="module")
def minilm():
    return MiniLmQueryNet()


def test_tiny_model_loss_falls(minilm):
    torch.manual_seed(0)
    task = SeparationTask(ResUNet30(SeparationConfig(width=0.125)), minilm, learning_rate=3e-3, warmup_steps=1)
    optimizer = task.configure_optimizers()["optimizer"]
    data = Mixtures(GeneratedSources(), 4, seed=0, config=MixConfig(segment_samples=31 * 320))
    batch = torch.utils.data.default_collate([data[i] for i in range(4)])
    losses = []
    for _ in range(20):
        loss = torch.nn.functional.l1_loss(task.net(batch["mixture"], task.conditions(batch["caption"])), batch["target"])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:3]), losses


def test_train_command_writes_bundle_and_eval_scores_it(tmp_path):
    run = tmp_path / "run"
    args = ["train", "--out", str(run), "--steps", "2", "--batch-size", "2", "--width", "0.125", "--segment-samples", "9920"]
    assert main(args + ["--val-items", "2", "--val-every", "2", "--checkpoint-every", "1000", "--warmup-steps", "1"]) == 0
    bundle = run / "model.safetensors"
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)["global_step"] == 2  # the final step
    memory = json.loads(bundle_metadata(bundle)["caption_memory"])
    assert memory["texts"] == len(GeneratedSources("train", 0.5).texts())
    accuracy = memory["leave_one_caption_out_accuracy"]
    assert memory["temperature"] in TEMPERATURES and accuracy[str(memory["temperature"])] == max(accuracy.values())
    query_net = load_query_net(bundle)
    assert query_net.memory.features.shape == (memory["texts"], 384)
    assert query_net.memory.labels == [t.label for t in GeneratedSources("train", 0.5).texts()]
    assert query_net.nearest_sound("a siren wailing").label == "siren"
    out = tmp_path / "eval"
    assert main(["eval", "--checkpoint", str(bundle), "--per-class", "1", "--snr", "0", "--out", str(out)]) == 0
    result = json.loads(out.with_suffix(".json").read_text())
    assert set(result["summary"]) == {c.name for c in SOUND_CLASSES} | {"overall"}
    assert result["settings"]["checkpoint_sha256"] == hashlib.sha256(bundle.read_bytes()).hexdigest()
    assert len(result["items"]) == len(SOUND_CLASSES)
    assert out.with_suffix(".csv").read_text().startswith("label,interferers,caption,snr_db,sdr,si_sdr,sdri,si_sdri")
    # resuming continues from the last checkpoint
    assert main(args[:4] + ["4"] + args[5:] + ["--val-items", "2", "--val-every", "2", "--warmup-steps", "1"]) == 0
    metrics = (run / "logs" / "csv").glob("version_*/metrics.csv")
    assert max(int(float(line.split(",")[1])) for p in metrics for line in p.read_text().splitlines()[1:] if line.split(",")[1]) >= 3


def test_fine_tuning_from_official_checkpoint_runs_one_step(official_checkpoint, tokenizer_dir, tmp_path, monkeypatch):
    import models.loading

    real = models.loading.load_clap_query_net
    monkeypatch.setattr(models.loading, "load_clap_query_net", lambda c, t=None, s=None: real(c, tokenizer_dir, s))
    config = TrainConfig(
        out_dir=tmp_path / "ft", steps=1, batch_size=1, init_checkpoint=official_checkpoint, val_items=1,
        val_every=1, checkpoint_every=1000, warmup_steps=1,
    )
    bundle = train(config)
    before = models.loading.load_separation_net(official_checkpoint).state_dict()
    after = models.loading.load_separation_net(bundle).state_dict()
    assert not torch.equal(before["base.after_conv.weight"], after["base.after_conv.weight"])


def test_train_takes_the_low_latency_architecture_and_prints_only_the_run(tmp_path, capfd):
    """`--architecture lowlatency` trains and exports the streaming-native network (its bundle says
    so); a fine-tune from it must name the same architecture. Lightning's advertisement, its
    "Epoch 0/-2" and the deprecation notices about its internals are not printed."""
    from models.loading import load_separation_net
    from models.lowlatency import LowLatencyNet

    run = tmp_path / "run"
    args = ["train", "--out", str(run), "--steps", "2", "--batch-size", "2", "--segment-samples", "9920", "--val-items", "2"]
    assert main(args + ["--architecture", "lowlatency", "--val-every", "2", "--checkpoint-every", "1000", "--warmup-steps", "1"]) == 0
    said = "".join(capfd.readouterr())
    for noise in ("Tip:", "Epoch 0/-2", "LeafSpec", "weights_only"):
        assert noise not in said
    bundle = run / "model.safetensors"
    assert bundle_metadata(bundle)["architecture"] == "lowlatency" and isinstance(load_separation_net(bundle), LowLatencyNet)
    assert main(["train", "--out", str(tmp_path / "ft"), "--init-checkpoint", str(bundle), "--steps", "1"]) == 2
    assert "holds a lowlatency network, not resunet: pass --architecture lowlatency" in capfd.readouterr().err


def test_a_low_latency_fine_tune_takes_another_look_ahead(tmp_path):
    """`--lookahead-frames` with `--init-checkpoint`: the same weights, the mask applied that many
    frames back; the bundle records it. The ResUNet has no look-ahead to set."""
    from models.loading import load_separation_net

    base = ["--steps", "1", "--batch-size", "2", "--segment-samples", "9920", "--val-items", "2", "--val-every", "1000", "--warmup-steps", "1"]
    first = tmp_path / "first"
    assert main(["train", "--out", str(first), "--architecture", "lowlatency", *base]) == 0
    shifted = tmp_path / "shifted"
    args = ["train", "--out", str(shifted), "--architecture", "lowlatency", "--init-checkpoint", str(first / "model.safetensors")]
    assert main(args + ["--lookahead-frames", "3", "--context-ms", "32", *base]) == 0
    assert load_separation_net(shifted / "model.safetensors").config.lookahead_frames == 3
    assert load_separation_net(shifted / "model.safetensors").config.context_samples == 1024
    assert load_separation_net(first / "model.safetensors").config.lookahead_frames == 1
    assert main(["train", "--out", str(tmp_path / "resunet"), "--lookahead-frames", "2", *base]) == 2
    assert main(["train", "--out", str(tmp_path / "resunet"), "--context-ms", "32", *base]) == 2


def test_a_teacher_adds_its_distance_to_the_loss_and_stays_out_of_the_checkpoint(tmp_path):
    """`--teacher`: the bundled default's output on each mixture is a second target (logged as
    train/teacher_l1); its weights are never saved with the student's."""
    import csv

    import torch

    from models.lowlatency import LowLatencyNet
    from models.separator import default_checkpoint

    run = tmp_path / "student"
    base = ["--steps", "10", "--batch-size", "2", "--segment-samples", "9920", "--val-items", "2", "--val-every", "1000", "--warmup-steps", "1"]
    assert main(["train", "--out", str(run), "--architecture", "lowlatency", "--teacher", str(default_checkpoint()), *base]) == 0
    logged = [row for row in csv.DictReader(open(next(run.glob("logs/csv/*/metrics.csv")))) if row.get("train/teacher_l1")]
    assert logged and float(logged[0]["train/teacher_l1"]) > 0
    saved = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    student = {f"net.{name}" for name in LowLatencyNet().state_dict()}
    assert student <= set(saved) and all(name in student or name.startswith("query_head.") for name in saved)
    weightless = ["train", "--out", str(tmp_path / "none"), "--architecture", "lowlatency", "--teacher", str(default_checkpoint())]
    assert main(weightless + ["--teacher-weight", "0", *base]) == 2


def test_the_snr_loss_is_chosen_on_the_command_line_and_logged_by_its_name(tmp_path):
    """`--loss snr` trains on the thresholded negative SNR (logged as train/snr, a level in dB, negative
    once the estimate is closer to the target than silence); an unknown loss is refused by name."""
    import csv

    run = tmp_path / "snr"
    base = ["--steps", "10", "--batch-size", "2", "--segment-samples", "9920", "--val-items", "2", "--val-every", "1000", "--warmup-steps", "1"]
    assert main(["train", "--out", str(run), "--architecture", "lowlatency", "--loss", "snr", *base]) == 0
    logged = [float(row["train/snr"]) for row in csv.DictReader(open(next(run.glob("logs/csv/*/metrics.csv")))) if row.get("train/snr")]
    assert logged and all(-30.0 <= value < 100.0 for value in logged)
    with pytest.raises(SystemExit):
        main(["train", "--out", str(tmp_path / "other"), "--loss", "sdr", *base])


def test_a_new_context_window_starts_as_the_network_it_extends():
    """Its encoder weights start at zero: before fine-tuning, the network separates as it did."""
    import torch

    from models.lowlatency import LowLatencyConfig, LowLatencyNet
    from training.train import reshaped

    torch.manual_seed(0)
    net = LowLatencyNet(LowLatencyConfig(hidden=16)).eval()
    extended = reshaped(net, None, 1024).eval()
    assert extended.config.context_samples == 1024 and extended.encoder.in_features > net.encoder.in_features
    mixture, condition = torch.randn(1, 1, 8000), torch.nn.functional.normalize(torch.randn(1, 512), dim=-1)
    with torch.inference_mode():
        torch.testing.assert_close(extended(mixture, condition), net(mixture, condition))


def test_the_short_tone_check_mixes_short_events_at_0_db_in_speech_and_noise():
    """Beeps and chirps of 50-250 ms (any duty cycle) in speech and in noise, 0 dB over the mixture."""
    import numpy as np

    from training.short_tones import EVENT_SECONDS, short_tone_items

    items = list(short_tone_items(2, seed=0))
    assert sorted({item["label"] for item in items}) == ["beeps in noise", "beeps in speech", "chirps in noise", "chirps in speech"]
    for item in items:
        target, mixture = item["target"].numpy()[0], item["mixture"].numpy()[0]
        interferer = mixture - target
        assert 10 * np.log10(np.mean(target**2) / np.mean(interferer**2)) == pytest.approx(0.0, abs=0.01)
        on = np.flatnonzero(np.diff(np.concatenate([[0], (np.abs(target) > 0).astype(int), [0]])))
        lengths_s = (on[1::2] - on[::2])[1:-1] / 32_000  # whole events, not the first and last, which the clip may cut
        assert ((lengths_s > EVENT_SECONDS[0] - 0.002) & (lengths_s < EVENT_SECONDS[1] + 0.002)).all()
        assert item["captions"] == [item["label"].split()[0]]
