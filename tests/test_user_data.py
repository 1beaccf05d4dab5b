"""Per-user deletion and export (graph.userdata, api.users, ikg user) and the stale-snapshot filter."""
from __future__ import annotations

import json
import stat
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

import cli
from api import create_app
from api.config import ApiConfig
from api.keys import create_key
from graph import userdata
from graph.deletions import drop_deleted_users, read_ledger, record_deletion, stale_users, without_users
from graph.model import CONTENT, FOLLOWS, INTERACTED, TOPIC, USER
from graph.pseudonym import load_secret, pseudonym
from graph.snapshot import Snapshot

GONE = "zq-forget-me-7731"   # an id that occurs nowhere by chance
DIM = 16                      # user_emb_behavior


def _vec(i: int) -> list[float]:
    v = [0.0] * DIM
    v[i % DIM], v[(i + 1) % DIM] = 1.0, 0.5
    return v


SEED = [
    "UNWIND $users AS u CREATE (n:User {id: u, name: 'name of ' + u, age: 30})",
    "UNWIND ['c1', 'c2', 'c3'] AS c CREATE (:Content {id: c, title: 'title ' + c})",
    "CREATE (:Topic {id: 't1', name: 'Topic one'}), (:Topic {id: 't2', name: 'Topic two'})",
    "MATCH (c:Content), (t:Topic {id: 't1'}) CREATE (c)-[:HAS_TOPIC {weight: 1.0}]->(t)",
    """MATCH (u:User), (c:Content) WHERE u.id IN [$gone, 'keep'] AND c.id IN ['c1', 'c2']
       CREATE (u)-[:INTERACTED {kind: 'like', weight: 1.0, ts: datetime('2026-01-01T00:00:00Z')}]->(c)""",
    """MATCH (a:User {id: $gone}), (b:User {id: 'keep'}), (c:User {id: 'other'})
       CREATE (a)-[:FOLLOWS {ts: datetime('2026-01-02T00:00:00Z')}]->(b), (c)-[:FOLLOWS]->(a)""",
    """MATCH (u:User {id: $gone}), (t1:Topic {id: 't1'}), (t2:Topic {id: 't2'})
       CREATE (u)-[:INTERESTED_IN {score: 0.9, rank: 1, run_id: 'run-1', model: 'sage', source: 'model'}]->(t1),
              (u)-[:INTERESTED_IN {score: 1.0, source: 'declared'}]->(t2)""",
    """MATCH (u:User {id: $gone}), (c:Content {id: 'c3'})
       CREATE (u)-[:MAY_LIKE {score: 0.7, rank: 1, run_id: 'run-1', model: 'sage'}]->(c),
              (u)-[:FEEDBACK {kind: 'hide', ts: datetime('2026-01-03T00:00:00Z')}]->(c)""",
    "CREATE (:ModelRun {id: 'run-1', active: true, model: 'sage', metrics: '{}'})",
    # a record that names the user without being attached to it
    "CREATE (:AuditEvent {user: $gone, action: 'login'}), (:AuditEvent {user: 'keep', action: 'login'})",
    "MATCH (a:Content {id: 'c1'}), (b:Content {id: 'c2'}) CREATE (a)-[:SEEN_TOGETHER {user: $gone}]->(b)",
]
SET_BEHAVIOR = """
UNWIND $rows AS row MATCH (u:User {id: row.id})
CALL db.create.setNodeVectorProperty(u, 'emb_behavior', row.vec)
"""
VECTOR_QUERY = """
CALL db.index.vector.queryNodes('user_emb_behavior', 10, $vec) YIELD node, score RETURN node.id AS id
"""


@pytest.fixture()
def private(tmp_path, monkeypatch):
    """A private ledger and pseudonym secret for the test."""
    monkeypatch.setenv("IKG_DELETION_LEDGER", str(tmp_path / "keys" / "deleted_users.jsonl"))
    monkeypatch.setenv("IKG_PSEUDONYM_SECRET_FILE", str(tmp_path / "keys" / "pseudonym.secret"))
    return tmp_path / "keys"


