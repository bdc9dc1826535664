"""The fast inference path: the same weights, rearranged for speed once, when a model is loaded.

Each step is kept because ``benchmarks/inference.py`` measures a gain from it (the README quotes the
table), and each changes the numbers by a measured amount only:

- FiLM offsets are computed once per query (``net.film(condition)``), never per forward pass.
- BatchNorm folding: the second BatchNorm of every residual block follows a bias-free convolution, so
  its scale goes into that convolution's weights and its shift into the FiLM layer's bias; the block
  then skips one pass over its activations. (The first BatchNorm follows a residual sum and stays.)
  Float32 exact to rounding.
- Channels-last memory format for the convolutions (oneDNN's preferred layout on CPU).
- Reduced precision for the U-Net's convolutions (STFT, BatchNorm statistics, masks and iSTFT stay
  float32): bfloat16 on CPUs with native bfloat16 matrix units (AMX or AVX512-BF16) and on GPUs that
  have it, float16 on older GPUs; float32 elsewhere. Convolution weights are stored in that type, so
  autocast does not convert them again on every pass. The output deviates from float32 by a measured
  ~50 dB SNR (tests bound it).
- Inference mode, no gradients, on the device chosen automatically (a GPU when there is one).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from models.lowlatency import LowLatencyNet
from models.networks import SeparationNet
from models.resunet import ConvBlockRes, ResUNet30

Precision = Literal["auto", "float32", "bfloat16", "float16"]
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
NATIVE_BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


@dataclass(frozen=True)
class InferenceOptions:
    """How a loaded separation net runs. ``auto`` fields are resolved by :func:`resolve`."""

    device: str = "auto"
    precision: Precision = "auto"
    channels_last: bool = True
    fold_batchnorm: bool = True


@cache
def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 matrix products natively (else they are emulated: slow)."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return any(flag in flags for flag in NATIVE_BF16_CPU_FLAGS)


def resolve(options: InferenceOptions) -> tuple[torch.device, torch.dtype]:
    """The device (``auto``: CUDA when available, else CPU) and U-Net dtype (``auto``: see module doc)."""
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if options.device == "auto" else options.device)
    if options.precision != "auto":
        return device, DTYPES[options.precision]
    if device.type == "cuda":
        return device, torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return device, torch.bfloat16 if cpu_has_native_bf16() else torch.float32


@torch.no_grad()
def fold_batchnorm(net: ResUNet30) -> ResUNet30:
    """A copy of ``net`` (eval mode) with each residual block's second BatchNorm folded away.

    ``bn2(conv1(h)) + film(c)`` equals ``conv1'(h) + film'(c)`` with conv1's output channels scaled by
    ``gamma / sqrt(var + eps)`` and the shift ``beta - mean * scale`` added to the FiLM layer's bias.
    """
    folded = copy.deepcopy(net).eval()
    for block in folded.base.modules():
        if not isinstance(block, ConvBlockRes) or isinstance(block.bn2, nn.Identity):
            continue
        bn = block.bn2
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        block.conv1.weight.mul_(scale[:, None, None, None])
        getattr(folded.film, f"{block.path}->beta2").bias.add_(bn.bias - bn.running_mean * scale)
        block.bn2 = nn.Identity()
    return folded


def optimize_for_inference(net: SeparationNet, options: InferenceOptions = InferenceOptions()) -> SeparationNet:
    """The fast path for ``net``: a new module (``net`` is left as it was), frozen, on its device.

    Call ``film = fast.film(condition)`` once per query and ``fast.separate(x, film)``
    per block; the result matches ``net`` to the tolerance of the chosen precision.
    """
    device, dtype = resolve(options)
    if isinstance(net, LowLatencyNet):  # no batch norm, few weights: frozen on its device in float32
        return copy.deepcopy(net).eval().requires_grad_(False).to(device)
    fast = fold_batchnorm(net) if options.fold_batchnorm else copy.deepcopy(net).eval()
    fast.requires_grad_(False).to(device)
    if options.channels_last:
        fast.base.to(memory_format=torch.channels_last)
    if dtype != torch.float32:
        fast.compute_dtype = dtype
        for module in fast.base.modules():
            if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
                module.to(dtype)
    return fast
