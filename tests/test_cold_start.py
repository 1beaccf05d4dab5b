"""The cold-start ladder (graph.coldstart): each rung reached on a constructed user, through the API."""
from __future__ import annotations

import math

import numpy as np
import pytest

from graph import coldstart, feedback
from api_helpers import get
from test_api_graph import GNN_DIM, TEXT, TEXT_DIM, _vec, build
from test_feedback import client, keys  # noqa: F401  (fixtures)

# Content GNN embeddings: chen (c2, c5; no model edges) -> mean of unit(e0+e1), e1 -> nearest c1.
CONTENT_GNN = {"c1": {0: 1.0}, "c2": {0: 1.0, 1: 1.0}, "c3": {2: 1.0}, "c4": {3: 1.0}, "c5": {1: 1.0}}
SET_CONTENT_GNN = ("UNWIND $rows AS row MATCH (n:Content {id: row.id}) "
                   "CALL db.create.setNodeVectorProperty(n, 'emb_gnn', row.vec)")
NEW_CONTENT = """
CREATE (c:Content {id: 'c6', kind: 'article', title: 'Rockets, revisited'})
WITH c CALL db.create.setNodeVectorProperty(c, 'emb_text', $vec)
"""
PEOPLE = """
UNWIND $rows AS row MERGE (u:User {id: row.id})
SET u.name = row.id, u.age = row.age, u.occupation = row.occupation, u.gender = row.gender
"""


@pytest.fixture()
def known(graph):
    build(graph)
    graph.write(SET_CONTENT_GNN, rows=[{"id": c, "vec": _vec(GNN_DIM, e)} for c, e in CONTENT_GNN.items()])
    graph.write(NEW_CONTENT, vec=_vec(TEXT_DIM, TEXT["c2"]))   # no interactions, no emb_gnn
    graph.write(PEOPLE, rows=[
        {"id": "ada", "age": 27, "occupation": "engineer", "gender": "M"},
        {"id": "ben", "age": 45, "occupation": "chef", "gender": "F"},
        {"id": "eve", "age": None, "occupation": None, "gender": None},
        {"id": "fay", "age": 25, "occupation": "engineer", "gender": "F"},
    ])
    graph.write("CALL db.awaitIndexes(60)")
    return graph


def recs(client, user, k=10):
    return get(client, f"/v1/users/{user}/recommendations?k={k}")


def test_rung_model(client):
    body = recs(client, "ada", 2)
    assert body["strategy"] == "model" and [i["id"] for i in body["items"]] == ["c5", "c3"]
    assert get(client, "/v1/users/ada/interests")["strategy"] == "model"


def test_rung_inductive_gnn_then_new_content_by_text_embedding(client):
    body = recs(client, "chen")      # no model list, 2 positives: personal rungs blended with popularity
    assert [(i["id"], i["strategy"]) for i in body["items"]] == [
        ("c1", "inductive_gnn+global_popularity"), ("c3", "inductive_gnn+global_popularity"),
        ("c4", "inductive_gnn+global_popularity"), ("c6", "similar_content:emb_text+global_popularity")]
    assert body["strategy"] == "inductive_gnn+global_popularity"
    assert body["personal_share"] == pytest.approx(coldstart.personal_share(2), abs=1e-4)
    q = coldstart.inductive_query(np.array([[1.0, 1.0], [0.0, 1.0]]))
    cosine = q[0] / np.linalg.norm(q)
    assert body["items"][0]["score"] == pytest.approx((1 + cosine) / 2, abs=5e-3)   # index score ~ (1+cos)/2
    assert sorted(body["items"][0]["because"]) == ["c2", "c5"]
    assert body["items"][3]["score"] == pytest.approx(1.0, abs=1e-3)               # c6: same text as c2
    assert get(client, "/v1/users/chen/interests")["strategy"] == "decayed"


def test_rung_declared(client, known):
    feedback.replace_declared(known, "eve", feedback.declared_rows(["t:jazz"]))
    body = recs(client, "eve", 2)
    assert [(i["id"], i["strategy"]) for i in body["items"]] == [("c4", "declared"), ("c2", "global_popularity")]
    assert body["items"][0]["score"] == pytest.approx(math.log(2))                  # 1 viewer of c4
    assert get(client, "/v1/users/eve/interests")["strategy"] == "declared"


def test_rung_cohort_popularity(client):
    fay = {"age": 25, "occupation": "engineer", "gender": "F"}
    assert coldstart.cohort_threshold(fay) == 2                     # the bench uses the same rule
    assert coldstart.cohort_match(fay, {"age": 27, "occupation": "engineer", "gender": "M"}) == 2   # ada
    assert coldstart.cohort_match(fay, {"age": 45, "occupation": "chef", "gender": "F"}) == 1       # ben
    body = recs(client, "fay", 4)
    assert [(i["id"], i["strategy"], i["score"]) for i in body["items"]] == [
        ("c1", "cohort_popularity", 1.0), ("c2", "cohort_popularity", 1.0),
        ("c3", "global_popularity", 1.0), ("c4", "global_popularity", 1.0)]


