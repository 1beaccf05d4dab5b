"""API keys: ``(:ApiKey {id, hash, name, role, created_at, revoked_at})``; only a SHA-256 of the key is stored.

A key reads ``ikg_<id>_<secret>``: the id finds the node, the secret (32 random bytes) is checked
against the stored hash in constant time. Keys are random, so a fast hash is enough; verified keys
are cached per process for ``ttl_s`` seconds (revocation takes effect within that time).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from graph.db import Graph
from graph.errors import InputError

ROLES = ("read", "write", "admin")
KEY_PREFIX = "ikg"
ID_HEX = 8

CREATE_KEY = """
CREATE (k:ApiKey {id: $id, hash: $hash, name: $name, role: $role, created_at: datetime(), revoked_at: null})
RETURN k.id AS id, k.name AS name, k.role AS role, toString(k.created_at) AS created_at
"""
LIST_KEYS = """
MATCH (k:ApiKey)
RETURN k.id AS id, k.name AS name, k.role AS role, toString(k.created_at) AS created_at,
       toString(k.revoked_at) AS revoked_at
ORDER BY k.created_at, k.id
"""
REVOKE_KEY = """
MATCH (k:ApiKey {id: $id})
SET k.revoked_at = coalesce(k.revoked_at, datetime())
RETURN k.id AS id, toString(k.revoked_at) AS revoked_at
"""
FIND_KEY = "MATCH (k:ApiKey {id: $id}) RETURN k.hash AS hash, k.role AS role, k.name AS name, k.revoked_at IS NOT NULL AS revoked"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id, name and role."""

    key_id: str
    name: str
    role: str

    def allows(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(g: Graph, name: str, role: str) -> tuple[str, dict[str, Any]]:
    """Store a new key; returns (the key, shown once, and its stored record)."""
    if role not in ROLES:
        raise InputError(f"role must be one of {', '.join(ROLES)}", field="role", value=role)
    if not name or len(name) > 100:
        raise InputError("name must be 1..100 characters", field="name", value=name)
    key_id = secrets.token_hex(ID_HEX // 2)
    secret = secrets.token_urlsafe(32)
    record = g.run_write(lambda tx: tx.run(CREATE_KEY, id=key_id, hash=_digest(secret), name=name,
                                           role=role).single().data())
    return f"{KEY_PREFIX}_{key_id}_{secret}", record


def list_keys(g: Graph) -> list[dict[str, Any]]:
    return g.read(LIST_KEYS)


def revoke_key(g: Graph, key_id: str) -> dict[str, Any]:
    rows = g.run_write(lambda tx: tx.run(REVOKE_KEY, id=key_id).data())
    if not rows:
        raise InputError("no such API key", field="id", value=key_id)
    return rows[0]


def parse_key(key: str) -> tuple[str, str] | None:
    """(id, secret) of a well-formed key, else None."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or len(parts[1]) != ID_HEX or not parts[2]:
        return None
    return parts[1], parts[2]


class KeyVerifier:
    """Checks presented keys against the graph, caching good answers for ``ttl_s`` seconds."""

    def __init__(self, g: Graph, ttl_s: float):
        self.g, self.ttl_s = g, ttl_s
        self._cache: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def verify(self, key: str) -> Principal | None:
        parsed = parse_key(key)
        if parsed is None:
            return None
        digest = _digest(key)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(digest)
        if hit is not None and hit[0] > now:
            return hit[1]
        key_id, secret = parsed
        rows = self.g.read(FIND_KEY, id=key_id)
        if not rows or rows[0]["revoked"] or not hmac.compare_digest(rows[0]["hash"], _digest(secret)):
            return None
        principal = Principal(key_id, rows[0]["name"], rows[0]["role"])
        if self.ttl_s > 0:
            with self._lock:
                if len(self._cache) > 1000:
                    self._cache.clear()
                self._cache[digest] = (now + self.ttl_s, principal)
        return principal
