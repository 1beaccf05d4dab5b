"""Discovered topics in Neo4j: read content for discovery, swap topic runs atomically, communities.

A discovery run is written the way model write-back is (see ``graph/writeback.py``):
1. leftovers of interrupted runs are swept (staged topics of a failed run, retired ones not yet
   deleted); a ``DiscoveryRun`` node is MERGEd with ``state='writing'``;
2. the new topics are CREATEd as ``:TopicStaged`` nodes (not ``:Topic``, so no reader, export or
   query sees them), with ``SUBTOPIC_OF`` between them, ``HAS_TOPIC {source:'discovered'}`` from
   content and ``REPRESENTATIVE_OF {rank}`` from each topic's representative items, in batches;
   the run becomes ``state='ready'``;
3. ONE small transaction relabels the previous run's topics ``:Topic`` → ``:TopicRetired`` and the
   new ones ``:TopicStaged`` → ``:Topic``, and moves ``active`` to the new run;
4. the retired topics and their relationships are deleted (``IN TRANSACTIONS``), and the old run
   becomes ``state='retired'``.
A crash at any point leaves the old or the new topics fully visible; the next run sweeps what is
left. Model interests, declared interests and feedback that point at retired topics go with
them. One writer at a time is assumed (a second writer's staged topics would be swept).

Communities: :func:`baskets` reads which topics co-occur (on a content item, or in one user's
interactions); the caller weights the pairs and clusters them with :func:`gds_louvain` (the Graph
Data Science plugin, when the server has it) or a Python fallback.
"""
from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, LiteralString

import numpy as np
from neo4j import NotificationDisabledClassification
from neo4j.exceptions import ClientError, ServiceUnavailable, SessionExpired
from tqdm import tqdm

from graph.db import Graph, batched
from graph.errors import GraphError

logger = logging.getLogger(__name__)

SOURCE = "discovered"
STAGED, RETIRED = "TopicStaged", "TopicRetired"
REPRESENTATIVE_OF = "REPRESENTATIVE_OF"
READ_PAGE = 5_000          # content items per read
WRITE_BATCH = 10_000       # relationships per write transaction
DELETE_BATCH = 10_000      # rows per inner transaction when deleting
EMBEDDING_PROPS = ("emb_text", "emb_image", "emb_audio", "emb_fused")
VIA = ("content", "users")
WRITING, READY, RETIRED_STATE, FAILED = "writing", "ready", "retired", "failed"
QUIET = [NotificationDisabledClassification.UNRECOGNIZED, NotificationDisabledClassification.DEPRECATION]

