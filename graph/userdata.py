"""Per-user data control: export everything stored about a user, and delete it in one transaction.

Deletion removes the User node with every relationship attached to it, whatever its type
(interactions, follows both ways, declared and model interests, MAY_LIKE, feedback, …), its
embeddings (and so their vector-index entries), and user-owned records elsewhere: nodes or
relationships whose ``user`` property (``OWNER_KEY``) is the id. The deletion ledger
(``graph.deletions``) then marks older snapshots stale for that user. Deleting an unknown (or already deleted) user is a
no-op that reports ``deleted: false``.
"""
from __future__ import annotations

import logging
from typing import Any, LiteralString

import neo4j

from graph.db import Graph
from graph.deletions import record_deletion

logger = logging.getLogger(__name__)

EMBEDDING_PREFIX = "emb_"
OWNER_KEY = "user"   # a record elsewhere whose property of this name is the user's id belongs to the user

USER_NODE = "MATCH (u:User {id: $id}) RETURN properties(u) AS props"
USER_RELATIONSHIPS = """
MATCH (u:User {id: $id})-[r]-(n)
RETURN type(r) AS type, startNode(r) = u AS outgoing, labels(n) AS labels, n.id AS id,
       coalesce(n.name, n.title) AS name, properties(r) AS props
ORDER BY type, id, elementId(r)
"""
# Records that name the user without being attached to it (e.g. an audit node keyed by user id). They
# need full scans, so they are looked for only when the database has ever had an OWNER_KEY property.
HAS_OWNER_KEY = "CALL db.propertyKeys() YIELD propertyKey WHERE propertyKey = $key RETURN count(*) > 0 AS found"
OWNED_RECORDS = """
CALL () {
  MATCH (n) WHERE n[$key] = $id AND NOT n:User
  RETURN 'node' AS kind, labels(n) AS labels, properties(n) AS props
  UNION ALL
  MATCH (a)-[r]->(b) WHERE r[$key] = $id AND NOT (a:User AND a.id = $id) AND NOT (b:User AND b.id = $id)
  RETURN 'relationship' AS kind, [type(r)] AS labels, properties(r) AS props
}
RETURN kind, labels, props
"""
COUNT_RELATIONSHIPS = """
MATCH (u:User {id: $id})
RETURN COLLECT { MATCH (u)-[r]-() WITH type(r) AS type, count(r) AS n RETURN {type: type, n: n} } AS rels
"""
DELETE_OWNED_RELATIONSHIPS = """
MATCH (a)-[r]->(b) WHERE r[$key] = $id AND NOT (a:User AND a.id = $id) AND NOT (b:User AND b.id = $id)
DELETE r RETURN count(r) AS n
"""
DELETE_OWNED_NODES = "MATCH (n) WHERE n[$key] = $id AND NOT n:User DETACH DELETE n RETURN count(n) AS n"
DELETE_USER = "MATCH (u:User {id: $id}) DETACH DELETE u RETURN count(u) AS n"


def _plain(value: Any) -> Any:
    """Neo4j temporal values as ISO strings; everything else as is (lists element-wise)."""
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if hasattr(value, "iso_format"):
        return value.iso_format()
    return value


def _props(props: dict[str, Any], embeddings: bool) -> dict[str, Any]:
    out = {}
    for key in sorted(props):
        value = props[key]
        if not embeddings and key.startswith(EMBEDDING_PREFIX) and isinstance(value, list):
            out[key] = {"omitted": "embedding", "dim": len(value)}
            continue
        out[key] = _plain(value)
    return out


def _owned(tx: neo4j.ManagedTransaction, query: LiteralString, user_id: str) -> list[dict[str, Any]]:
    """Rows of an OWNER_KEY query, or none without running it when no such property key exists."""
    if not tx.run(HAS_OWNER_KEY, key=OWNER_KEY).single()["found"]:
        return []
    return tx.run(query, id=user_id, key=OWNER_KEY).data()


def export_user(g: Graph, user_id: str, *, embeddings: bool = False) -> dict[str, Any] | None:
    """Everything stored about the user (one read transaction); None for an unknown user.

    Embedding vectors are replaced by ``{omitted, dim}`` unless ``embeddings``."""
    def work(tx: neo4j.ManagedTransaction) -> dict[str, Any] | None:
        node = tx.run(USER_NODE, id=user_id).single()
        if node is None:
            return None
        relationships: dict[str, list[dict[str, Any]]] = {}
        for row in tx.run(USER_RELATIONSHIPS, id=user_id):
            relationships.setdefault(row["type"], []).append({
                "direction": "out" if row["outgoing"] else "in",
                "node": {"label": row["labels"][0] if row["labels"] else None, "id": row["id"],
                         "name": row["name"]},
                "properties": _props(row["props"], embeddings)})
        records = [{"kind": r["kind"], "labels": r["labels"], "properties": _props(r["props"], embeddings)}
                   for r in _owned(tx, OWNED_RECORDS, user_id)]
        return {"user": user_id, "properties": _props(node["props"], embeddings),
                "relationships": relationships,
                "counts": {t: len(v) for t, v in relationships.items()},
                "records": records}

    return g.run_read(work)


def delete_user(g: Graph, user_id: str, *, ledger: bool = True) -> dict[str, Any]:
    """Delete the user and everything derived from them in one write transaction, then append the
    ledger entry. Returns ``{user, deleted, relationships: {type: n}, records}``; ``deleted`` is False
    (and nothing changes) when no such user exists."""
    def work(tx: neo4j.ManagedTransaction) -> dict[str, Any]:
        row = tx.run(COUNT_RELATIONSHIPS, id=user_id).single()
        if row is None:
            return {"user": user_id, "deleted": False, "relationships": {}, "records": 0}
        rels = {r["type"]: r["n"] for r in row["rels"]}
        records = sum(r["n"] for q in (DELETE_OWNED_RELATIONSHIPS, DELETE_OWNED_NODES) for r in _owned(tx, q, user_id))
        tx.run(DELETE_USER, id=user_id).consume()
        return {"user": user_id, "deleted": True, "relationships": rels, "records": records}

    result = g.run_write(work)
    if result["deleted"]:
        if ledger:
            record_deletion(user_id)
        logger.info("deleted user (%d relationships, %d owned records)",
                    sum(result["relationships"].values()), result["records"])
    return result
