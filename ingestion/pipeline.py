"""Compose a load: validate every row and reference, compute embeddings, then write in stages.

Nothing is written until the whole dataset has been validated and embedded. Each stage writes
UNWIND batches, one transaction per batch, MERGE on unique ids: rerunning a load (also one that
was killed half-way) converges on the same graph.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, LiteralString

import numpy as np
from tqdm import tqdm

from graph.db import Graph, batched
from graph.errors import ConfigError
from graph.events import MERGE_INTERACTIONS
from graph.feedback import REPLACE_DECLARED
from graph.model import CONTENT, FOLLOWS, INTERACTED, vector_property
from graph.settings import var_dir
from ingestion import queries as q
from ingestion.embed.behavior import Activity
from ingestion.embed.cache import EmbeddingCache, file_key, text_key
from ingestion.embed.registry import DEFAULTS, get_encoder
from ingestion.media import load_audio, load_image
from ingestion.quarantine import ErrorPolicy
from ingestion.readers import read_dataset
from ingestion.records import MAX_TEXT_CHARS, MODALITIES, TABLES, ContentRec, Dataset, Source

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


def _dedupe_edges(records: list, key: Callable[[Any], Any]) -> tuple[list, int]:
    """Keep the last record per key (the MERGE would collapse them anyway)."""
    last = {key(r): r for r in records}
    return list(last.values()), len(records) - len(last)


def _existing(g: Graph | None, query: LiteralString, ids: set[str]) -> set[str]:
    if g is None or not ids:
        return set()
    found: set[str] = set()
    for chunk in batched(sorted(ids), LOOKUP_CHUNK):
        found.update(g.read(query, ids=chunk)[0]["ids"])
    return found


def check_references(ds: Dataset, policy: ErrorPolicy, g: Graph | None) -> None:
    """Drop (via ``policy``) rows whose user/content/topic is neither in the dataset nor the graph."""
    users = {u.id for u in ds.users}
    content = {c.id for c in ds.content}
    users |= _existing(g, q.EXISTING_USERS, ({i.row["user"] for i in ds.interactions}
                                             | {f.src_id for f in ds.follows} | {f.dst_id for f in ds.follows}
                                             | {d.user for d in ds.declared_interests}) - users)
    content |= _existing(g, q.EXISTING_CONTENT, ({i.row["content"] for i in ds.interactions}
                                                 | {ct.content for ct in ds.content_topics}) - content)
    topics_in_graph = _existing(g, q.EXISTING_TOPICS, ({t.parent for t in ds.topics if t.parent}
                                                       | {ct.topic for ct in ds.content_topics}
                                                       | {d.topic for d in ds.declared_interests}))

    def keep(table: str, records: list, checks: Callable[[Any], Iterable[tuple[str, str, set[str], str]]]) -> list:
        out = []
        for rec in records:
            for fld, value, known, what in checks(rec):
                if value not in known:
                    policy.reject(table, rec.src.error(f"unknown {what} {value!r}", fld, value))
                    break
            else:
                out.append(rec)
        return out

    # A topic whose parent is unknown is dropped, and so are (transitively) its own children.
    while True:
        topics = {t.id for t in ds.topics} | topics_in_graph
        before = len(ds.topics)
        ds.topics = keep("topics", ds.topics,
                         lambda t: [("parent", t.parent, topics, "parent topic")] if t.parent else [])
        if len(ds.topics) == before:
            break
    ds.content_topics = keep("content_topics", ds.content_topics, lambda r: [
        ("content", r.content, content, "content"), ("topic", r.topic, topics, "topic")])
    ds.interactions = keep("interactions", ds.interactions, lambda r: [
        ("user", r.row["user"], users, "user"), ("content", r.row["content"], content, "content")])
    ds.follows = keep("follows", ds.follows, lambda r: [
        ("src", r.src_id, users, "user"), ("dst", r.dst_id, users, "user")])
    ds.declared_interests = keep("declared_interests", ds.declared_interests, lambda r: [
        ("user", r.user, users, "user"), ("topic", r.topic, topics, "topic")])


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


def validate(ds: Dataset, cfg: IngestConfig, policy: ErrorPolicy, g: Graph | None,
             summary: Summary) -> dict[str, dict[str, tuple[np.ndarray, str]]]:
    """Dedupe, embed (rejecting unreadable media) and check references; returns the vectors."""
    ds.users = _dedupe_nodes(ds.users, "users", policy)
    ds.topics = _dedupe_nodes(ds.topics, "topics", policy)
    ds.content = _dedupe_nodes(ds.content, "content", policy)
    vectors = embed_content(ds, cfg, policy, _vector_dims(g), summary) if cfg.embed else {}
    check_references(ds, policy, g)
    for name, key in (("content_topics", lambda r: (r.content, r.topic)), ("interactions", lambda r: r.key),
                      ("follows", lambda r: (r.src_id, r.dst_id)),
                      ("declared_interests", lambda r: (r.user, r.topic))):
        kept, dropped = _dedupe_edges(ds.table(name), key)
        setattr(ds, name, kept)
        summary.stage(name).skipped += dropped
    return vectors


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


def _write(g: Graph, query: LiteralString, rows: Sequence[dict[str, Any]], stats: StageStats,
           batch_size: int, cfg: IngestConfig, created: dict[str, int]) -> None:
    started = time.perf_counter()
    with _bar(len(rows), stats.name, cfg) as bar:
        result = g.write_batches(query, rows, batch_size=batch_size, progress=bar.update)
    stats.written += result.rows
    stats.seconds += time.perf_counter() - started
    created["nodes"] = created.get("nodes", 0) + result.nodes_created
    created["relationships"] = created.get("relationships", 0) + result.relationships_created
    logger.info("%s: %d rows in %.2f s (%.0f rows/s)", stats.name, result.rows, result.seconds, result.rows_per_s)


def write_dataset(g: Graph, ds: Dataset, vectors: dict[str, dict[str, tuple[np.ndarray, str]]] | None,
                  cfg: IngestConfig, summary: Summary) -> None:
    """Write every stage in dependency order (nodes before the relationships between them)."""
    bs = cfg.batch_size
    stages: list[tuple[str, LiteralString, list[dict[str, Any]], int]] = [
        ("topics", q.UPSERT_TOPICS, [{"id": t.id, "props": t.props} for t in ds.topics], bs),
        ("subtopics", q.UPSERT_SUBTOPICS, [{"id": t.id, "parent": t.parent} for t in ds.topics if t.parent], bs),
        ("users", q.UPSERT_USERS, [{"id": u.id, "props": u.props, "created_at": u.created_at} for u in ds.users], bs),
        ("content", q.UPSERT_CONTENT,
         [content_row(c, vectors.get(c.id, {}) if vectors is not None else None) for c in ds.content],
         min(bs, cfg.content_batch_size)),
        ("content_topics", q.UPSERT_CONTENT_TOPICS,
         [{"content": r.content, "topic": r.topic, "weight": r.weight} for r in ds.content_topics], bs),
        ("follows", q.UPSERT_FOLLOWS, [{"src": f.src_id, "dst": f.dst_id, "ts": f.ts} for f in ds.follows], bs),
    ]
    new, existing = _split_existing(g, [i.row for i in ds.interactions], bs)
    stages += [("interactions", q.CREATE_INTERACTIONS, _by_user(new), bs),
               ("interactions", MERGE_INTERACTIONS, _by_user(existing), bs),
               ("declared_interests", REPLACE_DECLARED, declared_sets(ds), max(1, bs // 100))]
    summary.stage("subtopics").read = len(stages[1][2])
    for name, query, rows, size in stages:
        if rows:
            _write(g, query, rows, summary.stage(name), size, cfg, summary.created)


def declared_sets(ds: Dataset) -> list[dict[str, Any]]:
    """One row per user listed in declared_interests: that user's whole declared set (it replaces theirs)."""
    by_user: dict[str, list[dict[str, Any]]] = {}
    for d in ds.declared_interests:
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


