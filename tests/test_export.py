"""Export: exact arrays and id maps from a known small graph; selection, window, sampling, features."""
from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest

from graph.errors import ConfigError
from graph.export import ExportConfig, IdMap, edge_order, export_snapshot, export_to, kind_codes
from graph.model import INTERACTION_KINDS
from graph.snapshot import Snapshot

UI = ("User", "INTERACTED", "Content")
CT = ("Content", "HAS_TOPIC", "Topic")
TT = ("Topic", "SUBTOPIC_OF", "Topic")
UU = ("User", "FOLLOWS", "User")

CREATE_NODES = {
    "User": "UNWIND $ids AS id CREATE (:User {id: id})",
    "Content": "UNWIND $ids AS id CREATE (:Content {id: id, kind: 'post'})",
    "Topic": "UNWIND $ids AS id CREATE (:Topic {id: id})",
}
SET_VECTORS = """
UNWIND $rows AS row MATCH (n {id: row.id})
CALL db.create.setNodeVectorProperty(n, $prop, row.vec)"""
CREATE_INTERACTIONS = """
UNWIND $rows AS row
MATCH (u:User {id: row.u}), (c:Content {id: row.c})
CREATE (u)-[r:INTERACTED {kind: row.kind, weight: row.weight, ts: datetime(row.ts)}]->(c)
SET r.rating = row.rating"""
CREATE_HAS_TOPIC = """
UNWIND $rows AS row MATCH (c:Content {id: row.c}), (t:Topic {id: row.t})
CREATE (c)-[r:HAS_TOPIC]->(t) SET r.weight = row.weight"""
CREATE_SUBTOPIC = "UNWIND $rows AS row MATCH (a:Topic {id: row.a}), (b:Topic {id: row.b}) CREATE (a)-[:SUBTOPIC_OF]->(b)"
CREATE_FOLLOWS = """
UNWIND $rows AS row MATCH (a:User {id: row.a}), (b:User {id: row.b})
CREATE (a)-[r:FOLLOWS]->(b) SET r.ts = CASE WHEN row.ts IS NULL THEN null ELSE datetime(row.ts) END"""

# Created in an order unlike the sorted one, so internal ids differ from contiguous ids.
USERS = ["u3", "u1", "u4", "u2"]
CONTENT = ["c2", "c3", "c1"]
TOPICS = ["t3", "t1", "t2"]
INTERACTIONS = [  # user, content, kind, weight, rating, ts (day of January 2026)
    ("u1", "c1", "like", 1.0, None, 1),
    ("u1", "c2", "view", 0.3, None, 2),
    ("u2", "c2", "rate", 1.0, 4.0, 3),
    ("u2", "c3", "bookmark", 0.5, None, 4),
    ("u3", "c3", "view", 0.3, None, 5),
    ("u1", "c1", "view", 0.3, None, 6),
]
HAS_TOPIC = [("c1", "t1", 0.5), ("c2", "t2", None), ("c3", "t1", 1.0)]
FOLLOWS = [("u3", "u1", "2026-01-07T00:00:00Z"), ("u4", "u3", None)]
AUDIO = {"c1": np.linspace(0, 1, 120), "c3": np.linspace(1, 2, 120)}
BEHAVIOR = {"u1": np.arange(16) / 16.0}


def _day(d: int) -> str:
    return f"2026-01-{d:02d}T12:00:00Z"


def _epoch(d: int) -> float:
    return datetime(2026, 1, d, 12, tzinfo=timezone.utc).timestamp()


@pytest.fixture()
def small_graph(graph):
    for label, ids in (("User", USERS), ("Content", CONTENT), ("Topic", TOPICS)):
        graph.write(CREATE_NODES[label], ids=ids)
    graph.write(SET_VECTORS, prop="emb_audio", rows=[{"id": k, "vec": v.tolist()} for k, v in AUDIO.items()])
    graph.write(SET_VECTORS, prop="emb_behavior", rows=[{"id": k, "vec": v.tolist()} for k, v in BEHAVIOR.items()])
    graph.write(CREATE_INTERACTIONS, rows=[{"u": u, "c": c, "kind": k, "weight": w, "rating": r, "ts": _day(d)}
                                           for u, c, k, w, r, d in INTERACTIONS])
    graph.write(CREATE_HAS_TOPIC, rows=[{"c": c, "t": t, "weight": w} for c, t, w in HAS_TOPIC])
    graph.write(CREATE_SUBTOPIC, rows=[{"a": "t2", "b": "t1"}])
    graph.write(CREATE_FOLLOWS, rows=[{"a": a, "b": b, "ts": ts} for a, b, ts in FOLLOWS])
    return graph


