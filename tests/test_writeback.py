"""Write-back: exact edges, atomic swap under failures, idempotent reruns, seen items, declared interests."""
from __future__ import annotations

import json

import numpy as np
import pytest

import graph.writeback as wb
from graph.errors import GraphError, InputError
from graph.snapshot import Snapshot
from graph.writeback import WritebackConfig, activate, active_run, list_runs, load_run, writeback

USERS = ["u1", "u2", "u3", "u9"]          # u9 is in the snapshot but no longer in the graph
CONTENT = ["c1", "c2", "c3", "c4"]
TOPICS = ["t1", "t2", "t3"]

SETUP = """
UNWIND $users AS id CREATE (:User {id: id})
WITH count(*) AS _
UNWIND $content AS id CREATE (:Content {id: id})
WITH count(*) AS _
UNWIND $topics AS id CREATE (:Topic {id: id})
"""
INTERACT = """
UNWIND $rows AS row MATCH (u:User {id: row[0]}), (c:Content {id: row[1]})
CREATE (u)-[:INTERACTED {kind: 'view', weight: 0.3, ts: datetime('2026-01-01T00:00:00Z')}]->(c)"""
DECLARE = """
MATCH (u:User {id: $user}), (t:Topic {id: $topic})
CREATE (u)-[:INTERESTED_IN {source: 'declared', score: 1.0}]->(t)"""
# What a reader sees: only edges of the active run.
VISIBLE = """
MATCH (run:ModelRun {active: true})
MATCH (u:User)-[r:INTERESTED_IN|MAY_LIKE]->(x) WHERE r.run_id = run.id
RETURN type(r) AS type, u.id AS user, x.id AS target, r.rank AS rank, r.run_id AS run_id
ORDER BY type, user, rank"""
ALL_MODEL_EDGES = "MATCH ()-[r:INTERESTED_IN|MAY_LIKE]->() WHERE r.run_id IS NOT NULL RETURN r.run_id AS run_id, count(*) AS n"
DECLARED = "MATCH (u:User)-[r:INTERESTED_IN {source: 'declared'}]->(t) RETURN u.id AS user, t.id AS topic, r.score AS score"


@pytest.fixture()
def world(graph, tmp_path):
    graph.write(SETUP, users=USERS[:3], content=CONTENT, topics=TOPICS)
    graph.write(INTERACT, rows=[["u1", "c1"], ["u2", "c2"]])
    graph.write(DECLARE, user="u1", topic="t3")
    Snapshot(node_ids={"User": np.array(USERS, dtype=object), "Content": np.array(CONTENT, dtype=object),
                       "Topic": np.array(TOPICS, dtype=object)}, edges={}).save(tmp_path / "snap")
    return graph


def make_run(tmp_path, run_id: str, topics: list[list[int]], content: list[list[int]], dim: int = 64,
             seed: int = 0):
    """A hand-made run directory: lists for users 0..3 (row i = user i), random embeddings."""
    path = tmp_path / "runs" / run_id
    (path / "embeddings").mkdir(parents=True)
    rng = np.random.default_rng(seed)
    np.save(path / "embeddings" / "User.npy", rng.normal(size=(len(USERS), dim)).astype(np.float32))
    np.save(path / "embeddings" / "Content.npy", rng.normal(size=(len(CONTENT), dim)).astype(np.float32))
    users = np.arange(len(topics), dtype=np.int64)
    t = np.array(topics, dtype=np.int64)
    c = np.array(content, dtype=np.int64)
    np.savez(path / "interests.npz", user=users, topic=t, score=np.linspace(1, 0, t.size, dtype=np.float32).reshape(t.shape))
    np.savez(path / "recommendations.npz", user=users, content=c,
             score=np.linspace(1, 0, c.size, dtype=np.float32).reshape(c.shape))
    (path / "run.json").write_text(json.dumps({
        "run_id": run_id, "model": run_id.split("-")[0], "backend": "dgl", "device": "cpu",
        "snapshot": str(tmp_path / "snap"), "config": {"emb_dim": dim, "lr": 0.01},
        "metrics": {"recall@20": 0.25}, "timings": {"train": 1.5}, "created_at": "2026-11-24T07:05:01+00:00",
        "emb_dim": dim}))
    return path


# run A: u1 likes t1,t2; u2 t2; u3 -; u9 (gone) t1. Recommends c1 to u1 although u1 has seen it.
A_TOPICS = [[0, 1], [1, -1], [-1, -1], [0, 2]]
A_CONTENT = [[1, 0, 2], [0, 3, -1], [3, -1, -1], [0, 1, 2]]
B_TOPICS = [[2, 0], [0, 1], [1, -1], [0, -1]]
B_CONTENT = [[3, 2, -1], [2, -1, -1], [0, 1, -1], [1, -1, -1]]


