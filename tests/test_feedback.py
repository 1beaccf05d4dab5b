"""Feedback and declared interests through the real app on the known graph (tests/test_api_graph.py):
each feedback kind changes the next answer as documented; declared interests survive write-back."""
from __future__ import annotations

import numpy as np
import pytest

from api.keys import create_key
from graph import feedback, read
from graph.errors import ConfigError, InputError
from graph.events import FEEDBACK_WEIGHTS, FeedbackConfig, interaction_row
from graph.model import FEEDBACK_KINDS, INTERACTION_KINDS
from graph.snapshot import Snapshot
from gnn.config import TrainConfig
from gnn.data import negative_mask, positive_pairs
from api_helpers import get
from test_api_graph import build

FEEDBACK_EDGES = """
MATCH (:User {id: $user})-[r:INTERACTED|FEEDBACK]->(x {id: $target}) WHERE r.kind IN $kinds
RETURN type(r) AS type, r.kind AS kind, toString(r.ts) AS ts, r.weight AS weight ORDER BY ts
"""


@pytest.fixture()
def known(graph):
    build(graph)
    return graph


@pytest.fixture()
def keys(known):
    return {role: create_key(known, f"test-{role}", role)[0] for role in ("read", "write", "admin")}


@pytest.fixture()
def client(app, keys):
    client = app.test_client()
    client.environ_base["HTTP_X_API_KEY"] = keys["write"]
    return client


def send(client, body, status=201, method="post", url="/v1/feedback"):
    response = getattr(client, method)(url, json=body)
    assert response.status_code == status, response.get_json()
    return response.get_json()


def rec_ids(client, user, **params):
    query = "&".join(f"{k}={v}" for k, v in {"k": 10, "exclude_seen": "false", **params}.items())
    return [i["id"] for i in get(client, f"/v1/users/{user}/recommendations?{query}")["items"]]


# ---------------------------------------------------------------- feedback on content
@pytest.mark.parametrize("kind", ["dislike", "hide", "not_interested"])
def test_blocking_feedback_removes_the_item_from_every_strategy(client, known, kind):
    assert rec_ids(client, "ada")[:2] == ["c5", "c3"]                   # the model's top two
    body = send(client, {"user": "ada", "content": "c5", "kind": kind, "ts": "2026-02-01T00:00:00Z"})
    assert body["weight"] == FEEDBACK_WEIGHTS[kind] and body["created"] and "never recommended" in body["effect"]
    assert "c5" not in rec_ids(client, "ada")                           # model edge ignored
    known.write("MATCH (:User {id: 'ada'})-[m:MAY_LIKE]->() DELETE m")  # every fallback rung too
    assert "c5" not in rec_ids(client, "ada", k=20)
    assert "c5" not in rec_ids(client, "ada", k=20, exclude_seen="true")


def test_skip_is_a_weak_negative_that_demotes(client, known):
    before = rec_ids(client, "ada")
    assert before[0] == "c5"
    body = send(client, {"user": "ada", "content": "c5", "kind": "skip", "ts": "2026-02-01T00:00:00Z"})
    assert body["weight"] == FEEDBACK_WEIGHTS["skip"] and "demoted" in body["effect"]
    items = get(client, "/v1/users/ada/recommendations?k=10&exclude_seen=false")["items"]
    ids = [i["id"] for i in items]
    # position 1 / factor 0.25 = 4: after the items at positions 2 and 3, before (tie, earlier) position 4
    assert ids.index("c5") == 2 and items[2]["demoted"] is True
    assert "c5" not in rec_ids(client, "ada", k=2)


def test_negative_feedback_lowers_decayed_interest(client, known):
    def chen_scores():
        body = get(client, "/v1/users/chen/interests")
        assert body["strategy"] == "decayed"
        return {i["topic"]: i["score"] for i in body["items"]}

    before = chen_scores()
    send(client, {"user": "chen", "content": "c5", "kind": "dislike", "ts": "2026-01-09T10:00:00Z"})
    after = chen_scores()
    assert after["t:scifi"] == pytest.approx(before["t:scifi"] - 1.0)   # c5 has t:scifi, weight 1
    assert after["t:space"] == pytest.approx(before["t:space"])


