"""The Cypher library: header parsing and parameter validation (pure), every query run on the known
graph with its documented columns, exact answers recomputed in Python from the fixture's data,
the CLI, the generated docs, and the clear error when a plugin is missing."""
from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

import pytest

import cli
from graph import browser, library, library_docs, library_format
from graph.errors import GraphError, InputError
from tests import known_graph as kg

QUERIES = library.load()
T = lambda s: datetime.fromisoformat(s).replace(tzinfo=timezone.utc)  # noqa: E731

# Parameters that make every query return rows on the known graph. A new library query must add
# a case here (test_every_query_has_a_case), so CI runs it.
CASES = {
    "cohort_top_topics": {"cohort": "occupation", "k": 10},
    "compare_runs": {},
    "compare_runs_rank_changes": {},
    "data_quality": {},
    "discovered_topics": {"source": "genre"},  # discovered topics: tests/test_topics.py
    "explain_may_like": {"user_id": "u1", "content_id": "c6"},
    "graph_summary": {},
    "influencers": {},
    "model_runs": {},
    "recommendation_coverage": {},
    "recommendation_coverage_diversity": {},
    "similar_content": {"content_id": "c1"},
    "similar_users": {"user_id": "u1"},
    "topic_communities": {},
    "topic_cooccurrence": {},
    "topic_top_users": {"topic_id": "t:comedy"},
    "user_interest_drift": {"user_id": "u1", "a_start": "2026-01-01", "a_end": "2026-02-01",
                            "b_start": "2026-02-15", "b_end": "2026-03-15"},
    "user_neighbourhood": {"user_id": "u1"},
    "user_top_interests": {"user_id": "u1"},
}

HEADER = """// A title.
//
// What it does.
//
// @param user_id: string            the user
// @param k: int = 10                how many
// @param by: string in (a, b) = a   which
// @param since: datetime = null     from when
// @param ids: list<int> = 1,2       some ids
// @param flag: bool = false         a flag
// @column x: int                    x
// @example ikg cypher run demo --param user_id=1
"""
BODY = "MATCH (u:User {id: $user_id}) WHERE $flag OR $since IS NULL OR $by = 'a' OR size($ids) > 0 RETURN $k AS x\n"


def demo_query() -> library.LibraryQuery:
    return library.parse(HEADER + BODY, Path("demo.cypher"))


# ---------------------------------------------------------------- headers (pure)
def test_every_query_has_a_case():
    assert set(CASES) == set(QUERIES)


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_headers_are_complete(name):
    q = QUERIES[name]
    assert q.title and q.description and q.columns
    assert q.examples and all(f"ikg cypher run {name}" in e for e in q.examples)
    assert all(p.doc for p in q.params) and all(c.doc for c in q.columns)
    for example in q.examples:  # the documented example binds
        args = example.split()
        library.bind(q, library.parse_assignments([args[i + 1] for i, a in enumerate(args) if a == "--param"]))


def test_parse_reads_params_columns_and_defaults():
    q = demo_query()
    assert [p.name for p in q.params] == ["user_id", "k", "by", "since", "ids", "flag"]
    assert q.param("user_id").required and q.param("k").default == 10
    assert q.param("by").choices == ("a", "b") and q.param("since").default is None
    assert q.param("ids").default == [1, 2] and q.param("flag").default is False
    assert q.column_names == ["x"] and q.text == BODY.strip()


@pytest.mark.parametrize("header, body, message", [
    (HEADER.replace("int = 10", "integer = 10"), BODY, "unknown parameter type"),
    (HEADER.replace("int = 10", "int = ten"), BODY, "bad default"),
    (HEADER.replace("= a   which", "= c   which"), BODY, "default is not one of"),
    (HEADER, BODY.replace("$k", "$limit"), r"undeclared parameters \['limit'\]"),
    (HEADER, BODY.replace("RETURN $k", "RETURN 1"), r"never uses: \['k'\]"),
    (HEADER + "// @returns x\n", BODY, "unknown header tag"),
    (HEADER + "// @requires spark\n", BODY, "unknown plugin"),
    (HEADER.replace("// @column x: int                    x\n", ""), BODY, "no returned @column"),
    (HEADER + "// @param k: int = 1  again\n", BODY, "declared twice"),
    ("MATCH (n) RETURN n\n", "", "first line must be"),
])
def test_parse_rejects_bad_headers(header, body, message):
    with pytest.raises(InputError, match=message) as err:
        library.parse(header + body, Path("bad.cypher"))
    assert "bad.cypher" in str(err.value)


