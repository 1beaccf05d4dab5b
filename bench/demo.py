"""End-to-end time of the README's first command's job (`ikg demo`) on a throwaway home.

Runs the real CLI three times in a fresh ``IKG_HOME`` (its own Neo4j home on free ports, its own
``var/``: empty graph, empty embedding cache, no sample set built, API on a free port), never
touching the repository's managed server or ``var/``:

1. ``ikg demo --fresh`` from nothing (includes the first start of the new Neo4j home);
2. ``ikg demo`` again: every stage should be skipped (the schema and API key stages always run);
3. ``ikg demo --fresh`` once more: graph wiped, embedding cache (``var/cache``) warm.

Baseline measured in the same run: ``ikg --help`` (interpreter + CLI import). ``ikg`` is run as
``python -m cli`` from this checkout. The Neo4j jars are shared with the repository's managed
install (``IKG_NEO4J_DIR``, default ``.neo4j`` of this checkout); ``scripts/setup.sh`` (venv,
jars, Java) is not timed. Afterwards the demo's API and Neo4j are stopped and the home deleted
(``--keep`` keeps it).

    .venv/bin/python bench/demo.py [--keep] [--goal-s 180]
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "demo.md"
IKG = [sys.executable, "-m", "cli"]  # what .venv/bin/ikg runs, from this checkout
STAGE_LINE = re.compile(r"^(?P<name>\S.*?)\s+(?P<seconds>\d+\.\d)  (?P<detail>.*)$")
TOTAL_PREFIX = "total (incl. Neo4j start)"


@dataclass
class DemoRun:
    """One `ikg demo` invocation: per-stage (seconds, detail) as the CLI printed them, and wall time."""

    label: str
    wall_s: float
    total_s: float | None = None
    stages: list[tuple[str, float, str]] = field(default_factory=list)


def parse_stage_table(stdout: str) -> tuple[list[tuple[str, float, str]], float | None]:
    """(stages, total) from `ikg demo`'s closing table; ValueError if the table is missing."""
    lines = stdout.splitlines()
    try:
        start = next(i for i, ln in enumerate(lines) if ln.split()[:3] == ["stage", "seconds", "result"])
    except StopIteration:
        raise ValueError("no 'stage seconds result' header in the demo's output") from None
    stages, total = [], None
    for line in lines[start + 1:]:
        if line.startswith(TOTAL_PREFIX):
            total = float(line[len(TOTAL_PREFIX):].split()[0])
            break
        m = STAGE_LINE.match(line)
        if not m:
            raise ValueError(f"unexpected line in the demo's stage table: {line!r}")
        stages.append((m["name"], float(m["seconds"]), m["detail"]))
    if total is None:
        raise ValueError("no total line in the demo's stage table")
    return stages, total


def comparison_table(runs: list[DemoRun], goal_s: float) -> str:
    """Markdown: stage rows × run columns, then the totals and the goal check."""
    names: list[str] = []
    for run in runs:
        names += [n for n, _, _ in run.stages if n not in names]
    lines = ["| stage | " + " | ".join(r.label for r in runs) + " |", "|---|" + "---:|" * len(runs)]
    for name in names:
        cells = []
        for run in runs:
            hit = [(s, d) for n, s, d in run.stages if n == name]
            cells.append("–" if not hit else f"{hit[0][0]:.1f}" + (" (skipped)" if hit[0][1].startswith("(skipped)")
                                                                     else ""))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("| **total printed by the CLI** | " + " | ".join(
        "–" if r.total_s is None else f"**{r.total_s:.1f}**" for r in runs) + " |")
    lines.append("| wall time of the command (process start to exit) | " + " | ".join(
        f"{r.wall_s:.1f}" for r in runs) + " |")
    lines.append(f"| within the {goal_s:.0f} s goal | " + " | ".join(
        "yes" if r.wall_s <= goal_s else "**no**" for r in runs) + " |")
    return "\n".join(lines)


def _free_port() -> int:
    from graph.server import free_port

    return free_port()


def _run(cmd: list[str], env: dict[str, str], log: Path) -> tuple[float, str]:
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    with open(log, "a") as out:
        out.write(f"$ {' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}\n")
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}); see {log}:\n{proc.stderr[-2000:]}")
    return wall, proc.stdout


def _load(la) -> str:
    return "/".join(f"{x:.1f}" for x in la)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", action="store_true", help="keep the throwaway home (and leave nothing running)")
    parser.add_argument("--goal-s", type=float, default=180.0)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="ikg-bench-demo-"))
    api_port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEO4J_", "IKG_"))}
    jars = os.environ.get("IKG_NEO4J_DIR") or str(ROOT / ".neo4j")
    env.update(IKG_HOME=str(home), IKG_NEO4J_DIR=jars, IKG_NEO4J_HOME=str(home / "neo4j-home"),
               IKG_NEO4J_BOLT_PORT=str(_free_port()), IKG_NEO4J_HTTP_PORT=str(_free_port()),
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    log = home / "bench-demo.log"
    demo = [*IKG, "demo", "--api-port", str(api_port)]
    load_before = os.getloadavg()
    runs: list[DemoRun] = []
    try:
        help_s, _ = _run([*IKG, "--help"], env, log)
        for label, extra in (("1. fresh: empty graph, cold embedding cache", ["--fresh"]),
                             ("2. rerun (skip what is done)", []),
                             ("3. fresh, warm embedding cache", ["--fresh"])):
            sys.stderr.write(f"{label} ...\n")
            wall, out = _run(demo + extra, env, log)
            stages, total = parse_stage_table(out)
            runs.append(DemoRun(label, wall, total, stages))
            sys.stderr.write(f"  {wall:.1f} s\n")
            _write(runs, args.goal_s, help_s, load_before)  # after each run: a stopped bench keeps its columns
    finally:
        for cmd in ([*IKG, "demo", "--stop"], [*IKG, "server", "stop"]):
            subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, check=False)
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)
    sys.stdout.write(RESULTS.read_text())
    return 0


def _write(runs: list[DemoRun], goal_s: float, help_s: float, load_before) -> None:
    load_after = os.getloadavg()
    report = "\n".join([
        "# End-to-end demo time (`bench/demo.py`)", "",
        f"Command: `.venv/bin/python bench/demo.py`. Machine: {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. "
        f"Load average (1/5/15 min) before {_load(load_before)}, after {_load(load_after)} (shared machine). "
        "Each column is one run of the real CLI, `ikg demo --api-port P [--fresh]`, in a throwaway `IKG_HOME` "
        "(own Neo4j home on free ports, own `var/`, nothing cached at the start of run 1); the Neo4j jars "
        "are the already installed ones (`scripts/setup.sh` is not timed). Stage seconds are what the CLI "
        "prints; the total row is the CLI's own total (it includes the Neo4j start); the wall row adds "
        f"interpreter start and imports. Baseline, same run: `ikg --help` takes {help_s:.1f} s.", "",
        comparison_table(runs, goal_s), "",
        f"Goal (issue 9): the whole job in <= {goal_s:.0f} s on this 2-core machine once set up.", ""])
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report)


if __name__ == "__main__":
    sys.exit(main())
