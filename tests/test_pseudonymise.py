"""Pseudonymised snapshots: no raw user id in any snapshot file; training and write-back still work."""
from __future__ import annotations

import json
import stat

import numpy as np
import pytest

from graph.errors import GraphError
from graph.export import ExportConfig, export_to
from graph.pseudonym import SECRET_ENV, load_secret, pseudonym
from graph.snapshot import Snapshot
from graph.writeback import writeback

# Distinctive ids, so a raw id cannot turn up in a file by chance.
USERS = [f"person-{name}@example.org" for name in
         ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "oscar")]
CONTENT = [f"item-{i:02d}" for i in range(10)]
TOPICS = ["topic-a", "topic-b", "topic-c"]

SETUP = """
UNWIND $users AS id CREATE (:User {id: id, name: id})
WITH count(*) AS _
UNWIND $content AS id CREATE (:Content {id: id, kind: 'post'})
WITH count(*) AS _
UNWIND $topics AS id CREATE (:Topic {id: id})"""
INTERACT = """
UNWIND $rows AS row MATCH (u:User {id: row.u}), (c:Content {id: row.c})
CREATE (u)-[:INTERACTED {kind: 'like', weight: 1.0, ts: datetime({epochSeconds: row.ts})}]->(c)"""
HAS_TOPIC = "UNWIND $rows AS row MATCH (c:Content {id: row.c}), (t:Topic {id: row.t}) CREATE (c)-[:HAS_TOPIC]->(t)"
FOLLOW = "UNWIND $rows AS row MATCH (a:User {id: row.a}), (b:User {id: row.b}) CREATE (a)-[:FOLLOWS]->(b)"
MAY_LIKE = "MATCH (u:User)-[r:MAY_LIKE]->(c:Content) RETURN u.id AS user, c.id AS item"
INTERESTS = "MATCH (u:User)-[r:INTERESTED_IN {source: 'model'}]->(t:Topic) RETURN u.id AS user, count(r) AS n"
SEEN = "MATCH (u:User)-[:INTERACTED]->(c:Content) RETURN u.id AS user, c.id AS item"


@pytest.fixture()
def secret_file(tmp_path, monkeypatch):
    path = tmp_path / "keys" / "pseudonym.secret"
    monkeypatch.setenv(SECRET_ENV, str(path))
    return path


@pytest.fixture()
def people(graph):
    graph.write(SETUP, users=USERS, content=CONTENT, topics=TOPICS)
    rows = [{"u": u, "c": CONTENT[(i + k) % len(CONTENT)], "ts": 1_700_000_000 + 3600 * (7 * i + k)}
            for i, u in enumerate(USERS) for k in range(6)]
    graph.write(INTERACT, rows=rows)
    graph.write(HAS_TOPIC, rows=[{"c": c, "t": TOPICS[i % len(TOPICS)]} for i, c in enumerate(CONTENT)])
    graph.write(FOLLOW, rows=[{"a": USERS[i], "b": USERS[(i + 1) % len(USERS)]} for i in range(len(USERS))])
    return graph


def _files_containing(root, needles: list[str]) -> list[tuple[str, str]]:
    hits = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        hits += [(str(path.relative_to(root)), n) for n in needles if n.encode() in data]
    return hits


def test_pseudonymised_export_trains_and_writes_back_to_the_real_users(people, tmp_path, secret_file):
    from gnn.config import TrainConfig
    from gnn.train import train_run

    snap_dir = tmp_path / "snap"
    export_to(people, ExportConfig(pseudonymise=True, sample_users=len(USERS), hops=2), snap_dir)
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    secret = load_secret()
    snap = Snapshot.load(snap_dir)
    assert snap.manifest["pseudonymised"] is True
    keys = sorted(pseudonym(u, secret) for u in USERS)
    assert snap.node_ids["User"].tolist() == keys
    assert snap.manifest["sampled_users"] == keys
    assert snap.node_ids["Content"].tolist() == CONTENT            # only user ids are pseudonymised
    assert len(snap.edges[("User", "INTERACTED", "Content")]["src"]) == 6 * len(USERS)
    assert len(snap.edges[("User", "FOLLOWS", "User")]["src"]) == len(USERS)
    assert _files_containing(snap_dir, USERS) == []

    cfg = TrainConfig(device="cpu", num_threads=1, emb_dim=64, epochs=2, patience=2,  # the index dimension
                      top_k_recommendations=3)
    run_dir = train_run(snap_dir, cfg, tmp_path / "runs", progress=False)
    assert _files_containing(run_dir, USERS) == []

    result = writeback(people, run_dir)
    assert "User" not in result.missing_nodes and result.relationships > 0
    # Row i of the run's lists belongs to the user whose pseudonym is snapshot row i.
    by_key = {pseudonym(u, secret): u for u in USERS}
    with np.load(run_dir / "recommendations.npz") as recs:
        expected = {(by_key[keys[u]], CONTENT[c]) for u, row in zip(recs["user"], recs["content"]) for c in row
                    if c >= 0}
    seen = {(r["user"], r["item"]) for r in people.read(SEEN)}
    got = {(r["user"], r["item"]) for r in people.read(MAY_LIKE)}
    assert got == expected - seen and got
    assert {r["user"] for r in people.read(INTERESTS)} <= set(USERS)
    assert json.loads((run_dir / "run.json").read_text())["snapshot"] == str(snap_dir.resolve())


def test_writeback_refuses_a_snapshot_pseudonymised_under_another_secret(people, tmp_path, secret_file,
                                                                         monkeypatch):
    from gnn.config import TrainConfig
    from gnn.train import train_run

    export_to(people, ExportConfig(pseudonymise=True, features=()), tmp_path / "snap")
    run_dir = train_run(tmp_path / "snap", TrainConfig(device="cpu", num_threads=1, emb_dim=64, epochs=1,
                                                       patience=1), tmp_path / "runs", progress=False)
    monkeypatch.setenv(SECRET_ENV, str(tmp_path / "other-machine" / "pseudonym.secret"))
    with pytest.raises(GraphError, match="another pseudonym secret"):
        writeback(people, run_dir)


def test_plain_export_keeps_raw_ids(people, tmp_path, secret_file):
    snap = export_to(people, ExportConfig(features=()), tmp_path / "plain")
    assert snap.node_ids["User"].tolist() == sorted(USERS)
    assert snap.manifest["pseudonymised"] is False and not secret_file.exists()
