"""The API through the real app (Flask test client) against the throwaway Neo4j, on a known graph."""
from __future__ import annotations

import math

import pytest

from api.keys import create_key, list_keys, revoke_key
from graph.errors import InputError
from api_helpers import get
from test_api_graph import build

HALF = 0.5 ** (1 / 30)  # one day of decay with the default 30-day half-life
COSINE = {"c2~c5": (1 + 1.5 / math.sqrt(2 * 1.25)) / 2, "c2~c1": (1 + 1 / math.sqrt(2)) / 2}


_STATE: dict = {"clean": False, "keys": None}


@pytest.fixture()
def known(session_graph):
    """The known graph and one key per role, rebuilt only after a test that changed it."""
    if not _STATE["clean"]:
        session_graph.write("MATCH (n) DETACH DELETE n")
        build(session_graph)
        _STATE["keys"] = {role: create_key(session_graph, f"test-{role}", role)[0]
                          for role in ("read", "write", "admin")}
        _STATE["clean"] = True
    return session_graph


@pytest.fixture()
def graph(known):
    """The known graph, for a test that changes it (it is rebuilt for the next test)."""
    _STATE["clean"] = False
    return known


@pytest.fixture()
def keys(known):
    return _STATE["keys"]


@pytest.fixture()
def client(app, keys):
    client = app.test_client()
    client.environ_base["HTTP_X_API_KEY"] = keys["read"]
    return client


def approx_items(items, keys):
    return [{k: pytest.approx(i[k]) if isinstance(i[k], float) else i[k] for k in keys} for i in items]


# ---------------------------------------------------------------- interests
def test_interests_from_active_run_only(client):
    body = get(client, "/v1/users/ada/interests")
    assert body["source"] == "model" and body["run"] == {"id": "run-1", "model": "sage"}
    assert [(i["topic"], i["name"], i["score"], i["rank"], i["model"], i["run_id"]) for i in body["items"]] == [
        ("t:space", "Space", 0.9, 1, "sage", "run-1"), ("t:scifi", "Sci-Fi", 0.7, 2, "sage", "run-1"),
        ("t:jazz", "Jazz", 0.1, 3, "sage", "run-1")]
    assert body["next_offset"] is None


def test_interests_paginate_with_offset(client):
    first = get(client, "/v1/users/ada/interests?limit=2")
    assert [i["topic"] for i in first["items"]] == ["t:space", "t:scifi"] and first["next_offset"] == 2
    second = get(client, "/v1/users/ada/interests?limit=2&offset=2")
    assert [i["topic"] for i in second["items"]] == ["t:jazz"] and second["next_offset"] is None


def test_interests_fall_back_to_decayed_for_a_user_the_run_does_not_cover(client):
    body = get(client, "/v1/users/chen/interests")
    assert body["source"] == "decayed" and body["reason"] == "the active run has no interests for this user"
    assert approx_items(body["items"], ("topic", "score", "rank")) == [
        {"topic": "t:scifi", "score": 1.8, "rank": 1}, {"topic": "t:space", "score": 0.4, "rank": 2}]
    assert all(i["model"] is None and i["run_id"] is None for i in body["items"])


def test_interests_without_any_model_run_are_decayed_and_flagged(client, graph):
    graph.write("MATCH (r:ModelRun) SET r.active = false")
    body = get(client, "/v1/users/ada/interests")
    assert body["source"] == "decayed" and body["reason"] == "no active model run" and body["run"] is None
    assert approx_items(body["items"], ("topic", "score")) == [
        {"topic": "t:space", "score": HALF + 0.15}, {"topic": "t:scifi", "score": 0.3}]


def test_user_without_interactions_has_no_interests(client):
    body = get(client, "/v1/users/dan/interests")
    assert body["source"] == "decayed" and body["items"] == []


# ---------------------------------------------------------------- neighbourhood
def test_neighborhood_depth_1_uses_active_run_edges(client):
    body = get(client, "/v1/users/ada/neighborhood")
    keys = {n["key"] for n in body["nodes"]}
    assert keys == {"User/ada", "Content/c1", "Content/c2", "Content/c5", "Content/c3", "Topic/t:space",
                    "Topic/t:scifi", "Topic/t:jazz", "User/chen"}
    edges = {(e["source"], e["type"], e["target"]) for e in body["edges"]}
    assert ("User/ada", "MAY_LIKE", "Content/c4") not in edges  # stale run
    assert ("User/ada", "INTERESTED_IN", "Topic/t:cooking") not in edges
    assert len(edges) == 8 and ("User/chen", "FOLLOWS", "User/ada") in edges
    assert all("embeddings" not in n for n in body["nodes"])


