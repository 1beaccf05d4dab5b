"""The Flask API: ``create_app(config)`` wires one Neo4j Driver, API-key auth, JSON errors,
metrics and the versioned blueprints. Never imports torch or ``gnn``."""
from __future__ import annotations

from flask import Flask, Response, current_app, request

from api import errors, metrics
from api.config import ApiConfig
from api.context import current_config
from api.errors import ApiProblem
from api.keys import KeyVerifier, Principal
from graph import read
from graph.settings import Neo4jSettings

PUBLIC_ENDPOINTS = frozenset({"ops.health"})
KEY_HEADER = "X-API-Key"


def create_app(config: ApiConfig | None = None) -> Flask:
    """Build the app; its Driver is created here, so each (forked) worker process has its own."""
    from api import events, feedback, ops, v1
    from api import users

    config = config or ApiConfig.from_env()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    app.json.sort_keys = False
    app.json.compact = True
    settings = config.neo4j or Neo4jSettings.from_env()
    g = read.connect(settings, timeout_s=config.neo4j_timeout_s, retry_s=config.neo4j_retry_s,
                     pool_size=config.neo4j_pool_size)
    app.extensions["ikg_config"] = config
    app.extensions["ikg_graph"] = g
    app.extensions["ikg_keys"] = KeyVerifier(g, config.key_cache_ttl_s)
    errors.init_app(app)
    metrics.init_app(app)
    app.before_request(_authenticate)
    app.after_request(_headers)
    app.register_blueprint(ops.bp)
    app.register_blueprint(v1.bp)
    app.register_blueprint(events.bp)
    feedback.init_app(app)
    app.register_blueprint(users.bp)
    return app


def _presented_key() -> str | None:
    key = request.headers.get(KEY_HEADER)
    if key:
        return key.strip()
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return None


def _authenticate() -> None:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    if request.method == "OPTIONS" and request.headers.get("Origin") in current_config().cors_origins:
        return
    key = _presented_key()
    challenge = {"WWW-Authenticate": f'ApiKey header="{KEY_HEADER}"'}
    if not key:
        raise ApiProblem(401, "missing_api_key", f"send an API key in the {KEY_HEADER} header", headers=challenge)
    principal: Principal | None = current_app.extensions["ikg_keys"].verify(key)
    if principal is None:
        raise ApiProblem(401, "invalid_api_key", "the API key is unknown or revoked", headers=challenge)
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    role = getattr(view, "required_role", "read")
    if not principal.allows(role):
        raise ApiProblem(403, "forbidden", f"this endpoint needs a {role!r} key; yours is {principal.role!r}")


def _headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Cache-Control", "no-store")
    origin = request.headers.get("Origin")
    if origin and origin in current_config().cors_origins:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
        response.headers["Access-Control-Allow-Headers"] = f"{KEY_HEADER}, Authorization, Content-Type"
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, PUT, DELETE, OPTIONS"
    return response