def test_parse_error_names_the_line():
    with pytest.raises(InputError, match=r"file bad.cypher, line 6, field 'k'"):
        library.parse(HEADER.replace("int = 10", "int = ten"), Path("bad.cypher"))


# ---------------------------------------------------------------- parameters (pure)
def test_bind_types_strings_and_applies_defaults():
    q = demo_query()
    bound = library.bind(q, {"user_id": "7", "k": "3", "since": "2026-01-02", "ids": "4, 5", "flag": "yes"})
    assert bound == {"user_id": "7", "k": 3, "by": "a", "since": T("2026-01-02T00:00:00"), "ids": [4, 5],
                     "flag": True}
    assert library.bind(q, {"user_id": "7", "since": "2026-01-02T10:00:00+02:00"})["since"].utcoffset().seconds == 7200
    assert library.bind(q, {"user_id": "7", "ids": "[6, 7]"})["ids"] == [6, 7]
    assert library.bind(q, {"user_id": "7", "k": 4, "flag": False})["k"] == 4  # typed Python values


@pytest.mark.parametrize("given, message", [
    ({"user_id": "1", "limit": "5"}, r"no parameter 'limit'; valid parameters: user_id: string, k: int = 10"),
    ({}, r"needs parameter 'user_id' \(string\); valid parameters: user_id"),
    ({"user_id": "1", "k": "ten"}, r"parameter 'k': expected int, got 'ten'"),
    ({"user_id": "1", "k": True}, r"parameter 'k': expected int"),
    ({"user_id": "1", "k": "2.5"}, r"parameter 'k': expected int"),
    ({"user_id": "1", "by": "c"}, r"parameter 'by' must be one of a, b; got 'c'"),
    ({"user_id": "1", "since": "yesterday"}, r"parameter 'since': expected datetime"),
    ({"user_id": "1", "flag": "maybe"}, r"parameter 'flag': expected bool"),
    ({"user_id": "1", "ids": "1,x"}, r"parameter 'ids': expected int, got 'x'"),
    ({"user_id": 1}, r"parameter 'user_id': expected string, got 1"),
])
def test_bind_rejects_bad_parameters(given, message):
    with pytest.raises(InputError, match=message):
        library.bind(demo_query(), given)


@pytest.mark.parametrize("pairs, message", [(["k"], "NAME=VALUE"), (["=3"], "NAME=VALUE"),
                                            (["k=1", "k=2"], "given twice")])
def test_parse_assignments_rejects(pairs, message):
    with pytest.raises(InputError, match=message):
        library.parse_assignments(pairs)


def test_get_unknown_query_lists_names():
    with pytest.raises(InputError, match=r"no library query 'nope'; available: cohort_top_topics, compare_runs"):
        library.get("nope")


class RecordingGraph:
    """Stands in for graph.db.Graph: records reads; the GDS probe fails as on a server without GDS."""

    uri = "neo4j://example:7687"

    def __init__(self, has_gds: bool):
        self.has_gds, self.calls = has_gds, []

    def read(self, query, **params):
        self.calls.append((query, params))
        if "gds.version" in query and not self.has_gds:
            raise GraphError("Unknown function 'gds.version'")
        return []


def test_missing_gds_gives_a_clear_error_before_running():
    g = RecordingGraph(has_gds=False)
    with pytest.raises(GraphError, match=r"'topic_communities' needs the Graph Data Science \(gds\.\*\) plugin, "
                                         r"which is not installed on neo4j://example:7687"):
        library.run(g, QUERIES["topic_communities"])
    assert len(g.calls) == 1  # only the probe