def test_neighborhood_rel_filter_depth_and_size_bound(client):
    body = get(client, "/v1/users/ada/neighborhood?depth=2&rel=INTERACTED")
    assert {n["key"] for n in body["nodes"]} == {"User/ada", "Content/c1", "Content/c2", "User/chen"}
    assert {(e["source"], e["target"]) for e in body["edges"]} == {
        ("User/ada", "Content/c1"), ("User/ada", "Content/c2"), ("User/chen", "Content/c2")}
    small = get(client, "/v1/users/ada/neighborhood?rel=INTERACTED&limit=2")
    assert [n["key"] for n in small["nodes"]] == ["User/ada", "Content/c1"]  # strongest edge first


def test_neighborhood_embeddings_only_when_asked(client):
    body = get(client, "/v1/users/ada/neighborhood?rel=INTERACTED&embeddings=true")
    by_key = {n["key"]: n for n in body["nodes"]}
    assert len(by_key["Content/c1"]["embeddings"]["emb_text"]) == 384
    assert len(by_key["User/ada"]["embeddings"]["emb_gnn"]) == 64


# ---------------------------------------------------------------- recommendations
def test_recommendations_from_active_run_then_fallbacks(client):
    body = get(client, "/v1/users/ada/recommendations?k=4")
    assert [(i["id"], i["strategy"]) for i in body["items"]] == [
        ("c5", "model"), ("c3", "model"), ("c4", "similar_content:emb_text")]
    assert body["strategy"] == "model" and body["strategies"] == ["model", "similar_content:emb_text"]
    assert body["items"][0]["score"] == 0.8 and body["items"][0]["rank"] == 1


def test_recommendations_topic_filter(client):
    body = get(client, "/v1/users/ada/recommendations?topic=t:scifi")
    assert [i["id"] for i in body["items"]] == ["c5"]


def test_recommendations_for_user_without_model_edges_use_similar_content(client):
    body = get(client, "/v1/users/chen/recommendations?k=2")     # blended with popularity (graph.coldstart)
    assert body["strategy"] == "similar_content:emb_text+global_popularity"
    assert [i["id"] for i in body["items"]] == ["c1", "c3"]
    assert body["items"][0]["score"] == pytest.approx(COSINE["c2~c1"], abs=1e-3)


def test_recommendations_topic_popularity_without_embeddings(client, graph):
    graph.write("MATCH (c:Content) REMOVE c.emb_text")
    body = get(client, "/v1/users/chen/recommendations?k=3")
    assert [(i["id"], i["strategy"]) for i in body["items"]] == [
        ("c1", "topic_popularity+global_popularity"), ("c3", "global_popularity"), ("c4", "global_popularity")]
    assert body["items"][0]["score"] == pytest.approx(0.4 * math.log(2))


def test_recommendations_for_user_without_interactions_are_globally_popular(client):
    body = get(client, "/v1/users/dan/recommendations?k=3")
    assert [(i["id"], i["score"]) for i in body["items"]] == [("c2", 2.0), ("c1", 1.0), ("c3", 1.0)]
    assert body["strategy"] == "global_popularity"


# ---------------------------------------------------------------- similarity
def test_content_similar_by_text_with_filters(client):
    body = get(client, "/v1/content/c2/similar?k=3&modality=text")
    assert body["index"] == "content_emb_text"
    assert [i["id"] for i in body["items"]] == ["c5", "c1", "c3"]
    assert body["items"][0]["score"] == pytest.approx(COSINE["c2~c5"], abs=1e-3)
    assert [i["id"] for i in get(client, "/v1/content/c2/similar?modality=text&topic=t:space")["items"]] == ["c1"]
    assert [i["id"] for i in get(client, "/v1/content/c2/similar?modality=text&kind=video")["items"]] == ["c1", "c3"]


def test_content_similar_missing_embedding_is_422(client):
    body = get(client, "/v1/content/c1/similar?modality=image", 422)
    assert body["code"] == "embedding_missing" and body["param"] == "modality"


