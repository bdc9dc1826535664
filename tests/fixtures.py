"""Loading the shared parity fixtures and building seeded weights by their seed rules."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

FIXTURES_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
SEPARATION_PREFIX = "ss_model."
CLAP_PREFIX = "query_encoder.model."
# Stated tolerance of the reduced-precision (bfloat16) fast path: its output is at least this close
# to the official float32 output, as SNR (measured: 55 dB on the seeded weights).
BF16_MIN_SNR_DB = 40.0


def fixture_dir(name: str) -> Path:
    """The fixture folder, or skip the test where this checkout has no shared/ beside it."""
    path = FIXTURES_DIR / name
    if not path.is_dir():
        pytest.skip(f"fixtures not found at {path}")
    return path


def load_reference(name: str) -> dict[str, np.ndarray]:
    with np.load(fixture_dir(name) / "reference_io.npz") as data:
        return {k: data[k] for k in data.files}


def manifest(name: str) -> dict:
    return json.loads((fixture_dir(name) / "state_dict_manifest.json").read_text())


def checksums(name: str) -> dict:
    return json.loads((fixture_dir(name) / "seeded_tensor_checksums.json").read_text())


def seeded_tensor(key: str, shape: list[int], dtype: str, *, gain_rule: bool) -> torch.Tensor:
    """One tensor by the fixtures' seed rule; ``gain_rule`` is the CLAP variant (norm gains 1 + ...)."""
    g = torch.Generator().manual_seed(zlib.crc32(key.encode("utf-8")))
    if key.endswith("num_batches_tracked"):
        return torch.zeros(shape, dtype=torch.int64)
    if key.endswith("running_var"):
        value = torch.rand(shape, generator=g) + 0.5
    elif gain_rule and key.endswith(".weight") and len(shape) == 1:
        value = 1 + torch.randn(shape, generator=g) * 0.05
    else:
        value = torch.randn(shape, generator=g) * 0.05
    return value.to(getattr(torch, dtype))


def nan_like(shape: list[int], dtype: str) -> torch.Tensor:
    """A stand-in for an analytic buffer the loader must ignore: NaN would poison any output using it."""
    if dtype.startswith("int"):
        return torch.full(shape, -1, dtype=torch.int64)
    return torch.full(shape, float("nan"))


def official_separation_state() -> dict[str, torch.Tensor]:
    """Seeded ``ss_model.*`` weights of the official model, DSP keys included (as NaN stand-ins)."""
    man = manifest("audiosep_parity")
    dsp = set(man["fixed_dsp_keys_not_learned"])
    return {
        key: nan_like(shape, dtype) if key in dsp else seeded_tensor(key[len(SEPARATION_PREFIX) :], shape, dtype, gain_rule=False)
        for key, shape, dtype in man["entries"]
    }


def official_clap_state() -> dict[str, torch.Tensor]:
    """Seeded ``query_encoder.model.*`` weights of the official CLAP, analytic keys as NaN stand-ins."""
    man = manifest("clap_parity")
    analytic = set(man["fixed_analytic_keys"])
    return {
        key: nan_like(shape, dtype) if key in analytic else seeded_tensor(key[len(CLAP_PREFIX) :], shape, dtype, gain_rule=True)
        for key, shape, dtype, _ in man["entries"]
    }


def lightning_checkpoint(state: dict[str, torch.Tensor]) -> dict:
    """The top-level layout of a PyTorch Lightning checkpoint around ``state``."""
    return {
        "epoch": 0,
        "global_step": 4_000_000,
        "pytorch-lightning_version": "1.9.0",
        "state_dict": dict(state),
        "loops": {},
        "callbacks": {},
        "optimizer_states": [],
        "lr_schedulers": [],
    }


def write_small_roberta_tokenizer(directory: Path) -> Path:
    """A RoBERTa byte-level BPE tokenizer of the real class with a tiny vocabulary (256 bytes + merges)."""
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import RobertaTokenizerFast

    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for char in sorted(ByteLevel.alphabet()):
        vocab.setdefault(char, len(vocab))
    merges = ["d o", "do g", "Ġ b", "Ġb a", "Ġba r"]
    for merge in merges:
        vocab.setdefault(merge.replace(" ", ""), len(vocab))
    vocab["<mask>"] = len(vocab)
    tokenizer = RobertaTokenizerFast(vocab=vocab, merges=[tuple(m.split()) for m in merges], model_max_length=512)
    tokenizer.save_pretrained(directory)
    return directory
