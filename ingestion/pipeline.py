"""Compose a load: validate every row and reference, compute embeddings, then write in stages.

Nothing is written until the whole dataset has been validated and embedded. Files are read twice:
a validation pass keeps only what the checks need (user ids, topic and content records, 8-byte
hashes of the edge keys, ids referenced but absent), a write pass parses them again and streams
the rows out, so memory grows with users and items, not with interactions or follows. Each stage
writes UNWIND batches, one transaction per batch, MERGE on unique ids: rerunning a load (also one
that was killed half-way) converges on the same graph.
"""
from __future__ import annotations

import logging
import time
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, LiteralString

import numpy as np
from tqdm import tqdm

from graph.db import Graph, batched
from graph.errors import ConfigError, InputError
from graph.events import MERGE_INTERACTIONS
from graph.feedback import REPLACE_DECLARED
from graph.model import CONTENT, FOLLOWS, INTERACTED, INTERACTION_KINDS, TOPIC, USER, vector_property
from graph.settings import var_dir
from ingestion import queries as q
from ingestion.embed.behavior import Activity
from ingestion.embed.cache import EmbeddingCache, file_key, text_key
from ingestion.embed.registry import DEFAULTS, get_encoder
from ingestion.media import load_audio, load_image
from ingestion.quarantine import ErrorPolicy
from ingestion.readers import Tables
from ingestion.records import (MAX_TEXT_CHARS, MODALITIES, TABLES, ContentRec, Dataset, DeclaredRec, Source,
                               TopicRec)

logger = logging.getLogger(__name__)

BATCH_SIZE = 10_000
CONTENT_BATCH_SIZE = 500       # content rows carry vectors (up to ~1.8k floats each)
EMBED_CHUNK = 256              # items per encoder call (progress granularity)
LOOKUP_CHUNK = 20_000
CACHE_FILE = "embeddings.sqlite"
STAGES = ("embed text", "embed image", "embed audio", "topics", "subtopics", "users", "content",
          "content_topics", "follows", "interactions", "declared_interests", "behavior")


@dataclass(frozen=True)
class IngestConfig:
    """How to load: batch size, error policy, encoders (registry names, or a local path for text),
    and ``cache_dir`` for the embedding cache (None: no cache)."""

    batch_size: int = BATCH_SIZE
    content_batch_size: int = CONTENT_BATCH_SIZE
    on_error: str = "stop"
    quarantine_path: Path | None = None
    embed: bool = True
    text_encoder: str | None = None
    image_encoder: str | None = None
    audio_encoder: str | None = None
    device: str | None = None
    cache_dir: Path | None = None
    max_text_chars: int = MAX_TEXT_CHARS
    progress: bool = True

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.content_batch_size < 1:
            raise ConfigError(f"batch sizes must be >= 1, got {self.batch_size}, {self.content_batch_size}")
        if self.on_error not in ("stop", "quarantine"):
            raise ConfigError(f"on_error must be 'stop' or 'quarantine', got {self.on_error!r}")
        if self.max_text_chars < 1:
            raise ConfigError(f"max_text_chars must be >= 1, got {self.max_text_chars}")
        if self.device not in (None, "cpu", "cuda") and not str(self.device).startswith("cuda:"):
            raise ConfigError(f"device must be cpu, cuda or cuda:N, got {self.device!r}")


@dataclass
class StageStats:
    name: str
    read: int = 0
    written: int = 0
    skipped: int = 0
    seconds: float = 0.0

    @property
    def rows_per_s(self) -> float:
        return self.written / self.seconds if self.seconds > 0 else 0.0


