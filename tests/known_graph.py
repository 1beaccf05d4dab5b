"""A small, fully known interest graph following graph/README.md, for tests that need exact answers.

Five users (with demographics and ``emb_gnn``), seven content items (titles, ``emb_fused`` /
``emb_text`` / ``emb_gnn`` set with ``db.create.setNodeVectorProperty``; one duplicate title, one
orphan, two without embeddings), six topics (one ``SUBTOPIC_OF``, one orphan), time-stamped
interactions, follows, and two ModelRuns with run-tagged ``INTERESTED_IN`` / ``MAY_LIKE`` edges
(``run-new`` active, ``run-old`` not) plus one declared interest. Reusable: ``build(graph)``.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from graph.db import Graph
from graph.model import vector_property

ACTIVE_RUN, OLD_RUN = "run-new", "run-old"

TOPICS = [  # id, name, source, parent
    ("t:scifi", "Sci-Fi", "genre", None),
    ("t:space", "Space", "kg", "t:scifi"),
    ("t:drama", "Drama", "genre", None),
    ("t:comedy", "Comedy", "genre", None),
    ("t:jazz", "Jazz", "genre", None),
    ("t:orphan", "Orphan Topic", "kg", None),
]

CONTENT = [  # id, title, kind, {topic: weight}, embedding axes (None = no embeddings)
    ("c1", "Star Voyage", "movie", {"t:scifi": 1.0, "t:space": 1.0}, {0: 1.0}),
    ("c2", "Moon Base", "movie", {"t:space": 1.0, "t:scifi": 0.5}, {0: 1.0, 1: 0.5}),
    ("c3", "Family Dinner", "movie", {"t:drama": 1.0, "t:comedy": 0.5}, {2: 1.0}),
    ("c4", "Laugh Track", "movie", {"t:comedy": 1.0}, {2: 1.0, 3: 1.0}),
    ("c5", "Blue Notes", "audio", {"t:jazz": 1.0}, {4: 1.0}),
    ("c6", "Star Voyage", "movie", {"t:scifi": 1.0}, None),   # duplicate title, no embeddings
    ("c7", "Lonely Film", "movie", {}, None),                   # orphan: no topic, no interaction
]

USERS = [  # id, name, age, gender, occupation, emb_gnn axes (None = none)
    ("u1", "Ada", 25, "F", "engineer", {0: 1.0}),
    ("u2", "Ben", 34, "M", "artist", {1: 1.0}),
    ("u3", "Chen", 45, "M", "engineer", {0: 1.0, 1: 0.2}),
    ("u4", "Dee", 22, "F", "student", {1: 1.0, 2: 1.0}),
    ("u5", "Eve", 60, "F", "retired", None),                    # orphan: no interactions
]


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


INTERACTIONS = [  # user, content, kind, weight, rating, ts
    ("u1", "c1", "like", 1.0, None, _ts("2026-01-01T00:00:00")),
    ("u1", "c2", "view", 0.5, None, _ts("2026-01-20T00:00:00")),
    ("u1", "c3", "rate", 1.0, 4.0, _ts("2026-03-01T00:00:00")),
    ("u1", "c4", "like", 1.0, None, _ts("2026-03-02T00:00:00")),
    ("u2", "c3", "like", 1.0, None, _ts("2026-02-10T00:00:00")),
    ("u2", "c4", "view", 0.5, None, _ts("2026-02-11T00:00:00")),
    ("u3", "c1", "like", 1.0, None, _ts("2026-02-01T00:00:00")),
    ("u3", "c2", "like", 1.0, None, _ts("2026-02-02T00:00:00")),
    ("u3", "c5", "view", 0.5, None, _ts("2026-02-03T00:00:00")),
    ("u4", "c4", "like", 1.0, None, _ts("2026-02-20T00:00:00")),
    ("u4", "c5", "like", 1.0, None, _ts("2026-02-21T00:00:00")),
]

FOLLOWS = [("u2", "u1"), ("u3", "u1"), ("u4", "u1"), ("u1", "u3")]

RUNS = [  # id, model, active, created_at
    (OLD_RUN, "gcn", False, "2026-03-10T00:00:00Z"),
    (ACTIVE_RUN, "sage", True, "2026-03-20T00:00:00Z"),
]

INTERESTS = {  # run -> user -> [(topic, score)] in rank order
    ACTIVE_RUN: {
        "u1": [("t:drama", 0.9), ("t:comedy", 0.7), ("t:scifi", 0.4)],
        "u2": [("t:drama", 0.8), ("t:comedy", 0.6)],
        "u3": [("t:scifi", 0.9), ("t:space", 0.8), ("t:jazz", 0.3)],
        "u4": [("t:comedy", 0.9), ("t:jazz", 0.5)],
    },
    OLD_RUN: {
        "u1": [("t:scifi", 0.9), ("t:space", 0.8), ("t:drama", 0.2)],
        "u2": [("t:comedy", 0.7), ("t:drama", 0.5)],
        "u3": [("t:space", 0.9), ("t:scifi", 0.6)],
        "u4": [("t:jazz", 0.8), ("t:comedy", 0.4)],
    },
}

RECOMMENDATIONS = {  # run -> user -> [(content, score)] in rank order
    ACTIVE_RUN: {
        "u1": [("c5", 0.9), ("c6", 0.5)],
        "u2": [("c1", 0.7), ("c5", 0.6)],
        "u3": [("c3", 0.8), ("c4", 0.4)],
        "u4": [("c3", 0.9), ("c1", 0.3)],
    },
    OLD_RUN: {
        "u1": [("c6", 0.8), ("c5", 0.7)],
        "u2": [("c5", 0.9), ("c1", 0.2)],
        "u3": [("c4", 0.6), ("c6", 0.5)],
        "u4": [("c1", 0.9), ("c2", 0.4)],
    },
}

DECLARED = [("u5", "t:jazz")]  # INTERESTED_IN {source: 'declared'}, no run_id

UPSERT_TOPICS = """
UNWIND $rows AS row
MERGE (t:Topic {id: row.id}) SET t.name = row.name, t.source = row.source
"""
LINK_SUBTOPICS = """
UNWIND $rows AS row
MATCH (child:Topic {id: row.id}), (parent:Topic {id: row.parent})
MERGE (child)-[:SUBTOPIC_OF]->(parent)
"""
UPSERT_CONTENT = """
UNWIND $rows AS row
MERGE (c:Content {id: row.id}) SET c.title = row.title, c.kind = row.kind
WITH c, row
UNWIND row.topics AS ht
MATCH (t:Topic {id: ht.topic})
MERGE (c)-[h:HAS_TOPIC]->(t) SET h.weight = ht.weight
"""
SET_VECTOR = """
UNWIND $rows AS row
MATCH (n {id: row.id}) WHERE $label IN labels(n)
CALL db.create.setNodeVectorProperty(n, $prop, row.vector)
SET n[$prop + '_dim'] = size(row.vector), n[$prop + '_model'] = 'known-graph'
"""
UPSERT_USERS = """
UNWIND $rows AS row
MERGE (u:User {id: row.id})
SET u.name = row.name, u.age = row.age, u.gender = row.gender, u.occupation = row.occupation
"""
UPSERT_INTERACTIONS = """
UNWIND $rows AS row
MATCH (u:User {id: row.user}), (c:Content {id: row.content})
MERGE (u)-[r:INTERACTED {kind: row.kind, ts: row.ts}]->(c)
SET r.weight = row.weight, r.rating = row.rating
"""
UPSERT_FOLLOWS = """
UNWIND $rows AS row
MATCH (a:User {id: row.src}), (b:User {id: row.dst})
MERGE (a)-[:FOLLOWS]->(b)
"""
UPSERT_RUNS = """
UNWIND $rows AS row
MERGE (r:ModelRun {id: row.id})
SET r.model = row.model, r.backend = 'dgl', r.active = row.active, r.created_at = datetime(row.created_at),
    r.config = '{}', r.metrics = '{}', r.timings = '{}'