def test_values_travel_as_parameters_never_in_the_text():
    g = RecordingGraph(has_gds=True)
    evil = "x'}) DETACH DELETE u //"
    library.run(g, QUERIES["user_top_interests"], {"user_id": evil, "k": "3"})
    query, params = g.calls[-1]
    assert query == QUERIES["user_top_interests"].text and evil not in query
    assert params == {"user_id": evil, "k": 3, "half_life_days": 30.0}


# ---------------------------------------------------------------- output and docs (pure)
def test_render_formats():
    node, rel = {"id": "u1", "emb": [0.1] * 20}, ({"id": "u1"}, "LIKES", {"id": "c1"})
    rows = [{"a": 1.23456, "n": node, "r": rel, "p": [{"id": "u1"}, "LIKES", {"id": "c1"}], "v": [0.5] * 64}]
    table = library_format.render(rows, ["a", "n", "r", "p", "v"], "table").splitlines()
    assert table[0].split() == ["a", "n", "r", "p", "v"]
    assert table[2].split() == ["1.235", "(u1)", "(u1)-[:LIKES]->(c1)", "(u1)-[:LIKES]-(c1)", "[64", "numbers]"]
    assert table[-1] == "(1 row)"
    parsed = list(csv.reader(io.StringIO(library_format.render(rows, ["a", "r"], "csv"))))
    assert parsed == [["a", "r"], ["1.235", "(u1)-[:LIKES]->(c1)"]]
    assert json.loads(library_format.render(rows, ["n"], "json")) == [{"n": node}]
    with pytest.raises(ValueError, match="format must be one of"):
        library_format.render(rows, ["a"], "xml")


def test_generated_docs_are_current():
    assert library_docs.stale() == [], "run `ikg cypher docs` and commit cypher/README.md and the guide"
    readme = library_docs.README.read_text()
    for name in QUERIES:
        assert f"### {name}" in readme


def test_guide_sets_every_parameter_of_its_queries():
    guide = (browser.ASSETS_DIR / browser.GUIDE_FILE).read_text()
    assert "{{" not in guide
    q = QUERIES["user_neighbourhood"]
    commands = browser.param_commands(q, {"user_id": "'u1'"})
    assert commands.splitlines() == [":param user_id => 'u1';", ":param k => 5;", ":param recent => 8;",
                                     ":param recs => 3;"]
    assert browser.param_commands(q, {"user_id": "keep"}).startswith(":param k => 5;")
    with pytest.raises(KeyError, match="needs a value for 'user_id'"):
        browser.param_commands(q, {})
    with pytest.raises(KeyError, match="unknown library query 'nope'"):
        browser.render_guide("{{ query nope }}", QUERIES)
    assert browser.cypher_literal("it's") == "'it\\'s'"
    assert browser.cypher_literal(T("2026-01-01T00:00:00")) == "datetime('2026-01-01T00:00:00+00:00')"


# ---------------------------------------------------------------- on the known graph
@pytest.fixture(scope="module")
def known(session_graph):
    session_graph.write("MATCH (n) DETACH DELETE n")
    kg.build(session_graph)
    return session_graph


def run(g, name, **params):
    return library.run(g, QUERIES[name], {**CASES[name], **params})


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_every_query_returns_its_documented_columns(known, name):
    rows = run(known, name)
    assert rows, f"{name} returned no rows on the known graph"
    assert all(list(row) == QUERIES[name].column_names for row in rows)


def _topics_of() -> dict[str, dict[str, float]]:
    return {cid: topics for cid, _, _, topics, _ in kg.CONTENT}


def decayed(user: str, half_life_days: float = 30.0) -> dict[str, float]:
    """THE decayed-interest definition, recomputed from the fixture's data."""
    events = [(c, w, ts) for u, c, _, w, _, ts in kg.INTERACTIONS if u == user]
    t_ref = max(ts for _, _, ts in events)
    out: dict[str, float] = defaultdict(float)
    for c, w, ts in events:
        decay = 0.5 ** ((t_ref - ts).total_seconds() / (half_life_days * 86400))
        for t, hw in _topics_of()[c].items():
            out[t] += w * hw * decay
    return out


