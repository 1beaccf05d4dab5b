"""Export a selected subgraph from Neo4j into a snapshot (graph.snapshot) as columnar numpy arrays.

Speed comes from never decoding one record per edge: each edge query reads a page of source
nodes and returns a handful of records (one per interaction kind) holding parallel ``collect()``
lists, which become numpy arrays directly. All reads of one export (node id maps, edge pages of
every type, feature pages) run on one pool of ``workers`` sessions, so the server computes one
page while the client decodes another. Server-side cost is mostly property reads, so each edge
query reads a relationship's properties once (``properties(r)``), skips the end node's label
check (end nodes outside the selection are dropped by the id map anyway) and has no time-window
predicate unless a window is set.

Nodes are addressed by Neo4j's internal integer id (``id(n)``; deprecated in Neo4j 5 but the
cheapest handle, and used only inside one export, never stored). The export reads in several
transactions, so run it while ingestion is quiet if you need a point-in-time copy.
Contiguous ids: per label, nodes sorted by their ``id`` property; row i of
``nodes/<Label>.parquet`` is contiguous id i. With ``pseudonymise`` the User ids are replaced by
keyed pseudonyms (graph.pseudonym, HMAC-SHA256 under a local 0600 secret) and sorted by them, so
the snapshot can leave the machine without raw user ids; write-back recomputes the pseudonyms
over the graph's users to map back (graph.writeback).
"""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, LiteralString

import numpy as np
from neo4j import NotificationDisabledClassification
from neo4j.exceptions import ClientError, ServiceUnavailable, SessionExpired
from tqdm import tqdm

from graph.db import Graph
from graph.errors import ConfigError, GraphError, InputError
from graph.model import (CONTENT, FOLLOWS, HAS_TOPIC, INTERACTED, INTERACTION_KINDS, NODE_LABELS, SUBTOPIC_OF,
                         TOPIC, USER, VECTOR_PROPERTIES, vector_property)
from graph.pseudonym import load_secret, pseudonyms
from graph.snapshot import EdgeType, Snapshot, edge_key

logger = logging.getLogger(__name__)

PAGE_EDGES = 200_000          # target edges per page (one round trip)
FEATURE_PAGE_VALUES = 1_000_000  # target floats per feature page
WORKERS = 2
DENSE_FACTOR, DENSE_SLACK = 4, 1_000_000  # IdMap uses a direct table up to 4 x nodes + 1M entries
DEFAULT_WEIGHT = 1.0
NO_FEATURE_PROPS = ("emb_gnn",)  # model outputs are not model inputs
# id() is deprecated (but supported) in Neo4j 5; an absent optional relationship type is normal.
QUIET = [NotificationDisabledClassification.DEPRECATION, NotificationDisabledClassification.UNRECOGNIZED]

EDGE_TYPES: tuple[EdgeType, ...] = (
    (USER, INTERACTED, CONTENT),
    (CONTENT, HAS_TOPIC, TOPIC),
    (TOPIC, SUBTOPIC_OF, TOPIC),
    (USER, FOLLOWS, USER),
)

# ---------------------------------------------------------------- queries (values only via $params)
NODES_ALL: dict[str, LiteralString] = {
    USER: "MATCH (n:User) WHERE n.id IS NOT NULL RETURN collect(n.id) AS ids, collect(id(n)) AS nids",
    CONTENT: "MATCH (n:Content) WHERE n.id IS NOT NULL RETURN collect(n.id) AS ids, collect(id(n)) AS nids",
    TOPIC: "MATCH (n:Topic) WHERE n.id IS NOT NULL RETURN collect(n.id) AS ids, collect(id(n)) AS nids",
}
NODES_IN: dict[str, LiteralString] = {
    USER: "MATCH (n:User) WHERE id(n) IN $nids AND n.id IS NOT NULL "
          "RETURN collect(n.id) AS ids, collect(id(n)) AS nids",
    CONTENT: "MATCH (n:Content) WHERE id(n) IN $nids AND n.id IS NOT NULL "
             "RETURN collect(n.id) AS ids, collect(id(n)) AS nids",
    TOPIC: "MATCH (n:Topic) WHERE id(n) IN $nids AND n.id IS NOT NULL "
           "RETURN collect(n.id) AS ids, collect(id(n)) AS nids",
}
# Sizes of every label and type from the count store (one round trip; sizes the edge pages).
COUNTS: LiteralString = """
RETURN COUNT { (:User) } AS User, COUNT { (:Content) } AS Content, COUNT { (:Topic) } AS Topic,
       COUNT { ()-[:INTERACTED]->() } AS INTERACTED, COUNT { ()-[:HAS_TOPIC]->() } AS HAS_TOPIC,
       COUNT { ()-[:SUBTOPIC_OF]->() } AS SUBTOPIC_OF, COUNT { ()-[:FOLLOWS]->() } AS FOLLOWS"""
