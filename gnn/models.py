"""Link-prediction model: fusion input layer -> backend encoder -> dot/MLP head; BPR/BCE losses.

The input layer (``gnn/fusion.py``, chosen by ``cfg.fusion``) turns a node's modalities and id embedding
into one vector; missing modalities use learned "missing" vectors, and unknown or dropped-out ids a
learned "unknown id" vector, so the model learns to place nodes from features and neighbours alone.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gnn.config import TrainConfig
from gnn.fusion import build_input


class Head(nn.Module):
    """Link scorer. 'dot': <h_u, h_c>. 'mlp': a 2-layer MLP per side, then the dot product (scoring all
    items stays one matrix product, so batched top-K works for big graphs)."""

    def __init__(self, kind: str, dim: int):
        super().__init__()
        self.kind = kind
        if kind == "mlp":
            self.left = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim))
            self.right = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim))

    def towers(self, hu: torch.Tensor, hc: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.kind == "mlp":
            return self.left(hu), self.right(hc)
        return hu, hc

    def pair(self, hu: torch.Tensor, hc: torch.Tensor) -> torch.Tensor:
        a, b = self.towers(hu, hc)
        return (a * b).sum(-1)

    def all(self, hu: torch.Tensor, hc: torch.Tensor) -> torch.Tensor:
        a, b = self.towers(hu, hc)
        return a @ b.T


class LinkModel(nn.Module):
    """Input projection + heterogeneous encoder + User–Content head (User–Topic scored by dot product)."""

    def __init__(self, encoder: nn.Module, num_nodes: dict[str, int], feature_dims: dict[str, dict[str, int]],
                 cfg: TrainConfig):
        super().__init__()
        self.inputs = build_input(num_nodes, feature_dims, cfg)
        self.encoder = encoder
        self.head = Head(cfg.head, cfg.emb_dim)

    def forward(self, blocks: list, input_nodes: dict[str, torch.Tensor],
                feats: dict[str, dict[str, tuple[torch.Tensor, torch.Tensor]]], types=None) -> dict[str, torch.Tensor]:
        """Embeddings of the last block's destination nodes (of node ``types`` only, when given)."""
        return self.encode(blocks, input_nodes, feats, types)[0]

    def encode(self, blocks: list, input_nodes: dict[str, torch.Tensor],
               feats: dict[str, dict[str, tuple[torch.Tensor, torch.Tensor]]],
               types=None) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """(output embeddings as ``forward``, input-layer embeddings of every input node)."""
        h = {nt: self.inputs(nt, ids, feats.get(nt, {})) for nt, ids in input_nodes.items()}
        return self.encoder(blocks, h, types), h


def bpr_loss(pos: torch.Tensor, neg: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """−log σ(pos − neg); ``pos`` [B], ``neg`` [B, k]; optional per-positive weights (mean 1)."""
    loss = -F.logsigmoid(pos.unsqueeze(1) - neg).mean(1)
    return (loss * weight).mean() if weight is not None else loss.mean()


def bce_loss(pos: torch.Tensor, neg: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Binary cross-entropy: positives labelled 1, the k sampled negatives per positive labelled 0."""
    lp = F.binary_cross_entropy_with_logits(pos, torch.ones_like(pos), reduction="none")
    ln = F.binary_cross_entropy_with_logits(neg, torch.zeros_like(neg), reduction="none").mean(1)
    loss = lp + ln
    return (loss * weight).mean() if weight is not None else loss.mean()


def l2_penalty(hu: torch.Tensor, hp: torch.Tensor, hn: torch.Tensor) -> torch.Tensor:
    """Batch mean of ||h_u||² + ||h_pos||² + mean_k ||h_neg_k||² (BPR's L2 term on the rows in use)."""
    return (hu.pow(2).sum(-1) + hp.pow(2).sum(-1) + hn.pow(2).sum(-1).mean(-1)).mean()


LOSSES = {"bpr": bpr_loss, "bce": bce_loss}
