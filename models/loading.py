"""Building the networks from checkpoint files: official AudioSep/laion-clap files or our bundles.

An official AudioSep Lightning checkpoint holds both networks (``ss_model.*`` and
``query_encoder.model.*``); a laion-clap ``.pt`` holds only the query encoder. Our ``.safetensors``
bundles hold ``ss_model.*`` and ``query_encoder.*`` with the model's shape in the file's metadata.
"""

from __future__ import annotations

import io
import json
from dataclasses import fields
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from audio.places import give_default_file_mode, temporary_beside, write_atomically
from models.checkpoint import (
    QUERY_ENCODER_PREFIX,
    SEPARATION_PREFIX,
    StateDict,
    check_fits,
    clap_state_from_official,
    load_into,
    read_state_dict,
    separation_state_from_official,
    strip_prefix,
)
from models.config import SeparationConfig
from models.errors import ModelLoadingError
from models.minilm import QUERY_KIND as MINILM_KIND
from models.minilm import CaptionMemory, MiniLmQueryNet, QueryProjection

if TYPE_CHECKING:  # transformers is imported only when a CLAP model is loaded
    from models.clap import ClapQueryNet
from models.lowlatency import LowLatencyConfig, LowLatencyNet
from models.networks import SeparationNet
from models.resunet import ResUNet30

BUNDLE_FORMAT = "lass-bundle-1"
BUNDLE_QUERY_PREFIX = "query_encoder."
CONDITION_DIM = 512
MAX_CONDITION_NORM = 1e3  # query networks make unit-length conditions


def bundle_metadata(path: Path) -> dict[str, str] | None:
    """The metadata of one of our bundles, or None for any other file."""
    if Path(path).suffix != ".safetensors":
        return None
    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata() or {}
    return metadata if metadata.get("format") == BUNDLE_FORMAT else None


def save_bundle(path: Path, net: SeparationNet, query_state: StateDict, query_kind: str, **extra: str) -> None:
    """Write a separation net and its query net's weights as one safetensors bundle; its metadata
    records the architecture and shape."""
    tensors = {SEPARATION_PREFIX + k: v.contiguous() for k, v in net.state_dict().items()}
    tensors |= {BUNDLE_QUERY_PREFIX + k: v.contiguous() for k, v in query_state.items()}
    shape = json.dumps(net.config.metadata())
    metadata = {"format": BUNDLE_FORMAT, "architecture": net.architecture, "separation": shape, "query_net": query_kind}
    tmp = temporary_beside(Path(path))
    try:
        save_file(tensors, str(tmp), metadata=metadata | extra)
        give_default_file_mode(tmp)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def load_separation_net(checkpoint: Path, state: StateDict | None = None) -> SeparationNet:
    """SeparationNet from an official checkpoint, a plain state dict, or a bundle (either
    architecture); eval mode."""
    state = read_state_dict(checkpoint) if state is None else state
    metadata = bundle_metadata(checkpoint)
    architecture = (metadata or {}).get("architecture", ResUNet30.architecture)
    if architecture == LowLatencyNet.architecture:
        try:
            config: SeparationConfig | LowLatencyConfig = LowLatencyConfig(**_shape_settings(checkpoint, metadata, LowLatencyConfig))
        except ValueError as error:
            raise ModelLoadingError(f"{checkpoint}: the bundle's metadata describes no usable network ({error}); export it again") from None
        build = LowLatencyNet
    elif architecture == ResUNet30.architecture:
        config = separation_config(checkpoint, metadata)
        build = ResUNet30
    else:
        raise ModelLoadingError(
            f"{checkpoint}: unknown architecture {architecture!r} in the bundle's metadata (known: resunet, lowlatency); "
            "it was written by another version of lass-live: update lass-live"
        )
    separation = separation_state_from_official(state)
    if not separation:
        raise ModelLoadingError(f"{checkpoint} holds no separation weights (no '{SEPARATION_PREFIX}' keys)")
    with torch.device("meta"):  # the shapes the metadata implies, checked before anything is allocated
        check_fits(build(config), separation, f"{checkpoint} (its metadata: {config})")
    net = build(config)
    load_into(net, separation, checkpoint)
    return net.eval()


