"""Reading checkpoints safely and mapping official key names onto our modules.

Formats read: PyTorch Lightning ``.ckpt`` (weights under ``state_dict``), laion-clap ``.pt`` (same,
with a ``module.`` prefix), plain state-dict ``.pt``/``.pth``, and our ``.safetensors`` bundles.
Pickled files are opened with ``torch.load(weights_only=True)``: a file that needs arbitrary Python
objects to unpickle is refused, never executed.
"""

from __future__ import annotations

import pickle
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from models.errors import ModelLoadingError

StateDict = dict[str, torch.Tensor]
ZIP_MAGIC = b"PK\x03\x04"  # torch.save's format since PyTorch 1.6
PICKLE_PROTOCOL_OPCODE = b"\x80"  # the legacy format: a pickle of protocol 2 or later

SEPARATION_PREFIX = "ss_model."
QUERY_ENCODER_PREFIX = "query_encoder.model."
LAION_PREFIX = "module."

# torchlibrosa's DFT kernels and overlap-add window: analytic, replaced by torch.stft.
SEPARATION_DSP_KEYS = frozenset(
    {
        "base.stft.conv_real.weight",
        "base.stft.conv_imag.weight",
        "base.istft.conv_real.weight",
        "base.istft.conv_imag.weight",
        "base.istft.ola_window",
    }
)

# Official CLAP keys that carry no learned information for the query embeddings: analytic DSP and
# Swin buffers (rebuilt in code), and heads that neither embedding uses.
_CLAP_DROPPED = re.compile(
    r"^(audio_branch\.spectrogram_extractor\.|audio_branch\.logmel_extractor\.melW$"
    r"|audio_branch\.layers\.\d+\.blocks\.\d+\.attn\.relative_position_index$"
    r"|audio_branch\.layers\.\d+\.blocks\.\d+\.attn_mask$|text_branch\.embeddings\.position_ids$"
    r"|audio_branch\.tscam_conv\.|audio_branch\.head\.|text_transform\.|audio_transform\.)"
)
# (official pattern, our pattern), applied in order to what is left.
_CLAP_RENAMES = (
    (r"^text_branch\.", "clap.text_model."),
    (r"^(text|audio)_projection\.0\.", r"clap.\1_projection.linear1."),
    (r"^(text|audio)_projection\.2\.", r"clap.\1_projection.linear2."),
    (r"^logit_scale_", "clap.logit_scale_"),
    (r"^audio_branch\.bn0\.", "clap.audio_model.audio_encoder.batch_norm."),
    (r"^audio_branch\.", "clap.audio_model.audio_encoder."),
    (r"\.norm1\.", ".layernorm_before."),
    (r"\.norm2\.", ".layernorm_after."),
    (r"\.attn\.relative_position_bias_table$", ".attention.self.relative_position_bias_table"),
    (r"\.attn\.proj\.", ".attention.output.dense."),
    (r"\.mlp\.fc1\.", ".intermediate.dense."),
    (r"\.mlp\.fc2\.", ".output.dense."),
)
_QKV = re.compile(r"^(.*)\.attn\.qkv\.(weight|bias)$")