def expected(run_id: str, topics, content, top_k: int | None = None) -> list[dict]:
    seen = {("u1", "c1"), ("u2", "c2")}
    rows = []
    for type_, lists, names in (("INTERESTED_IN", topics, TOPICS), ("MAY_LIKE", content, CONTENT)):
        for ui, row in enumerate(lists):
            for col, x in enumerate(row[:top_k]):
                user = USERS[ui]
                if x < 0 or user == "u9" or (type_ == "MAY_LIKE" and (user, names[x]) in seen):
                    continue
                rows.append({"type": type_, "user": user, "target": names[x], "rank": col + 1, "run_id": run_id})
    return sorted(rows, key=lambda r: (r["type"], r["user"], r["rank"]))


def test_writeback_writes_exact_edges_embeddings_and_model_run(world, tmp_path):
    path = make_run(tmp_path, "sage-a", A_TOPICS, A_CONTENT)
    result = writeback(world, path)
    assert world.read(VISIBLE) == expected("sage-a", A_TOPICS, A_CONTENT)
    assert (result.interests, result.recommendations, result.excluded_seen) == (3, 5, 1)
    assert result.missing_nodes == {"User": 1}
    edge = world.read("MATCH (:User {id: 'u1'})-[r:INTERESTED_IN {rank: 1}]->(t) WHERE r.run_id = 'sage-a' "
                      "RETURN r {.*} AS r, t.id AS t")[0]
    assert edge["t"] == "t1" and edge["r"]["source"] == "model" and edge["r"]["model"] == "sage"
    assert edge["r"]["score"] == pytest.approx(1.0) and edge["r"]["updated_at"] is not None
    emb = np.load(path / "embeddings" / "User.npy")
    got = world.read("MATCH (u:User {id: 'u2'}) RETURN u.emb_gnn AS v, u.emb_gnn_run AS run")[0]
    np.testing.assert_allclose(got["v"], emb[1], rtol=1e-6)
    assert got["run"] == "sage-a"
    run = active_run(world)
    assert run["id"] == "sage-a" and run["state"] == "ready" and run["active"] is True
    assert run["config"] == {"emb_dim": 64, "lr": 0.01} and run["metrics"] == {"recall@20": 0.25}
    assert run["backend"] == "dgl" and run["interests"] == 3
    assert world.read(DECLARED) == [{"user": "u1", "topic": "t3", "score": 1.0}]


@pytest.mark.parametrize("cfg,top_k", [(WritebackConfig(top_k=1), 1), (WritebackConfig(batch_size=2), None),
                                       (WritebackConfig(batch_size=1, workers=3), None),
                                       (WritebackConfig(workers=1), None)])
def test_top_k_and_small_batches(world, tmp_path, cfg, top_k):
    writeback(world, make_run(tmp_path, "sage-a", A_TOPICS, A_CONTENT), cfg)
    assert world.read(VISIBLE) == expected("sage-a", A_TOPICS, A_CONTENT, top_k=top_k)


def test_new_run_replaces_old_and_is_idempotent(world, tmp_path):
    writeback(world, make_run(tmp_path, "sage-a", A_TOPICS, A_CONTENT))
    path_b = make_run(tmp_path, "gcn-b", B_TOPICS, B_CONTENT, seed=1)
    result = writeback(world, path_b)
    assert result.previous == ["sage-a"] and result.retired == ["sage-a"]
    assert world.read(VISIBLE) == expected("gcn-b", B_TOPICS, B_CONTENT)
    assert world.read(ALL_MODEL_EDGES) == [{"run_id": "gcn-b", "n": len(expected("gcn-b", B_TOPICS, B_CONTENT))}]
    again = writeback(world, path_b)
    assert again.skipped
    assert world.read(VISIBLE) == expected("gcn-b", B_TOPICS, B_CONTENT)
    runs = {r["id"]: r for r in list_runs(world)}
    assert runs["sage-a"]["state"] == "retired" and runs["sage-a"]["edges_present"] == {"interests": 0,
                                                                                         "recommendations": 0}
    assert runs["gcn-b"]["active"] and world.read("MATCH (r:ModelRun {active: true}) RETURN count(r) AS n") == [{"n": 1}]
    assert world.read(DECLARED) == [{"user": "u1", "topic": "t3", "score": 1.0}]


class Crash(RuntimeError):
    pass


def _raise(*args, **kwargs):
    raise Crash("simulated crash")


