"""Keyed pseudonyms of ids: HMAC-SHA256 under a local secret (a 0600 file, created on first use).

The same function names users in pseudonymised snapshots and in the deletion ledger, so neither
holds a raw id; only a holder of the secret can recompute (never invert) a pseudonym. Pure: no neo4j.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from collections.abc import Iterable
from pathlib import Path

from graph.errors import ConfigError
from graph.settings import var_dir

SECRET_FILE = "pseudonym.secret"
SECRET_BYTES = 32
SECRET_ENV = "IKG_PSEUDONYM_SECRET_FILE"


def secret_path() -> Path:
    """``$IKG_PSEUDONYM_SECRET_FILE``, else ``var/keys/pseudonym.secret``."""
    raw = os.environ.get(SECRET_ENV)
    return Path(raw) if raw else var_dir("keys") / SECRET_FILE


def load_secret(path: Path | None = None) -> bytes:
    """The secret at ``path`` (default ``secret_path()``), created with mode 0600 if absent.

    Raises ConfigError if the file is readable by group/others or has the wrong length."""
    path = Path(path) if path is not None else secret_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(SECRET_BYTES))
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(f"pseudonym secret {path} has mode {mode:o}; it must be private: chmod 600 {path}")
    text = path.read_text().strip()
    try:
        secret = bytes.fromhex(text)
    except ValueError as e:
        raise ConfigError(f"pseudonym secret {path} is not hex") from e
    if len(secret) != SECRET_BYTES:
        raise ConfigError(f"pseudonym secret {path} holds {len(secret)} bytes, expected {SECRET_BYTES}")
    return secret


def pseudonym(raw_id: str, secret: bytes) -> str:
    """HMAC-SHA256 of the UTF-8 id under ``secret``, as 64 hex characters."""
    return hmac.new(secret, raw_id.encode("utf-8"), hashlib.sha256).hexdigest()


def pseudonyms(raw_ids: Iterable[str], secret: bytes) -> list[str]:
    """``pseudonym`` of each id, in order."""
    return [pseudonym(str(i), secret) for i in raw_ids]
