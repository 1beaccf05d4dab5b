"""What users tell us directly: feedback events (on content or a topic) and declared interests.

Feedback on content is an INTERACTED event of a feedback kind (``graph.events``: same validation and
MERGE, negative weight). Feedback on a topic is ``(:User)-[:FEEDBACK {kind, ts, weight}]->(:Topic)``.
Both are identified by (user, target, kind, ts), so every event is kept (the audit trail); only the
very same event recorded twice lands on one relationship.

Declared interests are ``(:User)-[:INTERESTED_IN {source: 'declared', score, updated_at}]->(:Topic)``
without a ``run_id``: model write-back creates and deletes only run-tagged edges, so it never touches
them. ``REPLACE_DECLARED`` replaces each given user's whole declared set (API PUT and ingest alike).
"""
from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from graph.db import Graph
from graph.errors import InputError
from graph.events import FeedbackConfig, UnknownEntityError, interaction_row, parse_ts_ms, require_id, \
    write_rows
from graph.model import FEEDBACK_KINDS, TOPIC_FEEDBACK_KINDS

MAX_DECLARED = 100  # topics in one declared set

# What each kind does before any retraining (docs and API responses).
CONTENT_EFFECTS = {
    "dislike": "never recommended to this user again; lowers the decayed interest in its topics",
    "hide": "never recommended to this user again; lowers the decayed interest in its topics",
    "not_interested": "never recommended to this user again; lowers the decayed interest in its topics",
    "skip": "weak negative: demoted in recommendations, slightly lowers the decayed interest in its topics",
}
TOPIC_EFFECT = "removed from the user's interests; its content is demoted in their recommendations"

EXISTING_USER_TOPICS = """
OPTIONAL MATCH (u:User {id: $user})
OPTIONAL MATCH (t:Topic) WHERE t.id IN $topics
RETURN u IS NOT NULL AS user, collect(t.id) AS topics
"""
MERGE_TOPIC_FEEDBACK = """
MATCH (u:User {id: $user}), (t:Topic {id: $topic})
MERGE (u)-[f:FEEDBACK {kind: $kind, ts: datetime({epochMillis: $ts})}]->(t)
SET f.weight = $weight
"""
REPLACE_DECLARED = """
UNWIND $rows AS row
MATCH (u:User {id: row.user})
CALL (u, row) {
  MATCH (u)-[old:INTERESTED_IN {source: 'declared'}]->(t:Topic)
  WHERE NOT t.id IN [x IN row.topics | x.topic]
  DELETE old
}
CALL (u, row) {
  UNWIND row.topics AS x
  MATCH (t:Topic {id: x.topic})
  MERGE (u)-[d:INTERESTED_IN {source: 'declared'}]->(t)
  SET d.score = x.weight, d.updated_at = datetime()
}
"""
GET_DECLARED = """
MATCH (u:User {id: $user})
RETURN COLLECT {
  MATCH (u)-[d:INTERESTED_IN {source: 'declared'}]->(t:Topic)
  RETURN {topic: t.id, name: t.name, weight: d.score, updated_at: toString(d.updated_at)} ORDER BY t.id
} AS items
"""


def _now_ms() -> int:
    return round(time.time() * 1000)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def _check_user_topics(tx, user: str, topics: Sequence[str]) -> None:
    found = tx.run(EXISTING_USER_TOPICS, user=user, topics=list(topics)).single()
    if not found["user"]:
        raise UnknownEntityError(f"unknown user(s): {user}", kind="user", ids=[user])
    missing = sorted(set(topics) - set(found["topics"]))
    if missing:
        raise UnknownEntityError(f"unknown topic(s): {', '.join(missing[:10])}", kind="topic", ids=missing)