@pytest.mark.parametrize("step", ["_create_edges_second", "_set_embeddings", "flip"])
def test_crash_before_flip_leaves_old_run_fully_visible(world, tmp_path, monkeypatch, step):
    writeback(world, make_run(tmp_path, "sage-a", A_TOPICS, A_CONTENT))
    before = world.read(VISIBLE)
    path_b = make_run(tmp_path, "gcn-b", B_TOPICS, B_CONTENT, seed=1)
    if step == "_create_edges_second":  # interests of B written, then MAY_LIKE fails
        real = wb._create_edges
        calls = []

        def second_fails(*args, **kwargs):
            calls.append(1)
            if len(calls) == 2:
                raise Crash("simulated crash")
            return real(*args, **kwargs)
        monkeypatch.setattr(wb, "_create_edges", second_fails)
    else:
        monkeypatch.setattr(wb, step, _raise)
    with pytest.raises(Crash):
        writeback(world, path_b)
    assert world.read(VISIBLE) == before
    assert active_run(world)["id"] == "sage-a"
    monkeypatch.undo()
    writeback(world, path_b)
    assert world.read(VISIBLE) == expected("gcn-b", B_TOPICS, B_CONTENT)
    assert world.read(ALL_MODEL_EDGES) == [{"run_id": "gcn-b", "n": len(expected("gcn-b", B_TOPICS, B_CONTENT))}]


def test_crash_after_flip_shows_new_run_and_rerun_cleans_up(world, tmp_path, monkeypatch):
    writeback(world, make_run(tmp_path, "sage-a", A_TOPICS, A_CONTENT))
    path_b = make_run(tmp_path, "gcn-b", B_TOPICS, B_CONTENT, seed=1)
    monkeypatch.setattr(wb, "retire_superseded", _raise)
    with pytest.raises(Crash):
        writeback(world, path_b)
    assert world.read(VISIBLE) == expected("gcn-b", B_TOPICS, B_CONTENT)
    monkeypatch.undo()
    result = writeback(world, path_b)
    assert result.skipped and result.retired == ["sage-a"]
    assert world.read(ALL_MODEL_EDGES) == [{"run_id": "gcn-b", "n": len(expected("gcn-b", B_TOPICS, B_CONTENT))}]


def test_crash_while_deleting_old_edges_is_swept_by_the_next_run(world, tmp_path, monkeypatch):
    writeback(world, make_run(tmp_path, "sage-a", A_TOPICS, A_CONTENT))
    path_b = make_run(tmp_path, "gcn-b", B_TOPICS, B_CONTENT, seed=1)
    real = wb.delete_run_edges

    def delete_half(g, run_id):  # deletes the INTERESTED_IN edges of sage-a, then dies
        if run_id == "sage-a":
            g.write("MATCH ()-[r:INTERESTED_IN]->() WHERE r.run_id = 'sage-a' DELETE r")
            raise Crash("simulated crash")
        return real(g, run_id)
    monkeypatch.setattr(wb, "delete_run_edges", delete_half)
    with pytest.raises(Crash):
        writeback(world, path_b)
    assert world.read(VISIBLE) == expected("gcn-b", B_TOPICS, B_CONTENT)
    assert {r["id"]: r["state"] for r in list_runs(world)}["sage-a"] == "retiring"
    monkeypatch.undo()
    assert writeback(world, path_b).retired == ["sage-a"]
    assert world.read(ALL_MODEL_EDGES) == [{"run_id": "gcn-b", "n": len(expected("gcn-b", B_TOPICS, B_CONTENT))}]
    assert {r["id"]: r["state"] for r in list_runs(world)}["sage-a"] == "retired"


def test_activate_rolls_back_by_flip_or_rewrite(world, tmp_path):
    writeback(world, make_run(tmp_path, "sage-a", A_TOPICS, A_CONTENT))
    writeback(world, make_run(tmp_path, "gcn-b", B_TOPICS, B_CONTENT, seed=1), WritebackConfig(keep_previous=1))
    assert {r["run_id"] for r in world.read(ALL_MODEL_EDGES)} == {"sage-a", "gcn-b"}
    result = activate(world, "sage-a", WritebackConfig(keep_previous=1))   # edges still there: a flip
    assert result.previous == ["gcn-b"] and not result.retired
    assert world.read(VISIBLE) == expected("sage-a", A_TOPICS, A_CONTENT)
    emb = np.load(tmp_path / "runs" / "sage-a" / "embeddings" / "Content.npy")
    np.testing.assert_allclose(world.read("MATCH (c:Content {id: 'c4'}) RETURN c.emb_gnn AS v")[0]["v"], emb[3],
                               rtol=1e-6)
    activate(world, "gcn-b")                                                # flip back, retire sage-a
    result = activate(world, "sage-a")                                      # retired: rewritten from its dir
    assert not result.skipped and result.interests == 3
    assert world.read(VISIBLE) == expected("sage-a", A_TOPICS, A_CONTENT)
    with pytest.raises(GraphError, match="no ModelRun 'nope'"):
        activate(world, "nope")


