"""Topic discovery: a tiny planted corpus is recovered (k-means and LDA), names carry the planted
words, re-discovery swaps topics atomically under simulated crashes, communities via GDS and via
the networkx fallback (forced, and automatic on a server without GDS), the Cypher library query,
CJK tokens, and the Browser caption."""
from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pytest

import cli
from discovery import communities, text
from discovery.cluster import DiscoveryConfig, discover
from discovery.metrics import agreement, purity
from graph import library, server
from graph import topics as gt
from graph.browser import ASSETS_DIR
from graph.db import Graph
from graph.errors import GraphError
from graph.settings import Neo4jSettings
from jobs import topics as jt

# Planted world: 4 leaf topics under 2 parents; each item's text mixes 4 core words of its leaf,
# 1 word of its parent and 2 filler words; its embedding is its leaf's centre (its parent's centre
# plus an offset) plus noise.
LEAVES = {
    "astronomy": ("science", "telescope galaxy nebula comet orbit asteroid"),
    "chemistry": ("science", "molecule catalyst solvent beaker acid reaction"),
    "jazz": ("music", "saxophone trumpet bebop improvisation swing bassline"),
    "guitar": ("music", "chord fretboard amplifier riff strum pedalboard"),
}
PARENT_WORDS = {"science": "research experiment theory", "music": "concert melody rhythm"}
FILLER = "today people really nice story great".split()
PER_LEAF, DIM, USERS_PER_PARENT = 15, 384, 12

SEED_CONTENT = """
UNWIND $rows AS row
CREATE (c:Content {id: row.id, title: row.title, text: row.text})
WITH c, row CALL db.create.setNodeVectorProperty(c, 'emb_text', row.emb)
"""
SEED_USERS = """
UNWIND $rows AS row
CREATE (u:User {id: row.user})
WITH u, row UNWIND row.items AS item
MATCH (c:Content {id: item})
CREATE (u)-[:INTERACTED {kind: 'view', weight: 1.0, ts: datetime('2026-01-01T00:00:00Z')}]->(c)
"""
TOPICS_BY_LEVEL = "MATCH (t:Topic {source: 'discovered'}) RETURN t.level AS level, count(t) AS n ORDER BY level"
VISIBLE_RUNS = "MATCH (t:Topic {source: 'discovered'}) RETURN collect(DISTINCT t.discovery_run) AS runs"
HIDDEN = "RETURN COUNT { (:TopicStaged) } AS staged, COUNT { (:TopicRetired) } AS retired"


def planted(seed: int = 0) -> tuple[list[dict], dict[str, str], dict[str, str]]:
    """Content rows, item → planted leaf, item → planted parent."""
    rng = np.random.default_rng(seed)
    parents = {p: rng.normal(size=DIM) for p in PARENT_WORDS}
    centres = [parents[p] + 0.7 * rng.normal(size=DIM) for p, _ in LEAVES.values()]
    rows, leaf_of, parent_of = [], {}, {}
    for t, (leaf, (parent, words)) in enumerate(LEAVES.items()):
        for j in range(PER_LEAF):
            cid = f"c-{leaf}-{j:02d}"
            body = list(rng.choice(words.split(), 4)) + list(rng.choice(PARENT_WORDS[parent].split(), 1)) \
                + list(rng.choice(FILLER, 2))
            emb = centres[t] + 0.5 * rng.normal(size=DIM)
            rows.append({"id": cid, "title": f"{leaf} item {j}", "text": " ".join(body), "emb": emb.tolist()})
            leaf_of[cid], parent_of[cid] = leaf, parent
    return rows, leaf_of, parent_of


def seed(g: Graph) -> tuple[dict[str, str], dict[str, str]]:
    rows, leaf_of, parent_of = planted()
    g.write(SEED_CONTENT, rows=rows)
    by_parent: dict[str, list[str]] = {}
    for cid, p in parent_of.items():
        by_parent.setdefault(p, []).append(cid)
    rng = np.random.default_rng(1)
    users = [{"user": f"u-{p}-{i}", "items": list(rng.choice(items, 8, replace=False))}
             for p, items in sorted(by_parent.items()) for i in range(USERS_PER_PARENT)]
    g.write(SEED_USERS, rows=users)
    return leaf_of, parent_of


