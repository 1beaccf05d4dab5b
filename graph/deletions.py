"""The local deletion ledger and the stale-user filter applied to snapshots before training.

``ikg user delete`` / ``DELETE /v1/users/{id}`` append one JSON line per deleted user to
``var/keys/deleted_users.jsonl`` (mode 0600): the keyed pseudonym of the id (``graph.pseudonym``,
never the raw id) and the deletion time. A snapshot exported before that time still holds the user;
``drop_deleted_users`` removes such users (node, features, every edge touching them) and says so;
``current_snapshot`` also saves that filtered copy beside the original, so a training run records a
snapshot whose contiguous ids match its outputs (write-back and inductive scoring reload it).
Pure numpy + files: no neo4j, so ``gnn`` may import it like ``graph.snapshot``.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from graph.errors import InputError
from graph.model import USER
from graph.pseudonym import load_secret, pseudonym, pseudonyms
from graph.settings import var_dir
from graph.snapshot import Snapshot

logger = logging.getLogger(__name__)

LEDGER_FILE = "deleted_users.jsonl"
LEDGER_ENV = "IKG_DELETION_LEDGER"


def ledger_path() -> Path:
    """``$IKG_DELETION_LEDGER``, else ``var/keys/deleted_users.jsonl``."""
    raw = os.environ.get(LEDGER_ENV)
    return Path(raw) if raw else var_dir("keys") / LEDGER_FILE


def record_deletion(user_id: str, *, when: datetime | None = None, path: Path | None = None,
                    secret: bytes | None = None) -> None:
    """Append the user's pseudonym and the deletion time to the ledger (created 0600)."""
    path = Path(path) if path is not None else ledger_path()
    secret = secret if secret is not None else load_secret()
    when = when or datetime.now(timezone.utc)
    line = json.dumps({"user": pseudonym(user_id, secret), "deleted_at": when.isoformat()}) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a") as f:
        f.write(line)


def read_ledger(path: Path | None = None) -> dict[str, datetime]:
    """Pseudonym -> latest deletion time; empty when there is no ledger."""
    path = Path(path) if path is not None else ledger_path()
    if not path.exists():
        return {}
    out: dict[str, datetime] = {}
    for n, text in enumerate(path.read_text().splitlines(), start=1):
        if not text.strip():
            continue
        try:
            row = json.loads(text)
            key, when = str(row["user"]), _utc(datetime.fromisoformat(row["deleted_at"]))
        except (ValueError, KeyError, TypeError) as e:
            raise InputError(f"not a ledger entry: {e}", file=str(path), line=n) from e
        out[key] = max(when, out.get(key, when))
    return out


def _utc(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=timezone.utc)


def _exported_at(snap: Snapshot) -> datetime | None:
    raw = snap.manifest.get("created_at")
    if not raw:
        return None
    try:
        return _utc(datetime.fromisoformat(str(raw).replace("Z", "+00:00")))
    except ValueError as e:
        raise InputError(f"not a time: {raw!r}", file="manifest.json", field="created_at") from e


def stale_users(snap: Snapshot, ledger: dict[str, datetime], secret: bytes) -> np.ndarray:
    """Contiguous ids of users deleted after the snapshot was exported (all ledger matches when the
    manifest has no ``created_at``). A snapshot whose user ids already are pseudonyms matches directly."""
    if not ledger or USER not in snap.node_ids:
        return np.zeros(0, np.int64)
    exported = _exported_at(snap)
    raw = [str(i) for i in snap.node_ids[USER].tolist()]
    hits = []
    for idx, (rid, key) in enumerate(zip(raw, pseudonyms(raw, secret))):
        when = ledger.get(key, ledger.get(rid))
        if when is not None and (exported is None or exported <= when):
            hits.append(idx)
    return np.asarray(hits, dtype=np.int64)


def without_users(snap: Snapshot, drop: np.ndarray) -> Snapshot:
    """A copy of ``snap`` without the given User rows: ids renumbered, features and every edge touching
    them removed."""
    n = snap.num_nodes(USER)
    keep = np.ones(n, dtype=bool)
    keep[drop] = False
    new_index = np.cumsum(keep) - 1
    edges = {}
    for etype, arrays in snap.edges.items():
        ok = np.ones(len(arrays["src"]), dtype=bool)
        for end, label in (("src", etype[0]), ("dst", etype[2])):
            if label == USER:
                ok &= keep[arrays[end]]
        kept = {k: v[ok] for k, v in arrays.items()}
        for end, label in (("src", etype[0]), ("dst", etype[2])):
            if label == USER:
                kept[end] = new_index[kept[end]].astype(arrays[end].dtype)
        edges[etype] = kept
    features = {lab: ({p: x[keep] for p, x in f.items()} if lab == USER else dict(f))
                for lab, f in snap.features.items()}
    masks = {lab: ({p: m[keep] for p, m in f.items()} if lab == USER else dict(f))
             for lab, f in snap.feature_masks.items()}
    node_ids = {**snap.node_ids, USER: snap.node_ids[USER][keep]}
    out = Snapshot(node_ids=node_ids, edges=edges, features=features, feature_masks=masks,
                   manifest=dict(snap.manifest))
    out.validate()
    return out


@dataclass(frozen=True)
class StaleCheck:
    """What ``drop_deleted_users`` did: how many snapshot users were deleted since export."""

    dropped: int
    ledger: str

    def as_metrics(self) -> dict:
        return {"deleted_users_dropped": self.dropped, "deletion_ledger": self.ledger}


def drop_deleted_users(snap: Snapshot, *, path: Path | None = None,
                       secret: bytes | None = None) -> tuple[Snapshot, StaleCheck]:
    """Remove users the ledger lists as deleted after the snapshot's export, logging a warning."""
    path = Path(path) if path is not None else ledger_path()
    ledger = read_ledger(path)
    if not ledger:
        return snap, StaleCheck(0, str(path))
    drop = stale_users(snap, ledger, secret if secret is not None else load_secret())
    if len(drop) == 0:
        return snap, StaleCheck(0, str(path))
    logger.warning("snapshot is stale for %d user(s) deleted after its export (ledger %s): dropping them "
                   "and their edges before training", len(drop), path)
    return without_users(snap, drop), StaleCheck(int(len(drop)), str(path))


FILTERED_SUFFIX = "-without-deleted"


def current_snapshot(path: Path) -> tuple[Snapshot, Path, StaleCheck]:
    """Load the snapshot at ``path`` without users deleted since its export. When some were dropped, the
    filtered copy is saved as ``<path>-without-deleted`` (its manifest says so) and that path returned."""
    path = Path(path)
    snap, check = drop_deleted_users(Snapshot.load(path))
    if not check.dropped:
        return snap, path, check
    copy = path.with_name(path.name + FILTERED_SUFFIX)
    snap.manifest = {**snap.manifest, "filtered_from": str(path), "deleted_users_dropped": check.dropped}
    snap.save(copy)
    logger.warning("training on %s (the filtered copy); re-export to replace the stale snapshot %s", copy, path)
    return snap, copy, check