"""
UPSERT_INTERESTS = """
UNWIND $rows AS row
MATCH (u:User {id: row.user}), (t:Topic {id: row.topic})
CREATE (u)-[:INTERESTED_IN {score: row.score, rank: row.rank, run_id: row.run, model: row.model,
                            source: 'model', updated_at: datetime(row.updated_at)}]->(t)
"""
UPSERT_DECLARED = """
UNWIND $rows AS row
MATCH (u:User {id: row.user}), (t:Topic {id: row.topic})
MERGE (u)-[r:INTERESTED_IN {source: 'declared'}]->(t) SET r.score = 1.0
"""
UPSERT_MAY_LIKE = """
UNWIND $rows AS row
MATCH (u:User {id: row.user}), (c:Content {id: row.content})
CREATE (u)-[:MAY_LIKE {score: row.score, rank: row.rank, run_id: row.run, model: row.model,
                       updated_at: datetime(row.updated_at)}]->(c)
"""


def vector(axes: dict[int, float], dim: int) -> list[float]:
    """A ``dim``-long vector with the given non-zero axes."""
    out = [0.0] * dim
    for axis, value in axes.items():
        out[axis] = value
    return out


def _ranked(table: dict[str, dict[str, list[tuple[str, float]]]], key: str) -> list[dict[str, Any]]:
    models = {run: model for run, model, _, _ in RUNS}
    created = {run: created for run, _, _, created in RUNS}
    return [{"user": user, key: item, "score": score, "rank": rank, "run": run, "model": models[run],
             "updated_at": created[run]}
            for run, users in table.items() for user, items in users.items()
            for rank, (item, score) in enumerate(items, start=1)]


def build(g: Graph) -> None:
    """Write the known graph into ``g`` (expects an empty database with the schema applied)."""
    g.write(UPSERT_TOPICS, rows=[{"id": i, "name": n, "source": s} for i, n, s, _ in TOPICS])
    g.write(LINK_SUBTOPICS, rows=[{"id": i, "parent": p} for i, _, _, p in TOPICS if p])
    g.write(UPSERT_CONTENT, rows=[
        {"id": i, "title": title, "kind": kind, "topics": [{"topic": t, "weight": w} for t, w in topics.items()]}
        for i, title, kind, topics, _ in CONTENT])
    for prop, shift in (("emb_fused", 0), ("emb_text", 0), ("emb_gnn", 0)):
        dim = vector_property("Content", prop).dim
        g.write(SET_VECTOR, label="Content", prop=prop, rows=[
            {"id": i, "vector": vector({a + shift: v for a, v in axes.items()}, dim)}
            for i, _, _, _, axes in CONTENT if axes])
    g.write(UPSERT_USERS, rows=[{"id": i, "name": n, "age": a, "gender": s, "occupation": o}
                                for i, n, a, s, o, _ in USERS])
    g.write(SET_VECTOR, label="User", prop="emb_gnn", rows=[
        {"id": i, "vector": vector(axes, vector_property("User", "emb_gnn").dim)}
        for i, _, _, _, _, axes in USERS if axes])
    g.write(UPSERT_INTERACTIONS, rows=[
        {"user": u, "content": c, "kind": k, "weight": w, "rating": r, "ts": ts}
        for u, c, k, w, r, ts in INTERACTIONS])
    g.write(UPSERT_FOLLOWS, rows=[{"src": a, "dst": b} for a, b in FOLLOWS])
    g.write(UPSERT_RUNS, rows=[{"id": i, "model": m, "active": a, "created_at": c} for i, m, a, c in RUNS])
    g.write(UPSERT_INTERESTS, rows=_ranked(INTERESTS, "topic"))
    g.write(UPSERT_DECLARED, rows=[{"user": u, "topic": t} for u, t in DECLARED])
    g.write(UPSERT_MAY_LIKE, rows=_ranked(RECOMMENDATIONS, "content"))
    g.write("CALL db.awaitIndexes(60)")