# ---------------------------------------------------------------- queries
# One page of content in id order; a missing embedding comes back as an empty list.
READ_CONTENT = """
MATCH (c:Content) WHERE c.id > $after
WITH c ORDER BY c.id LIMIT $limit
WITH collect(c) AS page
RETURN [c IN page | c.id] AS ids,
       [c IN page | trim(coalesce(c.title, '') + ' ' + coalesce(c.text, ''))] AS texts,
       [p IN $props | [c IN page | coalesce(c[p], [])]] AS embeddings
"""
COUNT_CONTENT = "MATCH (c:Content) RETURN count(c) AS n"
SWEEP_RUNS = """
MATCH (r:DiscoveryRun) WHERE r.state = $writing OR (r.state = $ready AND NOT r.active)
SET r.state = CASE WHEN r.activated_at IS NULL THEN $failed ELSE $retired END, r.state_changed_at = $now
RETURN collect(r.id) AS swept
"""
DELETE_RELS: dict[str, LiteralString] = {
    STAGED: "MATCH (:TopicStaged)-[r]-() CALL (r) { DELETE r } IN TRANSACTIONS OF $batch ROWS",
    RETIRED: "MATCH (:TopicRetired)-[r]-() CALL (r) { DELETE r } IN TRANSACTIONS OF $batch ROWS",
}
DELETE_NODES: dict[str, LiteralString] = {
    STAGED: "MATCH (t:TopicStaged) CALL (t) { DETACH DELETE t } IN TRANSACTIONS OF $batch ROWS",
    RETIRED: "MATCH (t:TopicRetired) CALL (t) { DETACH DELETE t } IN TRANSACTIONS OF $batch ROWS",
}
BEGIN_RUN = """
MERGE (r:DiscoveryRun {id: $run_id})
SET r += $props, r.active = false, r.state = $writing, r.created_at = $now
"""
CREATE_TOPICS = """
UNWIND $rows AS row
CREATE (t:TopicStaged {id: row.id, name: row.name, source: 'discovered', method: $method, level: row.level,
                       size: row.size, terms: row.terms, discovery_run: $run_id, created_at: $now})
RETURN collect(t.id) AS ids, collect(elementId(t)) AS eids
"""
CREATE_SUBTOPIC_OF = """
UNWIND $rows AS row
MATCH (child:TopicStaged) WHERE elementId(child) = row.child
MATCH (parent:TopicStaged) WHERE elementId(parent) = row.parent
CREATE (child)-[:SUBTOPIC_OF]->(parent)
"""
CREATE_HAS_TOPIC = """
UNWIND $rows AS row
MATCH (c:Content {id: row.content})
MATCH (t:TopicStaged) WHERE elementId(t) = row.topic
CREATE (c)-[:HAS_TOPIC {weight: row.weight, source: 'discovered', discovery_run: $run_id}]->(t)
"""
CREATE_REPRESENTATIVES = """
UNWIND $rows AS row
MATCH (c:Content {id: row.content})
MATCH (t:TopicStaged) WHERE elementId(t) = row.topic
CREATE (c)-[:REPRESENTATIVE_OF {rank: row.rank, discovery_run: $run_id}]->(t)
"""
FINISH_RUN = """
MATCH (r:DiscoveryRun {id: $run_id}) WHERE r.state = $writing
SET r.state = $ready, r.topics = $topics, r.assignments = $assignments, r.written_at = $now
RETURN r.id AS id
"""
# The one transaction readers see: old discovered topics out, new ones in, active run moved.
FLIP_RUN = """
MATCH (new:DiscoveryRun {id: $run_id}) WHERE new.state = $ready
OPTIONAL MATCH (old:DiscoveryRun {active: true}) WHERE old.id <> new.id
SET old.active = false, old.deactivated_at = $now
SET new.active = true, new.activated_at = $now
RETURN collect(old.id) AS previous
"""
RETIRE_TOPICS = """
MATCH (t:Topic) WHERE t.source = 'discovered' AND t.discovery_run IS NOT NULL AND t.discovery_run <> $run_id
REMOVE t:Topic SET t:TopicRetired
RETURN count(t) AS n
"""
PUBLISH_TOPICS = """
MATCH (t:TopicStaged {discovery_run: $run_id})
REMOVE t:TopicStaged SET t:Topic
RETURN count(t) AS n
"""
RETIRE_RUNS = """
MATCH (r:DiscoveryRun) WHERE r.id IN $ids AND NOT r.active
SET r.state = $retired, r.state_changed_at = $now
"""
ACTIVE_RUN = "MATCH (r:DiscoveryRun {active: true}) RETURN r {.*} AS run LIMIT 1"
LIST_RUNS = "MATCH (r:DiscoveryRun) RETURN r {.*} AS run ORDER BY r.created_at DESC, r.id"
# Each parent, then its subtopics. `community` is read through properties(): no "unknown property"
# warning before the first `ikg topics communities`.
LIST_TOPICS = """
MATCH (t:Topic {source: 'discovered'})
OPTIONAL MATCH (t)-[:SUBTOPIC_OF]->(p:Topic)
WITH t, p, COLLECT { MATCH (c:Content)-[r:REPRESENTATIVE_OF]->(t)
                     RETURN coalesce(c.title, c.id) ORDER BY r.rank } AS representatives
RETURN t.id AS id, t.name AS name, t.level AS level, t.method AS method, t.size AS size,
       t.discovery_run AS run, p.id AS parent, p.name AS parent_name, properties(t).community AS community,
       representatives
ORDER BY coalesce(p.id, t.id), t.level DESC, t.size DESC, t.id
"""
# Content's discovered topic (primary = highest weight), for scoring against given labels.
CONTENT_TOPICS = """
MATCH (c:Content)-[h:HAS_TOPIC]->(t:Topic {source: 'discovered', level: 0})
WITH c, t ORDER BY h.weight DESC, t.id
WITH c, collect(t)[0] AS t
OPTIONAL MATCH (t)-[:SUBTOPIC_OF]->(p:Topic)
RETURN collect(c.id) AS content, collect(t.id) AS topic, collect(coalesce(p.id, '')) AS parent,
       collect(coalesce(properties(t).community, -1)) AS community
"""
TOPIC_SCOPE = """
MATCH (t:Topic) WHERE t.source = $source AND ($level IS NULL OR t.level = $level)
  AND EXISTS { (t)<-[:HAS_TOPIC]-(:Content) }
RETURN collect(t.id) AS ids
"""
# Co-occurrence baskets: the distinct topics (of one source and level) of each content item
# or of each user's interacted content; weighting is done by the caller.
BASKETS: dict[str, LiteralString] = {
    "content": """
MATCH (c:Content)-[:HAS_TOPIC]->(t:Topic)
WHERE t.source = $source AND ($level IS NULL OR t.level = $level)
WITH c, collect(DISTINCT t.id) AS ts
RETURN collect(ts) AS baskets
""",
    "users": """
MATCH (u:User)-[:INTERACTED]->(:Content)-[:HAS_TOPIC]->(t:Topic)
WHERE t.source = $source AND ($level IS NULL OR t.level = $level)
WITH u, collect(DISTINCT t.id) AS ts
RETURN collect(ts) AS baskets
""",
}
# Given weighted topic pairs, project them into GDS and cluster them with Louvain; the caller
# drops the projection $name afterwards.
GDS_LOUVAIN = """
UNWIND $edges AS e
MATCH (a:Topic {id: e.a})
MATCH (b:Topic {id: e.b})
WITH gds.graph.project($name, a, b, {relationshipProperties: {weight: toFloat(e.w)}},
                       {undirectedRelationshipTypes: ['*']}) AS projection
CALL gds.louvain.stream(projection.graphName, {relationshipWeightProperty: 'weight', concurrency: 1})
  YIELD nodeId, communityId
RETURN collect(gds.util.asNode(nodeId).id) AS ids, collect(communityId) AS communities
"""
GDS_VERSION = "RETURN gds.version() AS version"
GDS_DROP = "CALL gds.graph.drop($name, false) YIELD graphName RETURN graphName"
WRITE_COMMUNITIES = """
MATCH (t:Topic) WHERE t.source = $source AND ($level IS NULL OR t.level = $level) AND properties(t).community IS NOT NULL
REMOVE t.community, t.community_algorithm, t.community_at
WITH count(*) AS cleared
UNWIND $rows AS row
MATCH (t:Topic {id: row.id})
SET t.community = row.community, t.community_algorithm = $algorithm, t.community_at = $now
RETURN count(t) AS n
"""


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _read(g: Graph, query: LiteralString, **params: Any) -> list[dict[str, Any]]:
    """A read without "unknown label/property" notifications: before the first discovery run the
    labels, types and properties these queries name do not exist yet, which is not worth a warning."""
    try:
        with g.driver.session(database=g.database, notifications_disabled_classifications=QUIET) as s:
            return s.execute_read(lambda tx: [r.data() for r in tx.run(query, params)])
    except ClientError as e:
        raise GraphError(f"query failed: {e.message}") from e
    except (ServiceUnavailable, SessionExpired, OSError) as e:
        raise GraphError(f"Neo4j is unreachable at {g.uri}: {e}") from e