# ---------------------------------------------------------------- feedback on a topic
def test_not_interested_topic_leaves_interests_and_demotes_its_content(client, known):
    body = get(client, "/v1/users/ada/interests")
    assert [i["topic"] for i in body["items"]] == ["t:space", "t:scifi", "t:jazz"]
    assert rec_ids(client, "ada") == ["c5", "c3", "c1", "c2", "c4"]
    stored = send(client, {"user": "ada", "topic": "t:scifi", "kind": "not_interested"})
    assert stored["topic"] == "t:scifi" and "removed" in stored["effect"]
    body = get(client, "/v1/users/ada/interests")
    assert [i["topic"] for i in body["items"]] == ["t:space", "t:jazz"] and body["suppressed"] == ["t:scifi"]
    recs = get(client, "/v1/users/ada/recommendations?k=10&exclude_seen=false")
    # c5 and c2 have t:scifi: positions 1 and 4 become 4 and 16 (factor 0.25)
    assert [(i["id"], i.get("demoted", False)) for i in recs["items"]] == [
        ("c3", False), ("c1", False), ("c5", True), ("c4", False), ("c2", True)]
    assert recs["suppressed_topics"] == ["t:scifi"]
    # decayed interests (a user the run does not cover) drop the topic too
    send(client, {"user": "chen", "topic": "t:space", "kind": "hide"})
    chen = get(client, "/v1/users/chen/interests")
    assert chen["strategy"] == "decayed" and "t:space" not in [i["topic"] for i in chen["items"]]


def test_declaring_a_topic_after_not_interested_brings_it_back(client, known):
    send(client, {"user": "ada", "topic": "t:jazz", "kind": "not_interested", "ts": "2026-01-01T00:00:00Z"})
    assert "t:jazz" not in [i["topic"] for i in get(client, "/v1/users/ada/interests")["items"]]
    send(client, {"topics": ["t:jazz"]}, 200, "put", "/v1/users/ada/interests/declared")
    body = get(client, "/v1/users/ada/interests")
    jazz = [i for i in body["items"] if i["topic"] == "t:jazz"]
    assert jazz and jazz[0]["declared"] is True and body["suppressed"] == []


def test_every_feedback_event_is_kept(client, known):
    event = {"user": "ada", "topic": "t:jazz", "kind": "not_interested", "ts": "2026-01-01T00:00:00Z"}
    send(client, event)
    assert send(client, event, 202)["created"] is False                 # the very same event: one edge
    send(client, {**event, "ts": "2026-01-02T00:00:00Z"})
    send(client, {"user": "ada", "content": "c4", "kind": "skip", "ts": "2026-01-02T00:00:00Z"})
    send(client, {"user": "ada", "content": "c4", "kind": "skip", "ts": "2026-01-03T00:00:00Z"})
    rows = known.read(FEEDBACK_EDGES, user="ada", target="t:jazz", kinds=list(FEEDBACK_KINDS))
    assert [(r["type"], r["kind"]) for r in rows] == [("FEEDBACK", "not_interested")] * 2
    assert len(known.read(FEEDBACK_EDGES, user="ada", target="c4", kinds=["skip"])) == 2