def separation_config(checkpoint: Path, metadata: dict[str, str] | None) -> SeparationConfig:
    """The ResUNet shape a bundle's metadata records (the official shape for other files). Unknown
    settings and values that are not positive numbers are refused, naming the file."""
    if metadata is None:
        return SeparationConfig()
    return SeparationConfig(**_shape_settings(checkpoint, metadata, SeparationConfig))


MAY_BE_ZERO = ("lookahead_frames", "context_samples")  # the settings whose 0 means "none"


def _shape_settings(checkpoint: Path, metadata: dict[str, str], shape: type) -> dict[str, int | float]:
    """The settings of the dataclass ``shape`` that the bundle's 'separation' metadata records."""
    try:
        values = json.loads(metadata.get("separation", "{}"))
    except json.JSONDecodeError as error:
        raise ModelLoadingError(f"{checkpoint}: the bundle's 'separation' metadata is not JSON ({error}); export it again") from None
    known = {field.name for field in fields(shape)}
    unknown = sorted(set(values) - known) if isinstance(values, dict) else ["(not a mapping)"]
    if unknown:
        raise ModelLoadingError(
            f"{checkpoint}: unknown model settings {unknown} in the bundle's metadata (known: {sorted(known)}); "
            "it was written by another version of lass-live: update lass-live, or export the bundle again"
        )
    for name, value in values.items():
        whole, may_be_zero = name != "width", name in MAY_BE_ZERO
        number = not isinstance(value, bool) and isinstance(value, int if whole else (int, float))
        if not number or not (value >= 0 if may_be_zero else value > 0):
            kind = "a whole number, 0 or more" if may_be_zero else "a positive whole number" if whole else "a positive number"
            raise ModelLoadingError(f"{checkpoint}: the bundle's metadata sets {name} to {value!r}; it must be {kind}")
    return values


def load_clap_query_net(
    checkpoint: Path, tokenizer_dir: Path | None = None, state: StateDict | None = None
) -> ClapQueryNet:
    """The CLAP QueryNet from an AudioSep checkpoint, a laion-clap checkpoint, or a bundle."""
    from models.clap import ClapQueryNet, load_clap_encoder, load_roberta_tokenizer

    state = read_state_dict(checkpoint) if state is None else state
    if bundle_metadata(checkpoint):
        clap_state = strip_prefix(state, BUNDLE_QUERY_PREFIX)
    elif any(k.startswith(QUERY_ENCODER_PREFIX) or k.startswith(("module.text_branch", "text_branch")) for k in state):
        clap_state = clap_state_from_official(state)
    else:
        raise ModelLoadingError(
            f"{checkpoint} holds no CLAP query-encoder weights; pass the laion-clap checkpoint "
            "(music_speech_audioset_epoch_15_esc_89.98.pt) with --clap-checkpoint"
        )
    return ClapQueryNet(load_clap_encoder(clap_state, checkpoint), load_roberta_tokenizer(tokenizer_dir))


def load_query_net(
    checkpoint: Path, tokenizer_dir: Path | None = None, state: StateDict | None = None
) -> ClapQueryNet | MiniLmQueryNet:
    """The query network a checkpoint was trained with: CLAP for official files, as recorded for bundles."""
    metadata = bundle_metadata(checkpoint)
    if metadata and metadata.get("query_net") == MINILM_KIND:
        state = read_state_dict(checkpoint) if state is None else state
        projection = QueryProjection()
        load_into(projection, strip_prefix(state, BUNDLE_QUERY_PREFIX + "projection."), checkpoint)
        return MiniLmQueryNet(projection, _caption_memory(state, checkpoint, metadata))
    return load_clap_query_net(checkpoint, tokenizer_dir, state)


