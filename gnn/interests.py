"""Interest read-out from items (``interest_readout: items``): what each item is about, then what each
user is interested in, by deconvolving the user's recent interactions (pure compute; numpy + torch).

1. **Item topics** ``Q`` [items, topics], rows summing to 1 (0 for an item with no known topic):
   items with HAS_TOPIC edges keep them (uniform over their topics); the others get the prediction of a
   topic head trained on the labelled items: the configured fusion input layer (``gnn/fusion.py``,
   content modalities only, each standardised, no ids) followed by a linear classifier, trained with
   soft cross-entropy (+ the fusion's auxiliary loss) at the weight decay that predicts a held-out
   share of the labelled items best. With ``interest_refine_items`` the unlabelled rows are then refined
   by co-interaction (step 3).
2. **User interests** θ_u by EM on a mixture model of u's interactions: an interaction with item i is
   explained by a topic t ~ θ_u and an item i ~ p(i | t) ∝ pop_i · Q[i, t], or (share
   ``interest_background``) by a popularity draw pop_i. Interactions count with their pair weight
   decayed to the user's latest interaction (half-life ``half_life_days``), so old behaviour fades.
   EM explains away the secondary topics of multi-topic items and popular off-interest items, which a
   plain decayed count (format.md's decayed interest) credits in full.
3. **Refinement** (optional): starting from uniform rows and alternating with step 2, an unlabelled
   item's row becomes
   ∝ ``interest_item_prior`` · (head prediction) + Σ_u x_ui · r_uit (the EM responsibilities of
   the users who interacted with it), i.e. a MAP estimate under a Dirichlet prior from the modalities.

Scores returned are θ_u (a distribution over topics; 0 for topics no known item carries).
"""
from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn

from graph.model import CONTENT, TOPIC, USER

from gnn.config import TrainConfig
from gnn.data import STATS, TrainData
from gnn.fusion import build_input

logger = logging.getLogger(__name__)

HEAD_EPOCHS = 300          # full-batch epochs of the item topic head (early stopping on a held-out share)
HEAD_PATIENCE = 30
HEAD_WEIGHT_DECAYS = (1e-4, 1e-3, 1e-2, 1e-1)  # Adam weight decays tried; the best on the held-out share wins
HEAD_VAL_SHARE = 0.2       # labelled items held out for the head's early stopping …
HEAD_MIN_VAL_ITEMS = 100   # … when there are at least this many (else all HEAD_EPOCHS on every labelled item)
EM_CHUNK_FLOATS = 8_388_608  # dense E-step: interactions per chunk = this // topics (bounds its memory)
DENSE_MAX_TOPICS = 256     # dense EM with at most this many topics …
DENSE_LIMIT = 20_000_000   # … and users × topics, items × topics at most this many floats; else sparse


# ---------------------------------------------------------------- item topics
def labelled_topics(item: np.ndarray, topic: np.ndarray, n_items: int, n_topics: int) -> sp.csr_matrix:
    """[items, topics] sparse: uniform over each item's HAS_TOPIC topics, empty rows for unlabelled items."""
    q = sp.csr_matrix((np.ones(len(item)), (item, topic)), shape=(n_items, n_topics))
    q.data[:] = 1.0  # duplicate edges count once
    total = np.asarray(q.sum(1)).ravel()
    return sp.csr_matrix(sp.diags(np.divide(1.0, total, out=np.zeros_like(total), where=total > 0)) @ q,
                         dtype=np.float32)