def _autocommit(g: Graph, query: LiteralString, **params: Any) -> None:
    """An auto-commit query (needed for CALL ... IN TRANSACTIONS)."""
    try:
        with g.driver.session(database=g.database) as s:
            s.run(query, params).consume()
    except ClientError as e:
        raise GraphError(f"query failed: {e.message}") from e
    except (ServiceUnavailable, SessionExpired, OSError) as e:
        raise GraphError(f"Neo4j is unreachable at {g.uri}: {e}") from e


# ---------------------------------------------------------------- reading content
@dataclass
class ContentTable:
    """Every content item in id order: texts and the requested embeddings (rows of a missing
    embedding are zeros and False in ``present``)."""

    ids: list[str]
    texts: list[str]
    embeddings: dict[str, np.ndarray] = field(default_factory=dict)
    present: dict[str, np.ndarray] = field(default_factory=dict)


def read_content(g: Graph, props: tuple[str, ...] = (), *, page: int = READ_PAGE,
                 progress: bool = True) -> ContentTable:
    """Ids, ``title + text`` and the embedding properties ``props`` of all content, page by page."""
    bad = [p for p in props if p not in EMBEDDING_PROPS]
    if bad:
        raise ValueError(f"unknown embedding property {bad[0]!r}; known: {', '.join(EMBEDDING_PROPS)}")
    total = g.read(COUNT_CONTENT)[0]["n"]
    ids: list[str] = []
    texts: list[str] = []
    rows: dict[str, list[list[float]]] = {p: [] for p in props}
    with tqdm(total=total, desc="read content", unit="item", disable=not progress, leave=False) as bar:
        after = ""
        while True:
            rec = g.read(READ_CONTENT, after=after, limit=page, props=list(props))[0]
            if not rec["ids"]:
                break
            ids += rec["ids"]
            texts += rec["texts"]
            for p, vectors in zip(props, rec["embeddings"]):
                rows[p] += vectors
            after = rec["ids"][-1]
            bar.update(len(rec["ids"]))
    table = ContentTable(ids, texts)
    for p in props:
        present = np.array([len(v) > 0 for v in rows[p]], dtype=bool)
        dims = {len(v) for v in rows[p] if v}
        if len(dims) > 1:
            raise GraphError(f"Content.{p} has mixed dimensions {sorted(dims)}")
        dim = dims.pop() if dims else 0
        matrix = np.zeros((len(ids), dim), dtype=np.float32)
        if present.any():
            matrix[present] = np.asarray([v for v in rows[p] if v], dtype=np.float32)
        table.embeddings[p], table.present[p] = matrix, present
    return table