EDGE_QUERIES: dict[EdgeType, LiteralString] = {
    (USER, INTERACTED, CONTENT): """
MATCH (s:User) WHERE id(s) IN $src
MATCH (s)-[r:INTERACTED]->(d)
WITH s, d, properties(r) AS p
RETURN p.kind AS kind, collect(id(s)) AS src, collect(id(d)) AS dst,
       collect(coalesce(p.ts.epochMillis, $nan)) AS ts_ms, collect(coalesce(p.weight, $default_weight)) AS weight,
       collect(coalesce(p.rating, $nan)) AS rating""",
    (CONTENT, HAS_TOPIC, TOPIC): """
MATCH (s:Content) WHERE id(s) IN $src
MATCH (s)-[r:HAS_TOPIC]->(d)
RETURN collect(id(s)) AS src, collect(id(d)) AS dst, collect(coalesce(r.weight, $default_weight)) AS weight""",
    (TOPIC, SUBTOPIC_OF, TOPIC): """
MATCH (s:Topic) WHERE id(s) IN $src
MATCH (s)-[:SUBTOPIC_OF]->(d)
RETURN collect(id(s)) AS src, collect(id(d)) AS dst""",
    (USER, FOLLOWS, USER): """
MATCH (s:User) WHERE id(s) IN $src
MATCH (s)-[r:FOLLOWS]->(d)
RETURN collect(id(s)) AS src, collect(id(d)) AS dst, collect(coalesce(r.ts.epochMillis, $nan)) AS ts_ms""",
}
# The same for interactions inside a time window (the predicate costs a property read per edge).
WINDOWED: dict[EdgeType, LiteralString] = {
    (USER, INTERACTED, CONTENT): """
MATCH (s:User) WHERE id(s) IN $src
MATCH (s)-[r:INTERACTED]->(d)
WITH s, d, properties(r) AS p
WHERE ($since IS NULL OR p.ts >= $since) AND ($until IS NULL OR p.ts < $until)
RETURN p.kind AS kind, collect(id(s)) AS src, collect(id(d)) AS dst,
       collect(coalesce(p.ts.epochMillis, $nan)) AS ts_ms, collect(coalesce(p.weight, $default_weight)) AS weight,
       collect(coalesce(p.rating, $nan)) AS rating""",
}
# One hop of the sampled neighbourhood: undirected, over the selected types, inside the
# selected labels; interactions only inside the time window.
EXPAND = """
MATCH (n) WHERE id(n) IN $frontier
MATCH (n)-[r]-(m)
WHERE type(r) IN $rel_types AND any(l IN labels(m) WHERE l IN $labels) AND m.id IS NOT NULL
  AND (type(r) <> $windowed OR (($since IS NULL OR r.ts >= $since) AND ($until IS NULL OR r.ts < $until)))
RETURN collect(DISTINCT id(m)) AS nids"""
FEATURES = """
MATCH (n) WHERE id(n) IN $nids AND n[$prop] IS NOT NULL
RETURN collect(id(n)) AS nids, collect(n[$prop]) AS vecs"""

# per edge type: attribute -> numpy dtype (src/dst are int64)
EDGE_ATTRS: dict[EdgeType, dict[str, Any]] = {
    (USER, INTERACTED, CONTENT): {"ts": np.float64, "weight": np.float32, "rating": np.float32, "kind": np.int8},
    (CONTENT, HAS_TOPIC, TOPIC): {"weight": np.float32},
    (TOPIC, SUBTOPIC_OF, TOPIC): {},
    (USER, FOLLOWS, USER): {"ts": np.float64},
}


