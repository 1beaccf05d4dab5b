"""gnn.inductive: a warm user re-scored as new (unknown id, own history) lands near their trained list."""
from __future__ import annotations

import numpy as np
import pytest

from gnn.config import TrainConfig
from gnn.data import UC
from gnn.inductive import InductiveScorer
from gnn.synthetic import PlantedWorld, planted_snapshot
from gnn.train import train_run

WORLD = PlantedWorld(n_users=60, n_content=90, n_topics=6, per_user=16, drifters=3)
CFG = TrainConfig(device="cpu", num_threads=1, emb_dim=32, epochs=30, patience=5, batch_size=512, lr=0.01,
                  id_dropout=0.3)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    snap, _ = planted_snapshot(WORLD)
    snap_dir = snap.save(tmp_path_factory.mktemp("snap") / "snapshot")
    return train_run(snap_dir, CFG, tmp_path_factory.mktemp("runs"), progress=False)


@pytest.fixture(scope="module")
def scorer(run_dir):
    return InductiveScorer(run_dir)


def test_warm_user_rescored_as_new_lands_near_their_trained_list(scorer, run_dir):
    emb_u = np.load(run_dir / "embeddings" / "User.npy")
    emb_c = np.load(run_dir / "embeddings" / "Content.npy")
    src, dst = scorer.data.edges[UC]
    ids = scorer.data.node_ids["Content"]
    popularity = np.bincount(dst, minlength=len(ids)).astype(float)
    k, near, pop = 10, [], []
    for u in range(0, WORLD.n_users, 4):
        seen = np.unique(dst[src == u])
        trained = emb_c @ emb_u[u]
        trained[seen] = -np.inf
        want = set(np.argsort(-trained)[:k].tolist())
        got = scorer.score_new_user([(str(ids[c]), 1.0, 1.7e9) for c in seen], k=k)
        near.append(len(want & {scorer.ids["Content"][c] for c, _ in got.items}))
        p = popularity.copy()
        p[seen] = -1
        pop.append(len(want & set(np.argsort(-p)[:k].tolist())))
    assert np.mean(near) > max(0.6 * k, np.mean(pop) + 2), (near, pop)

