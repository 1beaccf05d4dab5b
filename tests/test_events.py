"""The real-time path: record_event / record_events validate, 404 on unknown ids, MERGE like batch ingestion."""
from __future__ import annotations

from pathlib import Path

import pytest

from graph.errors import GraphError, InputError
from graph.events import UnknownEntityError, default_weight, interaction_row, record_event, record_events
from ingestion.pipeline import IngestConfig, ingest_paths

BASIC = Path(__file__).parent / "data" / "ingest" / "basic"


@pytest.fixture()
def seeded(graph):
    graph.write("CREATE (:User {id: 'u1'}), (:User {id: 'u2'}), (:Content {id: 'c1'}), (:Content {id: 'c2'})")
    return graph


def interactions(g):
    return g.read("MATCH (u)-[r:INTERACTED]->(c) RETURN u.id AS u, c.id AS c, r.kind AS kind, "
                  "r.weight AS weight, r.rating AS rating, r.ts.epochMillis AS ts ORDER BY u, c, kind, ts")


def test_record_event_writes_once_and_is_idempotent(seeded):
    out = record_event(seeded, "u1", "c1", "like", "2026-01-05T10:00:00Z")
    assert out == {"user": "u1", "content": "c1", "kind": "like", "ts": "2026-01-05T10:00:00Z",
                   "rating": None, "weight": 1.0, "created": True}
    again = record_event(seeded, "u1", "c1", "like", 1767607200)  # same instant as epoch seconds
    assert again["created"] is False
    assert interactions(seeded) == [{"u": "u1", "c": "c1", "kind": "like", "weight": 1.0, "rating": None,
                                     "ts": 1767607200000}]


def test_rating_sets_default_weight_and_explicit_weight_wins(seeded):
    record_event(seeded, "u1", "c1", "rate", "2026-01-05T10:00:00Z", rating=4)
    record_event(seeded, "u1", "c2", "view", "2026-01-05T10:00:00Z", weight=0.1)
    got = {(r["c"], r["kind"]): r for r in interactions(seeded)}
    assert got[("c1", "rate")]["weight"] == pytest.approx(0.6) and got[("c1", "rate")]["rating"] == 4.0
    assert got[("c2", "view")]["weight"] == pytest.approx(0.1)
    assert default_weight("rate", 1.0) == pytest.approx(-0.6) and default_weight("view", None) == 0.3


@pytest.mark.parametrize("kwargs,field,match", [
    ({"user_id": ""}, "user", "user is required"),
    ({"content_id": None}, "content", "content is required"),
    ({"kind": "poke"}, "kind", "kind must be one of"),
    ({"ts": "yesterday"}, "ts", "not an ISO-8601"),
    ({"ts": None}, "ts", "timestamp is required"),
    ({"ts": 1e13}, "ts", "out of range"),
    ({"rating": "five"}, "rating", "rating must be a number"),
    ({"rating": 7}, "rating", r"rating must be in \[0, 5\]"),
    ({"weight": float("nan")}, "weight", "finite"),
])
def test_invalid_events_are_input_errors(seeded, kwargs, field, match):
    args = {"user_id": "u1", "content_id": "c1", "kind": "view", "ts": "2026-01-05T10:00:00Z", **kwargs}
    with pytest.raises(InputError, match=match) as err:
        record_event(seeded, **args)
    assert err.value.field == field
    assert interactions(seeded) == []


def test_unknown_user_or_content_is_a_404_style_error(seeded):
    with pytest.raises(UnknownEntityError, match="unknown user\\(s\\): ghost") as err:
        record_event(seeded, "ghost", "c1", "view", "2026-01-05T10:00:00Z")
    assert isinstance(err.value, LookupError) and isinstance(err.value, GraphError) and err.value.kind == "user"
    with pytest.raises(UnknownEntityError, match="unknown content: nope"):
        record_event(seeded, "u1", "nope", "view", "2026-01-05T10:00:00Z")
    assert interactions(seeded) == []


def test_record_events_is_all_or_nothing(seeded):
    good = {"user": "u1", "content": "c1", "kind": "view", "ts": "2026-01-05T10:00:00Z"}
    with pytest.raises(UnknownEntityError):
        record_events(seeded, [good, {**good, "content": "nope"}])
    with pytest.raises(InputError, match="event 1: kind must be one of"):
        record_events(seeded, [good, {**good, "kind": "poke"}])
    with pytest.raises(InputError, match="unknown field"):
        record_events(seeded, [{**good, "extra": 1}])
    assert interactions(seeded) == []
    out = record_events(seeded, [good, {**good, "kind": "like"}, good])
    assert out == {"events": 3, "created": 2, "existing": 1}
    assert len(interactions(seeded)) == 2


def test_events_merge_onto_batch_ingested_interactions(graph):
    ingest_paths(graph, [BASIC], IngestConfig(progress=False, embed=False))
    before = interactions(graph)
    # the same event as interactions.csv line 2, given as an explicit UTC datetime string
    out = record_event(graph, "u1", "c1", "view", "2024-03-01T10:00:00+00:00")
    assert out["created"] is False and interactions(graph) == before
    assert record_event(graph, "u4", "c3", "like", "2024-04-01T00:00:00Z")["created"] is True
    assert len(interactions(graph)) == len(before) + 1


def test_interaction_row_is_the_batch_row():
    row = interaction_row(" u1 ", "c1", "RATE", "2024-03-02T09:00:00Z", "5", None)
    assert row == {"user": "u1", "content": "c1", "kind": "rate", "ts": 1709370000000, "rating": 5.0,
                   "weight": 1.0}
