"""Streaming ingest: files are validated in one pass and written in a second one, never held whole;
repeated edge keys collapse to their last row, as the in-memory load did."""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from graph.errors import InputError
from ingestion import records
from ingestion.pipeline import IngestConfig, KeyLog, ingest_paths
from ingestion.synth.generate import GenerateOptions, generate
from ingestion.synth.world import WorldConfig

BASIC = Path(__file__).parent / "data" / "ingest" / "basic"


@dataclass
class Live:
    now: int = 0
    peak: int = 0
    made: int = 0


def test_interaction_records_are_streamed_not_materialised(graph, tmp_path, monkeypatch):
    """At most a handful of InteractionRec objects exist at any time, however many rows the file has."""
    out = tmp_path / "world"
    generate(WorldConfig(n_users=60, n_content=20, n_topics=5, seed=3), out,
             GenerateOptions(media=False, progress=False))
    live = Live()

    @dataclass(frozen=True)
    class Counted(records.InteractionRec):
        def __post_init__(self) -> None:
            live.now += 1
            live.made += 1
            live.peak = max(live.peak, live.now)

        def __del__(self) -> None:
            live.now -= 1

    monkeypatch.setattr(records, "InteractionRec", Counted)
    summary = ingest_paths(graph, [out], IngestConfig(progress=False, embed=False, batch_size=50))
    n = summary.stage("interactions").written
    assert n > 500 and summary.rejected == 0
    assert graph.read("MATCH ()-[r:INTERACTED]->() RETURN count(r) AS n")[0]["n"] == n
    assert live.peak <= 5, f"{live.peak} interaction records alive at once: the table was materialised"
    assert live.made >= 2 * n  # parsed once to validate, once to write


def test_repeated_keys_keep_the_last_row_and_count_as_skipped(graph, tmp_path):
    ds = tmp_path / "ds"
    shutil.copytree(BASIC, ds)
    with (ds / "interactions.csv").open("a") as fh:  # u1/c1/view again (weight 0.7, then 0.2), u3 follows u1 again
        fh.write("u1,c1,view,,2024-03-01T10:00:00Z,0.7\nu1,c1,view,,2024-03-01T10:00:00Z,0.2\n")
    with (ds / "follows.csv").open("a") as fh:
        fh.write((BASIC / "follows.csv").read_text().splitlines()[1] + "\n")
    summary = ingest_paths(graph, [ds], IngestConfig(progress=False, embed=False))
    rels = graph.read("MATCH (:User {id: 'u1'})-[r:INTERACTED {kind: 'view'}]->(:Content {id: 'c1'}) "
                      "RETURN r.weight AS w")
    assert rels == [{"w": 0.2}]
    assert summary.stage("interactions").written == 7 and summary.stage("interactions").skipped == 2
    assert summary.stage("follows").written == 3 and summary.stage("follows").skipped == 1


def test_unknown_reference_far_down_a_file_stops_before_any_write(graph, tmp_path):
    ds = tmp_path / "ds"
    shutil.copytree(BASIC, ds)
    lines = (ds / "interactions.csv").read_text()
    (ds / "interactions.csv").write_text(lines + "".join(
        f"u1,c2,view,,2024-05-01T00:{i // 60:02d}:{i % 60:02d}Z,\n" for i in range(300)) +
        "u1,c404,view,,2024-06-01T00:00:00Z,\n")
    with pytest.raises(InputError, match=r"line 309, field 'content'.*unknown content 'c404'"):
        ingest_paths(graph, [ds], IngestConfig(progress=False, embed=False, batch_size=10))
    assert graph.read("MATCH (n) RETURN count(n) AS n") == [{"n": 0}]


def test_keylog_finds_repeated_keys_only():
    log = KeyLog()
    for key in [("a", "b"), ("a", "c"), ("a", "b"), ("d", "e")]:
        log.add(key)
    log.close()
    assert log.maybe_repeated(("a", "b"))
    assert not log.maybe_repeated(("a", "c")) and not log.maybe_repeated(("d", "e"))
