"""The API keeps running while Neo4j is down (503 problem documents) and recovers when it returns.

Uses its own throwaway Neo4j (the session server must stay up for the other tests).
"""
from __future__ import annotations

import time

import pytest

from api import create_app
from api.config import ApiConfig
from api.keys import create_key
from graph import schema, server
from graph.db import Graph
from graph.settings import Neo4jSettings, external_server_configured
from test_api_graph import build

pytestmark = pytest.mark.skipif(external_server_configured(), reason="needs a managed throwaway server")


@pytest.fixture(scope="module")
def second_server(tmp_path_factory):
    with server.throwaway(tmp_path_factory.mktemp("neo4j-api-outage"), heap="512m", pagecache="64m",
                          plugins=False) as cfg:
        settings = Neo4jSettings.for_server(cfg)
        with Graph.connect(settings) as g:
            schema.apply(g)
            build(g)
            key, _ = create_key(g, "outage", "read")
        yield cfg, settings, key


def test_neo4j_outage_is_503_then_recovers(second_server):
    cfg, settings, key = second_server
    app = create_app(ApiConfig(neo4j=settings, neo4j_timeout_s=1.0, neo4j_retry_s=0.5))
    client = app.test_client()
    headers = {"X-API-Key": key}
    try:
        assert client.get("/v1/users/ada/interests", headers=headers).status_code == 200
        server.stop(cfg)
        down = client.get("/v1/users/ada/interests", headers=headers)
        assert down.status_code == 503, down.get_json()
        body = down.get_json()
        assert body["code"] == "neo4j_unavailable" and "Traceback" not in str(body)
        assert down.headers["Retry-After"] == "5"
        # the cached key lets the request reach the readiness check, which reports the outage
        assert client.get("/ready", headers=headers).status_code == 503
        assert client.get("/health").status_code == 200
        server.start(cfg)
        deadline = time.monotonic() + 30
        status = None
        while time.monotonic() < deadline and status != 200:
            status = client.get("/v1/users/ada/interests", headers=headers).status_code
            time.sleep(0.2)
        assert status == 200
        assert client.get("/ready", headers=headers).get_json()["neo4j"] == "reachable"
    finally:
        app.extensions["ikg_graph"].close()