class TopicHead(nn.Module):
    """Fusion input layer over an item's modalities, then a linear topic classifier."""

    def __init__(self, n_items: int, feature_dims: dict[str, int], n_topics: int, cfg: TrainConfig):
        super().__init__()
        self.fusion = build_input({CONTENT: n_items}, {CONTENT: feature_dims},
                                  replace(cfg, use_id_embeddings=False, id_dropout=0.0))
        self.out = nn.Linear(cfg.emb_dim, n_topics)

    def forward(self, ids: torch.Tensor, feats: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        return self.out(self.fusion(CONTENT, ids, feats))


def _standardised(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Columns z-scored over the rows that have the modality (encoders' scales differ by orders of magnitude)."""
    present = mask.astype(bool) if mask.any() else np.ones(len(x), dtype=bool)
    mu, sd = x[present].mean(0), x[present].std(0) + 1e-6
    return ((x - mu) / sd).astype(np.float32)


def _fit_head(head: TopicHead, ids: torch.Tensor, y: torch.Tensor, train: torch.Tensor, val: torch.Tensor,
              feats: dict, lr: float, weight_decay: float) -> float:
    """Full-batch soft cross-entropy with early stopping on ``val``; leaves the best state; its val loss."""
    opt = torch.optim.Adam(head.parameters(), lr=lr, weight_decay=weight_decay)
    best, best_state, wait = float("inf"), None, 0
    for _ in range(HEAD_EPOCHS):
        head.train()
        opt.zero_grad()
        loss = -(y[train] * F.log_softmax(head(ids[train], feats), 1)).sum(1).mean() \
            + head.fusion.aux_loss({CONTENT: feats})
        loss.backward()
        opt.step()
        if len(val):
            head.eval()
            with torch.no_grad():
                v = float(-(y[val] * F.log_softmax(head(ids[val], feats), 1)).sum(1).mean())
            if v < best - 1e-4:
                best, best_state, wait = v, {k: t.clone() for k, t in head.state_dict().items()}, 0
            else:
                wait += 1
                if wait >= HEAD_PATIENCE:
                    break
    if best_state is not None:
        head.load_state_dict(best_state)
    return best


def head_topics(features: dict[str, tuple[np.ndarray, np.ndarray]], target: np.ndarray, cfg: TrainConfig,
                seed: int = 0) -> np.ndarray | None:
    """Topic probabilities [items, topics] of every item from its modalities (``cfg.modalities``, fused by
    ``cfg.fusion``, each standardised), trained on the rows of ``target`` that are not all zero, with the
    weight decay of ``HEAD_WEIGHT_DECAYS`` that predicts a held-out share of them best; None when there is no
    modality or fewer than two labelled items."""
    mods = {p: v for p, v in features.items() if p != STATS and (not cfg.modalities or p in cfg.modalities)}
    target = sp.csr_matrix(target)
    labelled = np.flatnonzero(target.getnnz(1) > 0)
    if not mods or len(labelled) < 2:
        return None
    perm = np.random.default_rng(seed).permutation(len(labelled))  # positions into labelled
    n_val = int(round(HEAD_VAL_SHARE * len(perm))) if len(perm) >= HEAD_MIN_VAL_ITEMS else 0
    val, train = torch.as_tensor(perm[:n_val]), torch.as_tensor(perm[n_val:])
    ids = torch.as_tensor(labelled)
    y = torch.as_tensor(target[labelled].toarray(), dtype=torch.float32)
    feats = {p: (torch.as_tensor(_standardised(x, m)), torch.as_tensor(m)) for p, (x, m) in mods.items()}
    n_items, n_topics = target.shape
    dims = {p: x.shape[1] for p, (x, _) in mods.items()}
    best, best_head = float("inf"), None
    for decay in (HEAD_WEIGHT_DECAYS if n_val else HEAD_WEIGHT_DECAYS[:1]):
        torch.manual_seed(seed)
        head = TopicHead(n_items, dims, n_topics, cfg)
        loss = _fit_head(head, ids, y, train, val, feats, cfg.lr, decay)
        if best_head is None or loss < best:
            best, best_head = loss, head
    best_head.eval()
    with torch.no_grad():
        return torch.softmax(best_head(torch.arange(n_items), feats), 1).numpy().astype(np.float32)


# ---------------------------------------------------------------- user interests
def _entries(x: sp.coo_matrix, q: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """For every (interaction k, topic entry of its item in ``q``): (k, index into q.data)."""
    counts = np.diff(q.indptr)[x.col]
    ent_k = np.repeat(np.arange(len(x.col)), counts)
    starts = q.indptr[x.col]
    ent_q = np.repeat(starts - np.r_[0, np.cumsum(counts)[:-1]], counts) + np.arange(counts.sum())
    return ent_k, ent_q


def _row_normalise(values: np.ndarray, rows: np.ndarray, n_rows: int) -> np.ndarray:
    total = np.bincount(rows, weights=values, minlength=n_rows)[rows]
    return np.divide(values, total, out=np.zeros_like(values), where=total > 0)


def _em_dense(x: sp.coo_matrix, q: np.ndarray, pop: np.ndarray, background: float, iters: int,
              free: np.ndarray, prior: np.ndarray | None, prior_weight: float) -> tuple[np.ndarray, np.ndarray]:
    """``em_interests`` on dense [users, topics] / [items, topics] arrays (fast when topics are few)."""
    rows, cols, vals = x.row, x.col, x.data
    support = q > 0  # a free item keeps its stored entries only, like the sparse path
    theta = np.zeros((x.shape[0], q.shape[1]))
    theta[np.unique(rows)] = 1.0 / max(q.shape[1], 1)
    prior = np.full_like(q, 1.0 / max(q.shape[1], 1)) if prior is None else prior
    chunk = max(1, EM_CHUNK_FLOATS // max(q.shape[1], 1))
    for _ in range(iters):
        mass = q * pop[:, None]
        total = mass.sum(0, keepdims=True)
        pit = np.divide(mass, total, out=np.zeros_like(mass), where=total > 0)
        new_theta = np.zeros_like(theta)
        counts = np.zeros_like(q) if free.any() else None
        for lo in range(0, len(rows), chunk):
            r, c, v = rows[lo:lo + chunk], cols[lo:lo + chunk], vals[lo:lo + chunk]
            num = (1.0 - background) * theta[r] * pit[c]
            resp = num * (v / np.maximum(num.sum(1) + background * pop[c], 1e-300))[:, None]
            np.add.at(new_theta, r, resp)
            if counts is not None:
                np.add.at(counts, c, resp)
        total = new_theta.sum(1, keepdims=True)
        theta = np.divide(new_theta, total, out=np.zeros_like(new_theta), where=total > 0)
        if counts is not None:
            rows_q = np.where(support[free], counts[free] + prior_weight * prior[free], 0.0)
            total = rows_q.sum(1, keepdims=True)
            q[free] = np.divide(rows_q, total, out=np.zeros_like(rows_q), where=total > 0)
    return theta, q


def em_interests(x: sp.spmatrix, q: sp.spmatrix, pop: np.ndarray, background: float, iters: int,
                 free_items: np.ndarray | None = None, prior: np.ndarray | None = None,
                 prior_weight: float = 0.0, dense: bool | None = None) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """(θ [users, topics], Q) as sparse matrices, by EM on ``x`` [users, items] (interaction weights) under
    item topics ``q`` [items, topics] (rows sum to 1; its stored entries are each item's possible topics).

    θ_u ∝ Σ_i x_ui r_uit with responsibilities r_uit = (1 − b) θ_ut p(i|t) / ((1 − b) Σ_s θ_us p(i|s) + b pop_i)
    and p(i|t) ∝ pop_i Q[i, t]; rows of ``q`` at ``free_items`` (if given) are re-estimated each iteration
    as ∝ prior_weight · prior[i, t] + Σ_u x_ui r_uit over their stored entries (``prior`` dense [items,
    topics] or None = uniform). Work and memory: one float per (interaction, topic of its item).
    Users without interactions get an empty row. ``dense`` (default: at most DENSE_MAX_TOPICS topics and
    users × topics, items × topics <= DENSE_LIMIT) runs the same EM on dense arrays, ~10× faster then.
    """
    x = sp.coo_matrix(x, dtype=np.float64)
    q = sp.csr_matrix(q, dtype=np.float64, copy=True)
    q.sort_indices()
    n_users, n_items, n_topics = x.shape[0], q.shape[0], q.shape[1]
    pop = np.asarray(pop, dtype=np.float64) / max(float(np.sum(pop)), 1e-300)
    free = np.zeros(n_items, dtype=bool)
    if free_items is not None:
        free[free_items] = True
    if dense is None:
        dense = n_topics <= DENSE_MAX_TOPICS and max(n_users, n_items) * n_topics <= DENSE_LIMIT
    if dense:
        theta_d, q_d = _em_dense(x, q.toarray(), pop, background, iters, free, prior, prior_weight)
        return sp.csr_matrix(theta_d, dtype=np.float32), sp.csr_matrix(q_d, dtype=np.float32)
    q_row = np.repeat(np.arange(n_items), np.diff(q.indptr))
    ent_k, ent_q = _entries(x, q)
    ent_u, ent_t = x.row[ent_k].astype(np.int64), q.indices[ent_q].astype(np.int64)
    pairs, ut = np.unique(ent_u * n_topics + ent_t, return_inverse=True)
    pair_user = pairs // n_topics
    theta = _row_normalise(np.ones(len(pairs)), pair_user, n_users)
    free_ent = free[q_row]
    prior_vals = (prior[q_row[free_ent], q.indices[free_ent]] if prior is not None
                  else np.full(free_ent.sum(), 1.0 / max(n_topics, 1)))
    for _ in range(iters):
        mass = q.data * pop[q_row]
        pit = np.divide(mass, np.bincount(q.indices, weights=mass, minlength=n_topics)[q.indices],
                        out=np.zeros_like(mass), where=mass > 0)
        num = (1.0 - background) * theta[ut] * pit[ent_q]
        den = np.bincount(ent_k, weights=num, minlength=len(x.col)) + background * pop[x.col]
        resp = num * x.data[ent_k] / np.maximum(den[ent_k], 1e-300)
        theta = _row_normalise(np.bincount(ut, weights=resp, minlength=len(pairs)), pair_user, n_users)
        if free_ent.any():
            counts = np.bincount(ent_q, weights=resp, minlength=len(q.data))[free_ent]
            q.data[free_ent] = _row_normalise(counts + prior_weight * prior_vals, q_row[free_ent], n_items)
    theta_m = sp.csr_matrix((theta.astype(np.float32), (pair_user, pairs % n_topics)), shape=(n_users, n_topics))
    return theta_m, sp.csr_matrix(q, dtype=np.float32)


def user_item_weights(data: TrainData, half_life_days: float) -> sp.csr_matrix:
    """[users, items] positive-pair weights decayed to each user's latest interaction (not the snapshot's)."""
    p = data.all_pairs
    last = np.full(data.num_nodes[USER], -np.inf)
    np.maximum.at(last, p.user, p.last_ts)
    # pair weights are decayed to data.reference_time; shift each user's reference to their latest pair
    shift = np.power(2.0, np.minimum((data.reference_time - last[p.user]) / (half_life_days * 86400.0), 60.0))
    return sp.csr_matrix((p.weight * shift, (p.user, p.content)),
                         shape=(data.num_nodes[USER], data.num_nodes[CONTENT]))


def item_topics(data: TrainData, cfg: TrainConfig) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray | None]:
    """(Q, labelled mask, head prediction [items, topics] or None): HAS_TOPIC rows for labelled items, the
    head's prediction (every topic) for the others when there is a head, else empty rows."""
    n_items, n_topics = data.num_nodes[CONTENT], data.num_nodes.get(TOPIC, 0)
    src, dst = data.content_topics
    q = labelled_topics(src, dst, n_items, n_topics)
    labelled = q.getnnz(1) > 0
    pred = head_topics(data.features.get(CONTENT, {}), q, cfg, cfg.seed) if (~labelled).any() else None
    if pred is not None:
        q = sp.csr_matrix(sp.diags(labelled.astype(np.float32)) @ q + sp.csr_matrix(pred * ~labelled[:, None]))
    return q, labelled, pred


def readout(data: TrainData, cfg: TrainConfig) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """(θ [users, topics], Q [items, topics]), sparse: users' interests and items' topics as described above."""
    q, labelled, pred = item_topics(data, cfg)
    x = user_item_weights(data, cfg.half_life_days)
    pop = np.asarray(x.sum(0)).ravel()
    free = np.flatnonzero(~labelled) if cfg.interest_refine_items else None
    if free is not None and len(free):
        # unlabelled items may take any topic; they start uniform, the prediction enters as the M-step's prior
        n_topics = q.shape[1]
        uniform = sp.csr_matrix((np.full(len(free) * n_topics, 1.0 / max(n_topics, 1), dtype=np.float32),
                                 (np.repeat(free, n_topics), np.tile(np.arange(n_topics), len(free)))), shape=q.shape)
        q = sp.csr_matrix(sp.diags(labelled.astype(np.float32)) @ q) + uniform
    theta, q = em_interests(x, q, pop, cfg.interest_background, cfg.interest_em_iters, free, pred,
                            cfg.interest_item_prior)
    logger.info("interest read-out from items: %d labelled, %d predicted items, %d users",
                labelled.sum(), (~labelled).sum(), (theta.getnnz(1) > 0).sum())
    return theta, q