# ---------------------------------------------------------------- writing a run
@dataclass
class TopicRows:
    """A discovery run as plain rows. ``topics``: {id, name, level, size, terms, parent (id or None)};
    ``has_topic``: {content, topic, weight}; ``representatives``: {content, topic, rank}."""

    run_id: str
    method: str
    params: dict[str, Any]
    topics: list[dict[str, Any]]
    has_topic: list[dict[str, Any]]
    representatives: list[dict[str, Any]]

    def __post_init__(self) -> None:
        ids = [t["id"] for t in self.topics]
        if len(set(ids)) != len(ids):
            raise ValueError(f"run {self.run_id}: duplicate topic ids")
        known = set(ids)
        for what, rows in (("parent", [{"topic": t["parent"]} for t in self.topics if t.get("parent")]),
                           ("has_topic", self.has_topic), ("representatives", self.representatives)):
            unknown = [r["topic"] for r in rows if r["topic"] not in known]
            if unknown:
                raise ValueError(f"run {self.run_id}: {what} names unknown topic {unknown[0]!r}")


@dataclass
class SwapResult:
    run_id: str
    topics: int = 0
    has_topic: int = 0
    representatives: int = 0
    previous: list[str] = field(default_factory=list)
    swept: list[str] = field(default_factory=list)


