"""Node-input fusion: per node type, its modalities (feature groups such as emb_text, emb_image, emb_audio)
and id embedding -> one input vector for the encoder. Selected by ``TrainConfig.fusion``.

``P_m = mask · Linear_m(x_m) + (1 − mask) · missing_m`` is modality m's projection: a node without
that modality gets a learned "missing" vector, never the zero row stored in the snapshot. ``w_m`` are
the modality weights: ``fusion_weights`` (aligned with ``modalities``; default 1 each) or, with
``fusion_learn_weights``, ``M · softmax(logits)`` learned per node type (starting at 1 each).

- ``early``: Σ_m w_m · P_m. With the default weights this is the plain sum used before fusion existed.
- ``concat``: Linear([x_1·mask_1 … x_M·mask_M]) + Σ_m (1 − mask_m) · missing_m (early, concatenation).
- ``decision``: one tower (2-layer MLP) per modality writes its own slice of the vector, scaled by w_m,
  and the id embedding and node statistics their own slice, so a dot product with another vector is
  Σ_m w_m · (that modality's score) + the id score: per-modality scorers combined with weights. An
  encoder with weights mixes the slices again; with linear propagation (``activation: none``,
  ``conv_weight: false``) the final score stays this weighted sum.
- ``attention``: Σ_m a_m · P_m with a_m = softmax over the node's *present* modalities of
  vᵀ tanh(W P_m) (missing ones masked out; a node with none averages the missing vectors).
- ``shared``: each modality is projected into one shared space and the node's present projections
  are averaged; ``aux_loss`` adds ``fusion_align_weight`` × InfoNCE between two modalities'
  projections of the same node (positives) against the other sampled nodes (negatives).

Node statistics (``_stats``) are not a modality: their projection is added like the id embedding.
Ids >= the trained node count (new nodes at inductive time), and a random ``id_dropout`` share of
nodes while training, use a learned "unknown id" vector.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from graph.errors import ConfigError

from gnn.config import TrainConfig

STATS = "_stats"  # gnn.data.STATS: the node-statistics feature group
Feats = dict[str, tuple[torch.Tensor, torch.Tensor]]


def _split(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` near-equal positive sizes (the first ones one larger)."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


class FusionInput(nn.Module):
    """Shared part of every fusion method: modality selection, weights, id embeddings, statistics."""

    method = "early"

    def __init__(self, num_nodes: dict[str, int], feature_dims: dict[str, dict[str, int]], cfg: TrainConfig):
        super().__init__()
        self.dim = cfg.emb_dim
        self.id_dropout = cfg.id_dropout
        self.num_nodes = dict(num_nodes)
        self.align_weight, self.temperature = cfg.fusion_align_weight, cfg.fusion_temperature
        self.align_sample = cfg.fusion_align_sample
        self.modalities: dict[str, list[str]] = {}
        self.side: dict[str, list[str]] = {}
        self.has_ids: dict[str, bool] = {}
        self.proj = nn.ModuleDict()
        self.missing = nn.ParameterDict()
        self.ids = nn.ModuleDict()
        self.unknown = nn.ParameterDict()
        self.logits = nn.ParameterDict()
        for nt, n in num_nodes.items():
            dims = feature_dims.get(nt, {})
            mods = [p for p in dims if p != STATS and (not cfg.modalities or p in cfg.modalities)]
            self.modalities[nt] = mods
            self.side[nt] = [p for p in dims if p == STATS]
            self.has_ids[nt] = cfg.use_id_embeddings or not (mods or self.side[nt])
            weights = [cfg.fusion_weights[cfg.modalities.index(p)] if cfg.fusion_weights else 1.0 for p in mods]
            self.register_buffer(f"w_{nt}", torch.tensor(weights, dtype=torch.float32), persistent=False)
            if cfg.fusion_learn_weights and mods:
                self.logits[nt] = nn.Parameter(torch.zeros(len(mods)))
            self.build_modalities(nt, {p: dims[p] for p in mods})
            rest = self.rest_dim(nt)
            for prop in self.side[nt]:
                self.proj[f"{nt}__{prop}"] = nn.Linear(dims[prop], rest)
                self.missing[f"{nt}__{prop}"] = nn.Parameter(torch.zeros(rest))
            if self.has_ids[nt]:
                emb = nn.Embedding(n, rest)
                nn.init.normal_(emb.weight, std=0.1)
                self.ids[nt] = emb
                self.unknown[nt] = nn.Parameter(torch.zeros(rest))

    # ------------------------------------------------------------ per method
    def build_modalities(self, nt: str, dims: dict[str, int]) -> None:
        for prop, d in dims.items():
            self.proj[f"{nt}__{prop}"] = nn.Linear(d, self.dim)
            self.missing[f"{nt}__{prop}"] = nn.Parameter(torch.zeros(self.dim))

    def rest_dim(self, nt: str) -> int:
        """Width of the id embedding and statistics projection of ``nt``."""
        return self.dim

    def fuse(self, nt: str, ids: torch.Tensor, feats: Feats) -> torch.Tensor | None:
        """The modalities' part of the input vectors (None when ``nt`` has no modality)."""
        parts = self.projections(nt, ids, feats)
        if parts is None:
            return None
        return (parts * self.weights(nt).view(1, -1, 1)).sum(1)

    def combine(self, fused: torch.Tensor | None, rest: torch.Tensor | None, n: int,
                device: torch.device) -> torch.Tensor:
        h = torch.zeros(n, self.dim, device=device)
        if fused is not None:
            h = h + fused
        return h + rest if rest is not None else h

    def aux_loss(self, feats: dict[str, Feats]) -> torch.Tensor:
        """Extra training loss of the fusion layer (0 except for ``shared``)."""
        return torch.zeros((), device=next(self.parameters()).device)

    # ------------------------------------------------------------ shared helpers
    def weights(self, nt: str) -> torch.Tensor:
        """Current modality weights of ``nt`` [M] (fixed, or M · softmax of the learned logits)."""
        if nt in self.logits:
            return len(self.modalities[nt]) * torch.softmax(self.logits[nt], 0)
        return getattr(self, f"w_{nt}")

    def masks(self, nt: str, ids: torch.Tensor, feats: Feats) -> torch.Tensor:
        """[n, M] float presence masks of ``nt``'s modalities."""
        return torch.stack([feats[p][1][ids] for p in self.modalities[nt]], 1).float()

    def projections(self, nt: str, ids: torch.Tensor, feats: Feats) -> torch.Tensor | None:
        """[n, M, d] masked projections P_m (missing vector where the modality is absent)."""
        if not self.modalities[nt]:
            return None
        out = []
        for prop in self.modalities[nt]:
            x, mask = feats[prop]
            key = f"{nt}__{prop}"
            m = mask[ids].unsqueeze(1).float()
            out.append(m * self.proj[key](x[ids]) + (1 - m) * self.missing[key])
        return torch.stack(out, 1)

    def rest(self, nt: str, ids: torch.Tensor, feats: Feats) -> torch.Tensor | None:
        """Id embedding (or the unknown vector) plus the projected node statistics."""
        h = None
        for prop in self.side[nt]:
            x, mask = feats[prop]
            key = f"{nt}__{prop}"
            m = mask[ids].unsqueeze(1).float()
            part = m * self.proj[key](x[ids]) + (1 - m) * self.missing[key]
            h = part if h is None else h + part
        if nt in self.ids:
            known = ids < self.num_nodes[nt]
            if self.training and self.id_dropout > 0:
                known = known & (torch.rand(len(ids), device=ids.device) >= self.id_dropout)
            emb = self.ids[nt](torch.where(known, ids, torch.zeros_like(ids)))
            emb = torch.where(known.unsqueeze(1), emb, self.unknown[nt].expand_as(emb))
            h = emb if h is None else h + emb
        return h

    def forward(self, nt: str, ids: torch.Tensor, feats: Feats) -> torch.Tensor:
        """Input vectors for nodes ``ids`` of type ``nt``; ``feats[prop] = (x, mask)`` for all nodes of nt."""
        return self.combine(self.fuse(nt, ids, feats), self.rest(nt, ids, feats), len(ids), ids.device)


