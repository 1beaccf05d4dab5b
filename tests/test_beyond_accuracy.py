"""Beyond-accuracy metrics (gnn.metrics), MMR re-ranking (graph.rerank), the Cypher library query
that must agree with the evaluator, and the API's diversity / per_topic_cap parameters."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from graph import library
from graph.model import vector_property
from graph.rerank import mmr
from gnn.config import TrainConfig
from gnn.data import build_data
from gnn.evaluate import evaluate_models, markdown_table
from gnn.metrics import (average_popularity, beyond_accuracy, catalogue_coverage, evaluate_ranking,
                         intra_list_diversity, list_accuracy, novelty, rank_and_evaluate, self_information)
from gnn.synthetic import PlantedWorld, planted_snapshot


# ---------------------------------------------------------------- metrics by hand
TOP = np.array([[0, 1, 2], [0, 3, -1]])
VECS = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 0.0], [0.0, 0.0]])
POP = np.array([4, 2, 1, 0, 0])


def test_catalogue_coverage_counts_distinct_items():
    assert catalogue_coverage(TOP, 5) == pytest.approx(4 / 5)


def test_intra_list_diversity_by_hand():
    c = 1 / math.sqrt(2)
    list0 = ((1 - 0.0) + (1 - c) + (1 - c)) / 3      # pairs (0,1) (0,2) (1,2)
    list1 = 1 - (-1.0)                                 # pair (0,3): opposite vectors
    assert intra_list_diversity(TOP, VECS) == pytest.approx((list0 + list1) / 2)
    # item 2 without a vector: list 0 keeps only the pair (0, 1)
    has = np.array([True, True, False, True, True])
    assert intra_list_diversity(TOP, VECS, has) == pytest.approx((1.0 + 2.0) / 2)
    assert math.isnan(intra_list_diversity(np.array([[0, -1]]), VECS))


def test_novelty_and_popularity_by_hand():
    info = -np.log2((POP + 1) / 5)  # 4 users
    assert self_information(POP, 4) == pytest.approx(info)
    assert novelty(TOP, POP, 4) == pytest.approx(np.mean(info[[0, 1, 2, 0, 3]]))
    assert average_popularity(TOP, POP) == pytest.approx(np.mean([4, 2, 1, 4, 0]))
    row = beyond_accuracy(TOP, 5, POP, 4, None)
    assert row["coverage"] == pytest.approx(0.8) and math.isnan(row["diversity"])


def test_rank_and_evaluate_lists_match_the_metrics():
    rng = np.random.default_rng(0)
    scores = torch.as_tensor(rng.random((6, 12)), dtype=torch.float32)
    truth = (np.array([0, 0, 1, 2, 3, 3, 5]), np.array([1, 4, 2, 7, 0, 11, 3]))
    exclude = (np.array([0, 1, 1, 2]), np.array([2, 3, 9, 1]))
    metrics, users, top = rank_and_evaluate(lambda u: scores[u], truth, exclude, 12, k=4, batch_users=2)
    assert metrics == pytest.approx(evaluate_ranking(lambda u: scores[u], truth, exclude, 12, k=4))
    assert users.tolist() == [0, 1, 2, 3, 5] and top.shape == (5, 4)
    for row, u in enumerate(users):  # excluded items never appear
        assert not set(top[row]) & set(exclude[1][exclude[0] == u])
    by_user = {int(u): truth[1][truth[0] == u] for u in users}
    again = list_accuracy(top, by_user, users, 4)
    assert again["recall@4"] == pytest.approx(metrics["recall@4"])
    assert again["ndcg@4"] == pytest.approx(metrics["ndcg@4"])


def test_evaluate_models_reports_beyond_accuracy_for_every_row():
    snap, _ = planted_snapshot(PlantedWorld(n_users=30, n_content=40, n_topics=4, per_user=10, drifters=0))
    cfg = TrainConfig(device="cpu", num_threads=1, emb_dim=16, epochs=3, patience=2)
    data = build_data(snap, cfg, "random")
    rng = np.random.default_rng(1)
    vectors = (rng.normal(size=(40, 8)).astype(np.float32), np.ones(40, dtype=bool))
    rows = evaluate_models(data, cfg, ["pop", "bprmf"], vectors=vectors, embedding="emb_test")
    for row in rows:
        assert 0 < row["coverage@20"] <= 1 and row["diversity@20"] > 0
        assert row["novelty@20"] > 0 and row["avg_pop@20"] > 0 and row["diversity_embedding"] == "emb_test"
    pop = next(r for r in rows if r["model"] == "pop")
    assert pop["avg_pop@20"] >= max(r["avg_pop@20"] for r in rows) - 1e-9   # popularity recommends the head
    table = markdown_table(rows + [{"model": "stored", "split": "random", "val_ndcg@20": 0.1, "seconds": 1.0,
                                    **{k: 0.1 for k in ("recall@20", "ndcg@20", "precision@20", "hit@20", "f1@20",
                                                        "mrr", "auc")}}], 20)
    assert "coverage@20" in table and "n/a" in table and "`emb_test`" in table


# ---------------------------------------------------------------- MMR
def test_mmr_without_diversity_keeps_relevance_order():
    assert mmr([0.9, 0.5, 0.7, 0.1], None, 3) == [0, 2, 1]
    assert mmr([1.0, 1.0, 1.0], None, 3) == [0, 1, 2]    # ties keep the input order


def test_mmr_trades_relevance_for_diversity():
    rel = [1.0, 0.95, 0.9, 0.2]
    vecs = np.array([[1, 0], [1, 0.01], [0, 1], [0.7, 0.7]], dtype=float)   # 0 and 1 near-duplicates
    assert mmr(rel, vecs, 2, diversity=0.0) == [0, 1]
    assert mmr(rel, vecs, 2, diversity=0.5) == [0, 2]
    assert mmr(rel, vecs, 4, diversity=0.5)[0] == 0                         # the most relevant comes first
    no_vector = np.array([[1, 0], [1, 0.01], [0, 0], [0.7, 0.7]], dtype=float)
    assert mmr(rel, no_vector, 2, diversity=0.5) == [0, 2]                   # no vector: similar to nothing


def test_mmr_per_topic_cap():
    topics = [["a"], ["a"], ["a", "b"], ["b"], []]
    assert mmr([5, 4, 3, 2, 1], None, 5, topics=topics, per_topic_cap=1) == [0, 3, 4]
    assert mmr([5, 4, 3, 2, 1], None, 5, topics=topics, per_topic_cap=2) == [0, 1, 3, 4]


@pytest.mark.parametrize("kwargs, message", [
    ({"diversity": 1.5}, "diversity must be in 0..1"),
    ({"diversity": 0.5}, "needs one vector per candidate"),
    ({"per_topic_cap": 0, "topics": [[], []]}, "per_topic_cap must be >= 1"),
    ({"per_topic_cap": 2}, "needs topics"),
])
def test_mmr_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        mmr([1.0, 0.5], None, 2, **kwargs)


# ---------------------------------------------------------------- Cypher library agrees with the evaluator
N_USERS, N_ITEMS, DIM, K = 12, 25, vector_property("Content", "emb_text").dim, 5


def _seed(g, rng):
    items = [f"c{i}" for i in range(N_ITEMS)]
    has = rng.random(N_ITEMS) > 0.2
    vecs = rng.normal(size=(N_ITEMS, DIM)).astype(np.float32)
    g.write("UNWIND $ids AS id CREATE (:Content {id: id})", ids=items)
    g.write("UNWIND $ids AS id CREATE (:User {id: id})", ids=[f"u{i}" for i in range(N_USERS)])
    g.write("UNWIND $rows AS row MATCH (c:Content {id: row.id}) "
            "CALL db.create.setNodeVectorProperty(c, 'emb_text', row.vec)",
            rows=[{"id": items[i], "vec": vecs[i].tolist()} for i in range(N_ITEMS) if has[i]])
    pairs = {(int(u), int(c)) for u, c in zip(rng.integers(0, N_USERS - 2, 60), rng.integers(0, N_ITEMS, 60))}
    g.write("UNWIND $rows AS row MATCH (u:User {id: row.u}), (c:Content {id: row.c}) "
            "CREATE (u)-[:INTERACTED {kind: 'view', weight: 1.0, ts: datetime()}]->(c), "
            "(u)-[:INTERACTED {kind: 'like', weight: 1.0, ts: datetime()}]->(c)",
            rows=[{"u": f"u{u}", "c": f"c{c}"} for u, c in sorted(pairs)])
    top = np.stack([rng.permutation(N_ITEMS)[:K + 2] for _ in range(N_USERS - 1)])
    g.write("CREATE (:ModelRun {id: 'r1', active: true, model: 'sage'}), (:ModelRun {id: 'r0', active: false})")
    g.write("UNWIND $rows AS row MATCH (u:User {id: row.u}), (c:Content {id: row.c}) "
            "CREATE (u)-[:MAY_LIKE {run_id: row.run, rank: row.rank, score: 1.0 / row.rank}]->(c)",
            rows=[{"u": f"u{u}", "c": f"c{c}", "rank": r + 1, "run": "r1"}
                  for u in range(N_USERS - 1) for r, c in enumerate(top[u])]
            + [{"u": "u0", "c": "c0", "rank": 1, "run": "r0"}])
    popularity = np.bincount([c for _, c in pairs], minlength=N_ITEMS)
    n_users = len({u for u, _ in pairs})
    return top[:, :K], popularity, n_users, vecs, has


def test_cypher_query_agrees_with_the_evaluator(graph):
    top, popularity, n_users, vecs, has = _seed(graph, np.random.default_rng(7))
    (row,) = library.run(graph, library.load()["recommendation_coverage_diversity"], {"k": K})
    expected = beyond_accuracy(top, N_ITEMS, popularity, n_users, vecs, has)
    assert row["run_id"] == "r1" and row["lists"] == N_USERS - 1 and row["items_total"] == N_ITEMS
    assert row["catalogue_coverage"] == pytest.approx(expected["coverage"])
    assert row["intra_list_diversity"] == pytest.approx(expected["diversity"], rel=1e-5)
    assert row["novelty"] == pytest.approx(expected["novelty"])
    assert row["avg_popularity"] == pytest.approx(expected["avg_pop"])


# ---------------------------------------------------------------- API: diversity and per_topic_cap
REC_ITEMS = [  # id, topic, vector axis: a1..a3 near-duplicates on one topic, then b1, b2, c1
    ("a1", "tA", 0), ("a2", "tA", 0), ("a3", "tA", 0), ("b1", "tB", 1), ("b2", "tB", 1), ("c1", "tC", 2)]


@pytest.fixture()
def rec_client(graph, neo4j_settings):
    from api import create_app
    from api.config import ApiConfig
    from api.keys import create_key

    graph.write("CREATE (:User {id: 'ru'}), (:ModelRun {id: 'run', active: true, model: 'sage'})")
    graph.write("UNWIND $rows AS row MERGE (t:Topic {id: row.t}) CREATE (c:Content {id: row.id, title: row.id}) "
                "CREATE (c)-[:HAS_TOPIC {weight: 1.0}]->(t) "
                "WITH c, row CALL db.create.setNodeVectorProperty(c, 'emb_text', row.vec)",
                rows=[{"id": i, "t": t, "vec": [1.0 if d == axis else 0.01 * n for d in range(DIM)]}
                      for n, (i, t, axis) in enumerate(REC_ITEMS)])
    graph.write("UNWIND $rows AS row MATCH (u:User {id: 'ru'}), (c:Content {id: row.id}) "
                "CREATE (u)-[:MAY_LIKE {run_id: 'run', model: 'sage', rank: row.rank, "
                "score: 1.0 - row.rank / 10.0}]->(c)",
                rows=[{"id": i, "rank": r + 1} for r, (i, _, _) in enumerate(REC_ITEMS)])
    app = create_app(ApiConfig(neo4j=neo4j_settings, key_cache_ttl_s=0))
    client = app.test_client()
    client.environ_base["HTTP_X_API_KEY"] = create_key(graph, "t-read", "read")[0]
    yield client
    app.extensions["ikg_graph"].close()


def _ids(client, query):
    response = client.get(f"/v1/users/ru/recommendations?{query}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_api_diversity_reranks_over_the_candidates(rec_client):
    plain = _ids(rec_client, "k=3")
    assert [i["id"] for i in plain["items"]] == ["a1", "a2", "a3"] and "rerank" not in plain
    diverse = _ids(rec_client, "k=3&diversity=0.6")
    assert [i["id"] for i in diverse["items"]] == ["a1", "b1", "c1"]
    assert diverse["rerank"] == {"diversity": 0.6, "per_topic_cap": None, "embedding": "emb_text", "candidates": 6}
    assert [i["id"] for i in _ids(rec_client, "k=3&diversity=0")["items"]] == ["a1", "a2", "a3"]


def test_api_per_topic_cap(rec_client):
    body = _ids(rec_client, "k=4&per_topic_cap=2")
    assert [i["id"] for i in body["items"]] == ["a1", "a2", "b1", "b2"]
    assert [i["id"] for i in _ids(rec_client, "k=6&per_topic_cap=1")["items"]] == ["a1", "b1", "c1"]


@pytest.mark.parametrize("query, param", [("diversity=1.5", "diversity"), ("diversity=abc", "diversity"),
                                          ("diversity=nan", "diversity"), ("per_topic_cap=0", "per_topic_cap")])
def test_api_rejects_bad_diversity_params(rec_client, query, param):
    response = rec_client.get(f"/v1/users/ru/recommendations?{query}")
    assert response.status_code == 400 and response.get_json()["param"] == param
