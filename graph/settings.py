"""Typed settings: which Neo4j to talk to, and how the managed local server is laid out.

Precedence: explicit arguments > environment variables > defaults. If ``NEO4J_URI`` is
set, every command uses that server and never starts the managed one.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from graph.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATABASE = "neo4j"
DEFAULT_USERNAME = "neo4j"
_SIZE = re.compile(r"^\d+[kmgKMG]?$")


def project_home() -> Path:
    """Directory for local state (`.neo4j/`, `var/`): ``IKG_HOME`` or the repository root."""
    return Path(os.environ.get("IKG_HOME", PROJECT_ROOT)).resolve()


def var_dir(*parts: str) -> Path:
    """A folder under ``$IKG_HOME/var`` (snapshots, runs, reports, keys), created on demand."""
    path = project_home().joinpath("var", *parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as e:
        raise ConfigError(f"{name}={raw!r} is not an integer") from e


@dataclass(frozen=True)
class ServerConfig:
    """Layout and sizing of the managed local Neo4j (defaults fit a 2-core / 24 GiB box)."""

    root: Path = field(default_factory=lambda: project_home() / ".neo4j")
    home: Path | None = None
    bolt_port: int = 7687
    http_port: int = 7474
    heap: str = "2g"
    pagecache: str = "1g"
    plugins: bool = True
    extra_conf: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        for name in ("bolt_port", "http_port"):
            port = getattr(self, name)
            if not 1 <= port <= 65535:
                raise ConfigError(f"{name} must be in 1..65535, got {port}")
        if self.bolt_port == self.http_port:
            raise ConfigError(f"bolt_port and http_port are both {self.bolt_port}")
        for name in ("heap", "pagecache"):
            if not _SIZE.match(getattr(self, name)):
                raise ConfigError(f"{name} must look like 512m or 2g, got {getattr(self, name)!r}")
        if self.home is None:
            object.__setattr__(self, "home", self.root / "home")

    @classmethod
    def from_env(cls, **overrides) -> "ServerConfig":
        """Read ``IKG_NEO4J_{DIR,HOME,BOLT_PORT,HTTP_PORT,HEAP,PAGECACHE}``; overrides win."""
        kwargs: dict = {}
        if os.environ.get("IKG_NEO4J_DIR"):
            kwargs["root"] = Path(os.environ["IKG_NEO4J_DIR"]).resolve()
        if os.environ.get("IKG_NEO4J_HOME"):
            kwargs["home"] = Path(os.environ["IKG_NEO4J_HOME"]).resolve()
        kwargs["bolt_port"] = _env_int("IKG_NEO4J_BOLT_PORT", cls.bolt_port)
        kwargs["http_port"] = _env_int("IKG_NEO4J_HTTP_PORT", cls.http_port)
        kwargs["heap"] = os.environ.get("IKG_NEO4J_HEAP") or cls.heap
        kwargs["pagecache"] = os.environ.get("IKG_NEO4J_PAGECACHE") or cls.pagecache
        kwargs.update(overrides)
        return cls(**kwargs)

    def with_home(self, home: Path) -> "ServerConfig":
        return replace(self, home=home)

    @property
    def dist(self) -> Path:
        """Jars shared by every home: ``dist/lib`` (server + Browser) and ``dist/plugins``."""
        return self.root / "dist"

    @property
    def password_file(self) -> Path:
        return self.home / "password"

    @property
    def bolt_uri(self) -> str:
        return f"neo4j://127.0.0.1:{self.bolt_port}"

    @property
    def browser_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/browser/"


@dataclass(frozen=True)
class Neo4jSettings:
    """Connection settings; ``managed`` is True when they point at our local server."""

    uri: str
    username: str = DEFAULT_USERNAME
    password: str = field(default="", repr=False)
    database: str = DEFAULT_DATABASE
    managed: bool = False

    def __post_init__(self) -> None:
        if not re.match(r"^(neo4j|bolt)(\+s|\+ssc)?://", self.uri):
            raise ConfigError(f"NEO4J_URI must start with neo4j:// or bolt:// (got {self.uri!r})")

    @classmethod
    def from_env(cls, server: ServerConfig | None = None) -> "Neo4jSettings":
        """External server from ``NEO4J_URI``/``USERNAME``/``PASSWORD``/``DATABASE``, else the managed one."""
        uri = os.environ.get("NEO4J_URI")
        if uri:
            return cls(
                uri=uri,
                username=os.environ.get("NEO4J_USERNAME", DEFAULT_USERNAME),
                password=os.environ.get("NEO4J_PASSWORD", ""),
                database=os.environ.get("NEO4J_DATABASE", DEFAULT_DATABASE),
                managed=False,
            )
        return cls.for_server(server or ServerConfig.from_env())

    @classmethod
    def for_server(cls, server: ServerConfig) -> "Neo4jSettings":
        """Settings for a managed server; the password comes from its 0600 file."""
        password = ""
        if server.password_file.exists():
            password = server.password_file.read_text().strip()
        return cls(uri=server.bolt_uri, username=DEFAULT_USERNAME, password=password,
                   database=DEFAULT_DATABASE, managed=True)


def external_server_configured() -> bool:
    """True when ``NEO4J_URI`` points at a user's own server."""
    return bool(os.environ.get("NEO4J_URI"))
