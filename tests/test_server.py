"""The managed Neo4j: lifecycle, configuration, password handling and error paths."""
from __future__ import annotations

import os
import re
import shutil
import socket
import stat
from pathlib import Path

import pytest

from graph import server
from graph.db import Graph
from graph.errors import ConfigError, GraphError, ServerError
from graph.settings import Neo4jSettings, ServerConfig

pytestmark = pytest.mark.skipif(bool(os.environ.get("NEO4J_URI")), reason="uses the managed server")


def test_conf_binds_loopback_with_auth(server_config):
    conf = (server_config.home / "conf" / "neo4j.conf").read_text()
    assert "server.default_listen_address=127.0.0.1" in conf
    assert f"server.bolt.listen_address=127.0.0.1:{server_config.bolt_port}" in conf
    assert f"server.bolt.advertised_address=127.0.0.1:{server_config.bolt_port}" in conf
    assert "dbms.security.auth_enabled=true" in conf
    assert "server.memory.pagecache.size=128m" in conf


def test_checkpoints_follow_log_volume(session_graph):
    """Logs are pruned only at checkpoints: the server must checkpoint by volume, not only every 15 min."""
    rows = session_graph.read("SHOW SETTINGS YIELD name, value WHERE name STARTS WITH 'db.checkpoint' "
                              "RETURN name, value")
    settings = {row["name"]: row["value"] for row in rows}
    assert settings["db.checkpoint"] == "VOLUME"
    assert settings["db.checkpoint.interval.volume"] in ("512.00MiB", "536870912")


def test_password_file_is_private_and_not_default(server_config, neo4j_settings):
    mode = stat.S_IMODE(server_config.password_file.stat().st_mode)
    assert mode == 0o600
    assert neo4j_settings.password not in ("", "neo4j")
    # 192 random bits in hex: a urlsafe token can start with "-", which neo4j-admin reads as an option
    assert re.fullmatch(r"[0-9a-f]{48}", neo4j_settings.password)
    with pytest.raises(GraphError, match="rejected user 'neo4j'"):
        Graph.connect(Neo4jSettings(uri=server_config.bolt_uri, password="neo4j"))


def test_start_is_idempotent_and_status_reports(server_config):
    first = server.status(server_config)
    again = server.start(server_config)
    assert first.running and again.running and again.pid == first.pid
    assert again.browser_url == f"http://127.0.0.1:{server_config.http_port}/browser/"


def test_plugins_and_browser_are_served(server_config, session_graph):
    import urllib.request

    components = session_graph.components()
    assert components["Neo4j Kernel"].startswith("5.26.")
    assert components["apoc"].startswith("5.26.")
    assert components["gds"].startswith("2.13.")
    with urllib.request.urlopen(server_config.browser_url, timeout=10) as resp:
        assert resp.status == 200
        assert b"Neo4j Browser" in resp.read()


def test_port_taken_is_a_clear_error(tmp_path, server_config):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        cfg = ServerConfig(root=server_config.root, home=tmp_path / "home", bolt_port=port,
                           http_port=server.free_port(), heap="256m", pagecache="32m")
        with pytest.raises(ServerError, match=f"bolt port {port} .* already in use"):
            server.start(cfg)


def test_stop_when_stopped_is_fine(tmp_path, server_config):
    cfg = ServerConfig(root=server_config.root, home=tmp_path / "never-started")
    assert server.stop(cfg) is False
    assert server.status(cfg).running is False


def test_full_lifecycle_keeps_data_across_restart(tmp_path, server_config):
    cfg = ServerConfig(root=server_config.root, home=tmp_path / "home", bolt_port=server.free_port(),
                       http_port=server.free_port(), heap="512m", pagecache="32m", plugins=False)
    try:
        server.start(cfg)
        with Graph.connect(Neo4jSettings.for_server(cfg)) as g:
            g.write("CREATE (:Marker {id: $id})", id="kept")
        assert server.stop(cfg) is True
        assert server.status(cfg).running is False
        server.start(cfg)
        with Graph.connect(Neo4jSettings.for_server(cfg)) as g:
            assert g.read("MATCH (m:Marker) RETURN m.id AS id") == [{"id": "kept"}]
    finally:
        server.stop(cfg)