class ConcatFusion(FusionInput):
    """Early fusion by concatenation: one Linear over the masked modality vectors side by side."""

    method = "concat"

    def build_modalities(self, nt: str, dims: dict[str, int]) -> None:
        if dims:
            self.proj[f"{nt}__concat"] = nn.Linear(sum(dims.values()), self.dim)
        for prop in dims:
            self.missing[f"{nt}__{prop}"] = nn.Parameter(torch.zeros(self.dim))

    def fuse(self, nt: str, ids: torch.Tensor, feats: Feats) -> torch.Tensor | None:
        if not self.modalities[nt]:
            return None
        w = self.weights(nt)
        xs, missing = [], 0.0
        for i, prop in enumerate(self.modalities[nt]):
            x, mask = feats[prop]
            m = mask[ids].unsqueeze(1).float()
            xs.append(w[i] * m * x[ids])
            missing = missing + (1 - m) * self.missing[f"{nt}__{prop}"]
        return self.proj[f"{nt}__concat"](torch.cat(xs, 1)) + missing


class DecisionFusion(FusionInput):
    """Per-modality towers, each in its own slice scaled by its weight; ids and statistics in the last."""

    method = "decision"

    def slices(self, nt: str) -> list[int]:
        """Slice widths: one per modality, then one for the id embedding and statistics if any."""
        parts = len(self.modalities[nt]) + (1 if self.side[nt] or self.has_ids[nt] else 0)
        if self.dim < parts:
            raise ConfigError(f"fusion 'decision' needs emb_dim >= {parts} (one slice per modality of {nt} "
                              f"plus the id slice), got {self.dim}")
        return _split(self.dim, parts)

    def build_modalities(self, nt: str, dims: dict[str, int]) -> None:
        for (prop, d), size in zip(dims.items(), self.slices(nt)):
            self.proj[f"{nt}__{prop}"] = nn.Sequential(nn.Linear(d, self.dim), nn.ReLU(), nn.Linear(self.dim, size))
            self.missing[f"{nt}__{prop}"] = nn.Parameter(torch.zeros(size))

    def rest_dim(self, nt: str) -> int:
        sizes = self.slices(nt)
        return sizes[-1] if len(sizes) > len(self.modalities[nt]) else 0

    def fuse(self, nt: str, ids: torch.Tensor, feats: Feats) -> torch.Tensor | None:
        if not self.modalities[nt]:
            return None
        w = self.weights(nt)
        out = []
        for i, prop in enumerate(self.modalities[nt]):
            x, mask = feats[prop]
            key = f"{nt}__{prop}"
            m = mask[ids].unsqueeze(1).float()
            out.append(w[i] * (m * self.proj[key](x[ids]) + (1 - m) * self.missing[key]))
        return torch.cat(out, 1)

    def combine(self, fused, rest, n, device) -> torch.Tensor:
        return torch.cat([p for p in (fused, rest) if p is not None], 1)


