"""The API's read queries: fixed, parameterised Cypher constants and functions returning plain data.

Readers use only model edges of the active ``ModelRun``; without one (or for a user the run
does not cover) interests fall back to decayed interaction-derived scores (docs: /tmp/format.md,
"DECAYED INTERESTS"). Index names and properties reach Cypher as parameters taken from the
allow-listed ``graph.model.VECTOR_PROPERTIES``, never from callers.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, LiteralString

import neo4j
from neo4j import GraphDatabase
from neo4j.exceptions import ConnectionAcquisitionTimeoutError, DatabaseUnavailable, ServiceUnavailable, \
    SessionExpired

from graph.db import Graph
from graph.model import CONTENT, FOLLOWS, HAS_TOPIC, INTERACTED, INTERESTED_IN, MAY_LIKE, SUBTOPIC_OF, USER, \
    VECTOR_PROPERTIES, vector_property
from graph.settings import Neo4jSettings

SECONDS_PER_DAY = 86_400.0
CONTENT_MODALITIES = ("text", "image", "audio", "fused", "gnn")
USER_MODALITIES = ("gnn", "behavior")
NEIGHBORHOOD_RELS = (INTERACTED, HAS_TOPIC, SUBTOPIC_OF, FOLLOWS, INTERESTED_IN, MAY_LIKE)
MAX_VECTOR_FETCH = 2_000   # the most candidates one filtered vector search asks the index for
SIMILAR_SEEDS = 5          # recent interactions used as seeds for content-similarity recommendations


# ---------------------------------------------------------------- connection
def connect(settings: Neo4jSettings, *, timeout_s: float = 3.0, retry_s: float = 1.0,
            pool_size: int = 20) -> Graph:
    """A Graph for a long-running server: no connectivity check, short timeouts, so a request
    fails fast (and is answered 503) while Neo4j is down, and recovers when it returns."""
    driver = GraphDatabase.driver(settings.uri, auth=(settings.username, settings.password),
                                  connection_timeout=timeout_s, connection_acquisition_timeout=timeout_s,
                                  max_transaction_retry_time=retry_s, max_connection_pool_size=pool_size,
                                  liveness_check_timeout=30.0, notifications_min_severity="OFF")
    return Graph(driver, settings.database, settings.uri)


UNAVAILABLE = (ServiceUnavailable, SessionExpired, ConnectionAcquisitionTimeoutError, DatabaseUnavailable, OSError)


def is_unavailable(e: BaseException) -> bool:
    """True when ``e`` (or an exception it was raised from) means Neo4j could not be reached."""
    seen: BaseException | None = e
    while seen is not None:
        if isinstance(seen, UNAVAILABLE):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


# ---------------------------------------------------------------- readiness
CONSTRAINTS = "SHOW CONSTRAINTS YIELD name RETURN collect(name) AS names"
VECTOR_INDEXES = "SHOW VECTOR INDEXES YIELD name, state WHERE state = 'ONLINE' RETURN collect(name) AS names"
REQUIRED_CONSTRAINTS = ("user_id", "content_id", "topic_id", "model_run_id", "api_key_id")


def readiness(g: Graph) -> dict[str, Any]:
    """Which schema objects are present and which run is active."""
    constraints = set(g.read(CONSTRAINTS)[0]["names"])
    online = set(g.read(VECTOR_INDEXES)[0]["names"])
    return {
        "missing_constraints": [c for c in REQUIRED_CONSTRAINTS if c not in constraints],
        "missing_vector_indexes": [vp.index_name for vp in VECTOR_PROPERTIES if vp.index_name not in online],
        "active_run": active_run(g),
    }


# ---------------------------------------------------------------- existence
EXISTS = {
    USER: "MATCH (n:User {id: $id}) RETURN count(n) > 0 AS found",
    CONTENT: "MATCH (n:Content {id: $id}) RETURN count(n) > 0 AS found",
    "Topic": "MATCH (n:Topic {id: $id}) RETURN count(n) > 0 AS found",
}


def exists(g: Graph, label: str, node_id: str) -> bool:
    return bool(g.read(EXISTS[label], id=node_id)[0]["found"])


# ---------------------------------------------------------------- interests
MODEL_INTERESTS = """
OPTIONAL MATCH (u:User {id: $user})
OPTIONAL MATCH (run:ModelRun {active: true})
RETURN u IS NOT NULL AS found, run.id AS run_id, run.model AS run_model,
       COLLECT {
         MATCH (u)-[i:INTERESTED_IN]->(t:Topic)
         WHERE run IS NOT NULL AND i.run_id = run.id
         RETURN {topic: t.id, name: t.name, score: i.score, rank: i.rank, model: i.model, run_id: i.run_id}
         ORDER BY i.rank, t.id SKIP $offset LIMIT $limit
       } AS items
