"""Benchmark the analysts' Cypher library: latency of every query on MovieLens-100K with two model runs.

Data: MovieLens-100K through the ingestion pipeline (no embeddings; genre and KG topics) in a
throwaway Neo4j 5.26 with APOC and GDS; two run directories with random top-10 interests,
top-20 recommendations and 64-d embeddings (bench/writeback.py's generator; timings do not
depend on the score values) written back with graph.writeback, the second one active.

Each query runs through graph.library.run (parameter binding + plugin probe + Graph.read):
one warm-up, then --repeat timed runs; median and best milliseconds.

Baselines (measured in the same run): a bare round trip (``RETURN 1`` through Graph.read), and
for user_top_interests' decayed view, the client-side way: fetch the user's
(interaction, HAS_TOPIC) rows and compute the decayed sums in Python.

    .venv/bin/python bench/cypher_library.py [--repeat 5]
"""
from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
RESULTS = ROOT / "bench" / "results" / "cypher_library.md"
logger = logging.getLogger("bench.cypher_library")

from bench.writeback import make_run  # noqa: E402
from graph import library, schema, server  # noqa: E402
from graph.db import Graph  # noqa: E402
from graph.export import ExportConfig, export_to  # noqa: E402
from graph.settings import Neo4jSettings  # noqa: E402
from graph.writeback import WritebackConfig, load_run, write_run  # noqa: E402

PARAMS = {
    "explain_may_like": {"user_id": "1", "content_id": None},  # filled with user 1's top recommendation
    "similar_content": {"content_id": "movie:1", "embedding": "gnn"},
    "similar_users": {"user_id": "1"},
    "topic_top_users": {"topic_id": "genre:Drama"},
    "user_interest_drift": {"user_id": "1"},
    "user_neighbourhood": {"user_id": "1"},
    "user_top_interests": {"user_id": "1"},
}
CLIENT_SIDE_ROWS = """
MATCH (u:User {id: $user_id})-[r:INTERACTED]->(:Content)-[h:HAS_TOPIC]->(t:Topic)
RETURN t.id AS topic, r.weight AS w, h.weight AS hw, r.ts AS ts
"""
TOP_RECOMMENDATION = """
MATCH (:User {id: $user_id})-[m:MAY_LIKE]->(c:Content), (run:ModelRun {active: true})
WHERE m.run_id = run.id RETURN c.id AS id ORDER BY m.rank LIMIT 1
"""


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float, object]:
    """(median ms, best ms, last result) over ``repeat`` runs after one warm-up."""
    result = fn()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), min(times), result


def client_side_decayed(g: Graph, user_id: str, half_life_days: float = 30.0) -> list[tuple[str, float]]:
    rows = g.read(CLIENT_SIDE_ROWS, user_id=user_id)
    ts = [r["ts"].to_native() for r in rows]
    t_ref = max(ts)
    sums: dict[str, float] = defaultdict(float)
    for r, t in zip(rows, ts):
        sums[r["topic"]] += r["w"] * r["hw"] * 0.5 ** ((t_ref - t).total_seconds() / (half_life_days * 86400))
    return sorted(sums.items(), key=lambda kv: (-kv[1], kv[0]))[:10]


def run(repeat: int) -> str:
    from ingestion.pipeline import IngestConfig, ingest_source

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-cypher-") as tmp, \
            server.throwaway(Path(tmp) / "neo4j", heap="1g", pagecache="512m") as cfg, \
            Graph.connect(Neo4jSettings.for_server(cfg)) as g:
        schema.apply(g)
        started = time.perf_counter()
        ingest_source(g, ["movielens-100k"], IngestConfig(embed=False, progress=False), kg=True)
        snap_path = Path(tmp) / "snap"
        snap = export_to(g, ExportConfig(features=()), snap_path)
        for i, run_id in enumerate(("sage-bench-old", "sage-bench-new")):
            write_run(g, load_run(make_run(Path(tmp) / "runs", run_id, snap_path, snap, 10, 20, i + 1)),
                      WritebackConfig())
        g.write("CALL db.awaitIndexes(300)")
        setup_s = time.perf_counter() - started
        counts = {r["name"]: r["count"] for r in library.run(g, library.get("graph_summary"))}
        PARAMS["explain_may_like"]["content_id"] = g.read(TOP_RECOMMENDATION, user_id="1")[0]["id"]

        rows = []
        med, best, _ = timed(lambda: g.read("RETURN 1 AS x"), repeat)
        rows.append(("baseline: round trip `RETURN 1` via Graph.read", med, best, 1))
        med, best, _ = timed(lambda: client_side_decayed(g, "1"), repeat)
        rows.append(("baseline: decayed top 10 of user 1 computed client-side", med, best, 10))
        for name, query in library.load().items():
            params = PARAMS.get(name, {})
            med, best, result = timed(lambda q=query, p=params: library.run(g, q, p), repeat)
            rows.append((name, med, best, len(result)))  # type: ignore[arg-type]
    load_after = os.getloadavg()
    lines = [
        "# Cypher library benchmark (`bench/cypher_library.py`)", "",
        f"Data: MovieLens-100K via the ingestion pipeline (no embeddings; genre + KG topics): "
        f"{counts['User']:,} users, {counts['Content']:,} content, {counts['Topic']:,} topics, "
        f"{counts['INTERACTED']:,} interactions, {counts['HAS_TOPIC']:,} HAS_TOPIC; two written-back runs "
        f"(random top-10 interests, top-20 recommendations, 64-d emb_gnn): {counts['INTERESTED_IN']:,} "
        f"INTERESTED_IN, {counts['MAY_LIKE']:,} MAY_LIKE. Throwaway Neo4j 5.26 (heap 1g, page cache 512m) "
        f"with APOC + GDS; set-up {setup_s:.0f} s. Each query: graph.library.run (bind + plugin probe + "
        f"Graph.read), 1 warm-up + {repeat} timed runs. Machine: {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, load average {load_before[0]:.1f} before / {load_after[0]:.1f} after "
        "(shared box: other jobs ran at the same time).", "",
        "| query | median ms | best ms | rows |", "| --- | ---: | ---: | ---: |",
    ]
    lines += [f"| {name} | {med:.1f} | {best:.1f} | {n} |" for name, med, best, n in rows]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("neo4j.notifications").setLevel(logging.ERROR)  # e.g. "FOLLOWS does not exist" on MovieLens
    text = run(args.repeat)
    sys.stdout.write(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()
