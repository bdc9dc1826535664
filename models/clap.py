"""QueryNet: the CLAP encoder of AudioSep (HTSAT-base audio tower, RoBERTa text tower, no fusion).

Built on transformers' CLAP classes, configured as laion-clap's ``HTSAT-base`` + ``roberta`` model.
The laion-clap package itself is not imported: it downloads tokenizers and RoBERTa weights when it is
imported and cannot run offline. Official checkpoints are renamed to these classes by
:func:`models.checkpoint.clap_state_from_official`.

A text or a clip becomes one L2-normalised 512-d condition ``(batch, 512)``.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from transformers import ClapAudioConfig, ClapConfig, ClapModel, ClapTextConfig, PreTrainedTokenizerBase

from models.clap_frontend import LogMel, query_audio_to_logmel
from models.config import CLAP_TEXT_MAX_TOKENS, CONDITION_DIM
from models.checkpoint import load_into
from models.errors import ModelLoadingError
from models.queries import check_texts

ROBERTA_TOKENIZER_REPO = "FacebookAI/roberta-base"


def htsat_roberta_config() -> ClapConfig:
    """transformers' CLAP config for laion-clap HTSAT-base + RoBERTa-base (as AudioSep uses it)."""
    text = ClapTextConfig(layer_norm_eps=1e-5, projection_dim=CONDITION_DIM)  # post-LN eps of roberta-base
    audio = ClapAudioConfig(
        patch_embeds_hidden_size=128,
        hidden_size=1024,
        depths=[2, 2, 12, 2],
        num_attention_heads=[4, 8, 16, 32],
        enable_fusion=False,
        projection_dim=CONDITION_DIM,
    )
    return ClapConfig(text_config=text.to_dict(), audio_config=audio.to_dict(), projection_dim=CONDITION_DIM)


class ClapQueryEncoder(nn.Module):
    """Text and audio query towers with their projections; outputs L2-normalised conditions."""

    def __init__(self) -> None:
        super().__init__()
        self.clap = ClapModel(htsat_roberta_config())
        self.logmel = LogMel()
        self.eval()

    def text_features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Token ids ``(batch, tokens)`` -> projected, un-normalised features ``(batch, 512)``."""
        pooled = self.clap.text_model(input_ids=input_ids, attention_mask=attention_mask).pooler_output
        return self.clap.text_projection(pooled)

    def embed_tokens(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Token ids ``(batch, tokens)`` -> conditions ``(batch, 512)``."""
        return F.normalize(self.text_features(input_ids, attention_mask), dim=-1)

    def htsat_embedding(self, logmel: torch.Tensor) -> torch.Tensor:
        """Log-mel ``(batch, 1, 1001, 64)`` in dB -> HTSAT's mean token ``(batch, 1024)``."""
        return self.clap.audio_model.audio_encoder(input_features=logmel).pooler_output

    def embed_audio(self, waveform_32k: torch.Tensor) -> torch.Tensor:
        """Query clip ``(batch, samples)`` at 32 kHz -> conditions ``(batch, 512)``."""
        embedding = self.htsat_embedding(query_audio_to_logmel(waveform_32k, self.logmel))
        return F.normalize(self.clap.audio_projection(embedding), dim=-1)


class ClapQueryNet(nn.Module):
    """The CLAP encoder and its tokenizer: descriptions or clips -> conditions."""

    kind = "clap"

    def __init__(self, encoder: ClapQueryEncoder, tokenizer: PreTrainedTokenizerBase) -> None:
        super().__init__()
        self.encoder = encoder
        self.tokenizer = tokenizer

    @torch.inference_mode()
    def embed_texts(self, texts: list[str]) -> torch.Tensor:
        """Descriptions -> ``(len(texts), 512)`` conditions. Empty descriptions are refused."""
        check_texts(texts)
        tokens = self.tokenizer(
            texts, padding=True, truncation=True, max_length=CLAP_TEXT_MAX_TOKENS, return_tensors="pt"
        )
        return self.encoder.embed_tokens(tokens["input_ids"], tokens["attention_mask"])

    @torch.inference_mode()
    def embed_audio(self, waveform_32k: torch.Tensor) -> torch.Tensor:
        return self.encoder.embed_audio(waveform_32k)

    def sentence_features(self, texts: list[str]) -> torch.Tensor:
        """The frozen part of the text path; for CLAP, all of it."""
        return self.embed_texts(texts)

    def head(self, features: torch.Tensor) -> torch.Tensor:
        """The trainable part of the text path; CLAP stays frozen, so none."""
        return features

    def bundle_state(self) -> dict[str, torch.Tensor]:
        return self.encoder.state_dict()


def load_roberta_tokenizer(directory: Path | None = None) -> PreTrainedTokenizerBase:
    """The roberta-base tokenizer from ``directory``, or from the Hugging Face cache (no download).

    Raises :class:`ModelLoadingError` saying where to put the files when neither has it.
    """
    from transformers import AutoTokenizer

    source = str(directory) if directory is not None else ROBERTA_TOKENIZER_REPO
    try:
        return AutoTokenizer.from_pretrained(source, local_files_only=True)
    except (OSError, ValueError) as error:
        raise ModelLoadingError(
            f"cannot load the RoBERTa tokenizer from {source}: {error}. Download it once with "
            f"`huggingface-cli download {ROBERTA_TOKENIZER_REPO} vocab.json merges.txt tokenizer.json "
            "tokenizer_config.json` or pass --tokenizer DIR with those files."
        ) from error


def _is_derived(key: str) -> bool:
    return key.endswith(("position_ids", "token_type_ids", "relative_position_index"))


def load_clap_encoder(state: dict[str, torch.Tensor], source: Path | str) -> ClapQueryEncoder:
    """A :class:`ClapQueryEncoder` from weights already in our names (see ``clap_state_from_official``)."""
    encoder = ClapQueryEncoder()
    load_into(encoder, state, source, derived=[k for k in encoder.state_dict() if _is_derived(k)])
    return encoder.eval()
