"""Full-ranking metrics over all content, batched over users; pure torch/numpy.

For a user u with held-out set T_u (candidates = all content minus the user's excluded items):
Recall@K = hits/|T_u|, Precision@K = hits/K, F1@K = 2PR/(P+R) (0 when both are 0),
NDCG@K = DCG/IDCG (binary gains, log2 discount, IDCG over min(|T_u|, K)), Hit@K = [hits > 0],
MRR = 1/rank of the first held-out item in the full ranking, AUC = share of (held-out, other
candidate) pairs ranked correctly. Every metric is averaged over users with |T_u| >= 1.
Ties are broken by content id (lower first).

Beyond accuracy, over the same top-K lists: catalogue coverage (share of content in any list),
intra-list diversity (mean pairwise cosine distance of a list's content embeddings), novelty (mean
self-information -log2 p(i), p from training popularity) and average recommended popularity.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from graph.rerank import unit_rows

METRICS = ("recall", "ndcg", "precision", "hit", "f1", "mrr", "auc")


def rank(scores: torch.Tensor, exclude: torch.Tensor) -> torch.Tensor:
    """Candidate order per user [B, N]: score descending, ties by content id, excluded items last."""
    scores = scores.float().masked_fill(exclude, float("-inf"))
    return torch.sort(scores, dim=1, descending=True, stable=True).indices


def user_metrics(scores: torch.Tensor, truth: torch.Tensor, exclude: torch.Tensor, k: int,
                 order: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Per-user metrics for one batch. scores [B, N] float, truth/exclude [B, N] bool (disjoint);
    ``order``: ``rank(scores, exclude)`` when already computed."""
    n = scores.shape[1]
    order = rank(scores, exclude) if order is None else order
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


def group_by_user(users: np.ndarray, items: np.ndarray) -> dict[int, np.ndarray]:
    """Each user's items (pairs given as two parallel arrays), in the pairs' order."""
    order = np.argsort(users, kind="stable")
    u, i = users[order], items[order]
    starts = np.flatnonzero(np.r_[True, u[1:] != u[:-1]]) if len(u) else np.zeros(0, int)
    ends = np.r_[starts[1:], len(u)]
    return {int(u[s]): i[s:e] for s, e in zip(starts, ends)}


