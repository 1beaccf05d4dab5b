"""The managed local Neo4j Community server: install jars from Maven Central, start, stop, status, logs.

Layout (``ServerConfig.root``, default ``.neo4j/``):
    dist/lib/       server + Neo4j Browser jars (from ``graph/server/pom.xml``)
    dist/plugins/   APOC + open-source GDS (from ``graph/server/plugins-pom.xml``)
    home/           conf/neo4j.conf, data/, logs/, run/neo4j.pid, password (0600)
Several homes can share one ``dist`` (the test suite starts a throwaway home on free ports).
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from graph import browser
from graph.errors import ServerError
from graph.settings import Neo4jSettings, ServerConfig, external_server_configured

logger = logging.getLogger(__name__)

POM_DIR = Path(__file__).resolve().parent / "server"
SERVER_POM = POM_DIR / "pom.xml"
PLUGINS_POM = POM_DIR / "plugins-pom.xml"
ENTRY_POINT = "org.neo4j.server.CommunityEntryPoint"
ADMIN_TOOL = "org.neo4j.cli.AdminTool"
MIN_JAVA = 17
START_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 60.0
LOG_TAIL_LINES = 40
JVM_FLAGS = (
    "-XX:+UseG1GC",
    "-XX:+ExitOnOutOfMemoryError",
    "-Dfile.encoding=UTF-8",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.misc=ALL-UNNAMED",
    "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED",
    "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-exports=jdk.unsupported/sun.misc=ALL-UNNAMED",
)


@dataclass(frozen=True)
class ServerStatus:
    """What ``ikg server status`` reports."""

    running: bool
    pid: int | None
    bolt_uri: str
    browser_url: str
    home: Path


# ---------------------------------------------------------------- prerequisites
def java_major_version(java: str = "java") -> int:
    """Major version of the ``java`` on PATH; ServerError if it is missing."""
    exe = shutil.which(java)
    if exe is None:
        raise ServerError(f"Java {MIN_JAVA}+ is required to run Neo4j but `java` is not on PATH. "
                          "Install a JDK (Debian: apt-get install openjdk-17-jre-headless).")
    out = subprocess.run([exe, "-version"], capture_output=True, text=True, check=False)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        raise ServerError(f"could not read the Java version from `{exe} -version`: {out.stderr.strip()!r}")
    major = int(match.group(1))
    return int(match.group(2)) if major == 1 and match.group(2) else major


def check_java() -> None:
    major = java_major_version()
    if major < MIN_JAVA:
        raise ServerError(f"Neo4j 5.26 needs Java {MIN_JAVA}+, found Java {major}. Install JDK 17 or newer.")


def _require_maven() -> str:
    exe = shutil.which("mvn")
    if exe is None:
        raise ServerError("Maven (`mvn`) is required to download the Neo4j jars from Maven Central "
                          "but is not on PATH. Install it (Debian: apt-get install maven).")
    return exe


# ---------------------------------------------------------------- install
def _poms_digest() -> str:
    digest = hashlib.sha256()
    for pom in (SERVER_POM, PLUGINS_POM):
        digest.update(pom.read_bytes())
    return digest.hexdigest()[:16]


def is_installed(cfg: ServerConfig) -> bool:
    stamp = cfg.dist / "installed"
    return stamp.exists() and stamp.read_text().strip() == _poms_digest()


def _resolve(mvn: str, pom: Path, dest: Path) -> dict[tuple[str, str], Path]:
    """Copy a pom's runtime dependencies in repository layout; map (groupId, artifactId) -> jar."""
    cmd = [mvn, "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
           "-DincludeScope=runtime", "-Dmdep.useRepositoryLayout=true", f"-DoutputDirectory={dest}"]
    logger.info("resolving %s from Maven Central", pom.name)
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-LOG_TAIL_LINES:])
        raise ServerError(f"mvn failed for {pom} (exit {proc.returncode}):\n{tail}")
    jars: dict[tuple[str, str], Path] = {}
    for jar in dest.rglob("*.jar"):
        rel = jar.relative_to(dest).parts  # group/parts/.../artifact/version/file.jar
        group, artifact = ".".join(rel[:-3]), rel[-3]
        jars[(group, artifact)] = jar
    return jars


