"""Interest read-out from items (``interest_readout: items``): what each item is about, then what each
user is interested in, by deconvolving the user's recent interactions (pure compute; numpy + torch).

1. **Item topics** ``Q`` [items, topics], rows summing to 1 (0 for an item with no known topic):
   items with HAS_TOPIC edges keep them (uniform over their topics); the others get the prediction of a
   topic head trained on the labelled items: the configured fusion input layer (``gnn/fusion.py``,
   content modalities only, no ids) followed by a linear classifier, trained with soft cross-entropy
   (+ the fusion's auxiliary loss). With ``interest_refine_items`` the unlabelled rows are then refined
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
from gnn.data import CT, STATS, TrainData
from gnn.fusion import build_input

logger = logging.getLogger(__name__)

HEAD_EPOCHS = 300          # full-batch epochs of the item topic head (early stopping on a held-out share)
HEAD_PATIENCE = 30
HEAD_VAL_SHARE = 0.2       # labelled items held out for the head's early stopping …
HEAD_MIN_VAL_ITEMS = 100   # … when there are at least this many (else all HEAD_EPOCHS on every labelled item)
EM_CHUNK = 262_144         # interactions per chunk of the E-step (bounds memory to chunk × topics floats)


# ---------------------------------------------------------------- item topics
def labelled_topics(item: np.ndarray, topic: np.ndarray, n_items: int, n_topics: int) -> np.ndarray:
    """[items, topics] float32: uniform over each item's HAS_TOPIC topics, 0 rows for unlabelled items."""
    q = np.zeros((n_items, n_topics), dtype=np.float32)
    q[item, topic] = 1.0
    total = q.sum(1, keepdims=True)
    return np.divide(q, total, out=np.zeros_like(q), where=total > 0)