def test_user_top_interests(known):
    rows = {r["topic_id"]: r for r in run(known, "user_top_interests", half_life_days=10.0)}
    expected_decayed = decayed("u1", 10.0)
    model = kg.INTERESTS[kg.ACTIVE_RUN]["u1"]
    assert set(rows) == set(expected_decayed) | {t for t, _ in model}
    for rank, (topic, score) in enumerate(model, start=1):
        assert rows[topic]["model_rank"] == rank and rows[topic]["model_score"] == pytest.approx(score)
    for rank, topic in enumerate(sorted(expected_decayed, key=lambda t: (-expected_decayed[t], t)), start=1):
        assert rows[topic]["decayed_rank"] == rank
        assert rows[topic]["decayed_score"] == pytest.approx(expected_decayed[topic])
    assert rows["t:space"]["model_rank"] is None  # old run's interest is not the active view
    assert [r["topic_id"] for r in run(known, "user_top_interests", k=1)] == ["t:drama", "t:comedy"]


def test_topic_top_users(known):
    by_model = run(known, "topic_top_users")
    assert [r["user_id"] for r in by_model] == ["u4", "u1", "u2"]
    by_decayed = run(known, "topic_top_users", by="decayed")
    expected = {u: decayed(u).get("t:comedy", 0.0) for u in ("u1", "u2", "u4")}
    assert [r["user_id"] for r in by_decayed] == sorted(expected, key=lambda u: -expected[u])
    for r in by_decayed:
        assert r["decayed_score"] == pytest.approx(expected[r["user_id"]])


def test_topic_cooccurrence_and_communities(known):
    rows = run(known, "topic_cooccurrence")
    content = [set(t) for t in _topics_of().values()]
    for r in rows:
        a, b = r["topic_a_id"], r["topic_b_id"]
        together = sum(1 for ts in content if {a, b} <= ts)
        either = sum(1 for ts in content if a in ts or b in ts)
        assert (r["together"], r["jaccard"]) == (together, pytest.approx(together / either))
    assert {(r["topic_a_id"], r["topic_b_id"]) for r in rows} == {("t:scifi", "t:space"), ("t:comedy", "t:drama")}
    genre_only = run(known, "topic_cooccurrence", source="genre")  # space is a kg topic
    assert [(r["topic_a_id"], r["topic_b_id"]) for r in genre_only] == [("t:comedy", "t:drama")]
    communities = run(known, "topic_communities")
    for algorithm in ("louvain", "leiden"):
        found = {frozenset(r["topic_ids"]) for r in communities if r["algorithm"] == algorithm}
        assert found == {frozenset({"t:scifi", "t:space"}), frozenset({"t:comedy", "t:drama"})}


def test_user_interest_drift(known):
    rows = run(known, "user_interest_drift")
    windows = {"a": (T("2026-01-01T00:00:00"), T("2026-02-01T00:00:00")),
               "b": (T("2026-02-15T00:00:00"), T("2026-03-15T00:00:00"))}
    shares = {}
    for key, (start, end) in windows.items():
        weights: dict[str, float] = defaultdict(float)
        for u, c, _, w, _, ts in kg.INTERACTIONS:
            if u == "u1" and start <= ts < end:
                for t, hw in _topics_of()[c].items():
                    weights[t] += w * hw
        shares[key] = {t: v / sum(weights.values()) for t, v in weights.items()}
    topics = set(shares["a"]) | set(shares["b"])
    assert {r["topic_id"] for r in rows} == topics
    for r in rows:
        assert r["share_a"] == pytest.approx(shares["a"].get(r["topic_id"], 0.0))
        assert r["share_b"] == pytest.approx(shares["b"].get(r["topic_id"], 0.0))
    drift = sum(abs(shares["a"].get(t, 0) - shares["b"].get(t, 0)) for t in topics) / 2
    assert all(r["drift"] == pytest.approx(drift) for r in rows)
    assert rows[0]["window_a"] == "2026-01-01T00:00:00Z/2026-02-01T00:00:00Z"


