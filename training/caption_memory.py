"""The caption memory a MiniLM bundle ships with: its training texts, and the blend temperature
chosen on those texts alone.

The temperature is the one (of ``TEMPERATURES``) under which a training caption, left out of the
memory with all its phrasings, is best answered by the rest: its blended condition lies nearest to
its own label's mean condition. No held-out text takes part.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from models.minilm import CaptionMemory, MiniLmQueryNet
from training.data import CaptionText

TEMPERATURES = (0.01, 0.02, 0.05, 0.1, 0.2)
MAX_MEMORY_TEXTS = 5000  # 7.7 MB of float32 features: beyond this a bundle ships without a memory


@torch.inference_mode()
def leave_one_caption_out_accuracy(
    features: torch.Tensor, conditions: torch.Tensor, texts: list[CaptionText], temperature: float
) -> float:
    """Fraction of texts whose blend over the other captions' texts is nearest their own label.

    ``features``: ``(n, 384)`` sentence embeddings, ``conditions``: ``(n, 512)`` their conditions.
    """
    labels = sorted({t.label for t in texts})
    caption_ids = {key: i for i, key in enumerate(dict.fromkeys((t.label, t.caption) for t in texts))}
    if len(caption_ids) < 2:
        return 0.0
    label_index = torch.tensor([labels.index(t.label) for t in texts])
    caption_index = torch.tensor([caption_ids[(t.label, t.caption)] for t in texts])
    centroids = F.normalize(torch.stack([conditions[label_index == i].mean(0) for i in range(len(labels))]), dim=-1)
    scores = features @ features.T / temperature
    scores[caption_index[:, None] == caption_index[None, :]] = float("-inf")
    blends = F.normalize(torch.softmax(scores, dim=-1) @ conditions, dim=-1)
    return float(((blends @ centroids.T).argmax(-1) == label_index).float().mean())


@torch.inference_mode()
def build_memory(
    query_net: MiniLmQueryNet, texts: list[CaptionText], features: torch.Tensor | None = None
) -> tuple[CaptionMemory | None, dict[float, float]]:
    """The memory over ``texts`` at the best temperature, and every temperature's accuracy.

    None (and no accuracies) when there are too many texts to ship; ``features`` may be passed when
    already computed (they depend only on the frozen MiniLM).
    """
    if len(texts) > MAX_MEMORY_TEXTS:
        return None, {}
    features = query_net.sentence_features([t.text for t in texts]) if features is None else features
    conditions = query_net.head(features)
    accuracy = {tau: leave_one_caption_out_accuracy(features, conditions, texts, tau) for tau in TEMPERATURES}
    best = max(TEMPERATURES, key=lambda tau: (accuracy[tau], tau))
    return CaptionMemory(features, best), accuracy