def sample_users(truth: tuple[np.ndarray, np.ndarray], n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The (user, item) pairs of ``n`` users drawn without replacement (seeded) from those in ``truth``;
    every pair when ``n`` is 0 or not below the number of users."""
    users = np.unique(truth[0])
    if n <= 0 or n >= len(users):
        return truth
    mask = np.isin(truth[0], np.random.default_rng(seed).choice(users, n, replace=False))
    return truth[0][mask], truth[1][mask]


def evaluate_ranking(score_users: Callable[[torch.Tensor], torch.Tensor], truth: tuple[np.ndarray, np.ndarray],
                     exclude: tuple[np.ndarray, np.ndarray], n_items: int, k: int = 20,
                     batch_users: int = 1024, device: torch.device | str = "cpu") -> dict[str, float]:
    """Mean metrics@k over users in ``truth``; ``score_users(user_ids) -> [B, n_items]`` scores.

    ``exclude`` pairs (e.g. the user's training items) are removed from the candidates."""
    return rank_and_evaluate(score_users, truth, exclude, n_items, k, batch_users, device)[0]


def rank_and_evaluate(score_users: Callable[[torch.Tensor], torch.Tensor], truth: tuple[np.ndarray, np.ndarray],
                      exclude: tuple[np.ndarray, np.ndarray], n_items: int, k: int = 20, batch_users: int = 1024,
                      device: torch.device | str = "cpu") -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """``evaluate_ranking``'s metrics, the users evaluated [U] and their top-k lists [U, k] (content ids;
    -1 where a user has fewer than k candidates)."""
    truth_by_user = group_by_user(*truth)
    excl_by_user = group_by_user(*exclude)
    users = np.array(sorted(truth_by_user), dtype=np.int64)
    sums = {m: 0.0 for m in METRICS}
    k_top = min(k, n_items)
    tops = []
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
        order = rank(scores, x)
        for m, v in user_metrics(scores, t, x, k, order).items():
            sums[m] += float(v.sum())
        top = order[:, :k_top]
        tops.append(torch.where(torch.gather(x, 1, top), -1, top).cpu().numpy())
    n = max(len(users), 1)
    out = {f"{m}@{k}" if m not in ("mrr", "auc") else m: sums[m] / n for m in METRICS}
    out["users"] = len(users)
    top_all = np.concatenate(tops) if tops else np.zeros((0, k_top), np.int64)
    return out, users, top_all.astype(np.int64)


# ---------------------------------------------------------------- beyond accuracy (pure numpy)
# ``top`` is [U, K] content ids per user, -1 = no item; ``popularity`` is each item's number of
# training interactions (pairs); ``n_users`` the users those pairs come from.
def per_user_accuracy(top: np.ndarray, truth: dict[int, np.ndarray], users: np.ndarray,
                      k: int) -> tuple[np.ndarray, np.ndarray]:
    """Recall@k and NDCG@k of given lists per user (same definitions as ``user_metrics``), [U] each."""
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    recall, ndcg = np.zeros(len(users)), np.zeros(len(users))
    for row, u in enumerate(users):
        held = truth[int(u)]
        hits = np.isin(top[row, :k], held) & (top[row, :k] >= 0)
        recall[row] = hits.sum() / max(len(held), 1)
        ndcg[row] = float((hits * disc[:len(hits)]).sum()) / float(disc[:min(len(held), k)].sum())
    return recall, ndcg


def list_accuracy(top: np.ndarray, truth: dict[int, np.ndarray], users: np.ndarray, k: int) -> dict[str, float]:
    """Recall@k and NDCG@k of given lists, averaged over ``users``."""
    recall, ndcg = per_user_accuracy(top, truth, users, k)
    n = max(len(users), 1)
    return {f"recall@{k}": float(recall.sum()) / n, f"ndcg@{k}": float(ndcg.sum()) / n}


def paired_bootstrap(a: np.ndarray, b: np.ndarray, n_boot: int = 10_000, seed: int = 0,
                     level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of mean(a) / mean(b) - 1 over users resampled with replacement (paired: the
    same users for both); ``a`` and ``b`` are per-user values of two models on the same users."""
    if a.shape != b.shape or len(a) == 0:
        raise ValueError(f"paired_bootstrap needs two non-empty arrays of one shape, got {a.shape} and {b.shape}")
    idx = np.random.default_rng(seed).integers(0, len(a), size=(n_boot, len(a)))
    rel = a[idx].mean(1) / np.maximum(b[idx].mean(1), 1e-12) - 1
    tail = (1 - level) / 2
    return float(np.quantile(rel, tail)), float(np.quantile(rel, 1 - tail))


def catalogue_coverage(top: np.ndarray, n_items: int) -> float:
    """Share of all content that appears in at least one list."""
    return len(np.unique(top[top >= 0])) / max(n_items, 1)


def intra_list_diversity(top: np.ndarray, item_vectors: np.ndarray, item_has: np.ndarray | None = None) -> float:
    """Mean over lists of the mean pairwise cosine distance (1 - cos) between the list's items.

    Items without a vector (``item_has`` False or a zero row) are left out; lists with fewer than two
    such items are not counted."""
    unit = unit_rows(item_vectors)
    has = unit.any(axis=1) if item_has is None else (item_has & unit.any(axis=1))
    total, lists = 0.0, 0
    for row in top:
        items = row[row >= 0]
        items = items[has[items]]
        m = len(items)
        if m < 2:
            continue
        v = unit[items]
        sim = v @ v.T
        mean_cos = (sim.sum() - np.trace(sim)) / (m * (m - 1))
        total += 1.0 - mean_cos
        lists += 1
    return total / lists if lists else float("nan")


def self_information(popularity: np.ndarray, n_users: int) -> np.ndarray:
    """-log2 p(i) per item with p(i) = (popularity(i) + 1) / (n_users + 1) (add-one, so unseen items
    are finite)."""
    return -np.log2((popularity.astype(np.float64) + 1.0) / (n_users + 1.0))


def novelty(top: np.ndarray, popularity: np.ndarray, n_users: int) -> float:
    """Mean self-information of recommended items (over all list entries)."""
    items = top[top >= 0]
    return float(self_information(popularity, n_users)[items].mean()) if len(items) else float("nan")


def average_popularity(top: np.ndarray, popularity: np.ndarray) -> float:
    """Mean training popularity (interaction count) of recommended items (ARP)."""
    items = top[top >= 0]
    return float(popularity[items].astype(np.float64).mean()) if len(items) else float("nan")


BEYOND = ("coverage", "diversity", "novelty", "avg_pop")


def beyond_accuracy(top: np.ndarray, n_items: int, popularity: np.ndarray, n_users: int,
                    item_vectors: np.ndarray | None, item_has: np.ndarray | None = None) -> dict[str, float]:
    """coverage, diversity (intra-list, NaN without vectors), novelty, avg_pop of the lists ``top``."""
    return {"coverage": catalogue_coverage(top, n_items),
            "diversity": (intra_list_diversity(top, item_vectors, item_has) if item_vectors is not None
                          else float("nan")),
            "novelty": novelty(top, popularity, n_users),
            "avg_pop": average_popularity(top, popularity)}
