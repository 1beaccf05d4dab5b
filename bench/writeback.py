"""Benchmark `ikg writeback`: relationships/s of graph.writeback vs plain UNWIND CREATE batches, same run.

Data: MovieLens-100K loaded with the ingestion pipeline (no embeddings, no KG topics) into a
throwaway Neo4j, exported with graph.export; run directories are generated with random lists
(recommendations drawn from items each user has not interacted with, as training produces them)
and random 64-d embeddings. Cases: 943 users x (10 INTERESTED_IN + 20 MAY_LIKE) and
943 users x (10 + 120).

graph.writeback runs with 1 and with 2 write sessions (``WritebackConfig.workers``; 2 is the
default: batches of lock-disjoint users x targets run in parallel).

Baseline (measured in the same run): the SETUP-FACTS write-back — one dict per edge, nodes
matched by their ``id`` property, ``UNWIND $rows ... CREATE`` in batches of 5,000, same edge
properties, no seen-item check, no embeddings. graph.writeback is timed end to end (resolve
ids, clean up, edges with the seen-item check, emb_gnn, flip, retire the previous run) and for
its edge stage alone.

    .venv/bin/python bench/writeback.py [--repeat 3]
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
RESULTS = ROOT / "bench" / "results" / "writeback.md"
logger = logging.getLogger("bench.writeback")

import numpy as np  # noqa: E402

from graph import schema, server  # noqa: E402
from graph.db import Graph  # noqa: E402
from graph.export import ExportConfig, export_to  # noqa: E402
from graph.settings import Neo4jSettings  # noqa: E402
from graph.snapshot import Snapshot  # noqa: E402
from graph.writeback import WORKERS as DEFAULT_WORKERS  # noqa: E402
from graph.writeback import WritebackConfig, delete_run_edges, load_run, write_run  # noqa: E402

UI = ("User", "INTERACTED", "Content")
BASELINE_BATCH = 5_000
BASELINE_INTERESTS = """
UNWIND $rows AS row MATCH (u:User {id: row.user}) MATCH (t:Topic {id: row.target})
CREATE (u)-[:INTERESTED_IN {score: row.score, rank: row.rank, run_id: $run_id, model: $model, source: 'model',
                            updated_at: $now}]->(t)"""
BASELINE_RECOMMENDATIONS = """
UNWIND $rows AS row MATCH (u:User {id: row.user}) MATCH (c:Content {id: row.target})
CREATE (u)-[:MAY_LIKE {score: row.score, rank: row.rank, run_id: $run_id, model: $model, updated_at: $now}]->(c)"""
CASES = [("943 users x (10 + 20)", 10, 20), ("943 users x (10 + 120)", 10, 120)]
WORKERS = (1, DEFAULT_WORKERS)  # write sessions compared; the last is graph.writeback's default


def make_run(root: Path, run_id: str, snap_path: Path, snap: Snapshot, k_topics: int, k_content: int,
             seed: int) -> Path:
    """A run directory with random (unseen) recommendations and random embeddings."""
    rng = np.random.default_rng(seed)
    n_users, n_content, n_topics = (snap.num_nodes(lb) for lb in ("User", "Content", "Topic"))
    seen = np.zeros((n_users, n_content), dtype=bool)
    seen[snap.edges[UI]["src"], snap.edges[UI]["dst"]] = True
    content = np.stack([rng.choice(np.flatnonzero(~seen[u]), k_content, replace=False) for u in range(n_users)])
    topics = np.stack([rng.choice(n_topics, min(k_topics, n_topics), replace=False) for _ in range(n_users)])
    path = root / run_id
    (path / "embeddings").mkdir(parents=True)
    for label, n in (("User", n_users), ("Content", n_content)):
        np.save(path / "embeddings" / f"{label}.npy", rng.normal(size=(n, 64)).astype(np.float32))
    users = np.arange(n_users, dtype=np.int64)
    np.savez(path / "interests.npz", user=users, topic=topics,
             score=-np.sort(-rng.random(topics.shape), axis=1).astype(np.float32))
    np.savez(path / "recommendations.npz", user=users, content=content,
             score=-np.sort(-rng.random(content.shape), axis=1).astype(np.float32))
    (path / "run.json").write_text(json.dumps({"run_id": run_id, "model": "sage", "backend": "dgl", "device": "cpu",
                                               "snapshot": str(snap_path), "config": {}, "metrics": {},
                                               "timings": {}, "emb_dim": 64,
                                               "created_at": datetime.now(timezone.utc).isoformat()}))
    return path


def _server_cpu(pid: int) -> float:
    """CPU seconds (user + system) the Neo4j JVM has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu(pid: int) -> float:
    return time.process_time() + _server_cpu(pid)


def baseline(g: Graph, run_dir: Path) -> tuple[int, float]:
    """Rows of dicts, MATCH by id, UNWIND CREATE in 5k batches; returns (relationships, seconds)."""
    run = load_run(run_dir)
    started = time.perf_counter()
    created = 0
    now = datetime.now(timezone.utc)
    for query, lists, label in ((BASELINE_INTERESTS, run.interests, "Topic"),
                                (BASELINE_RECOMMENDATIONS, run.recommendations, "Content")):
        users, targets, scores = lists
        rows = [{"user": run.node_ids["User"][u], "target": run.node_ids[label][t], "score": float(s), "rank": j + 1}
                for u, row, srow in zip(users.tolist(), targets, scores) for j, (t, s) in enumerate(zip(row, srow))
                if t >= 0]
        stats = g.write_batches(query, rows, batch_size=BASELINE_BATCH, run_id=run.run_id, model="sage", now=now)
        created += stats.relationships_created
    return created, time.perf_counter() - started