def read_state_dict(path: Path) -> StateDict:
    """All tensors of a checkpoint file, unwrapped from a Lightning/laion ``state_dict`` if present."""
    path = Path(path)
    if not path.is_file():
        raise ModelLoadingError(f"checkpoint not found: {path}")
    if path.suffix == ".safetensors":
        try:
            return load_file(path)
        except (SafetensorError, OSError) as error:
            raise ModelLoadingError(f"{path} is not a readable safetensors file ({error})") from error
    obj = load_pickled(path)
    state = obj.get("state_dict", obj) if isinstance(obj, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelLoadingError(f"{path} holds no state dict of tensors (top-level keys: {_keys(obj)})")
    return state


def load_pickled(path: Path) -> object:
    """What a PyTorch file (``torch.save``: zip or legacy pickle) holds, read with
    ``weights_only=True``: tensors and plain containers only. Raises :class:`ModelLoadingError` for a
    file that is no such file, or that would need arbitrary Python objects (code) to load."""
    with open(path, "rb") as handle:
        start = handle.read(4)
    if not (start.startswith(ZIP_MAGIC) or start[:1] == PICKLE_PROTOCOL_OPCODE):
        raise ModelLoadingError(f"{path} is not a PyTorch checkpoint (it starts with {start!r}, not a zip or pickle header)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
    except pickle.UnpicklingError as error:
        raise ModelLoadingError(
            f"{path} contains pickled Python objects that would run code when loaded; it was refused. "
            f"Only tensors and plain containers are accepted (details: {str(error).splitlines()[0]})"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as error:
        raise ModelLoadingError(f"{path} is not a readable PyTorch checkpoint (corrupt or truncated?): {error}") from None


def _keys(obj: object) -> str:
    return ", ".join(map(str, list(obj)[:8])) if isinstance(obj, dict) else type(obj).__name__


def strip_prefix(state: StateDict, prefix: str) -> StateDict:
    """The entries under ``prefix``, with the prefix removed."""
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}


def separation_state_from_official(state: StateDict) -> StateDict:
    """An official checkpoint's separation weights (with or without ``ss_model.``), DSP keys dropped."""
    if any(k.startswith(SEPARATION_PREFIX) for k in state):
        state = strip_prefix(state, SEPARATION_PREFIX)
    return {k: v for k, v in state.items() if k not in SEPARATION_DSP_KEYS}


def clap_state_from_official(state: StateDict) -> StateDict:
    """Official CLAP weights (AudioSep ``query_encoder.model.*`` or laion ``module.*``) in our names."""
    for prefix in (QUERY_ENCODER_PREFIX, LAION_PREFIX):
        if any(k.startswith(prefix) for k in state):
            state = strip_prefix(state, prefix)
            break
    out: StateDict = {}
    for key, value in state.items():
        if _CLAP_DROPPED.match(key):
            continue
        qkv = _QKV.match(key)
        if qkv:
            stem = _rename(qkv.group(1))
            for part, chunk in zip(("query", "key", "value"), value.chunk(3, dim=0)):
                out[f"{stem}.attention.self.{part}.{qkv.group(2)}"] = chunk.clone()
            continue
        out[_rename(key)] = value
    return out


def _rename(key: str) -> str:
    for pattern, replacement in _CLAP_RENAMES:
        key = re.sub(pattern, replacement, key)
    return key


def load_into(module: nn.Module, state: StateDict, source: Path | str, derived: Iterable[str] = ()) -> None:
    """Strict load: every key of ``module`` must be in ``state`` and nothing else.

    ``derived`` names buffers the module computes itself (analytic), taken from the module when the
    checkpoint lacks them. Missing and unexpected keys are listed by name in the error.
    """
    state = dict(state)
    own = module.state_dict()
    for key in derived:
        state.setdefault(key, own[key])
    check_fits(module, state, source)
    nonfinite = sorted(k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all()))
    if nonfinite:
        raise ModelLoadingError(
            f"{source} holds weights that are NaN or infinite, so every output would be too:"
            + _listing("non-finite tensors", nonfinite)
            + "\nThe file is damaged, or the training that wrote it diverged: use another checkpoint."
        )
    module.load_state_dict(state, strict=True)


def check_fits(module: nn.Module, state: StateDict, source: Path | str) -> None:
    """Every key of ``module`` in ``state`` with its shape, and nothing else. Works on a module built
    on the ``meta`` device, so a checkpoint that does not fit is refused before the model is allocated."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    mismatched = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or mismatched:
        raise ModelLoadingError(
            f"{source} does not fit {type(module).__name__}:"
            + _listing("missing keys", missing)
            + _listing("unexpected keys", unexpected)
            + _listing("wrong shapes", [f"{k} {tuple(state[k].shape)} != {tuple(own[k].shape)}" for k in mismatched])
            + "\nIs this the right checkpoint for this model?"
        )


def _listing(title: str, keys: list[str], limit: int = 12) -> str:
    if not keys:
        return ""
    more = f" ... and {len(keys) - limit} more" if len(keys) > limit else ""
    return f"\n  {title} ({len(keys)}): " + ", ".join(keys[:limit]) + more