def test_users_similar_by_gnn(client):
    body = get(client, "/v1/users/ada/similar?k=2")
    assert body["index"] == "user_emb_gnn"
    assert [(i["id"], round(i["score"], 2)) for i in body["items"]] == [
        ("chen", round(COSINE["c2~c1"], 2)), ("ben", 0.5)]
    assert get(client, "/v1/users/dan/similar", 422)["code"] == "embedding_missing"


# ---------------------------------------------------------------- explain, topics
def test_explain_recommendation_paths(client):
    body = get(client, "/v1/users/ada/explain?content=c5")
    assert approx_items(body["paths"], ("kind", "weight")) == [
        {"kind": "model", "weight": 0.8}, {"kind": "interest", "weight": 0.7},
        {"kind": "shared_topic", "weight": 0.3}, {"kind": "co_interaction", "weight": 0.24}]
    co = body["paths"][3]
    assert [n["key"] for n in co["nodes"]] == ["User/ada", "Content/c2", "User/chen", "Content/c5"]
    assert [e["type"] for e in co["edges"]] == ["INTERACTED"] * 3


def test_explain_interest_paths(client):
    body = get(client, "/v1/users/ada/explain?topic=t:scifi")
    assert [(p["kind"], p["weight"]) for p in body["paths"]] == [
        ("model", 0.7), ("interacted", 0.3), ("subtopic", 1.0 * 1.0)][:0] or [
        (p["kind"], p["weight"]) for p in sorted(body["paths"], key=lambda p: -p["weight"])]
    assert {(p["kind"], round(p["weight"], 6)) for p in body["paths"]} == {
        ("subtopic", 1.0), ("subtopic", 0.15), ("model", 0.7), ("interacted", 0.3)}
    assert body["paths"][0]["kind"] == "subtopic"


def test_topic_users_from_run_then_decayed(client, graph):
    body = get(client, "/v1/topics/t:scifi/users")
    assert body["source"] == "model" and [(i["user"], i["score"]) for i in body["items"]] == [("ada", 0.7)]
    graph.write("MATCH (r:ModelRun) SET r.active = false")
    body = get(client, "/v1/topics/t:scifi/users")
    assert body["source"] == "decayed"
    assert approx_items(body["items"], ("user", "score", "rank")) == [
        {"user": "chen", "score": 1.8, "rank": 1}, {"user": "ada", "score": 0.3, "rank": 2}]


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize("url, code", [
    ("/v1/users/nobody/interests", "user_not_found"),
    ("/v1/users/nobody/neighborhood", "user_not_found"),
    ("/v1/users/nobody/recommendations", "user_not_found"),
    ("/v1/users/nobody/similar", "user_not_found"),
    ("/v1/content/nothing/similar?modality=text", "content_not_found"),
    ("/v1/users/nobody/explain?content=c1", "user_not_found"),
    ("/v1/users/ada/explain?content=nothing", "content_not_found"),
    ("/v1/topics/t:none/users", "topic_not_found"),
    ("/v1/users/ada/recommendations?topic=t:none", "topic_not_found"),
])
def test_unknown_ids_are_404(client, url, code):
    body = get(client, url, 404)
    assert body["code"] == code and body["status"] == 404 and "Traceback" not in str(body)


@pytest.mark.parametrize("url, param", [
    ("/v1/users/ada/interests?limit=0", "limit"), ("/v1/users/ada/interests?limit=101", "limit"),
    ("/v1/users/ada/interests?limit=abc", "limit"), ("/v1/users/ada/interests?offset=-1", "offset"),
    ("/v1/users/ada/interests?limit=1&limit=2", "limit"), ("/v1/users/ada/interests?bogus=1", "bogus"),
    ("/v1/users/ada/neighborhood?depth=4", "depth"), ("/v1/users/ada/neighborhood?limit=100000", "limit"),
    ("/v1/users/ada/neighborhood?rel=KNOWS", "rel"), ("/v1/users/ada/neighborhood?embeddings=maybe", "embeddings"),
    ("/v1/users/ada/recommendations?k=1000", "k"), ("/v1/users/ada/recommendations?exclude_seen=2", "exclude_seen"),
    ("/v1/content/c1/similar?modality=smell", "modality"), ("/v1/users/ada/similar?modality=text", "modality"),
    ("/v1/users/ada/explain", "content"), ("/v1/users/ada/explain?content=c1&topic=t:jazz", "content"),
    ("/v1/users/ada%00/interests", "id"),
])
def test_invalid_parameters_are_400_naming_the_parameter(client, url, param):
    body = get(client, url, 400)
    assert body["code"] == "invalid_parameter" and body["param"] == param and param in body["detail"]