def codes(ids: list[str]) -> list[int]:
    """Labels as integer codes (agreement() takes integer clusters)."""
    index: dict[str, int] = {}
    return [index.setdefault(i, len(index)) for i in ids]


CFG = DiscoveryConfig(method="kmeans", modality="text", k=4, parents=2, seed=0)


# ---------------------------------------------------------------- pure compute
def test_tokenize_words_and_cjk_bigrams():
    assert text.tokenize("The Galaxy, a comet & 42 stars!") == ["galaxy", "comet", "stars"]
    assert text.tokenize("机器学习 和 AI") == ["机器", "器学", "学习", "和", "ai"]


def test_chinese_topics_are_named_by_character_bigrams():
    rng = np.random.default_rng(3)
    themes = {"天文": ["望远镜", "银河系", "行星"], "烹饪": ["菜谱", "烤箱", "大蒜"]}
    texts, truth = [], []
    for i in range(40):
        name = list(themes)[i % 2]
        texts.append("今天" + "".join(rng.choice(themes[name], 3)) + "很好")  # no spaces, like real Chinese text
        truth.append(name)
    h = discover(texts, None, DiscoveryConfig(method="lda", k=2, parents=1, lda_min_df=1, lda_max_df=0.9))
    assert agreement(truth, h.labels)["ami"] > 0.8  # chance is 0; words straddling bigrams add noise
    for t in range(2):
        name = Counter(truth[i] for i in np.flatnonzero(h.labels == t)).most_common(1)[0][0]
        bigrams = {w[j:j + 2] for w in themes[name] for j in range(len(w) - 1)}
        assert set(h.leaves.terms[t]) <= bigrams, (name, h.leaves.terms[t])


def test_ctfidf_prefers_distinctive_words():
    counts = np.array([[5, 5, 0], [0, 5, 5]])  # "shared" is in both classes
    terms = text.top_terms(text.ctfidf(counts), ["alpha", "shared", "omega"], n=1)
    assert terms == [["alpha"], ["omega"]]


@pytest.mark.parametrize("method", ["kmeans", "lda"])
def test_planted_corpus_is_recovered(method):
    rows, leaf_of, parent_of = planted()
    texts = [f"{r['title']} {r['text']}" for r in rows]
    h = discover(texts, np.array([r["emb"] for r in rows]), DiscoveryConfig(method=method, k=4, parents=2))
    truth = [leaf_of[r["id"]] for r in rows]
    score = agreement(truth, h.labels)
    assert score["ami"] > (0.95 if method == "kmeans" else 0.7), score
    assert agreement([parent_of[r["id"]] for r in rows], h.parent_labels)["ami"] > 0.6
    for t in range(4):  # each topic's name uses the core words of its majority planted leaf
        members = [truth[i] for i in np.flatnonzero(h.labels == t)]
        leaf = Counter(members).most_common(1)[0][0]
        assert set(h.leaves.names[t].split(text.NAME_SEPARATOR)) & set(LEAVES[leaf][1].split()), h.leaves.names
        assert all(truth[i] == leaf for i in h.leaves.representatives[t][:3])


def test_config_and_metrics_reject_bad_input():
    with pytest.raises(ValueError, match="method must be one of kmeans, lda"):
        DiscoveryConfig(method="dbscan")
    with pytest.raises(ValueError, match=r"parents \(5\) must not exceed k \(3\)"):
        DiscoveryConfig(k=3, parents=5)
    with pytest.raises(ValueError, match="3 content items cannot form 4 topics"):
        discover(["a b", "c d", "e f"], np.eye(3), DiscoveryConfig(k=4))
    with pytest.raises(ValueError, match="2 true labels but 3 predictions"):
        agreement(["a", "b"], [0, 1, 1])
    assert purity(["a", "a", "b", "b"], [0, 0, 0, 1]) == 0.75
    assert agreement(["a", None, "b"], [0, 1, -1])["items"] == 1


