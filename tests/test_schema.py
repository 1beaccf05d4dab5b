"""Schema: constraints really reject duplicates, vector indexes have the configured dimensions."""
from __future__ import annotations

import pytest

from graph import schema
from graph.errors import ConfigError, GraphError
from graph.model import VECTOR_PROPERTIES


def test_apply_is_idempotent(graph):
    before = graph.read("SHOW INDEXES YIELD name RETURN count(*) AS n")[0]["n"]
    counts = schema.apply(graph)
    after = graph.read("SHOW INDEXES YIELD name RETURN count(*) AS n")[0]["n"]
    assert before == after
    assert counts["vector_indexes"] == len(VECTOR_PROPERTIES)


@pytest.mark.parametrize("label", ["User", "Content", "Topic", "ModelRun"])
def test_unique_ids_reject_duplicates(graph, label):
    graph.write("CREATE (n:$($label) {id: 'dup'})", label=label)
    with pytest.raises(GraphError, match="already exists"):
        graph.write("CREATE (n:$($label) {id: 'dup'})", label=label)
    assert graph.read("MATCH (n:$($label)) RETURN count(n) AS n", label=label) == [{"n": 1}]


def test_vector_indexes_online_with_dimensions(graph):
    rows = graph.read(schema.EXISTING_VECTOR_INDEXES)
    got = {(r["label"], r["prop"]): (r["dim"], r["state"]) for r in rows}
    for vp in VECTOR_PROPERTIES:
        assert got[(vp.label, vp.prop)] == (vp.dim, "ONLINE")


def test_vector_index_rejects_wrong_dimension_and_answers_queries(graph):
    graph.write("CREATE (:Content {id: 'a'}) CREATE (:Content {id: 'b'})")
    graph.write("MATCH (c:Content {id: 'a'}) CALL db.create.setNodeVectorProperty(c, 'emb_text', $v)",
                v=[1.0] + [0.0] * 383)
    graph.write("MATCH (c:Content {id: 'b'}) CALL db.create.setNodeVectorProperty(c, 'emb_text', $v)",
                v=[0.0, 1.0] + [0.0] * 382)
    rows = graph.read("CALL db.index.vector.queryNodes('content_emb_text', 2, $q) YIELD node, score "
                      "RETURN node.id AS id, score", q=[0.9, 0.1] + [0.0] * 382)
    assert [r["id"] for r in rows] == ["a", "b"]
    with pytest.raises(GraphError):
        graph.read("CALL db.index.vector.queryNodes('content_emb_text', 2, $q) YIELD node RETURN node",
                   q=[1.0, 0.0])


def test_dimension_mismatch_is_reported(graph):
    with pytest.raises(GraphError, match="content_emb_text .* has dimension 384, but the configured encoder produces 512"):
        schema.apply(graph, {("Content", "emb_text"): 512})


def test_unknown_embedding_property_is_rejected():
    with pytest.raises(ConfigError, match="unknown embedding properties"):
        schema.vector_dims({("Content", "emb_smell"): 8})