def test_unknown_setting_is_reported(tmp_path, server_config):
    cfg = ServerConfig(root=server_config.root, home=tmp_path / "home", bolt_port=server.free_port(),
                       http_port=server.free_port(), extra_conf=(("db.this_setting_does_not_exist", "1"),))
    with pytest.raises(ServerError, match="No declared setting with name: db.this_setting_does_not_exist"):
        server.start(cfg, timeout=60)
    assert server.status(cfg).running is False


def test_failed_start_shows_log_tail(tmp_path, server_config):
    cfg = ServerConfig(root=server_config.root, home=tmp_path / "home", bolt_port=server.free_port(),
                       http_port=server.free_port(), heap="8m", pagecache="8m", plugins=False)
    with pytest.raises(ServerError, match="(?s)exited with code .*console.log.*OutOfMemoryError"):
        server.start(cfg, timeout=60)
    assert server.status(cfg).running is False


def test_missing_java_is_clear(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ServerError, match=r"Java 17\+ is required"):
        server.check_java()


def test_missing_maven_is_clear(monkeypatch, tmp_path):
    (tmp_path / "java").symlink_to(shutil.which("java"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ServerError, match=r"Maven \(`mvn`\) is required"):
        server.install(ServerConfig(root=tmp_path / "n4j"), force=True)
    assert not (tmp_path / "n4j" / "dist").exists()


def test_old_java_is_rejected(monkeypatch, tmp_path):
    fake = tmp_path / "java"
    fake.write_text('#!/bin/sh\necho \'openjdk version "11.0.2" 2019-01-15\' >&2\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ServerError, match="needs Java 17\\+, found Java 11"):
        server.check_java()


def test_external_uri_is_never_managed(monkeypatch, server_config):
    monkeypatch.setenv("NEO4J_URI", "neo4j://127.0.0.1:1")
    with pytest.raises(ServerError, match="NEO4J_URI is set"):
        server.start(server_config)
    with pytest.raises(ServerError, match="NEO4J_URI is set"):
        server.stop(server_config)
    assert Neo4jSettings.from_env().managed is False


def test_unreachable_database_is_a_clear_error():
    with pytest.raises(GraphError, match="unreachable at neo4j://127.0.0.1:1"):
        Graph.connect(Neo4jSettings(uri="neo4j://127.0.0.1:1", password="x"))


@pytest.mark.parametrize("kwargs, message", [
    ({"bolt_port": 0}, "bolt_port must be in"),
    ({"bolt_port": 7000, "http_port": 7000}, "both 7000"),
    ({"heap": "lots"}, "heap must look like"),
])
def test_server_config_validation(kwargs, message, tmp_path):
    with pytest.raises(ConfigError, match=message):
        ServerConfig(root=tmp_path, **kwargs)


def test_settings_from_env(monkeypatch):
    monkeypatch.setenv("NEO4J_URI", "bolt://db.example:7687")
    monkeypatch.setenv("NEO4J_USERNAME", "analyst")
    monkeypatch.setenv("NEO4J_PASSWORD", "s3cret")
    monkeypatch.setenv("NEO4J_DATABASE", "interests")
    s = Neo4jSettings.from_env()
    assert (s.uri, s.username, s.password, s.database, s.managed) == (
        "bolt://db.example:7687", "analyst", "s3cret", "interests", False)
    assert "s3cret" not in repr(s)
    monkeypatch.setenv("NEO4J_URI", "http://db.example")
    with pytest.raises(ConfigError, match="must start with neo4j:// or bolt://"):
        Neo4jSettings.from_env()


def test_poms_pin_the_verified_artifacts():
    pom = Path(server.SERVER_POM).read_text()
    plugins = Path(server.PLUGINS_POM).read_text()
    assert "<version>5.26.31</version>" in pom and "neo4j-browser" in pom
    assert "apoc-common" in plugins and "opengds-extension" in plugins
