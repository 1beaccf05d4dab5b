"""Test session fixtures: one real throwaway Neo4j (free loopback ports, temp home) per session.

If NEO4J_URI is set, that server is used instead and nothing is started. Each test that
takes ``graph`` starts from an empty database with the schema applied.
"""
from __future__ import annotations

import logging
import os

import pytest

os.environ.setdefault("DGLBACKEND", "pytorch")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from graph import server  # noqa: E402
from graph.settings import Neo4jSettings, ServerConfig, external_server_configured  # noqa: E402

logger = logging.getLogger(__name__)


@pytest.fixture(scope="session")
def server_config(tmp_path_factory) -> ServerConfig | None:
    """The throwaway managed server's config (None when NEO4J_URI is used)."""
    if external_server_configured():
        yield None
        return
    with server.throwaway(tmp_path_factory.mktemp("neo4j-home"), heap="768m", pagecache="128m") as cfg:
        yield cfg


@pytest.fixture(scope="session")
def neo4j_settings(server_config) -> Neo4jSettings:
    return Neo4jSettings.from_env() if server_config is None else Neo4jSettings.for_server(server_config)


@pytest.fixture(scope="session")
def session_graph(neo4j_settings):
    from graph import schema
    from graph.db import Graph

    with Graph.connect(neo4j_settings) as g:
        schema.apply(g)
        yield g


@pytest.fixture()
def graph(session_graph):
    """An empty database (schema kept) for one test."""
    session_graph.write("MATCH (n) DETACH DELETE n")
    return session_graph


@pytest.fixture(scope="module")
def app(neo4j_settings):
    """A real Flask app on the session's Neo4j (API key cache off, so new keys work at once)."""
    from api import create_app
    from api.config import ApiConfig

    app = create_app(ApiConfig(neo4j=neo4j_settings, key_cache_ttl_s=0))
    yield app
    app.extensions["ikg_graph"].close()
