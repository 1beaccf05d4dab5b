"""Validated ingest records: one parser per table of the generic format (docs/ingest-format.md).

Each ``parse_*`` takes one raw row (a mapping of column → value as read from CSV, JSONL or
Parquet) and its ``Source`` and returns a frozen record, or raises InputError naming the
file, line, field and value. Pure: no I/O besides ``Path.is_file`` for media paths.
"""
from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from graph.errors import InputError
from graph.events import MAX_ID_LEN, interaction_row, parse_ts_ms

TABLES = ("users", "topics", "content", "content_topics", "interactions", "follows", "declared_interests")
MODALITIES = ("text", "image", "audio")
MAX_TEXT_CHARS = 20_000
MAX_FIELD_CHARS = 1_000
AGE_RANGE = (0, 150)

COLUMNS = {
    "users": ("id", "name", "age", "gender", "occupation", "zip", "created_at"),
    "topics": ("id", "name", "source", "kind", "parent"),
    "content": ("id", "kind", "title", "text", "image", "audio", "created_at",
                "emb_text", "emb_image", "emb_audio", "emb_text_model", "emb_image_model", "emb_audio_model"),
    "content_topics": ("content", "topic", "weight"),
    "interactions": ("user", "content", "kind", "rating", "ts", "weight"),
    "follows": ("src", "dst", "ts"),
    "declared_interests": ("user", "topic", "weight"),
}


@dataclass(frozen=True)
class Source:
    """Where a row came from: file and 1-based line (CSV/JSONL) or row number (Parquet)."""

    file: str
    line: int

    def error(self, message: str, field: str | None = None, value: Any = None) -> InputError:
        return InputError(message, file=self.file, line=self.line, field=field, value=value)


@dataclass(frozen=True)
class UserRec:
    id: str
    props: dict[str, Any]
    created_at: int | None
    src: Source


@dataclass(frozen=True)
class TopicRec:
    id: str
    props: dict[str, Any]
    parent: str | None
    src: Source


@dataclass(frozen=True)
class ContentRec:
    """A content item; ``image``/``audio`` are resolved paths; ``vectors`` precomputed embeddings."""

    id: str
    props: dict[str, Any]
    created_at: int | None
    image: Path | None
    audio: Path | None
    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    vector_models: dict[str, str] = field(default_factory=dict)
    src: Source = Source("", 0)

    @property
    def embed_text(self) -> str | None:
        """What the text encoder reads: title and text joined; None when both are empty."""
        parts = [p for p in (self.props.get("title"), self.props.get("text")) if p]
        return ". ".join(parts) if parts else None


@dataclass(frozen=True)
class ContentTopicRec:
    content: str
    topic: str
    weight: float
    src: Source


@dataclass(frozen=True)
class InteractionRec:
    row: dict[str, Any]   # the parameter row of graph.events.MERGE_INTERACTIONS
    src: Source

    @property
    def key(self) -> tuple[str, str, str, int]:
        return self.row["user"], self.row["content"], self.row["kind"], self.row["ts"]


@dataclass(frozen=True)
class DeclaredRec:
    """A topic the user declared (``INTERESTED_IN {source: 'declared'}``); weight > 0, default 1."""

    user: str
    topic: str
    weight: float
    src: Source


@dataclass(frozen=True)
class FollowRec:
    src_id: str
    dst_id: str
    ts: int | None
    src: Source


def _missing(value: Any) -> bool:
    """None or an empty string: a value that was not given (NaN is given, and invalid)."""
    return value is None or (isinstance(value, str) and not value.strip())


def _blank(value: Any) -> bool:
    return _missing(value) or (isinstance(value, float) and math.isnan(value))


def _id(raw: Mapping[str, Any], name: str, src: Source) -> str:
    value = raw.get(name)
    if _blank(value):
        raise src.error(f"{name} is required", name, value)
    text = str(value).strip()
    if len(text) > MAX_ID_LEN:
        raise src.error(f"{name} is longer than {MAX_ID_LEN} characters", name, text[:40] + "…")
    return text


def _opt_id(raw: Mapping[str, Any], name: str, src: Source) -> str | None:
    return None if _blank(raw.get(name)) else _id(raw, name, src)


def _text(raw: Mapping[str, Any], name: str, src: Source, limit: int = MAX_FIELD_CHARS) -> str | None:
    value = raw.get(name)
    if _blank(value):
        return None
    text = str(value).strip()
    if len(text) > limit:
        raise src.error(f"text is too long ({len(text)} characters, limit {limit})", name, text[:40] + "…")
    return text


def _float(raw: Mapping[str, Any], name: str, src: Source) -> float | None:
    value = raw.get(name)
    if _missing(value):
        return None
    try:
        if isinstance(value, bool):
            raise ValueError
        number = float(value)
    except (TypeError, ValueError):
        raise src.error(f"{name} must be a number (got {value!r})", name, value) from None
    if not math.isfinite(number):
        raise src.error(f"{name} must be a finite number (got {value!r})", name, value)
    return number


def _ts(raw: Mapping[str, Any], name: str, src: Source, required: bool) -> int | None:
    value = raw.get(name)
    if _blank(value) and not required:
        return None
    try:
        return parse_ts_ms(value)
    except ValueError as e:
        raise src.error(f"bad timestamp: {e} (got {value!r})", name, value) from None


