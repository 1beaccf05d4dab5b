"""POST /v1/events: validate interactions, record them through ``graph.events``, report what changed.

Decayed interests are computed at query time from INTERACTED edges, so once an event is recorded the
user's interests reflect it; the response shows each affected user's biggest interest changes.
"""
from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

from flask import Blueprint, request

from api.context import current_config, current_graph, requires
from api.errors import ApiProblem
from api.params import MAX_ID_LENGTH, known
from graph import read
from graph.model import INTERACTION_KINDS

bp = Blueprint("events", __name__, url_prefix="/v1")

FIELDS = ("user", "content", "kind", "ts", "rating", "weight")
CHANGES_SHOWN = 10
TOPICS_COMPARED = 1000
MIN_EPOCH = 0.0
MAX_EPOCH = 4102444800.0  # 2100-01-01


def _invalid(field: str, detail: str) -> ApiProblem:
    return ApiProblem(422, "invalid_event", f"{field}: {detail}", param=field)


def _id(item: dict[str, Any], name: str, where: str) -> str:
    value = item.get(name)
    if not isinstance(value, str) or not value or len(value) > MAX_ID_LENGTH or not value.isprintable():
        raise _invalid(f"{where}.{name}", f"must be a string of 1..{MAX_ID_LENGTH} printable characters")
    return value


def _number(item: dict[str, Any], name: str, where: str, lo: float, hi: float) -> float | None:
    value = item.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not lo <= value <= hi:
        raise _invalid(f"{where}.{name}", f"must be a number in {lo:g}..{hi:g}")
    return float(value)


def _timestamp(item: dict[str, Any], where: str) -> datetime:
    value = item.get("ts")
    field = f"{where}.ts"
    if isinstance(value, bool) or value is None:
        raise _invalid(field, "is required: ISO-8601 with a time zone, or epoch seconds")
    if isinstance(value, (int, float)):
        if not (math.isfinite(value) and MIN_EPOCH <= value <= MAX_EPOCH):
            raise _invalid(field, "epoch seconds out of range")
        return datetime.fromtimestamp(value, tz=timezone.utc)
    if not isinstance(value, str) or len(value) > 40:
        raise _invalid(field, "must be ISO-8601 with a time zone, or epoch seconds")
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _invalid(field, f"not an ISO-8601 timestamp: {value!r}") from None
    if ts.tzinfo is None:
        raise _invalid(field, "needs a time zone (e.g. 2026-01-05T10:00:00Z)")
    return ts.astimezone(timezone.utc)


def validate_event(item: Any, where: str) -> dict[str, Any]:
    """One event as ``record_event`` keyword arguments; ApiProblem 422 naming the bad field."""
    if not isinstance(item, dict):
        raise _invalid(where, "must be a JSON object")
    unknown = sorted(set(item) - set(FIELDS))
    if unknown:
        raise _invalid(f"{where}.{unknown[0]}", f"unknown field; events have {', '.join(FIELDS)}")
    kind = item.get("kind")
    if kind not in INTERACTION_KINDS:
        raise _invalid(f"{where}.kind", f"must be one of {', '.join(INTERACTION_KINDS)}")
    return {"user_id": _id(item, "user", where), "content_id": _id(item, "content", where), "kind": kind,
            "ts": _timestamp(item, where), "rating": _number(item, "rating", where, 0.0, 10.0),
            "weight": _number(item, "weight", where, 0.0, 100.0)}


def _events_from_body() -> tuple[list[dict[str, Any]], bool]:
    if not request.is_json:
        raise ApiProblem(415, "unsupported_media_type", "send application/json")
    body = request.get_json(silent=True)
    if body is None:
        raise ApiProblem(400, "invalid_json", "the body is not valid JSON", param="body")
    if isinstance(body, dict) and "events" in body:
        if set(body) != {"events"} or not isinstance(body["events"], list) or not body["events"]:
            raise _invalid("events", "must be a non-empty list (and the only field)")
        limit = current_config().max_batch_events
        if len(body["events"]) > limit:
            raise ApiProblem(413, "batch_too_large", f"events: at most {limit} per request", param="events")
        return [validate_event(e, f"events[{i}]") for i, e in enumerate(body["events"])], True
    return [validate_event(body, "event")], False


def _interest_map(user_id: str) -> dict[str, float]:
    rows = read.decayed_interests(current_graph(), user_id, read.Page(TOPICS_COMPARED),
                                  current_config().half_life_days)
    return {r["topic"]: r["score"] for r in rows}


def _changes(before: dict[str, float], after: dict[str, float]) -> list[dict[str, Any]]:
    deltas = [{"topic": t, "before": before.get(t, 0.0), "after": after.get(t, 0.0),
               "delta": after.get(t, 0.0) - before.get(t, 0.0)} for t in set(before) | set(after)]
    deltas = [d for d in deltas if abs(d["delta"]) > 1e-12]
    deltas.sort(key=lambda d: (-abs(d["delta"]), d["topic"]))
    return deltas[:CHANGES_SHOWN]


@bp.post("/events")
@requires("write")
def post_events():
    """Record one interaction (or ``{"events": [...]}``); 202 with each user's interest changes."""
    from graph.events import record_events

    known()
    events, batch = _events_from_body()
    g = current_graph()
    users = sorted({e["user_id"] for e in events})
    missing = read.missing_ids(g, users, sorted({e["content_id"] for e in events}))
    for kind in ("users", "contents"):
        if missing[kind]:
            name = "user" if kind == "users" else "content"
            raise ApiProblem(422, f"unknown_{name}", f"no {name} with id {missing[kind][0]!r}", param=name)
    before = {u: _interest_map(u) for u in users}
    record_events(g, events)
    changed = [{"user": u, "interests": _changes(before[u], _interest_map(u))} for u in users]
    return {"recorded": len(events), "batch": batch, "changed": changed}, 202
