"""Ingestion into the throwaway Neo4j: exact counts and properties, idempotent reruns, bad input,
interrupted loads, MovieLens and the multimodal sample."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from graph.db import Graph
from graph.errors import ConfigError, GraphError, InputError
from ingestion import movielens
from ingestion.pipeline import IngestConfig, ingest_dataset, ingest_paths, ingest_source
from ingestion.quarantine import ErrorPolicy

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")

DATA = Path(__file__).parent / "data" / "ingest"
BASIC = DATA / "basic"
CFG = IngestConfig(progress=False)

DUMP_NODES = """
MATCH (n) WITH n, labels(n)[0] AS label ORDER BY label, n.id
RETURN label, n.id AS id, properties(n) AS props
"""
DUMP_RELS = """
MATCH (a)-[r]->(b)
RETURN a.id AS a, type(r) AS type, b.id AS b, properties(r) AS props ORDER BY a, type, b, toString(r.ts), r.kind
"""


def dump(g: Graph) -> tuple[list, list]:
    """The whole graph as comparable plain data (vectors rounded to float32 precision)."""
    def clean(props: dict) -> dict:
        return {k: (np.round(np.asarray(v, dtype=np.float32), 5).tolist() if k.startswith("emb_") and
                    isinstance(v, list) else str(v) if hasattr(v, "iso_format") else v) for k, v in props.items()}
    nodes = [(r["label"], r["id"], clean(r["props"])) for r in g.read(DUMP_NODES)]
    rels = [(r["a"], r["type"], r["b"], clean(r["props"])) for r in g.read(DUMP_RELS)]
    return nodes, rels


def counts(g: Graph) -> dict[str, int]:
    out = {r["l"]: r["n"] for r in g.read("MATCH (n) RETURN labels(n)[0] AS l, count(*) AS n")}
    out.update({r["t"]: r["n"] for r in g.read("MATCH ()-[r]->() RETURN type(r) AS t, count(*) AS n")})
    return out


def copy_basic(tmp_path: Path) -> Path:
    target = tmp_path / "ds"
    shutil.copytree(BASIC, target)
    return target


def test_basic_dataset_counts_properties_and_vectors(graph):
    summary = ingest_paths(graph, [BASIC], CFG)
    assert counts(graph) == {"User": 4, "Content": 4, "Topic": 3, "INTERACTED": 7, "HAS_TOPIC": 4,
                             "SUBTOPIC_OF": 1, "FOLLOWS": 3}
    assert summary.stage("interactions").written == 7 and summary.rejected == 0
    assert summary.created == {"nodes": 11, "relationships": 15}
    c1 = graph.read("MATCH (c:Content {id: 'c1'}) RETURN c {.*} AS c")[0]["c"]
    assert c1["kind"] == "article" and c1["title"] == "Rockets explained"
    assert len(c1["emb_text"]) == c1["emb_text_dim"] == 384 and c1["emb_text_model"] == "all-MiniLM-L6-v2"
    assert c1["modalities_missing"] == ["image", "audio"] and "emb_image" not in c1
    assert c1["created_at"].iso_format().startswith("2024-02-01T00:00:00")
    c4 = graph.read("MATCH (c:Content {id: 'c4'}) RETURN c {.*} AS c")[0]["c"]
    assert c4["modalities_missing"] == ["text", "image", "audio"] and "emb_text" not in c4
    assert c4["kind"] == "post"
    u = graph.read("MATCH (u:User {id: 'u1'}) RETURN u {.*} AS u")[0]["u"]
    assert (u["name"], u["age"], u["zip"], u["emb_behavior_dim"]) == ("Ada", 36, "10001", 16)
    assert len(u["emb_behavior"]) == 16 and u["emb_behavior_model"] == "behavior-v1"
    # u4 has no interactions or follows: behaviour is missing, never a zero vector
    assert graph.read("MATCH (u:User {id: 'u4'}) RETURN u.emb_behavior AS b") == [{"b": None}]
    rels = {(r["u"], r["c"], r["kind"]): r for r in graph.read(
        "MATCH (u)-[r:INTERACTED]->(c) RETURN u.id AS u, c.id AS c, r.kind AS kind, r.weight AS weight, "
        "r.rating AS rating, r.ts.epochSeconds AS ts")}
    assert rels[("u1", "c2", "rate")]["weight"] == 1.0 and rels[("u1", "c2", "rate")]["rating"] == 5.0
    assert rels[("u2", "c3", "rate")]["weight"] == pytest.approx(-0.6)  # 1 star: a dislike
    assert rels[("u1", "c1", "view")]["weight"] == 0.3 and rels[("u3", "c2", "share")]["weight"] == 0.9
    assert rels[("u2", "c3", "rate")]["ts"] == 1709546400
    assert rels[("u2", "c1", "click")]["ts"] == 1709636400  # 12:00+01:00 is 11:00Z
    assert graph.read("MATCH (:Topic {id: 't:space'})-[:SUBTOPIC_OF]->(p) RETURN p.id AS p") == [{"p": "t:science"}]
    assert graph.read("MATCH (:Content {id: 'c2'})-[h:HAS_TOPIC]->() RETURN h.weight AS w") == [{"w": 1.0}]
    # the text vector is findable through the vector index
    hits = graph.read("MATCH (c:Content {id: 'c1'}) CALL db.index.vector.queryNodes('content_emb_text', 2, "
                      "c.emb_text) YIELD node RETURN node.id AS id")
    assert hits[0]["id"] == "c1"


def test_reingest_is_a_no_op(graph):
    ingest_paths(graph, [BASIC], CFG)
    before = dump(graph)
    again = ingest_paths(graph, [BASIC], CFG)
    assert again.created == {"nodes": 0, "relationships": 0}
    assert dump(graph) == before


def test_parquet_and_jsonl_read_like_csv(graph, tmp_path):
    ds = copy_basic(tmp_path)
    rows = [dict(r) for r in __import__("csv").DictReader((ds / "interactions.csv").open())]
    (ds / "interactions.csv").unlink()
    pq.write_table(pa.Table.from_pylist(rows), ds / "interactions.parquet")
    users = [dict(r) for r in __import__("csv").DictReader((ds / "users.csv").open())]
    (ds / "users.csv").unlink()
    (ds / "users.jsonl").write_text("".join(json.dumps(u) + "\n" for u in users))
    ingest_paths(graph, [ds], IngestConfig(progress=False, embed=False))
    nodes, rels = dump(graph)
    graph.write("MATCH (n) DETACH DELETE n")
    ingest_paths(graph, [BASIC], IngestConfig(progress=False, embed=False))
    assert dump(graph) == (nodes, rels)


BAD_CASES = [
    # table file, line to append, file/line/field expected in the error
    ("users.csv", ",Nobody,30,,,,\n", "users.csv, line 6, field 'id'", "id is required"),
    ("interactions.csv", "u1,c1,view,,yesterday,\n", "interactions.csv, line 9, field 'ts'", "ISO-8601"),
    ("interactions.csv", "u1,c1,rate,five,2024-03-01T10:00:00Z,\n", "line 9, field 'rating'", "must be a number"),
    ("interactions.csv", "u1,c1,rate,nan,2024-03-01T10:00:00Z,\n", "line 9, field 'rating'", "finite"),
    ("interactions.csv", "ghost,c1,view,,2024-03-01T10:00:00Z,\n", "line 9, field 'user'", "unknown user 'ghost'"),
    ("interactions.csv", "u1,c99,view,,2024-03-01T10:00:00Z,\n", "line 9, field 'content'", "unknown content 'c99'"),
    ("interactions.csv", "u1,c1,poke,,2024-03-01T10:00:00Z,\n", "line 9, field 'kind'", "kind must be one of"),
    ("content.csv", "c5,post,Long,{long},,,\n", "content.csv, line 6, field 'text'", "too long"),
    ("content.csv", "c5,photo,Broken,,broken.png,,\n", "content.csv, line 6, field 'image'", "unreadable image"),
    ("content.csv", "c5,clip,Broken,,,broken.wav,\n", "content.csv, line 6, field 'audio'", "unreadable audio"),
    ("content.csv", "c5,photo,Gone,,missing.png,,\n", "content.csv, line 6, field 'image'", "not found"),
    ("follows.csv", "u1,u1,\n", "follows.csv, line 5, field 'dst'", "cannot follow themself"),
    ("content_topics.csv", "c1,t:nope,1\n", "content_topics.csv, line 6, field 'topic'", "unknown topic"),
    ("users.csv", "u1,Again,,,,,\n", "users.csv, line 6, field 'id'", "duplicate id 'u1'"),
]


def _make_bad(tmp_path: Path, table: str, line: str) -> Path:
    ds = copy_basic(tmp_path)
    (ds / "broken.png").write_bytes(b"not a png")
    (ds / "broken.wav").write_bytes(b"RIFF....WAVEfmt nonsense")
    with (ds / table).open("a") as fh:
        fh.write(line.replace("{long}", "x" * 25_000))
    return ds


@pytest.mark.parametrize("table,line,where,reason", BAD_CASES, ids=[c[3][:20] for c in BAD_CASES])
def test_bad_row_stops_the_load_before_any_write(graph, tmp_path, table, line, where, reason):
    ds = _make_bad(tmp_path, table, line)
    with pytest.raises(InputError, match=reason) as err:
        ingest_paths(graph, [ds], CFG)
    assert where in str(err.value)
    assert counts(graph) == {}


@pytest.mark.parametrize("table,line,where,reason", BAD_CASES[:7] + BAD_CASES[8:10],
                         ids=[c[3][:20] for c in BAD_CASES[:7] + BAD_CASES[8:10]])
def test_quarantine_sets_bad_rows_aside_and_loads_the_rest(graph, tmp_path, table, line, where, reason):
    ds = _make_bad(tmp_path, table, line)
    qfile = tmp_path / "quarantine.jsonl"
    summary = ingest_paths(graph, [ds], IngestConfig(progress=False, on_error="quarantine", quarantine_path=qfile))
    entries = [json.loads(x) for x in qfile.read_text().splitlines()]
    assert len(entries) == 1 and summary.rejected == 1 and summary.quarantine == qfile
    assert reason in entries[0]["reason"] and entries[0]["file"].endswith(table)
    assert counts(graph) == {"User": 4, "Content": 4, "Topic": 3, "INTERACTED": 7, "HAS_TOPIC": 4,
                             "SUBTOPIC_OF": 1, "FOLLOWS": 3}


def test_quarantined_node_takes_its_references_along(graph, tmp_path):
    ds = copy_basic(tmp_path)
    (ds / "broken.png").write_bytes(b"not a png")
    text = (ds / "content.csv").read_text().replace("c3,recipe,Fresh pasta,", "c3,recipe,Fresh pasta,").replace(
        '"Flour, eggs, a pinch of salt, and patience.",,,', '"Flour, eggs, a pinch of salt, and patience.",broken.png,,')
    (ds / "content.csv").write_text(text)
    summary = ingest_paths(graph, [ds], IngestConfig(progress=False, on_error="quarantine",
                                                     quarantine_path=tmp_path / "q.jsonl"))
    reasons = [json.loads(x)["reason"] for x in (tmp_path / "q.jsonl").read_text().splitlines()]
    assert reasons[0].startswith("unreadable image") and len(reasons) == 3  # c3, its topic link, u2's rating
    assert summary.rejected == 3
    assert counts(graph)["Content"] == 3 and counts(graph)["INTERACTED"] == 6


def test_wrong_dimension_and_nan_precomputed_vectors(graph, tmp_path):
    ds = copy_basic(tmp_path)
    rows = [{"id": "v1", "title": "ok", "emb_text": [0.1] * 384},
            {"id": "v2", "title": "short", "emb_text": [0.1] * 10},
            {"id": "v3", "title": "nan", "emb_text": [float("nan")] + [0.1] * 383}]
    (ds / "content.csv").unlink()
    (ds / "content.jsonl").write_text("".join(json.dumps(r, allow_nan=True) + "\n" for r in rows))
    for f in ("content_topics.csv", "interactions.csv"):
        (ds / f).unlink()
    with pytest.raises(InputError, match=r"line 2, field 'emb_text': emb_text has dimension 10, expected 384"):
        ingest_paths(graph, [ds], CFG)
    summary = ingest_paths(graph, [ds], IngestConfig(progress=False, on_error="quarantine",
                                                     quarantine_path=tmp_path / "q.jsonl"))
    assert summary.rejected == 2
    assert "NaN" in (tmp_path / "q.jsonl").read_text()
    v1 = graph.read("MATCH (c:Content {id: 'v1'}) RETURN c.emb_text_model AS m, size(c.emb_text) AS n")
    assert v1 == [{"m": "precomputed", "n": 384}]


class FailingGraph(Graph):
    """Dies after ``k`` committed batches, like a load killed half-way."""

    def __init__(self, g: Graph, k: int):
        super().__init__(g.driver, g.database, g.uri)
        self.left = k

    def write_batches(self, query, rows, **kw):
        def progress(n):
            self.left -= 1
            if self.left < 0:
                raise GraphError("simulated crash")
        return super().write_batches(query, rows, batch_size=kw.get("batch_size", 2), progress=progress)


@pytest.mark.parametrize("k", [1, 4, 7])
def test_interrupted_load_then_rerun_equals_a_clean_load(graph, k):
    cfg = IngestConfig(progress=False, batch_size=2)
    ingest_paths(graph, [BASIC], cfg)
    clean = dump(graph)
    graph.write("MATCH (n) DETACH DELETE n")
    with pytest.raises(GraphError, match="simulated crash"):
        ingest_paths(FailingGraph(graph, k), [BASIC], cfg)
    assert dump(graph) != clean
    ingest_paths(graph, [BASIC], cfg)
    assert dump(graph) == clean


def test_incremental_interactions_reference_nodes_already_in_the_graph(graph, tmp_path):
    ingest_paths(graph, [BASIC], CFG)
    extra = tmp_path / "interactions.csv"
    extra.write_text("user,content,kind,rating,ts,weight\nu4,c1,like,,2024-04-01T00:00:00Z,\n")
    ingest_paths(graph, [extra], CFG)
    assert counts(graph)["INTERACTED"] == 8
    assert len(graph.read("MATCH (u:User {id: 'u4'}) RETURN u.emb_behavior AS b")[0]["b"]) == 16


def test_unknown_table_file_is_rejected(graph, tmp_path):
    bad = tmp_path / "people.csv"
    bad.write_text("id\n1\n")
    with pytest.raises(InputError, match="not a table of the ingest format"):
        ingest_paths(graph, [bad], CFG)


def test_movielens_loader_on_a_tiny_copy(graph):
    ds = movielens.load(ErrorPolicy(), movielens.MovieLensConfig(kg_max_share=1.0), root=DATA / "ml-tiny")
    assert (len(ds.users), len(ds.content), len(ds.interactions)) == (3, 4, 5)
    topics = {t.id: t.props for t in ds.topics}
    assert set(topics) == {"genre:Animation", "genre:Children's", "genre:Comedy", "genre:Action",
                           "genre:Adventure", "genre:Thriller", "kg:m.hanks", "kg:m.usa"}
    assert topics["kg:m.hanks"] == {"name": "actor m.hanks", "source": "kg", "kind": "actor"}
    assert ds.content[0].embed_text == ("Toy Story. Released 1995. Genres: Animation, Children's, Comedy. "
                                        "country m.usa; starring m.hanks.")
    ingest_dataset(graph, ds, IngestConfig(progress=False, embed=False))
    assert counts(graph) == {"User": 3, "Content": 4, "Topic": 8, "HAS_TOPIC": 12, "INTERACTED": 5}
    r = graph.read("MATCH (:User {id: '2'})-[r]->(:Content {id: 'movie:3'}) RETURN r.kind AS k, r.rating AS rating, "
                   "r.weight AS w, r.ts.epochSeconds AS ts")
    assert r == [{"k": "rate", "rating": 1.0, "w": pytest.approx(-0.6), "ts": 876893119}]
    assert graph.read("MATCH (:Content {id: 'movie:1'})-[h:HAS_TOPIC]->(:Topic {id: 'kg:m.usa'}) "
                      "RETURN h.weight AS w") == [{"w": 0.5}]


def test_movielens_drops_kg_entities_shared_by_most_movies():
    # m.usa is on 3 of 4 movies (75 %), m.hanks on 2 (50 %): a catalogue fact vs a taste
    ds = movielens.load(ErrorPolicy(), movielens.MovieLensConfig(kg_max_share=0.6), root=DATA / "ml-tiny")
    kg = {t.id for t in ds.topics if t.id.startswith("kg:")}
    assert kg == {"kg:m.hanks"}
    assert not [ct for ct in ds.content_topics if ct.topic == "kg:m.usa"]
    with pytest.raises(ConfigError, match="kg_max_share must be in"):
        movielens.MovieLensConfig(kg_max_share=0)


def test_sample_dataset_has_all_three_modalities(graph, tmp_path):
    summary = ingest_source(graph, ["sample"], CFG, sample_dir=tmp_path / "sample")
    assert summary.rejected == 0
    rows = graph.read("MATCH (c:Content) RETURN c.id AS id, c.modalities_missing AS missing, "
                      "size(c.emb_text) AS t, size(c.emb_image) AS i, size(c.emb_audio) AS a")
    by_id = {r["id"]: r for r in rows}
    assert len(rows) == 16
    assert by_id["sample:rocket"] == {"id": "sample:rocket", "missing": [], "t": 384, "i": 1280, "a": 120}
    assert by_id["sample:drums"]["missing"] == ["image"] and by_id["sample:drums"]["a"] == 120
    assert by_id["sample:essay"]["missing"] == ["image", "audio"]
    assert sum(r["i"] is not None for r in rows) >= 6 and sum(r["a"] is not None for r in rows) == 9
    assert counts(graph)["INTERACTED"] == 48 and counts(graph)["User"] == 6
    before = dump(graph)
    ingest_source(graph, ["sample"], CFG, sample_dir=tmp_path / "sample")  # rebuild + reload: no change
    assert dump(graph) == before


def test_embedding_cache_gives_the_same_graph_without_encoding(graph, tmp_path, monkeypatch):
    cfg = IngestConfig(progress=False, cache_dir=tmp_path / "cache")
    ingest_paths(graph, [BASIC], cfg)
    first = dump(graph)
    graph.write("MATCH (n) DETACH DELETE n")
    import ingestion.pipeline as pipeline

    real = pipeline.get_encoder

    def content_encoders_unused(modality, *a, **k):
        assert modality == "behavior", "the cache should have answered"
        return real(modality, *a, **k)
    monkeypatch.setattr(pipeline, "get_encoder", content_encoders_unused)
    summary = ingest_paths(graph, [BASIC], cfg)
    assert summary.stage("embed text").written == 3
    assert dump(graph) == first


def test_feedback_events_do_not_change_the_behaviour_vector(graph, tmp_path):
    ingest_paths(graph, [BASIC], CFG)
    before = graph.read("MATCH (u:User {id: 'u1'}) RETURN u.emb_behavior AS b")[0]["b"]
    extra = tmp_path / "interactions.csv"
    extra.write_text("user,content,kind,rating,ts,weight\nu1,c4,dislike,,2024-04-01T00:00:00Z,\n")
    ingest_paths(graph, [extra], CFG)
    assert graph.read("MATCH (:User {id: 'u1'})-[r:INTERACTED {kind: 'dislike'}]->() RETURN count(r) AS n")[0]["n"] == 1
    after = graph.read("MATCH (u:User {id: 'u1'}) RETURN u.emb_behavior AS b")[0]["b"]
    assert after == pytest.approx(before)
