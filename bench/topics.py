"""Benchmark topic discovery quality (AMI, purity) and wall time on the synthetic world and MovieLens-100K.

Everything goes through the platform in a throwaway Neo4j (with GDS): `ikg synth` world (text, image
and audio per item) → ingestion (MiniLM text, EfficientNet image, MFCC audio embeddings) →
`jobs.topics.discover_topics` per method (k-means on fused / per-modality embeddings, LDA on text),
each run replacing the previous one in the graph → `topic_communities` (GDS Louvain on the topic
co-occurrence graph through users; networkx fallback timed beside it). Scored against the planted
topics (each item's heaviest planted leaf topic and its parent). Then MovieLens-100K (MiniLM text,
genre topics, no KG): agreement of discovered topics with each movie's first genre. Baseline in
the same run: random topics of the same count.

    .venv/bin/python bench/topics.py                       # synthetic 400 items + MovieLens-100K
    .venv/bin/python bench/topics.py --content 300 --no-movielens
"""
from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from discovery.cluster import DiscoveryConfig  # noqa: E402
from discovery.metrics import agreement  # noqa: E402
from graph import schema, server  # noqa: E402
from graph.db import Graph  # noqa: E402
from graph.settings import Neo4jSettings, var_dir  # noqa: E402
from jobs.topics import discover_topics, topic_communities  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "topics.md"
logger = logging.getLogger("bench.topics")

PLANTED = """
MATCH (c:Content)-[h:HAS_TOPIC]->(t:Topic {source: 'synthetic'})
WITH c, t ORDER BY h.weight DESC, t.id
WITH c, collect(t)[0] AS t
OPTIONAL MATCH (t)-[:SUBTOPIC_OF]->(p:Topic)
RETURN collect(c.id) AS content, collect(t.id) AS leaf, collect(coalesce(p.id, '')) AS parent
"""
PLANTED_PARENTS = """
MATCH (t:Topic {source: 'synthetic'})-[:SUBTOPIC_OF]->(p:Topic)
RETURN collect(t.id) AS leaf, collect(p.id) AS parent
"""
WIPE = "MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS"


def _load() -> str:
    return "/".join(f"{v:.1f}" for v in os.getloadavg())


def _codes(ids: list[str]) -> np.ndarray:
    index: dict[str, int] = {}
    return np.array([index.setdefault(i, len(index)) for i in ids])


def _row(world: str, method: str, pred_leaf: np.ndarray, pred_parent: np.ndarray | None, truth_leaf: list,
         truth_parent: list | None, seconds: float, note: str = "") -> dict:
    leaf = agreement(truth_leaf, pred_leaf) if truth_leaf is not None else None
    parent = agreement(truth_parent, pred_parent) if pred_parent is not None and truth_parent is not None else None
    return {"world": world, "method": method, "leaf": leaf, "parent": parent, "seconds": seconds, "note": note}


def _discover(g: Graph, cfg: DiscoveryConfig, ids_truth: dict[str, tuple[str, str]]):
    out = discover_topics(g, cfg, progress=False)
    h = out.hierarchy
    keep = [i for i, c in enumerate(out.content_ids) if c in ids_truth]
    leaf = h.labels[keep]
    parent = h.parent_labels[keep]
    truth = [ids_truth[out.content_ids[i]] for i in keep]
    return out, leaf, parent, truth


