"""The main job end to end on tiny data, through the same stages as `ikg demo`:
ingest → export → train → evaluate → write-back → report, then the API answers from the run."""
from __future__ import annotations

import json

import pytest

from api import create_app, keys
from api.config import ApiConfig
from ingestion.synth.generate import GenerateOptions, generate
from ingestion.synth.world import WorldConfig
from gnn.config import TrainConfig
from jobs.demo import Demo, DemoConfig

ACTIVE_EDGES = """
MATCH (r:ModelRun {active: true})
RETURN r.id AS run_id,
       COUNT { MATCH (:User)-[i:INTERESTED_IN {run_id: r.id}]->(:Topic) } AS interests,
       COUNT { MATCH (:User)-[m:MAY_LIKE {run_id: r.id}]->(:Content) } AS recs,
       COUNT { MATCH (u:User)-[m:MAY_LIKE {run_id: r.id}]->(c:Content) WHERE (u)-[:INTERACTED]->(c) } AS seen
"""


@pytest.fixture()
def tiny_world(tmp_path):
    out = tmp_path / "world"
    generate(WorldConfig(n_users=40, n_content=30, n_topics=6, seed=7), out,
             GenerateOptions(media=False, progress=False))
    return out


def test_demo_end_to_end_on_tiny_data(graph, neo4j_settings, tiny_world, tmp_path, monkeypatch):
    monkeypatch.setenv("IKG_HOME", str(tmp_path / "home"))
    cfg = DemoConfig(dataset=str(tiny_world), sample=False, epochs=3, serve=False, device="cpu",
                     example_user="u0", state_dir=tmp_path / "state")
    result = Demo(graph, cfg).run()

    names = [s.name for s in result.stages]
    assert names == ["apply schema", "ingest world", "discover topics", "export snapshot", "train sage (dgl)",
                     "evaluate vs baselines", "write back interests", "report"]
    assert not any(s.skipped for s in result.stages[1:])

    discovered = graph.read("MATCH (t:Topic {source: 'discovered'}) RETURN count(t) AS n, "
                            "count(t.community) AS communities, all(x IN collect(t.name) WHERE x <> '') AS named")[0]
    assert discovered["n"] > 0 and discovered["communities"] > 0 and discovered["named"]

    edges = graph.read(ACTIVE_EDGES)[0]
    assert edges["run_id"] == result.run_id
    assert edges["interests"] > 0 and edges["recs"] > 0 and edges["seen"] == 0

    run_dir = tmp_path / "home" / "var" / "runs" / result.run_id
    rows = json.loads((run_dir / "eval" / "rows.json").read_text())
    assert [r["model"] for r in rows] == ["sage (this run)", "pop", "bprmf"]

    html = result.report.read_text()
    for section in ("Dataset", "Training", "Evaluation against baselines", "Interest map",
                    "Interest drift", "interest neighbourhood of user u0"):
        assert section in html
    drift = html[html.index("Interest drift"):]
    assert drift.count("<tr>") >= 2  # header + at least one user active in both windows
    pngs = {p.name for p in result.report.parent.glob("*.png")}
    assert {"interest_map.png", "top_topics.png", "neighbourhood.png"} <= pngs
    assert all(p.stat().st_size > 5_000 for p in result.report.parent.glob("*.png"))

    key, _ = keys.create_key(graph, "e2e", "read")
    client = create_app(ApiConfig(neo4j=neo4j_settings, key_cache_ttl_s=0)).test_client()
    body = client.get("/v1/users/u0/interests?limit=3", headers={"X-API-Key": key}).get_json()
    assert body["source"] == "model" and body["run"]["id"] == result.run_id
    assert len(body["items"]) == 3

    again = Demo(graph, cfg).run()  # a rerun skips every data stage
    assert [s.skipped for s in again.stages[1:]] == [True] * 7


def test_demo_trains_graphsage_with_the_tuned_config_and_gcn_on_request():
    cfg = DemoConfig(epochs=3).train_config()
    assert (cfg.model, cfg.lr, cfg.l2, cfg.epochs) == ("sage", 0.005, 0.01, 3)
    gcn = DemoConfig(model="gcn").train_config()
    assert (gcn.model, gcn.lr, gcn.l2) == ("gcn", TrainConfig().lr, TrainConfig().l2)
