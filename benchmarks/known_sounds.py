"""Which descriptions a MiniLM bundle reports as known: the nearest training text's class and its cosine
similarity, for sounds the bundle was never trained on and for the generated classes' held-out
paraphrases, against ``models.minilm.KNOWN_SIMILARITY``. Prints tables, writes JSON.

    python -m benchmarks.known_sounds --out benchmarks/results/known_sounds.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from models.loading import load_query_net
from models.minilm import KNOWN_SIMILARITY
from models.separator import default_checkpoint
from training.sources import SOUND_CLASSES

# Sounds none of the bundled model's classes, generated or recorded, was trained on.
UNTRAINED = (
    "a dog barking", "a cat meowing", "a car horn", "a baby crying", "applause", "footsteps",
    "knocking on a door", "rain falling", "thunder", "wind blowing", "water running", "glass breaking",
    "people laughing", "a saxophone", "a helicopter",
)


def nearest_rows(query_net, texts: list[str]) -> list[dict]:
    """For each text: the nearest training text's class, the similarity, and whether it counts as known."""
    rows = []
    for text in texts:
        nearest = query_net.nearest_sound(text)
        rows.append({"text": text, "nearest": nearest.label, "similarity": nearest.text_similarity, "known": nearest.known})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=None, help="a MiniLM bundle (default: the bundled model)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    checkpoint = args.checkpoint or default_checkpoint()
    query_net = load_query_net(checkpoint)
    if query_net.nearest_sound(UNTRAINED[0]) is None:
        raise SystemExit(f"{checkpoint} has no caption memory with classes; export it again with lass train")
    untrained = nearest_rows(query_net, list(UNTRAINED))
    heldout = nearest_rows(query_net, [c for sound in SOUND_CLASSES for c in sound.heldout_captions])
    print(f"{checkpoint}, known at similarity >= {KNOWN_SIMILARITY}\n| never trained on | nearest | similarity | known |\n| --- | --- | ---: | --- |")
    for row in untrained:
        print(f"| {row['text']} | {row['nearest']} | {row['similarity']:.2f} | {'yes' if row['known'] else 'no'} |")
    below = sum(not row["known"] for row in untrained)
    lowest = min(heldout, key=lambda row: row["similarity"])
    print(f"{below} of {len(untrained)} stay below; held-out paraphrases reach {lowest['similarity']:.2f} at the least ({lowest['text']!r})")
    if args.out:
        result = {"checkpoint": str(checkpoint), "known_similarity": KNOWN_SIMILARITY, "untrained": untrained, "heldout": heldout}
        args.out.write_text(json.dumps(result, indent=1))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
