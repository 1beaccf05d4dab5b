"""The API's read queries: fixed, parameterised Cypher constants and functions returning plain data.

Readers use only model edges of the active ``ModelRun``; without one (or for a user the run
does not cover) interests fall back to decayed interaction-derived scores (docs: /tmp/format.md,
"DECAYED INTERESTS"), then to the user's declared topics. Index names and properties reach Cypher
as parameters taken from the allow-listed ``graph.model.VECTOR_PROPERTIES``, never from callers.

Feedback (``graph.feedback``) applies at read time: topics the user is not interested in leave their
interests and demote their content; disliked/hidden content is never recommended; skipped content is
demoted. The recommendation ladder is described in ``graph.coldstart``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, LiteralString

import neo4j
from neo4j import GraphDatabase
from neo4j.exceptions import ConnectionAcquisitionTimeoutError, DatabaseUnavailable, ServiceUnavailable, \
    SessionExpired

from graph import coldstart
from graph.db import Graph
from graph.events import FeedbackConfig
from graph.model import BLOCKING_KINDS, CONTENT, DECLARED, FEEDBACK_KINDS, FOLLOWS, HAS_TOPIC, INTERACTED, \
    INTERESTED_IN, MAY_LIKE, SUBTOPIC_OF, TOPIC_FEEDBACK_KINDS, USER, VECTOR_PROPERTIES, vector_property
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


# ---------------------------------------------------------------- user state
# What feedback and declarations say about a user (one round trip before interests/recommendations).
# A topic is suppressed by topic feedback unless the user declared it again after the latest such event.
USER_STATE = """
MATCH (u:User {id: $user})
OPTIONAL MATCH (run:ModelRun {active: true})
RETURN run.id AS run_id, run.model AS run_model, u.age AS age, u.occupation AS occupation, u.gender AS gender,
       COLLECT {
         MATCH (u)-[f:FEEDBACK]->(t:Topic) WHERE f.kind IN $topic_kinds
         WITH t, max(f.ts) AS last
         WHERE NOT EXISTS { MATCH (u)-[d:INTERESTED_IN {source: $declared}]->(t) WHERE d.updated_at > last }
         RETURN t.id ORDER BY t.id
       } AS suppressed,
       COLLECT {
         MATCH (u)-[d:INTERESTED_IN {source: $declared}]->(t:Topic)
         RETURN {topic: t.id, name: t.name, weight: d.score} ORDER BY t.id
       } AS declared,
       COLLECT { MATCH (u)-[r:INTERACTED {kind: 'skip'}]->(c:Content) RETURN DISTINCT c.id } AS skipped,
       COUNT { MATCH (u)-[r:INTERACTED]->(:Content)
               WHERE coalesce(r.weight, 1.0) >= 0 AND NOT r.kind IN $feedback_kinds } AS positives
"""


@dataclass(frozen=True)
class UserState:
    """A user's active run, cohort attributes, suppressed topics, active declared topics, skipped items."""

    run: dict[str, Any] | None
    attributes: dict[str, Any]
    suppressed: tuple[str, ...]
    declared: tuple[dict[str, Any], ...]
    skipped: tuple[str, ...]
    positives: int


def user_state(g: Graph, user_id: str) -> UserState | None:
    """The user's feedback/declaration state; None for an unknown user."""
    rows = g.read(USER_STATE, user=user_id, topic_kinds=list(TOPIC_FEEDBACK_KINDS), declared=DECLARED,
                  feedback_kinds=list(FEEDBACK_KINDS))
    if not rows:
        return None
    r = rows[0]
    suppressed = tuple(r["suppressed"])
    return UserState(run={"id": r["run_id"], "model": r["run_model"]} if r["run_id"] else None,
                     attributes={a: r[a] for a in coldstart.COHORT_ATTRIBUTES},
                     suppressed=suppressed,
                     declared=tuple(d for d in r["declared"] if d["topic"] not in suppressed),
                     skipped=tuple(r["skipped"]), positives=r["positives"])


