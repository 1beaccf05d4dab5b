"""An on-disk cache of computed embeddings (SQLite), keyed by model and a hash of the input.

Encoders are deterministic, so a vector computed once for the same model and the same text (or
the same image/audio file bytes) can be reused: reruns and interrupted loads skip the encoders.
"""
from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (
  model TEXT NOT NULL, key TEXT NOT NULL, name TEXT NOT NULL, dim INTEGER NOT NULL, vec BLOB NOT NULL,
  PRIMARY KEY (model, key))
"""
LOOKUP_CHUNK = 500


def text_key(text: str) -> str:
    return hashlib.sha256(b"text\0" + text.encode("utf-8")).hexdigest()


def file_key(path: Path) -> str:
    digest = hashlib.sha256(b"file\0")
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class EmbeddingCache:
    """``get(model, keys)`` → {key: (vector, encoder name)}; ``put(model, name, {key: vector})``."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(str(path))
        self.db.execute(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "EmbeddingCache":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, model: str, keys: Iterable[str]) -> dict[str, tuple[np.ndarray, str]]:
        keys = list(keys)
        out = {}
        for start in range(0, len(keys), LOOKUP_CHUNK):
            chunk = keys[start:start + LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            for key, name, dim, blob in self.db.execute(
                    f"SELECT key, name, dim, vec FROM vectors WHERE model = ? AND key IN ({marks})",  # noqa: S608
                    [model, *chunk]):
                vec = np.frombuffer(blob, dtype=np.float32)
                if len(vec) == dim:
                    out[key] = (vec.copy(), name)
        return out

    def put(self, model: str, name: str, vectors: Mapping[str, np.ndarray]) -> None:
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO vectors (model, key, name, dim, vec) VALUES (?, ?, ?, ?, ?)",
                [(model, key, name, int(v.shape[0]), np.asarray(v, dtype=np.float32).tobytes())
                 for key, v in vectors.items()])