def _parse_time(value: str | float | datetime | None, name: str) -> datetime | None:
    """ISO-8601 string, epoch seconds or datetime -> aware UTC datetime."""
    if value is None or isinstance(value, datetime):
        if isinstance(value, datetime) and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(float(value), tz=timezone.utc)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as e:
        raise ConfigError(f"{name}={value!r} is not an ISO-8601 time or epoch seconds") from e
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class ExportConfig:
    """What to export. Times accept ISO-8601 strings, epoch seconds or datetimes (UTC if naive)."""

    labels: tuple[str, ...] = NODE_LABELS
    rel_types: tuple[str, ...] = (INTERACTED, HAS_TOPIC, SUBTOPIC_OF, FOLLOWS)
    since: Any = None
    until: Any = None
    sample_users: int | None = None
    hops: int = 2
    seed: int = 0
    features: tuple[str, ...] | None = None  # "Label.prop"; None = every input embedding of the labels
    reference_time: Any = None
    page_edges: int = PAGE_EDGES
    workers: int = WORKERS
    pseudonymise: bool = False  # User ids -> keyed pseudonyms (graph.pseudonym); the key stays here

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", tuple(self.labels))
        object.__setattr__(self, "rel_types", tuple(self.rel_types))
        bad = [lb for lb in self.labels if lb not in NODE_LABELS]
        if bad or not self.labels:
            raise ConfigError(f"labels {bad or '(none)'} not exportable; choose from {list(NODE_LABELS)}")
        known_rels = [et[1] for et in EDGE_TYPES]
        bad = [rt for rt in self.rel_types if rt not in known_rels]
        if bad:
            raise ConfigError(f"relationship types {bad} not exportable; choose from {known_rels}")
        for etype in self.edge_types:
            missing = [lb for lb in (etype[0], etype[2]) if lb not in self.labels]
            if missing:
                raise ConfigError(f"{etype[1]} connects {etype[0]}->{etype[2]} but labels {missing} are not selected")
        for name in ("since", "until", "reference_time"):
            object.__setattr__(self, name, _parse_time(getattr(self, name), name))
        if self.since and self.until and self.since >= self.until:
            raise ConfigError(f"since ({self.since.isoformat()}) must be before until ({self.until.isoformat()})")
        if self.sample_users is not None:
            if self.sample_users < 1:
                raise ConfigError(f"sample_users must be >= 1, got {self.sample_users}")
            if USER not in self.labels:
                raise ConfigError("sample_users needs the User label selected")
        if self.hops < 0:
            raise ConfigError(f"hops must be >= 0, got {self.hops}")
        if self.page_edges < 1 or self.workers < 1:
            raise ConfigError(f"page_edges and workers must be >= 1, got {self.page_edges}, {self.workers}")
        if self.features is not None:
            object.__setattr__(self, "features", tuple(self.features))
            allowed = {f"{vp.label}.{vp.prop}" for vp in VECTOR_PROPERTIES}
            bad = [f for f in self.features if f not in allowed or f.split(".")[0] not in self.labels]
            if bad:
                raise ConfigError(f"features {bad} unknown or of an unselected label; "
                                  f"choose from {sorted(a for a in allowed if a.split('.')[0] in self.labels)}")

    @property
    def edge_types(self) -> tuple[EdgeType, ...]:
        return tuple(et for et in EDGE_TYPES if et[1] in self.rel_types)

    @property
    def feature_props(self) -> list[tuple[str, str]]:
        if self.features is not None:
            return [(f.split(".")[0], f.split(".")[1]) for f in self.features]
        return [(vp.label, vp.prop) for vp in VECTOR_PROPERTIES
                if vp.label in self.labels and vp.prop not in NO_FEATURE_PROPS]

    def selection(self) -> dict[str, Any]:
        """JSON-friendly view for the manifest."""
        out = asdict(self)
        for name in ("since", "until", "reference_time"):
            out[name] = out[name].isoformat() if out[name] else None
        out["labels"], out["rel_types"] = list(self.labels), list(self.rel_types)
        out["features"] = [f"{lb}.{p}" for lb, p in self.feature_props]
        return out


