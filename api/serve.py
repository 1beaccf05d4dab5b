"""Production serving: gunicorn with pre-forked worker processes, each building its own app and Driver.

On 2 cores worker processes beat threads sharing one Driver (SETUP-FACTS: 8 threads 0.5x, 8 processes
1.64x), so each worker is a process (gthread with one thread by default: a sync worker cannot keep
connections alive); the app (and its Driver) is created after the fork.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from gunicorn.app.base import BaseApplication

from graph.errors import ConfigError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServeConfig:
    """Where and how to serve; binds to loopback unless told otherwise."""

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = max(2, 2 * (os.cpu_count() or 1))
    threads: int = 1
    timeout_s: int = 30
    backlog: int = 2048
    access_log: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.port <= 65535:
            raise ConfigError(f"port must be in 1..65535, got {self.port}")
        if not 1 <= self.workers <= 64:
            raise ConfigError(f"workers must be in 1..64, got {self.workers}")
        if not 1 <= self.threads <= 64:
            raise ConfigError(f"threads must be in 1..64, got {self.threads}")
        if self.timeout_s < 1:
            raise ConfigError(f"timeout_s must be >= 1, got {self.timeout_s}")


class _Gunicorn(BaseApplication):
    def __init__(self, serve: ServeConfig):
        self.serve = serve
        super().__init__()

    def load_config(self) -> None:
        s = self.serve
        settings = {"bind": f"{s.host}:{s.port}", "workers": s.workers, "worker_class": "gthread",
                    "threads": s.threads,
                    "timeout": s.timeout_s, "backlog": s.backlog, "keepalive": 5,
                    "accesslog": "-" if s.access_log else None, "errorlog": "-", "loglevel": "info",
                    "proc_name": "ikg-api", "limit_request_line": 4094, "limit_request_fields": 50,
                    "control_socket_disable": True}
        for key, value in settings.items():
            self.cfg.set(key, value)

    def load(self):
        from api import create_app  # in the worker, after the fork: one Driver per process

        return create_app()


def run(serve: ServeConfig) -> None:
    """Serve until interrupted."""
    if serve.host not in ("127.0.0.1", "localhost", "::1"):
        logger.warning("binding to %s: the API is reachable from other machines", serve.host)
    _Gunicorn(serve).run()
