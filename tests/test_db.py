"""Driver helpers: parameterised reads, batched UNWIND writes, transactions, errors."""
from __future__ import annotations

import pytest

from graph.db import Graph, batched
from graph.errors import GraphError

UPSERT = "UNWIND $rows AS row MERGE (u:User {id: row.id}) SET u.name = row.name"


def test_batched_splits_and_validates():
    assert list(batched(range(5), 2)) == [[0, 1], [2, 3], [4]]
    assert list(batched([], 3)) == []
    with pytest.raises(ValueError, match="batch size must be >= 1"):
        list(batched([1], 0))


def test_write_batches_counts_and_is_idempotent(graph):
    rows = [{"id": f"u{i}", "name": f"user {i}"} for i in range(25)]
    seen = []
    stats = graph.write_batches(UPSERT, rows, batch_size=10, progress=seen.append)
    assert (stats.rows, stats.batches, stats.nodes_created) == (25, 3, 25)
    assert seen == [10, 10, 5]
    again = graph.write_batches(UPSERT, rows, batch_size=10)
    assert again.nodes_created == 0
    assert graph.read("MATCH (u:User) RETURN count(u) AS n") == [{"n": 25}]


def test_parameters_are_never_interpolated(graph):
    hostile = "x'}) DETACH DELETE n //"
    graph.write_batches(UPSERT, [{"id": hostile, "name": "evil"}, {"id": "ok", "name": "fine"}])
    assert graph.read("MATCH (u:User {id: $id}) RETURN u.name AS name", id=hostile) == [{"name": "evil"}]
    assert graph.read("MATCH (u:User) RETURN count(u) AS n") == [{"n": 2}]


def test_failed_batch_rolls_back_whole_batch(graph):
    graph.write("CREATE (:User {id: 'taken'})")
    rows = [{"id": "new1"}, {"id": "taken"}, {"id": "new2"}]
    with pytest.raises(GraphError, match="already exists"):
        graph.write_batches("UNWIND $rows AS row CREATE (:User {id: row.id})", rows, batch_size=10)
    assert graph.read("MATCH (u:User) RETURN u.id AS id") == [{"id": "taken"}]


def test_run_write_is_one_transaction(graph):
    def work(tx):
        tx.run("CREATE (:Topic {id: 't1'})")
        tx.run("CREATE (:Topic {id: 't1'})")  # violates the constraint: nothing commits

    with pytest.raises(GraphError):
        graph.run_write(work)
    assert graph.read("MATCH (t:Topic) RETURN count(t) AS n") == [{"n": 0}]


def test_bad_query_names_the_problem(graph):
    with pytest.raises(GraphError, match="query failed: .*Invalid input"):
        graph.read("MATCH (n RETURN n")


def test_graph_is_a_context_manager(neo4j_settings):
    with Graph.connect(neo4j_settings) as g:
        assert g.read("RETURN 1 AS one") == [{"one": 1}]
    with pytest.raises(Exception):
        g.read("RETURN 1 AS one")
