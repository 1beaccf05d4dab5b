"""Baselines trained on the same split as the GNNs: most-popular and BPR matrix factorisation."""
from __future__ import annotations

import copy
import logging

import numpy as np
import torch
from torch import nn

from graph.model import CONTENT

from gnn.config import TrainConfig
from gnn.data import TrainData
from gnn.metrics import evaluate_ranking
from gnn.models import bpr_loss, l2_penalty
from gnn.train import configure_torch

logger = logging.getLogger(__name__)


def popularity_scores(data: TrainData) -> torch.Tensor:
    """Training interaction count per content item."""
    return torch.as_tensor(np.bincount(data.train.content, minlength=data.num_nodes[CONTENT]), dtype=torch.float32)


class BPRMF(nn.Module):
    """Dot product of user and item embeddings (Rendle et al. 2009)."""

    def __init__(self, n_users: int, n_items: int, dim: int):
        super().__init__()
        self.user = nn.Embedding(n_users, dim)
        self.item = nn.Embedding(n_items, dim)
        nn.init.normal_(self.user.weight, std=0.1)
        nn.init.normal_(self.item.weight, std=0.1)

    def all(self, users: torch.Tensor) -> torch.Tensor:
        return self.user(users) @ self.item.weight.T


MF_BATCH = 1024


def train_bprmf(data: TrainData, cfg: TrainConfig, device: torch.device,
                select: bool = True) -> tuple[BPRMF, dict]:
    """BPR-MF with the GNN's dimension, negatives, lr, l2, weight decay, epochs and early stopping on val
    NDCG@K, in batches of at most MF_BATCH positives (MF steps are cheap, so it gets at least as many
    updates per epoch as the GNN). Uses ``cfg.num_threads`` like the GNN trainer. ``select=False``: exactly
    ``cfg.epochs`` epochs, no validation (a refit, e.g. on train + validation pairs)."""
    configure_torch(cfg)
    batch_size = min(cfg.batch_size, MF_BATCH)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    n_items = data.num_nodes[CONTENT]
    model = BPRMF(data.num_nodes["User"], n_items, cfg.emb_dim).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    u = torch.as_tensor(data.train.user, device=device)
    c = torch.as_tensor(data.train.content, device=device)
    key = f"ndcg@{cfg.eval_k}"
    best, best_state, best_val, bad = -1.0, None, {}, 0
    for ep in range(1, cfg.epochs + 1):
        model.train()
        perm = torch.randperm(len(u), generator=gen).to(device)
        for s in range(0, len(u), batch_size):
            idx = perm[s:s + batch_size]
            neg = torch.randint(n_items, (len(idx), cfg.num_negatives), generator=gen).to(device)
            hu, hp, hn = model.user(u[idx]), model.item(c[idx]), model.item(neg)
            loss = bpr_loss((hu * hp).sum(-1), (hu.unsqueeze(1) * hn).sum(-1))
            if cfg.l2 > 0:
                loss = loss + cfg.l2 * l2_penalty(hu, hp, hn)
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        if not select:
            best_val = {"epoch": ep}
            continue
        val = evaluate_ranking(model.all, (data.val.user, data.val.content), (data.train.user, data.train.content),
                               n_items, k=cfg.eval_k, batch_users=cfg.score_batch_users, device=device)
        if val[key] > best:
            best, best_state, best_val, bad = val[key], copy.deepcopy(model.state_dict()), {**val, "epoch": ep}, 0
        else:
            bad += 1
            if bad >= cfg.patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return model, best_val
