"""Write a training run directory back into Neo4j: run-tagged model edges, ``emb_gnn``, a ModelRun.

The swap is atomic for readers, who use only the edges whose ``run_id`` is the active ModelRun:
1. the new run's ModelRun is MERGEd inactive (``state='writing'``) and any edges left by an
   earlier attempt of the same run are deleted;
2. its INTERESTED_IN / MAY_LIKE edges are CREATEd in large batches (parallel arrays, nodes by
   pre-resolved internal id) on ``workers`` sessions at once: users and targets are split into
   groups so that concurrent transactions never touch the same node (no lock waits, no
   deadlocks); then ``emb_gnn`` is set the same way; the run becomes ``state='ready'``;
3. ONE small transaction flips ``active`` from the old run to the new one;
4. the edges of superseded runs are deleted (``IN TRANSACTIONS``, auto-commit; state 'retiring'
   meanwhile, swept again by the next write-back) and those runs become ``state='retired'``
   (rewritable from their run directory by ``activate``).
A crash at any point leaves the old or the new run fully visible; rerunning converges.
Declared interests (``INTERESTED_IN {source:'declared'}``, no run_id) are never touched.
``emb_gnn`` is a single node property, so it is not versioned: it is replaced in step 2, just
before the flip, and ``emb_gnn_run`` on each node names the run it came from.
One writer at a time is assumed (runs in state 'writing' of other ids are left alone).
A run trained on a pseudonymised snapshot is mapped back to the real users by recomputing the
keyed pseudonym (graph.pseudonym) of every user in the graph; the secret never leaves this machine.
"""
from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, LiteralString

import numpy as np
from neo4j import NotificationDisabledClassification
from neo4j.exceptions import ClientError, ServiceUnavailable, SessionExpired
from tqdm import tqdm

from graph.db import Graph
from graph.errors import ConfigError, GraphError, InputError
from graph.model import CONTENT, INTERESTED_IN, MAY_LIKE, TOPIC, USER, vector_property
from graph.pseudonym import load_secret, pseudonyms, secret_path
from graph.settings import var_dir
from graph.snapshot import Snapshot

logger = logging.getLogger(__name__)

BATCH_SIZE = 5_000         # relationships per write transaction (about; whole users per batch)
EMB_BATCH_SIZE = 5_000     # nodes per emb_gnn transaction
WORKERS = 2                # parallel write sessions (lock-disjoint batches)
DELETE_BATCH = 10_000      # rows per inner transaction when deleting a run's edges
QUIET = [NotificationDisabledClassification.DEPRECATION, NotificationDisabledClassification.UNRECOGNIZED]
EMB_LABELS = (USER, CONTENT)
REQUIRED_RUN_KEYS = ("run_id", "model", "emb_dim")
WRITING, READY, RETIRING, RETIRED = "writing", "ready", "retiring", "retired"

