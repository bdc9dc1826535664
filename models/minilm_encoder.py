"""The bundled model's frozen text encoder: all-MiniLM-L6-v2 (a 6-layer BERT) in plain PyTorch, with its
own ``tokenizer.json`` read by the ``tokenizers`` library.

transformers' ``AutoModel`` gives the same numbers (``tests/test_minilm_encoder.py`` holds the two
together), but importing and building it took 2.4 s of every ``lass separate`` on a 2-core CPU; this
takes a few hundredths. The weights are read from the package's ``model.safetensors`` unchanged.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from models.errors import UserError


@dataclass(frozen=True)
class BertConfig:
    """The fields of a BERT ``config.json`` this encoder uses."""

    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int
    type_vocab_size: int
    layer_norm_eps: float

    @classmethod
    def read(cls, path: Path) -> BertConfig:
        raw = json.loads(path.read_text())
        if raw.get("hidden_act", "gelu") != "gelu" or raw.get("position_embedding_type", "absolute") != "absolute":
            raise UserError(f"{path}: only BERT with GELU and absolute positions is supported")
        return cls(**{name: raw[name] for name in cls.__dataclass_fields__})


class Embeddings(nn.Module):
    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(c.vocab_size, c.hidden_size)
        self.position_embeddings = nn.Embedding(c.max_position_embeddings, c.hidden_size)
        self.token_type_embeddings = nn.Embedding(c.type_vocab_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

    def forward(self, ids: torch.Tensor, types: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(ids.shape[1], device=ids.device)
        return self.LayerNorm(self.word_embeddings(ids) + self.position_embeddings(positions) + self.token_type_embeddings(types))


class Dense(nn.Module):
    """``dense`` then ``LayerNorm(dense(x) + residual)``: BERT's output blocks."""

    def __init__(self, n_in: int, n_out: int, eps: float) -> None:
        super().__init__()
        self.dense = nn.Linear(n_in, n_out)
        self.LayerNorm = nn.LayerNorm(n_out, eps=eps)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dense(x) + residual)


class SelfAttention(nn.Module):
    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        self.heads = c.num_attention_heads
        self.query = nn.Linear(c.hidden_size, c.hidden_size)
        self.key = nn.Linear(c.hidden_size, c.hidden_size)
        self.value = nn.Linear(c.hidden_size, c.hidden_size)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """``x`` ``(batch, tokens, hidden)``; ``keep`` ``(batch, 1, 1, tokens)`` bool, False for padding."""
        batch, tokens, hidden = x.shape
        split = lambda t: t.view(batch, tokens, self.heads, hidden // self.heads).transpose(1, 2)
        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(hidden // self.heads)
        scores = scores.masked_fill(~keep, torch.finfo(scores.dtype).min)
        return (scores.softmax(-1) @ v).transpose(1, 2).reshape(batch, tokens, hidden)


class Attention(nn.Module):
    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        self.self = SelfAttention(c)
        self.output = Dense(c.hidden_size, c.hidden_size, c.layer_norm_eps)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        return self.output(self.self(x, keep), x)


class Intermediate(nn.Module):
    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.intermediate_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.dense(x))


class Layer(nn.Module):
    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        self.attention = Attention(c)
        self.intermediate = Intermediate(c)
        self.output = Dense(c.intermediate_size, c.hidden_size, c.layer_norm_eps)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        x = self.attention(x, keep)
        return self.output(self.intermediate(x), x)


class Encoder(nn.Module):
    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList(Layer(c) for _ in range(c.num_hidden_layers))


class BertEncoder(nn.Module):
    """Token ids -> ``(batch, tokens, hidden)`` last hidden states; parameter names as BERT's files."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.embeddings = Embeddings(config)
        self.encoder = Encoder(config)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        x = self.embeddings(input_ids, torch.zeros_like(input_ids))
        keep = attention_mask.bool()[:, None, None, :]
        for layer in self.encoder.layer:
            x = layer(x, keep)
        return x

    @classmethod
    def from_directory(cls, directory: Path) -> BertEncoder:
        """The encoder of ``directory/config.json`` with ``directory/model.safetensors`` (the pooler and
        buffers it does not use are left out)."""
        encoder = cls(BertConfig.read(directory / "config.json"))
        state = load_file(directory / "model.safetensors")
        own = encoder.state_dict()
        missing = own.keys() - state.keys()
        if missing:
            raise UserError(f"{directory / 'model.safetensors'} lacks {len(missing)} encoder weights, e.g. {sorted(missing)[0]}")
        encoder.load_state_dict({name: state[name] for name in own})
        return encoder.eval().requires_grad_(False)