@pytest.mark.parametrize("body, status, code, param", [
    ({"user": "ada", "content": "c1", "kind": "love"}, 422, "invalid_feedback", "kind"),
    ({"user": "ada", "content": "c1", "topic": "t:jazz", "kind": "hide"}, 422, "invalid_feedback", "content"),
    ({"user": "ada", "kind": "hide"}, 422, "invalid_feedback", "content"),
    ({"user": "ada", "topic": "t:jazz", "kind": "skip"}, 422, "invalid_feedback", "kind"),
    ({"user": "ada", "content": "c1", "kind": "hide", "ts": "yesterday"}, 422, "invalid_feedback", "ts"),
    ({"user": "ada", "content": "c1", "kind": "hide", "why": "x"}, 422, "invalid_feedback", "why"),
    ({"content": "c1", "kind": "hide"}, 422, "invalid_feedback", "user"),
    ({"user": "zed", "content": "c1", "kind": "hide"}, 404, "user_not_found", "user"),
    ({"user": "ada", "content": "c99", "kind": "hide"}, 404, "content_not_found", "content"),
    ({"user": "ada", "topic": "t:none", "kind": "hide"}, 404, "topic_not_found", "topic"),
])
def test_feedback_validation_is_problem_json(client, body, status, code, param):
    response = client.post("/v1/feedback", json=body)
    assert response.status_code == status and response.content_type == "application/problem+json"
    assert (response.get_json()["code"], response.get_json()["param"]) == (code, param)


def test_feedback_needs_json(client):
    assert client.post("/v1/feedback", data="user=ada").status_code == 415


@pytest.mark.parametrize("method, url, body", [
    ("post", "/v1/feedback", {"user": "ada", "content": "c1", "kind": "hide"}),
    ("put", "/v1/users/ada/interests/declared", {"topics": ["t:jazz"]}),
])
def test_writes_need_a_write_key(app, keys, method, url, body):
    client = app.test_client()
    assert getattr(client, method)(url, json=body).status_code == 401
    client.environ_base["HTTP_X_API_KEY"] = keys["read"]
    assert getattr(client, method)(url, json=body).get_json()["code"] == "forbidden"
    for role in ("write", "admin"):
        client.environ_base["HTTP_X_API_KEY"] = keys[role]
        assert getattr(client, method)(url, json=body).status_code in (200, 201, 202)


# ---------------------------------------------------------------- declared interests
def test_declared_put_get_replace_and_marked_in_interests(client, known):
    assert get(client, "/v1/users/dan/interests/declared") == {"user": "dan", "topics": []}
    body = send(client, {"topics": ["t:jazz", {"topic": "t:cooking", "weight": 2}]}, 200, "put",
                "/v1/users/dan/interests/declared")
    assert [(t["topic"], t["weight"]) for t in body["topics"]] == [("t:cooking", 2.0), ("t:jazz", 1.0)]
    interests = get(client, "/v1/users/dan/interests")   # no run interests, no interactions: declared
    assert interests["strategy"] == "declared"
    assert [(i["topic"], i["rank"], i["declared"]) for i in interests["items"]] == [
        ("t:cooking", 1, True), ("t:jazz", 2, True)]
    send(client, {"topics": ["t:space"]}, 200, "put", "/v1/users/dan/interests/declared")
    assert [t["topic"] for t in get(client, "/v1/users/dan/interests/declared")["topics"]] == ["t:space"]
    send(client, {"topics": ["t:jazz"]}, 200, "put", "/v1/users/ada/interests/declared")
    ada = get(client, "/v1/users/ada/interests")
    assert ada["strategy"] == "model" and [d["topic"] for d in ada["declared"]] == ["t:jazz"]
    assert {i["topic"]: i["declared"] for i in ada["items"]} == {"t:space": False, "t:scifi": False, "t:jazz": True}
    send(client, {"topics": []}, 200, "put", "/v1/users/ada/interests/declared")
    assert get(client, "/v1/users/ada/interests")["declared"] == []


@pytest.mark.parametrize("body, status, code", [
    ({"topics": "t:jazz"}, 422, "invalid_declared"),
    ({"topics": [{"topic": "t:jazz", "weight": 0}]}, 422, "invalid_declared"),
    ({"topics": ["t:jazz", "t:jazz"]}, 422, "invalid_declared"),
    ({"topics": [], "extra": 1}, 422, "invalid_declared"),
    ({"topics": ["t:none"]}, 404, "topic_not_found"),
])
def test_declared_validation(client, body, status, code):
    response = client.put("/v1/users/ada/interests/declared", json=body)
    assert response.status_code == status and response.get_json()["code"] == code
    assert get(client, "/v1/users/zed/interests/declared", 404)["code"] == "user_not_found"


