"""What the commands do before their work: load the model (quietly), say which descriptions it does
not know, check saved conditions before any model loads, and clear what killed runs left behind."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from audio.places import remove_stale_parts
from models.queries import check_saved_condition, shown

if TYPE_CHECKING:
    from models.separator import Separator


def check_embeddings(paths: list[Path]) -> None:
    """Refuse, before any model loads, saved conditions that are not ``.npy`` or that hold no usable condition."""
    from models.loading import condition_from_file

    for path in paths:
        check_saved_condition(path)
        condition_from_file(path)


def clear_stale_parts(folder: Path, recursive: bool = False) -> None:
    """Remove the temporary files that killed runs left in ``folder``, and say so."""
    removed = remove_stale_parts(folder, recursive)
    if removed:
        print(f"lass: removed {len(removed)} unfinished temporary file(s) that a killed run left in {folder}", file=sys.stderr)


def warn_about_unknown_sounds(separator: Separator, texts: list[str]) -> None:
    """Say on stderr which descriptions are far from every sound the model was trained on."""
    for text in texts:
        match = separator.nearest_sound(text)
        if match is not None and not match.known:
            print(
                f"lass: warning: {shown(text)!r} is not a sound this model was trained on (nearest: {match.label}, "
                f"similarity {match.text_similarity:.2f}); expect little separation. The official AudioSep "
                "model (--official) knows far more sounds.",
                file=sys.stderr,
            )


def quiet_model_libraries() -> None:
    """No progress bar or notice from transformers (it draws one for every CLAP model it loads) and
    the hub; set before transformers is imported, so that it is not imported for this."""
    from huggingface_hub.utils import disable_progress_bars

    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    disable_progress_bars()


def load_separator(args: argparse.Namespace) -> Separator:
    from models.fast_path import InferenceOptions
    from models.separator import Separator, lowlatency_checkpoint, official_checkpoint

    if not args.verbose:
        quiet_model_libraries()
    checkpoint = official_checkpoint() if args.official else lowlatency_checkpoint() if args.low_latency else args.checkpoint
    options = InferenceOptions(device=args.device, precision=args.precision)
    return Separator.from_checkpoint(checkpoint, args.clap_checkpoint, args.tokenizer, options)