# ---------------------------------------------------------------- pure compute
@dataclass
class IdMap:
    """Internal Neo4j ids -> contiguous ids of one label (contiguous order = raw ids sorted)."""

    raw_ids: np.ndarray                       # object [n], sorted
    internal: np.ndarray                      # int64 [n], internal id of raw_ids[i]
    _sorted_internal: np.ndarray = field(init=False, repr=False)
    _contiguous: np.ndarray = field(init=False, repr=False)
    _dense: np.ndarray | None = field(init=False, repr=False, default=None)

    def __post_init__(self) -> None:
        order = np.argsort(self.internal, kind="stable")
        self._sorted_internal = self.internal[order]
        self._contiguous = order.astype(np.int64)
        # Internal ids are record ids, dense in practice: a direct table beats a binary search.
        top = int(self._sorted_internal[-1]) + 1 if len(order) else 0
        if 0 < top <= DENSE_FACTOR * len(order) + DENSE_SLACK and self._sorted_internal[0] >= 0:
            self._dense = np.full(top, -1, dtype=np.int64)
            self._dense[self._sorted_internal] = self._contiguous

    @classmethod
    def build(cls, raw_ids: Sequence[str], internal: Sequence[int]) -> "IdMap":
        raw = np.asarray(raw_ids, dtype=object)
        nids = np.asarray(internal, dtype=np.int64)
        order = np.argsort(raw.astype(str), kind="stable")
        return cls(raw_ids=raw[order], internal=nids[order])

    def __len__(self) -> int:
        return len(self.raw_ids)

    def lookup(self, internal: np.ndarray) -> np.ndarray:
        """Contiguous ids, -1 where the node is not in this map."""
        internal = np.asarray(internal, dtype=np.int64)
        if len(self._sorted_internal) == 0:
            return np.full(len(internal), -1, dtype=np.int64)
        if self._dense is not None:
            inside = (internal >= 0) & (internal < len(self._dense))
            return np.where(inside, self._dense[np.where(inside, internal, 0)], -1)
        pos = np.searchsorted(self._sorted_internal, internal)
        pos = np.minimum(pos, len(self._sorted_internal) - 1)
        return np.where(self._sorted_internal[pos] == internal, self._contiguous[pos], -1)


def kind_codes(kinds: Sequence[str | None]) -> tuple[dict[str | None, int], list[str]]:
    """Kind -> int8 code, known kinds first (model order), unknown kinds appended sorted; None -> -1."""
    vocabulary = list(INTERACTION_KINDS) + sorted({k for k in kinds if k is not None} - set(INTERACTION_KINDS))
    codes: dict[str | None, int] = {k: i for i, k in enumerate(vocabulary)}
    codes[None] = -1
    if len(vocabulary) > 127:
        raise InputError(f"{len(vocabulary)} interaction kinds do not fit int8", field="kind")
    return codes, vocabulary


def record_arrays(etype: EdgeType, record: dict[str, Any]) -> dict[str, Any]:
    """One page record (parallel lists, nulls already coalesced) -> numpy arrays; ``kind`` stays
    the record's kind string."""
    attrs = EDGE_ATTRS[etype]
    n = len(record["src"])
    out: dict[str, Any] = {"src": np.fromiter(record["src"], dtype=np.int64, count=n),
                           "dst": np.fromiter(record["dst"], dtype=np.int64, count=n)}
    for key, dtype in attrs.items():
        if key == "kind":
            out["kind"] = record["kind"]
        elif key == "ts":
            out["ts"] = np.fromiter(record["ts_ms"], dtype=np.float64, count=n)
            out["ts"] /= 1000.0
        else:
            out[key] = np.fromiter(record[key], dtype=dtype, count=n)
    return out


def edge_order(pair: np.ndarray, ts: np.ndarray | None) -> np.ndarray:
    """Permutation sorting edges by ``pair`` (src * n_dst + dst), ties by ``ts`` (NaN last), else stable.
    Edges arrive grouped by source, so a stable sort of ``pair`` is nearly free; only runs of
    repeated pairs need the (slow) two-key sort."""
    order = np.argsort(pair, kind="stable")
    if ts is None or len(order) < 2:
        return order
    ps = pair[order]
    same = ps[1:] == ps[:-1]
    if same.any():
        tied = np.zeros(len(order), dtype=bool)
        tied[1:] |= same
        tied[:-1] |= same
        at = np.flatnonzero(tied)
        sub = order[at]
        order[at] = sub[np.lexsort([ts[sub], pair[sub]])]
    return order


