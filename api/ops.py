"""Operational endpoints: liveness, readiness, Prometheus metrics, the OpenAPI document and docs."""
from __future__ import annotations

import html

from flask import Blueprint, Response, current_app, jsonify

from api.context import current_config, current_graph
from api.metrics import CONTENT_TYPE
from api.openapi import spec
from api.params import known
from graph import read
from graph.errors import GraphError

bp = Blueprint("ops", __name__)


@bp.get("/health")
def health():
    """Liveness: the process answers (no key, no database)."""
    return {"status": "ok"}


@bp.get("/ready")
def ready():
    """Readiness: Neo4j reachable and schema present (503 otherwise); reports the active run."""
    known()
    try:
        state = read.readiness(current_graph())
    except GraphError as e:
        if not read.is_unavailable(e):
            raise
        response = jsonify({"ready": False, "neo4j": "unreachable"})
        response.status_code = 503
        return response
    ok = not state["missing_constraints"] and not state["missing_vector_indexes"]
    body = {"ready": ok, "neo4j": "reachable", **state}
    response = jsonify(body)
    response.status_code = 200 if ok else 503
    return response


@bp.get("/metrics")
def metrics():
    known()
    return Response(current_app.extensions["ikg_metrics"].render(), content_type=CONTENT_TYPE)


@bp.get("/openapi.json")
def openapi():
    known()
    return spec(current_config())


@bp.get("/docs")
def docs():
    """A human-readable page generated from the OpenAPI document."""
    known()
    doc = spec(current_config())
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(doc['info']['title'])}</title>"
             "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}code{background:#eee}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}</style></head><body>",
             f"<h1>{html.escape(doc['info']['title'])} {html.escape(doc['info']['version'])}</h1>",
             f"<p>{html.escape(doc['info']['description'])}</p>"]
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            parts.append(f"<h2><code>{method.upper()} {html.escape(path)}</code></h2>"
                         f"<p>{html.escape(op.get('description', op['summary']))}</p>")
            params = op.get("parameters", [])
            if params:
                parts.append("<table><tr><th>parameter</th><th>in</th><th>schema</th><th>meaning</th></tr>")
                for p in params:
                    schema = ", ".join(f"{k}={v}" for k, v in p["schema"].items())
                    parts.append(f"<tr><td><code>{html.escape(p['name'])}</code></td><td>{p['in']}</td>"
                                 f"<td>{html.escape(schema)}</td><td>{html.escape(p.get('description', ''))}</td></tr>")
                parts.append("</table>")
            codes = ", ".join(sorted(op["responses"]))
            parts.append(f"<p>responses: {codes}</p>")
    parts.append("</body></html>")
    return Response("".join(parts), content_type="text/html; charset=utf-8")