def test_cohort_top_topics(known):
    rows = run(known, "cohort_top_topics")
    occupation = {u: o for u, _, _, _, o, _ in kg.USERS}
    weights: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for u, c, _, w, _, _ in kg.INTERACTIONS:
        for t, hw in _topics_of()[c].items():
            weights[occupation[u]][t] += w * hw
    overall: dict[str, float] = defaultdict(float)
    for per in weights.values():
        for t, v in per.items():
            overall[t] += v
    grand = sum(overall.values())
    engineers = [r for r in rows if r["cohort"] == "engineer"]
    total = sum(weights["engineer"].values())
    assert engineers[0]["users"] == sum(1 for o in occupation.values() if o == "engineer")
    assert [r["topic_id"] for r in engineers] == sorted(weights["engineer"], key=lambda t: (-weights["engineer"][t], t))
    for r in engineers:
        share = weights["engineer"][r["topic_id"]] / total
        assert (r["share"], r["lift"]) == (pytest.approx(share), pytest.approx(share / (overall[r["topic_id"]] / grand)))
    assert "retired" not in {r["cohort"] for r in rows}  # Eve has no interactions
    assert {r["cohort"] for r in run(known, "cohort_top_topics", cohort="age_bucket")} == {"18-24", "25-34", "45-54"}


def test_vector_similarity(known):
    users = run(known, "similar_users")
    assert users[0]["user_id"] == "u3" and users[0]["shared_topics"] == ["Sci-Fi"]
    assert "u1" not in {r["user_id"] for r in users} and users[0]["similarity"] > users[1]["similarity"]
    content = run(known, "similar_content")
    assert content[0]["content_id"] == "c2" and content[0]["shared_topics"] == ["Sci-Fi", "Space"]
    assert run(known, "similar_content", content_id="c6") == []  # no embedding: no neighbours
    assert run(known, "similar_users", embedding="behavior") == []


def test_explain_may_like(known):
    rows = run(known, "explain_may_like")
    assert [(r["reason"], r["via_id"], r["strength"]) for r in rows] == [
        ("history", "c1", pytest.approx(1.0)), ("model interest", "t:scifi", pytest.approx(0.4)),
        ("history", "c2", pytest.approx(0.25))]
    assert rows[0]["rec_rank"] == 2 and rows[0]["run_id"] == kg.ACTIVE_RUN
    social = run(known, "explain_may_like", content_id="c5")
    assert [(r["reason"], r["via_id"]) for r in social] == [("followed user", "u3")]
    assert [n["id"] for n in social[0]["path"][::2]] == ["u1", "u3", "c5"]


def test_recommendation_coverage(known):
    (row,) = run(known, "recommendation_coverage")
    recs = kg.RECOMMENDATIONS[kg.ACTIVE_RUN]
    exposure = defaultdict(int)
    for items in recs.values():
        for c, _ in items:
            exposure[c] += 1
    xs = sorted(exposure.get(cid, 0) for cid, *_ in kg.CONTENT)
    n, total = len(xs), sum(xs)
    gini = sum((2 * (i + 1) - n - 1) * x for i, x in enumerate(xs)) / (n * total)
    topics = [len({t for c, _ in items for t in _topics_of()[c]}) for items in recs.values()]
    assert row == {"run_id": kg.ACTIVE_RUN, "model": "sage", "users_with_recs": len(recs), "users_total": len(kg.USERS),
                   "user_coverage": pytest.approx(len(recs) / len(kg.USERS)), "items_recommended": len(exposure),
                   "items_total": n, "catalogue_coverage": pytest.approx(len(exposure) / n),
                   "mean_list_length": pytest.approx(2.0), "mean_topics_per_list": pytest.approx(sum(topics) / len(topics)),
                   "exposure_gini": pytest.approx(gini)}
    assert run(known, "recommendation_coverage", k=1)[0]["mean_list_length"] == pytest.approx(1.0)