# ---------------------------------------------------------------- queries
RESOLVE: dict[str, LiteralString] = {
    USER: "UNWIND range(0, size($ids) - 1) AS i MATCH (n:User {id: $ids[i]}) "
          "RETURN collect(i) AS idx, collect(id(n)) AS nids",
    CONTENT: "UNWIND range(0, size($ids) - 1) AS i MATCH (n:Content {id: $ids[i]}) "
             "RETURN collect(i) AS idx, collect(id(n)) AS nids",
    TOPIC: "UNWIND range(0, size($ids) - 1) AS i MATCH (n:Topic {id: $ids[i]}) "
           "RETURN collect(i) AS idx, collect(id(n)) AS nids",
}
ALL_USERS = "MATCH (n:User) WHERE n.id IS NOT NULL RETURN collect(n.id) AS ids, collect(id(n)) AS nids"
GET_RUN = "MATCH (r:ModelRun {id: $run_id}) RETURN r {.*} AS run"
BEGIN_RUN = """
MERGE (r:ModelRun {id: $run_id})
SET r += $props, r.active = false, r.state = $writing
"""
# Parallel arrays grouped by user (CSR): user i's edges are entries off[i] .. off[i+1]-1 of
# t/score/rank; users and targets are internal node ids resolved just before. Properties are SET
# one by one (measured ~5% less server CPU than a map literal in CREATE).
CREATE_INTERESTS = """
UNWIND range(0, size($users) - 1) AS i
MATCH (u:User) WHERE id(u) = $users[i]
UNWIND range($off[i], $off[i + 1] - 1) AS j
MATCH (t:Topic) WHERE id(t) = $t[j]
CREATE (u)-[r:INTERESTED_IN]->(t)
SET r.score = $score[j], r.rank = $rank[j], r.run_id = $run_id, r.model = $model, r.source = 'model',
    r.updated_at = $now
"""
# Content the user has interacted with (now, in the graph, same transaction) is never
# recommended: each user's interacted items are read once, not once per candidate.
CREATE_RECOMMENDATIONS = """
UNWIND range(0, size($users) - 1) AS i
MATCH (u:User) WHERE id(u) = $users[i]
WITH u, i, COLLECT { MATCH (u)-[:INTERACTED]->(x:Content) RETURN DISTINCT id(x) } AS seen
UNWIND range($off[i], $off[i + 1] - 1) AS j
WITH u, j, seen WHERE NOT $t[j] IN seen
MATCH (c:Content) WHERE id(c) = $t[j]
CREATE (u)-[r:MAY_LIKE]->(c)
SET r.score = $score[j], r.rank = $rank[j], r.run_id = $run_id, r.model = $model, r.updated_at = $now
"""
SET_EMBEDDINGS = """
UNWIND range(0, size($n) - 1) AS i
MATCH (n) WHERE id(n) = $n[i]
CALL db.create.setNodeVectorProperty(n, 'emb_gnn', $vec[i])
SET n.emb_gnn_run = $run_id
"""
FINISH_RUN = """
MATCH (r:ModelRun {id: $run_id}) WHERE r.state = $writing
SET r.state = $ready, r.interests = $interests, r.recommendations = $recommendations,
    r.excluded_seen = $excluded_seen, r.written_at = $now, r.writeback_timings = $timings
RETURN r.id AS id
"""
# The one small transaction readers see: exactly one active run before and after.
FLIP = """
MATCH (new:ModelRun {id: $run_id}) WHERE new.state = $ready
OPTIONAL MATCH (old:ModelRun {active: true}) WHERE old.id <> new.id
SET old.active = false, old.deactivated_at = $now
SET new.active = true, new.activated_at = $now
RETURN collect(old.id) AS previous
"""
# Superseded runs whose edges are still there, most recently active first.
SUPERSEDED = """
MATCH (r:ModelRun) WHERE r.active = false AND r.state = $ready
RETURN r.id AS id ORDER BY coalesce(r.deactivated_at, r.written_at) DESC, r.id
"""
# Runs whose edge deletion was interrupted.
RETIRING_RUNS = "MATCH (r:ModelRun) WHERE r.state = $retiring RETURN r.id AS id ORDER BY r.id"
SET_STATE = "MATCH (r:ModelRun {id: $run_id}) SET r.state = $state, r.state_changed_at = $now"
DELETE_EDGES: dict[str, LiteralString] = {
    INTERESTED_IN: "MATCH ()-[r:INTERESTED_IN]->() WHERE r.run_id = $run_id "
                   "CALL (r) { DELETE r } IN TRANSACTIONS OF $batch ROWS",
    MAY_LIKE: "MATCH ()-[r:MAY_LIKE]->() WHERE r.run_id = $run_id "
              "CALL (r) { DELETE r } IN TRANSACTIONS OF $batch ROWS",
}
COUNT_EDGES = """
RETURN COUNT { MATCH ()-[r:INTERESTED_IN]->() WHERE r.run_id = $run_id } AS interests,
       COUNT { MATCH ()-[r:MAY_LIKE]->() WHERE r.run_id = $run_id } AS recommendations
"""
LIST_RUNS = """
MATCH (r:ModelRun)
RETURN r {.*} AS run ORDER BY r.created_at DESC, r.id
"""
ACTIVE_RUN = "MATCH (r:ModelRun {active: true}) RETURN r {.*} AS run ORDER BY r.activated_at DESC LIMIT 1"
VECTOR_INDEX_DIM = """
SHOW VECTOR INDEXES YIELD name, options WHERE name = $name
RETURN options.indexConfig.`vector.dimensions` AS dim
"""
DROP_INDEX: dict[str, LiteralString] = {
    USER: "DROP INDEX user_emb_gnn IF EXISTS",
    CONTENT: "DROP INDEX content_emb_gnn IF EXISTS",
}
CREATE_INDEX: dict[str, LiteralString] = {
    USER: "CREATE VECTOR INDEX user_emb_gnn IF NOT EXISTS FOR (n:User) ON (n.emb_gnn) "
          "OPTIONS {indexConfig: {`vector.dimensions`: $dim, `vector.similarity_function`: 'cosine'}}",
    CONTENT: "CREATE VECTOR INDEX content_emb_gnn IF NOT EXISTS FOR (n:Content) ON (n.emb_gnn) "
             "OPTIONS {indexConfig: {`vector.dimensions`: $dim, `vector.similarity_function`: 'cosine'}}",
}
REMOVE_EMB: dict[str, LiteralString] = {
    USER: "MATCH (n:User) WHERE n.emb_gnn IS NOT NULL "
          "CALL (n) { REMOVE n.emb_gnn, n.emb_gnn_run } IN TRANSACTIONS OF $batch ROWS",
    CONTENT: "MATCH (n:Content) WHERE n.emb_gnn IS NOT NULL "
             "CALL (n) { REMOVE n.emb_gnn, n.emb_gnn_run } IN TRANSACTIONS OF $batch ROWS",
}