def test_problem_documents_have_problem_content_type(client):
    response = client.get("/v1/users/nobody/interests")
    assert response.content_type == "application/problem+json"


@pytest.mark.parametrize("url", ["/v1/users/ada/interests", "/ready", "/metrics", "/openapi.json", "/docs",
                                 "/v1/topics/t:scifi/users"])
def test_every_endpoint_but_health_needs_a_key(app, keys, url):
    client = app.test_client()
    assert client.get("/health").status_code == 200
    missing = client.get(url)
    assert missing.status_code == 401 and missing.get_json()["code"] == "missing_api_key"
    bad = client.get(url, headers={"X-API-Key": keys["read"][:-2] + "xx"})
    assert bad.status_code == 401 and bad.get_json()["code"] == "invalid_api_key"
    assert client.get(url, headers={"Authorization": f"Bearer {keys['read']}"}).status_code == 200


def test_revoked_key_is_rejected_and_keys_are_stored_hashed(app, graph, keys):
    client = app.test_client()
    key_id = keys["read"].split("_")[1]
    stored = graph.read("MATCH (k:ApiKey {id: $id}) RETURN k.hash AS hash", id=key_id)[0]["hash"]
    assert keys["read"].split("_", 2)[2] not in stored and len(stored) == 64
    assert client.get("/ready", headers={"X-API-Key": keys["read"]}).status_code == 200
    revoke_key(graph, key_id)
    assert client.get("/ready", headers={"X-API-Key": keys["read"]}).status_code == 401
    assert [k["revoked_at"] is not None for k in list_keys(graph) if k["id"] == key_id] == [True]
    with pytest.raises(InputError, match="role must be one of"):
        create_key(graph, "x", "root")


def test_read_key_cannot_post_events(client):
    response = client.post("/v1/events", json={"user": "ada", "content": "c3", "kind": "view",
                                               "ts": "2026-01-07T10:00:00Z"})
    assert response.status_code == 403 and response.get_json()["code"] == "forbidden"


def test_oversize_body_is_413(client, keys):
    response = client.post("/v1/events", data=b'{"user": "' + b"a" * 70_000 + b'"}',
                           headers={"X-API-Key": keys["write"], "Content-Type": "application/json"})
    assert response.status_code == 413 and response.get_json()["code"] == "body_too_large"


# ---------------------------------------------------------------- events
def test_posted_event_changes_interests_immediately(client, keys, graph):
    response = client.post("/v1/events", headers={"X-API-Key": keys["write"]}, json={
        "user": "chen", "content": "c3", "kind": "like", "ts": "2026-01-10T10:00:00Z", "weight": 1.0})
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert body["recorded"] == 1 and body["changed"][0]["user"] == "chen"
    cooking = [c for c in body["changed"][0]["interests"] if c["topic"] == "t:cooking"]
    assert cooking == [{"topic": "t:cooking", "before": 0.0, "after": 1.0, "delta": 1.0}]
    after = get(client, "/v1/users/chen/interests")
    assert approx_items(after["items"], ("topic", "score")) == [
        {"topic": "t:scifi", "score": 1.8 * HALF}, {"topic": "t:cooking", "score": 1.0},
        {"topic": "t:space", "score": 0.4 * HALF}]