class TopicHead(nn.Module):
    """Fusion input layer over an item's modalities, then a linear topic classifier."""

    def __init__(self, n_items: int, feature_dims: dict[str, int], n_topics: int, cfg: TrainConfig):
        super().__init__()
        self.fusion = build_input({CONTENT: n_items}, {CONTENT: feature_dims},
                                  replace(cfg, use_id_embeddings=False, id_dropout=0.0))
        self.out = nn.Linear(cfg.emb_dim, n_topics)

    def forward(self, ids: torch.Tensor, feats: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        return self.out(self.fusion(CONTENT, ids, feats))


def head_topics(features: dict[str, tuple[np.ndarray, np.ndarray]], target: np.ndarray, cfg: TrainConfig,
                seed: int = 0) -> np.ndarray | None:
    """Topic probabilities [items, topics] of every item from its modalities (``cfg.modalities``, fused by
    ``cfg.fusion``), trained on the rows of ``target`` that are not all zero; None when there is no modality
    or fewer than two labelled items."""
    mods = {p: v for p, v in features.items() if p != STATS and (not cfg.modalities or p in cfg.modalities)}
    labelled = np.flatnonzero(target.sum(1) > 0)
    if not mods or len(labelled) < 2:
        return None
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(labelled)
    n_val = int(round(HEAD_VAL_SHARE * len(perm))) if len(perm) >= HEAD_MIN_VAL_ITEMS else 0
    val, train = torch.as_tensor(perm[:n_val]), torch.as_tensor(perm[n_val:])
    feats = {p: (torch.as_tensor(x), torch.as_tensor(m)) for p, (x, m) in mods.items()}
    n_items, n_topics = target.shape
    head = TopicHead(n_items, {p: x.shape[1] for p, (x, _) in mods.items()}, n_topics, cfg)
    opt = torch.optim.Adam(head.parameters(), lr=cfg.lr, weight_decay=1e-4)
    y = torch.as_tensor(target)
    best, best_state, wait = float("inf"), None, 0
    for _ in range(HEAD_EPOCHS):
        head.train()
        opt.zero_grad()
        loss = -(y[train] * F.log_softmax(head(train, feats), 1)).sum(1).mean() \
            + head.fusion.aux_loss({CONTENT: feats})
        loss.backward()
        opt.step()
        if n_val:
            head.eval()
            with torch.no_grad():
                v = float(-(y[val] * F.log_softmax(head(val, feats), 1)).sum(1).mean())
            if v < best - 1e-4:
                best, best_state, wait = v, {k: t.clone() for k, t in head.state_dict().items()}, 0
            else:
                wait += 1
                if wait >= HEAD_PATIENCE:
                    break
    if best_state is not None:
        head.load_state_dict(best_state)
    head.eval()
    with torch.no_grad():
        return torch.softmax(head(torch.arange(n_items), feats), 1).numpy().astype(np.float32)


# ---------------------------------------------------------------- user interests
def _item_given_topic(q: np.ndarray, pop: np.ndarray) -> np.ndarray:
    """p(i | t) ∝ pop_i · Q[i, t], columns normalised (all-zero columns stay 0)."""
    p = q * pop[:, None]
    total = p.sum(0, keepdims=True)
    return np.divide(p, total, out=np.zeros_like(p), where=total > 0)


def em_interests(x: sp.csr_matrix, q: np.ndarray, pop: np.ndarray, background: float, iters: int,
                 free_items: np.ndarray | None = None, prior: np.ndarray | None = None,
                 prior_weight: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(θ [users, topics], Q) by EM on ``x`` [users, items] (interaction weights) under item topics ``q``.

    θ_u ∝ Σ_i x_ui r_uit with responsibilities r_uit = (1 − b) θ_ut p(i|t) / ((1 − b) Σ_s θ_us p(i|s) + b pop_i);
    rows of ``q`` at ``free_items`` (if given) are re-estimated each iteration as
    ∝ prior_weight · prior + Σ_u x_ui r_uit. Users without interactions get θ = 0.
    """
    x = sp.csr_matrix(x, dtype=np.float32)
    q = q.astype(np.float32, copy=True)
    pop = (pop / max(pop.sum(), 1e-12)).astype(np.float32)
    coo = x.tocoo()
    rows, cols, vals = coo.row, coo.col, coo.data
    n_users, n_topics = x.shape[0], q.shape[1]
    theta = np.zeros((n_users, n_topics), dtype=np.float32)
    theta[np.unique(rows)] = 1.0 / n_topics
    refine = free_items is not None and len(free_items) > 0
    for _ in range(iters):
        pit = _item_given_topic(q, pop)
        new_theta = np.zeros_like(theta)
        counts = np.zeros_like(q) if refine else None
        for lo in range(0, len(rows), EM_CHUNK):
            r, c, v = rows[lo:lo + EM_CHUNK], cols[lo:lo + EM_CHUNK], vals[lo:lo + EM_CHUNK]
            num = (1.0 - background) * theta[r] * pit[c]
            resp = num * (v / np.maximum(num.sum(1) + background * pop[c], 1e-30))[:, None]
            np.add.at(new_theta, r, resp)
            if refine:
                np.add.at(counts, c, resp)
        total = new_theta.sum(1, keepdims=True)
        theta = np.divide(new_theta, total, out=np.zeros_like(new_theta), where=total > 0)
        if refine:
            rows_q = counts[free_items] + (prior_weight * prior[free_items] if prior is not None else 0.0)
            total = rows_q.sum(1, keepdims=True)
            q[free_items] = np.divide(rows_q, total, out=np.zeros_like(rows_q), where=total > 0)
    return theta, q


def user_item_weights(data: TrainData, half_life_days: float) -> sp.csr_matrix:
    """[users, items] positive-pair weights decayed to each user's latest interaction (not the snapshot's)."""
    p = data.all_pairs
    last = np.full(data.num_nodes[USER], -np.inf)
    np.maximum.at(last, p.user, p.last_ts)
    # pair weights are decayed to data.reference_time; shift each user's reference to their latest pair
    shift = np.power(2.0, np.minimum((data.reference_time - last[p.user]) / (half_life_days * 86400.0), 60.0))
    return sp.csr_matrix((p.weight * shift, (p.user, p.content)),
                         shape=(data.num_nodes[USER], data.num_nodes[CONTENT]))


def item_topics(data: TrainData, cfg: TrainConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(Q, labelled mask, head prediction or None): HAS_TOPIC rows for labelled items, the head's prediction
    for the others (0 rows where there is no head)."""
    n_items, n_topics = data.num_nodes[CONTENT], data.num_nodes.get(TOPIC, 0)
    src, dst = data.edges.get(CT, (np.zeros(0, np.int64), np.zeros(0, np.int64)))
    q = labelled_topics(src, dst, n_items, n_topics)
    labelled = q.sum(1) > 0
    pred = head_topics(data.features.get(CONTENT, {}), q, cfg, cfg.seed) if (~labelled).any() else None
    if pred is not None:
        q[~labelled] = pred[~labelled]
    return q, labelled, pred


def readout(data: TrainData, cfg: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    """(θ [users, topics], Q [items, topics]): users' interests and items' topics as described above."""
    q, labelled, pred = item_topics(data, cfg)
    x = user_item_weights(data, cfg.half_life_days)
    pop = np.asarray(x.sum(0)).ravel()
    free = np.flatnonzero(~labelled) if cfg.interest_refine_items else None
    if free is not None:
        q[free] = 1.0 / max(q.shape[1], 1)  # start uniform: the prediction enters as the M-step's prior
    prior = pred if pred is not None else np.full_like(q, 1.0 / max(q.shape[1], 1))
    theta, q = em_interests(x, q, pop, cfg.interest_background, cfg.interest_em_iters, free, prior,
                            cfg.interest_item_prior)
    logger.info("interest read-out from items: %d labelled, %d predicted items, %d users",
                labelled.sum(), (~labelled).sum(), (theta.sum(1) > 0).sum())
    return theta, q