def synthetic(g: Graph, tmp: Path, n_content: int, n_topics: int, n_users: int, seed: int) -> tuple[list[dict], str]:
    from ingestion.pipeline import IngestConfig, ingest_paths
    from ingestion.synth.generate import GenerateOptions, generate
    from ingestion.synth.world import WorldConfig

    wcfg = WorldConfig(n_users=n_users, n_content=n_content, n_topics=n_topics, seed=seed)
    t0 = time.perf_counter()
    generate(wcfg, tmp / "world", GenerateOptions(progress=False))
    ingest_paths(g, [tmp / "world"], IngestConfig(progress=False, cache_dir=var_dir("cache")))
    setup_s = time.perf_counter() - t0
    planted = g.read(PLANTED)[0]
    truth = {c: (lf, p) for c, lf, p in zip(planted["content"], planted["leaf"], planted["parent"])}
    k, parents = n_topics, wcfg.parents
    desc = (f"synthetic world: {n_content} items ({n_topics} planted leaf topics under {parents} parents), "
            f"{n_users} users, seed {seed}; generated + ingested with embeddings in {setup_s:.0f} s")
    rows = []
    world = f"synthetic ({n_content} items)"
    rng = np.random.default_rng(seed)
    ids = list(truth)
    rows.append(_row(world, "baseline: random topics", rng.integers(0, k, len(ids)), rng.integers(0, parents, len(ids)),
                     [truth[c][0] for c in ids], [truth[c][1] for c in ids], 0.0))
    fused = None
    for method, modality in (("kmeans", "text"), ("kmeans", "image"), ("kmeans", "audio"), ("lda", "text"),
                             ("kmeans", "fused")):
        cfg = DiscoveryConfig(method=method, modality=modality, k=k, parents=parents, seed=seed)
        out, leaf, parent, tr = _discover(g, cfg, truth)
        name = f"k-means, {modality} embeddings" if method == "kmeans" else "LDA, text"
        if modality == "fused":
            name += " (text+image+audio, each L2-normalised)"
        rows.append(_row(world, name, leaf, parent, [t[0] for t in tr], [t[1] for t in tr],
                         sum(out.timings.values()),
                         f"compute {out.timings['compute_s']:.1f} s, read {out.timings['read_s']:.1f} s, "
                         f"write {out.timings['write_s']:.1f} s"))
        fused = out
    # Communities of the fused run's leaf topics, co-occurring through users → content-level labels.
    topic_communities(g, via="users", backend="gds", write=False)  # untimed warm-up: GDS's first call loads classes
    for backend in ("gds", "networkx"):
        res = topic_communities(g, via="users", backend=backend, write=backend == "gds")
        tid = [f"discovered:{fused.run_id}:0.{t}" for t in fused.hierarchy.labels]
        comm = np.array([res.assignment.get(t, -1) for t in tid])
        keep = [i for i, c in enumerate(fused.content_ids) if c in truth]
        rows.append(_row(world, f"communities of the k-means fused topics ({res.backend}, via users; "
                         f"{res.n_communities} communities)", None, comm[keep], None,
                         [truth[fused.content_ids[i]][1] for i in keep], res.seconds))
    # Communities of the planted leaf topics themselves vs their planted parents (topic level).
    pp = g.read(PLANTED_PARENTS)[0]
    parent_of = dict(zip(pp["leaf"], pp["parent"]))
    for backend in ("gds", "networkx"):
        res = topic_communities(g, source="synthetic", level=None, via="users", backend=backend, write=False)
        leaves = sorted(res.assignment)
        rows.append(_row(world, f"communities of the planted leaf topics ({res.backend}, via users), per topic",
                         None, np.array([res.assignment[t] for t in leaves]), None, [parent_of[t] for t in leaves],
                         res.seconds, f"{res.n_communities} communities over {len(leaves)} topics"))
    return rows, desc


def movielens(g: Graph, k: int, parents: int, seed: int) -> tuple[list[dict], str]:
    from ingestion import movielens as ml
    from ingestion.pipeline import IngestConfig, ingest_source
    from ingestion.quarantine import ErrorPolicy

    _wipe(g)
    t0 = time.perf_counter()
    ingest_source(g, ["movielens-100k"], IngestConfig(progress=False, cache_dir=var_dir("cache")), kg=False)
    setup_s = time.perf_counter() - t0
    ds = ml.load(ErrorPolicy("stop"), ml.MovieLensConfig(kg=False))
    genres: dict[str, list[str]] = {}
    for ct in ds.content_topics:
        genres.setdefault(ct.content, []).append(ct.topic)
    truth = {c: (gs[0], "") for c, gs in genres.items()}  # (first genre, no parent truth)
    world = "MovieLens-100K"
    desc = (f"MovieLens-100K: {len(ds.content)} movies ({len(genres)} with a genre, {len({g for gs in genres.values() for g in gs})} "
            f"genres), MiniLM text embeddings of title + year + genres (no KG); ingested in {setup_s:.0f} s")
    ids = list(truth)
    rng = np.random.default_rng(seed)
    random_topics = rng.integers(0, k, len(ids))
    rows = [_row(world, "baseline: random topics", random_topics, None, [truth[c][0] for c in ids], None, 0.0)]
    rows[-1]["genre_hit"] = _genre_hit(ids, random_topics, genres)
    for method in ("lda", "kmeans"):
        cfg = DiscoveryConfig(method=method, modality="text", k=k, parents=parents, seed=seed)
        out, leaf, _, tr = _discover(g, cfg, truth)
        rows.append(_row(world, "k-means, text embeddings" if method == "kmeans" else "LDA, text", leaf, None,
                         [t[0] for t in tr], None, sum(out.timings.values()),
                         f"compute {out.timings['compute_s']:.1f} s, read {out.timings['read_s']:.1f} s, "
                         f"write {out.timings['write_s']:.1f} s"))
        kept = [c for c in out.content_ids if c in truth]
        rows[-1]["genre_hit"] = _genre_hit(kept, leaf, genres)
    res = topic_communities(g, via="users", backend="gds")
    tid = [f"discovered:{out.run_id}:0.{t}" for t in out.hierarchy.labels]
    comm = np.array([res.assignment.get(t, -1) for t in tid])
    keep = [i for i, c in enumerate(out.content_ids) if c in truth]
    rows.append(_row(world, f"communities of the k-means topics ({res.backend}, via users; {res.n_communities} "
                     "communities)", comm[keep], None, [truth[out.content_ids[i]][0] for i in keep], None, res.seconds))
    rows[-1]["genre_hit"] = _genre_hit([out.content_ids[i] for i in keep], comm[keep], genres)
    return rows, desc