def test_cooccurrence_ppmi_drops_pairs_explained_by_popularity():
    baskets = [["a", "b", "pop"], ["a", "b", "pop"], ["c", "d", "pop"], ["c", "d", "pop"], ["a", "pop"]]
    nodes, edges = communities.cooccurrence(baskets)
    assert nodes == ["a", "b", "c", "d", "pop"]
    assert {(a, b) for a, b, _ in edges} == {("a", "b"), ("c", "d")}  # "pop" is in every basket: PMI 0
    counts = dict(((a, b), w) for a, b, w in communities.cooccurrence(baskets, weighting="count")[1])
    assert counts[("a", "pop")] == 3 and counts[("a", "b")] == 2
    with pytest.raises(ValueError, match="weighting must be one of ppmi, count"):
        communities.cooccurrence(baskets, weighting="jaccard")


def test_louvain_fallback_and_renumbering():
    edges = [("a", "b", 5), ("b", "c", 5), ("a", "c", 5), ("d", "e", 5), ("e", "f", 5), ("d", "f", 5), ("c", "d", 1)]
    found = communities.louvain(list("abcdefg"), edges, seed=1)
    assert found["a"] == found["b"] == found["c"] != found["d"] == found["e"] == found["f"]
    assert found["g"] == 2  # isolated: smallest community, numbered last
    assert communities.renumber({"x": 7, "y": 7, "z": 3}) == {"x": 0, "y": 0, "z": 1}


# ---------------------------------------------------------------- graph
def test_discovery_writes_named_topics_links_and_representatives(graph):
    leaf_of, parent_of = seed(graph)
    out = jt.discover_topics(graph, CFG, progress=False)
    assert graph.read(TOPICS_BY_LEVEL) == [{"level": 0, "n": 4}, {"level": 1, "n": 2}]
    got = gt.content_topics(graph)
    assert len(got["content"]) == len(leaf_of)
    assert agreement([leaf_of[c] for c in got["content"]], codes(got["topic"]))["ami"] > 0.95
    assert agreement([parent_of[c] for c in got["content"]], codes(got["parent"]))["ami"] > 0.95
    listed = gt.list_topics(graph)
    assert {t["run"] for t in listed} == {out.run_id}
    for t in listed:
        assert len(t["representatives"]) == 5 and t["name"]
        if t["level"] == 0:
            leaf = leaf_of[next(c for c in got["content"] if got["topic"][got["content"].index(c)] == t["id"])]
            assert set(t["name"].split(" / ")) & set(LEAVES[leaf][1].split()), t
            assert t["parent"] is not None
    # every leaf's representatives are members of that leaf
    reps = graph.read("MATCH (c:Content)-[r:REPRESENTATIVE_OF]->(t:Topic {level: 0}) "
                      "RETURN c.id AS c, t.id AS t, EXISTS { (c)-[:HAS_TOPIC]->(t) } AS member")
    assert len(reps) == 20 and all(r["member"] for r in reps)
    run = gt.active_run(graph)
    assert run["id"] == out.run_id and run["state"] == "ready" and run["topics"] == 6


def test_lda_run_in_the_graph_and_export_includes_it(graph, tmp_path):
    from graph.export import ExportConfig, export_snapshot

    leaf_of, _ = seed(graph)
    jt.discover_topics(graph, DiscoveryConfig(method="lda", k=4, parents=2, seed=0), progress=False)
    got = gt.content_topics(graph)
    assert agreement([leaf_of[c] for c in got["content"]], codes(got["topic"]))["ami"] > 0.7
    snap = export_snapshot(graph, ExportConfig())
    topic_ids = set(snap.node_ids["Topic"].tolist())
    assert len(topic_ids) == 6 and all(t.startswith("discovered:") for t in topic_ids)
    assert len(snap.edges[("Content", "HAS_TOPIC", "Topic")]["src"]) >= len(leaf_of)


def test_discovered_topics_drive_interests_like_any_topic(graph):
    from graph.read import Page, topic_users, user_interests

    _, parent_of = seed(graph)
    jt.discover_topics(graph, CFG, progress=False)
    got = gt.content_topics(graph)
    topic_parent = {t: parent_of[c] for c, t in zip(got["content"], got["topic"])}
    interests = user_interests(graph, "u-music-0", Page(10), 30.0)
    assert interests["strategy"] == "decayed" and interests["items"]
    assert {topic_parent[i["topic"]] for i in interests["items"]} == {"music"}
    users = topic_users(graph, interests["items"][0]["topic"], Page(50), 30.0)["items"]
    assert users and all(u["user"].startswith("u-music-") for u in users)


