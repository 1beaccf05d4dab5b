"""Scenarios (`ikg scenario`): listing, the education world builder, recovery scoring, server
guards, and a CI-sized education run end to end whose printed facts are checked against the graph."""
from __future__ import annotations

import csv
import logging
import socket
from collections import Counter
from dataclasses import replace

import pytest

import cli
from graph.errors import ServerError
from jobs import scenarios
from jobs.scenarios import education_data, recovery
from jobs.scenarios.base import ScenarioConfig, ensure_server, server_config

ACTIVE_INTERESTS = """
MATCH (run:ModelRun {active: true})
MATCH (u:User)-[i:INTERESTED_IN]->(t:Topic) WHERE i.run_id = run.id
RETURN u.id AS user, t.id AS topic, t.kind AS kind, i.rank AS rank
"""
ACTIVE_MAY_LIKE = """
MATCH (run:ModelRun {active: true})
MATCH (u:User {id: $user_id})-[m:MAY_LIKE]->(c:Content) WHERE m.run_id = run.id
RETURN c.id AS content_id, c.title AS title, m.rank AS rank ORDER BY m.rank
"""
INTERACTION_COUNTS = "MATCH (u:User)-[r:INTERACTED]->(:Content) RETURN u.id AS user, count(r) AS n"
COURSE_SKILLS = "MATCH (c:Content {id: $content_id})-[:HAS_TOPIC]->(s:Topic) RETURN s.id AS skill"
DECLARED = "MATCH (u:User)-[:INTERESTED_IN {source: 'declared'}]->(s:Topic) RETURN u.id AS user, s.id AS skill"


def test_list_names_every_scenario_with_its_ports(capsys):
    assert cli.main(["scenario", "list"]) == 0
    out = capsys.readouterr().out
    for s in scenarios.SCENARIOS.values():
        assert f"{s.info.name} " in out
        assert f"Bolt {s.info.bolt_port}, HTTP {s.info.http_port}" in out
        assert s.info.demonstrates[0] in out
    assert set(scenarios.SCENARIOS) == {"movies", "social", "education"}


def test_scenarios_use_distinct_ports():
    ports = [p for s in scenarios.SCENARIOS.values() for p in (s.info.bolt_port, s.info.http_port)]
    # Browser assets are served on HTTP + 2 (graph.browser.assets_port): keep those free too
    ports += [s.info.http_port + 2 for s in scenarios.SCENARIOS.values()]
    assert len(ports) == len(set(ports))
    assert not {7687, 7474, 7476} & set(ports)  # the lead's managed server and its assets


def test_unknown_scenario_lists_the_valid_ones():
    with pytest.raises(Exception, match="no scenario 'films'; available: movies, social, education"):
        scenarios.get("films")


def test_education_world_is_seeded_and_consistent():
    cfg = education_data.EducationConfig(n_learners=30, n_courses=20, n_skills=8, seed=3)
    a, b = education_data.build(cfg), education_data.build(cfg)
    assert a.tables == b.tables and a.truth == b.truth
    assert education_data.build(education_data.EducationConfig(n_learners=30, n_courses=20, n_skills=8,
                                                               seed=4)).tables != a.tables
    topics = {t["id"]: t for t in a.tables["topics"]}
    skills = [t for t in topics.values() if t["kind"] == "skill"]
    assert len(skills) == 8 and all(topics[s["parent"]]["kind"] == "area" for s in skills)
    taught = {ct["topic"] for ct in a.tables["content_topics"]}
    assert taught == {s["id"] for s in skills}  # every skill has a course
    assert {c["kind"] for c in a.tables["content"]} == {"course"}
    assert {i["kind"] for i in a.tables["interactions"]} <= {"view", "like", "rate", "comment"}
    assert all(1 <= i["rating"] <= 5 for i in a.tables["interactions"] if i["kind"] == "rate")
    assert all(18 <= u["age"] <= 60 and u["occupation"] for u in a.tables["users"])
    declared = Counter(t["user"] for t in a.truth if t["declared"])
    assert declared == Counter(u["id"] for u in a.tables["users"])  # exactly one declared goal each


def test_education_config_rejects_bad_values():
    with pytest.raises(ValueError, match="n_courses must be >= n_skills"):
        education_data.EducationConfig(n_courses=5, n_skills=8)
    with pytest.raises(ValueError, match="n_skills must be in"):
        education_data.EducationConfig(n_skills=99)


def test_scores_at_k_by_hand():
    truth = {"a": {"x", "y"}, "b": {"z"}}
    ranked = {"a": ["x", "q", "y", "w"], "b": ["q", "w"]}
    s = recovery.scores_at_k(ranked, truth, 2)
    assert s["precision"] == pytest.approx((1 / 2 + 0) / 2)
    assert s["recall"] == pytest.approx((1 / 2 + 0) / 2)
    assert s["ceiling"] == pytest.approx((2 / 2 + 1 / 2) / 2)
    assert recovery.scores_at_k({}, truth, 2)["precision"] == 0.0
    with pytest.raises(ValueError):
        recovery.scores_at_k(ranked, truth, 0)


def test_taken_port_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("IKG_NEO4J_DIR", str(tmp_path))
    info = scenarios.get("education").info
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        cfg = server_config(info, bolt_port=port)
        assert cfg.home == tmp_path / "scenarios" / "education" and cfg.http_port == info.http_port
        with pytest.raises(ServerError, match=rf"scenario 'education' .* Bolt port {port}.*--bolt-port"):
            ensure_server(info, cfg)


