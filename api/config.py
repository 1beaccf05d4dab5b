"""API configuration: a typed, validated, frozen dataclass (defaults fit a 2-core box)."""
from __future__ import annotations

import os
from dataclasses import dataclass

from graph.errors import ConfigError
from graph.settings import Neo4jSettings


@dataclass(frozen=True)
class ApiConfig:
    """Everything ``create_app`` needs; ``neo4j=None`` means ``Neo4jSettings.from_env()``."""

    neo4j: Neo4jSettings | None = None
    max_body_bytes: int = 64 * 1024          # request bodies larger than this get 413
    max_batch_events: int = 100              # POST /v1/events batch size limit
    max_limit: int = 100                     # upper bound of every limit / k
    max_depth: int = 3                       # neighbourhood depth bound
    max_nodes: int = 300                     # neighbourhood size bound
    max_offset: int = 10_000                 # offset pagination bound
    half_life_days: float = 30.0             # decayed interests (one definition, see /tmp/format.md)
    key_cache_ttl_s: float = 5.0             # verified API keys are trusted this long per process
    cors_origins: tuple[str, ...] = ()       # CORS off unless origins are listed
    neo4j_timeout_s: float = 3.0             # connect/acquire timeout: how fast a request gives up
    neo4j_retry_s: float = 1.0               # managed-transaction retry budget per request
    neo4j_pool_size: int = 20

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_batch_events", "max_limit", "max_depth", "max_nodes",
                     "neo4j_pool_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.max_offset < 0:
            raise ConfigError(f"max_offset must be >= 0, got {self.max_offset}")
        if not self.half_life_days > 0:
            raise ConfigError(f"half_life_days must be > 0, got {self.half_life_days}")
        for name in ("key_cache_ttl_s", "neo4j_timeout_s", "neo4j_retry_s"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        for origin in self.cors_origins:
            if not origin.startswith(("http://", "https://")):
                raise ConfigError(f"CORS origin must start with http:// or https://, got {origin!r}")

    @classmethod
    def from_env(cls, **overrides) -> "ApiConfig":
        """Read ``IKG_API_HALF_LIFE_DAYS``, ``IKG_API_CORS_ORIGINS`` (comma separated),
        ``IKG_API_MAX_BODY_BYTES``, ``IKG_API_KEY_CACHE_TTL_S``; overrides win."""
        kwargs: dict = {}
        env = os.environ
        try:
            if env.get("IKG_API_HALF_LIFE_DAYS"):
                kwargs["half_life_days"] = float(env["IKG_API_HALF_LIFE_DAYS"])
            if env.get("IKG_API_MAX_BODY_BYTES"):
                kwargs["max_body_bytes"] = int(env["IKG_API_MAX_BODY_BYTES"])
            if env.get("IKG_API_KEY_CACHE_TTL_S"):
                kwargs["key_cache_ttl_s"] = float(env["IKG_API_KEY_CACHE_TTL_S"])
        except ValueError as e:
            raise ConfigError(f"invalid IKG_API_* setting: {e}") from e
        if env.get("IKG_API_CORS_ORIGINS"):
            kwargs["cors_origins"] = tuple(o.strip() for o in env["IKG_API_CORS_ORIGINS"].split(",") if o.strip())
        kwargs.update(overrides)
        return cls(**kwargs)