class Crash(RuntimeError):
    pass


def _raise(*args, **kwargs):
    raise Crash("simulated crash")


def _visible(g: Graph) -> list[str]:
    return g.read(VISIBLE_RUNS)[0]["runs"]


@pytest.mark.parametrize("step", ["create_topics", "create_links", "finish_run", "flip"])
def test_crash_before_flip_leaves_the_old_topics_fully_visible(graph, monkeypatch, step):
    seed(graph)
    first = jt.discover_topics(graph, CFG, run_id="run-a", progress=False)
    before = graph.read(gt.CONTENT_TOPICS)
    monkeypatch.setattr(gt, step, _raise)
    with pytest.raises(Crash):
        jt.discover_topics(graph, DiscoveryConfig(method="kmeans", modality="text", k=3, parents=1),
                           run_id="run-b", progress=False)
    monkeypatch.undo()
    assert _visible(graph) == [first.run_id]
    assert graph.read(gt.CONTENT_TOPICS) == before
    assert gt.active_run(graph)["id"] == "run-a"
    # the next run sweeps the leftovers and takes over
    jt.discover_topics(graph, CFG, run_id="run-c", progress=False)
    assert _visible(graph) == ["run-c"] and graph.read(HIDDEN) == [{"staged": 0, "retired": 0}]
    states = {r["id"]: r["state"] for r in gt.list_runs(graph)}
    assert states == {"run-a": "retired", "run-b": "failed", "run-c": "ready"}


def test_crash_after_flip_shows_the_new_topics_and_the_next_run_cleans_up(graph, monkeypatch):
    seed(graph)
    jt.discover_topics(graph, CFG, run_id="run-a", progress=False)
    monkeypatch.setattr(gt, "retire", _raise)
    with pytest.raises(Crash):
        jt.discover_topics(graph, CFG, run_id="run-b", progress=False)
    monkeypatch.undo()
    assert _visible(graph) == ["run-b"] and graph.read(HIDDEN)[0]["retired"] == 6
    assert graph.read(TOPICS_BY_LEVEL) == [{"level": 0, "n": 4}, {"level": 1, "n": 2}]
    jt.discover_topics(graph, CFG, run_id="run-c", progress=False)
    assert _visible(graph) == ["run-c"] and graph.read(HIDDEN) == [{"staged": 0, "retired": 0}]
    assert graph.read("MATCH ()-[r:HAS_TOPIC]->() RETURN count(r) AS n")[0]["n"] == 4 * PER_LEAF


def test_clear_errors_before_there_is_anything_to_discover(graph):
    with pytest.raises(GraphError, match="the graph has no Content"):
        jt.discover_topics(graph, CFG, progress=False)
    seed(graph)
    with pytest.raises(GraphError, match="no content has emb_image: ingest with embeddings, or pick another"):
        jt.discover_topics(graph, DiscoveryConfig(modality="image", k=4), progress=False)
    with pytest.raises(GraphError, match="60 content items cannot form 80 topics"):
        jt.discover_topics(graph, DiscoveryConfig(modality="text", k=80), progress=False)
    with pytest.raises(GraphError, match="no topics with source 'discovered' and level 0 carry content"):
        jt.topic_communities(graph)
    assert gt.active_run(graph) is None and gt.list_topics(graph) == []


def test_other_topics_are_left_alone(graph):
    seed(graph)
    graph.write("CREATE (t:Topic {id: 'genre:jazz', name: 'Jazz', source: 'genre'}) WITH t "
                "MATCH (c:Content) WHERE c.id STARTS WITH 'c-jazz' CREATE (c)-[:HAS_TOPIC {weight: 1.0}]->(t)")
    for run in ("run-a", "run-b"):
        jt.discover_topics(graph, CFG, run_id=run, progress=False)
    rows = graph.read("MATCH (t:Topic {source: 'genre'})<-[h:HAS_TOPIC]-() RETURN count(h) AS n")
    assert rows == [{"n": PER_LEAF}]