def test_external_server_needs_use_external(monkeypatch, caplog):
    monkeypatch.setenv("NEO4J_URI", "bolt://127.0.0.1:1")
    with caplog.at_level(logging.ERROR, logger="ikg"):
        assert cli.main(["scenario", "run", "education", "--size", "ci"]) == 2
    assert "--use-external" in caplog.text and "replaces the active model run" in caplog.text
    with caplog.at_level(logging.ERROR, logger="ikg"):
        assert cli.main(["scenario", "run", "education", "--use-external", "--fresh"]) == 2
    assert "would delete everything" in caplog.text


def test_education_ci_run_end_to_end(graph, tmp_path, monkeypatch):
    monkeypatch.setenv("IKG_HOME", str(tmp_path))
    cfg = ScenarioConfig(name="education", size="ci", threads=1, state_dir=tmp_path / "state")
    result = scenarios.get("education").run(graph, cfg)
    assert [s.name for s in result.stages] == [
        "apply schema", "build courses and learners", "ingest courses and learners", "declare goal skills",
        "export snapshot", "train sage", "write back interests", "read the facts"]
    assert not any(s.skipped for s in result.stages)
    data, text = result.data, "\n".join(result.facts)

    # the example learner is the one with the most interactions (ties: smallest id)
    counts = {r["user"]: r["n"] for r in graph.read(INTERACTION_COUNTS)}
    assert len(counts) == 40
    assert data["user"] == min(counts, key=lambda u: (-counts[u], u))
    user = data["user"]

    # the printed profile is the active run's INTERESTED_IN, in rank order
    edges = graph.read(ACTIVE_INTERESTS)
    mine = sorted((e for e in edges if e["user"] == user), key=lambda e: e["rank"])
    shown = sorted((r for r in data["profile"] if r["model_rank"] is not None), key=lambda r: r["model_rank"])
    assert [r["topic_id"] for r in shown] == [e["topic"] for e in mine[:len(shown)]] and shown
    for r in data["profile"]:
        assert f"    {r['topic']:<22} model" in text

    # recommended next courses are the active run's MAY_LIKE; each lists the skills the course teaches
    may_like = graph.read(ACTIVE_MAY_LIKE, user_id=user)
    assert [r["content_id"] for r in data["recommendations"]] == [m["content_id"] for m in may_like[:5]]
    for rec in data["recommendations"]:
        assert f"#{rec['rank']} {rec['title']}" in text
        skills = {r["skill"] for r in graph.read(COURSE_SKILLS, content_id=rec["content_id"])}
        assert {s["skill_id"] for s in data["builds_on"][rec["content_id"]]} == skills

    # one declared goal per learner, as in the truth file
    with (cfg.data_dir / "truth" / "learner_skills.csv").open() as fh:
        truth_rows = list(csv.DictReader(fh))
    declared = {(r["user"], r["skill"]) for r in truth_rows if r["declared"] == "True"}
    assert {(r["user"], r["skill"]) for r in graph.read(DECLARED)} == declared

    # recovery: recompute the model's precision@3 from the edges and the truth file
    truth: dict[str, set[str]] = {}
    for r in truth_rows:
        truth.setdefault(r["user"], set()).add(r["skill"])
    ranked: dict[str, list[tuple[int, str]]] = {}
    for e in edges:
        if e["kind"] == "skill":
            ranked.setdefault(e["user"], []).append((e["rank"], e["topic"]))
    precision = sum(len({t for _, t in sorted(ranked.get(u, []))[:3]} & true) / 3 for u, true in truth.items())
    assert data["recovery"]["model"]["precision"] == pytest.approx(precision / len(truth))
    assert f"{data['recovery']['model']['precision']:12.3f}" in text

    # a rerun skips every data stage and keeps the run
    again = scenarios.get("education").run(graph, cfg)
    assert [s.skipped for s in again.stages[1:-1]] == [True] * 6
    assert again.run_id == result.run_id and again.data["profile"] == data["profile"]

    # a changed training config retrains (and writes back) without re-ingesting
    changed = scenarios.get("education").run(graph, replace(cfg, epochs=2))
    assert {s.name: s.skipped for s in changed.stages[1:-1]} == {
        "build courses and learners": True, "ingest courses and learners": True, "declare goal skills": True,
        "export snapshot": True, "train sage": False, "write back interests": False}
    assert changed.run_id != result.run_id


def test_demo_keeps_its_stages_on_the_shared_pipeline(tmp_path, monkeypatch):
    from jobs.demo import Demo, DemoConfig, Pipeline

    seen: list[str] = []
    monkeypatch.setattr(Pipeline, "stage", lambda self, name, done, run: seen.append(name))
    demo = Demo(object(), DemoConfig(state_dir=tmp_path))
    result = demo.run()
    assert seen == ["apply schema", "ingest MovieLens-100K", "ingest multimodal sample", "discover topics",
                    "export snapshot", "train sage (dgl)", "evaluate vs baselines", "write back interests", "report",
                    "start API"]
    assert result.stages is demo.stages
    assert demo.train_config().model == "sage" and demo.name == "demo"


def test_shared_skip_checks_on_an_empty_graph(graph, tmp_path):
    from jobs.demo import Pipeline

    p = Pipeline(graph, tmp_path, "empty")
    assert p.movielens_done() is False  # used to raise IndexError on an empty graph
    assert p.counted_done("ingested") is False and p.snapshot_done() is False and p.run_done() is False