# ---------------------------------------------------------------- interests
MODEL_INTERESTS = """
MATCH (u:User {id: $user})
MATCH (u)-[i:INTERESTED_IN]->(t:Topic)
WHERE i.run_id = $run_id AND NOT t.id IN $suppressed
RETURN t.id AS topic, t.name AS name, i.score AS score, i.rank AS rank, i.model AS model, i.run_id AS run_id
ORDER BY i.rank, t.id SKIP $offset LIMIT $limit
"""

# Σ r.weight · h.weight · 0.5^((t_ref − r.ts) / half_life), t_ref = the user's latest interaction.
DECAYED_INTERESTS = """
MATCH (u:User {id: $user})-[r:INTERACTED]->(:Content)
WITH u, max(r.ts) AS t_ref
MATCH (u)-[r:INTERACTED]->(:Content)-[h:HAS_TOPIC]->(t:Topic)
WHERE NOT t.id IN $suppressed
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
    """The user's topics: active run, else decayed interests, else declared topics (``strategy`` names
    which); topics the user is not interested in are left out, declared ones marked. None: unknown user."""
    state = user_state(g, user_id)
    if state is None:
        return None
    run = state.run
    declared_ids = {d["topic"] for d in state.declared}
    common = {"run": run, "declared": list(state.declared), "suppressed": list(state.suppressed)}

    def marked(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**i, "declared": i["topic"] in declared_ids} for i in items]

    if run is not None:
        rows = g.read(MODEL_INTERESTS, user=user_id, run_id=run["id"], suppressed=list(state.suppressed),
                      offset=page.offset, limit=page.limit + 1)
        if rows or (page.offset > 0 and _has_model_interests(g, user_id, run["id"])):
            items, next_offset = page.split(rows)
            return {"strategy": "model", "source": "model", **common, "items": marked(items),
                    "next_offset": next_offset}
    rows = decayed_interests(g, user_id, Page(page.limit + 1, page.offset), half_life_days, state.suppressed)
    reason = "no active model run" if run is None else "the active run has no interests for this user"
    if rows or (page.offset > 0 and state.positives > 0) or not state.declared:
        items, next_offset = page.split(rows)
        for i, item in enumerate(items):
            item.update(rank=page.offset + i + 1, model=None, run_id=None)
        return {"strategy": "decayed", "source": "decayed", "reason": reason, **common,
                "half_life_days": half_life_days, "items": marked(items), "next_offset": next_offset}
    ranked = sorted(state.declared, key=lambda d: (-d["weight"], d["topic"]))
    items, next_offset = page.split(ranked[page.offset:page.offset + page.limit + 1])
    items = [{"topic": d["topic"], "name": d["name"], "score": d["weight"], "rank": page.offset + i + 1,
              "model": None, "run_id": None} for i, d in enumerate(items)]
    return {"strategy": "declared", "source": "declared", "reason": f"{reason}; no interactions", **common,
            "items": marked(items), "next_offset": next_offset}


HAS_MODEL_INTERESTS = """
MATCH (:User {id: $user})-[i:INTERESTED_IN {run_id: $run_id}]->(:Topic) RETURN count(i) > 0 AS found
"""


def _has_model_interests(g: Graph, user_id: str, run_id: str) -> bool:
    return bool(g.read(HAS_MODEL_INTERESTS, user=user_id, run_id=run_id)[0]["found"])


def decayed_interests(g: Graph, user_id: str, page: Page, half_life_days: float,
                      suppressed: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Decayed interaction-derived interest scores, strongest first (``page.limit`` rows), without
    the ``suppressed`` topics."""
    return g.read(DECAYED_INTERESTS, user=user_id, offset=page.offset, limit=page.limit,
                  half_life_s=half_life_days * SECONDS_PER_DAY, suppressed=list(suppressed))


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
# Every strategy applies the same filters to a candidate c of user u (concatenated, never formatted).
CANDIDATE_FILTER = """
  ($topic IS NULL OR EXISTS { (c)-[:HAS_TOPIC]->(:Topic {id: $topic}) })
  AND (NOT $exclude_seen OR NOT EXISTS { (u)-[:INTERACTED]->(c) })
  AND NOT EXISTS { MATCH (u)-[x:INTERACTED]->(c) WHERE x.kind IN $blocked_kinds }
  AND NOT c.id IN $skip
"""
# Popularity counts positive interactions only (not feedback, not negative ratings).
POPULARITY = """
COUNT { MATCH (c)<-[p:INTERACTED]-(:User) WHERE coalesce(p.weight, 1.0) >= 0 AND NOT p.kind IN $feedback_kinds }
"""
REC_MODEL = """
MATCH (u:User {id: $user})-[m:MAY_LIKE]->(c:Content)
WHERE m.run_id = $run_id AND""" + CANDIDATE_FILTER + """
RETURN c.id AS id, c.title AS title, c.kind AS kind, m.score AS score, m.rank AS rank
ORDER BY m.rank, c.id LIMIT $k
"""
# The user's most recent positive items' emb_gnn, each L2-normalised, averaged (graph.coldstart.inductive_query).
REC_INDUCTIVE = """
MATCH (u:User {id: $user})-[r:INTERACTED]->(s:Content)
WHERE s[$prop] IS NOT NULL AND coalesce(r.weight, 1.0) >= 0 AND NOT r.kind IN $feedback_kinds
WITH u, s, max(r.ts) AS last ORDER BY last DESC, s.id LIMIT $seeds
WITH u, collect(s) AS seeds, collect(s[$prop]) AS vecs
WITH u, seeds, [v IN vecs | [x IN v | x / sqrt(reduce(n = 0.0, y IN v | n + y * y))]] AS unit
WITH u, seeds, [i IN range(0, size(unit[0]) - 1) | reduce(a = 0.0, v IN unit | a + v[i]) / size(unit)] AS q
CALL db.index.vector.queryNodes($index, $fetch, q) YIELD node AS c, score
WHERE NOT c IN seeds AND""" + CANDIDATE_FILTER + """
RETURN c.id AS id, c.title AS title, c.kind AS kind, score, [s IN seeds[..3] | s.id] AS because
ORDER BY score DESC, id LIMIT $k
"""
REC_SIMILAR = """
MATCH (u:User {id: $user})-[r:INTERACTED]->(s:Content)
WHERE s[$prop] IS NOT NULL AND coalesce(r.weight, 1.0) >= 0 AND NOT r.kind IN $feedback_kinds
WITH u, s, max(r.ts) AS last ORDER BY last DESC, s.id LIMIT $seeds
CALL db.index.vector.queryNodes($index, $fetch, s[$prop]) YIELD node AS c, score
WITH u, s, c, score
WHERE c <> s AND""" + CANDIDATE_FILTER + """
WITH c, max(score) AS score, collect(s.id) AS because
RETURN c.id AS id, c.title AS title, c.kind AS kind, score, because[..3] AS because
ORDER BY score DESC, id LIMIT $k
"""
# Popular content of the user's (active) declared topics: Σ declared weight · log(1 + popularity).
REC_DECLARED = """
MATCH (u:User {id: $user})
UNWIND $declared AS d
MATCH (:Topic {id: d.topic})<-[:HAS_TOPIC]-(c:Content)
WHERE""" + CANDIDATE_FILTER + """
WITH c, sum(d.weight) AS interest, collect(d.topic) AS topics
WITH c, interest, topics, """ + POPULARITY + """ AS popularity
RETURN c.id AS id, c.title AS title, c.kind AS kind, interest * log(1.0 + popularity) AS score,
       topics AS because
ORDER BY score DESC, id LIMIT $k
"""
# Content most interacted with in the user's strongest decayed topics (or in $topic).
REC_TOPIC_POPULARITY = """
MATCH (u:User {id: $user})
CALL (u) {
  MATCH (u)-[r:INTERACTED]->(:Content)
  WITH u, max(r.ts) AS t_ref
  MATCH (u)-[r:INTERACTED]->(:Content)-[h:HAS_TOPIC]->(t:Topic)
  WHERE ($topic IS NULL OR t.id = $topic) AND NOT t.id IN $suppressed
  WITH t, sum(coalesce(r.weight, 1.0) * coalesce(h.weight, 1.0)
              * 0.5 ^ ((t_ref.epochMillis - r.ts.epochMillis) / 1000.0 / $half_life_s)) AS interest
  WHERE interest > 0
  RETURN t, interest ORDER BY interest DESC, t.id LIMIT 3
}
MATCH (t)<-[:HAS_TOPIC]-(c:Content)
WHERE""" + CANDIDATE_FILTER + """
WITH c, max(interest) AS interest, collect(t.id) AS topics
WITH c, interest, topics, """ + POPULARITY + """ AS popularity
RETURN c.id AS id, c.title AS title, c.kind AS kind, interest * log(1.0 + popularity) AS score,
       topics AS because
ORDER BY score DESC, id LIMIT $k
"""
# Content most often (positively) interacted with by the user's cohort: other users sharing at least
# $min_match of age bucket, occupation, gender (graph.coldstart.cohort_match); score = cohort users.
REC_COHORT_POPULARITY = """
MATCH (u:User {id: $user})
MATCH (v:User) WHERE v <> u
WITH u, v,
     CASE WHEN u.age IS NOT NULL AND v.age IS NOT NULL
               AND toInteger(u.age) / $age_bucket = toInteger(v.age) / $age_bucket THEN 1 ELSE 0 END
     + CASE WHEN u.occupation IS NOT NULL AND v.occupation = u.occupation THEN 1 ELSE 0 END
     + CASE WHEN u.gender IS NOT NULL AND v.gender = u.gender THEN 1 ELSE 0 END AS matched
WHERE matched >= $min_match
MATCH (v)-[r:INTERACTED]->(c:Content)
WHERE coalesce(r.weight, 1.0) >= 0 AND NOT r.kind IN $feedback_kinds AND""" + CANDIDATE_FILTER + """
WITH c, count(DISTINCT v) AS cohort
RETURN c.id AS id, c.title AS title, c.kind AS kind, toFloat(cohort) AS score
ORDER BY score DESC, id LIMIT $k
"""
REC_GLOBAL_POPULARITY = """
MATCH (u:User {id: $user})
MATCH (c:Content)
WHERE""" + CANDIDATE_FILTER + """
WITH c, """ + POPULARITY + """ AS popularity
RETURN c.id AS id, c.title AS title, c.kind AS kind, toFloat(popularity) AS score
ORDER BY score DESC, id LIMIT $k
"""
IN_TOPICS = """
UNWIND $ids AS id
MATCH (c:Content {id: id}) WHERE EXISTS { MATCH (c)-[:HAS_TOPIC]->(t:Topic) WHERE t.id IN $topics }
RETURN collect(c.id) AS ids
"""