@pytest.mark.parametrize("backend", ["gds", "networkx"])
def test_communities_recover_the_planted_parents(graph, backend):
    _, parent_of = seed(graph)
    jt.discover_topics(graph, CFG, progress=False)
    out = jt.topic_communities(graph, backend=backend, via="users")
    assert out.backend.startswith(backend) and out.n_communities == 2 and not out.message
    got = gt.content_topics(graph)
    assert agreement([parent_of[c] for c in got["content"]], got["community"])["ami"] > 0.95
    written = graph.read("MATCH (t:Topic {source: 'discovered', level: 0}) RETURN t.id AS id, t.community AS c")
    assert {r["id"]: r["c"] for r in written} == out.assignment


def test_gds_and_networkx_agree_and_fallback_is_automatic(graph, monkeypatch):
    seed(graph)
    jt.discover_topics(graph, CFG, progress=False)
    gds = jt.topic_communities(graph, backend="auto", via="users", write=False)
    assert gds.backend.startswith("gds-")
    assert graph.read("CALL gds.graph.list() YIELD graphName RETURN count(*) AS n") == [{"n": 0}]
    monkeypatch.setattr(gt, "gds_version", lambda g: None)  # a server without the plugin
    fallback = jt.topic_communities(graph, backend="auto", via="users", write=False)
    assert fallback.backend == "networkx" and "not installed" in fallback.message
    assert agreement(list(gds.assignment.values()), [fallback.assignment[t] for t in gds.assignment])["ami"] == 1.0
    with pytest.raises(GraphError, match="Graph Data Science plugin is not installed"):
        jt.topic_communities(graph, backend="gds")


@pytest.mark.slow
def test_server_without_gds_falls_back_with_a_clear_message(tmp_path, caplog):
    with server.throwaway(tmp_path / "neo4j", heap="512m", pagecache="64m", plugins=False) as cfg, \
            Graph.connect(Neo4jSettings.for_server(cfg)) as g:
        seed(g)
        jt.discover_topics(g, CFG, progress=False)
        assert gt.gds_version(g) is None
        out = jt.topic_communities(g, via="users")
        assert out.backend == "networkx" and out.n_communities == 2
        assert "Graph Data Science plugin is not installed" in caplog.text


def test_library_query_lists_discovered_topics(graph):
    leaf_of, _ = seed(graph)
    jt.discover_topics(graph, CFG, progress=False)
    query = library.load()["discovered_topics"]
    rows = library.run(graph, query, {})
    assert [r["level"] for r in rows].count(1) == 2 and len(rows) == 6
    assert rows[0]["level"] == 1 and rows[0]["parent_id"] is None
    by_id = {r["topic_id"]: r for r in rows}
    for r in rows:
        assert len(r["representatives"]) == 3
        if r["level"] == 0:
            assert by_id[r["parent_id"]]["topic"] == r["parent"]
    assert sum(r["items"] for r in rows if r["level"] == 0) == len(leaf_of)
    assert sum(r["items"] for r in rows if r["level"] == 1) == len(leaf_of)
    assert [r["topic_id"] for r in library.run(graph, query, {"level": 0})] == \
        [r["topic_id"] for r in rows if r["level"] == 0]


def test_cli_discover_communities_list(graph, neo4j_settings, monkeypatch, capsys):
    seed(graph)
    monkeypatch.setenv("NEO4J_URI", neo4j_settings.uri)
    monkeypatch.setenv("NEO4J_USERNAME", neo4j_settings.username)
    monkeypatch.setenv("NEO4J_PASSWORD", neo4j_settings.password)
    monkeypatch.setenv("NEO4J_DATABASE", neo4j_settings.database)
    assert cli.main(["topics", "discover", "--modality", "text", "--k", "4", "--parents", "2", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"discovered 4 topics under 2 parents", out) and "astronomy item" in out
    assert cli.main(["topics", "communities", "--backend", "networkx"]) == 0
    assert "2 communities" in capsys.readouterr().out
    assert cli.main(["topics", "list", "--json"]) == 0
    assert '"community"' in capsys.readouterr().out


def test_browser_style_captions_topics_by_name():
    style = (ASSETS_DIR / "style.grass").read_text()
    block = re.search(r"node\.Topic \{(.*?)\n\}", style, re.S).group(1)
    assert "caption: '{name}'" in block
    assert re.search(r"relationship\.REPRESENTATIVE_OF \{[^}]*caption:", style)
