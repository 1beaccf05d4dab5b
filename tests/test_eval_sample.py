"""Sampled evaluation users (``TrainConfig.eval_users``): off by default, seeded, whole users only."""
from __future__ import annotations

import numpy as np
import pytest

from gnn.config import TrainConfig
from gnn.metrics import evaluate_ranking, sample_users
from graph.errors import ConfigError


def test_default_keeps_every_pair():
    truth = (np.array([0, 0, 1, 2]), np.array([3, 4, 5, 6]))
    assert TrainConfig().eval_users == 0
    assert sample_users(truth, 0) is truth and sample_users(truth, 3) is truth


def test_sample_takes_all_pairs_of_n_users_and_is_seeded():
    rng = np.random.default_rng(1)
    users = rng.integers(0, 500, 5000)
    truth = (users, rng.integers(0, 100, 5000))
    u, i = sample_users(truth, 40, seed=7)
    assert len(np.unique(u)) == 40
    for user in np.unique(u):  # every pair of a drawn user, none of the others
        assert sorted(i[u == user]) == sorted(truth[1][truth[0] == user])
    again = sample_users(truth, 40, seed=7)
    assert np.array_equal(u, again[0]) and np.array_equal(i, again[1])
    assert not np.array_equal(u, sample_users(truth, 40, seed=8)[0])


def test_sampled_metrics_count_only_sampled_users():
    scores = np.random.default_rng(0).random((50, 30)).astype(np.float32)
    score = lambda users: __import__("torch").as_tensor(scores[users.numpy()])  # noqa: E731
    truth = (np.repeat(np.arange(50), 2), np.tile([1, 2], 50))
    exclude = (np.arange(50), np.zeros(50, np.int64))
    full = evaluate_ranking(score, truth, exclude, 30)
    part = evaluate_ranking(score, sample_users(truth, 10, seed=0), exclude, 30)
    assert full["users"] == 50 and part["users"] == 10
    assert part["auc"] != full["auc"]


def test_negative_eval_users_is_rejected():
    with pytest.raises(ConfigError, match="eval_users must be >= 0"):
        TrainConfig(eval_users=-1)
