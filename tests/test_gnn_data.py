"""Snapshot -> training data: splits, decayed weights, negatives, reverse edges, masks, config."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from graph.errors import ConfigError, InputError
from graph.model import INTERACTION_KINDS
from graph.snapshot import Snapshot
from gnn.config import TrainConfig
from gnn.data import UC, build_data, reverse
from gnn.synthetic import PlantedWorld, planted_snapshot
from ingestion.embed.behavior import Activity, behavior_vector

DAY = 86400.0


def _snap(kinds=None, weights=None) -> Snapshot:
    # user 0: content 0..5 at days 0..5; user 1: content 0, 1 (too few to split)
    src = np.array([0, 0, 0, 0, 0, 0, 1, 1])
    dst = np.array([3, 1, 0, 2, 5, 4, 0, 1])
    ts = np.array([3, 1, 0, 2, 5, 4, 0, 1], dtype=float) * DAY
    n = len(src)
    kinds = np.zeros(n, np.int8) if kinds is None else np.array(kinds, np.int8)
    weights = np.ones(n, np.float32) if weights is None else np.array(weights, np.float32)
    return Snapshot(
        node_ids={"User": np.array(["a", "b"], object), "Content": np.array([f"c{i}" for i in range(6)], object),
                  "Topic": np.array(["t0", "t1"], object)},
        edges={UC: {"src": src, "dst": dst, "ts": ts, "weight": weights, "kind": kinds},
               ("Content", "HAS_TOPIC", "Topic"): {"src": np.arange(6), "dst": np.arange(6) % 2,
                                                   "weight": np.ones(6, np.float32)}},
        features={"Content": {"emb_text": np.ones((6, 4), np.float32)}},
        feature_masks={"Content": {"emb_text": np.array([True, True, False, True, True, True])}},
        manifest={"interaction_kinds": list(INTERACTION_KINDS)})


CFG = TrainConfig(val_frac=0.2, test_frac=0.2, min_user_interactions=3, half_life_days=1.0)


def test_temporal_split_holds_out_each_users_last_interactions():
    d = build_data(_snap(), CFG, "temporal")
    # 6 pairs: round(0.2 * 6) = 1 test (day 5), 1 validation (day 4)
    assert d.test.content.tolist() == [5] and d.test.user.tolist() == [0]
    assert d.val.content.tolist() == [4]
    assert sorted(d.train.content[d.train.user == 0].tolist()) == [0, 1, 2, 3]
    assert sorted(d.train.content[d.train.user == 1].tolist()) == [0, 1]  # below min_user_interactions
    src, dst = d.edges[UC]
    assert set(zip(src.tolist(), dst.tolist())) == set(zip(d.train.user.tolist(), d.train.content.tolist()))
    assert d.edges[reverse(UC)][0].tolist() == dst.tolist()


def test_random_split_is_disjoint_seeded_and_complete():
    snap, _ = planted_snapshot(PlantedWorld(n_users=30, n_content=50, per_user=10))
    a = build_data(snap, TrainConfig(split="random"))
    b = build_data(snap, TrainConfig(split="random"))
    keys = [set(zip(p.user.tolist(), p.content.tolist())) for p in (a.train, a.val, a.test)]
    assert not (keys[0] & keys[1]) and not (keys[0] & keys[2]) and not (keys[1] & keys[2])
    assert len(keys[0] | keys[1] | keys[2]) == len(a.all_pairs)
    assert np.array_equal(a.test.content, b.test.content)
    t = build_data(snap, TrainConfig(split="temporal"))
    assert not np.array_equal(np.sort(t.test.content), np.sort(a.test.content))


def test_decayed_weights_and_interest_follow_half_life():
    d = build_data(_snap(), CFG, "temporal")
    # reference time = max ts = day 5; content 0 was seen on day 0 by user 0 -> 0.5 ** 5
    i = np.flatnonzero((d.all_pairs.user == 0) & (d.all_pairs.content == 0))[0]
    assert d.all_pairs.weight[i] == pytest.approx(0.5 ** 5)
    # user 0 trains on content 0..3 (days 0..3): t_ref = day 3; topic 0 <- content 0, 2; topic 1 <- 1, 3
    u, t, v = d.user_topic
    got = {(int(a), int(b)): float(c) for a, b, c in zip(u, t, v)}
    assert got[(0, 0)] == pytest.approx(0.125 + 0.5)
    assert got[(0, 1)] == pytest.approx(0.25 + 1.0)


def test_negative_interactions_are_never_positives():
    kinds = [0] * 8
    kinds[1] = INTERACTION_KINDS.index("comment")   # user 0, content 1
    weights = [1.0] * 8
    weights[0] = -1.0                               # user 0, content 3
    d = build_data(_snap(kinds, weights), TrainConfig(negative_kinds=("comment",), min_user_interactions=3))
    pos = set(zip(d.all_pairs.user.tolist(), d.all_pairs.content.tolist()))
    assert (0, 1) not in pos and (0, 3) not in pos
    assert (0, 1) in set(zip(d.seen[0].tolist(), d.seen[1].tolist()))
    with pytest.raises(InputError, match="negative kind"):
        build_data(_snap(), TrainConfig(negative_kinds=("hate",)))


def _with_behavior(snap: Snapshot) -> Snapshot:
    """``snap`` plus User ``emb_behavior`` computed as ingestion does: from ALL of a user's events."""
    arrays, kinds = snap.edges[UC], snap.manifest["interaction_kinds"]
    ref_ms = int(arrays["ts"].max() * 1000)
    rows = []
    for u in range(len(snap.node_ids["User"])):
        mine = arrays["src"] == u
        rows.append(behavior_vector(Activity(
            [kinds[k] for k in arrays["kind"][mine]], arrays["rating"][mine][arrays["rating"][mine] > 0].tolist(),
            (arrays["ts"][mine] * 1000).astype(np.int64).tolist(), len(np.unique(arrays["dst"][mine])), 0, 0,
            ref_ms)))
    features = {**snap.features, "User": {"emb_behavior": np.stack(rows)}}
    masks = {**snap.feature_masks, "User": {"emb_behavior": np.ones(len(rows), bool)}}
    return Snapshot(snap.node_ids, snap.edges, features, masks, snap.manifest)


