"""The mean of several bundles' weights (a "model soup"): fine-tunes that start from one model stay
close enough that the mean of their weights is a model too, and it often keeps what each gained
where each alone loses something (run 12 the short chirps, run 14 the packages held out whole).

    python -m training.average --out runs/soup/model.safetensors runs/notones/model.safetensors runs/chirps/model.safetensors

Only bundles of one architecture, shape, query net and caption texts average: anything else is
refused by name. Floating-point tensors (weights, BatchNorm statistics) are averaged in float64;
counters (BatchNorm's ``num_batches_tracked``, which inference never reads) are the first bundle's.
The caption memory is no weight: its features (the frozen MiniLM's, of the same texts) must be
equal, and its blend temperature, one of a few chosen at export, is the first bundle's. The metadata
is the first bundle's, with ``averaged_from``: each file's name and SHA-256.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from safetensors.torch import save

from audio.places import write_atomically
from models.checkpoint import read_state_dict
from models.errors import ModelLoadingError, UserError
from models.loading import BUNDLE_QUERY_PREFIX, bundle_metadata
from training.evaluate import file_sha256

MUST_AGREE = ("format", "architecture", "separation", "query_net", "caption_labels")  # metadata
MEMORY = BUNDLE_QUERY_PREFIX + "memory."  # the caption memory's tensors: the first bundle's
MEMORY_FEATURES = MEMORY + "features"


def _read(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    not_a_bundle = UserError(f"{path} is not a lass bundle (the .safetensors lass train writes); give bundles to average")
    if path.suffix != ".safetensors":
        raise not_a_bundle
    try:
        tensors = read_state_dict(path)
    except ModelLoadingError as error:
        raise UserError(f"{error}; give bundles to average") from None
    metadata = bundle_metadata(path)
    if metadata is None:
        raise not_a_bundle
    return tensors, metadata


def average_bundles(paths: list[Path]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """``(tensors, metadata)`` of the mean of two or more bundles, after checking that they agree."""
    if len(paths) < 2:
        raise UserError("give two or more bundles to average")
    first_tensors, first_metadata = _read(paths[0])
    averages = [key for key, tensor in first_tensors.items() if tensor.is_floating_point() and not key.startswith(MEMORY)]
    sums = {key: first_tensors[key].double() for key in averages}
    for path in paths[1:]:
        tensors, metadata = _read(path)
        differing = [key for key in MUST_AGREE if metadata.get(key) != first_metadata.get(key)]
        if differing:
            raise UserError(f"{path} differs from {paths[0]} in {', '.join(differing)}: only fine-tunes of one model average")
        if tensors.keys() != first_tensors.keys() or any(tensors[key].shape != first_tensors[key].shape for key in tensors):
            raise UserError(f"{path} holds other tensors than {paths[0]}: only fine-tunes of one model average")
        if MEMORY_FEATURES in tensors and not torch.equal(tensors[MEMORY_FEATURES], first_tensors[MEMORY_FEATURES]):
            raise UserError(f"{path} has another caption memory than {paths[0]}: only fine-tunes on the same texts average")
        for key in averages:
            sums[key] += tensors[key].double()
    averaged = first_tensors | {key: (sums[key] / len(paths)).to(first_tensors[key].dtype) for key in averages}
    sources = [{"file": path.name, "sha256": file_sha256(path)} for path in paths]
    return averaged, first_metadata | {"averaged_from": json.dumps(sources)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m training.average", description="Average the weights of fine-tunes of one model into one bundle.")
    parser.add_argument("bundles", type=Path, nargs="+", help="two or more fine-tunes of one model")
    parser.add_argument("--out", type=Path, required=True, help="the averaged bundle (written whole or not at all)")
    args = parser.parse_args(argv)
    try:
        tensors, metadata = average_bundles(args.bundles)
    except UserError as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(args.out, save({key: tensor.contiguous() for key, tensor in tensors.items()}, metadata=metadata))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