def _as_tuples(edges: dict[str, np.ndarray], keys: tuple[str, ...]) -> list[tuple]:
    return list(zip(*(edges[k].tolist() for k in keys)))


def test_full_export_exact_arrays(small_graph):
    snap = export_snapshot(small_graph, ExportConfig(workers=2, page_edges=1))
    assert {k: v.tolist() for k, v in snap.node_ids.items()} == {
        "User": ["u1", "u2", "u3", "u4"], "Content": ["c1", "c2", "c3"], "Topic": ["t1", "t2", "t3"]}
    kinds = snap.manifest["interaction_kinds"]
    assert kinds == [*INTERACTION_KINDS, "bookmark"]
    k = kinds.index
    ui = snap.edges[UI]
    assert ui["ts"].dtype == np.float64 and ui["weight"].dtype == np.float32
    assert ui["rating"].dtype == np.float32 and ui["kind"].dtype == np.int8
    got = _as_tuples(ui, ("src", "dst", "kind", "ts"))
    assert got == [(0, 0, k("like"), _epoch(1)), (0, 0, k("view"), _epoch(6)), (0, 1, k("view"), _epoch(2)),
                   (1, 1, k("rate"), _epoch(3)), (1, 2, k("bookmark"), _epoch(4)), (2, 2, k("view"), _epoch(5))]
    np.testing.assert_allclose(ui["weight"], [1.0, 0.3, 0.3, 1.0, 0.5, 0.3], rtol=1e-6)
    np.testing.assert_array_equal(ui["rating"], [np.nan, np.nan, np.nan, 4.0, np.nan, np.nan])
    assert _as_tuples(snap.edges[CT], ("src", "dst", "weight")) == [(0, 0, 0.5), (1, 1, 1.0), (2, 0, 1.0)]
    assert _as_tuples(snap.edges[TT], ("src", "dst")) == [(1, 0)]
    follows = snap.edges[UU]
    assert _as_tuples(follows, ("src", "dst")) == [(2, 0), (3, 2)]
    assert follows["ts"][0] == datetime(2026, 1, 7, tzinfo=timezone.utc).timestamp() and np.isnan(follows["ts"][1])
    assert snap.manifest["reference_time"] == _epoch(6)
    assert snap.manifest["source"]["database"] == small_graph.database


def test_feature_arrays_and_masks(small_graph):
    snap = export_snapshot(small_graph, ExportConfig())
    audio = snap.features["Content"]["emb_audio"]
    assert audio.shape == (3, 120) and audio.dtype == np.float32
    assert snap.feature_masks["Content"]["emb_audio"].tolist() == [True, False, True]
    np.testing.assert_allclose(audio[0], AUDIO["c1"], rtol=1e-6)
    np.testing.assert_allclose(audio[2], AUDIO["c3"], rtol=1e-6)
    assert not audio[1].any()
    assert snap.feature_masks["User"]["emb_behavior"].tolist() == [True, False, False, False]
    np.testing.assert_allclose(snap.features["User"]["emb_behavior"][0], BEHAVIOR["u1"], rtol=1e-6)
    assert "emb_text" not in snap.features["Content"]
    assert "Content.emb_text" in snap.manifest["features_absent"]


def test_time_window_and_selection(small_graph):
    cfg = ExportConfig(labels=("User", "Content"), rel_types=("INTERACTED",),
                       since="2026-01-02T00:00:00Z", until=_epoch(5), features=())
    snap = export_snapshot(small_graph, cfg)
    assert set(snap.node_ids) == {"User", "Content"} and set(snap.edges) == {UI}
    assert _as_tuples(snap.edges[UI], ("src", "dst", "ts")) == [(0, 1, _epoch(2)), (1, 1, _epoch(3)),
                                                                 (1, 2, _epoch(4))]
    assert snap.features == {}
    assert snap.manifest["time_window"]["since"] == "2026-01-02T00:00:00+00:00"
    assert snap.manifest["reference_time"] == _epoch(4)
    assert "User__INTERACTED__Content" in snap.manifest["queries"]
    given = export_snapshot(small_graph, ExportConfig(rel_types=("INTERACTED",), reference_time="2026-02-01"))
    assert given.manifest["reference_time"] == datetime(2026, 2, 1, tzinfo=timezone.utc).timestamp()


def _neighbourhood(seeds: set[str], hops: int, window: tuple[float, float] | None = None) -> set[str]:
    """Expected k-hop node set (undirected) over every relationship of the test graph."""
    edges = [(u, c) for u, c, *_, d in INTERACTIONS if window is None or window[0] <= _epoch(d) < window[1]]
    edges += [(c, t) for c, t, _ in HAS_TOPIC] + [("t2", "t1")] + [(a, b) for a, b, _ in FOLLOWS]
    reached, frontier = set(seeds), set(seeds)
    for _ in range(hops):
        frontier = {b for a, b in edges if a in frontier} | {a for a, b in edges if b in frontier}
        frontier -= reached
        reached |= frontier
    return reached


