"""The known interest graph the API tests use, built with parameterised Cypher (graph/README.md).

Users ada, ben (covered by the active run), chen (arrived after training: no model edges),
dan (no interactions at all). Run ``run-1`` is active; ``run-0`` is stale and must never show.
"""
from __future__ import annotations

from graph.db import Graph

TOPICS = [
    {"id": "t:scifi", "name": "Sci-Fi"}, {"id": "t:space", "name": "Space"},
    {"id": "t:cooking", "name": "Cooking"}, {"id": "t:jazz", "name": "Jazz"},
]
CONTENT = [
    {"id": "c1", "kind": "video", "title": "A walk on the Moon"},
    {"id": "c2", "kind": "article", "title": "Rockets, explained"},
    {"id": "c3", "kind": "video", "title": "Fresh pasta at home"},
    {"id": "c4", "kind": "audio", "title": "Late-night jazz trio"},
    {"id": "c5", "kind": "article", "title": "Dune, reread"},
]
CONTENT_TOPICS = [
    ("c1", "t:space", 1.0), ("c2", "t:scifi", 1.0), ("c2", "t:space", 0.5),
    ("c3", "t:cooking", 1.0), ("c4", "t:jazz", 1.0), ("c5", "t:scifi", 1.0),
]
USERS = [{"id": "ada", "name": "Ada"}, {"id": "ben", "name": "Ben"}, {"id": "chen", "name": "Chen"},
         {"id": "dan", "name": "Dan"}]
INTERACTIONS = [
    ("ada", "c1", "like", 1.0, None, "2026-01-05T10:00:00Z"),
    ("ada", "c2", "view", 0.3, None, "2026-01-06T10:00:00Z"),
    ("ben", "c3", "rate", 1.0, 5.0, "2026-01-07T10:00:00Z"),
    ("ben", "c4", "view", 0.3, None, "2026-01-08T10:00:00Z"),
    ("chen", "c2", "share", 0.8, None, "2026-01-09T10:00:00Z"),
    ("chen", "c5", "like", 1.0, None, "2026-01-09T10:00:00Z"),
]
RUNS = [{"id": "run-0", "active": False, "model": "gcn"}, {"id": "run-1", "active": True, "model": "sage"}]
INTERESTS = [  # user, topic, score, rank, run
    ("ada", "t:space", 0.9, 1, "run-1"), ("ada", "t:scifi", 0.7, 2, "run-1"), ("ada", "t:jazz", 0.1, 3, "run-1"),
    ("ben", "t:cooking", 0.8, 1, "run-1"), ("ada", "t:cooking", 0.99, 1, "run-0"),
]
MAY_LIKE = [  # user, content, score, rank, run
    ("ada", "c5", 0.8, 1, "run-1"), ("ada", "c3", 0.2, 2, "run-1"), ("ben", "c1", 0.5, 1, "run-1"),
    ("ada", "c4", 0.99, 1, "run-0"),
]
TEXT_DIM, GNN_DIM = 384, 64
TEXT = {"c1": {0: 1.0}, "c2": {0: 1.0, 1: 1.0}, "c3": {2: 1.0}, "c4": {3: 1.0}, "c5": {0: 0.5, 1: 1.0}}
USER_GNN = {"ada": {0: 1.0}, "ben": {1: 1.0}, "chen": {0: 1.0, 1: 1.0}}