def caption_labels(labels: list[str]) -> str:
    """A bundle's record of its caption memory's classes, one per text: runs of ``[label, count]``."""
    return json.dumps([[label, len(list(run))] for label, run in groupby(labels)])


def _labels_from(record: str, checkpoint: Path) -> list[str]:
    try:
        return [str(label) for label, count in json.loads(record) for _ in range(int(count))]
    except (ValueError, TypeError) as error:
        raise ModelLoadingError(f"{checkpoint}: its caption labels are not [label, count] runs ({error}); export it again") from None


def _caption_memory(state: StateDict, checkpoint: Path, metadata: dict[str, str]) -> CaptionMemory | None:
    memory = strip_prefix(state, BUNDLE_QUERY_PREFIX + "memory.")
    if not memory:
        return None
    if sorted(memory) != ["features", "temperature"]:
        raise ModelLoadingError(
            f"{checkpoint}: the caption memory should hold 'features' and 'temperature', found {sorted(memory)}; "
            "export the bundle again (lass train resumes and re-exports)"
        )
    labels = _labels_from(metadata["caption_labels"], checkpoint) if "caption_labels" in metadata else None
    return CaptionMemory(memory["features"], float(memory["temperature"]), labels)


def has_query_weights(state: StateDict) -> bool:
    return any(k.startswith((QUERY_ENCODER_PREFIX, BUNDLE_QUERY_PREFIX)) for k in state)


def save_condition(path: Path, condition: torch.Tensor) -> None:
    """Write one ``(512,)`` condition as ``.npy``, atomically: what :func:`condition_from_file` reads."""
    encoded = io.BytesIO()
    np.save(encoded, condition.detach().cpu().numpy().astype(np.float32).reshape(CONDITION_DIM))
    write_atomically(path, encoded.getvalue())


def condition_from_file(path: Path) -> torch.Tensor:
    """A saved condition (``.npy`` of shape (512,) or (1, 512)) as ``(1, 512)``. Its header is checked
    before any data is read (a file that claims 10^11 values is refused, not allocated), and values
    that overflow float32, or a condition far larger than any query network makes, are refused."""
    array = np.load(_checked_condition_file(path), allow_pickle=False)
    with np.errstate(over="ignore"):
        condition = array.astype(np.float32).reshape(1, CONDITION_DIM)
    if not np.isfinite(condition).all():
        raise ModelLoadingError(
            f"{path}: its values are NaN or infinite, or overflow float32 (largest magnitude "
            f"{np.nanmax(np.abs(array)):.3g}); save the condition again with 'lass embed'"
        )
    norm = float(np.linalg.norm(condition.astype(np.float64)))
    if norm > MAX_CONDITION_NORM:
        raise ModelLoadingError(
            f"{path}: its length is {norm:.3g}; conditions made by 'lass embed' have length 1 (at most "
            f"{MAX_CONDITION_NORM:g} is taken); save the condition again with 'lass embed'"
        )
    return torch.from_numpy(condition)


def _checked_condition_file(path: Path) -> Path:
    """``path`` once its ``.npy`` header says it holds one 512-d numeric condition and nothing else."""
    try:
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read_header(handle)
            data_bytes = Path(path).stat().st_size - handle.tell()
    except FileNotFoundError:
        raise ModelLoadingError(f"embedding not found: {path}") from None
    except (OSError, ValueError, SyntaxError) as error:
        raise ModelLoadingError(f"cannot read the embedding {path}: {error}") from None
    if dtype.kind not in "fiu":
        raise ModelLoadingError(f"{path} holds {dtype} values, not numbers: save the condition with 'lass embed'")
    if shape not in ((CONDITION_DIM,), (1, CONDITION_DIM)):
        raise ModelLoadingError(f"{path} must hold one {CONDITION_DIM}-d condition, shape (512,) or (1, 512); its header says {shape}")
    if data_bytes != CONDITION_DIM * dtype.itemsize:
        raise ModelLoadingError(f"{path} is damaged: it holds {data_bytes} bytes of values, its header announces {CONDITION_DIM * dtype.itemsize}")
    return Path(path)