@dataclass
class Summary:
    """What a load did, stage by stage; ``quarantine`` is the file of rejected rows, if any."""

    dataset: str
    stages: list[StageStats] = field(default_factory=list)
    seconds: float = 0.0
    quarantine: Path | None = None
    rejected: int = 0
    created: dict[str, int] = field(default_factory=dict)

    def stage(self, name: str) -> StageStats:
        for s in self.stages:
            if s.name == name:
                return s
        self.stages.append(StageStats(name))
        return self.stages[-1]

    def table(self) -> str:
        lines = [f"{'stage':<16} {'read':>8} {'written':>8} {'skipped':>8} {'time s':>8} {'rows/s':>9}"]
        for s in self.stages:
            if not (s.read or s.written or s.skipped):
                continue
            lines.append(f"{s.name:<16} {s.read:>8} {s.written:>8} {s.skipped:>8} {s.seconds:>8.2f} "
                         f"{s.rows_per_s:>9.0f}")
        read = sum(s.read for s in self.stages if s.name in TABLES)
        written = sum(s.written for s in self.stages if not s.name.startswith("embed"))
        skipped = sum(s.skipped for s in self.stages if s.name in TABLES)
        lines.append(f"{'total':<16} {read:>8} {written:>8} {skipped:>8} {self.seconds:>8.2f} "
                     f"{written / self.seconds if self.seconds else 0:>9.0f}")
        return "\n".join(lines)


# ---------------------------------------------------------------- validation (no writes)
def _dedupe_nodes(records: list, table: str, policy: ErrorPolicy) -> list:
    seen: dict[str, Source] = {}
    out = []
    for rec in records:
        if rec.id in seen:
            policy.reject(table, rec.src.error(
                f"duplicate id {rec.id!r} (first at line {seen[rec.id].line})", "id", rec.id))
            continue
        seen[rec.id] = rec.src
        out.append(rec)
    return out


class _Seen(ErrorPolicy):
    """Policy of the write pass: its bad rows were rejected by the validation pass already."""

    def reject(self, table: str, error: InputError, raw: Any = None) -> None:
        return None


_QUIET = _Seen()
WRITE_ORDER = ("content_topics", "follows", "interactions", "declared_interests")


class KeyLog:
    """Hashes of the keys of one edge table, to find keys given more than once without keeping the keys
    (8 bytes a row); ``close`` keeps only the hashes seen twice or more."""

    def __init__(self) -> None:
        self._hashes = array("q")
        self.repeated: set[int] = set()

    def add(self, key: tuple) -> None:
        self._hashes.append(hash(key))

    def close(self) -> None:
        h = np.sort(np.frombuffer(self._hashes, dtype=np.int64))
        self.repeated = set(np.unique(h[1:][h[1:] == h[:-1]]).tolist())
        self._hashes = array("q")

    def maybe_repeated(self, key: tuple) -> bool:
        """False: the key occurs once in the table; True: it may occur more often (or share a hash)."""
        return hash(key) in self.repeated


# Edge tables, streamed in both passes: the key a MERGE collapses on, and (field, value, label) references.
EDGE_KEYS: dict[str, Callable[[Any], tuple]] = {
    "content_topics": lambda r: (r.content, r.topic), "interactions": lambda r: r.key,
    "follows": lambda r: (r.src_id, r.dst_id), "declared_interests": lambda r: (r.user, r.topic)}
EDGE_REFS: dict[str, Callable[[Any], tuple[tuple[str, str, str], ...]]] = {
    "content_topics": lambda r: (("content", r.content, CONTENT), ("topic", r.topic, TOPIC)),
    "interactions": lambda r: (("user", r.row["user"], USER), ("content", r.row["content"], CONTENT)),
    "follows": lambda r: (("src", r.src_id, USER), ("dst", r.dst_id, USER)),
    "declared_interests": lambda r: (("user", r.user, USER), ("topic", r.topic, TOPIC))}
WHAT = {USER: "user", CONTENT: "content", TOPIC: "topic"}


@dataclass
class Scan:
    """What the validation pass keeps: the small tables whole, the users' ids, the edge tables' key hashes,
    and the ids each label is referenced by but the dataset lacks (looked up in the graph)."""

    topics: list[TopicRec] = field(default_factory=list)
    content: list[ContentRec] = field(default_factory=list)
    users: dict[str, int] = field(default_factory=dict)          # id → line of the row that defines it
    keys: dict[str, KeyLog] = field(default_factory=lambda: {t: KeyLog() for t in EDGE_KEYS})
    pending: dict[str, set[str]] = field(default_factory=lambda: {USER: set(), CONTENT: set(), TOPIC: set()})
    known: dict[str, set[str]] = field(default_factory=dict)