UPSERT_TOPICS = "UNWIND $rows AS row MERGE (t:Topic {id: row.id}) SET t.name = row.name, t.source = 'sample'"
UPSERT_CONTENT = "UNWIND $rows AS row MERGE (c:Content {id: row.id}) SET c.kind = row.kind, c.title = row.title"
UPSERT_USERS = "UNWIND $rows AS row MERGE (u:User {id: row.id}) SET u.name = row.name"
LINK_TOPICS = """
UNWIND $rows AS row MATCH (c:Content {id: row.c}), (t:Topic {id: row.t}) MERGE (c)-[h:HAS_TOPIC]->(t) SET h.weight = row.w
"""
SUBTOPIC = "MATCH (a:Topic {id: 't:space'}), (b:Topic {id: 't:scifi'}) MERGE (a)-[:SUBTOPIC_OF]->(b)"
INTERACT = """
UNWIND $rows AS row MATCH (u:User {id: row.u}), (c:Content {id: row.c})
MERGE (u)-[r:INTERACTED {kind: row.kind, ts: datetime(row.ts)}]->(c) SET r.weight = row.w, r.rating = row.rating
"""
FOLLOW = "MATCH (a:User {id: 'chen'}), (b:User {id: 'ada'}) MERGE (a)-[:FOLLOWS {ts: datetime('2026-01-01T00:00:00Z')}]->(b)"
RUN_NODES = """
UNWIND $rows AS row MERGE (r:ModelRun {id: row.id})
SET r.active = row.active, r.model = row.model, r.backend = 'dgl', r.config = '{}', r.metrics = '{}',
    r.timings = '{}', r.created_at = datetime('2026-01-10T00:00:00Z')
"""
INTERESTED = """
UNWIND $rows AS row MATCH (u:User {id: row.u}), (t:Topic {id: row.t}), (m:ModelRun {id: row.run})
CREATE (u)-[:INTERESTED_IN {score: row.score, rank: row.rank, run_id: row.run, model: m.model, source: 'model',
                            updated_at: datetime('2026-01-10T00:00:00Z')}]->(t)
"""
MAYLIKE = """
UNWIND $rows AS row MATCH (u:User {id: row.u}), (c:Content {id: row.c}), (m:ModelRun {id: row.run})
CREATE (u)-[:MAY_LIKE {score: row.score, rank: row.rank, run_id: row.run, model: m.model,
                       updated_at: datetime('2026-01-10T00:00:00Z')}]->(c)
"""
SET_VECTOR = {
    ("Content", "emb_text"): "UNWIND $rows AS row MATCH (n:Content {id: row.id}) "
                             "CALL db.create.setNodeVectorProperty(n, 'emb_text', row.vec)",
    ("User", "emb_gnn"): "UNWIND $rows AS row MATCH (n:User {id: row.id}) "
                         "CALL db.create.setNodeVectorProperty(n, 'emb_gnn', row.vec)",
}


def _vec(dim: int, entries: dict[int, float]) -> list[float]:
    vec = [0.0] * dim
    for i, v in entries.items():
        vec[i] = v
    return vec


def build(g: Graph) -> None:
    """Write the graph (the caller starts from an empty database with the schema applied)."""
    g.write(UPSERT_TOPICS, rows=TOPICS)
    g.write(UPSERT_CONTENT, rows=CONTENT)
    g.write(UPSERT_USERS, rows=USERS)
    g.write(LINK_TOPICS, rows=[{"c": c, "t": t, "w": w} for c, t, w in CONTENT_TOPICS])
    g.write(SUBTOPIC)
    g.write(INTERACT, rows=[{"u": u, "c": c, "kind": k, "w": w, "rating": r, "ts": ts}
                            for u, c, k, w, r, ts in INTERACTIONS])
    g.write(FOLLOW)
    g.write(RUN_NODES, rows=RUNS)
    g.write(INTERESTED, rows=[{"u": u, "t": t, "score": s, "rank": r, "run": run} for u, t, s, r, run in INTERESTS])
    g.write(MAYLIKE, rows=[{"u": u, "c": c, "score": s, "rank": r, "run": run} for u, c, s, r, run in MAY_LIKE])
    g.write(SET_VECTOR[("Content", "emb_text")],
            rows=[{"id": cid, "vec": _vec(TEXT_DIM, e)} for cid, e in TEXT.items()])
    g.write(SET_VECTOR[("User", "emb_gnn")],
            rows=[{"id": uid, "vec": _vec(GNN_DIM, e)} for uid, e in USER_GNN.items()])
    g.write("CALL db.awaitIndexes(60)")


def test_known_graph_has_the_documented_shape(graph):
    build(graph)
    counts = graph.read("""
        MATCH (n) WITH labels(n)[0] AS label, count(*) AS n RETURN label, n ORDER BY label""")
    assert {r["label"]: r["n"] for r in counts} == {"Content": 5, "ModelRun": 2, "Topic": 4, "User": 4}
    active = graph.read("MATCH (r:ModelRun {active: true}) RETURN r.id AS id")
    assert active == [{"id": "run-1"}]
    dims = graph.read("MATCH (c:Content {id: 'c1'}) RETURN size(c.emb_text) AS d")
    assert dims == [{"d": TEXT_DIM}]