def test_declared_interests_survive_model_writeback(graph, tmp_path):
    from test_writeback import A_CONTENT, A_TOPICS, B_CONTENT, B_TOPICS, INTERACT, SETUP, TOPICS, USERS, \
        CONTENT, make_run

    import graph.writeback as wb
    graph.write(SETUP, users=USERS[:3], content=CONTENT, topics=TOPICS)
    graph.write(INTERACT, rows=[["u1", "c1"], ["u2", "c2"]])
    Snapshot(node_ids={"User": np.array(USERS, dtype=object), "Content": np.array(CONTENT, dtype=object),
                       "Topic": np.array(TOPICS, dtype=object)}, edges={}).save(tmp_path / "snap")
    feedback.replace_declared(graph, "u1", feedback.declared_rows(["t1", "t3"]))  # t1 is also a model topic
    for run_id, topics, content in (("sage-a", A_TOPICS, A_CONTENT), ("gcn-b", B_TOPICS, B_CONTENT)):
        wb.writeback(graph, make_run(tmp_path, run_id, topics, content))
        assert [d["topic"] for d in feedback.declared(graph, "u1")] == ["t1", "t3"]
    body = read.user_interests(graph, "u1", read.Page(10), 30.0)
    assert body["strategy"] == "model" and body["run"]["id"] == "gcn-b"
    assert [(i["topic"], i["run_id"], i["declared"]) for i in body["items"]] == [
        ("t3", "gcn-b", True), ("t1", "gcn-b", True)]
    wb.delete_run_edges(graph, "gcn-b")
    assert [d["topic"] for d in feedback.declared(graph, "u1")] == ["t1", "t3"]


# ---------------------------------------------------------------- weights, ingest, training
def test_feedback_config_validates_and_reads_env(monkeypatch):
    assert FeedbackConfig().weights == FEEDBACK_WEIGHTS
    monkeypatch.setenv("IKG_FEEDBACK_WEIGHTS", "dislike=-2, skip=-0.05")
    monkeypatch.setenv("IKG_FEEDBACK_DEMOTE", "0.5")
    cfg = FeedbackConfig.from_env()
    assert cfg.weights["dislike"] == -2.0 and cfg.weights["hide"] == -0.5 and cfg.demote_factor == 0.5
    with pytest.raises(ConfigError, match="must be a negative number"):
        FeedbackConfig(weights={"skip": 0.1})
    with pytest.raises(ConfigError, match="unknown feedback kind.*'love'"):
        FeedbackConfig(weights={"love": -1})
    with pytest.raises(ConfigError, match="demote_factor"):
        FeedbackConfig(demote_factor=0)
    monkeypatch.setenv("IKG_FEEDBACK_WEIGHTS", "dislike")
    with pytest.raises(ConfigError, match="kind=weight"):
        FeedbackConfig.from_env()


def test_interaction_rows_accept_feedback_kinds_with_negative_weights():
    row = interaction_row("ada", "c1", "DISLIKE", "2026-01-01T00:00:00Z")
    assert (row["kind"], row["weight"]) == ("dislike", -1.0)
    assert interaction_row("ada", "c1", "skip", 0, feedback={"skip": -0.3})["weight"] == -0.3
    with pytest.raises(InputError, match="must be negative"):
        interaction_row("ada", "c1", "hide", 0, weight=0.5)


def _snapshot(kinds: list[str], weights: list[float]) -> Snapshot:
    vocabulary = list(INTERACTION_KINDS) + sorted(FEEDBACK_KINDS)
    n = len(kinds)
    return Snapshot(
        node_ids={"User": np.array(["u0"], dtype=object),
                  "Content": np.array([f"c{i}" for i in range(n)], dtype=object)},
        edges={("User", "INTERACTED", "Content"): {
            "src": np.zeros(n, np.int64), "dst": np.arange(n, dtype=np.int64), "ts": np.arange(n, dtype=np.float64),
            "weight": np.array(weights, np.float32),
            "kind": np.array([vocabulary.index(k) for k in kinds], np.int8)}},
        manifest={"interaction_kinds": vocabulary})