def assemble_edges(etype: EdgeType, chunks: list[dict[str, Any]], src_map: IdMap, dst_map: IdMap,
                   codes: dict[str | None, int]) -> dict[str, np.ndarray]:
    """Concatenate per-record arrays, map to contiguous ids, drop edges leaving the node sets,
    sort by (src, dst, ts)."""
    attrs = EDGE_ATTRS[etype]
    dtypes = {"src": np.int64, "dst": np.int64, **attrs}
    parts: dict[str, list[np.ndarray]] = {key: [] for key in dtypes}
    for chunk in chunks:
        for key in dtypes:
            if key == "kind":
                parts[key].append(np.full(len(chunk["src"]), codes[chunk["kind"]], dtype=np.int8))
            else:
                parts[key].append(chunk[key])
    out = {key: (parts[key][0] if len(parts[key]) == 1 else np.concatenate(parts[key])) if parts[key]
           else np.empty(0, dtype=dtype) for key, dtype in dtypes.items()}
    out["src"], out["dst"] = src_map.lookup(out["src"]), dst_map.lookup(out["dst"])
    keep = (out["src"] >= 0) & (out["dst"] >= 0)
    if not keep.all():
        out = {key: arr[keep] for key, arr in out.items()}
    order = edge_order(out["src"] * max(len(dst_map), 1) + out["dst"], out.get("ts"))
    return {key: arr[order].astype(dtypes[key], copy=False) for key, arr in out.items()}


def chunks_for(nids: np.ndarray, expected_edges: float, page_edges: int, workers: int) -> list[np.ndarray]:
    """Split source node ids into pages of about ``page_edges`` expected edges (>= ``workers`` pages)."""
    if len(nids) == 0:
        return []
    pages = max(math.ceil(expected_edges / page_edges), min(workers, len(nids)), 1)
    return [c for c in np.array_split(np.sort(nids), pages) if len(c)]


def merge_features(label: str, prop: str, idmap: IdMap, pages: list[dict[str, Any]]
                   ) -> tuple[np.ndarray, np.ndarray] | None:
    """Feature pages (``nids``, ``vecs`` lists) -> float32 [n, dim] and presence mask; None when
    no node has the property; InputError when dimensions differ."""
    n = len(idmap)
    values: np.ndarray | None = None
    mask = np.zeros(n, dtype=bool)
    for rec in pages:
        if not rec["nids"]:
            continue
        rows = idmap.lookup(np.asarray(rec["nids"], dtype=np.int64))
        if values is None:
            values = np.zeros((n, len(rec["vecs"][0])), dtype=np.float32)
        dim = values.shape[1]
        bad = next((i for i, v in enumerate(rec["vecs"]) if len(v) != dim), None)
        if bad is not None:
            raise InputError(f"embedding has dimension {len(rec['vecs'][bad])}, others {dim}",
                             field=f"{label}.{prop}", value=idmap.raw_ids[rows[bad]])
        values[rows] = np.asarray(rec["vecs"], dtype=np.float32)
        mask[rows] = True
    return None if values is None else (values, mask)