@pytest.fixture()
def seeded(graph, private):
    users = [GONE, "keep", "other"]
    for q in SEED:
        graph.write(q, users=users, gone=GONE)
    graph.write(SET_BEHAVIOR, rows=[{"id": u, "vec": _vec(i)} for i, u in enumerate(users)])
    return graph


def _all_values(g) -> list:
    """Every label, relationship type, property key and property value in the database."""
    out: list = []
    out += [r["label"] for r in g.read("CALL db.labels() YIELD label RETURN label")]
    out += [r["t"] for r in g.read("CALL db.relationshipTypes() YIELD relationshipType AS t RETURN t")]
    out += [r["k"] for r in g.read("CALL db.propertyKeys() YIELD propertyKey AS k RETURN k")]
    for r in g.read("MATCH (n) RETURN labels(n) AS labels, properties(n) AS props"):
        out += r["labels"] + list(r["props"].items())
    for r in g.read("MATCH ()-[r]->() RETURN type(r) AS type, properties(r) AS props"):
        out += [r["type"], *r["props"].items()]
    return out


def _traces(values: list, needle: str) -> list:
    found = []
    for v in values:
        flat = v if isinstance(v, tuple) else (v,)
        for item in flat:
            items = item if isinstance(item, list) else [item]
            found += [item for x in items if isinstance(x, str) and needle in x]
    return found


def test_delete_leaves_no_trace(seeded, private):
    g = seeded
    assert _traces(_all_values(g), GONE), "the scan finds the id before deletion"
    assert GONE in [r["id"] for r in g.read(VECTOR_QUERY, vec=_vec(0))]

    result = userdata.delete_user(g, GONE)

    assert result["deleted"] is True
    assert result["relationships"] == {INTERACTED: 2, FOLLOWS: 2, "INTERESTED_IN": 2, "MAY_LIKE": 1, "FEEDBACK": 1}
    assert result["records"] == 2
    assert _traces(_all_values(g), GONE) == []
    assert GONE not in [r["id"] for r in g.read(VECTOR_QUERY, vec=_vec(0))]
    # everyone else is untouched
    assert sorted(g.read("MATCH (u:User) RETURN collect(u.id) AS ids")[0]["ids"]) == ["keep", "other"]
    assert g.read("MATCH (:User {id: 'keep'})-[r:INTERACTED]->() RETURN count(r) AS n")[0]["n"] == 2
    assert g.read("MATCH (a:AuditEvent) RETURN collect(a.user) AS u")[0]["u"] == ["keep"]
    assert g.read("MATCH (c:Content) RETURN count(c) AS n")[0]["n"] == 3


def test_delete_twice_is_a_noop(seeded, private):
    assert userdata.delete_user(seeded, GONE)["deleted"] is True
    before = _all_values(seeded)
    again = userdata.delete_user(seeded, GONE)
    assert again == {"user": GONE, "deleted": False, "relationships": {}, "records": 0}
    assert _all_values(seeded) == before
    assert len(read_ledger()) == 1   # the no-op adds no ledger entry