"""

# Σ r.weight · h.weight · 0.5^((t_ref − r.ts) / half_life), t_ref = the user's latest interaction.
DECAYED_INTERESTS = """
MATCH (u:User {id: $user})-[r:INTERACTED]->(:Content)
WITH u, max(r.ts) AS t_ref
MATCH (u)-[r:INTERACTED]->(:Content)-[h:HAS_TOPIC]->(t:Topic)
WITH t, sum(coalesce(r.weight, 1.0) * coalesce(h.weight, 1.0)
            * 0.5 ^ ((t_ref.epochMillis - r.ts.epochMillis) / 1000.0 / $half_life_s)) AS score
RETURN t.id AS topic, t.name AS name, score
ORDER BY score DESC, topic SKIP $offset LIMIT $limit
"""


@dataclass(frozen=True)
class Page:
    """Offset pagination: ask for one row more than the limit to know whether a next page exists."""

    limit: int
    offset: int = 0

    def split(self, rows: list) -> tuple[list, int | None]:
        more = len(rows) > self.limit
        return rows[:self.limit], (self.offset + self.limit if more else None)


def user_interests(g: Graph, user_id: str, page: Page, half_life_days: float) -> dict[str, Any] | None:
    """The user's topics from the active run, else decayed interests; None for an unknown user."""
    row = g.read(MODEL_INTERESTS, user=user_id, offset=page.offset, limit=page.limit + 1)[0]
    if not row["found"]:
        return None
    run = {"id": row["run_id"], "model": row["run_model"]} if row["run_id"] else None
    if row["items"] or (run is not None and page.offset > 0 and _has_model_interests(g, user_id, run["id"])):
        items, next_offset = page.split(row["items"])
        return {"source": "model", "run": run, "items": items, "next_offset": next_offset}
    rows = decayed_interests(g, user_id, Page(page.limit + 1, page.offset), half_life_days)
    items, next_offset = page.split(rows)
    for i, item in enumerate(items):
        item.update(rank=page.offset + i + 1, model=None, run_id=None)
    reason = "no active model run" if run is None else "the active run has no interests for this user"
    return {"source": "decayed", "reason": reason, "run": run, "half_life_days": half_life_days,
            "items": items, "next_offset": next_offset}


HAS_MODEL_INTERESTS = """
MATCH (:User {id: $user})-[i:INTERESTED_IN {run_id: $run_id}]->(:Topic) RETURN count(i) > 0 AS found
"""


def _has_model_interests(g: Graph, user_id: str, run_id: str) -> bool:
    return bool(g.read(HAS_MODEL_INTERESTS, user=user_id, run_id=run_id)[0]["found"])


def decayed_interests(g: Graph, user_id: str, page: Page, half_life_days: float) -> list[dict[str, Any]]:
    """Decayed interaction-derived interest scores, strongest first (``page.limit`` rows)."""
    return g.read(DECAYED_INTERESTS, user=user_id, offset=page.offset, limit=page.limit,
                  half_life_s=half_life_days * SECONDS_PER_DAY)


# ---------------------------------------------------------------- topic -> users
TOPIC_USERS_MODEL = """
MATCH (t:Topic {id: $topic})
OPTIONAL MATCH (run:ModelRun {active: true})
RETURN run.id AS run_id, run.model AS run_model,
       COLLECT {
         MATCH (u:User)-[i:INTERESTED_IN]->(t) WHERE run IS NOT NULL AND i.run_id = run.id
         RETURN {user: u.id, name: u.name, score: i.score, rank: i.rank}
         ORDER BY i.score DESC, u.id SKIP $offset LIMIT $limit
       } AS items
"""