def _wipe(g: Graph) -> None:
    with g.driver.session(database=g.database) as s:
        s.run(WIPE).consume()


def _genre_hit(ids: list[str], labels: np.ndarray, genres: dict[str, list[str]]) -> float:
    """Share of movies with one of their genres equal to their topic's most common genre (multi-label purity)."""
    counts: dict[int, Counter] = {}
    for c, t in zip(ids, labels):
        counts.setdefault(int(t), Counter()).update(genres[c])
    top = {t: cnt.most_common(1)[0][0] for t, cnt in counts.items()}
    return float(np.mean([top[int(t)] in genres[c] for c, t in zip(ids, labels)]))


def _fmt(score: dict | None, key: str) -> str:
    return f"{score[key]:.3f}" if score else ""


def render(rows: list[dict], descs: list[str], args: argparse.Namespace, load_before: str, load_after: str,
           seconds: float) -> str:
    lines = ["# Topic discovery benchmark (`bench/topics.py`)", "",
             f"Command: `{' '.join(['.venv/bin/python', 'bench/topics.py', *sys.argv[1:]])}`", "",
             f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}; load average (1/5/15 min) "
             f"{load_before} before, {load_after} after (shared box); whole run {seconds:.0f} s. Neo4j 5.26 "
             "throwaway server with GDS.", ""]
    lines += [f"- {d}" for d in descs]
    lines += ["", "AMI = adjusted mutual information (0 = chance, 1 = identical partitions); purity = share of items "
              "whose topic's majority true label is their own. *leaf*: against each item's heaviest planted "
              "topic (synthetic) or first genre (MovieLens); *parent*: the discovered parent level (or the "
              "community) against the planted parent topic. Seconds: read + compute + atomic write of the "
              "discovered topics into Neo4j (communities: co-occurrence read + PPMI weights + Louvain + write; "
              "GDS timed after one warm-up call).", "",
              "| data | method | AMI leaf | purity leaf | AMI parent | purity parent | genre hit | seconds | note |",
              "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in rows:
        hit = f"{r['genre_hit']:.3f}" if "genre_hit" in r else ""
        lines.append(f"| {r['world']} | {r['method']} | {_fmt(r['leaf'], 'ami')} | {_fmt(r['leaf'], 'purity')} | "
                     f"{_fmt(r['parent'], 'ami')} | {_fmt(r['parent'], 'purity')} | {hit} | {r['seconds']:.1f} | "
                     f"{r['note']} |")
    lines += ["", "Genre hit (MovieLens) = share of movies having their topic's most common genre among their "
              "genres (movies have 1-6 genres). The movie text names the genres, so text-based topics are "
              "expected to agree with them; it is a check, not an unbiased test.", "",
              "Reading the synthetic rows: by design each modality confuses different topic pairs (text: "
              "siblings under one parent; image: topics 2k and 2k+1; audio: 2k+1 and 2k+2; "
              "docs/synthetic-world.md), so one modality alone cannot separate all leaf topics and the "
              "fused embedding combines the views; text alone carries the parent signal, so parent-level agreement is "
              "expected from text-based rows, and image/audio parents are expected near chance."]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--content", type=int, default=400, help="synthetic content items")
    p.add_argument("--topics", type=int, default=20, help="synthetic planted leaf topics")
    p.add_argument("--users", type=int, default=300, help="synthetic users")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--ml-k", type=int, default=18, help="MovieLens leaf topics")
    p.add_argument("--ml-parents", type=int, default=6, help="MovieLens parent topics")
    p.add_argument("--no-movielens", action="store_true")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")
    for noisy in ("neo4j", "urllib3", "filelock", "PIL"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    load_before, started = _load(), time.perf_counter()
    rows, descs = [], []
    with tempfile.TemporaryDirectory(prefix="bench-topics-") as tmp, \
            server.throwaway(Path(tmp) / "neo4j", heap="1g", pagecache="256m", plugins=True) as cfg, \
            Graph.connect(Neo4jSettings.for_server(cfg)) as g:
        schema.apply(g)
        r, d = synthetic(g, Path(tmp), args.content, args.topics, args.users, args.seed)
        rows += r
        descs.append(d)
        if not args.no_movielens:
            r, d = movielens(g, args.ml_k, args.ml_parents, args.seed)
            rows += r
            descs.append(d)
    text = render(rows, descs, args, load_before, _load(), time.perf_counter() - started)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