def _by_user(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows sorted by user then time: each batch touches few users (fewer locks, warm caches)."""
    return sorted(rows, key=lambda r: (r["user"], r["ts"], r["content"], r["kind"]))


def update_behavior(g: Graph, user_ids: set[str], cfg: IngestConfig, summary: Summary) -> None:
    """Recompute ``emb_behavior`` of the given users from the graph (all their interactions)."""
    if not user_ids:
        return
    stats = summary.stage("behavior")
    started = time.perf_counter()
    encoder = get_encoder("behavior", None, "cpu")
    ref_ms = g.read(q.LATEST_INTERACTION, interacted=INTERACTED)[0]["ms"] or 0
    rows, empty = [], []
    with _bar(len(user_ids), "behavior", cfg) as bar:
        for chunk in batched(sorted(user_ids), cfg.batch_size):
            found = g.read(q.USER_ACTIVITY, ids=chunk, interacted=INTERACTED, follows=FOLLOWS)
            acts = {r["id"]: Activity(r["kinds"], r["ratings"], r["ts"], r["items"], r["following"],
                                      r["followers"], ref_ms) for r in found}
            have = [uid for uid, a in acts.items() if not a.empty]
            empty += [uid for uid, a in acts.items() if a.empty]
            for uid, vec in zip(have, encoder.encode([acts[u] for u in have])):
                rows.append({"id": uid, "vec": vec.tolist(), "model": encoder.name, "dim": encoder.dim})
            bar.update(len(chunk))
    stats.read = len(user_ids)
    result = g.write_batches(q.SET_BEHAVIOR, rows, batch_size=cfg.batch_size)
    if empty:
        g.write(q.CLEAR_BEHAVIOR, ids=empty)
    stats.written, stats.skipped = result.rows, len(empty)
    stats.seconds = time.perf_counter() - started


def ingest_dataset(g: Graph, ds: Dataset, cfg: IngestConfig, policy: ErrorPolicy | None = None,
                   summary: Summary | None = None) -> Summary:
    """Validate and embed ``ds`` completely, then write it; bad rows stop the load or are quarantined."""
    started = time.perf_counter()
    policy = policy or ErrorPolicy(cfg.on_error)
    summary = summary or Summary(ds.name)
    for name in STAGES:
        summary.stage(name)
    for table, n in ds.rows_read.items():
        summary.stage(table).read = n
    vectors = validate(ds, cfg, policy, g, summary)
    for table, n in policy.counts().items():
        summary.stage(table).skipped += n
    summary.rejected = len(policy.rejected)
    if policy.rejected:
        summary.quarantine = policy.write(cfg.quarantine_path or _default_quarantine_path())
    write_dataset(g, ds, vectors if cfg.embed else None, cfg, summary)
    affected = ({u.id for u in ds.users} | {i.row["user"] for i in ds.interactions}
                | {f.src_id for f in ds.follows} | {f.dst_id for f in ds.follows})
    update_behavior(g, affected, cfg, summary)
    summary.seconds = time.perf_counter() - started
    return summary


def ingest_paths(g: Graph, paths: Sequence[Path], cfg: IngestConfig) -> Summary:
    """Read, validate and load a dataset in the generic format (directories and/or table files)."""
    started = time.perf_counter()
    policy = ErrorPolicy(cfg.on_error)
    dims = _vector_dims(g)
    ds = read_dataset(paths, policy, dims, cfg.max_text_chars)
    summary = ingest_dataset(g, ds, cfg, policy)
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