def test_ledger_holds_keyed_hashes_only(seeded, private):
    userdata.delete_user(seeded, GONE)
    ledger_file = private / "deleted_users.jsonl"
    text = ledger_file.read_text()
    assert GONE not in text
    assert stat.S_IMODE(ledger_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((private / "pseudonym.secret").stat().st_mode) == 0o600
    assert list(read_ledger()) == [pseudonym(GONE, load_secret())]


def test_export_contents(seeded, private):
    data = userdata.export_user(seeded, GONE)
    assert data["user"] == GONE
    assert data["properties"]["name"] == f"name of {GONE}" and data["properties"]["age"] == 30
    assert data["properties"]["emb_behavior"] == {"omitted": "embedding", "dim": DIM}
    assert data["counts"] == {"FEEDBACK": 1, FOLLOWS: 2, INTERACTED: 2, "INTERESTED_IN": 2, "MAY_LIKE": 1}
    follows = {(f["direction"], f["node"]["id"]) for f in data["relationships"][FOLLOWS]}
    assert follows == {("out", "keep"), ("in", "other")}
    sources = sorted(i["properties"]["source"] for i in data["relationships"]["INTERESTED_IN"])
    assert sources == ["declared", "model"]
    inter = data["relationships"][INTERACTED][0]
    assert inter["node"] == {"label": CONTENT, "id": "c1", "name": "title c1"}
    assert inter["properties"]["ts"].startswith("2026-01-01T00:00:00")
    assert data["relationships"]["FEEDBACK"][0]["properties"]["kind"] == "hide"
    assert sorted(r["kind"] for r in data["records"]) == ["node", "relationship"]
    json.dumps(data)  # plain JSON all the way down
    full = userdata.export_user(seeded, GONE, embeddings=True)
    assert full["properties"]["emb_behavior"] == pytest.approx(_vec(0))
    assert userdata.export_user(seeded, "nobody") is None


# ---------------------------------------------------------------- API
@pytest.fixture()
def api(seeded, neo4j_settings):
    app = create_app(ApiConfig(neo4j=neo4j_settings, key_cache_ttl_s=0))
    keys = {role: create_key(seeded, f"t-{role}", role)[0] for role in ("read", "write", "admin")}
    yield app.test_client(), keys
    app.extensions["ikg_graph"].close()


@pytest.mark.parametrize("role", ["read", "write"])
@pytest.mark.parametrize("method,url", [("delete", f"/v1/users/{GONE}"), ("get", f"/v1/users/{GONE}/export")])
def test_api_data_control_needs_admin(api, role, method, url):
    client, keys = api
    response = getattr(client, method)(url, headers={"X-API-Key": keys[role]})
    assert response.status_code == 403 and response.get_json()["code"] == "forbidden"


def test_api_export_then_delete(api, seeded):
    client, keys = api
    admin = {"X-API-Key": keys["admin"]}
    body = client.get(f"/v1/users/{GONE}/export?embeddings=true", headers=admin).get_json()
    assert body["counts"]["INTERACTED"] == 2 and len(body["properties"]["emb_behavior"]) == DIM
    response = client.delete(f"/v1/users/{GONE}", headers=admin)
    assert response.status_code == 200 and response.get_json()["deleted"] is True
    again = client.delete(f"/v1/users/{GONE}", headers=admin)
    assert again.status_code == 404 and again.get_json()["code"] == "user_not_found"
    assert client.get(f"/v1/users/{GONE}/export", headers=admin).status_code == 404
    assert _traces(_all_values(seeded), GONE) == []


def test_cli_user_delete_and_export(seeded, neo4j_settings, monkeypatch, capsys, tmp_path):
    for name, value in (("NEO4J_URI", neo4j_settings.uri), ("NEO4J_USERNAME", neo4j_settings.username),
                        ("NEO4J_PASSWORD", neo4j_settings.password), ("NEO4J_DATABASE", neo4j_settings.database)):
        monkeypatch.setenv(name, value)
    out = tmp_path / "export.json"
    assert cli.main(["user", "export", GONE, "--out", str(out)]) == 0
    assert json.loads(out.read_text())["counts"]["MAY_LIKE"] == 1
    capsys.readouterr()
    assert cli.main(["user", "delete", GONE]) == 0
    assert json.loads(capsys.readouterr().out)["deleted"] is True
    assert cli.main(["user", "delete", GONE]) == 0
    assert json.loads(capsys.readouterr().out)["deleted"] is False
    assert cli.main(["user", "export", GONE]) == 2


# ---------------------------------------------------------------- stale snapshots
def _snapshot(created_at: str) -> Snapshot:
    users = np.array(["u0", GONE, "u2"], dtype=object)
    snap = Snapshot(
        node_ids={USER: users, CONTENT: np.array(["c0", "c1"], dtype=object), TOPIC: np.array(["t0"], dtype=object)},
        edges={(USER, INTERACTED, CONTENT): {"src": np.array([0, 1, 1, 2]), "dst": np.array([0, 0, 1, 1]),
                                             "ts": np.arange(4, dtype=np.float64)},
               (USER, FOLLOWS, USER): {"src": np.array([0, 1, 2]), "dst": np.array([1, 2, 0])},
               (CONTENT, "HAS_TOPIC", TOPIC): {"src": np.array([0, 1]), "dst": np.array([0, 0])}},
        features={USER: {"emb_behavior": np.arange(6, dtype=np.float32).reshape(3, 2)}},
        feature_masks={USER: {"emb_behavior": np.ones(3, dtype=bool)}},
        manifest={"created_at": created_at})
    snap.validate()
    return snap


def test_snapshot_before_deletion_drops_the_user(private, caplog):
    record_deletion(GONE, when=datetime(2026, 3, 1, tzinfo=timezone.utc))
    snap, check = drop_deleted_users(_snapshot("2026-02-01T00:00:00+00:00"))
    assert check.dropped == 1 and check.as_metrics()["deleted_users_dropped"] == 1
    assert "stale for 1 user" in caplog.text
    assert snap.node_ids[USER].tolist() == ["u0", "u2"]
    inter = snap.edges[(USER, INTERACTED, CONTENT)]
    assert inter["src"].tolist() == [0, 1] and inter["dst"].tolist() == [0, 1] and inter["ts"].tolist() == [0, 3]
    follows = snap.edges[(USER, FOLLOWS, USER)]
    assert list(zip(follows["src"].tolist(), follows["dst"].tolist())) == [(1, 0)]
    assert snap.features[USER]["emb_behavior"].tolist() == [[0, 1], [4, 5]]
    assert snap.edges[(CONTENT, "HAS_TOPIC", TOPIC)]["src"].tolist() == [0, 1]


def test_snapshot_after_deletion_keeps_a_new_user_of_that_id(private):
    record_deletion(GONE, when=datetime(2026, 3, 1, tzinfo=timezone.utc))
    snap, check = drop_deleted_users(_snapshot("2026-03-02T00:00:00+00:00"))
    assert check.dropped == 0 and GONE in snap.node_ids[USER].tolist()


def test_pseudonymised_snapshot_matches_the_ledger_directly(private):
    secret = load_secret()
    when = datetime.now(timezone.utc)
    ledger = {pseudonym(GONE, secret): when}
    snap = _snapshot((when - timedelta(days=1)).isoformat())
    snap.node_ids[USER] = np.array([pseudonym(u, secret) for u in snap.node_ids[USER]], dtype=object)
    assert stale_users(snap, ledger, secret).tolist() == [1]
    assert without_users(snap, np.array([1])).num_nodes(USER) == 2


def test_no_ledger_means_no_secret_and_no_change(private):
    snap = _snapshot("2026-02-01T00:00:00+00:00")
    same, check = drop_deleted_users(snap)
    assert same is snap and check.dropped == 0
    assert not (private / "pseudonym.secret").exists()


def test_training_on_a_stale_snapshot_drops_the_deleted_user(private, tmp_path):
    from gnn.config import TrainConfig
    from gnn.synthetic import PlantedWorld, planted_snapshot
    from gnn.train import train_run

    snap, _ = planted_snapshot(PlantedWorld(n_users=20, n_content=30, n_topics=3, per_user=8, drifters=0))
    snap.manifest["created_at"] = "2026-01-01T00:00:00+00:00"
    path = snap.save(tmp_path / "snap")
    gone = str(snap.node_ids[USER][3])
    record_deletion(gone)
    cfg = TrainConfig(device="cpu", num_threads=1, emb_dim=8, epochs=2, patience=1)
    run_dir = train_run(path, cfg, tmp_path / "runs", progress=False)
    assert json.loads((run_dir / "metrics.json").read_text())["deleted_users_dropped"] == 1
    info = json.loads((run_dir / "run.json").read_text())
    assert info["snapshot"] == str(tmp_path / "snap-without-deleted")   # outputs index the filtered copy
    filtered = Snapshot.load(info["snapshot"])
    assert gone not in filtered.node_ids[USER].tolist() and filtered.manifest["deleted_users_dropped"] == 1
    assert np.load(run_dir / "embeddings" / "User.npy").shape[0] == 19
    assert gone in Snapshot.load(path).node_ids[USER].tolist()   # the original is left as it was
