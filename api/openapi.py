"""The OpenAPI 3.0 document of the API (hand-written to match the validation in ``api.params``)."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from api.config import ApiConfig
from graph.coldstart import STRATEGIES
from graph.feedback import MAX_DECLARED
from graph.model import EVENT_KINDS, FEEDBACK_KINDS, TOPIC_FEEDBACK_KINDS
from graph.read import CONTENT_MODALITIES, NEIGHBORHOOD_RELS, USER_MODALITIES

VERSION = "1.0.0"
_ID = {"type": "string", "minLength": 1, "maxLength": 200}


def _param(name: str, where: str, schema: dict[str, Any], description: str, required: bool = False) -> dict:
    return {"name": name, "in": where, "required": required or where == "path", "schema": schema,
            "description": description}


def _int(lo: int, hi: int, default: int) -> dict[str, Any]:
    return {"type": "integer", "minimum": lo, "maximum": hi, "default": default}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {
        "schema": {"$ref": "#/components/schemas/Problem"}}}}


def _ok(description: str, status: str = "200") -> dict[str, Any]:
    return {status: {"description": description, "content": {"application/json": {"schema": {"type": "object"}}}}}


def _errors(*codes: str) -> dict[str, Any]:
    texts = {"400": "invalid parameter (``param`` names it)", "401": "missing or invalid API key",
             "403": "the key's role is too low", "404": "unknown id", "413": "body or batch too large",
             "415": "body is not JSON", "422": "invalid event or missing embedding",
             "503": "Neo4j unreachable"}
    return {c: _problem(texts[c]) for c in ("400", "401", "404", "503", *codes)}


def _op(summary: str, params: list[dict], ok: dict[str, Any], *extra_codes: str, **more: Any) -> dict:
    return {"summary": summary, "description": more.pop("description", summary), "parameters": params,
            "responses": {**ok, **_errors(*extra_codes)}, **more}


@lru_cache(maxsize=4)
def spec(cfg: ApiConfig | None = None) -> dict[str, Any]:
    """The document; bounds come from the config defaults."""
    cfg = cfg or ApiConfig()
    lim = cfg.max_limit
    user = _param("id", "path", _ID, "user id")
    limit = _param("limit", "query", _int(1, lim, 20), "page size")
    offset = _param("offset", "query", _int(0, cfg.max_offset, 0), "rows to skip")
    k = _param("k", "query", _int(1, lim, 10), "how many results")
    event = {"type": "object", "additionalProperties": False, "required": ["user", "content", "kind", "ts"],
             "properties": {"user": _ID, "content": _ID, "kind": {"type": "string", "enum": list(EVENT_KINDS)},
                            "ts": {"oneOf": [{"type": "string", "format": "date-time"},
                                             {"type": "number", "minimum": 0, "maximum": 4102444800}]},
                            "rating": {"type": "number", "minimum": 0, "maximum": 10},
                            "weight": {"type": "number", "minimum": -100, "maximum": 100,
                                       "description": "negative for feedback kinds"}}}
    ts = {"oneOf": [{"type": "string", "format": "date-time"}, {"type": "number", "minimum": 0, "maximum": 4102444800}]}
    feedback = {"type": "object", "additionalProperties": False, "required": ["user", "kind"],
                "properties": {"user": _ID, "content": _ID, "topic": _ID, "ts": ts,
                               "kind": {"type": "string", "enum": list(FEEDBACK_KINDS)}},
                "description": "exactly one of content and topic; on a topic kind is one of "
                               f"{', '.join(TOPIC_FEEDBACK_KINDS)}; ts defaults to now"}
    declared = {"type": "object", "additionalProperties": False, "required": ["topics"], "properties": {
        "topics": {"type": "array", "maxItems": MAX_DECLARED, "items": {"oneOf": [_ID, {
            "type": "object", "additionalProperties": False, "required": ["topic"],
            "properties": {"topic": _ID, "weight": {"type": "number", "minimum": 0, "exclusiveMinimum": True,
                                                     "default": 1}}}]}}}}
    paths: dict[str, Any] = {
        "/health": {"get": {"summary": "Liveness (no key needed)", "security": [], "parameters": [],
                            "responses": _ok("the process is alive")}},
        "/ready": {"get": {"summary": "Readiness: Neo4j reachable, schema present, active run reported",
                           "parameters": [], "responses": {**_ok("ready"), "401": _problem("missing or invalid key"),
                                                           "503": {"description": "not ready"}}}},
        "/metrics": {"get": {"summary": "Prometheus metrics of this worker process", "parameters": [],
                             "responses": {"200": {"description": "text exposition format",
                                                   "content": {"text/plain": {"schema": {"type": "string"}}}},
                                           "401": _problem("missing or invalid key")}}},
        "/openapi.json": {"get": {"summary": "This document", "parameters": [],
                                  "responses": {**_ok("OpenAPI 3.0"), "401": _problem("missing or invalid key")}}},
        "/docs": {"get": {"summary": "Human-readable API documentation", "parameters": [],
                          "responses": {"200": {"description": "HTML",
                                                "content": {"text/html": {"schema": {"type": "string"}}}},
                                        "401": _problem("missing or invalid key")}}},
        "/v1/users/{id}/interests": {"get": _op(
            "The user's interest topics with score, rank, model and run", [user, limit, offset],
            _ok("items (declared ones marked) and strategy: model (active run), decayed (interactions) or "
                "declared; topics the user is not interested in (suppressed) are left out"))},
        "/v1/users/{id}/interests/declared": {
            "get": _op("The user's declared interest topics", [user], _ok("topics (topic, name, weight, updated_at)")),
            "put": {**_op("Replace the user's declared interest topics (write key)", [user],
                          _ok("the stored declared set"), "403", "415", "422"),
                    "requestBody": {"required": True, "content": {"application/json": {"schema": declared}}}}},
        "/v1/users/{id}/neighborhood": {"get": _op(
            "The user's interest neighbourhood as nodes and edges",
            [user, _param("depth", "query", _int(1, cfg.max_depth, 1), "hops"),
             _param("limit", "query", _int(1, cfg.max_nodes, min(100, cfg.max_nodes)), "most nodes returned"),
             _param("rel", "query", {"type": "string", "maxLength": 200},
                    f"comma-separated relationship types out of {', '.join(NEIGHBORHOOD_RELS)}"),
             _param("embeddings", "query", {"type": "boolean", "default": False}, "include embedding vectors")],
            _ok("nodes (key, id, label, name, kind) and edges (source, target, type, weight/score)"))},
        "/v1/users/{id}/recommendations": {"get": _op(
            "Top-k content for the user; each item names the strategy that produced it",
            [user, k, _param("topic", "query", _ID, "only content of this topic"),
             _param("exclude_seen", "query", {"type": "boolean", "default": True}, "drop content already seen"),
             _param("diversity", "query", {"type": "number", "minimum": 0, "maximum": 1, "default": 0},
                    "maximal-marginal-relevance re-ranking over emb_text (0 = off, 1 = most diverse)"),
             _param("per_topic_cap", "query", {"type": "integer", "minimum": 1, "maximum": lim},
                    "at most this many items per topic (the list may be shorter than k)")],
            _ok(f"items; strategies, in ladder order: {', '.join(STRATEGIES)}; a user without a model list "
                "gets the personal rungs blended with the population rungs (strategy '<personal>+<population>', "
                "personal_share); feedback applied (blocked items never shown, demoted items marked demoted)"))},
        "/v1/users/{id}/similar": {"get": _op(
            "Nearest users by embedding (vector index)",
            [user, k, _param("modality", "query", {"type": "string", "enum": list(USER_MODALITIES)},
                             "embedding (default: gnn, else behavior)")],
            _ok("items with cosine score"), "422")},
        "/v1/content/{id}/similar": {"get": _op(
            "Nearest content by one modality's vector index",
            [_param("id", "path", _ID, "content id"), k,
             _param("modality", "query", {"type": "string", "enum": list(CONTENT_MODALITIES), "default": "fused"},
                    "which embedding"),
             _param("kind", "query", _ID, "only content of this kind"),
             _param("topic", "query", _ID, "only content of this topic")],
            _ok("items with cosine score"), "422")},
        "/v1/users/{id}/explain": {"get": _op(
            "Strongest graph paths supporting a recommendation (content=) or an interest (topic=)",
            [user, _param("content", "query", _ID, "content id"), _param("topic", "query", _ID, "topic id"),
             _param("limit", "query", _int(1, lim, 10), "most paths")],
            _ok("paths: kind, weight, nodes, edges"))},
        "/v1/users/{id}": {"delete": _op(
            "Delete the user and everything derived from them (admin key)", [user],
            _ok("deleted: true with the relationships removed per type and owned records; a repeated delete is "
                "404 user_not_found"), "403",
            description="One transaction: the User node, every relationship attached to it, its embeddings "
                        "(and vector-index entries) and records whose `user` property is the id. The deletion "
                        "is recorded in the local ledger as a keyed hash, so older snapshots are stale for it.")},
        "/v1/users/{id}/export": {"get": _op(
            "Everything stored about the user, as JSON (admin key)",
            [user, _param("embeddings", "query", {"type": "boolean", "default": False},
                          "include embedding vectors (otherwise only their dimension)")],
            _ok("properties, relationships by type (direction, other node, properties), counts, owned records"),
            "403")},
        "/v1/topics/{id}/users": {"get": _op(
            "Users most interested in a topic", [_param("id", "path", _ID, "topic id"), limit, offset],
            _ok("items (user, score, rank)"))},
        "/v1/feedback": {"post": {
            "summary": "Record feedback on a content item or a topic (write key)",
            "description": "dislike/hide/not_interested on content: never recommended again; skip: demoted; "
                           "on a topic: removed from interests and its content demoted. Every event is kept.",
            "parameters": [],
            "requestBody": {"required": True, "content": {"application/json": {"schema": feedback}}},
            "responses": {**_ok("recorded (202: the very same event was already recorded)", "201"),
                          **_errors("403", "415", "422")}}},
        "/v1/events": {"post": {
            "summary": "Record interactions (write key)",
            "description": f"One event object, or {{\"events\": [...]}} with at most {cfg.max_batch_events}.",
            "parameters": [],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {"oneOf": [
                event, {"type": "object", "additionalProperties": False, "required": ["events"],
                        "properties": {"events": {"type": "array", "minItems": 1,
                                                  "maxItems": cfg.max_batch_events, "items": event}}}]}}}},
            "responses": {**_ok("recorded; changed lists each user's biggest interest changes", "202"),
                          **_errors("403", "413", "415", "422")}}},
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "Interest knowledge graph API", "version": VERSION,
                 "description": "Versioned JSON endpoints over the interest graph. Every endpoint but /health "
                                "needs an API key in the X-API-Key header (`ikg api-key create`)."},
        "paths": paths,
        "security": [{"ApiKey": []}],
        "components": {
            "securitySchemes": {"ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
            "schemas": {"Problem": {"type": "object", "required": ["status", "code", "detail"], "properties": {
                "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                "code": {"type": "string"}, "detail": {"type": "string"}, "param": {"type": "string"},
                "instance": {"type": "string"}}}},
        },
    }
