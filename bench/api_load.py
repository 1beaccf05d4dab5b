"""API load benchmark: `ikg serve` on loopback over the MovieLens-100K graph, 32 concurrent clients.

Set-up (all in a throwaway Neo4j): `ingest_source(['movielens-100k'])` without embeddings or KG topics
(943 users, 1,682 movies, 19 genres, 100 k interactions), then a *baseline* model run computed honestly
in Cypher (no GNN): INTERESTED_IN = each user's top-10 decayed genre interests, MAY_LIKE = the 20 most
popular unseen movies of the user's top-3 genres; it is tagged model 'popularity-by-topic'.

Measured per endpoint for a fixed duration: p50/p95/p99 latency and throughput; baselines in the
same run: GET /health (HTTP stack, no database) and the interests Cypher through the driver alone
(one process, and as many processes as API workers). CPU seconds of the load generator, the API workers and Neo4j are read from
/proc, because all three share this machine's cores.

    .venv/bin/python bench/api_load.py [--duration 10] [--clients 32] [--workers 4]
"""
from __future__ import annotations

import argparse
import http.client
import logging
import multiprocessing as mp
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.keys import create_key  # noqa: E402
from graph import read, schema, server  # noqa: E402
from graph.db import Graph  # noqa: E402
from graph.settings import Neo4jSettings  # noqa: E402

logger = logging.getLogger("bench.api_load")
RUN_ID = "bench-popularity-by-topic"
TICK = os.sysconf("SC_CLK_TCK")

MODEL_RUN = """
MERGE (r:ModelRun {id: $run_id})
SET r.active = true, r.model = 'popularity-by-topic', r.backend = 'cypher', r.config = '{"top_topics": 3}',
    r.metrics = '{}', r.timings = '{}', r.created_at = datetime()
"""
INTERESTS = """
UNWIND $users AS uid
MATCH (u:User {id: uid})-[r:INTERACTED]->(:Content)
WITH u, max(r.ts) AS t_ref
MATCH (u)-[r:INTERACTED]->(:Content)-[h:HAS_TOPIC]->(t:Topic)
WITH u, t, sum(coalesce(r.weight, 1.0) * coalesce(h.weight, 1.0)
               * 0.5 ^ ((t_ref.epochMillis - r.ts.epochMillis) / 1000.0 / $half_life_s)) AS score
ORDER BY score DESC
WITH u, collect({t: t, score: score})[..10] AS top
UNWIND range(0, size(top) - 1) AS i
WITH u, top[i].t AS t, top[i].score AS score, i
CREATE (u)-[:INTERESTED_IN {score: score, rank: i + 1, run_id: $run_id, model: 'popularity-by-topic',
                            source: 'model', updated_at: datetime()}]->(t)
"""
MAY_LIKE = """
UNWIND $users AS uid
MATCH (u:User {id: uid})-[i:INTERESTED_IN {run_id: $run_id}]->(t:Topic) WHERE i.rank <= 3
MATCH (t)<-[:HAS_TOPIC]-(c:Content) WHERE NOT EXISTS { (u)-[:INTERACTED]->(c) }
WITH u, c, max(i.score) AS interest
WITH u, c, interest * log(1.0 + COUNT { (c)<-[:INTERACTED]-() }) AS score
ORDER BY score DESC
WITH u, collect({c: c, score: score})[..20] AS top
UNWIND range(0, size(top) - 1) AS i
WITH u, top[i].c AS c, top[i].score AS score, i
CREATE (u)-[:MAY_LIKE {score: score, rank: i + 1, run_id: $run_id, model: 'popularity-by-topic',
                       updated_at: datetime()}]->(c)
"""