def scan(src: Tables | Dataset, policy: ErrorPolicy) -> Scan:
    """Validation pass over every table (no writes): parse each row, reject duplicate node ids, log edge keys,
    note references to ids outside the dataset. Only topics and content are kept as records."""
    out = Scan()
    for rec in src.records("users", policy):
        first = out.users.setdefault(rec.id, rec.src.line)
        if first != rec.src.line:
            policy.reject("users", rec.src.error(f"duplicate id {rec.id!r} (first at line {first})", "id", rec.id))
    out.topics = _dedupe_nodes(list(src.records("topics", policy)), "topics", policy)
    out.content = _dedupe_nodes(list(src.records("content", policy)), "content", policy)
    ids = {USER: out.users.keys(), CONTENT: {c.id for c in out.content}, TOPIC: {t.id for t in out.topics}}
    out.pending[TOPIC] = {t.parent for t in out.topics if t.parent} - ids[TOPIC]
    for table, key in EDGE_KEYS.items():
        log, refs = out.keys[table], EDGE_REFS[table]
        for rec in src.records(table, policy):
            log.add(key(rec))
            for _, value, label in refs(rec):
                if value not in ids[label]:
                    out.pending[label].add(value)
        log.close()
    return out


def _existing(g: Graph | None, query: LiteralString, ids: set[str]) -> set[str]:
    if g is None or not ids:
        return set()
    found: set[str] = set()
    for chunk in batched(sorted(ids), LOOKUP_CHUNK):
        found.update(g.read(query, ids=chunk)[0]["ids"])
    return found


def resolve_references(sc: Scan, policy: ErrorPolicy, g: Graph | None) -> bool:
    """Fill ``sc.known`` (dataset ∪ graph ids per label) and drop topics whose parent is unknown;
    True if some edge row references an id found in neither (a reference pass must reject those rows)."""
    found = {USER: _existing(g, q.EXISTING_USERS, sc.pending[USER]),
             CONTENT: _existing(g, q.EXISTING_CONTENT, sc.pending[CONTENT]),
             TOPIC: _existing(g, q.EXISTING_TOPICS, sc.pending[TOPIC] | {t.id for t in sc.topics})}
    # A topic whose parent is unknown is dropped, and so are (transitively) its own children.
    while True:
        topics = {t.id for t in sc.topics} | found[TOPIC]
        kept = []
        for t in sc.topics:
            if t.parent and t.parent not in topics:
                policy.reject("topics", t.src.error(f"unknown parent topic {t.parent!r}", "parent", t.parent))
                sc.pending[TOPIC].add(t.id)  # edges to it must be rejected unless the graph has it
            else:
                kept.append(t)
        if len(kept) == len(sc.topics):
            break
        sc.topics = kept
    sc.known = {USER: set(sc.users) | found[USER], CONTENT: {c.id for c in sc.content} | found[CONTENT],
                TOPIC: {t.id for t in sc.topics} | found[TOPIC]}
    return any(sc.pending[label] - sc.known[label] for label in sc.pending)


def valid_edges(src: Tables | Dataset, table: str, sc: Scan, policy: ErrorPolicy,
                stats: StageStats | None = None) -> Iterator[Any]:
    """Stream the records of an edge table whose references are known, each key once (its last record).

    Keys logged as repeated are held back and yielded at the end, so memory grows with repeated keys only."""
    log, refs, key = sc.keys[table], EDGE_REFS[table], EDGE_KEYS[table]
    held: dict[tuple, Any] = {}
    n_held = 0
    for rec in src.records(table, _QUIET, warn=False):
        bad = next(((f, v, label) for f, v, label in refs(rec) if v not in sc.known[label]), None)
        if bad is not None:
            policy.reject(table, rec.src.error(f"unknown {WHAT[bad[2]]} {bad[1]!r}", bad[0], bad[1]))
            continue
        k = key(rec)
        if log.maybe_repeated(k):
            held[k] = rec
            n_held += 1
            continue
        yield rec
    if stats is not None:
        stats.skipped += n_held - len(held)
    yield from held.values()


def _vector_dims(g: Graph | None) -> dict[str, int]:
    """Dimension each content vector must have: the graph's vector index, else the model default."""
    dims = {m: vector_property(CONTENT, f"emb_{m}").dim for m in MODALITIES}
    if g is not None:
        for row in g.read(q.EXISTING_VECTOR_DIMS):
            if row["label"] == CONTENT and row["prop"] in {f"emb_{m}" for m in MODALITIES} and row["dim"]:
                dims[row["prop"].removeprefix("emb_")] = int(row["dim"])
    return dims


