"""POST /v1/events: validate interactions, record them through ``graph.events``, report what changed.

Decayed interests are computed at query time from INTERACTED edges, so once an event is recorded the
user's interests reflect it; the response shows each affected user's biggest interest changes.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from api.context import current_config, current_graph, requires
from api.errors import ApiProblem
from api.feedback import current_feedback
from api.params import MAX_ID_LENGTH, known
from graph import read
from graph.errors import InputError
from graph.events import UnknownEntityError, interaction_row, record_events

bp = Blueprint("events", __name__, url_prefix="/v1")

FIELDS = ("user", "content", "kind", "ts", "rating", "weight")
CHANGES_SHOWN = 10
TOPICS_COMPARED = 1000


def _invalid(field: str, detail: str) -> ApiProblem:
    return ApiProblem(422, "invalid_event", f"{field}: {detail}", param=field)


def validate_event(item: Any, where: str) -> dict[str, Any]:
    """Check one event with ``graph.events.interaction_row`` (the shared rules); 422 naming the field."""
    if not isinstance(item, dict):
        raise _invalid(where, "must be a JSON object")
    unknown = sorted(set(item) - set(FIELDS))
    if unknown:
        raise _invalid(f"{where}.{unknown[0]}", f"unknown field; events have {', '.join(FIELDS)}")
    for name in ("user", "content"):
        value = item.get(name)
        if not isinstance(value, str) or len(value) > MAX_ID_LENGTH or not value.isprintable():
            raise _invalid(f"{where}.{name}", f"must be a string of 1..{MAX_ID_LENGTH} printable characters")
    for name in ("rating", "weight"):
        if isinstance(item.get(name), (str, bool)):
            raise _invalid(f"{where}.{name}", "must be a number")
    try:
        interaction_row(**{name: item.get(name) for name in FIELDS})
    except InputError as e:
        raise _invalid(f"{where}.{e.field}", e.reason) from None
    return {name: item.get(name) for name in FIELDS}


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
    known()
    events, batch = _events_from_body()
    users = sorted({e["user"] for e in events})
    before = {u: _interest_map(u) for u in users}
    try:
        stored = record_events(current_graph(), events, current_feedback().weights)
    except UnknownEntityError as e:
        raise ApiProblem(404, f"{e.kind}_not_found", f"no {e.kind} with id {e.ids[0]!r}", param=e.kind) from None
    changed = [{"user": u, "interests": _changes(before[u], _interest_map(u))} for u in users]
    return {"recorded": stored["events"], "created": stored["created"], "existing": stored["existing"],
            "batch": batch, "changed": changed}, 202
