"""Topic discovery and topic communities on a graph: read (graph.topics) → compute (discovery) → write.

``discover_topics`` replaces the discovered topics atomically (see graph/topics.py);
``topic_communities`` runs Louvain on the topic co-occurrence graph with GDS when the server
has it, otherwise (or when asked) with networkx, and stores ``community`` on the topics.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from discovery import communities as comm
from discovery.cluster import DiscoveryConfig, Hierarchy, combine_modalities, discover
from graph import topics as gt
from graph.db import Graph
from graph.errors import GraphError

logger = logging.getLogger(__name__)

BACKENDS = ("auto", "gds", "networkx")
MODALITY_PROPS = {"text": ("emb_text",), "image": ("emb_image",), "audio": ("emb_audio",),
                  "fused": ("emb_fused", "emb_text", "emb_image", "emb_audio")}


@dataclass
class DiscoveryOutcome:
    """A finished discovery run: the hierarchy (item indices refer to ``content_ids``) and what was written."""

    run_id: str
    hierarchy: Hierarchy
    content_ids: list[str]
    written: gt.SwapResult
    skipped_items: int = 0
    timings: dict[str, float] = field(default_factory=dict)


def _embeddings(table: gt.ContentTable, modality: str) -> tuple[np.ndarray, np.ndarray]:
    """(matrix, rows kept) for k-means: the modality's vectors, or the fused ones (stored
    ``emb_fused`` when every item has it, else the available modalities combined)."""
    if modality == "fused" and table.present["emb_fused"].all() and len(table.ids):
        return table.embeddings["emb_fused"], np.ones(len(table.ids), dtype=bool)
    if modality == "fused":
        props = [p for p in ("emb_text", "emb_image", "emb_audio") if table.present[p].any()]
        if not props:
            raise GraphError("no content has emb_text, emb_image, emb_audio or emb_fused: ingest with "
                             "embeddings first, or use --method lda (text only)")
        keep = np.logical_or.reduce([table.present[p] for p in props])
        return combine_modalities([table.embeddings[p] for p in props]), keep
    prop = MODALITY_PROPS[modality][0]
    if not table.present[prop].any():
        raise GraphError(f"no content has {prop}: ingest with embeddings, or pick another --modality")
    return table.embeddings[prop], table.present[prop]


def to_rows(h: Hierarchy, content_ids: list[str], run_id: str) -> gt.TopicRows:
    """The hierarchy as rows for graph.topics: ids ``discovered:<run>:<level>.<n>``."""
    def tid(level: int, i: int) -> str:
        return f"discovered:{run_id}:{level}.{i}"

    topics = [{"id": tid(1, p), "name": h.parents.names[p], "level": 1, "size": int(h.parents.sizes[p]),
               "terms": h.parents.terms[p], "parent": None} for p in range(len(h.parents))]
    topics += [{"id": tid(0, t), "name": h.leaves.names[t], "level": 0, "size": int(h.leaves.sizes[t]),
                "terms": h.leaves.terms[t], "parent": tid(1, int(h.parent_of[t]))} for t in range(len(h.leaves))]
    items, leaf, weight = h.members
    has_topic = [{"content": content_ids[i], "topic": tid(0, t), "weight": float(w)}
                 for i, t, w in zip(items.tolist(), leaf.tolist(), weight.tolist())]
    reps = [{"content": content_ids[i], "topic": tid(level, t), "rank": rank + 1}
            for level, lv in ((0, h.leaves), (1, h.parents))
            for t, members in enumerate(lv.representatives) for rank, i in enumerate(members)]
    return gt.TopicRows(run_id, h.method, h.params, topics, has_topic, reps)


def discover_topics(g: Graph, cfg: DiscoveryConfig, *, run_id: str | None = None,
                    progress: bool = True) -> DiscoveryOutcome:
    """Find topics in the graph's content and make them the visible discovered topics."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    props = () if cfg.method == "lda" else MODALITY_PROPS[cfg.modality]
    table = gt.read_content(g, props, progress=progress)
    if not table.ids:
        raise GraphError("the graph has no Content to discover topics in")
    timings["read_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    if cfg.method == "lda":
        keep = np.array([bool(t.strip()) for t in table.texts])
        emb = None
    else:
        emb, keep = _embeddings(table, cfg.modality)
        emb = emb[keep]
    ids = [i for i, k in zip(table.ids, keep) if k]
    texts = [t for t, k in zip(table.texts, keep) if k]
    if len(ids) < len(table.ids):
        logger.warning("%d of %d content items lack %s and get no discovered topic",
                       len(table.ids) - len(ids), len(table.ids), "text" if cfg.method == "lda" else cfg.modality)
    try:
        hierarchy = discover(texts, emb, cfg)
    except ValueError as e:
        raise GraphError(f"topic discovery failed: {e}") from e
    timings["compute_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    run_id = run_id or gt.new_run_id()
    written = gt.write_run(g, to_rows(hierarchy, ids, run_id), progress=progress)
    timings["write_s"] = time.perf_counter() - t0
    logger.info("discovery run %s: %d leaf + %d parent topics over %d items (%s, %s) in %.1f s", run_id,
                len(hierarchy.leaves), len(hierarchy.parents), len(ids), cfg.method,
                hierarchy.params["modality"], sum(timings.values()))
    return DiscoveryOutcome(run_id, hierarchy, ids, written, len(table.ids) - len(ids), timings)


@dataclass
class CommunityOutcome:
    """Communities of the scoped topics: topic id → community (0 = largest)."""

    backend: str
    assignment: dict[str, int]
    edges: int | None
    seconds: float
    message: str = ""

    @property
    def n_communities(self) -> int:
        return len(set(self.assignment.values()))


def topic_communities(g: Graph, *, source: str = gt.SOURCE, level: int | None = 0, via: str = "users",
                      weighting: str = "ppmi", backend: str = "auto", min_count: int = 1, seed: int = 42,
                      write: bool = True) -> CommunityOutcome:
    """Louvain communities of topics (``source``, ``level``; level None = any) co-occurring ``via``
    content or users, pairs weighted by ``weighting`` (see discovery.communities.cooccurrence).
    ``backend='auto'`` uses GDS when the server has it, otherwise networkx."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    started = time.perf_counter()
    scope = gt.topic_scope(g, source, level)
    if not scope:
        raise GraphError(f"no topics with source {source!r}" + (f" and level {level}" if level is not None else "")
                         + " carry content: run `ikg topics discover` first")
    message = ""
    version = gt.gds_version(g) if backend != "networkx" else None
    if backend == "gds" and version is None:
        raise GraphError(f"the Graph Data Science plugin is not installed on {g.uri}: install GDS "
                         "(the managed server ships it) or use --backend networkx")
    if backend == "auto" and version is None:
        message = (f"the Graph Data Science plugin is not installed on {g.uri}; "
                   "using the Python fallback (networkx Louvain)")
        logger.warning("%s", message)
    _, edges = comm.cooccurrence(gt.baskets(g, source, level, via), weighting=weighting, min_count=min_count)
    if version is not None:
        found, used = gt.gds_louvain(g, edges), f"gds-{version}"
    else:
        found, used = comm.louvain(scope, edges, seed=seed), "networkx"
    # Topics without any co-occurrence edge are communities of their own.
    top = max(found.values(), default=-1)
    for i, tid in enumerate(t for t in scope if t not in found):
        found[tid] = top + 1 + i
    assignment = comm.renumber(found)
    if write:
        gt.write_communities(g, source, level, assignment, f"louvain ({used}, via {via}, {weighting})")
    return CommunityOutcome(used, assignment, len(edges), time.perf_counter() - started, message)