def parse_user(raw: Mapping[str, Any], src: Source) -> UserRec:
    uid = _id(raw, "id", src)
    age = _float(raw, "age", src)
    if age is not None and (age != int(age) or not AGE_RANGE[0] <= age <= AGE_RANGE[1]):
        raise src.error(f"age must be an integer in {AGE_RANGE[0]}..{AGE_RANGE[1]} (got {raw.get('age')!r})",
                        "age", raw.get("age"))
    props = {"name": _text(raw, "name", src), "age": None if age is None else int(age),
             "gender": _text(raw, "gender", src), "occupation": _text(raw, "occupation", src),
             "zip": _text(raw, "zip", src)}
    return UserRec(uid, props, _ts(raw, "created_at", src, required=False), src)


def parse_topic(raw: Mapping[str, Any], src: Source) -> TopicRec:
    tid = _id(raw, "id", src)
    parent = _opt_id(raw, "parent", src)
    if parent == tid:
        raise src.error(f"topic {tid!r} cannot be its own parent", "parent", parent)
    props = {"name": _text(raw, "name", src) or tid, "source": _text(raw, "source", src) or "dataset",
             "kind": _text(raw, "kind", src)}
    return TopicRec(tid, props, parent, src)


def _media(raw: Mapping[str, Any], name: str, src: Source, base: Path) -> Path | None:
    rel = _text(raw, name, src)
    if rel is None:
        return None
    path = (base / rel).resolve()
    if not path.is_file():
        raise src.error(f"{name} file not found: {path}", name, rel)
    return path


def _vector(raw: Mapping[str, Any], name: str, src: Source, dims: Mapping[str, int]) -> np.ndarray | None:
    value = raw.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise src.error(f"{name} must be a JSON list of numbers", name, value[:40]) from None
    try:
        vec = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise src.error(f"{name} must be a list of numbers", name, str(value)[:40]) from None
    modality = name.removeprefix("emb_")
    if vec.ndim != 1 or len(vec) != dims[modality]:
        raise src.error(f"{name} has dimension {vec.shape[0] if vec.ndim == 1 else vec.shape}, "
                        f"expected {dims[modality]}", name, f"{len(vec) if vec.ndim else vec}")
    if not np.all(np.isfinite(vec)):
        raise src.error(f"{name} contains NaN or infinite values", name, "NaN")
    if not np.any(vec):
        raise src.error(f"{name} is a zero vector (leave it empty for a missing modality)", name, "0")
    return vec.astype(np.float32)


def parse_content(raw: Mapping[str, Any], src: Source, base: Path, dims: Mapping[str, int],
                  max_text_chars: int = MAX_TEXT_CHARS) -> ContentRec:
    """Parse a content row; ``base`` resolves media paths, ``dims`` checks precomputed vectors."""
    cid = _id(raw, "id", src)
    props = {"kind": _text(raw, "kind", src) or "item", "title": _text(raw, "title", src),
             "text": _text(raw, "text", src, limit=max_text_chars)}
    image, audio = _media(raw, "image", src, base), _media(raw, "audio", src, base)
    props["image"], props["audio"] = (str(image) if image else None), (str(audio) if audio else None)
    vectors, models = {}, {}
    for m in MODALITIES:
        vec = _vector(raw, f"emb_{m}", src, dims)
        if vec is not None:
            vectors[m] = vec
            models[m] = _text(raw, f"emb_{m}_model", src) or "precomputed"
    return ContentRec(cid, props, _ts(raw, "created_at", src, required=False), image, audio,
                      vectors, models, src)


def parse_content_topic(raw: Mapping[str, Any], src: Source) -> ContentTopicRec:
    weight = _float(raw, "weight", src)
    return ContentTopicRec(_id(raw, "content", src), _id(raw, "topic", src),
                           1.0 if weight is None else weight, src)


def parse_interaction(raw: Mapping[str, Any], src: Source) -> InteractionRec:
    try:
        row = interaction_row(*(None if _missing(raw.get(k)) else raw.get(k)
                                for k in ("user", "content", "kind", "ts", "rating", "weight")))
    except InputError as e:
        raise src.error(e.reason, e.field, e.value) from None
    return InteractionRec(row, src)


def parse_follow(raw: Mapping[str, Any], src: Source) -> FollowRec:
    a, b = _id(raw, "src", src), _id(raw, "dst", src)
    if a == b:
        raise src.error(f"user {a!r} cannot follow themself", "dst", b)
    return FollowRec(a, b, _ts(raw, "ts", src, required=False), src)


def parse_declared_interest(raw: Mapping[str, Any], src: Source) -> DeclaredRec:
    weight = _float(raw, "weight", src)
    if weight is not None and weight <= 0:
        raise src.error(f"weight must be positive (got {raw.get('weight')!r})", "weight", raw.get("weight"))
    return DeclaredRec(_id(raw, "user", src), _id(raw, "topic", src), 1.0 if weight is None else weight, src)


@dataclass
class Dataset:
    """Validated records of one load, in table order; ``rows_read`` counts raw rows per table."""

    name: str
    users: list[UserRec] = field(default_factory=list)
    topics: list[TopicRec] = field(default_factory=list)
    content: list[ContentRec] = field(default_factory=list)
    content_topics: list[ContentTopicRec] = field(default_factory=list)
    interactions: list[InteractionRec] = field(default_factory=list)
    follows: list[FollowRec] = field(default_factory=list)
    declared_interests: list[DeclaredRec] = field(default_factory=list)
    rows_read: dict[str, int] = field(default_factory=dict)

    def table(self, name: str) -> list:
        if name not in TABLES:
            raise KeyError(f"unknown table {name!r}; tables: {', '.join(TABLES)}")
        return getattr(self, name)

    def records(self, table: str, policy: Any = None, warn: bool = True) -> Iterator[Any]:
        """The records of ``table`` (validated when the dataset was built), like ``readers.Tables.records``."""
        return iter(self.table(table))