def _bar(total: int, desc: str, cfg: IngestConfig) -> tqdm:
    return tqdm(total=total, desc=desc, unit="rows", disable=not cfg.progress, leave=False, dynamic_ncols=True)


def _cache_keys(todo: list[ContentRec], modality: str) -> dict[str, str]:
    """content id → cache key: hash of the text, or of the media file's bytes (unreadable: no key)."""
    keys = {}
    for c in todo:
        try:
            keys[c.id] = text_key(c.embed_text) if modality == "text" else file_key(getattr(c, modality))
        except OSError:
            continue
    return keys


def embed_content(ds: Dataset, cfg: IngestConfig, policy: ErrorPolicy, dims: dict[str, int],
                  summary: Summary) -> dict[str, dict[str, tuple[np.ndarray, str]]]:
    """content id → modality → (vector, model). Unreadable media and bad vectors are rejected."""
    if cfg.cache_dir is None:
        return _embed_content(ds, cfg, policy, dims, summary, None)
    with EmbeddingCache(cfg.cache_dir / CACHE_FILE) as cache:
        return _embed_content(ds, cfg, policy, dims, summary, cache)


def _embed_content(ds: Dataset, cfg: IngestConfig, policy: ErrorPolicy, dims: dict[str, int],
                   summary: Summary, cache: EmbeddingCache | None) -> dict[str, dict[str, tuple[np.ndarray, str]]]:
    out: dict[str, dict[str, tuple[np.ndarray, str]]] = {c.id: {} for c in ds.content}
    for c in ds.content:
        for m, vec in c.vectors.items():
            out[c.id][m] = (vec, c.vector_models[m])
    rejected: set[str] = set()
    loaders: dict[str, tuple[Callable[[ContentRec], Any], str | None]] = {
        "text": (lambda c: c.embed_text, cfg.text_encoder),
        "image": (lambda c: None if c.image is None else load_image(c.image), cfg.image_encoder),
        "audio": (lambda c: None if c.audio is None else load_audio(c.audio), cfg.audio_encoder),
    }
    for modality, (load, name) in loaders.items():
        todo = [c for c in ds.content if modality not in c.vectors and c.id not in rejected
                and (c.embed_text if modality == "text" else getattr(c, modality)) is not None]
        if not todo:
            continue
        stats = summary.stage(f"embed {modality}")
        started = time.perf_counter()
        stats.read = len(todo)
        model_key = f"{modality}:{name or DEFAULTS[modality]}"
        keys = _cache_keys(todo, modality) if cache is not None else {}
        if keys:
            hits = cache.get(model_key, set(keys.values()))
            for c in todo:
                hit = hits.get(keys.get(c.id, ""))
                if hit is not None and _vector_problem(hit[0], dims[modality]) is None:
                    out[c.id][modality] = hit
            todo = [c for c in todo if modality not in out[c.id]]
            logger.info("embed %s: %d of %d vectors from the cache %s", modality, stats.read - len(todo),
                        stats.read, cache.path)
        if not todo:
            stats.written, stats.seconds = stats.read, time.perf_counter() - started
            continue
        encoder = get_encoder(modality, name, cfg.device)
        if encoder.dim != dims[modality]:
            raise ConfigError(f"{modality} encoder {encoder.name} produces {encoder.dim}-d vectors but the "
                              f"Content.emb_{modality} vector index has dimension {dims[modality]}; "
                              "apply the schema with that dimension (graph/model.py VECTOR_PROPERTIES)")
        with _bar(len(todo), f"embed {modality}", cfg) as bar:
            for chunk in batched(todo, EMBED_CHUNK):
                inputs, ok = [], []
                for c in chunk:
                    try:
                        inputs.append(load(c))
                        ok.append(c)
                    except ValueError as e:
                        policy.reject("content", c.src.error(str(e), modality, str(getattr(c, modality))))
                        rejected.add(c.id)
                try:
                    vectors = encoder.encode(inputs)
                except ValueError:  # one bad input: encode one by one to find and name it
                    vectors, kept = [], []
                    for c, item in zip(ok, inputs):
                        try:
                            vectors.append(encoder.encode([item])[0])
                            kept.append(c)
                        except ValueError as e:
                            policy.reject("content", c.src.error(str(e), modality, str(getattr(c, modality))))
                            rejected.add(c.id)
                    ok = kept
                for c, vec in zip(ok, vectors):
                    problem = _vector_problem(vec, dims[modality])
                    if problem:
                        policy.reject("content", c.src.error(f"{encoder.name} {problem}", f"emb_{modality}"))
                        rejected.add(c.id)
                    else:
                        out[c.id][modality] = (np.asarray(vec, dtype=np.float32), encoder.name)
                if cache is not None:
                    cache.put(model_key, encoder.name, {keys[c.id]: out[c.id][modality][0] for c in ok
                                                        if c.id in keys and modality in out[c.id]})
                bar.update(len(chunk))
        written = sum(1 for c in ds.content if modality in out[c.id] and modality not in c.vectors)
        stats.written = written
        stats.skipped = stats.read - written
        stats.seconds = time.perf_counter() - started
    ds.content = [c for c in ds.content if c.id not in rejected]
    return {cid: v for cid, v in out.items() if cid not in rejected}


