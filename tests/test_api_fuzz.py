"""Property-based fuzzing of every operation in /openapi.json (schemathesis): never a 5xx."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from api import create_app
from api.config import ApiConfig
from api.keys import create_key
from test_api_graph import build

MAX_EXAMPLES = 12


@pytest.fixture(scope="module")
def fuzz_app(session_graph, neo4j_settings):
    session_graph.write("MATCH (n) DETACH DELETE n")
    build(session_graph)
    keys = {role: create_key(session_graph, f"fuzz-{role}", role)[0] for role in ("read", "write")}
    app = create_app(ApiConfig(neo4j=neo4j_settings))
    app.config["FUZZ_KEYS"] = keys
    yield app
    app.extensions["ikg_graph"].close()


@pytest.fixture(scope="module")
def api_schema(fuzz_app):
    return schemathesis.openapi.from_wsgi("/openapi.json", fuzz_app,
                                          headers={"X-API-Key": fuzz_app.config["FUZZ_KEYS"]["read"]})


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_no_server_errors(case, fuzz_app):
    role = "write" if case.method.upper() == "POST" else "read"
    response = case.call(headers={"X-API-Key": fuzz_app.config["FUZZ_KEYS"][role]})
    assert response.status_code < 500, f"{case.method} {case.formatted_path} -> {response.status_code}: " \
                                        f"{response.text[:300]}"