class AttentionFusion(FusionInput):
    """Per-node attention over the present modalities' projections."""

    method = "attention"

    def build_modalities(self, nt: str, dims: dict[str, int]) -> None:
        super().build_modalities(nt, dims)
        if dims:
            self.proj[f"{nt}__attn"] = nn.Sequential(nn.Linear(self.dim, self.dim), nn.Tanh(),
                                                     nn.Linear(self.dim, 1, bias=False))

    def attention(self, nt: str, ids: torch.Tensor, feats: Feats) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(P [n, M, d], a [n, M]): projections and attention weights (rows of a sum to 1)."""
        parts = self.projections(nt, ids, feats)
        if parts is None:
            return None
        mask = self.masks(nt, ids, feats) > 0
        scores = self.proj[f"{nt}__attn"](parts).squeeze(-1) + torch.log(self.weights(nt)).view(1, -1)
        none = ~mask.any(1, keepdim=True)
        scores = scores.masked_fill(~(mask | none), float("-inf"))
        scores = torch.where(none, torch.zeros_like(scores), scores)
        return parts, torch.softmax(scores, 1)

    def fuse(self, nt: str, ids: torch.Tensor, feats: Feats) -> torch.Tensor | None:
        got = self.attention(nt, ids, feats)
        if got is None:
            return None
        parts, a = got
        return (parts * a.unsqueeze(-1)).sum(1)


class SharedFusion(FusionInput):
    """Modalities projected into one shared space, aligned by a cross-modal InfoNCE loss."""

    method = "shared"

    def build_modalities(self, nt: str, dims: dict[str, int]) -> None:
        for prop, d in dims.items():
            self.proj[f"{nt}__{prop}"] = nn.Linear(d, self.dim)
        if dims:
            self.missing[f"{nt}__shared"] = nn.Parameter(torch.zeros(self.dim))

    def fuse(self, nt: str, ids: torch.Tensor, feats: Feats) -> torch.Tensor | None:
        if not self.modalities[nt]:
            return None
        mask = self.masks(nt, ids, feats) * self.weights(nt).view(1, -1)
        z = torch.stack([self.proj[f"{nt}__{p}"](feats[p][0][ids]) for p in self.modalities[nt]], 1)
        total = mask.sum(1, keepdim=True)
        mean = (z * mask.unsqueeze(-1)).sum(1) / total.clamp_min(1e-6)
        return torch.where(total > 0, mean, self.missing[f"{nt}__shared"].expand_as(mean))

    def aux_loss(self, feats: dict[str, Feats]) -> torch.Tensor:
        """``fusion_align_weight`` × mean over node types and modality pairs of symmetric InfoNCE on up to
        ``fusion_align_sample`` nodes that have both modalities."""
        losses = []
        for nt, mods in self.modalities.items():
            for i in range(len(mods)):
                for j in range(i + 1, len(mods)):
                    (xa, ma), (xb, mb) = feats[nt][mods[i]], feats[nt][mods[j]]
                    both = torch.nonzero(ma & mb).squeeze(1)
                    if len(both) < 2:
                        continue
                    if len(both) > self.align_sample:
                        both = both[torch.randperm(len(both), device=both.device)[:self.align_sample]]
                    za = F.normalize(self.proj[f"{nt}__{mods[i]}"](xa[both]), dim=1)
                    zb = F.normalize(self.proj[f"{nt}__{mods[j]}"](xb[both]), dim=1)
                    logits = za @ zb.T / self.temperature
                    target = torch.arange(len(both), device=logits.device)
                    losses.append(0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)))
        if not losses or self.align_weight == 0:
            return super().aux_loss(feats)
        return self.align_weight * torch.stack(losses).mean()


FUSIONS: dict[str, type[FusionInput]] = {cls.method: cls for cls in (FusionInput, ConcatFusion, DecisionFusion,
                                                                     AttentionFusion, SharedFusion)}


def build_input(num_nodes: dict[str, int], feature_dims: dict[str, dict[str, int]], cfg: TrainConfig) -> FusionInput:
    """The input layer ``cfg.fusion`` names."""
    return FUSIONS[cfg.fusion](num_nodes, feature_dims, cfg)