def _vector_problem(vec: np.ndarray, dim: int) -> str | None:
    vec = np.asarray(vec)
    if vec.shape != (dim,):
        return f"produced a vector of shape {vec.shape}, expected ({dim},)"
    if not np.all(np.isfinite(vec)):
        return "produced NaN or infinite values"
    if not np.any(vec):
        return "produced a zero vector"
    return None


def validate(src: Tables | Dataset, cfg: IngestConfig, policy: ErrorPolicy, g: Graph | None,
             summary: Summary) -> tuple[Scan, dict[str, dict[str, tuple[np.ndarray, str]]]]:
    """Everything before the first write: scan, embed (rejecting unreadable media), resolve references and,
    if some are unknown, reject their rows in a reference pass. Returns the scan and the vectors."""
    sc = scan(src, policy)
    for table, n in src.rows_read.items():
        summary.stage(table).read = n
    vectors: dict[str, dict[str, tuple[np.ndarray, str]]] = {}
    if cfg.embed:
        ds = Dataset(src.name, content=sc.content)
        vectors = embed_content(ds, cfg, policy, _vector_dims(g), summary)
        sc.pending[CONTENT] |= {c.id for c in sc.content} - {c.id for c in ds.content}  # rejected: in the graph?
        sc.content = ds.content
    if resolve_references(sc, policy, g):
        for table in WRITE_ORDER:
            for _ in valid_edges(src, table, sc, policy):
                pass
    return sc, vectors


# ---------------------------------------------------------------- rows for the write queries
def content_row(c: ContentRec, vectors: dict[str, tuple[np.ndarray, str]] | None) -> dict[str, Any]:
    row: dict[str, Any] = {"id": c.id, "props": c.props, "created_at": c.created_at, "embed": vectors is not None}
    vectors = vectors or {}
    row["missing"] = [m for m in MODALITIES if m not in vectors]
    for m in MODALITIES:
        vec, model = vectors.get(m, (None, None))
        row[f"emb_{m}"] = None if vec is None else vec.tolist()
        row[f"emb_{m}_model"] = model
        row[f"emb_{m}_dim"] = None if vec is None else int(vec.shape[0])
    return row


def _write(g: Graph, query: LiteralString, rows: Iterable[dict[str, Any]], stats: StageStats,
           batch_size: int, cfg: IngestConfig, created: dict[str, int], total: int) -> None:
    started = time.perf_counter()
    with _bar(total, stats.name, cfg) as bar:
        result = g.write_batches(query, rows, batch_size=batch_size, progress=bar.update)
    stats.written += result.rows
    stats.seconds += time.perf_counter() - started
    created["nodes"] = created.get("nodes", 0) + result.nodes_created
    created["relationships"] = created.get("relationships", 0) + result.relationships_created
    if result.rows:
        logger.info("%s: %d rows in %.2f s (%.0f rows/s)", stats.name, result.rows, result.seconds,
                    result.rows_per_s)