@pytest.mark.parametrize("seed,hops", [(0, 0), (1, 1), (2, 2), (3, 3)])
def test_user_sampling_with_hops(small_graph, seed, hops):
    snap = export_snapshot(small_graph, ExportConfig(sample_users=2, hops=hops, seed=seed, features=()))
    picked = snap.manifest["sampled_users"]
    assert len(picked) == 2 and set(picked) <= set(USERS)
    expected = _neighbourhood(set(picked), hops)
    got = {raw for ids in snap.node_ids.values() for raw in ids.tolist()}
    assert got == expected
    inside = snap.node_ids["User"].tolist(), snap.node_ids["Content"].tolist()
    want = sorted((u, c) for u, c, *_ in INTERACTIONS if u in inside[0] and c in inside[1])
    ui = snap.edges[UI]
    assert sorted((inside[0][s], inside[1][d]) for s, d in zip(ui["src"], ui["dst"])) == want


def test_sampling_respects_time_window(small_graph):
    cfg = ExportConfig(sample_users=4, hops=1, since=_day(5), features=())
    snap = export_snapshot(small_graph, cfg)
    assert sorted(snap.node_ids["Content"].tolist()) == ["c1", "c3"]  # c2 only seen on days 2 and 3


def test_round_trip(small_graph, tmp_path):
    saved = export_to(small_graph, ExportConfig(), tmp_path / "snap")
    loaded = Snapshot.load(tmp_path / "snap")
    assert loaded.manifest["counts"]["edges"] == {"User__INTERACTED__Content": 6, "Content__HAS_TOPIC__Topic": 3,
                                                  "Topic__SUBTOPIC_OF__Topic": 1, "User__FOLLOWS__User": 2}
    assert loaded.manifest["features"]["Content"]["emb_audio"] == {"dim": 120, "present": 2}
    for etype, arrays in saved.edges.items():
        for key, arr in arrays.items():
            np.testing.assert_array_equal(loaded.edges[etype][key], arr)
            assert loaded.edges[etype][key].dtype == arr.dtype
    assert loaded.manifest["name"] == "snap"


def test_empty_database_exports_empty_snapshot(graph, tmp_path):
    export_to(graph, ExportConfig(), tmp_path / "empty")
    snap = Snapshot.load(tmp_path / "empty")
    assert all(len(ids) == 0 for ids in snap.node_ids.values())
    assert snap.manifest["reference_time"] is None


@pytest.mark.parametrize("kwargs,match", [
    ({"labels": ("User", "Movie")}, "labels \\['Movie'\\] not exportable"),
    ({"labels": ("User", "Content")}, "HAS_TOPIC connects Content->Topic but labels \\['Topic'\\]"),
    ({"rel_types": ("LIKES",)}, "relationship types \\['LIKES'\\]"),
    ({"since": "2026-02-01", "until": "2026-01-01"}, "must be before until"),
    ({"since": "yesterday"}, "since='yesterday' is not an ISO-8601"),
    ({"sample_users": 0}, "sample_users must be >= 1"),
    ({"hops": -1}, "hops must be >= 0"),
    ({"features": ("Content.emb_smell",)}, "features \\['Content.emb_smell'\\] unknown"),
])
def test_config_validation(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        ExportConfig(**kwargs)


def test_id_map_and_kind_codes_are_pure():
    m = IdMap.build(["b", "a", "c"], [10, 42, 7])
    assert m.raw_ids.tolist() == ["a", "b", "c"]
    assert m.lookup(np.array([7, 10, 42, 99])).tolist() == [2, 1, 0, -1]
    codes, vocabulary = kind_codes(["like", "zap", None])
    assert vocabulary[-1] == "zap" and codes["zap"] == len(INTERACTION_KINDS) and codes[None] == -1


def test_id_map_sparse_ids_use_binary_search():
    m = IdMap.build(["x", "y"], [10**9, 3])
    assert m.lookup(np.array([3, 10**9, 4, -1])).tolist() == [1, 0, -1, -1]


def test_edge_order_matches_two_key_sort():
    rng = np.random.default_rng(0)
    for _ in range(100):
        n = int(rng.integers(1, 40))
        pair, ts = rng.integers(0, 6, n), rng.choice([1.0, 2.0, 3.0, np.nan], n)
        got, want = edge_order(pair, ts), np.lexsort([ts, pair])
        np.testing.assert_array_equal(pair[got], pair[want])
        np.testing.assert_array_equal(ts[got], ts[want])
    assert edge_order(np.array([2, 1, 2, 1]), None).tolist() == [1, 3, 0, 2]