def test_embedding_dimension_must_match_index(world, tmp_path):
    path = make_run(tmp_path, "sage-small", A_TOPICS, A_CONTENT, dim=8)
    with pytest.raises(GraphError, match="vector index user_emb_gnn has dimension 64 but the run's emb_dim is 8"):
        writeback(world, path)
    assert active_run(world) is None
    try:
        writeback(world, path, WritebackConfig(recreate_index=True))
        dims = world.read("SHOW VECTOR INDEXES YIELD name, options WHERE name ENDS WITH '_emb_gnn' "
                          "RETURN options.indexConfig.`vector.dimensions` AS dim")
        assert [d["dim"] for d in dims] == [8, 8]
        assert len(world.read("MATCH (u:User {id: 'u1'}) RETURN u.emb_gnn AS v")[0]["v"]) == 8
    finally:
        wb.check_vector_indexes(world, 64, recreate=True)


@pytest.mark.parametrize("mutate,match", [
    (lambda p: np.savez(p / "interests.npz", user=np.arange(4), topic=np.zeros((3, 2), dtype=np.int64),
                        score=np.zeros((3, 2), dtype=np.float32)), "interests.npz, field 'topic': shape \\(3, 2\\)"),
    (lambda p: np.savez(p / "recommendations.npz", user=np.arange(4), content=np.full((4, 1), 9),
                        score=np.zeros((4, 1), dtype=np.float32)), "recommendations.npz, field 'content': id out of range"),
    (lambda p: np.save(p / "embeddings" / "User.npy", np.zeros((4, 5), dtype=np.float32)), "User.npy: shape \\(4, 5\\)"),
    (lambda p: (p / "run.json").write_text("{}"), "run.json, field 'run_id': missing"),
])
def test_bad_run_directories_are_named(tmp_path, mutate, match):
    Snapshot(node_ids={"User": np.array(USERS, dtype=object), "Content": np.array(CONTENT, dtype=object),
                       "Topic": np.array(TOPICS, dtype=object)}, edges={}).save(tmp_path / "snap")
    path = make_run(tmp_path, "sage-bad", A_TOPICS, A_CONTENT)
    mutate(path)
    with pytest.raises(InputError, match=match):
        load_run(path)


def test_user_lists_is_pure():
    out = wb.user_lists(np.array([1, 0, 2]), np.array([[2, -1], [0, 1], [-1, -1]]),
                        np.array([[0.9, 0.0], [0.8, 0.7], [0.0, 0.0]]),
                        user_nids=np.array([10, -1, 12]), target_nids=np.array([20, 21, 22]), top_k=None)
    # row 0 is user 1, gone from the graph; row 1 is user 0: both columns; row 2 is all padding
    assert out["users"].tolist() == [10] and out["off"].tolist() == [0, 2]
    assert out["t"].tolist() == [20, 21] and out["rank"].tolist() == [1, 2]
    np.testing.assert_allclose(out["score"], [0.8, 0.7])
    top1 = wb.user_lists(np.array([0, 1]), np.array([[2, 0], [1, 0]]), np.array([[0.5, 0.4], [0.3, 0.2]]),
                         np.array([3, 4]), np.array([20, 21, -1]), top_k=1)
    assert top1["users"].tolist() == [4] and top1["t"].tolist() == [21] and top1["off"].tolist() == [0, 1]
    none = wb.user_lists(np.array([0]), np.full((1, 3), -1), np.zeros((1, 3)), np.array([3]),
                         np.empty(0, dtype=np.int64), top_k=None)   # a snapshot without topics
    assert none["users"].tolist() == [] and none["off"].tolist() == [0] and none["t"].tolist() == []


def test_edge_blocks_partition_edges_into_lock_disjoint_phases():
    lists = {"users": np.array([10, 11, 12]), "off": np.array([0, 3, 4, 6]), "t": np.array([20, 21, 22, 21, 20, 23]),
             "score": np.arange(6) / 10, "rank": np.array([1, 2, 3, 1, 1, 2])}
    phases = wb.edge_blocks(lists, 2)
    edges = []
    for blocks in phases:
        users = [set(b["users"].tolist()) for b in blocks]
        targets = [set(b["t"].tolist()) for b in blocks]
        assert all(not (users[i] & users[j]) and not (targets[i] & targets[j])
                   for i in range(len(blocks)) for j in range(i + 1, len(blocks)))
        for b in blocks:
            assert b["off"][-1] == len(b["t"]) and (np.diff(b["off"]) > 0).all()
            owners = np.repeat(b["users"], np.diff(b["off"]))
            edges += list(zip(owners.tolist(), b["t"].tolist(), b["rank"].tolist()))
    want = list(zip(np.repeat(lists["users"], np.diff(lists["off"])).tolist(), lists["t"].tolist(),
                    lists["rank"].tolist()))
    assert sorted(edges) == sorted(want)
