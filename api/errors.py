"""JSON problem documents (RFC 9457) with a stable ``code``; no stack trace ever leaves the API."""
from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from graph import read
from graph.errors import GraphError

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
          405: "Method Not Allowed", 409: "Conflict", 413: "Content Too Large", 415: "Unsupported Media Type",
          422: "Unprocessable Content", 500: "Internal Server Error", 503: "Service Unavailable"}
HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large", 415: "unsupported_media_type"}


class ApiProblem(Exception):
    """An error the API answers with a problem document."""

    def __init__(self, status: int, code: str, detail: str, *, param: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status, self.code, self.detail, self.param = status, code, detail, param
        self.headers = headers or {}


def bad_param(param: str, detail: str) -> ApiProblem:
    return ApiProblem(400, "invalid_parameter", f"{param}: {detail}", param=param)


def not_found(kind: str, node_id: str) -> ApiProblem:
    return ApiProblem(404, f"{kind}_not_found", f"no {kind} with id {node_id!r}", param="id")


def problem(status: int, code: str, detail: str, param: str | None = None) -> Response:
    body = {"type": "about:blank", "title": TITLES.get(status, "Error"), "status": status, "code": code,
            "detail": detail, "instance": request.path}
    if param is not None:
        body["param"] = param
    response = jsonify(body)
    response.status_code = status
    response.content_type = PROBLEM_JSON
    return response


def init_app(app: Flask) -> None:
    """Turn every exception into a problem document."""

    @app.errorhandler(ApiProblem)
    def _api_problem(e: ApiProblem) -> Response:
        response = problem(e.status, e.code, e.detail, e.param)
        response.headers.update(e.headers)
        return response

    @app.errorhandler(HTTPException)
    def _http(e: HTTPException) -> Response:
        status = e.code or 500
        return problem(status, HTTP_CODES.get(status, "http_error"), e.description or TITLES.get(status, ""))

    @app.errorhandler(GraphError)
    def _graph(e: GraphError) -> Response:
        if read.is_unavailable(e):
            logger.warning("Neo4j unavailable: %s", e)
            return _unavailable()
        logger.error("graph error on %s: %s", request.path, e)
        return problem(500, "graph_error", "the graph query failed; see the server log")

    @app.errorhandler(Exception)
    def _unexpected(e: Exception) -> Response:
        if read.is_unavailable(e):
            logger.warning("Neo4j unavailable: %s", e)
            return _unavailable()
        logger.exception("unhandled error on %s", request.path)
        return problem(500, "internal_error", "unexpected server error; see the server log")


def _unavailable() -> Response:
    response = problem(503, "neo4j_unavailable", "the graph database is unreachable; retry later")
    response.headers["Retry-After"] = "5"
    return response