def sweep(g: Graph) -> list[str]:
    """Delete staged topics of interrupted runs and retired topics not yet deleted; returns the
    runs marked failed or retired."""
    swept = g.run_write(lambda tx: tx.run(SWEEP_RUNS, writing=WRITING, ready=READY, failed=FAILED,
                                          retired=RETIRED_STATE, now=_now()).single()["swept"])
    for label in (STAGED, RETIRED):
        _autocommit(g, DELETE_RELS[label], batch=DELETE_BATCH)
        _autocommit(g, DELETE_NODES[label], batch=DELETE_BATCH)
    return list(swept)


def begin_run(g: Graph, rows: TopicRows) -> None:
    props = {"method": rows.method, "params": json.dumps(rows.params, sort_keys=True, default=str)}
    g.run_write(lambda tx: tx.run(BEGIN_RUN, run_id=rows.run_id, props=props, writing=WRITING, now=_now()).consume())


def create_topics(g: Graph, rows: TopicRows) -> dict[str, str]:
    """CREATE the staged topic nodes and their SUBTOPIC_OF links; topic id → element id."""
    topic_rows = [{k: t[k] for k in ("id", "name", "level", "size", "terms")} for t in rows.topics]

    def work(tx) -> dict[str, str]:
        rec = tx.run(CREATE_TOPICS, rows=topic_rows, method=rows.method, run_id=rows.run_id, now=_now()).single()
        eids = dict(zip(rec["ids"], rec["eids"]))
        links = [{"child": eids[t["id"]], "parent": eids[t["parent"]]} for t in rows.topics if t.get("parent")]
        tx.run(CREATE_SUBTOPIC_OF, rows=links).consume()
        return eids

    return g.run_write(work)


def create_links(g: Graph, query: LiteralString, links: list[dict[str, Any]], eids: dict[str, str],
                 run_id: str, what: str, progress: bool = True) -> int:
    """CREATE content → staged topic relationships in batches; returns how many were created."""
    created = 0
    with tqdm(total=len(links), desc=what, unit="rel", disable=not progress or len(links) < WRITE_BATCH,
              leave=False) as bar:
        for batch in batched(links, WRITE_BATCH):
            payload = [{**r, "topic": eids[r["topic"]]} for r in batch]
            counters = g.run_write(lambda tx, b=payload: tx.run(query, rows=b, run_id=run_id).consume().counters)
            created += counters.relationships_created
            bar.update(len(batch))
    return created


def finish_run(g: Graph, rows: TopicRows, assignments: int) -> None:
    def work(tx) -> None:
        if tx.run(FINISH_RUN, run_id=rows.run_id, writing=WRITING, ready=READY, topics=len(rows.topics),
                  assignments=assignments, now=_now()).single() is None:
            raise GraphError(f"discovery run {rows.run_id} is no longer being written (swept by another run?)")
    g.run_write(work)


def flip(g: Graph, run_id: str) -> list[str]:
    """The atomic swap: retire the current discovered topics, publish the new ones, move ``active``."""
    def work(tx) -> list[str]:
        rec = tx.run(FLIP_RUN, run_id=run_id, ready=READY, now=_now()).single()
        if rec is None:
            raise GraphError(f"discovery run {run_id} is not ready to activate")
        retired = tx.run(RETIRE_TOPICS, run_id=run_id).single()["n"]
        published = tx.run(PUBLISH_TOPICS, run_id=run_id).single()["n"]
        logger.info("discovery run %s: %d topics published, %d retired", run_id, published, retired)
        return list(rec["previous"])
    return g.run_write(work)


def retire(g: Graph, previous: list[str]) -> None:
    """Delete retired topics (relationships first, in batches) and mark their runs retired."""
    _autocommit(g, DELETE_RELS[RETIRED], batch=DELETE_BATCH)
    _autocommit(g, DELETE_NODES[RETIRED], batch=DELETE_BATCH)
    g.run_write(lambda tx: tx.run(RETIRE_RUNS, ids=previous, retired=RETIRED_STATE, now=_now()).consume())


