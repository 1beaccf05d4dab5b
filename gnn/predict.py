"""Batched top-K scoring (never materialises users x items for more than one batch of users)."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch


def csr_from_pairs(rows: np.ndarray, cols: np.ndarray, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """(indptr, indices) grouping ``cols`` by ``rows``."""
    order = np.argsort(rows, kind="stable")
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    indptr[1:] = np.cumsum(np.bincount(rows, minlength=n_rows))
    return indptr, cols[order].astype(np.int64)


def top_k(score_fn: Callable[[torch.Tensor], torch.Tensor], users: np.ndarray, n_items: int, k: int,
          exclude: tuple[np.ndarray, np.ndarray] | None = None, batch_users: int = 1024,
          device: torch.device | str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` items per user: (item int64 [U, k], score float32 [U, k]), padded with -1 / 0.

    ``score_fn(user_ids) -> [B, n_items]``; ``exclude`` (user, item) pairs are never returned."""
    kk = min(k, n_items)
    items = np.full((len(users), k), -1, dtype=np.int64)
    scores = np.zeros((len(users), k), dtype=np.float32)
    n_users = int(users.max()) + 1 if len(users) else 0
    indptr, indices = csr_from_pairs(*exclude, max(n_users, int(exclude[0].max(initial=-1)) + 1)) \
        if exclude is not None else (None, None)
    for start in range(0, len(users), batch_users):
        batch = users[start:start + batch_users]
        with torch.no_grad():
            s = score_fn(torch.as_tensor(batch, device=device)).float()
        if indptr is not None:
            lo = indptr[np.minimum(batch, len(indptr) - 2)]
            hi = np.where(batch < len(indptr) - 1, indptr[np.minimum(batch + 1, len(indptr) - 1)], lo)
            counts = hi - lo
            rows = np.repeat(np.arange(len(batch)), counts)
            cols = indices[np.concatenate([np.arange(a, b) for a, b in zip(lo, hi)])] if counts.sum() \
                else np.zeros(0, np.int64)
            s[torch.as_tensor(rows, device=s.device), torch.as_tensor(cols, device=s.device)] = float("-inf")
        val, idx = torch.topk(s, kk, dim=1)
        val, idx = val.cpu().numpy(), idx.cpu().numpy()
        valid = np.isfinite(val)
        items[start:start + len(batch), :kk] = np.where(valid, idx, -1)
        scores[start:start + len(batch), :kk] = np.where(valid, val, 0.0)
    return items, scores
