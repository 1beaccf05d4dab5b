"""Interest recovery against planted truth: the model's INTERESTED_IN vs two baselines.

Rankings come from the graph (model: the active run's INTERESTED_IN by rank; history: the
user's interaction mass per topic; popularity: one global topic order); the scoring is pure.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from graph.db import Graph

MODEL_TOPICS = """
MATCH (run:ModelRun {active: true})
MATCH (u:User)-[i:INTERESTED_IN]->(t:Topic {kind: $kind}) WHERE i.run_id = run.id
WITH u, t, i ORDER BY i.rank, t.id
RETURN u.id AS user, collect(t.id) AS topics
"""
HISTORY_TOPICS = """
MATCH (u:User)-[r:INTERACTED]->(:Content)-[h:HAS_TOPIC]->(t:Topic {kind: $kind})
WITH u, t, sum(r.weight * h.weight) AS mass ORDER BY mass DESC, t.id
RETURN u.id AS user, collect(t.id) AS topics
"""
POPULAR_TOPICS = """
MATCH (:User)-[r:INTERACTED]->(:Content)-[h:HAS_TOPIC]->(t:Topic {kind: $kind})
WITH t, sum(r.weight * h.weight) AS mass ORDER BY mass DESC, t.id
RETURN collect(t.id) AS topics
"""


def scores_at_k(ranked: Mapping[str, Sequence[str]], truth: Mapping[str, set[str]], k: int) -> dict[str, float]:
    """Mean precision@k and recall@k over the users in ``truth`` (a user without a ranking scores 0),
    and ``ceiling``: the best precision@k any ranking could reach (users have fewer than k true topics)."""
    if k < 1 or not truth:
        raise ValueError(f"need k >= 1 and at least one user with truth, got k={k}, {len(truth)} users")
    precision = recall = ceiling = 0.0
    for user, true in truth.items():
        hits = len(set(list(ranked.get(user, ()))[:k]) & true)
        precision += hits / k
        recall += hits / len(true)
        ceiling += min(k, len(true)) / k
    n = len(truth)
    return {"precision": precision / n, "recall": recall / n, "ceiling": ceiling / n, "users": n}


def rankings(g: Graph, kind: str) -> dict[str, dict[str, list[str]]]:
    """Per method (model, history, popularity), each user's topics of ``kind`` best first."""
    model = {r["user"]: r["topics"] for r in g.read(MODEL_TOPICS, kind=kind)}
    history = {r["user"]: r["topics"] for r in g.read(HISTORY_TOPICS, kind=kind)}
    popular = g.read(POPULAR_TOPICS, kind=kind)[0]["topics"]
    return {"model": model, "history": history, "popularity": {u: popular for u in history}}


def compare(g: Graph, kind: str, truth: Mapping[str, set[str]], k: int) -> dict[str, dict[str, float]]:
    """precision/recall@k of each method against ``truth``."""
    return {method: scores_at_k(ranked, truth, k) for method, ranked in rankings(g, kind).items()}


def table_lines(scores: Mapping[str, Mapping[str, float]], k: int) -> list[str]:
    """The comparison as aligned text lines."""
    lines = [f"  {'method':<28} {f'precision@{k}':>12} {f'recall@{k}':>10}"]
    names = {"model": "model (INTERESTED_IN)", "history": "baseline: interaction history",
             "popularity": "baseline: global popularity"}
    for method, s in scores.items():
        lines.append(f"  {names.get(method, method):<28} {s['precision']:12.3f} {s['recall']:10.3f}")
    first = next(iter(scores.values()))
    lines.append(f"  ({first['users']} users; the best possible precision@{k} is {first['ceiling']:.3f}, "
                 "given how many topics were planted per user)")
    return lines