def _flatten(jars: dict[tuple[str, str], Path], target: Path) -> None:
    target.mkdir(parents=True)
    for (group, _artifact), jar in sorted(jars.items()):
        name = jar.name if not (target / jar.name).exists() else f"{group}.{jar.name}"
        shutil.move(str(jar), target / name)


def install(cfg: ServerConfig, force: bool = False) -> bool:
    """Download server, Browser and plugin jars into ``cfg.dist``; False if already there."""
    if is_installed(cfg) and not force:
        return False
    check_java()
    mvn = _require_maven()
    cfg.root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cfg.root) as tmp:
        lib = _resolve(mvn, SERVER_POM, Path(tmp) / "lib")
        plugins = _resolve(mvn, PLUGINS_POM, Path(tmp) / "plugins")
        # Jars the server already ships must not appear twice on the classpath.
        dropped = sorted(f"{g}:{a}" for (g, a) in plugins if (g, a) in lib)
        plugins = {key: jar for key, jar in plugins.items() if key not in lib}
        logger.info("server %d jars, plugins %d jars (dropped %d shared: %s)",
                    len(lib), len(plugins), len(dropped), ", ".join(dropped))
        staging = Path(tmp) / "dist"
        _flatten(lib, staging / "lib")
        _flatten(plugins, staging / "plugins")
        (staging / "installed").write_text(_poms_digest() + "\n")
        if cfg.dist.exists():
            shutil.rmtree(cfg.dist)
        shutil.move(str(staging), cfg.dist)
    return True


# ---------------------------------------------------------------- configuration
def render_conf(cfg: ServerConfig) -> str:
    """The neo4j.conf for a home: loopback only, auth on, sized by the config."""
    lines = [
        "# Generated by `ikg server start`; edits are overwritten. Configure via IKG_NEO4J_* instead.",
        "server.default_listen_address=127.0.0.1",
        "server.default_advertised_address=127.0.0.1",
        f"server.bolt.listen_address=127.0.0.1:{cfg.bolt_port}",
        f"server.bolt.advertised_address=127.0.0.1:{cfg.bolt_port}",
        f"server.http.listen_address=127.0.0.1:{cfg.http_port}",
        f"server.http.advertised_address=127.0.0.1:{cfg.http_port}",
        "server.https.enabled=false",
        "dbms.security.auth_enabled=true",
        f"server.memory.heap.initial_size={cfg.heap}",
        f"server.memory.heap.max_size={cfg.heap}",
        f"server.memory.pagecache.size={cfg.pagecache}",
        "dbms.usage_report.enabled=false",
        f"server.directories.plugins={_plugins_dir(cfg)}",
        "dbms.security.procedures.unrestricted=apoc.*,gds.*",
        # Logs are pruned only at checkpoints: checkpoint by log volume (Community's VOLUME policy) so a
        # bulk write (ingest, write-back) keeps ~2 GB of logs instead of 15 minutes' worth (18 GB at 1 M).
        "db.tx_log.rotation.retention_policy=1G size",
        "db.checkpoint=VOLUME",
        "db.checkpoint.interval.volume=512m",
    ]
    lines += [f"{key}={value}" for key, value in browser.conf_lines(cfg) + list(cfg.extra_conf)]
    return "\n".join(lines) + "\n"


def _plugins_dir(cfg: ServerConfig) -> Path:
    """Procedures are discovered only in the plugins directory; an empty one disables them."""
    return cfg.dist / "plugins" if cfg.plugins else cfg.home / "plugins"


def _classpath(cfg: ServerConfig) -> str:
    parts = [str(cfg.dist / "lib" / "*")]
    if cfg.plugins:
        parts.insert(0, str(cfg.dist / "plugins" / "*"))
    return os.pathsep.join(parts)


