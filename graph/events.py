"""Interaction events: validation, default weights and the one MERGE every writer uses.

Batch ingestion (``ingestion.pipeline``) and the real-time path (``POST /v1/events`` via
``record_event``) share the validation, the default weights and ``MERGE_INTERACTIONS``, so an
event recorded twice, or first in real time and then again in a batch file, ends up as the same
relationship: an interaction is identified by (user, content, kind, ts), and ``weight``/``rating``
are overwritten. (Batch ingestion CREATEs the rows it has just checked are not stored yet and
MERGEs the others; see ``ingestion.queries.CREATE_INTERACTIONS`` for why.)

Explicit feedback on content (``dislike``, ``hide``, ``not_interested``, ``skip``) is an interaction
of a feedback kind with a negative weight (``FEEDBACK_WEIGHTS``, overridable by ``FeedbackConfig``).
"""
from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from graph.db import Graph
from graph.errors import ConfigError, GraphError, InputError
from graph.model import EVENT_KINDS, FEEDBACK_KINDS

RATING_MIN, RATING_MAX = 0.0, 5.0
# Default weight per kind when the event carries none; ``rate`` maps the rating onto [-1, 1]
# (see ``default_weight``), so 1-2 star ratings are dislikes (negative weight).
KIND_WEIGHTS = {"view": 0.3, "click": 0.5, "like": 1.0, "rate": 1.0, "share": 0.8, "comment": 0.7}
# Default negative weight per feedback kind: lowers the decayed interest in the item's topics.
FEEDBACK_WEIGHTS = {"dislike": -1.0, "hide": -0.5, "not_interested": -0.5, "skip": -0.1}
# A demoted recommendation (a topic the user is not interested in, or a skipped item) ranks as if it
# were 1/DEMOTE_FACTOR times further down the candidate list (graph.coldstart.demote).
DEMOTE_FACTOR = 0.25
MAX_ID_LEN = 512
MAX_BATCH_EVENTS = 10_000
# Epoch milliseconds accepted for ``ts``: 1970-01-01 .. 2200-01-01.
TS_MIN_MS, TS_MAX_MS = 0, 7_258_118_400_000

MERGE_INTERACTIONS = """
UNWIND $rows AS row
MATCH (u:User {id: row.user})
MATCH (c:Content {id: row.content})
MERGE (u)-[r:INTERACTED {kind: row.kind, ts: datetime({epochMillis: row.ts})}]->(c)
SET r.weight = row.weight, r.rating = row.rating
"""

# Which of the referenced users / content exist (checked in the same transaction as the write).
EXISTING_ENDPOINTS = """
OPTIONAL MATCH (u:User) WHERE u.id IN $users
WITH collect(u.id) AS users
OPTIONAL MATCH (c:Content) WHERE c.id IN $contents
RETURN users, collect(c.id) AS contents
"""


@dataclass(frozen=True)
class FeedbackConfig:
    """Negative weight per feedback kind and the demotion factor of recommendations."""

    weights: Mapping[str, float] = field(default_factory=lambda: dict(FEEDBACK_WEIGHTS))
    demote_factor: float = DEMOTE_FACTOR

    def __post_init__(self) -> None:
        unknown = sorted(set(self.weights) - set(FEEDBACK_KINDS))
        if unknown:
            raise ConfigError(f"unknown feedback kind(s) {unknown}; valid: {', '.join(FEEDBACK_KINDS)}")
        merged = {**FEEDBACK_WEIGHTS, **self.weights}
        for kind, w in merged.items():
            if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w >= 0:
                raise ConfigError(f"feedback weight of {kind!r} must be a negative number, got {w!r}")
        object.__setattr__(self, "weights", {k: float(v) for k, v in merged.items()})
        if not 0 < self.demote_factor <= 1:
            raise ConfigError(f"demote_factor must be in (0, 1], got {self.demote_factor!r}")

    @classmethod
    def from_env(cls, **overrides) -> "FeedbackConfig":
        """``IKG_FEEDBACK_WEIGHTS`` (e.g. ``dislike=-2,skip=-0.05``; others keep their default) and
        ``IKG_FEEDBACK_DEMOTE``; overrides win."""
        kwargs: dict = {}
        text = os.environ.get("IKG_FEEDBACK_WEIGHTS", "").strip()
        try:
            if text:
                pairs = [p.split("=", 1) for p in text.split(",") if p.strip()]
                if any(len(p) != 2 for p in pairs):
                    raise ValueError(f"expected kind=weight pairs, got {text!r}")
                kwargs["weights"] = {k.strip(): float(v) for k, v in pairs}
            if os.environ.get("IKG_FEEDBACK_DEMOTE"):
                kwargs["demote_factor"] = float(os.environ["IKG_FEEDBACK_DEMOTE"])
        except ValueError as e:
            raise ConfigError(f"invalid IKG_FEEDBACK_* setting: {e}") from e
        kwargs.update(overrides)
        return cls(**kwargs)