def build_graph(g: Graph) -> list[str]:
    from ingestion.pipeline import IngestConfig, ingest_source

    schema.apply(g)
    started = time.perf_counter()
    ingest_source(g, ["movielens-100k"], IngestConfig(embed=False, progress=False), kg=False)
    logger.info("ingested MovieLens-100K in %.1f s", time.perf_counter() - started)
    users = [r["id"] for r in g.read("MATCH (u:User) RETURN u.id AS id ORDER BY id")]
    g.write(MODEL_RUN, run_id=RUN_ID)
    for i in range(0, len(users), 200):
        g.write(INTERESTS, users=users[i:i + 200], run_id=RUN_ID, half_life_s=30 * 86400.0)
    for i in range(0, len(users), 100):
        g.write(MAY_LIKE, users=users[i:i + 100], run_id=RUN_ID)
    counts = g.read("""MATCH (u:User) WITH count(u) AS users MATCH (c:Content) WITH users, count(c) AS content
                       MATCH (t:Topic) WITH users, content, count(t) AS topics
                       MATCH ()-[r:INTERACTED]->() WITH users, content, topics, count(r) AS interactions
                       MATCH ()-[m:MAY_LIKE]->() WITH users, content, topics, interactions, count(m) AS may_like
                       MATCH ()-[i:INTERESTED_IN]->()
                       RETURN users, content, topics, interactions, may_like, count(i) AS interested_in""")[0]
    logger.info("graph: %s", counts)
    return users


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    except (FileNotFoundError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def _machine_busy_seconds() -> float:
    """CPU seconds all processes on this machine have used (user+nice+system+irq+softirq+steal)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + fields[7]) / TICK


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(") ", 1)[1].split()[1]) == pid:
                out.append(int(stat.parent.name))
        except (FileNotFoundError, IndexError, ValueError):
            continue
    return out


def _client_proc(port: int, key: str, paths: list[str], threads: int, duration: float, queue) -> None:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + duration

    def loop(seed: int) -> None:
        rng = random.Random(seed)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        bad = 0
        while time.perf_counter() < deadline:
            path = rng.choice(paths)
            t0 = time.perf_counter()
            try:
                conn.request("GET", path, headers={"X-API-Key": key})
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            mine.append(time.perf_counter() - t0)
            bad += not ok
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    workers = [threading.Thread(target=loop, args=(os.getpid() * 100 + i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    queue.put((latencies, errors[0], _cpu_seconds(os.getpid())))


def load(port: int, key: str, paths: list[str], clients: int, duration: float, procs: int) -> dict:
    """``clients`` keep-alive connections spread over ``procs`` generator processes for ``duration`` s."""
    queue: mp.Queue = mp.Queue()
    per = [clients // procs + (i < clients % procs) for i in range(procs)]
    ps = [mp.Process(target=_client_proc, args=(port, key, paths, n, duration, queue)) for n in per]
    started = time.perf_counter()
    for p in ps:
        p.start()
    results = [queue.get() for _ in ps]
    for p in ps:
        p.join()
    wall = time.perf_counter() - started
    lat = sorted(x for r in results for x in r[0])
    q = statistics.quantiles(lat, n=100, method="inclusive")
    return {"n": len(lat), "errors": sum(r[1] for r in results), "rps": len(lat) / duration,
            "p50": q[49] * 1e3, "p95": q[94] * 1e3, "p99": q[98] * 1e3, "gen_cpu": sum(r[2] for r in results),
            "wall": wall}


def _direct_proc(settings: Neo4jSettings, users: list[str], seconds: float, seed: int, queue) -> None:
    lat = []
    rng = random.Random(seed)
    with Graph.connect(settings) as g:
        g.read(read.MODEL_INTERESTS, user=users[0], offset=0, limit=21)
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            g.read(read.MODEL_INTERESTS, user=rng.choice(users), offset=0, limit=21)
            lat.append(time.perf_counter() - t0)
    queue.put(lat)


def direct_baseline(settings: Neo4jSettings, users: list[str], seconds: float, procs: int) -> dict:
    """The interests query through the driver alone (no HTTP), ``procs`` sequential loops in parallel."""
    queue: mp.Queue = mp.Queue()
    ps = [mp.Process(target=_direct_proc, args=(settings, users, seconds, i, queue)) for i in range(procs)]
    for p in ps:
        p.start()
    lat = sorted(x for _ in ps for x in queue.get())
    for p in ps:
        p.join()
    q = statistics.quantiles(lat, n=100, method="inclusive")
    return {"n": len(lat), "errors": 0, "rps": len(lat) / seconds, "p50": q[49] * 1e3, "p95": q[94] * 1e3,
            "p99": q[98] * 1e3, "procs": procs}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per endpoint")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--gen-procs", type=int, default=2, help="load generator processes")
    parser.add_argument("--workers", type=int, default=4, help="API worker processes")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "api_load.md")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("neo4j").setLevel(logging.ERROR)

    with tempfile.TemporaryDirectory(prefix="ikg-api-bench-") as tmp, \
            server.throwaway(Path(tmp) / "neo4j", heap="1g", pagecache="256m", plugins=False) as cfg:
        settings = Neo4jSettings.for_server(cfg)
        with Graph.connect(settings) as g:
            users = build_graph(g)
            key, _ = create_key(g, "bench", "read")
            port = server.free_port()
            env = {**os.environ, "NEO4J_URI": settings.uri, "NEO4J_USERNAME": settings.username,
                   "NEO4J_PASSWORD": settings.password, "IKG_API_KEY_CACHE_TTL_S": "60"}
            api = subprocess.Popen([str(ROOT / ".venv" / "bin" / "ikg"), "serve", "--port", str(port),
                                    "--workers", str(args.workers)], env=env, cwd=ROOT,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                _wait_healthy(port)
                rng = random.Random(1)
                sample = [rng.choice(users) for _ in range(500)]
                endpoints = {
                    "GET /health (HTTP only, baseline)": ["/health"],
                    "GET /v1/users/{id}/interests": [f"/v1/users/{u}/interests" for u in sample],
                    "GET /v1/users/{id}/neighborhood (depth 1, 50 nodes)":
                        [f"/v1/users/{u}/neighborhood?depth=1&limit=50" for u in sample],
                    "GET /v1/users/{id}/recommendations (k=10)":
                        [f"/v1/users/{u}/recommendations?k=10" for u in sample],
                }
                load(port, key, endpoints["GET /v1/users/{id}/interests"], args.clients, 2.0, args.gen_procs)  # warm-up
                rows = []
                neo4j_pid = server.status(cfg).pid
                worker_pids = _children(api.pid)
                for name, paths in endpoints.items():
                    cpu0 = {p: _cpu_seconds(p) for p in [neo4j_pid, api.pid, *worker_pids]}
                    busy0 = _machine_busy_seconds()
                    result = load(port, key, paths, args.clients, args.duration, args.gen_procs)
                    cpu1 = {p: _cpu_seconds(p) for p in cpu0}
                    result["machine_cpu"] = _machine_busy_seconds() - busy0
                    result["load"] = os.getloadavg()[0]
                    result["api_cpu"] = sum(cpu1[p] - cpu0[p] for p in cpu0 if p != neo4j_pid)
                    result["neo4j_cpu"] = cpu1[neo4j_pid] - cpu0[neo4j_pid]
                    rows.append((name, result))
                direct = [direct_baseline(settings, users, args.duration, n) for n in (1, args.workers)]
            finally:
                api.terminate()
                api.wait(timeout=30)
    report = _report(rows, direct, args)
    args.out.write_text(report)
    sys.stdout.write(report)
    return 0


def _wait_healthy(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"ikg serve did not answer on port {port} within {timeout:.0f} s")


def _report(rows: list, direct: list[dict], args: argparse.Namespace) -> str:
    lines = ["# API load benchmark (bench/api_load.py)", "",
             f"MovieLens-100K graph, `ikg serve --workers {args.workers}` (gunicorn, worker processes) on "
             f"loopback, {args.clients} keep-alive clients in {args.gen_procs} generator processes, "
             f"{args.duration:g} s per endpoint, {os.cpu_count()} cores shared by generator, API and Neo4j. "
             "MAY_LIKE/INTERESTED_IN come from a Cypher popularity-by-topic baseline run (not a GNN).", "",
             "| endpoint | requests | errors | req/s | p50 ms | p95 ms | p99 ms | CPU s generator | CPU s API | "
             "CPU s Neo4j | CPU s other processes | load avg (1 min) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, r in rows:
        lines.append(f"| {name} | {r['n']} | {r['errors']} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p95']:.2f} | "
                     f"{r['p99']:.2f} | {r['gen_cpu']:.1f} | {r['api_cpu']:.1f} | {r['neo4j_cpu']:.1f} | "
                     f"{max(0.0, r['machine_cpu'] - r['gen_cpu'] - r['api_cpu'] - r['neo4j_cpu']):.1f} | {r['load']:.1f} |")
    for d in direct:
        lines.append(f"| baseline: interests Cypher via the driver, no HTTP, {d['procs']} process(es) | {d['n']} | 0 | "
                     f"{d['rps']:.0f} | {d['p50']:.2f} | {d['p95']:.2f} | {d['p99']:.2f} | – | – | – | – | "
                     f"{os.getloadavg()[0]:.1f} |")
    lines += ["", f"CPU seconds are over the {args.duration:g} s window of each endpoint "
              f"(available: {os.cpu_count()} cores x {args.duration:g} s = {os.cpu_count() * args.duration:g} CPU s); "
              "'other processes' is everything else running on the machine in that window (from /proc/stat).", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