def recommendation_candidates(g: Graph, user_id: str, n: int, *, topic: str | None, exclude_seen: bool,
                              half_life_days: float, state: UserState | None = None,
                              blend_half: float = coldstart.BLEND_HALF) -> dict[str, Any] | None:
    """Up to ``n`` candidates down the ladder (graph.coldstart), each with id, score and strategy: the
    model's list then the other rungs in order, or, for a user without one, the personal rungs blended
    with the rest (``personal_share`` says how much; None when no blend); ``demoted`` lists the ids
    feedback demotes (not yet applied). None: unknown user."""
    state = state or user_state(g, user_id)
    if state is None:
        return None
    params = {"user": user_id, "topic": topic, "exclude_seen": exclude_seen,
              "blocked_kinds": list(BLOCKING_KINDS), "feedback_kinds": list(FEEDBACK_KINDS)}

    def fill(rungs: list[tuple[str, LiteralString, dict[str, Any]]],
             items: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        items = list(items or [])
        for strategy, query, more in rungs:
            if len(items) >= n:
                break
            for item in g.read(query, k=n - len(items), skip=[i["id"] for i in items], **params, **more):
                items.append({**_compact(item), "strategy": strategy})
        return items

    rungs: list[tuple[str, LiteralString, dict[str, Any]]] = []    # the ladder below the model, in order
    if state.positives:
        gnn, text = vector_property(CONTENT, "emb_gnn"), vector_property(CONTENT, "emb_text")
        fetch = min(4 * n + 10, MAX_VECTOR_FETCH)
        rungs += [("inductive_gnn", REC_INDUCTIVE, {"prop": gnn.prop, "index": gnn.index_name,
                                                    "seeds": coldstart.INDUCTIVE_SEEDS, "fetch": fetch}),
                  ("similar_content:emb_text", REC_SIMILAR, {"prop": text.prop, "index": text.index_name,
                                                             "seeds": SIMILAR_SEEDS, "fetch": fetch})]
    if state.declared:
        rungs.append(("declared", REC_DECLARED, {
            "declared": [{"topic": d["topic"], "weight": d["weight"]} for d in state.declared]}))
    if state.positives:
        rungs.append(("topic_popularity", REC_TOPIC_POPULARITY, {
            "half_life_s": half_life_days * SECONDS_PER_DAY, "suppressed": list(state.suppressed)}))
    min_match = coldstart.cohort_threshold(state.attributes)
    if min_match:
        rungs.append(("cohort_popularity", REC_COHORT_POPULARITY,
                      {"min_match": min_match, "age_bucket": coldstart.AGE_BUCKET_YEARS}))
    rungs.append(("global_popularity", REC_GLOBAL_POPULARITY, {}))
    model = fill([("model", REC_MODEL, {"run_id": state.run["id"]})]) if state.run is not None else []
    personal = [] if model else fill([r for r in rungs if r[0] in coldstart.PERSONAL])
    share = coldstart.personal_share(state.positives, blend_half) if personal else None
    if personal:    # no model list: personal rungs blended with the others (graph.coldstart.blend)
        items = coldstart.blend(personal, fill([r for r in rungs if r[0] not in coldstart.PERSONAL]), share, n)
    else:
        items = fill(rungs, model)
    demoted = set(state.skipped)
    if state.suppressed and items:
        demoted |= set(g.read(IN_TOPICS, ids=[i["id"] for i in items], topics=list(state.suppressed))[0]["ids"])
    return {"run": state.run, "items": items, "demoted": sorted(demoted & {i["id"] for i in items}),
            "personal_share": share}


def recommendations(g: Graph, user_id: str, k: int, *, topic: str | None, exclude_seen: bool,
                    half_life_days: float, feedback: FeedbackConfig = FeedbackConfig(),
                    max_candidates: int = 400) -> dict[str, Any] | None:
    """Top-k content down the ladder (graph.coldstart), feedback demotions applied; each item names its
    strategy (an item both blended rungs ranked: "<personal>+<fallback>"); ``strategy`` is the first
    item's, or the blend's name (e.g. "inductive_gnn+cohort_popularity") with its ``personal_share``.
    None: unknown user."""
    state = user_state(g, user_id)
    if state is None:
        return None
    n = coldstart.pool_size(k, bool(state.skipped or state.suppressed), feedback.demote_factor, max_candidates)
    found = recommendation_candidates(g, user_id, n, topic=topic, exclude_seen=exclude_seen,
                                      half_life_days=half_life_days, state=state)
    items = coldstart.demote(found["items"], set(found["demoted"]), feedback.demote_factor)[:k]
    strategies = list(dict.fromkeys(i["strategy"] for i in items))
    share = found["personal_share"]
    strategy = coldstart.blend_name(items) if share is not None else (strategies[0] if strategies else None)
    return {"run": state.run, "strategy": strategy, "strategies": strategies,
            **({"personal_share": round(share, 4)} if share is not None else {}),
            "suppressed_topics": list(state.suppressed), "items": items}


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