# ---------------------------------------------------------------- I/O
class Exporter:
    """Runs the export queries for one config on one Graph, ``cfg.workers`` sessions at a time."""

    def __init__(self, g: Graph, cfg: ExportConfig, pool: ThreadPoolExecutor):
        self.g, self.cfg, self.pool = g, cfg, pool
        self.queries: dict[str, str] = {}
        self.sampled_users: list[str] = []
        self._seeds = np.empty(0, dtype=np.int64)

    def _session(self):
        return self.g.driver.session(database=self.g.database,
                                     notifications_disabled_classifications=QUIET)

    def _fetch(self, name: str, query: LiteralString, **params: Any) -> list[dict[str, Any]]:
        """Run one read query in its own session; records as dicts (few records, big lists)."""
        self.queries[name] = query
        try:
            with self._session() as session:
                return session.execute_read(lambda tx: [dict(r.items()) for r in tx.run(query, params)])
        except ClientError as e:
            raise GraphError(f"export query {name!r} failed: {e.message}") from e
        except (ServiceUnavailable, SessionExpired, OSError) as e:
            raise GraphError(f"Neo4j is unreachable at {self.g.uri}: {e}") from e

    def counts(self) -> dict[str, int]:
        """Nodes per label and relationships per type in the whole database (count store)."""
        return self._fetch("counts", COUNTS)[0]

    def node_maps(self) -> dict[str, IdMap]:
        """Per selected label: all its nodes, or those in the sampled neighbourhood (labels in parallel)."""
        cfg = self.cfg
        if cfg.sample_users is None:
            futures = {lb: self.pool.submit(self._fetch, f"nodes_{lb}", NODES_ALL[lb]) for lb in cfg.labels}
        else:
            reached = self.sampled_node_ids().tolist()
            futures = {lb: self.pool.submit(self._fetch, f"nodes_{lb}", NODES_IN[lb], nids=reached)
                       for lb in cfg.labels}
        maps = {lb: IdMap.build(f.result()[0]["ids"], f.result()[0]["nids"]) for lb, f in futures.items()}
        if cfg.sample_users is not None:
            picked = maps[USER].lookup(self._seeds)
            self.sampled_users = sorted(maps[USER].raw_ids[picked[picked >= 0]].tolist())
        return maps

    def sampled_node_ids(self) -> np.ndarray:
        """Internal ids of ``sample_users`` random users (seeded) and their ``hops``-hop neighbourhood."""
        cfg = self.cfg
        users = np.sort(np.asarray(self._fetch("sample_candidates", NODES_ALL[USER])[0]["nids"], dtype=np.int64))
        rng = np.random.default_rng(cfg.seed)
        seeds = rng.choice(users, size=min(cfg.sample_users, len(users)), replace=False) if len(users) else users
        self._seeds = np.sort(seeds)
        reached = set(seeds.tolist())
        frontier = sorted(reached)
        for hop in range(cfg.hops):
            if not frontier:
                break
            found = self._fetch("expand", EXPAND, frontier=frontier, rel_types=list(cfg.rel_types),
                                labels=list(cfg.labels), windowed=INTERACTED, **self._window())[0]["nids"]
            frontier = sorted(set(found) - reached)
            reached.update(frontier)
            logger.info("hop %d: %d new nodes (%d in all)", hop + 1, len(frontier), len(reached))
        return np.asarray(sorted(reached), dtype=np.int64)

    def _window(self) -> dict[str, Any]:
        return {"since": self.cfg.since, "until": self.cfg.until}

    def edge_pages(self, etype: EdgeType, maps: dict[str, IdMap], counts: dict[str, int],
                   bar: tqdm) -> list[Future]:
        """Submit the edge query for each page of source nodes; futures of per-record arrays."""
        src_map = maps[etype[0]]
        total = counts[etype[1]]
        if not total:
            return []
        expected = total * len(src_map) / max(counts[etype[0]], 1)
        pages = chunks_for(src_map.internal, expected, self.cfg.page_edges, self.cfg.workers)
        windowed = etype in WINDOWED and (self.cfg.since is not None or self.cfg.until is not None)
        query = WINDOWED[etype] if windowed else EDGE_QUERIES[etype]
        # collect() skips nulls, so every nullable value is coalesced (NaN or the default weight)
        params = {"nan": float("nan"), "default_weight": DEFAULT_WEIGHT, **(self._window() if windowed else {})}

        def one(page: np.ndarray) -> list[dict[str, Any]]:
            records = self._fetch(edge_key(etype), query, src=page.tolist(), **params)
            bar.update(1)
            return [record_arrays(etype, rec) for rec in records]

        bar.total = (bar.total or 0) + len(pages)
        return [self.pool.submit(one, page) for page in pages]

    def feature_pages(self, label: str, prop: str, idmap: IdMap) -> list[Future]:
        """Submit the feature query for pages of about FEATURE_PAGE_VALUES floats."""
        page_nodes = max(1, FEATURE_PAGE_VALUES // vector_property(label, prop).dim)
        pages = [c for c in np.array_split(idmap.internal, max(1, math.ceil(len(idmap) / page_nodes))) if len(c)]
        return [self.pool.submit(lambda page: self._fetch(f"features_{label}_{prop}", FEATURES, nids=page.tolist(),
                                                          prop=prop)[0], page) for page in pages]


def export_snapshot(g: Graph, cfg: ExportConfig, *, name: str = "") -> Snapshot:
    """Read the selected subgraph into a Snapshot (not yet saved)."""
    started = time.perf_counter()
    timings: dict[str, float] = {}

    def stage(label: str, t0: float) -> float:
        timings[label] = round(time.perf_counter() - t0, 4)
        return time.perf_counter()

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=cfg.workers) as pool, \
            tqdm(total=0, desc="export", unit="page", leave=False, disable=None) as bar:
        ex = Exporter(g, cfg, pool)
        counts = pool.submit(ex.counts)
        maps = ex.node_maps()
        t0 = stage("nodes", t0)
        edge_futures = {etype: ex.edge_pages(etype, maps, counts.result(), bar) for etype in cfg.edge_types}
        feature_futures = {(label, prop): ex.feature_pages(label, prop, maps[label])
                           for label, prop in cfg.feature_props}
        raw_pages = {etype: [chunk for f in futures for chunk in f.result()] for etype, futures in edge_futures.items()}
        feature_pages = {key: [f.result() for f in futures] for key, futures in feature_futures.items()}
        t0 = stage("fetch", t0)
    sampled_users = ex.sampled_users
    if cfg.pseudonymise and USER in maps:
        # Rows are re-sorted by pseudonym, so row order says nothing about the raw ids either.
        secret = load_secret()
        maps[USER] = IdMap.build(pseudonyms(maps[USER].raw_ids.tolist(), secret), maps[USER].internal)
        sampled_users = sorted(pseudonyms(sampled_users, secret))
    totals = {etype[1]: int(counts.result()[etype[1]]) for etype in cfg.edge_types}
    kinds_seen = [chunk["kind"] for etype, chunks in raw_pages.items() if etype[1] == INTERACTED
                  for chunk in chunks]
    codes, vocabulary = kind_codes(kinds_seen)
    edges = {etype: assemble_edges(etype, chunks, maps[etype[0]], maps[etype[2]], codes)
             for etype, chunks in raw_pages.items()}
    t0 = stage("edges_assemble", t0)
    features: dict[str, dict[str, np.ndarray]] = {}
    masks: dict[str, dict[str, np.ndarray]] = {}
    absent = []
    for (label, prop), pages in feature_pages.items():
        got = merge_features(label, prop, maps[label], pages)
        if got is None:
            absent.append(f"{label}.{prop}")
            continue
        features.setdefault(label, {})[prop], masks.setdefault(label, {})[prop] = got
    stage("features_assemble", t0)
    if absent:
        logger.info("no node has %s; not exported", ", ".join(absent))

    interactions = edges.get((USER, INTERACTED, CONTENT))
    if cfg.reference_time is not None:
        reference = cfg.reference_time.timestamp()
    elif interactions is not None and len(interactions["ts"]) and not np.isnan(interactions["ts"]).all():
        reference = float(np.nanmax(interactions["ts"]))
    else:
        reference = None
    timings["total"] = round(time.perf_counter() - started, 4)
    manifest = {
        "name": name,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "source": {"uri": g.uri, "database": g.database},
        "selection": cfg.selection(),
        "time_window": {"since": cfg.selection()["since"], "until": cfg.selection()["until"],
                        "applies_to": INTERACTED},
        "sampled_users": sampled_users,
        "pseudonymised": bool(cfg.pseudonymise and USER in maps),
        "pseudonym": ({"labels": [USER], "method": "HMAC-SHA256 of the id under a secret kept on the exporting "
                                                   "machine (graph.pseudonym); write-back maps back there"}
                      if cfg.pseudonymise and USER in maps else None),
        "reference_time": reference,
        "reference_time_iso": (datetime.fromtimestamp(reference, tz=timezone.utc).isoformat()
                               if reference is not None else None),
        "interaction_kinds": vocabulary,
        "id_order": "per label, contiguous id i = i-th node id in sorted order",
        "edge_attributes": {edge_key(et): {k: np.dtype(v).name for k, v in EDGE_ATTRS[et].items()}
                            for et in cfg.edge_types},
        "defaults": {"weight": DEFAULT_WEIGHT, "rating": "NaN when absent", "ts": "NaN when absent"},
        "features_absent": absent,
        "source_edge_totals": totals,
        "queries": dict(sorted(ex.queries.items())),
        "timings": timings,
    }
    return Snapshot(node_ids={lb: m.raw_ids for lb, m in maps.items()}, edges=edges, features=features,
                    feature_masks=masks, manifest=manifest)


def export_to(g: Graph, cfg: ExportConfig, path: Path, *, name: str = "") -> Snapshot:
    """Export and save atomically to ``path``; returns the saved snapshot."""
    snap = export_snapshot(g, cfg, name=name or Path(path).name)
    snap.save(Path(path))
    logger.info("snapshot %s: %s nodes, %s edges in %.2f s", path, snap.manifest["counts"]["nodes"],
                snap.manifest["counts"]["edges"], snap.manifest["timings"]["total"])
    return snap