def run(repeat: int) -> str:
    from ingestion.pipeline import IngestConfig, ingest_source

    load_before = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-writeback-") as tmp, \
            server.throwaway(Path(tmp) / "neo4j", heap="1g", pagecache="512m", plugins=False) as cfg, \
            Graph.connect(Neo4jSettings.for_server(cfg)) as g:
        pid = server.status(cfg).pid
        schema.apply(g)
        ingest_source(g, ["movielens-100k"], IngestConfig(embed=False, progress=False), kg=False)
        snap_path = Path(tmp) / "snap"
        snap = export_to(g, ExportConfig(features=()), snap_path)
        counter = 0
        for case, k_topics, k_content in CASES:
            base_times, base_cpu = [], []
            ours: dict[int, dict[str, list[float]]] = {w: {"total": [], "edges": [], "visible": [], "cpu": []}
                                                       for w in WORKERS}
            for trial in range(repeat + 1):  # trial 0 warms up
                counter += 1
                base_dir = make_run(Path(tmp) / "runs", f"base-{counter}", snap_path, snap, k_topics, k_content, counter)
                c0 = _cpu(pid)
                n_base, seconds = baseline(g, base_dir)
                c_base = _cpu(pid) - c0
                delete_run_edges(g, f"base-{counter}")
                if trial:
                    base_times.append(seconds)
                    base_cpu.append(c_base)
                for workers in WORKERS:
                    ours_dir = make_run(Path(tmp) / "runs", f"sage-{counter}-w{workers}", snap_path, snap, k_topics,
                                        k_content, counter)
                    run_outputs = load_run(ours_dir)
                    c0 = _cpu(pid)
                    result = write_run(g, run_outputs, WritebackConfig(workers=workers))
                    c_ours = _cpu(pid) - c0
                    n_ours = result.relationships
                    assert result.excluded_seen == 0 and n_ours == n_base, (n_ours, n_base)
                    if trial:
                        t = result.timings
                        ours[workers]["total"].append(t["total"])
                        ours[workers]["visible"].append(t["total"] - t["retire"])
                        ours[workers]["edges"].append(t["interests"] + t["recommendations"])
                        ours[workers]["cpu"].append(c_ours)
            stages = result.timings
            series = [("baseline: dict rows, MATCH by id, UNWIND CREATE 5k batches", base_times, base_cpu)]
            for workers in WORKERS:
                label = f"{workers} session{'s' if workers > 1 else ''}"
                label += " (default)" if workers == DEFAULT_WORKERS else ""
                o = ours[workers]
                series += [
                    (f"graph.writeback, {label}: edge stage (~5k-edge batches, seen check)", o["edges"], None),
                    (f"graph.writeback, {label}: until the new run is visible (+ ids, emb_gnn, flip)", o["visible"],
                     None),
                    (f"graph.writeback, {label}: end to end (+ retire previous run's edges)", o["total"], o["cpu"])]
            for name, ts, cpu in series:
                rows.append((case, name, n_ours, statistics.median(ts), min(ts), statistics.median(base_times),
                             statistics.median(cpu) if cpu else None))
            rows.append((case, f"stage seconds of the last run ({DEFAULT_WORKERS} sessions): {stages}",
                         None, None, None, None, None))
    load_after = os.getloadavg()
    lines = [
        "# Write-back benchmark (`bench/writeback.py`)", "",
        f"Command: `.venv/bin/python bench/writeback.py --repeat {repeat}`", "",
        "Data: MovieLens-100K (ingestion pipeline, no embeddings, no KG topics: 943 users, 1,682 movies, 19 genre "
        "topics) in a throwaway Neo4j 5.26 (heap 1g, page cache 512m); random run directories (unseen "
        f"recommendations, 64-d embeddings). {repeat} timed runs per case after one warm-up, baseline and "
        f"graph.writeback (1 and {DEFAULT_WORKERS} write sessions) interleaved. Machine: {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load "
        f"average {load_before[0]:.1f} before / {load_after[0]:.1f} after (shared box: other jobs ran at the same "
        "time).", "",
        "| case | method | relationships | median s | best s | rel/s (median) | rel/s (best) | vs baseline (median) "
        "| CPU s (client + server, median) | rel per CPU-second |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for case, name, n, med, best, base, cpu in rows:
        if n is None:
            lines.append(f"| {case} | {name} | | | | | | | | |")
            continue
        cpu_cols = f"{cpu:.2f} | {n / cpu:,.0f}" if cpu else " | "
        lines.append(f"| {case} | {name} | {n:,} | {med:.3f} | {best:.3f} | {n / med:,.0f} | {n / best:,.0f} "
                     f"| {base / med:.2f}x | {cpu_cols} |")
    lines += ["", "CPU s = CPU time of this process + the Neo4j JVM during the call (/proc): steadier than wall time "
              "on a busy box; rel per CPU-second is what one idle core would sustain.", "",
              "Goal: >= 100,000 relationships/s."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    text = run(args.repeat)
    sys.stdout.write(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()