class UnknownEntityError(GraphError, LookupError):
    """An event names a user or content item that is not in the graph (HTTP 404)."""

    def __init__(self, message: str, *, kind: str, ids: list[str]):
        super().__init__(message)
        self.kind, self.ids = kind, ids


def default_weight(kind: str, rating: float | None, feedback: Mapping[str, float] | None = None) -> float:
    """The weight of an event without an explicit one: per kind (feedback kinds from ``feedback``,
    default ``FEEDBACK_WEIGHTS``); for ``rate`` (rating-2.5)/2.5."""
    if kind == "rate" and rating is not None:
        return round((rating - 2.5) / 2.5, 6)
    if kind in FEEDBACK_KINDS:
        return (feedback or FEEDBACK_WEIGHTS)[kind]
    return KIND_WEIGHTS[kind]


def parse_ts_ms(value: Any) -> int:
    """ISO-8601 string (no zone means UTC), datetime, or epoch seconds → epoch milliseconds.

    Raises ValueError with a short reason.
    """
    if isinstance(value, bool) or value is None or value == "":
        raise ValueError("timestamp is required")
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise ValueError("timestamp is not finite")
        ms = round(float(value) * 1000)
        return _check_ms(ms)
    elif isinstance(value, str):
        text = value.strip()
        try:
            return _check_ms(round(float(text) * 1000))
        except ValueError as e:
            if "out of range" in str(e):
                raise
        try:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise ValueError("not an ISO-8601 timestamp or epoch seconds") from None
    else:
        raise ValueError(f"unsupported timestamp type {type(value).__name__}")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return _check_ms(round(dt.timestamp() * 1000))


def _check_ms(ms: int) -> int:
    if not TS_MIN_MS <= ms <= TS_MAX_MS:
        raise ValueError("timestamp out of range (1970..2200)")
    return ms


def _finite(value: Any, field: str) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"{field} must be a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{field} must be a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{field} must be a finite number")
    return number