def _compare(relation_table, k):
    run_lists = {u: [x for x, _ in items][:k] for u, items in relation_table[kg.ACTIVE_RUN].items()}
    base_lists = {u: [x for x, _ in items][:k] for u, items in relation_table[kg.OLD_RUN].items()}
    overlaps, jaccards, shifts = [], [], []
    for u in run_lists:
        a, b = run_lists[u], base_lists[u]
        shared = set(a) & set(b)
        overlaps.append(len(shared) / max(len(a), len(b)))
        jaccards.append(len(shared) / len(set(a) | set(b)))
        shifts += [abs(a.index(x) - b.index(x)) for x in shared]
    return sum(overlaps) / len(overlaps), sum(jaccards) / len(jaccards), sum(shifts) / len(shifts)


@pytest.mark.parametrize("relation, table, k", [("MAY_LIKE", kg.RECOMMENDATIONS, 10),
                                                ("INTERESTED_IN", kg.INTERESTS, 2)])
def test_compare_runs(known, relation, table, k):
    (row,) = run(known, "compare_runs", relation=relation, k=k)
    overlap, jaccard, shift = _compare(table, k)
    assert (row["run"], row["baseline"], row["users_compared"]) == (kg.ACTIVE_RUN, kg.OLD_RUN, 4)
    assert row["mean_overlap_at_k"] == pytest.approx(overlap)
    assert row["mean_jaccard"] == pytest.approx(jaccard)
    assert row["mean_abs_rank_change"] == pytest.approx(shift)
    (swapped,) = run(known, "compare_runs", run=kg.OLD_RUN, baseline=kg.ACTIVE_RUN, relation=relation, k=k)
    assert swapped["mean_jaccard"] == pytest.approx(jaccard)


def test_compare_runs_rank_changes(known):
    rows = run(known, "compare_runs_rank_changes", user_id="u3")
    assert [(r["item_id"], r["rank_run"], r["rank_baseline"], r["status"]) for r in rows] == [
        ("c3", 1, None, "new"), ("c4", 2, 1, "down"), ("c6", None, 2, "dropped")]
    assert rows[1]["rank_change"] == -1


def test_influencers(known):
    rows = {r["user_id"]: r for r in run(known, "influencers")}
    interests = {u: {t for t, _ in items} for u, items in kg.INTERESTS[kg.ACTIVE_RUN].items()}
    followers = defaultdict(list)
    for src, dst in kg.FOLLOWS:
        followers[dst].append(src)
    assert set(rows) == set(followers)
    for f, fs in followers.items():
        jac = [len(interests[f] & interests[g]) / len(interests[f] | interests[g]) for g in fs]
        assert rows[f]["followers"] == len(fs)
        assert rows[f]["followers_sharing"] == sum(1 for g in fs if interests[f] & interests[g])
        assert rows[f]["mean_jaccard"] == pytest.approx(sum(jac) / len(jac))
    assert rows["u1"]["shared_topics"][0] == "Comedy"  # shared with two followers
    assert run(known, "influencers", min_followers=2)[0]["user_id"] == "u1"


def test_data_quality(known):
    rows = {r["issue"]: (r["count"], r["examples"]) for r in run(known, "data_quality")}
    assert rows["user without interactions"] == (1, ["u5"])
    assert rows["content without topics"] == (1, ["c7"])
    assert rows["content without interactions"] == (2, ["c6", "c7"])
    assert rows["topic without any relationship"] == (1, ["t:orphan"])
    no_embedding = sorted(cid for cid, *_, axes in kg.CONTENT if axes is None)
    assert rows["content missing emb_fused"] == (len(no_embedding), no_embedding)
    assert rows["content missing emb_image"][0] == len(kg.CONTENT)
    assert rows["duplicate content title"] == (1, ["star voyage (c1, c6)"])
    assert rows["model edges of an unknown run"] == (0, [])
    assert rows["active model runs (should be exactly 1 once a model ran)"] == (1, [kg.ACTIVE_RUN])