def _java_env(cfg: ServerConfig) -> dict[str, str]:
    return {**os.environ, "NEO4J_HOME": str(cfg.home), "NEO4J_CONF": str(cfg.home / "conf")}


def _write_conf(cfg: ServerConfig) -> None:
    for sub in ("conf", "data", "logs", "run"):
        (cfg.home / sub).mkdir(parents=True, exist_ok=True)
    _plugins_dir(cfg).mkdir(exist_ok=True)
    (cfg.home / "conf" / "neo4j.conf").write_text(render_conf(cfg))


def _ensure_password(cfg: ServerConfig) -> None:
    """Generate and set the initial password once, before the first start (never neo4j/neo4j)."""
    auth_done = (cfg.home / "data" / "dbms" / "auth.ini").exists()
    if auth_done and cfg.password_file.exists():
        return
    if auth_done:
        raise ServerError(f"{cfg.home} has a database whose password file {cfg.password_file} is missing; "
                          "restore it or remove the home directory to start over")
    password = secrets.token_hex(24)  # hex: never starts with "-", which neo4j-admin would parse as an option
    proc = subprocess.run(
        ["java", "-cp", str(cfg.dist / "lib" / "*"), ADMIN_TOOL, "dbms", "set-initial-password", password],
        capture_output=True, text=True, env=_java_env(cfg), check=False)
    if proc.returncode != 0:
        raise ServerError(f"setting the initial password failed: {(proc.stdout + proc.stderr).strip()}")
    fd = os.open(cfg.password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(password + "\n")
    os.chmod(cfg.password_file, 0o600)


# ---------------------------------------------------------------- process control
def _pid_file(cfg: ServerConfig) -> Path:
    return cfg.home / "run" / "neo4j.pid"


def _our_pid(cfg: ServerConfig) -> int | None:
    """The server's pid if its pid file names a live Neo4j process of this home."""
    try:
        pid = int(_pid_file(cfg).read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None
    if ENTRY_POINT in cmdline and f"--home-dir={cfg.home}" in cmdline:
        return pid
    return None


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def free_port() -> int:
    """A free loopback TCP port (for throwaway servers)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def log_tail(cfg: ServerConfig, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines of the console log and, if present, the debug log."""
    out = []
    for name in ("console.log", "debug.log"):
        path = cfg.home / "logs" / name
        if path.exists():
            text = path.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {path} (last {len(text)} lines)\n" + "\n".join(text))
    return "\n".join(out) or f"(no logs under {cfg.home / 'logs'})"


def _wait_for_bolt(cfg: ServerConfig, proc: subprocess.Popen, timeout: float) -> None:
    from neo4j import GraphDatabase
    from neo4j.exceptions import AuthError, ServiceUnavailable

    settings = Neo4jSettings.for_server(cfg)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerError(f"Neo4j exited with code {proc.returncode} during start-up.\n{log_tail(cfg)}")
        try:
            # bolt:// (direct) rather than neo4j:// so no routing table is fetched while starting
            with GraphDatabase.driver(f"bolt://127.0.0.1:{cfg.bolt_port}",
                                      auth=(settings.username, settings.password)) as drv:
                drv.verify_connectivity()
            return
        except AuthError as e:
            raise ServerError(f"Neo4j rejected the password in {cfg.password_file}: {e}") from e
        except (ServiceUnavailable, OSError):
            time.sleep(0.5)
    raise ServerError(f"Neo4j did not answer on {cfg.bolt_uri} within {timeout:.0f} s.\n{log_tail(cfg)}")


def _refuse_if_external() -> None:
    if external_server_configured():
        raise ServerError("NEO4J_URI is set, so ikg uses that server and never manages a local one; "
                          "unset NEO4J_URI to use the managed server")


def start(cfg: ServerConfig, timeout: float = START_TIMEOUT_S) -> ServerStatus:
    """Start the server (idempotent) and wait until Bolt answers."""
    _refuse_if_external()
    if _our_pid(cfg) is not None:
        logger.info("Neo4j already running (pid %s)", _our_pid(cfg))
        _start_browser_assets(cfg)
        return status(cfg)
    check_java()
    if not is_installed(cfg):
        install(cfg)
    for name, port in (("bolt", cfg.bolt_port), ("http", cfg.http_port)):
        if port_in_use(port):
            raise ServerError(f"{name} port {port} on 127.0.0.1 is already in use by another process; "
                              f"stop it or choose another port with IKG_NEO4J_{name.upper()}_PORT")
    _write_conf(cfg)
    _ensure_password(cfg)
    cmd = ["java", f"-Xms{cfg.heap}", f"-Xmx{cfg.heap}", *JVM_FLAGS, "-cp", _classpath(cfg), ENTRY_POINT,
           f"--home-dir={cfg.home}", f"--config-dir={cfg.home / 'conf'}"]
    console = open(cfg.home / "logs" / "console.log", "ab")  # noqa: SIM115 - handed to the child
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=console, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env=_java_env(cfg), cwd=cfg.home, start_new_session=True)
    console.close()
    _pid_file(cfg).write_text(f"{proc.pid}\n")
    try:
        _wait_for_bolt(cfg, proc, timeout)
    except ServerError:
        if proc.poll() is None:
            _terminate(proc.pid)
        _pid_file(cfg).unlink(missing_ok=True)
        raise
    logger.info("Neo4j started in %.1f s (pid %d)", time.monotonic() - started, proc.pid)
    _start_browser_assets(cfg)
    return status(cfg)


def _start_browser_assets(cfg: ServerConfig) -> None:
    """Serve Browser's style and guide beside Neo4j (graph.browser); Neo4j works without them."""
    from graph import browser_assets

    try:
        browser_assets.start(cfg)
    except OSError as e:
        logger.warning("Neo4j Browser style and guide are not served: %s", e)


def _terminate(pid: int, timeout: float = STOP_TIMEOUT_S) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                return
        except ChildProcessError:  # not our child: poll for existence instead
            pass
        if not Path(f"/proc/{pid}").exists() or _is_zombie(pid):
            return
        time.sleep(0.2)
    logger.warning("Neo4j (pid %d) ignored SIGTERM for %.0f s; killing it", pid, timeout)
    os.kill(pid, signal.SIGKILL)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except (FileNotFoundError, IndexError):
        return True


def stop(cfg: ServerConfig) -> bool:
    """Stop the server (idempotent); False if it was not running."""
    _refuse_if_external()
    from graph import browser_assets

    browser_assets.stop(cfg)
    pid = _our_pid(cfg)
    if pid is None:
        _pid_file(cfg).unlink(missing_ok=True)
        return False
    started = time.monotonic()
    _terminate(pid)
    _pid_file(cfg).unlink(missing_ok=True)
    logger.info("Neo4j stopped in %.1f s", time.monotonic() - started)
    return True


def status(cfg: ServerConfig) -> ServerStatus:
    pid = _our_pid(cfg)
    return ServerStatus(running=pid is not None, pid=pid, bolt_uri=cfg.bolt_uri,
                        browser_url=cfg.browser_url, home=cfg.home)


@contextmanager
def throwaway(home: Path, *, heap: str = "1g", pagecache: str = "256m", plugins: bool = True,
              root: Path | None = None) -> Iterator[ServerConfig]:
    """A managed server in its own home on free loopback ports, stopped on exit (tests, benchmarks)."""
    overrides = {"root": root} if root is not None else {}
    cfg = ServerConfig.from_env(home=Path(home), bolt_port=free_port(), http_port=free_port(),
                                heap=heap, pagecache=pagecache, plugins=plugins, **overrides)
    start(cfg)
    try:
        yield cfg
    finally:
        stop(cfg)
