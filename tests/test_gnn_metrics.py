"""Ranking metrics against hand-computed values on a toy example."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from gnn.metrics import evaluate_ranking, paired_bootstrap, per_user_accuracy, user_metrics

SCORES = torch.tensor([[0.9, 0.8, 0.7, 0.6, 0.5], [0.9, 0.8, 0.7, 0.6, 0.5]])


def test_user_metrics_by_hand():
    truth = torch.tensor([[False, True, False, True, False], [False, False, False, False, True]])
    exclude = torch.tensor([[True, False, False, False, False], [False] * 5])
    m = {k: v.tolist() for k, v in user_metrics(SCORES, truth, exclude, k=2).items()}
    # user 0: candidates 1,2,3,4 (0 excluded); top-2 = [1, 2]; held out {1, 3}
    idcg = 1 + 1 / np.log2(3)
    assert m["recall"] == pytest.approx([0.5, 0.0])
    assert m["precision"] == pytest.approx([0.5, 0.0])
    assert m["f1"] == pytest.approx([0.5, 0.0])
    assert m["ndcg"] == pytest.approx([1 / idcg, 0.0])
    assert m["hit"] == pytest.approx([1.0, 0.0])
    # user 1: item 4 is ranked 5th of 5
    assert m["mrr"] == pytest.approx([1.0, 0.2])
    # pairs (1,2) (1,4) (3,4) right, (3,2) wrong; user 1: all 4 pairs wrong
    assert m["auc"] == pytest.approx([0.75, 0.0])


def test_evaluate_ranking_averages_over_users_and_excludes():
    out = evaluate_ranking(lambda users: SCORES[users], truth=(np.array([0, 0, 1]), np.array([1, 3, 4])),
                           exclude=(np.array([0]), np.array([0])), n_items=5, k=2, batch_users=1)
    assert out["users"] == 2
    assert out["recall@2"] == pytest.approx(0.25)
    assert out["mrr"] == pytest.approx(0.6)
    assert out["auc"] == pytest.approx(0.375)


def test_perfect_ranking_scores_one():
    truth = torch.tensor([[True, True, False, False, False]])
    m = user_metrics(SCORES[:1], truth, torch.zeros_like(truth), k=2)
    assert all(float(m[k][0]) == pytest.approx(1.0) for k in ("recall", "ndcg", "hit", "mrr", "auc", "precision"))


def test_per_user_accuracy_by_hand():
    # user 7: held-out {3, 9}; list [3, 5, 9] -> hits at ranks 1 and 3
    top = np.array([[3, 5, 9], [-1, -1, -1]])
    recall, ndcg = per_user_accuracy(top, {7: np.array([3, 9]), 8: np.array([1])}, np.array([7, 8]), 3)
    assert recall.tolist() == [1.0, 0.0]
    assert ndcg[0] == pytest.approx((1 + 1 / np.log2(4)) / (1 + 1 / np.log2(3)))
    assert ndcg[1] == 0.0


def test_paired_bootstrap_interval():
    rng = np.random.default_rng(1)
    b = rng.random(500)
    lo, hi = paired_bootstrap(b * 1.2, b)            # every user 20 % better: no spread at all
    assert lo == pytest.approx(0.2) and hi == pytest.approx(0.2)
    lo, hi = paired_bootstrap(b + rng.normal(0, 0.3, 500), b)   # pure noise: the interval holds 0
    assert lo < 0 < hi
    with pytest.raises(ValueError, match="one shape"):
        paired_bootstrap(b, b[:10])
