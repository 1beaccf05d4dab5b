"""What users tell us: POST /v1/feedback and GET/PUT /v1/users/{id}/interests/declared (``graph.feedback``).

Effects apply on the next read, before any retraining (graph/README.md, "Feedback and declared interests").
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, current_app, request

from api.context import current_graph, requires
from api.errors import ApiProblem, not_found
from api.params import MAX_ID_LENGTH, check_id, known
from graph import feedback
from graph.errors import InputError
from graph.events import FeedbackConfig, UnknownEntityError

bp = Blueprint("feedback", __name__, url_prefix="/v1")

FIELDS = ("user", "content", "topic", "kind", "ts")


def init_app(app: Flask, cfg: FeedbackConfig | None = None) -> None:
    """Register the blueprint and the feedback weights/demotion (``FeedbackConfig.from_env()``)."""
    app.extensions["ikg_feedback"] = cfg or FeedbackConfig.from_env()
    app.register_blueprint(bp)


def current_feedback() -> FeedbackConfig:
    return current_app.extensions["ikg_feedback"]


def _json_body() -> Any:
    if not request.is_json:
        raise ApiProblem(415, "unsupported_media_type", "send application/json")
    body = request.get_json(silent=True)
    if body is None:
        raise ApiProblem(400, "invalid_json", "the body is not valid JSON", param="body")
    return body


def _invalid(code: str, field: str, detail: str) -> ApiProblem:
    return ApiProblem(422, code, f"{field}: {detail}", param=field)


def _unknown(e: UnknownEntityError, param: str | None = None) -> ApiProblem:
    return ApiProblem(404, f"{e.kind}_not_found", f"no {e.kind} with id {e.ids[0]!r}", param=param or e.kind)


@bp.post("/feedback")
@requires("write")
def post_feedback():
    """Record one feedback event on a content item or a topic; 201 (202 when already recorded)."""
    known()
    body = _json_body()
    if not isinstance(body, dict):
        raise _invalid("invalid_feedback", "body", "must be a JSON object")
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise _invalid("invalid_feedback", unknown[0], f"unknown field; feedback has {', '.join(FIELDS)}")
    for name in ("user", "content", "topic"):
        value = body.get(name)
        if value is not None and (not isinstance(value, str) or not 0 < len(value) <= MAX_ID_LENGTH
                                  or not value.isprintable()):
            raise _invalid("invalid_feedback", name, f"must be a string of 1..{MAX_ID_LENGTH} printable characters")
    if body.get("user") is None:
        raise _invalid("invalid_feedback", "user", "is required")
    if ("content" in body) == ("topic" in body):
        raise _invalid("invalid_feedback", "content", "give exactly one of content and topic")
    if not isinstance(body.get("kind"), str):
        raise _invalid("invalid_feedback", "kind", "is required (a string)")
    try:
        stored = feedback.record_feedback(current_graph(), body["user"], body["kind"], content=body.get("content"),
                                          topic=body.get("topic"), ts=body.get("ts"), cfg=current_feedback())
    except InputError as e:
        raise _invalid("invalid_feedback", e.field or "body", e.reason) from None
    except UnknownEntityError as e:
        raise _unknown(e) from None
    return stored, 201 if stored["created"] else 202


@bp.get("/users/<path:user_id>/interests/declared")
def get_declared(user_id: str):
    """The user's declared interest topics."""
    known()
    user_id = check_id("id", user_id)
    items = feedback.declared(current_graph(), user_id)
    if items is None:
        raise not_found("user", user_id)
    return {"user": user_id, "topics": items}


@bp.put("/users/<path:user_id>/interests/declared")
@requires("write")
def put_declared(user_id: str):
    """Replace the user's declared interests: ``{"topics": ["t1", {"topic": "t2", "weight": 2}]}``."""
    known()
    user_id = check_id("id", user_id)
    body = _json_body()
    if not isinstance(body, dict) or set(body) != {"topics"}:
        raise _invalid("invalid_declared", "topics", "the body must be an object with only a topics list")
    try:
        rows = feedback.declared_rows(body["topics"])
        items = feedback.replace_declared(current_graph(), user_id, rows)
    except InputError as e:
        raise _invalid("invalid_declared", e.field or "topics", e.reason) from None
    except UnknownEntityError as e:
        if e.kind == "user":
            raise not_found("user", user_id) from None
        raise _unknown(e, "topics") from None
    return {"user": user_id, "topics": items}