def test_held_out_interactions_cannot_reach_the_features():
    """Two snapshots that differ only in extra events on user 0's held-out pairs (content 4, 5): the
    training data (pairs, edges, every feature the model sees) must be identical."""
    base = _snap()
    uc = dict(base.edges[UC])
    rating = np.zeros(len(uc["src"]), np.float32)
    extra = {"src": np.array([0, 0, 0]), "dst": np.array([5, 5, 4]), "ts": np.array([5.5, 6.0, 4.5]) * DAY,
             "weight": np.ones(3, np.float32), "kind": np.full(3, INTERACTION_KINDS.index("rate"), np.int8),
             "rating": np.array([1.0, 5.0, 2.0], np.float32)}
    more = {k: np.concatenate([uc[k] if k != "rating" else rating, extra[k]]) for k in extra}
    manifest = {**base.manifest, "reference_time": 10 * DAY}
    a = _with_behavior(Snapshot(base.node_ids, {**base.edges, UC: {**uc, "rating": rating}}, base.features,
                                base.feature_masks, manifest))
    b = _with_behavior(Snapshot(base.node_ids, {**base.edges, UC: more}, base.features, base.feature_masks, manifest))
    assert not np.array_equal(a.features["User"]["emb_behavior"], b.features["User"]["emb_behavior"])

    def seen_by_model(snap, cfg):
        d = build_data(snap, cfg, "temporal")
        assert d.test.content.tolist() == [5] and d.val.content.tolist() == [4]
        feats = {(lab, p, part): arr for lab, fs in d.features.items() for p, xm in fs.items()
                 for part, arr in zip("xm", xm)}
        return d, feats

    da, fa = seen_by_model(a, CFG)
    db, fb = seen_by_model(b, CFG)
    assert set(fa) == set(fb) and all(np.array_equal(fa[k], fb[k]) for k in fa)
    assert ("User", "emb_behavior", "x") not in fa and ("Content", "emb_text", "x") in fa
    assert np.array_equal(da.train.weight, db.train.weight) and np.array_equal(da.user_topic[2], db.user_topic[2])
    _, ka = seen_by_model(a, replace(CFG, interaction_features="keep"))
    _, kb = seen_by_model(b, replace(CFG, interaction_features="keep"))
    assert not np.array_equal(ka[("User", "emb_behavior", "x")], kb[("User", "emb_behavior", "x")])


def test_missing_modalities_keep_their_mask():
    d = build_data(_snap(), CFG)
    x, mask = d.features["Content"]["emb_text"]
    assert mask.tolist() == [True, True, False, True, True, True]
    assert not x[2].any()
    assert "emb_text" not in build_data(_snap(), TrainConfig(use_features=False)).features["Content"]


def test_config_validation_and_yaml(tmp_path):
    with pytest.raises(ConfigError, match="model must be one of"):
        TrainConfig(model="gat")
    with pytest.raises(ConfigError, match="fanouts needs one entry per layer"):
        TrainConfig(num_layers=3)
    (tmp_path / "c.yaml").write_text("model:\n  model: gcn\n  emb_dim: 32\ntraining:\n  lr: 0.01\n")
    cfg = TrainConfig.from_yaml(tmp_path / "c.yaml", lr=0.02)
    assert (cfg.model, cfg.emb_dim, cfg.lr) == ("gcn", 32, 0.02)
    (tmp_path / "bad.yaml").write_text("training:\n  learning_rate: 0.01\n")
    with pytest.raises(ConfigError, match="unknown key.*learning_rate.*valid:"):
        TrainConfig.from_yaml(tmp_path / "bad.yaml")