def write_dataset(g: Graph, src: Tables | Dataset, sc: Scan,
                  vectors: dict[str, dict[str, tuple[np.ndarray, str]]] | None, cfg: IngestConfig,
                  summary: Summary) -> set[str]:
    """Second pass: write every stage in dependency order (nodes before the relationships between them),
    streaming users and edges from ``src`` again. Returns the users whose behaviour changed."""
    bs = cfg.batch_size
    created = summary.created
    read = src.rows_read
    affected: set[str] = set(sc.users)
    fresh = not g.read(q.ANY_INTERACTION, interacted=INTERACTED)  # before this load's writes

    def stage(name: str) -> StageStats:
        return summary.stage(name)

    _write(g, q.UPSERT_TOPICS, ({"id": t.id, "props": t.props} for t in sc.topics), stage("topics"), bs, cfg,
           created, len(sc.topics))
    subtopics = [{"id": t.id, "parent": t.parent} for t in sc.topics if t.parent]
    stage("subtopics").read = len(subtopics)
    _write(g, q.UPSERT_SUBTOPICS, subtopics, stage("subtopics"), bs, cfg, created, len(subtopics))
    users = ({"id": u.id, "props": u.props, "created_at": u.created_at}
             for u in src.records("users", _QUIET, warn=False) if sc.users.get(u.id) == u.src.line)
    _write(g, q.UPSERT_USERS, users, stage("users"), bs, cfg, created, len(sc.users))
    _write(g, q.UPSERT_CONTENT,
           (content_row(c, vectors.get(c.id, {}) if vectors is not None else None) for c in sc.content),
           stage("content"), min(bs, cfg.content_batch_size), cfg, created, len(sc.content))
    _write(g, q.UPSERT_CONTENT_TOPICS,
           ({"content": r.content, "topic": r.topic, "weight": r.weight}
            for r in valid_edges(src, "content_topics", sc, _QUIET, stage("content_topics"))),
           stage("content_topics"), bs, cfg, created, read.get("content_topics", 0))

    def follows() -> Iterator[dict[str, Any]]:
        for f in valid_edges(src, "follows", sc, _QUIET, stage("follows")):
            affected.add(f.src_id)
            affected.add(f.dst_id)
            yield {"src": f.src_id, "dst": f.dst_id, "ts": f.ts}

    _write(g, q.UPSERT_FOLLOWS, follows(), stage("follows"), bs, cfg, created, read.get("follows", 0))

    def interactions() -> Iterator[dict[str, Any]]:
        for i in valid_edges(src, "interactions", sc, _QUIET, stage("interactions")):
            affected.add(i.row["user"])
            yield i.row

    total = read.get("interactions", 0)
    if fresh:
        # nothing stored yet: every (deduplicated) row is new
        _write(g, q.CREATE_INTERACTIONS, interactions(), stage("interactions"), bs, cfg, created, total)
    else:
        for chunk in batched(interactions(), bs):
            new, existing = _split_existing(g, chunk, bs)
            _write(g, q.CREATE_INTERACTIONS, new, stage("interactions"), bs, cfg, created, len(new))
            _write(g, MERGE_INTERACTIONS, existing, stage("interactions"), bs, cfg, created, len(existing))
    declared = declared_sets(valid_edges(src, "declared_interests", sc, _QUIET, stage("declared_interests")))
    _write(g, REPLACE_DECLARED, declared, stage("declared_interests"), max(1, bs // 100), cfg, created,
           len(declared))
    return affected


def declared_sets(records: Iterable[DeclaredRec]) -> list[dict[str, Any]]:
    """One row per user listed in declared_interests: that user's whole declared set (it replaces theirs)."""
    by_user: dict[str, list[dict[str, Any]]] = {}
    for d in records:
        by_user.setdefault(d.user, []).append({"topic": d.topic, "weight": d.weight})
    return [{"user": u, "topics": topics} for u, topics in sorted(by_user.items())]


def _split_existing(g: Graph, rows: list[dict[str, Any]], chunk: int) -> tuple[list[dict], list[dict]]:
    """(rows not yet in the graph, rows already stored), by (user, content, kind, ts)."""
    users = sorted({r["user"] for r in rows})
    stored: set[tuple] = set()
    for part in batched(users, max(1, chunk // 100)):
        stored.update(tuple(k) for k in g.read(q.EXISTING_INTERACTIONS, users=part, interacted=INTERACTED)[0]["keys"])
    new = [r for r in rows if (r["user"], r["content"], r["kind"], r["ts"]) not in stored]
    return new, [r for r in rows if (r["user"], r["content"], r["kind"], r["ts"]) in stored]


def update_behavior(g: Graph, user_ids: set[str], cfg: IngestConfig, summary: Summary) -> None:
    """Recompute ``emb_behavior`` of the given users from the graph (all their interactions)."""
    if not user_ids:
        return
    stats = summary.stage("behavior")
    started = time.perf_counter()
    encoder = get_encoder("behavior", None, "cpu")
    ref_ms = g.read(q.LATEST_INTERACTION, interacted=INTERACTED, kinds=list(INTERACTION_KINDS))[0]["ms"] or 0
    with _bar(len(user_ids), "behavior", cfg) as bar:
        for chunk in batched(sorted(user_ids), cfg.batch_size):
            found = g.read(q.USER_ACTIVITY, ids=chunk, interacted=INTERACTED, follows=FOLLOWS,
                           kinds=list(INTERACTION_KINDS))
            acts = {r["id"]: Activity(r["kinds"], r["ratings"], r["ts"], r["items"], r["following"],
                                      r["followers"], ref_ms) for r in found}
            have = [uid for uid, a in acts.items() if not a.empty]
            empty = [uid for uid, a in acts.items() if a.empty]
            rows = [{"id": uid, "vec": vec.tolist(), "model": encoder.name, "dim": encoder.dim}
                    for uid, vec in zip(have, encoder.encode([acts[u] for u in have]))]
            stats.written += g.write_batches(q.SET_BEHAVIOR, rows, batch_size=cfg.batch_size).rows
            if empty:
                g.write(q.CLEAR_BEHAVIOR, ids=empty)
            stats.skipped += len(empty)
            bar.update(len(chunk))
    stats.read = len(user_ids)
    stats.seconds = time.perf_counter() - started


def ingest_dataset(g: Graph, ds: Tables | Dataset, cfg: IngestConfig, policy: ErrorPolicy | None = None,
                   summary: Summary | None = None) -> Summary:
    """Validate and embed ``ds`` completely, then write it; bad rows stop the load or are quarantined."""
    started = time.perf_counter()
    policy = policy or ErrorPolicy(cfg.on_error)
    summary = summary or Summary(ds.name)
    for name in STAGES:
        summary.stage(name)
    sc, vectors = validate(ds, cfg, policy, g, summary)
    for table, n in policy.counts().items():
        summary.stage(table).skipped += n
    summary.rejected = len(policy.rejected)
    if policy.rejected:
        summary.quarantine = policy.write(cfg.quarantine_path or _default_quarantine_path())
    affected = write_dataset(g, ds, sc, vectors if cfg.embed else None, cfg, summary)
    update_behavior(g, affected, cfg, summary)
    summary.seconds = time.perf_counter() - started
    return summary


def ingest_paths(g: Graph, paths: Sequence[Path], cfg: IngestConfig) -> Summary:
    """Read, validate and load a dataset in the generic format (directories and/or table files).

    The files are read twice (validate, then write), so memory grows with the number of users and items,
    not with the number of interactions or follows."""
    started = time.perf_counter()
    summary = ingest_dataset(g, Tables(paths, _vector_dims(g), cfg.max_text_chars), cfg, ErrorPolicy(cfg.on_error))
    summary.seconds = time.perf_counter() - started
    return summary


def _default_quarantine_path() -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    return var_dir("quarantine") / f"ingest-{stamp}.jsonl"


def ingest_source(g: Graph, source: Sequence[str], cfg: IngestConfig, *, kg: bool = True,
                  kg_min_items: int = 2, sample_dir: Path | None = None) -> Summary:
    """What ``ikg ingest`` loads: ``movielens-100k``, ``sample``, or dataset directories/table files."""
    from ingestion import movielens, sample

    started = time.perf_counter()
    if list(source) == [movielens.NAME]:
        policy = ErrorPolicy(cfg.on_error)
        ds = movielens.load(policy, movielens.MovieLensConfig(kg=kg, kg_min_items=kg_min_items))
        summary = ingest_dataset(g, ds, cfg, policy)
    elif list(source) == ["sample"]:
        summary = ingest_paths(g, [sample.build(sample_dir or var_dir("sample"))], cfg)
    else:
        summary = ingest_paths(g, [Path(s) for s in source], cfg)
    summary.seconds = time.perf_counter() - started
    return summary
