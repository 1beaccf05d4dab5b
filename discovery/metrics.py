"""Topic quality against given labels: adjusted mutual information and purity."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import adjusted_mutual_info_score
from sklearn.metrics.cluster import contingency_matrix


def purity(truth: Sequence, pred: Sequence) -> float:
    """Share of items whose cluster's most common true label is their own."""
    if len(truth) == 0:
        return float("nan")
    table = contingency_matrix(truth, pred)
    return float(table.max(axis=0).sum() / table.sum())


def agreement(truth: Sequence, pred: Sequence) -> dict[str, float]:
    """AMI and purity over the items that have both a true label and a cluster.

    ``truth`` entries None/"" and ``pred`` entries < 0 mean "no label" and are left out;
    ``coverage`` is the share of items kept.
    """
    truth_a, pred_a = np.asarray(truth, dtype=object), np.asarray(pred)
    if len(truth_a) != len(pred_a):
        raise ValueError(f"{len(truth_a)} true labels but {len(pred_a)} predictions")
    keep = np.array([t is not None and t != "" for t in truth_a], dtype=bool) & (pred_a.astype(np.int64) >= 0)
    t, p = truth_a[keep].astype(str), pred_a[keep].astype(np.int64)
    return {"ami": float(adjusted_mutual_info_score(t, p)) if len(t) else float("nan"),
            "purity": purity(t, p), "coverage": float(keep.mean()) if len(keep) else float("nan"),
            "items": int(keep.sum())}