TOPIC_USERS_DECAYED = """
MATCH (t:Topic {id: $topic})<-[h:HAS_TOPIC]-(:Content)<-[:INTERACTED]-(u:User)
WITH DISTINCT u, t
CALL (u) { MATCH (u)-[r:INTERACTED]->(:Content) RETURN max(r.ts) AS t_ref }
MATCH (u)-[r:INTERACTED]->(:Content)-[h:HAS_TOPIC]->(t)
WITH u, sum(coalesce(r.weight, 1.0) * coalesce(h.weight, 1.0)
            * 0.5 ^ ((t_ref.epochMillis - r.ts.epochMillis) / 1000.0 / $half_life_s)) AS score
RETURN u.id AS user, u.name AS name, score
ORDER BY score DESC, user SKIP $offset LIMIT $limit
"""


def topic_users(g: Graph, topic_id: str, page: Page, half_life_days: float) -> dict[str, Any] | None:
    """Users most interested in a topic (active run, else decayed); None for an unknown topic."""
    rows = g.read(TOPIC_USERS_MODEL, topic=topic_id, offset=page.offset, limit=page.limit + 1)
    if not rows:
        return None
    row = rows[0]
    run = {"id": row["run_id"], "model": row["run_model"]} if row["run_id"] else None
    if run is not None and row["items"]:
        items, next_offset = page.split(row["items"])
        return {"source": "model", "run": run, "items": items, "next_offset": next_offset}
    found = g.read(TOPIC_USERS_DECAYED, topic=topic_id, offset=page.offset, limit=page.limit + 1,
                   half_life_s=half_life_days * SECONDS_PER_DAY)
    items, next_offset = page.split(found)
    for i, item in enumerate(items):
        item["rank"] = page.offset + i + 1
    return {"source": "decayed", "run": run, "half_life_days": half_life_days, "items": items,
            "next_offset": next_offset}


# ---------------------------------------------------------------- neighbourhood
NODE_FIELDS = """
{key: labels(n)[0] + '/' + n.id, id: n.id, label: labels(n)[0],
 name: coalesce(n.name, n.title), kind: n.kind, source: n.source}
"""
START_NODE = ("MATCH (n:User {id: $user}) OPTIONAL MATCH (run:ModelRun {active: true}) "
              "RETURN elementId(n) AS eid, run.id AS run_id, run.model AS run_model, " + NODE_FIELDS + " AS node")
EMBEDDINGS = """
UNWIND $eids AS eid MATCH (n) WHERE elementId(n) = eid
RETURN eid, [k IN keys(n) WHERE k STARTS WITH 'emb_' AND NOT k ENDS WITH '_model' AND NOT k ENDS WITH '_dim'
             | [k, n[k]]] AS embeddings
"""
# One hop out of the frontier, strongest edges first; model edges only from the active run.
EXPAND = """
UNWIND $frontier AS eid
MATCH (a) WHERE elementId(a) = eid
MATCH (a)-[r]-(n)
WHERE type(r) IN $types AND (n:User OR n:Content OR n:Topic) AND NOT elementId(n) IN $seen
  AND (NOT type(r) IN ['INTERESTED_IN', 'MAY_LIKE'] OR r.run_id = $run_id OR r.source = 'declared')
WITH eid, a, r, n ORDER BY coalesce(r.score, r.weight, 1.0) DESC, n.id LIMIT $cap
RETURN eid AS from, elementId(n) AS eid, startNode(r) = a AS outgoing, """ + NODE_FIELDS + """ AS node,
       {type: type(r), weight: r.weight, score: r.score, rank: r.rank, kind: r.kind, rating: r.rating,
        ts: toString(r.ts), run_id: r.run_id} AS edge
"""
ACTIVE_RUN = "MATCH (run:ModelRun {active: true}) RETURN run.id AS id, run.model AS model LIMIT 1"


def active_run(g: Graph) -> dict[str, Any] | None:
    rows = g.read(ACTIVE_RUN)
    return rows[0] if rows else None