def record_feedback(g: Graph, user: Any, kind: Any, *, content: Any = None, topic: Any = None, ts: Any = None,
                    cfg: FeedbackConfig = FeedbackConfig()) -> dict[str, Any]:
    """Record one feedback event on a content item or a topic (``ts`` default: now); returns it.

    Raises InputError (bad field; ``skip`` applies to content only), UnknownEntityError (unknown ids).
    """
    if (content is None) == (topic is None):
        raise InputError("give exactly one of content and topic", field="content")
    kind_s = str(kind).strip().lower() if isinstance(kind, str) else kind
    if kind_s not in FEEDBACK_KINDS:
        raise InputError(f"kind must be one of {', '.join(FEEDBACK_KINDS)} (got {kind!r})", field="kind", value=kind)
    ts = _now_ms() / 1000 if ts is None else ts
    if content is not None:
        row = interaction_row(user, content, kind_s, ts, feedback=cfg.weights)
        created = write_rows(g, [row]) == 1
        return {"user": row["user"], "content": row["content"], "kind": kind_s, "ts": _iso(row["ts"]),
                "weight": row["weight"], "created": created, "effect": CONTENT_EFFECTS[kind_s]}
    if kind_s not in TOPIC_FEEDBACK_KINDS:
        raise InputError(f"kind {kind_s!r} applies to content only; on a topic use "
                         f"{', '.join(TOPIC_FEEDBACK_KINDS)}", field="kind", value=kind)
    try:
        user_id, topic_id = require_id(user, "user"), require_id(topic, "topic")
    except ValueError as e:
        raise InputError(str(e), field="topic" if "topic" in str(e) else "user") from None
    try:
        ts_ms = parse_ts_ms(ts)
    except ValueError as e:
        raise InputError(f"{e} (got {ts!r})", field="ts", value=ts) from None
    weight = cfg.weights[kind_s]

    def work(tx) -> int:
        _check_user_topics(tx, user_id, [topic_id])
        return tx.run(MERGE_TOPIC_FEEDBACK, user=user_id, topic=topic_id, kind=kind_s, ts=ts_ms,
                      weight=weight).consume().counters.relationships_created

    created = g.run_write(work) == 1
    return {"user": user_id, "topic": topic_id, "kind": kind_s, "ts": _iso(ts_ms), "weight": weight,
            "created": created, "effect": TOPIC_EFFECT}


def declared_rows(topics: Any, *, where: str = "topics") -> list[dict[str, Any]]:
    """Validate a declared set (topic ids, or ``{topic, weight}`` objects; weight default 1, > 0).

    Raises InputError naming the index of the first bad entry."""
    if not isinstance(topics, list):
        raise InputError(f"{where} must be a list", field=where, value=topics)
    if len(topics) > MAX_DECLARED:
        raise InputError(f"{where}: at most {MAX_DECLARED} topics", field=where)
    rows: dict[str, float] = {}
    for i, item in enumerate(topics):
        entry = {"topic": item} if isinstance(item, str) else item
        if not isinstance(entry, Mapping) or set(entry) - {"topic", "weight"} or "topic" not in entry:
            raise InputError(f"{where}[{i}] must be a topic id or an object with topic and optional weight",
                             field=f"{where}[{i}]", value=item)
        try:
            tid = require_id(entry["topic"], "topic") if isinstance(entry["topic"], str) else None
        except ValueError as e:
            raise InputError(f"{where}[{i}]: {e}", field=f"{where}[{i}]", value=item) from None
        if tid is None:
            raise InputError(f"{where}[{i}].topic must be a string", field=f"{where}[{i}]", value=item)
        weight = entry.get("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) \
                or weight <= 0:
            raise InputError(f"{where}[{i}].weight must be a positive number (got {weight!r})",
                             field=f"{where}[{i}].weight", value=weight)
        if tid in rows:
            raise InputError(f"{where}[{i}]: topic {tid!r} is listed twice", field=f"{where}[{i}]", value=tid)
        rows[tid] = float(weight)
    return [{"topic": t, "weight": w} for t, w in rows.items()]


def replace_declared(g: Graph, user: str, topics: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Replace the user's declared interests with ``topics`` (rows of ``declared_rows``) in one
    transaction; returns the stored set. UnknownEntityError for an unknown user or topic."""
    def work(tx) -> None:
        _check_user_topics(tx, user, [t["topic"] for t in topics])
        tx.run(REPLACE_DECLARED, rows=[{"user": user, "topics": list(topics)}]).consume()

    g.run_write(work)
    return declared(g, user) or []


def declared(g: Graph, user: str) -> list[dict[str, Any]] | None:
    """The user's declared interests by topic id; None for an unknown user."""
    rows = g.read(GET_DECLARED, user=user)
    return rows[0]["items"] if rows else None