@dataclass(frozen=True)
class WritebackConfig:
    """How to write a run back. ``top_k`` keeps the first k columns (ranks) of each list."""

    top_k: int | None = None
    batch_size: int = BATCH_SIZE
    workers: int = WORKERS
    recreate_index: bool = False
    keep_previous: int = 0
    snapshot: Path | None = None

    def __post_init__(self) -> None:
        if self.top_k is not None and self.top_k < 1:
            raise ConfigError(f"top_k must be >= 1, got {self.top_k}")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.workers < 1:
            raise ConfigError(f"workers must be >= 1, got {self.workers}")
        if self.keep_previous < 0:
            raise ConfigError(f"keep_previous must be >= 0, got {self.keep_previous}")


# ---------------------------------------------------------------- reading a run directory (no Neo4j)
@dataclass
class RunOutputs:
    """What write-back needs from a run directory, validated against its snapshot."""

    path: Path
    info: dict[str, Any]
    node_ids: dict[str, np.ndarray]                     # label -> raw ids (snapshot order)
    embeddings: dict[str, np.ndarray] = field(default_factory=dict)   # User/Content -> [n, dim]
    interests: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # user [U], topic [U,K], score
    recommendations: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    pseudonymised: bool = False                         # snapshot User ids are keyed pseudonyms

    @property
    def run_id(self) -> str:
        return str(self.info["run_id"])

    @property
    def emb_dim(self) -> int:
        return int(self.info["emb_dim"])


def resolve_run_dir(run: str | Path) -> Path:
    """A run directory path, or a run id under ``var/runs``; InputError if neither exists."""
    path = Path(run)
    if (path / "run.json").exists():
        return path
    candidate = var_dir("runs") / str(run)
    if (candidate / "run.json").exists():
        return candidate
    raise InputError(f"no run directory {run!r} (looked for run.json in {path} and {candidate})",
                     file=str(path))