def write_run(g: Graph, rows: TopicRows, *, progress: bool = True) -> SwapResult:
    """Write a discovery run and make it the visible one (steps 1-4 of the module docstring)."""
    result = SwapResult(rows.run_id, swept=sweep(g))
    begin_run(g, rows)
    eids = create_topics(g, rows)
    result.topics = len(eids)
    result.has_topic = create_links(g, CREATE_HAS_TOPIC, rows.has_topic, eids, rows.run_id, "HAS_TOPIC", progress)
    result.representatives = create_links(g, CREATE_REPRESENTATIVES, rows.representatives, eids, rows.run_id,
                                          REPRESENTATIVE_OF, progress)
    finish_run(g, rows, result.has_topic)
    result.previous = flip(g, rows.run_id)
    retire(g, result.previous)
    return result


def new_run_id() -> str:
    return f"{_now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


# ---------------------------------------------------------------- reading discovered topics
def active_run(g: Graph) -> dict[str, Any] | None:
    rows = _read(g, ACTIVE_RUN)
    return rows[0]["run"] if rows else None


def list_runs(g: Graph) -> list[dict[str, Any]]:
    return [r["run"] for r in _read(g, LIST_RUNS)]


def list_topics(g: Graph) -> list[dict[str, Any]]:
    """The visible discovered topics, parents first, each with its representative items' titles."""
    return _read(g, LIST_TOPICS)


def content_topics(g: Graph) -> dict[str, list]:
    """Per content item with a discovered leaf topic: its primary topic, parent and community."""
    return _read(g, CONTENT_TOPICS)[0]


# ---------------------------------------------------------------- communities
def gds_version(g: Graph) -> str | None:
    """The GDS plugin's version, or None when the server does not have it."""
    try:
        return str(g.read(GDS_VERSION)[0]["version"])
    except GraphError:
        return None


def topic_scope(g: Graph, source: str, level: int | None) -> list[str]:
    """Ids of the topics (with content) that communities are computed over."""
    return list(_read(g, TOPIC_SCOPE, source=source, level=level)[0]["ids"])


def baskets(g: Graph, source: str, level: int | None, via: str) -> list[list[str]]:
    """Topic ids per content item (``via='content'``) or per user's interacted content (``'users'``)."""
    if via not in VIA:
        raise ValueError(f"via must be one of {', '.join(VIA)}, got {via!r}")
    return list(_read(g, BASKETS[via], source=source, level=level)[0]["baskets"])


def gds_louvain(g: Graph, edges: list[tuple[str, str, float]]) -> dict[str, int]:
    """Louvain (GDS) on weighted topic pairs: topic id → GDS community id. The in-memory
    projection is always dropped afterwards."""
    if not edges:
        return {}
    name = f"ikg-topic-communities-{uuid.uuid4().hex}"
    rows = [{"a": a, "b": b, "w": float(w)} for a, b, w in edges]
    try:
        rec = g.read(GDS_LOUVAIN, name=name, edges=rows)[0]
    finally:
        try:
            g.read(GDS_DROP, name=name)
        except GraphError as e:
            logger.warning("could not drop GDS projection %s: %s", name, e)
    return dict(zip(rec["ids"], (int(c) for c in rec["communities"])))


def write_communities(g: Graph, source: str, level: int | None, assignment: dict[str, int], algorithm: str) -> int:
    """Replace ``community`` on the scoped topics in one transaction; returns topics written."""
    rows = [{"id": k, "community": int(v)} for k, v in sorted(assignment.items())]
    return g.run_write(lambda tx: tx.run(WRITE_COMMUNITIES, source=source, level=level, rows=rows,
                                         algorithm=algorithm, now=_now()).single()["n"])