def test_event_batch_and_validation(client, keys, graph):
    write = {"X-API-Key": keys["write"]}
    ok = {"user": "dan", "content": "c4", "kind": "view", "ts": 1767607200}
    response = client.post("/v1/events", headers=write, json={"events": [ok, {**ok, "kind": "like"}]})
    assert response.status_code == 202 and response.get_json()["recorded"] == 2
    assert graph.read("MATCH (:User {id: 'dan'})-[r:INTERACTED]->() RETURN count(r) AS n") == [{"n": 2}]
    cases = [({**ok, "kind": "poke"}, "event.kind"), ({**ok, "ts": "yesterday"}, "event.ts"),
             ({**ok, "rating": 7}, "event.rating"), ({**ok, "rating": "5"}, "event.rating"),
             ({**ok, "extra": 1}, "event.extra"), ({"events": [ok, {**ok, "user": ""}]}, "events[1].user")]
    for body, param in cases:
        response = client.post("/v1/events", headers=write, json=body)
        assert response.status_code == 422 and response.get_json()["param"] == param, (body, response.get_json())
    for body, code in [({**ok, "content": "nothing"}, "content_not_found"), ({**ok, "user": "nobody"}, "user_not_found")]:
        response = client.post("/v1/events", headers=write, json=body)
        assert response.status_code == 404 and response.get_json()["code"] == code
    too_many = client.post("/v1/events", headers=write, json={"events": [ok] * 101})
    assert too_many.status_code == 413 and too_many.get_json()["code"] == "batch_too_large"
    not_json = client.post("/v1/events", headers=write, data="user=dan")
    assert not_json.status_code == 415
    assert graph.read("MATCH (:User {id: 'dan'})-[r:INTERACTED]->() RETURN count(r) AS n") == [{"n": 2}]


# ---------------------------------------------------------------- injection
HOSTILE = ["ada' OR 1=1 //", "ada\"}) DETACH DELETE n //", "x}) MATCH (n) DETACH DELETE n RETURN 1 //",
           "$user", "*", "ada`]->() DELETE r //"]
COUNT = "MATCH (n) OPTIONAL MATCH (n)-[r]->() RETURN count(DISTINCT n) AS nodes, count(r) AS rels"


@pytest.mark.parametrize("hostile", HOSTILE)
def test_injection_attempts_change_nothing(client, known, keys, hostile):
    from urllib.parse import quote

    before = known.read(COUNT)
    q = quote(hostile, safe="")
    urls = [f"/v1/users/{q}/interests", f"/v1/users/{q}/neighborhood", f"/v1/users/{q}/recommendations",
            f"/v1/users/ada/recommendations?topic={q}", f"/v1/users/{q}/similar", f"/v1/content/{q}/similar",
            f"/v1/content/c2/similar?modality=text&kind={q}", f"/v1/content/c2/similar?modality=text&topic={q}",
            f"/v1/users/ada/explain?content={q}", f"/v1/users/ada/explain?topic={q}", f"/v1/topics/{q}/users",
            f"/v1/users/ada/neighborhood?rel={q}", f"/v1/users/ada/interests?limit={q}"]
    for url in urls:
        response = client.get(url)
        assert response.status_code in (200, 400, 404), (url, response.get_json())
        if response.status_code == 200:  # filters that match nothing
            assert response.get_json()["items"] == []
    response = client.post("/v1/events", headers={"X-API-Key": keys["write"]},
                           json={"user": hostile, "content": "c1", "kind": "view", "ts": 0})
    assert response.status_code in (404, 422)
    assert known.read(COUNT) == before


# ---------------------------------------------------------------- ops
def test_ready_reports_schema_and_active_run(client):
    body = get(client, "/ready")
    assert body["ready"] is True and body["missing_constraints"] == [] and body["missing_vector_indexes"] == []
    assert body["active_run"] == {"id": "run-1", "model": "sage"}


def test_metrics_count_requests_by_endpoint(client):
    get(client, "/v1/users/ada/interests")
    get(client, "/v1/users/nobody/interests", 404)
    text = client.get("/metrics").get_data(as_text=True)
    assert 'endpoint="/v1/users/<path:user_id>/interests",status="200"' in text
    assert 'endpoint="/v1/users/<path:user_id>/interests",status="404"' in text
    assert "ikg_api_request_duration_seconds_bucket" in text


def test_openapi_and_docs(client):
    spec = get(client, "/openapi.json")
    assert spec["openapi"].startswith("3.") and "/v1/users/{id}/interests" in spec["paths"]
    page = client.get("/docs")
    assert page.status_code == 200 and b"/v1/users/{id}/recommendations" in page.data


def test_cors_is_off_by_default(client):
    response = client.get("/v1/users/ada/interests", headers={"Origin": "http://evil.example"})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_api_never_imports_torch_or_gnn():
    import subprocess
    import sys

    code = ("import sys; from api import create_app; from api.config import ApiConfig; "
            "from graph.settings import Neo4jSettings; "
            "create_app(ApiConfig(neo4j=Neo4jSettings(uri='neo4j://127.0.0.1:1'))); "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'gnn', 'dgl')); "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