def _compact(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def neighborhood(g: Graph, user_id: str, depth: int, limit: int, rels: tuple[str, ...],
                 embeddings: bool = False) -> dict[str, Any] | None:
    """Breadth-first neighbourhood (nodes + edges) up to ``depth`` hops and ``limit`` nodes."""
    unknown = set(rels) - set(NEIGHBORHOOD_RELS)
    if unknown:
        raise ValueError(f"unknown relationship types {sorted(unknown)}")

    def work(tx: neo4j.ManagedTransaction) -> dict[str, Any] | None:
        start = tx.run(START_NODE, user=user_id).single()
        if start is None:
            return None
        run = {"id": start["run_id"], "model": start["run_model"]} if start["run_id"] else None
        nodes = {start["eid"]: start["node"]}
        edges: dict[tuple[str, str, str], dict[str, Any]] = {}
        frontier = [start["eid"]]
        for _ in range(depth):
            if not frontier or len(nodes) >= limit:
                break
            rows = tx.run(EXPAND, frontier=frontier, seen=list(nodes), types=list(rels),
                          run_id=run["id"] if run else None, cap=limit * 4).data()
            new = []
            for row in rows:
                if row["eid"] not in nodes:
                    if len(nodes) >= limit:
                        continue
                    nodes[row["eid"]] = row["node"]
                    new.append(row["eid"])
                near, far = nodes[row["from"]]["key"], row["node"]["key"]
                source, target = (near, far) if row["outgoing"] else (far, near)
                edge = {"source": source, "target": target, **_compact(row["edge"])}
                edges.setdefault((source, edge["type"], target), edge)
            frontier = new
        if embeddings:
            for row in tx.run(EMBEDDINGS, eids=list(nodes)):
                nodes[row["eid"]]["embeddings"] = {k: v for k, v in row["embeddings"]}
        return {"nodes": [_compact(n) for n in nodes.values()], "edges": list(edges.values()), "run": run}

    return g.run_read(work)


# ---------------------------------------------------------------- vector similarity
SIMILAR_CONTENT = """
MATCH (c:Content {id: $id})
WITH c, c[$prop] AS emb WHERE emb IS NOT NULL
CALL db.index.vector.queryNodes($index, $fetch, emb) YIELD node, score
WHERE node <> c
  AND ($kind IS NULL OR node.kind = $kind)
  AND ($topic IS NULL OR EXISTS { (node)-[:HAS_TOPIC]->(:Topic {id: $topic}) })
RETURN node.id AS id, node.title AS title, node.kind AS kind, score
"""
SIMILAR_USERS = """
MATCH (u:User {id: $id})
WITH u, u[$prop] AS emb WHERE emb IS NOT NULL
CALL db.index.vector.queryNodes($index, $fetch, emb) YIELD node, score
WHERE node <> u
RETURN node.id AS id, node.name AS name, score
"""
HAS_EMBEDDING = {
    USER: "MATCH (n:User {id: $id}) RETURN n[$prop] IS NOT NULL AS has",
    CONTENT: "MATCH (n:Content {id: $id}) RETURN n[$prop] IS NOT NULL AS has",
}


def embedding_status(g: Graph, label: str, node_id: str, prop: str) -> bool | None:
    """None: no such node; False: node without that embedding; True: it has one."""
    rows = g.read(HAS_EMBEDDING[label], id=node_id, prop=prop)
    return None if not rows else bool(rows[0]["has"])


def _filtered_top_k(g: Graph, query: LiteralString, k: int, **params: Any) -> list[dict[str, Any]]:
    """Ask the index for more candidates until ``k`` survive the filters (or the index is exhausted)."""
    fetch = max(4 * (k + 1), 20)
    while True:
        rows = g.read(query, fetch=fetch, **params)
        exhausted = not _filtered(params) and len(rows) < fetch - 1  # the index had no more nodes
        if len(rows) >= k or exhausted or fetch >= MAX_VECTOR_FETCH:
            break
        fetch = min(fetch * 4, MAX_VECTOR_FETCH)
    rows.sort(key=lambda r: (-r["score"], r["id"]))
    return rows[:k]


def _filtered(params: dict[str, Any]) -> bool:
    return params.get("kind") is not None or params.get("topic") is not None


def similar_content(g: Graph, content_id: str, k: int, modality: str, *, kind: str | None = None,
                    topic: str | None = None) -> dict[str, Any]:
    """Nearest content by one embedding; raises LookupError for a missing node or embedding."""
    vp = vector_property(CONTENT, f"emb_{modality}")
    state = embedding_status(g, CONTENT, content_id, vp.prop)
    if state is None:
        raise LookupError("content")
    if not state:
        raise LookupError(vp.prop)
    items = _filtered_top_k(g, SIMILAR_CONTENT, k, id=content_id, prop=vp.prop, index=vp.index_name,
                            kind=kind, topic=topic)
    return {"index": vp.index_name, "items": items}


def similar_users(g: Graph, user_id: str, k: int, modality: str | None = None) -> dict[str, Any]:
    """Nearest users by ``emb_gnn`` (else ``emb_behavior``); LookupError as in similar_content."""
    choices = [modality] if modality else list(USER_MODALITIES)
    for m in choices:
        vp = vector_property(USER, f"emb_{m}")
        state = embedding_status(g, USER, user_id, vp.prop)
        if state is None:
            raise LookupError("user")
        if state:
            items = _filtered_top_k(g, SIMILAR_USERS, k, id=user_id, prop=vp.prop, index=vp.index_name)
            return {"index": vp.index_name, "items": items}
    raise LookupError(" or ".join(f"emb_{m}" for m in choices))


# ---------------------------------------------------------------- recommendations
# One round trip for the common case: user check, active run and its MAY_LIKE edges together.
REC_MODEL = """
OPTIONAL MATCH (u:User {id: $user})
OPTIONAL MATCH (run:ModelRun {active: true})
RETURN u IS NOT NULL AS found, run.id AS run_id, run.model AS run_model,
       COLLECT {
         MATCH (u)-[m:MAY_LIKE]->(c:Content)
         WHERE run IS NOT NULL AND m.run_id = run.id
           AND ($topic IS NULL OR EXISTS { (c)-[:HAS_TOPIC]->(:Topic {id: $topic}) })
           AND (NOT $exclude_seen OR NOT EXISTS { (u)-[:INTERACTED]->(c) })
         RETURN {id: c.id, title: c.title, kind: c.kind, score: m.score, rank: m.rank}
         ORDER BY m.rank, c.id LIMIT $k
       } AS items
"""
REC_SIMILAR = """
MATCH (u:User {id: $user})-[r:INTERACTED]->(s:Content)
WHERE s[$prop] IS NOT NULL
WITH u, s, max(r.ts) AS last ORDER BY last DESC, s.id LIMIT $seeds
CALL db.index.vector.queryNodes($index, $fetch, s[$prop]) YIELD node AS c, score
WHERE c <> s
  AND ($topic IS NULL OR EXISTS { (c)-[:HAS_TOPIC]->(:Topic {id: $topic}) })
  AND (NOT $exclude_seen OR NOT EXISTS { (u)-[:INTERACTED]->(c) })
  AND NOT c.id IN $skip
WITH c, max(score) AS score, collect(s.id) AS because
RETURN c.id AS id, c.title AS title, c.kind AS kind, score, because[..3] AS because
ORDER BY score DESC, id LIMIT $k
"""
# Content most interacted with in the user's strongest decayed topics (or in $topic).
REC_TOPIC_POPULARITY = """
MATCH (u:User {id: $user})
CALL (u) {
  MATCH (u)-[r:INTERACTED]->(:Content)
  WITH u, max(r.ts) AS t_ref
  MATCH (u)-[r:INTERACTED]->(:Content)-[h:HAS_TOPIC]->(t:Topic)
  WHERE $topic IS NULL OR t.id = $topic
  WITH t, sum(coalesce(r.weight, 1.0) * coalesce(h.weight, 1.0)
              * 0.5 ^ ((t_ref.epochMillis - r.ts.epochMillis) / 1000.0 / $half_life_s)) AS interest
  RETURN t, interest ORDER BY interest DESC, t.id LIMIT 3
}
MATCH (t)<-[:HAS_TOPIC]-(c:Content)
WHERE (NOT $exclude_seen OR NOT EXISTS { (u)-[:INTERACTED]->(c) }) AND NOT c.id IN $skip
WITH c, max(interest) AS interest, collect(t.id) AS topics
WITH c, interest, topics, COUNT { (c)<-[:INTERACTED]-(:User) } AS popularity
RETURN c.id AS id, c.title AS title, c.kind AS kind, interest * log(1.0 + popularity) AS score,
       topics AS because
ORDER BY score DESC, id LIMIT $k
"""
REC_GLOBAL_POPULARITY = """
MATCH (u:User {id: $user})
MATCH (c:Content)
WHERE ($topic IS NULL OR EXISTS { (c)-[:HAS_TOPIC]->(:Topic {id: $topic}) })
  AND (NOT $exclude_seen OR NOT EXISTS { (u)-[:INTERACTED]->(c) }) AND NOT c.id IN $skip
WITH c, COUNT { (c)<-[:INTERACTED]-(:User) } AS popularity
RETURN c.id AS id, c.title AS title, c.kind AS kind, toFloat(popularity) AS score
ORDER BY score DESC, id LIMIT $k
"""


def recommendations(g: Graph, user_id: str, k: int, *, topic: str | None, exclude_seen: bool,
                    half_life_days: float) -> dict[str, Any] | None:
    """Top-k content: active-run MAY_LIKE, then content similar to recent interactions, then the
    user's topic popularity, then global popularity; each item names its strategy. None: unknown user."""
    params = {"user": user_id, "topic": topic, "exclude_seen": exclude_seen}
    row = g.read(REC_MODEL, k=k, **params)[0]
    if not row["found"]:
        return None
    run = {"id": row["run_id"], "model": row["run_model"]} if row["run_id"] else None
    items: list[dict[str, Any]] = []

    def add(strategy: str, found: list[dict[str, Any]]) -> None:
        for item in found[:k - len(items)]:
            items.append({**_compact(item), "strategy": strategy})

    add("model", row["items"])
    for prop in ("emb_gnn", "emb_text"):
        if len(items) >= k:
            break
        vp = vector_property(CONTENT, prop)
        add(f"similar_content:{prop}",
            g.read(REC_SIMILAR, prop=vp.prop, index=vp.index_name, seeds=SIMILAR_SEEDS,
                   fetch=min(4 * k + 10, MAX_VECTOR_FETCH), k=k - len(items),
                   skip=[i["id"] for i in items], **params))
    if len(items) < k:
        add("topic_popularity", g.read(REC_TOPIC_POPULARITY, k=k - len(items), skip=[i["id"] for i in items],
                                       half_life_s=half_life_days * SECONDS_PER_DAY, **params))
    if len(items) < k:
        add("global_popularity", g.read(REC_GLOBAL_POPULARITY, k=k - len(items),
                                        skip=[i["id"] for i in items], **params))
    strategies = list(dict.fromkeys(i["strategy"] for i in items))
    return {"run": run, "strategy": strategies[0] if strategies else None, "strategies": strategies,
            "items": items}


# ---------------------------------------------------------------- explain
# Each branch returns paths as alternating node/edge lists with a weight; strongest first.
EXPLAIN_CONTENT = """
MATCH (u:User {id: $user}), (c:Content {id: $content})
CALL (u, c) {
  MATCH (u)-[m:MAY_LIKE {run_id: $run_id}]->(c)
  RETURN 'model' AS kind, [u, c] AS nodes, [m] AS rels, m.score AS weight
  UNION ALL
  MATCH (u)-[r:INTERACTED]->(c)
  RETURN 'interacted' AS kind, [u, c] AS nodes, [r] AS rels, coalesce(r.weight, 1.0) AS weight
  UNION ALL
  MATCH (u)-[i:INTERESTED_IN]->(t:Topic)<-[h:HAS_TOPIC]-(c)
  WHERE i.run_id = $run_id OR i.source = 'declared'
  RETURN 'interest' AS kind, [u, t, c] AS nodes, [i, h] AS rels, i.score * coalesce(h.weight, 1.0) AS weight
  UNION ALL
  MATCH (u)-[r:INTERACTED]->(s:Content)-[h1:HAS_TOPIC]->(t:Topic)<-[h2:HAS_TOPIC]-(c)
  WHERE s <> c
  RETURN 'shared_topic' AS kind, [u, s, t, c] AS nodes, [r, h1, h2] AS rels,
         coalesce(r.weight, 1.0) * coalesce(h1.weight, 1.0) * coalesce(h2.weight, 1.0) AS weight
  UNION ALL
  MATCH (u)-[r1:INTERACTED]->(s:Content)<-[r2:INTERACTED]-(v:User)-[r3:INTERACTED]->(c)
  WHERE s <> c AND v <> u
  RETURN 'co_interaction' AS kind, [u, s, v, c] AS nodes, [r1, r2, r3] AS rels,
         coalesce(r1.weight, 1.0) * coalesce(r2.weight, 1.0) * coalesce(r3.weight, 1.0) AS weight
  UNION ALL
  MATCH (u)-[f:FOLLOWS]->(v:User)-[r:INTERACTED]->(c)
  RETURN 'followed' AS kind, [u, v, c] AS nodes, [f, r] AS rels, coalesce(r.weight, 1.0) AS weight
}
RETURN kind, weight,
       [n IN nodes | {key: labels(n)[0] + '/' + n.id, id: n.id, label: labels(n)[0],
                      name: coalesce(n.name, n.title)}] AS nodes,
       [r IN rels | {type: type(r), weight: r.weight, score: r.score, kind: r.kind, run_id: r.run_id}] AS edges
ORDER BY weight DESC, kind LIMIT $limit
"""
EXPLAIN_TOPIC = """
MATCH (u:User {id: $user}), (t:Topic {id: $topic})
CALL (u, t) {
  MATCH (u)-[i:INTERESTED_IN]->(t)
  WHERE i.run_id = $run_id OR i.source = 'declared'
  RETURN 'model' AS kind, [u, t] AS nodes, [i] AS rels, i.score AS weight
  UNION ALL
  MATCH (u)-[r:INTERACTED]->(c:Content)-[h:HAS_TOPIC]->(t)
  RETURN 'interacted' AS kind, [u, c, t] AS nodes, [r, h] AS rels,
         coalesce(r.weight, 1.0) * coalesce(h.weight, 1.0) AS weight
  UNION ALL
  MATCH (u)-[r:INTERACTED]->(c:Content)-[h:HAS_TOPIC]->(s:Topic)-[st:SUBTOPIC_OF]->(t)
  RETURN 'subtopic' AS kind, [u, c, s, t] AS nodes, [r, h, st] AS rels,
         coalesce(r.weight, 1.0) * coalesce(h.weight, 1.0) AS weight
  UNION ALL
  MATCH (u)-[f:FOLLOWS]->(v:User)-[i:INTERESTED_IN]->(t)
  WHERE i.run_id = $run_id
  RETURN 'followed' AS kind, [u, v, t] AS nodes, [f, i] AS rels, i.score AS weight
}
RETURN kind, weight,
       [n IN nodes | {key: labels(n)[0] + '/' + n.id, id: n.id, label: labels(n)[0],
                      name: coalesce(n.name, n.title)}] AS nodes,
       [r IN rels | {type: type(r), weight: r.weight, score: r.score, kind: r.kind, run_id: r.run_id}] AS edges
ORDER BY weight DESC, kind LIMIT $limit
"""


def explain(g: Graph, user_id: str, limit: int, *, content: str | None = None,
            topic: str | None = None) -> dict[str, Any]:
    """Strongest paths from the user to a content item or topic; LookupError names a missing node."""
    if (content is None) == (topic is None):
        raise ValueError("exactly one of content and topic")
    if not exists(g, USER, user_id):
        raise LookupError("user")
    target_label, target = (CONTENT, content) if content is not None else ("Topic", topic)
    if not exists(g, target_label, target):
        raise LookupError(target_label.lower())
    run = active_run(g)
    run_id = run["id"] if run else None
    if content is not None:
        rows = g.read(EXPLAIN_CONTENT, user=user_id, content=content, run_id=run_id, limit=limit)
    else:
        rows = g.read(EXPLAIN_TOPIC, user=user_id, topic=topic, run_id=run_id, limit=limit)
    paths = [{"kind": r["kind"], "weight": r["weight"], "nodes": [_compact(n) for n in r["nodes"]],
              "edges": [_compact(e) for e in r["edges"]]} for r in rows]
    return {"run": run, "paths": paths}


# ---------------------------------------------------------------- content vectors (re-ranking)
CONTENT_VECTORS = """
UNWIND $ids AS id
MATCH (c:Content {id: id})
RETURN c.id AS id, c[$prop] AS vector, COLLECT { MATCH (c)-[:HAS_TOPIC]->(t:Topic) RETURN t.id } AS topics
"""


def content_vectors(g: Graph, ids: list[str], prop: str) -> dict[str, dict[str, Any]]:
    """Content id -> {vector (None if absent), topics} for re-ranking; ``prop`` from the allow-list."""
    vp = vector_property(CONTENT, prop)
    return {r["id"]: {"vector": r["vector"], "topics": r["topics"]}
            for r in g.read(CONTENT_VECTORS, ids=list(ids), prop=vp.prop)}
