"""Link-prediction model: mask-aware input projections -> backend encoder -> dot/MLP head; BPR/BCE losses.

Input of a node = Σ over its feature groups of (mask · Linear(x) + (1 − mask) · missing_vector)
+ its learned id embedding (if enabled). A missing modality contributes a learned "missing" vector,
never the zero row stored in the snapshot. Ids >= the trained node count (new nodes at inductive
time), and a random ``id_dropout`` share of nodes while training, use a learned "unknown id" vector,
so the model learns to place nodes from features and neighbours alone.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gnn.config import TrainConfig


class InputProjection(nn.Module):
    """Per node type: feature projections with missing vectors, plus id embeddings."""

    def __init__(self, num_nodes: dict[str, int], feature_dims: dict[str, dict[str, int]], cfg: TrainConfig):
        super().__init__()
        self.dim = cfg.emb_dim
        self.id_dropout = cfg.id_dropout
        self.num_nodes = dict(num_nodes)
        self.proj = nn.ModuleDict()
        self.missing = nn.ParameterDict()
        self.ids = nn.ModuleDict()
        self.unknown = nn.ParameterDict()
        for nt, n in num_nodes.items():
            for prop, d in feature_dims.get(nt, {}).items():
                self.proj[f"{nt}__{prop}"] = nn.Linear(d, cfg.emb_dim)
                self.missing[f"{nt}__{prop}"] = nn.Parameter(torch.zeros(cfg.emb_dim))
            if cfg.use_id_embeddings or not feature_dims.get(nt):
                emb = nn.Embedding(n, cfg.emb_dim)
                nn.init.normal_(emb.weight, std=0.1)
                self.ids[nt] = emb
                self.unknown[nt] = nn.Parameter(torch.zeros(cfg.emb_dim))

    def forward(self, nt: str, ids: torch.Tensor,
                feats: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        """Input vectors for nodes ``ids`` of type ``nt``; ``feats[prop] = (x, mask)`` for all nodes of nt."""
        h = torch.zeros(len(ids), self.dim, device=ids.device)
        for prop, (x, mask) in feats.items():
            key = f"{nt}__{prop}"
            m = mask[ids].unsqueeze(1).to(h.dtype)
            h = h + m * self.proj[key](x[ids]) + (1 - m) * self.missing[key]
        if nt in self.ids:
            known = ids < self.num_nodes[nt]
            if self.training and self.id_dropout > 0:
                known = known & (torch.rand(len(ids), device=ids.device) >= self.id_dropout)
            emb = self.ids[nt](torch.where(known, ids, torch.zeros_like(ids)))
            h = h + torch.where(known.unsqueeze(1), emb, self.unknown[nt].expand_as(emb))
        return h


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
        self.inputs = InputProjection(num_nodes, feature_dims, cfg)
        self.encoder = encoder
        self.head = Head(cfg.head, cfg.emb_dim)

    def forward(self, blocks: list, input_nodes: dict[str, torch.Tensor],
                feats: dict[str, dict[str, tuple[torch.Tensor, torch.Tensor]]]) -> dict[str, torch.Tensor]:
        """Embeddings of the last block's destination nodes."""
        h = {nt: self.inputs(nt, ids, feats.get(nt, {})) for nt, ids in input_nodes.items()}
        return self.encoder(blocks, h)


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


LOSSES = {"bpr": bpr_loss, "bce": bce_loss}