def test_declared_comes_before_cohort(client, known):
    feedback.replace_declared(known, "fay", feedback.declared_rows(["t:cooking"]))
    assert [(i["id"], i["strategy"]) for i in recs(client, "fay", 2)["items"]] == [
        ("c3", "declared"), ("c1", "cohort_popularity")]


def test_rung_global_popularity(client):
    body = recs(client, "dan", 3)
    assert body["strategy"] == "global_popularity" and body["strategies"] == ["global_popularity"]
    assert get(client, "/v1/users/dan/interests")["strategy"] == "decayed"


def test_popularity_counts_positive_interactions_only(client):
    client.post("/v1/feedback", json={"user": "ben", "content": "c2", "kind": "dislike"})
    client.post("/v1/feedback", json={"user": "fay", "content": "c2", "kind": "hide"})
    assert [(i["id"], i["score"]) for i in recs(client, "dan", 1)["items"]] == [("c2", 2.0)]


# ---------------------------------------------------------------- pure helpers
def test_cohort_match_and_threshold():
    a = {"age": 27, "occupation": "engineer", "gender": "M"}
    assert coldstart.cohort_match(a, {"age": 20, "occupation": "engineer", "gender": "F"}) == 2
    assert coldstart.cohort_match(a, {"age": 30, "occupation": None, "gender": "M"}) == 1
    assert coldstart.cohort_threshold(a) == 2
    assert coldstart.cohort_threshold({"occupation": "x"}) == 1
    assert coldstart.cohort_threshold({}) == 0


def test_demote_and_pool_size():
    items = [{"id": c} for c in "abcdef"]
    out = coldstart.demote(items, {"a", "e"}, 0.25)
    assert [i["id"] for i in out] == ["b", "c", "a", "d", "f", "e"] and out[2]["demoted"]
    assert coldstart.demote(items, set(), 0.25) == items
    assert coldstart.pool_size(10, False, 0.25, 400) == 10
    assert coldstart.pool_size(10, True, 0.25, 400) == 40
    assert coldstart.pool_size(200, True, 0.25, 400) == 400


def test_inductive_query_is_the_mean_of_unit_vectors():
    q = coldstart.inductive_query(np.array([[3.0, 0.0], [0.0, 0.5]]))
    assert q.tolist() == [0.5, 0.5]


def test_personal_share_grows_with_interactions():
    assert coldstart.personal_share(0) == 0.0
    assert coldstart.personal_share(1, half=5) == pytest.approx(1 / 6)
    assert coldstart.personal_share(5, half=5) == 0.5
    assert coldstart.personal_share(95, half=5) == 0.95
    with pytest.raises(ValueError, match="half"):
        coldstart.personal_share(1, half=0)


def rung(ids, strategy):
    return [{"id": i, "strategy": strategy} for i in ids]


def test_blend_is_weighted_reciprocal_rank_fusion():
    personal, population = rung("abc", "inductive_gnn"), rung("cda", "cohort_popularity")
    ids = lambda items: [i["id"] for i in items]   # noqa: E731
    assert ids(coldstart.blend(personal, population, 1.0, 4)) == ["a", "b", "c", "d"]
    assert ids(coldstart.blend(personal, population, 0.0, 4)) == ["c", "d", "a", "b"]
    # equal shares: a and c (in both lists) tie and keep personal order; b and d tie likewise
    half = coldstart.blend(personal, population, 0.5, 3)
    assert [(i["id"], i["strategy"]) for i in half] == [
        ("a", "inductive_gnn+cohort_popularity"), ("c", "inductive_gnn+cohort_popularity"), ("b", "inductive_gnn")]
    # a small personal share only re-ranks within reach of the population list: b (personal #2) stays last
    assert ids(coldstart.blend(personal, population, 1 / 6, 4)) == ["c", "a", "d", "b"]
    assert coldstart.blend_name(half) == "inductive_gnn+cohort_popularity"
    with pytest.raises(ValueError, match="share"):
        coldstart.blend(personal, population, 1.5, 3)


def test_blend_beats_a_noisy_personal_ranking_on_planted_preferences():
    """A user with 1 interaction: the personal rung is mostly noise, the population rung mostly right.
    Filling rung by rung returns the noise; the blend stays close to the population list's hits."""
    rng = np.random.default_rng(0)
    liked = set(range(10))                                  # truth: items 0-9
    population = rung([int(i) for i in np.r_[np.arange(8), 50 + np.arange(12)]], "global_popularity")
    noise = rng.permutation(np.arange(20, 200))[:18]
    personal = rung([int(i) for i in np.r_[noise[:9], 8, noise[9:]]], "inductive_gnn")   # one hit at rank 10
    share = coldstart.personal_share(1)
    top = [i["id"] for i in coldstart.blend(personal, population, share, 10)]
    filled = [i["id"] for i in personal][:10]
    assert len(liked & set(top)) >= len(liked & {i["id"] for i in population[:10]}) > len(liked & set(filled))