def require_id(value: Any, field: str) -> str:
    """A stripped, non-empty id of at most MAX_ID_LEN characters; ValueError otherwise."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        raise ValueError(f"{field} is required")
    text = str(value).strip()
    if not text:
        raise ValueError(f"{field} is required")
    if len(text) > MAX_ID_LEN:
        raise ValueError(f"{field} is longer than {MAX_ID_LEN} characters")
    return text


def interaction_row(user: Any, content: Any, kind: Any, ts: Any, rating: Any = None,
                    weight: Any = None, feedback: Mapping[str, float] | None = None) -> dict[str, Any]:
    """Validate one event and return the parameter row of ``MERGE_INTERACTIONS``; a feedback kind's
    weight must be negative (default from ``feedback``, else ``FEEDBACK_WEIGHTS``).

    Raises InputError naming the field and value.
    """
    values = {"user": user, "content": content, "kind": kind, "ts": ts, "rating": rating, "weight": weight}
    field = "user"
    try:
        user_id = require_id(user, "user")
        field = "content"
        content_id = require_id(content, "content")
        field = "kind"
        kind_s = str(kind).strip().lower() if kind is not None else ""
        if kind_s not in EVENT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(EVENT_KINDS)}")
        field = "ts"
        ts_ms = parse_ts_ms(ts)
        field = "rating"
        rating_f = _finite(rating, "rating")
        if rating_f is not None and not RATING_MIN <= rating_f <= RATING_MAX:
            raise ValueError(f"rating must be in [{RATING_MIN:g}, {RATING_MAX:g}]")
        field = "weight"
        weight_f = _finite(weight, "weight")
        if weight_f is not None and kind_s in FEEDBACK_KINDS and weight_f >= 0:
            raise ValueError(f"weight of a {kind_s!r} event must be negative")
    except ValueError as e:
        raise InputError(f"{e} (got {values[field]!r})", field=field, value=values[field]) from None
    return {"user": user_id, "content": content_id, "kind": kind_s, "ts": ts_ms, "rating": rating_f,
            "weight": default_weight(kind_s, rating_f, feedback) if weight_f is None else weight_f}


def _as_result(row: Mapping[str, Any]) -> dict[str, Any]:
    ts = datetime.fromtimestamp(row["ts"] / 1000, tz=timezone.utc)
    return {"user": row["user"], "content": row["content"], "kind": row["kind"],
            "ts": ts.isoformat().replace("+00:00", "Z"), "rating": row["rating"], "weight": row["weight"]}


def write_rows(g: Graph, rows: list[dict[str, Any]]) -> int:
    """Write validated rows in one transaction after checking their endpoints; relationships created."""
    users = sorted({r["user"] for r in rows})
    contents = sorted({r["content"] for r in rows})

    def work(tx) -> int:
        found = tx.run(EXISTING_ENDPOINTS, users=users, contents=contents).single()
        missing_users = sorted(set(users) - set(found["users"]))
        missing_contents = sorted(set(contents) - set(found["contents"]))
        if missing_users:
            raise UnknownEntityError(f"unknown user(s): {', '.join(missing_users[:10])}",
                                     kind="user", ids=missing_users)
        if missing_contents:
            raise UnknownEntityError(f"unknown content: {', '.join(missing_contents[:10])}",
                                     kind="content", ids=missing_contents)
        return tx.run(MERGE_INTERACTIONS, rows=rows).consume().counters.relationships_created

    return g.run_write(work)


def record_event(g: Graph, user_id: Any, content_id: Any, kind: Any, ts: Any,
                 rating: Any = None, weight: Any = None) -> dict[str, Any]:
    """Record one interaction in one small transaction; returns the stored event.

    ``created`` is False when the same (user, content, kind, ts) was already recorded.
    Raises InputError for invalid input, UnknownEntityError (a GraphError and LookupError)
    for an unknown user or content item.
    """
    row = interaction_row(user_id, content_id, kind, ts, rating, weight)
    created = write_rows(g, [row])
    return {**_as_result(row), "created": created == 1}


def record_events(g: Graph, events: Iterable[Mapping[str, Any]],
                  feedback: Mapping[str, float] | None = None) -> dict[str, Any]:
    """Record a batch of events (mappings with user, content, kind, ts, rating?, weight?) in one
    transaction: all or nothing; feedback kinds without a weight take theirs from ``feedback``.
    InputError names the index of the first invalid event."""
    rows = []
    for i, event in enumerate(events):
        if not isinstance(event, Mapping):
            raise InputError(f"event {i} is not an object", value=event)
        unknown = set(event) - {"user", "content", "kind", "ts", "rating", "weight"}
        if unknown:
            raise InputError(f"event {i} has unknown field(s) {sorted(unknown)}", value=event)
        try:
            rows.append(interaction_row(event.get("user"), event.get("content"), event.get("kind"),
                                        event.get("ts"), event.get("rating"), event.get("weight"),
                                        feedback))
        except InputError as e:
            raise InputError(f"event {i}: {e.reason}", field=e.field, value=e.value) from None
        if len(rows) > MAX_BATCH_EVENTS:
            raise InputError(f"at most {MAX_BATCH_EVENTS} events per batch")
    if not rows:
        raise InputError("no events given")
    created = write_rows(g, rows)
    return {"events": len(rows), "created": created, "existing": len(rows) - created}
