"""The static server for Browser's style sheet and guide, run beside the managed Neo4j.

``python -m graph.browser_assets --port P`` serves the files of ``cypher/browser/`` (GraSS,
HTML, Markdown, images; nothing else, no listings) on 127.0.0.1 with CORS headers, since
Browser fetches them from its own origin (Neo4j's HTTP port). ``start(cfg)`` / ``stop(cfg)``
manage that process with a pid file in the server home, as ``graph.server`` does for Neo4j.
"""
from __future__ import annotations

import argparse
import functools
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from graph.browser import ASSETS_DIR, ASSETS_HOST, STYLE_FILE, assets_port, assets_url
from graph.settings import PROJECT_ROOT, ServerConfig

logger = logging.getLogger(__name__)

SERVED_SUFFIXES = (".grass", ".html", ".md", ".png", ".svg", ".css")
MODULE = "graph.browser_assets"
START_TIMEOUT_S = 10.0


class AssetHandler(SimpleHTTPRequestHandler):
    """Serves only whitelisted file types (no templates) from one folder, with CORS headers for Browser."""

    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, ".grass": "text/plain; charset=utf-8",
                      ".html": "text/html; charset=utf-8", ".md": "text/markdown; charset=utf-8"}

    def end_headers(self) -> None:
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def do_OPTIONS(self) -> None:  # noqa: N802 - http.server naming
        self.send_response(204)
        self.send_header("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
        self.send_header("Access-Control-Allow-Headers",
                         self.headers.get("Access-Control-Request-Headers", "*"))
        self.end_headers()

    def send_head(self):  # type: ignore[no-untyped-def]
        path = self.path.split("?", 1)[0].split("#", 1)[0]
        if path.endswith("/") or not path.endswith(SERVED_SUFFIXES) or ".." in path or ".template." in path:
            self.send_error(404, "not an asset")
            return None
        return super().send_head()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - base signature
        logger.info("%s %s", self.address_string(), format % args)


def serve(port: int, directory: Path = ASSETS_DIR, host: str = ASSETS_HOST) -> None:
    """Serve ``directory`` on host:port until interrupted (the child process's main loop)."""
    handler = functools.partial(AssetHandler, directory=str(directory))
    with ThreadingHTTPServer((host, port), handler) as httpd:
        logger.info("serving %s on http://%s:%d", directory, host, port)
        httpd.serve_forever()


# ---------------------------------------------------------------- process control
def _pid_file(cfg: ServerConfig) -> Path:
    return cfg.home / "run" / "browser-assets.pid"


def _log_file(cfg: ServerConfig) -> Path:
    return cfg.home / "logs" / "browser-assets.log"


def running_pid(cfg: ServerConfig) -> int | None:
    """The asset server's pid if its pid file names a live asset server on our port."""
    try:
        pid = int(_pid_file(cfg).read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except (FileNotFoundError, ValueError, PermissionError):
        return None
    if MODULE in cmdline and str(assets_port(cfg)) in cmdline:
        return pid
    return None


def _answers(cfg: ServerConfig) -> bool:
    try:
        with urllib.request.urlopen(f"{assets_url(cfg)}/{STYLE_FILE}", timeout=1) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def start(cfg: ServerConfig) -> int:
    """Start the asset server for this Neo4j home (idempotent); returns its pid."""
    pid = running_pid(cfg)
    if pid is not None:
        return pid
    (cfg.home / "run").mkdir(parents=True, exist_ok=True)
    (cfg.home / "logs").mkdir(parents=True, exist_ok=True)
    with open(_log_file(cfg), "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", MODULE, "--port", str(assets_port(cfg))],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=PROJECT_ROOT, start_new_session=True)
    _pid_file(cfg).write_text(f"{proc.pid}\n")
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _pid_file(cfg).unlink(missing_ok=True)
            raise OSError(f"the Browser asset server exited with code {proc.returncode} "
                          f"(port {assets_port(cfg)} in use?); see {_log_file(cfg)}")
        if _answers(cfg):
            logger.info("Browser style and guide served at %s (pid %d)", assets_url(cfg), proc.pid)
            return proc.pid
        time.sleep(0.1)
    raise OSError(f"the Browser asset server did not answer on {assets_url(cfg)} within {START_TIMEOUT_S:.0f} s")


def stop(cfg: ServerConfig) -> bool:
    """Stop the asset server of this home; False if it was not running."""
    pid = running_pid(cfg)
    _pid_file(cfg).unlink(missing_ok=True)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    for _ in range(50):
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                break
        except ChildProcessError:
            if not Path(f"/proc/{pid}").exists():
                break
        time.sleep(0.1)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", type=Path, default=ASSETS_DIR)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    serve(args.port, args.dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