def _load_npz(path: Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    try:
        with np.load(path) as data:
            missing = [k for k in keys if k not in data.files]
            if missing:
                raise InputError(f"missing arrays {missing} (has {data.files})", file=str(path), field=missing[0])
            return {k: data[k] for k in keys}
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read: {e}", file=str(path)) from e


def _check_lists(path: Path, arrays: dict[str, np.ndarray], target: str, n_users: int, n_targets: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    users, targets, scores = arrays["user"], arrays[target], arrays["score"]
    name = str(path)
    if users.ndim != 1:
        raise InputError(f"must be 1-d, has shape {users.shape}", file=name, field="user")
    if targets.ndim != 2 or targets.shape[0] != len(users):
        raise InputError(f"shape {targets.shape} does not match {len(users)} users", file=name, field=target)
    if scores.shape != targets.shape:
        raise InputError(f"shape {scores.shape} differs from {target} {targets.shape}", file=name, field="score")
    if len(users) and (users.min() < 0 or users.max() >= n_users):
        bad = users[(users < 0) | (users >= n_users)][0]
        raise InputError(f"user id out of range 0..{n_users - 1}", file=name, field="user", value=int(bad))
    if len(set(users.tolist())) != len(users):
        raise InputError("duplicate user rows", file=name, field="user")
    bad_t = (targets < -1) | (targets >= n_targets)
    if bad_t.any():
        raise InputError(f"id out of range -1..{n_targets - 1}", file=name, field=target,
                         value=int(targets[bad_t][0]))
    return users.astype(np.int64), targets.astype(np.int64), scores.astype(np.float32)


def load_run(run: str | Path, snapshot: Path | None = None) -> RunOutputs:
    """Read and validate run.json, embeddings, interests.npz and recommendations.npz."""
    path = resolve_run_dir(run)
    info_path = path / "run.json"
    try:
        info = json.loads(info_path.read_text())
    except json.JSONDecodeError as e:
        raise InputError(f"invalid JSON: {e.msg}", file=str(info_path), line=e.lineno) from e
    for key in REQUIRED_RUN_KEYS:
        if info.get(key) in (None, ""):
            raise InputError("missing", file=str(info_path), field=key)
    snap_path = Path(snapshot or info.get("snapshot") or "")
    if not (snap_path / "manifest.json").exists():
        raise InputError(f"snapshot {str(snap_path)!r} not found (pass --snapshot to point at a copy)",
                         file=str(info_path), field="snapshot", value=str(snap_path))
    snap = Snapshot.load(snap_path)
    node_ids = {lb: snap.node_ids.get(lb, np.empty(0, dtype=object)) for lb in (USER, CONTENT, TOPIC)}
    out = RunOutputs(path=path, info=info, node_ids=node_ids,
                     pseudonymised=bool(snap.manifest.get("pseudonymised")))
    dim = out.emb_dim
    for label in EMB_LABELS:
        emb_path = path / "embeddings" / f"{label}.npy"
        if not emb_path.exists():
            continue
        emb = np.load(emb_path)
        if emb.shape != (len(node_ids[label]), dim):
            raise InputError(f"shape {emb.shape}, expected ({len(node_ids[label])}, {dim}) = "
                             f"({label} nodes in the snapshot, emb_dim)", file=str(emb_path))
        if not np.isfinite(emb).all():
            raise InputError("contains NaN or infinite values", file=str(emb_path))
        out.embeddings[label] = emb.astype(np.float32, copy=False)
    n_users = len(node_ids[USER])
    if (path / "interests.npz").exists():
        out.interests = _check_lists(path / "interests.npz", _load_npz(path / "interests.npz", ("user", "topic", "score")),
                                     "topic", n_users, len(node_ids[TOPIC]))
    if (path / "recommendations.npz").exists():
        out.recommendations = _check_lists(path / "recommendations.npz",
                                           _load_npz(path / "recommendations.npz", ("user", "content", "score")),
                                           "content", n_users, len(node_ids[CONTENT]))
    return out


def user_lists(users: np.ndarray, targets: np.ndarray, scores: np.ndarray, user_nids: np.ndarray,
               target_nids: np.ndarray, top_k: int | None) -> dict[str, np.ndarray]:
    """[U, K] lists -> per-user CSR arrays of internal ids: ``users`` [n], ``off`` [n+1] and per edge
    ``t``, ``score``, ``rank`` (= column + 1). Drops padding (-1), nodes missing from the graph
    (internal id -1), users left with no edge, and columns after ``top_k``."""
    k = targets.shape[1] if top_k is None else min(top_k, targets.shape[1])
    targets, scores = targets[:, :k], scores[:, :k]
    u = user_nids[users]
    if len(target_nids):
        t = np.where(targets >= 0, target_nids[np.maximum(targets, 0)], -1)
    else:  # no node of the target label in the snapshot: every entry is padding
        t = np.full(targets.shape, -1, dtype=np.int64)
    keep = (t >= 0) & (u >= 0)[:, None]
    counts = keep.sum(axis=1)
    rank = np.broadcast_to(np.arange(1, k + 1, dtype=np.int64), targets.shape)
    return {"users": u[counts > 0], "off": np.concatenate([[0], np.cumsum(counts[counts > 0])]).astype(np.int64),
            "t": t[keep], "score": scores[keep], "rank": rank[keep]}


# ---------------------------------------------------------------- writing (Neo4j)
@dataclass
class WritebackResult:
    """What one write-back did; ``skipped`` when the run was already active."""

    run_id: str
    interests: int = 0
    recommendations: int = 0
    excluded_seen: int = 0
    embeddings: dict[str, int] = field(default_factory=dict)
    missing_nodes: dict[str, int] = field(default_factory=dict)
    previous: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    skipped: bool = False
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def relationships(self) -> int:
        return self.interests + self.recommendations


class _Writer:
    def __init__(self, g: Graph):
        self.g = g

    def session(self):
        return self.g.driver.session(database=self.g.database, notifications_disabled_classifications=QUIET)

    def _errors(self, what: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except ClientError as e:
            raise GraphError(f"write-back {what} failed: {e.message}") from e
        except (ServiceUnavailable, SessionExpired, OSError) as e:
            raise GraphError(f"Neo4j is unreachable at {self.g.uri}: {e}") from e

    def read(self, what: str, query: LiteralString, **params: Any) -> list[dict[str, Any]]:
        def work() -> list[dict[str, Any]]:
            with self.session() as s:
                return s.execute_read(lambda tx: [dict(r.items()) for r in tx.run(query, params)])
        return self._errors(what, work)

    def write(self, what: str, query: LiteralString, **params: Any) -> tuple[list[dict[str, Any]], Any]:
        """One managed (retried) write transaction; records and counters."""
        def work() -> tuple[list[dict[str, Any]], Any]:
            def tx_fn(tx):
                result = tx.run(query, params)
                records = [dict(r.items()) for r in result]
                return records, result.consume().counters
            with self.session() as s:
                return s.execute_write(tx_fn)
        return self._errors(what, work)

    def autocommit(self, what: str, query: LiteralString, **params: Any) -> Any:
        """An auto-commit query (needed for CALL ... IN TRANSACTIONS)."""
        def work() -> Any:
            with self.session() as s:
                return s.run(query, params).consume().counters
        return self._errors(what, work)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def check_vector_indexes(g: Graph, dim: int, recreate: bool) -> None:
    """The emb_gnn vector indexes must have the run's dimension; ``recreate`` drops and recreates
    them (removing emb_gnn vectors of the old dimension), otherwise GraphError naming both dims."""
    w = _Writer(g)
    for label in EMB_LABELS:
        name = vector_property(label, "emb_gnn").index_name
        rows = w.read("index check", VECTOR_INDEX_DIM, name=name)
        have = int(rows[0]["dim"]) if rows and rows[0]["dim"] is not None else None
        if have == dim:
            continue
        if have is not None and not recreate:
            raise GraphError(f"vector index {name} has dimension {have} but the run's emb_dim is {dim}; "
                             f"rerun with --recreate-index to drop and recreate {name} with dimension {dim} "
                             f"(removes existing {label}.emb_gnn vectors)")
        if have is not None:
            logger.warning("recreating vector index %s: dimension %d -> %d", name, have, dim)
            w.write("drop index", DROP_INDEX[label])
            w.autocommit("remove old emb_gnn", REMOVE_EMB[label], batch=DELETE_BATCH)
        w.write("create index", CREATE_INDEX[label], dim=dim)
    w.write("await indexes", "CALL db.awaitIndexes(300)")


def _resolve(w: _Writer, label: str, raw_ids: np.ndarray) -> np.ndarray:
    """Internal id per snapshot row; -1 for nodes no longer in the graph."""
    out = np.full(len(raw_ids), -1, dtype=np.int64)
    step = 100_000
    for start in range(0, len(raw_ids), step):
        rec = w.read(f"resolve {label}", RESOLVE[label], ids=raw_ids[start:start + step].tolist())[0]
        out[start + np.asarray(rec["idx"], dtype=np.int64)] = np.asarray(rec["nids"], dtype=np.int64)
    return out


def _resolve_pseudonyms(w: _Writer, keys: np.ndarray) -> np.ndarray:
    """Internal id per pseudonymised snapshot user, by recomputing the keyed pseudonym of every user
    in the graph (the secret never leaves this machine); -1 for users no longer in the graph."""
    rec = w.read("resolve pseudonymised users", ALL_USERS)[0]
    index = dict(zip(pseudonyms(rec["ids"], load_secret()), rec["nids"]))
    out = np.fromiter((index.get(k, -1) for k in keys.tolist()), dtype=np.int64, count=len(keys))
    if len(keys) and index and (out < 0).all():
        raise GraphError(f"none of the {len(keys)} pseudonymised users of the snapshot is a user of this graph: "
                         f"it was exported with another pseudonym secret than {secret_path()} (or elsewhere)")
    return out


def _resolve_label(w: _Writer, run: RunOutputs, label: str) -> np.ndarray:
    """Internal id per snapshot row of ``label`` (-1 where gone), undoing pseudonyms for users."""
    if label == USER and run.pseudonymised:
        return _resolve_pseudonyms(w, run.node_ids[USER])
    return _resolve(w, label, run.node_ids[label])


def edge_blocks(lists: dict[str, np.ndarray], workers: int) -> list[list[dict[str, np.ndarray]]]:
    """Split ``user_lists`` output into ``workers`` phases of ``workers`` blocks each (users by
    position modulo ``workers``, targets by internal id modulo ``workers``); the blocks of one phase
    share no user and no target node, so their transactions never wait on each other's node locks.
    Each block is CSR like its input; empty blocks are dropped."""
    off = lists["off"]
    counts = np.diff(off)
    owner = np.repeat(np.arange(len(counts)), counts)          # user position of each edge
    user_group, target_group = owner % workers, lists["t"] % workers
    phases = []
    for shift in range(workers):
        blocks = []
        for a in range(workers):
            sel = np.flatnonzero((user_group == a) & (target_group == (a + shift) % workers))
            if not len(sel):
                continue
            per_user = np.bincount(owner[sel], minlength=len(counts))
            keep = np.flatnonzero(per_user)
            blocks.append({"users": lists["users"][keep], "off": np.concatenate([[0], np.cumsum(per_user[keep])]),
                           "t": lists["t"][sel], "score": lists["score"][sel], "rank": lists["rank"][sel]})
        phases.append(blocks)
    return phases


def _create_block(w: _Writer, what: str, query: LiteralString, lists: dict[str, np.ndarray], batch_size: int,
                  bar: tqdm, params: dict[str, Any]) -> int:
    """CREATE one block's edges, whole users per transaction, ~batch_size edges each."""
    created = 0
    off = lists["off"]
    n_users = len(lists["users"])
    a = 0
    while a < n_users:
        b = max(a + 1, int(np.searchsorted(off, off[a] + batch_size, side="right")) - 1)
        b = min(b, n_users)
        lo, hi = int(off[a]), int(off[b])
        _, counters = w.write(what, query, users=lists["users"][a:b].tolist(), off=(off[a:b + 1] - lo).tolist(),
                              t=lists["t"][lo:hi].tolist(), score=lists["score"][lo:hi].astype(float).tolist(),
                              rank=lists["rank"][lo:hi].tolist(), **params)
        created += counters.relationships_created
        bar.update(hi - lo)
        a = b
    return created


def _create_edges(w: _Writer, what: str, query: LiteralString, lists: dict[str, np.ndarray], batch_size: int,
                  workers: int = 1, **params: Any) -> int:
    """CREATE the edges of ``user_lists`` output on ``workers`` sessions: the blocks of one
    ``edge_blocks`` phase run in parallel, phases one after another."""
    n = int(lists["off"][-1])
    with tqdm(total=n, desc=what, unit="rel", disable=n < 4 * batch_size, leave=False) as bar:
        if workers == 1:
            return _create_block(w, what, query, lists, batch_size, bar, params)
        created = 0
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for blocks in edge_blocks(lists, workers):
                futures = [pool.submit(_create_block, w, what, query, block, batch_size, bar, params)
                           for block in blocks]
                created += sum(f.result() for f in futures)
        return created


def _set_embeddings(w: _Writer, label: str, nids: np.ndarray, emb: np.ndarray, run_id: str, workers: int = 1) -> int:
    """Set ``emb_gnn`` on the nodes still in the graph, in batches spread over ``workers`` sessions
    (each node is in one batch, so the batches never wait on each other's locks)."""
    rows = np.flatnonzero(nids >= 0)
    size = max(1, min(EMB_BATCH_SIZE, math.ceil(len(rows) / workers)))
    batches = [rows[start:start + size] for start in range(0, len(rows), size)]

    def one(sel: np.ndarray) -> None:
        w.write(f"emb_gnn {label}", SET_EMBEDDINGS, n=nids[sel].tolist(), vec=emb[sel].astype(float).tolist(),
                run_id=run_id)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, batches))
    return len(rows)


def delete_run_edges(g: Graph, run_id: str) -> None:
    """Delete every model edge of one run (batched, auto-commit); declared interests have no run_id."""
    w = _Writer(g)
    for rel in (INTERESTED_IN, MAY_LIKE):
        w.autocommit(f"delete {rel}", DELETE_EDGES[rel], run_id=run_id, batch=DELETE_BATCH)


def retire_superseded(g: Graph, keep_previous: int = 0) -> list[str]:
    """Delete the edges of inactive 'ready' runs beyond the ``keep_previous`` most recent ones
    (and finish runs whose deletion was interrupted); returns the retired run ids."""
    w = _Writer(g)
    ids = [r["id"] for r in w.read("list superseded", SUPERSEDED, ready=READY)][keep_previous:]
    ids += [r["id"] for r in w.read("list retiring", RETIRING_RUNS, retiring=RETIRING)]
    for run_id in ids:
        # 'retiring' first: a crash mid-delete must not leave a 'ready' run with half its edges.
        w.write("retire", SET_STATE, run_id=run_id, state=RETIRING, now=_now())
        delete_run_edges(g, run_id)
        w.write("retire", SET_STATE, run_id=run_id, state=RETIRED, now=_now())
        logger.info("retired run %s (edges deleted)", run_id)
    return ids


def flip(g: Graph, run_id: str) -> list[str]:
    """Make ``run_id`` (state 'ready') the one active run in a single transaction; previous ids."""
    records, _ = _Writer(g).write("flip", FLIP, run_id=run_id, ready=READY, now=_now())
    if not records:
        raise GraphError(f"run {run_id} is not ready to activate (no ModelRun in state {READY!r})")
    return records[0]["previous"]


def _run_props(run: RunOutputs) -> dict[str, Any]:
    info = run.info
    created = info.get("created_at")
    return {
        "model": str(info["model"]), "backend": info.get("backend"), "device": info.get("device"),
        "config": json.dumps(info.get("config", {}), sort_keys=True),
        "metrics": json.dumps(info.get("metrics", {}), sort_keys=True),
        "timings": json.dumps(info.get("timings", {}), sort_keys=True),
        "created_at": datetime.fromisoformat(str(created).replace("Z", "+00:00")) if created else _now(),
        "emb_dim": run.emb_dim, "snapshot": str(info.get("snapshot", "")), "run_dir": str(run.path.resolve()),
    }


def write_run(g: Graph, run: RunOutputs, cfg: WritebackConfig = WritebackConfig()) -> WritebackResult:
    """Write (or finish writing) one run and make it the active one; see the module docstring."""
    w = _Writer(g)
    result = WritebackResult(run_id=run.run_id)
    started = time.perf_counter()

    def mark(stage: str, t0: float) -> float:
        result.timings[stage] = round(time.perf_counter() - t0, 4)
        return time.perf_counter()

    existing = w.read("get run", GET_RUN, run_id=run.run_id)
    if existing and existing[0]["run"].get("active") and existing[0]["run"].get("state") == READY:
        logger.info("run %s is already active; only retiring superseded runs", run.run_id)
        result.skipped = True
        result.retired = retire_superseded(g, cfg.keep_previous)
        return result

    t0 = time.perf_counter()
    if run.embeddings:
        check_vector_indexes(g, run.emb_dim, cfg.recreate_index)
    nids = {label: _resolve_label(w, run, label) for label in (USER, CONTENT, TOPIC)}
    result.missing_nodes = {lb: int((ids < 0).sum()) for lb, ids in nids.items() if (ids < 0).any()}
    if result.missing_nodes:
        logger.warning("nodes of the snapshot no longer in the graph (skipped): %s", result.missing_nodes)
    t0 = mark("resolve", t0)

    w.write("begin run", BEGIN_RUN, run_id=run.run_id, props=_run_props(run), writing=WRITING)
    delete_run_edges(g, run.run_id)  # leftovers of an interrupted attempt of this run
    t0 = mark("cleanup_partial", t0)

    now = _now()
    common = {"run_id": run.run_id, "model": str(run.info["model"]), "now": now}
    if run.interests is not None:
        lists = user_lists(*run.interests, nids[USER], nids[TOPIC], cfg.top_k)
        result.interests = _create_edges(w, INTERESTED_IN, CREATE_INTERESTS, lists, cfg.batch_size, cfg.workers,
                                         **common)
    t0 = mark("interests", t0)
    if run.recommendations is not None:
        lists = user_lists(*run.recommendations, nids[USER], nids[CONTENT], cfg.top_k)
        result.recommendations = _create_edges(w, MAY_LIKE, CREATE_RECOMMENDATIONS, lists, cfg.batch_size,
                                               cfg.workers, **common)
        result.excluded_seen = len(lists["t"]) - result.recommendations
        if result.excluded_seen:
            logger.info("%d recommended items were already interacted with; not written", result.excluded_seen)
    t0 = mark("recommendations", t0)
    for label, emb in run.embeddings.items():
        result.embeddings[label] = _set_embeddings(w, label, nids[label], emb, run.run_id, cfg.workers)
    t0 = mark("embeddings", t0)

    records, _ = w.write("finish run", FINISH_RUN, run_id=run.run_id, writing=WRITING, ready=READY,
                         interests=result.interests, recommendations=result.recommendations,
                         excluded_seen=result.excluded_seen, now=_now(), timings=json.dumps(result.timings))
    if not records:
        raise GraphError(f"ModelRun {run.run_id} changed state while it was being written (another writer?)")
    result.previous = flip(g, run.run_id)
    t0 = mark("flip", t0)
    result.retired = retire_superseded(g, cfg.keep_previous)
    mark("retire", t0)
    result.timings["total"] = round(time.perf_counter() - started, 4)
    logger.info("run %s active: %d INTERESTED_IN, %d MAY_LIKE in %.2f s", run.run_id, result.interests,
                result.recommendations, result.timings["total"])
    return result


def writeback(g: Graph, run: str | Path, cfg: WritebackConfig = WritebackConfig()) -> WritebackResult:
    """Load a run directory (path or run id) and write it back."""
    return write_run(g, load_run(run, cfg.snapshot), cfg)


# ---------------------------------------------------------------- runs
def _decode(run: dict[str, Any]) -> dict[str, Any]:
    out = dict(run)
    for key in ("config", "metrics", "timings", "writeback_timings"):
        if isinstance(out.get(key), str):
            out[key] = json.loads(out[key])
    for key, value in out.items():
        if hasattr(value, "iso_format"):
            out[key] = value.iso_format()
    return out


def active_run(g: Graph) -> dict[str, Any] | None:
    """The active ModelRun's properties (JSON fields decoded), or None."""
    rows = _Writer(g).read("active run", ACTIVE_RUN)
    return _decode(rows[0]["run"]) if rows else None


def list_runs(g: Graph) -> list[dict[str, Any]]:
    """Every ModelRun, newest first, with the number of edges each has in the graph."""
    w = _Writer(g)
    out = []
    for row in w.read("list runs", LIST_RUNS):
        run = _decode(row["run"])
        counts = w.read("count edges", COUNT_EDGES, run_id=run["id"])[0]
        run["edges_present"] = counts
        out.append(run)
    return out


def activate(g: Graph, run_id: str, cfg: WritebackConfig = WritebackConfig()) -> WritebackResult:
    """Roll back (or forward) to ``run_id``: flip if its edges are complete, else rewrite it from
    its run directory. Its embeddings are rewritten when the run directory is still there."""
    w = _Writer(g)
    rows = w.read("get run", GET_RUN, run_id=run_id)
    if not rows:
        raise GraphError(f"no ModelRun {run_id!r}; `ikg runs list` shows the known runs")
    info = rows[0]["run"]
    run_dir = info.get("run_dir") or ""
    has_dir = bool(run_dir) and (Path(run_dir) / "run.json").exists()
    if info.get("state") != READY:
        if not has_dir:
            raise GraphError(f"run {run_id} has state {info.get('state')!r} (edges deleted or incomplete) and "
                             f"its run directory {run_dir!r} is gone; it cannot be restored")
        return writeback(g, run_dir, cfg)
    result = WritebackResult(run_id=run_id, interests=info.get("interests", 0),
                             recommendations=info.get("recommendations", 0))
    run: RunOutputs | None = None
    if has_dir:
        try:
            run = load_run(run_dir, cfg.snapshot)
        except InputError as e:
            logger.warning("cannot reload the embeddings of %s (%s)", run_id, e)
    if run is not None:
        if run.embeddings:
            check_vector_indexes(g, run.emb_dim, cfg.recreate_index)
        for label, emb in run.embeddings.items():
            result.embeddings[label] = _set_embeddings(w, label, _resolve_label(w, run, label), emb, run_id,
                                                       cfg.workers)
    else:
        logger.warning("emb_gnn keeps the vectors of the newer run (run directory of %s unavailable)", run_id)
    result.previous = flip(g, run_id)
    result.retired = retire_superseded(g, cfg.keep_previous)
    return result
