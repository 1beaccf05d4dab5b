"""Full-ranking metrics over all content, batched over users; pure torch/numpy.

For a user u with held-out set T_u (candidates = all content minus the user's excluded items):
Recall@K = hits/|T_u|, Precision@K = hits/K, F1@K = 2PR/(P+R) (0 when both are 0),
NDCG@K = DCG/IDCG (binary gains, log2 discount, IDCG over min(|T_u|, K)), Hit@K = [hits > 0],
MRR = 1/rank of the first held-out item in the full ranking, AUC = share of (held-out, other
candidate) pairs ranked correctly. Every metric is averaged over users with |T_u| >= 1.
Ties are broken by content id (lower first).
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

METRICS = ("recall", "ndcg", "precision", "hit", "f1", "mrr", "auc")


def user_metrics(scores: torch.Tensor, truth: torch.Tensor, exclude: torch.Tensor, k: int) -> dict[str, torch.Tensor]:
    """Per-user metrics for one batch. scores [B, N] float, truth/exclude [B, N] bool (disjoint)."""
    n = scores.shape[1]
    scores = scores.float().masked_fill(exclude, float("-inf"))
    order = torch.sort(scores, dim=1, descending=True, stable=True).indices
    ranked_truth = torch.gather(truth, 1, order)  # [B, N] True where a held-out item sits at that rank
    n_true = truth.sum(1).float()
    n_cand = (~exclude).sum(1).float()
    k = min(k, n)
    top = ranked_truth[:, :k].float()
    hits = top.sum(1)
    recall = hits / n_true.clamp(min=1)
    precision = hits / k
    f1 = torch.where(hits > 0, 2 * precision * recall / (precision + recall).clamp(min=1e-12), torch.zeros_like(hits))
    disc = 1.0 / torch.log2(torch.arange(2, k + 2, dtype=torch.float32, device=scores.device))
    dcg = (top * disc).sum(1)
    ideal_len = n_true.clamp(max=k).long()
    cum = torch.cat([torch.zeros(1, device=scores.device), torch.cumsum(disc, 0)])
    ndcg = dcg / cum[ideal_len].clamp(min=1e-12)
    pos = torch.arange(n, device=scores.device).expand_as(ranked_truth)
    first = torch.where(ranked_truth, pos, torch.full_like(pos, n)).min(1).values.float()
    mrr = torch.where(n_true > 0, 1.0 / (first + 1), torch.zeros_like(first))
    # AUC: for each held-out item at 0-based rank r, the others above it = r - (held-out items above it)
    true_before = torch.cumsum(ranked_truth.long(), 1) - ranked_truth.long()
    neg_above = ((pos - true_before) * ranked_truth).sum(1).float()
    n_neg = (n_cand - n_true).clamp(min=1)
    auc = 1.0 - neg_above / (n_true.clamp(min=1) * n_neg)
    return {"recall": recall, "ndcg": ndcg, "precision": precision, "hit": (hits > 0).float(), "f1": f1,
            "mrr": mrr, "auc": auc}


def _group(users: np.ndarray, items: np.ndarray) -> dict[int, np.ndarray]:
    order = np.argsort(users, kind="stable")
    u, i = users[order], items[order]
    starts = np.flatnonzero(np.r_[True, u[1:] != u[:-1]]) if len(u) else np.zeros(0, int)
    ends = np.r_[starts[1:], len(u)]
    return {int(u[s]): i[s:e] for s, e in zip(starts, ends)}


def evaluate_ranking(score_users: Callable[[torch.Tensor], torch.Tensor], truth: tuple[np.ndarray, np.ndarray],
                     exclude: tuple[np.ndarray, np.ndarray], n_items: int, k: int = 20,
                     batch_users: int = 1024, device: torch.device | str = "cpu") -> dict[str, float]:
    """Mean metrics@k over users in ``truth``; ``score_users(user_ids) -> [B, n_items]`` scores.

    ``exclude`` pairs (e.g. the user's training items) are removed from the candidates."""
    truth_by_user = _group(*truth)
    excl_by_user = _group(*exclude)
    users = np.array(sorted(truth_by_user), dtype=np.int64)
    sums = {m: 0.0 for m in METRICS}
    for start in range(0, len(users), batch_users):
        batch = users[start:start + batch_users]
        t = torch.zeros(len(batch), n_items, dtype=torch.bool, device=device)
        x = torch.zeros_like(t)
        for row, u in enumerate(batch):
            t[row, torch.as_tensor(truth_by_user[int(u)], device=device)] = True
            if int(u) in excl_by_user:
                x[row, torch.as_tensor(excl_by_user[int(u)], device=device)] = True
        x &= ~t
        with torch.no_grad():
            scores = score_users(torch.as_tensor(batch, device=device))
        for m, v in user_metrics(scores, t, x, k).items():
            sums[m] += float(v.sum())
    n = max(len(users), 1)
    out = {f"{m}@{k}" if m not in ("mrr", "auc") else m: sums[m] / n for m in METRICS}
    out["users"] = len(users)
    return out