def test_training_treats_every_feedback_kind_as_negative():
    # a feedback event stored with a (bad, hand-written) positive weight is still a negative
    snap = _snapshot(["like", *FEEDBACK_KINDS], [1.0, 0.5, -0.5, -0.5, -0.1])
    assert negative_mask(snap, ()).tolist() == [False, True, True, True, True]
    pairs, _ = positive_pairs(snap, TrainConfig(), 10.0)
    assert pairs.content.tolist() == [0]


def test_ingest_accepts_feedback_kinds_and_declared_interests(graph, tmp_path):
    from ingestion.pipeline import IngestConfig, ingest_paths

    build(graph)
    (tmp_path / "interactions.csv").write_text(
        "user,content,kind,ts\nada,c5,dislike,2026-02-01T00:00:00Z\nada,c4,skip,2026-02-02T00:00:00Z\n")
    (tmp_path / "declared_interests.csv").write_text(
        "user,topic,weight\ndan,t:jazz,\ndan,t:cooking,2\nben,t:space,1\n")
    summary = ingest_paths(graph, [tmp_path], IngestConfig(embed=False, progress=False))
    assert summary.rejected == 0
    rows = graph.read("MATCH (:User {id: 'ada'})-[r:INTERACTED]->(c) WHERE r.kind IN $kinds "
                      "RETURN c.id AS c, r.kind AS kind, r.weight AS w ORDER BY c", kinds=list(FEEDBACK_KINDS))
    assert rows == [{"c": "c4", "kind": "skip", "w": -0.1}, {"c": "c5", "kind": "dislike", "w": -1.0}]
    assert [(d["topic"], d["weight"]) for d in feedback.declared(graph, "dan")] == [("t:cooking", 2.0),
                                                                                   ("t:jazz", 1.0)]
    (tmp_path / "interactions.csv").unlink()
    (tmp_path / "declared_interests.csv").write_text("user,topic\ndan,t:scifi\n")
    ingest_paths(graph, [tmp_path], IngestConfig(embed=False, progress=False))
    assert [d["topic"] for d in feedback.declared(graph, "dan")] == ["t:scifi"]     # replaced per user
    assert [d["topic"] for d in feedback.declared(graph, "ben")] == ["t:space"]     # not listed: kept


def test_feedback_reaches_training_as_negatives_through_the_export(client, known):
    from graph.export import ExportConfig, export_snapshot

    send(client, {"user": "chen", "content": "c2", "kind": "skip", "ts": "2026-01-10T00:00:00Z"})
    send(client, {"user": "ada", "content": "c1", "kind": "dislike", "ts": "2026-01-10T00:00:00Z"})
    snap = export_snapshot(known, ExportConfig(rel_types=("INTERACTED",)))
    assert {"dislike", "skip"} <= set(snap.manifest["interaction_kinds"])
    pairs, _ = positive_pairs(snap, TrainConfig(), 0.0)
    users, content = snap.node_ids["User"], snap.node_ids["Content"]
    positive = {(str(users[u]), str(content[c])) for u, c in zip(pairs.user, pairs.content)}
    assert positive == {("ada", "c2"), ("ben", "c3"), ("ben", "c4"), ("chen", "c5")}   # ada-c1, chen-c2 dropped


def test_events_endpoint_uses_the_configured_feedback_weights(app, client, known):
    """POST /v1/events with a feedback kind and no weight takes the app's FeedbackConfig weight."""
    default = app.extensions["ikg_feedback"]
    app.extensions["ikg_feedback"] = FeedbackConfig(weights={"dislike": -0.7})
    try:
        event = {"user": "ada", "content": "c4", "kind": "dislike", "ts": "2026-01-05T00:00:00Z"}
        assert client.post("/v1/events", json=event).status_code == 202
    finally:
        app.extensions["ikg_feedback"] = default
    rows = known.read(FEEDBACK_EDGES, user="ada", target="c4", kinds=["dislike"])
    assert [r["weight"] for r in rows] == [-0.7]