def test_summary_runs_and_neighbourhood(known):
    summary = {(r["kind"], r["name"]): r["count"] for r in run(known, "graph_summary")}
    assert summary[("node", "User")] == len(kg.USERS) and summary[("relationship", "INTERACTED")] == len(kg.INTERACTIONS)
    n_active = sum(len(v) for v in kg.INTERESTS[kg.ACTIVE_RUN].values()) + \
        sum(len(v) for v in kg.RECOMMENDATIONS[kg.ACTIVE_RUN].values())
    assert summary[("active_run", kg.ACTIVE_RUN)] == n_active
    runs = run(known, "model_runs")
    assert [(r["run_id"], r["active"]) for r in runs] == [(kg.ACTIVE_RUN, True), (kg.OLD_RUN, False)]
    (hood,) = run(known, "user_neighbourhood")
    assert [rel[1] for rel in hood["interests"]] == ["INTERESTED_IN_HIGH", "INTERESTED_IN_MID", "INTERESTED_IN_LOW"]
    assert [t["id"] for t in hood["topics"]] == [t for t, _ in kg.INTERESTS[kg.ACTIVE_RUN]["u1"]]
    assert len(hood["recommendations"]) == 2 and len(hood["interactions"]) == 4


def test_injection_attempt_is_just_a_value(known):
    assert run(known, "user_top_interests", user_id="u1'}) DETACH DELETE u //") == []
    assert run(known, "graph_summary")[0]["count"] == len(kg.USERS)


# ---------------------------------------------------------------- CLI
@pytest.fixture()
def cli_env(known, neo4j_settings, monkeypatch):
    monkeypatch.setenv("NEO4J_URI", neo4j_settings.uri)
    monkeypatch.setenv("NEO4J_USERNAME", neo4j_settings.username)
    monkeypatch.setenv("NEO4J_PASSWORD", neo4j_settings.password)
    monkeypatch.setenv("NEO4J_DATABASE", neo4j_settings.database)


def test_cli_run_formats(cli_env, capsys):
    assert cli.main(["cypher", "run", "topic_top_users", "--param", "topic_id=t:comedy", "-p", "k=2",
                     "--format", "json"]) == 0
    assert [r["user_id"] for r in json.loads(capsys.readouterr().out)] == ["u4", "u1"]
    assert cli.main(["cypher", "run", "topic_cooccurrence", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ",".join(QUERIES["topic_cooccurrence"].column_names) and len(lines) == 3
    assert cli.main(["cypher", "run", "graph_summary"]) == 0
    assert capsys.readouterr().out.splitlines()[0].split() == ["kind", "name", "count"]


def test_cli_rejects_bad_parameters(cli_env, capsys, caplog):
    assert cli.main(["cypher", "run", "topic_top_users", "--param", "topic=t:comedy"]) == 2
    assert "no parameter 'topic'; valid parameters: topic_id: string, k: int = 20" in caplog.text
    assert cli.main(["cypher", "run", "topic_top_users"]) == 2
    assert "needs parameter 'topic_id'" in caplog.text
    assert capsys.readouterr().out == ""


def test_cli_list_show_docs(capsys):
    assert cli.main(["cypher", "list", "--format", "json"]) == 0
    assert [q["name"] for q in json.loads(capsys.readouterr().out)] == sorted(QUERIES)
    assert cli.main(["cypher", "show", "user_top_interests"]) == 0
    out = capsys.readouterr().out
    assert "half_life_days: float = 30.0" in out and QUERIES["user_top_interests"].text in out
    assert cli.main(["cypher", "docs", "--check"]) == 0


def test_checks_still_report_on_an_empty_graph(known):
    """Every check and count row is there (with 0) when there is nothing to find."""
    known.write("MATCH (n) DETACH DELETE n")
    try:
        quality = run(known, "data_quality")
        summary = run(known, "graph_summary")
    finally:
        kg.build(known)
    assert len(quality) == 15 and all(r["count"] == 0 for r in quality)
    assert len(summary) == 10 and all(r["count"] == 0 for r in summary)
