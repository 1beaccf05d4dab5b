"""Scale curve: generate → ingest → export → train → write-back of a synthetic world at growing sizes.

Each size gets its own throwaway Neo4j (data under the work dir, deleted afterwards unless
``--keep``), sized per world (``SIZING``). Every stage runs in a child process, so its Python
peak RSS is that child's ``ru_maxrss`` (os.wait4); the Neo4j server's peak RSS per stage is its
``VmHWM`` after a reset (``/proc/<pid>/clear_refs``), checked against a 0.5 s poll of ``VmRSS``.
A stage that goes over ``--mem-cap-gb`` (child RSS) or ``--time-cap-min`` is killed and reported
as the place where the pipeline breaks.

World: ``ikg synth`` defaults with 1 item per 4 users, 100 topics, 7 interactions per user and
window (3 windows, ~21 events per user), 6 follows per user, **no media** (``--no-media``: text
only, and the text is not encoded: ``IngestConfig(embed=False)``). Rendering and encoding images
and audio for 250 k items would take hours on 2 CPUs; the encoders' throughput is measured in the
same run (bench/encoders.py on 200 texts, 50 images, 200 clips) and the cost at each size is an
extrapolation, labelled as such. Ingest is ``ingest_paths`` (two passes over the files, memory
bounded by users and items); the same run measures, as a baseline, holding the parsed dataset in
memory (``read_dataset``, what ingest did before it streamed) up to ``--baseline-max-users``.
Training has a fixed budget of **1 epoch** at every size on 1 torch thread, then the rest of
``gnn.train.train_run`` (test ranking, embeddings, top-K lists). Up to ``--full-graph-max-users``
it is full-graph LightGCN (``gnn/configs/scale.yaml``, batch = interactions / 64: epoch ∝ graph);
above, mini-batch neighbour sampling (``gnn/configs/minibatch.yaml``): full-graph training's peak
grows with the whole graph (2.1 GB at 100 k users, 10.9 GB at 1 M, most of
it building the training arrays). Validation and test rank a seeded sample of 5,000 users at every
size (``eval_users``).

Baselines measured in the same run: a child that only imports the stack (Python RSS floor) and
the Neo4j server's RSS right after start (server floor).

    .venv/bin/python bench/scale.py [--sizes 10000,100000,1000000] [--workdir DIR] [--keep]
        [--train-config YAML] [--full-graph-max-users N] [--render]

Results accumulate in bench/results/scale.json (one entry per size, newest wins), so sizes can
be run separately; bench/results/scale.md and docs/img/scale.png are rebuilt from it each time.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("DGLBACKEND", "pytorch")
RESULTS_JSON = ROOT / "bench" / "results" / "scale.json"
RESULTS_MD = ROOT / "bench" / "results" / "scale.md"
PLOT = ROOT / "docs" / "img" / "scale.png"
MINIBATCH_YAML = ROOT / "gnn" / "configs" / "minibatch.yaml"
logger = logging.getLogger("bench.scale")

USERS_PER_ITEM = 4
TOPICS = 100
INTERACTIONS_PER_WINDOW = 7.0
TRAIN_EPOCHS = 1
POLL_S = 0.5
BASELINE = "read into memory (baseline)"
STAGES = ("generate", BASELINE, "neo4j start", "ingest", "export", "train", "write-back")
SCALE_YAML = ROOT / "gnn" / "configs" / "scale.yaml"
FULL_GRAPH_MAX_USERS = 1_000_000  # above: mini-batch (full-graph training peaked at 10.9 GB at 1 M: docs/scaling.md)
EVAL_USERS = 5_000  # validation/test rank this many sampled users at every size (users x items grows 100x a step)
SCORE_BATCH_USERS = 256  # users scored at once: 256 x 250 k items is ~0.25 GB a tensor at 1 M
FULL_GRAPH_STEPS = 64  # full-graph training: batch = interactions / 64 (< 64 steps an epoch: the train split)
# users → (heap, page cache) of the throwaway server; kept small at 1 M so the shared 24 GiB box has room
SIZING = {10_000: ("1g", "512m"), 100_000: ("2g", "1g"), 1_000_000: ("3g", "5g")}


# ---------------------------------------------------------------- pure helpers
def status_kb(text: str, key: str) -> int:
    """The kB value of ``key`` (e.g. VmHWM) in a /proc/<pid>/status text; ValueError if absent."""
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        if name == key:
            parts = rest.split()
            if len(parts) != 2 or parts[1] != "kB":
                raise ValueError(f"/proc status line {line!r} is not '<key>: <n> kB'")
            return int(parts[0])
    raise ValueError(f"no {key} line in /proc status")


def stat_cpu_s(text: str, ticks: int) -> float:
    """User + system CPU seconds from a /proc/<pid>/stat text (fields 14 and 15, after the comm)."""
    fields = text.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / ticks


def sizing_for(users: int) -> tuple[str, str]:
    """(heap, page cache) of the smallest SIZING entry at or above ``users`` (the largest beyond it)."""
    for limit in sorted(SIZING):
        if users <= limit:
            return SIZING[limit]
    return SIZING[max(SIZING)]


def train_config_for(users: int, args: argparse.Namespace) -> Path:
    """The training YAML of a size: ``--train-config``, else full-graph up to ``--full-graph-max-users``."""
    if args.train_config:
        return args.train_config
    return SCALE_YAML if users <= args.full_graph_max_users else MINIBATCH_YAML


def loglog_slope(xs: list[float], ys: list[float]) -> float | None:
    """Least-squares slope of log(y) on log(x) (1.0 = linear growth); None with fewer than 2 points."""
    import math

    pts = [(math.log(x), math.log(y)) for x, y in zip(xs, ys) if x > 0 and y > 0]
    if len(pts) < 2:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    den = sum((p[0] - mx) ** 2 for p in pts)
    return None if den == 0 else sum((p[0] - mx) * (p[1] - my) for p in pts) / den


def fmt_num(v: float | None, digits: int = 0) -> str:
    """Thousands-separated number, '–' for None."""
    return "–" if v is None else f"{v:,.{digits}f}"


def stage_table(results: list[dict]) -> str:
    """Markdown table stage × size from result entries (``users``, ``stages``: name → dict)."""
    results = sorted(results, key=lambda r: (r["users"], r.get("label", "")))
    head = "| stage | " + " | ".join(r.get("label") or f"{r['users']:,} users" for r in results) + " |"
    sep = "|---|" + "---:|" * len(results)
    lines = [head, sep]
    for stage in STAGES:
        cells = []
        for r in results:
            s = r["stages"].get(stage)
            if s is None:
                cells.append("not run" if stage == BASELINE else "not reached")
                continue
            cell = f"{s['seconds']:,.1f} s"
            if s.get("rows"):
                cell += f", {fmt_num(s['rows'] / s['seconds'] if s['seconds'] else None)} {s['unit']}/s"
            cell += f"; Py {fmt_num(s.get('py_peak_mb'))} MB; Neo4j {fmt_num(s.get('neo4j_peak_mb'))} MB"
            if s.get("py_cpu_s") is not None:
                cell += f"; CPU Py {s['py_cpu_s']:,.0f} s + Neo4j {fmt_num(s.get('neo4j_cpu_s'))} s"
            if s.get("error"):
                cell += f"; **{s['error']}**"
            cells.append(cell)
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------- /proc sampling (I/O)
def read_status_kb(pid: int, key: str) -> int | None:
    try:
        return status_kb(Path(f"/proc/{pid}/status").read_text(), key)
    except (OSError, ValueError):
        return None


def cpu_s(pid: int | None) -> float | None:
    try:
        return stat_cpu_s(Path(f"/proc/{pid}/stat").read_text(), os.sysconf("SC_CLK_TCK")) if pid else None
    except (OSError, IndexError, ValueError):
        return None


def reset_hwm(pid: int) -> bool:
    """Reset the peak RSS (VmHWM) of our own process ``pid``; False if the kernel refuses."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


STOP = threading.Event()  # SIGTERM: kill the running stage, record it as stopped, stop the server
RUNNING: dict[str, int] = {}


def _on_sigterm(signum, frame) -> None:
    STOP.set()
    if "child" in RUNNING:
        os.kill(RUNNING["child"], signal.SIGKILL)


@dataclass
class Monitor:
    """Polls VmRSS of a child and of the Neo4j JVM; kills the child past the memory cap."""

    child: int
    neo4j: int | None
    cap_kb: int
    peak_child_kb: int = 0
    peak_neo4j_kb: int = 0
    killed: str = ""
    timeline: list[tuple[int, int, int]] = field(default_factory=list)  # (s, child MB, Neo4j MB) every 30 s
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> "Monitor":
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        started = time.monotonic()
        while not self._stop.wait(POLL_S):
            rss = read_status_kb(self.child, "VmRSS") or 0
            server = read_status_kb(self.neo4j, "VmRSS") or 0 if self.neo4j else 0
            self.peak_child_kb = max(self.peak_child_kb, rss)
            self.peak_neo4j_kb = max(self.peak_neo4j_kb, server)
            elapsed = int(time.monotonic() - started)
            if not self.timeline or elapsed - self.timeline[-1][0] >= 30:
                self.timeline.append((elapsed, rss // 1024, server // 1024))
            if rss > self.cap_kb and not self.killed:
                self.killed = f"killed: child RSS {rss / 1024:,.0f} MB over the {self.cap_kb / 1024 ** 2:.0f} GiB cap"
                os.kill(self.child, signal.SIGKILL)

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()


# ---------------------------------------------------------------- children (one stage each)
def _graph(spec: dict):
    from graph.db import Graph
    from graph.settings import Neo4jSettings

    return Graph.connect(Neo4jSettings(uri=spec["uri"], password=spec["password"], managed=False))


def _child(spec: dict) -> dict:
    kind = spec["kind"]
    if kind == "imports":
        import dgl  # noqa: F401
        import torch  # noqa: F401

        import gnn.train  # noqa: F401
        import graph.export  # noqa: F401
        import ingestion.pipeline  # noqa: F401
        return {}
    if kind == "generate":
        from ingestion.synth.generate import GenerateOptions, generate
        from ingestion.synth.world import WorldConfig

        users = spec["users"]
        cfg = WorldConfig(n_users=users, n_content=users // USERS_PER_ITEM, n_topics=TOPICS,
                          interactions_per_window=INTERACTIONS_PER_WINDOW, seed=0)
        stats = generate(cfg, Path(spec["world"]), GenerateOptions(media=False, progress=False))
        return {"rows": sum(stats["rows"].values()), "unit": "rows", "detail": stats["rows"]}
    if kind == "ingest":
        from graph import schema
        from ingestion.pipeline import IngestConfig, ingest_paths

        cfg = IngestConfig(embed=False, progress=False)
        with _graph(spec) as g:
            schema.apply(g)
            summary = ingest_paths(g, [Path(spec["world"])], cfg)
        stages = {st.name: {"written": st.written, "seconds": round(st.seconds, 2)}
                  for st in summary.stages if st.written or st.seconds}
        return {"rows": sum(v["written"] for v in stages.values()), "unit": "rows", "detail": stages}
    if kind == "read":  # baseline: the dataset parsed and validated into memory (as ingest did before streaming)
        from graph.model import vector_property
        from ingestion.quarantine import ErrorPolicy
        from ingestion.readers import read_dataset
        from ingestion.records import MODALITIES

        dims = {m: vector_property("Content", f"emb_{m}").dim for m in MODALITIES}
        ds = read_dataset([Path(spec["world"])], ErrorPolicy(), dims)
        return {"rows": sum(ds.rows_read.values()), "unit": "rows", "detail": ds.rows_read}
    if kind == "export":
        from graph.export import ExportConfig, export_to

        with _graph(spec) as g:
            snap = export_to(g, ExportConfig(), Path(spec["snapshot"]))
        counts = snap.manifest["counts"]
        return {"rows": sum(counts["edges"].values()), "unit": "edges",
                "detail": {"counts": counts, "timings": snap.manifest["timings"]}}
    if kind == "train":
        from gnn.config import TrainConfig
        from gnn.train import train_run

        path = Path(spec.get("train_config", MINIBATCH_YAML))
        cfg = TrainConfig.from_yaml(path, epochs=TRAIN_EPOCHS, device="cpu", num_threads=1,
                                    eval_users=EVAL_USERS, score_batch_users=SCORE_BATCH_USERS)
        if not cfg.minibatch:  # a full-graph step costs the whole graph: a fixed number of steps per epoch
            manifest = json.loads((Path(spec["snapshot"]) / "manifest.json").read_text())
            pairs = manifest["counts"]["edges"].get("User__INTERACTED__Content", 0)
            cfg = replace(cfg, batch_size=-(-pairs // FULL_GRAPH_STEPS))
        run_dir = train_run(Path(spec["snapshot"]), cfg, Path(spec["runs"]), progress=False)
        run = json.loads((run_dir / "run.json").read_text())
        pairs = run["metrics"]["counts"]["train"]
        return {"rows": pairs, "unit": "train pairs", "run_dir": str(run_dir),
                "detail": {"config": path.name, "mode": "mini-batch" if cfg.minibatch else "full-graph",
                           "batch_size": cfg.batch_size, "eval_users": cfg.eval_users,
                           "timings": run["timings"], "test": run["metrics"].get("test", {}),
                           "counts": run["metrics"]["counts"]}}
    if kind == "writeback":
        from graph.writeback import writeback

        with _graph(spec) as g:
            result = writeback(g, Path(spec["run_dir"]))
        return {"rows": result.relationships, "unit": "rels",
                "detail": {"interests": result.interests, "recommendations": result.recommendations}}
    if kind == "encoders":
        from encoders import encoder_table

        return {"lines": encoder_table(image_n=spec["image_n"], n=spec["n"])}
    raise ValueError(f"unknown child kind {kind!r}")


def run_child(spec: dict, neo4j_pid: int | None, cap_gb: float, cap_min: float) -> dict:
    """Run one stage in a child; wall seconds, peak RSS of child and server, or the error that stopped it."""
    if neo4j_pid:
        reset_hwm(neo4j_pid)
    server_cpu = cpu_s(neo4j_pid)
    out = tempfile.NamedTemporaryFile(prefix="ikg-scale-", suffix=".json", delete=False)
    out.close()
    started = time.perf_counter()
    spec = {**spec, "out": out.name}
    proc = subprocess.Popen([sys.executable, __file__, "--child", json.dumps(spec), "--child-out", out.name],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    RUNNING["child"] = proc.pid
    mon = Monitor(proc.pid, neo4j_pid, int(cap_gb * 1024 ** 2)).start()
    timer = threading.Timer(cap_min * 60, lambda: proc.poll() is None and proc.kill())
    timer.start()
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    RUNNING.pop("child", None)
    proc.returncode = os.waitstatus_to_exitcode(status)
    timer.cancel()
    seconds = time.perf_counter() - started
    mon.stop()
    hwm = read_status_kb(neo4j_pid, "VmHWM") if neo4j_pid else None
    result = {"seconds": round(seconds, 2), "py_peak_mb": round(max(usage.ru_maxrss, mon.peak_child_kb) / 1024),
              "neo4j_peak_mb": round(max(hwm or 0, mon.peak_neo4j_kb) / 1024) if neo4j_pid else None,
              "py_cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
              "neo4j_cpu_s": None}
    server_after = cpu_s(neo4j_pid)
    if server_cpu is not None and server_after is not None:
        result["neo4j_cpu_s"] = round(server_after - server_cpu, 1)
    body = Path(out.name).read_text()
    Path(out.name).unlink()
    if seconds > 60:
        result["timeline"] = mon.timeline
    if proc.returncode == 0 and body:
        result.update(json.loads(body))
    else:
        if body:
            result["partial"] = json.loads(body)
        result["error"] = _failure(mon, seconds, cap_min, proc.returncode, stderr)
    logger.info("%s: %.1f s, py %s MB, neo4j %s MB %s", spec["kind"], seconds, result["py_peak_mb"],
                result["neo4j_peak_mb"], result.get("error", ""))
    return result


def _failure(mon: Monitor, seconds: float, cap_min: float, code: int, stderr: str) -> str:
    if mon.killed:
        return mon.killed
    if STOP.is_set():
        return f"stopped by hand (SIGTERM) at {time.strftime('%H:%M', time.gmtime())} UTC after {seconds:,.0f} s"
    if seconds >= cap_min * 60:
        return f"stopped at the {cap_min:.0f} min time cap"
    tail = stderr.strip().splitlines()[-1] if stderr.strip() else f"exit code {code}"
    logger.error("stage failed:\n%s", stderr[-3000:])
    return f"failed: {tail[:300]}"


def _du_mb(path: Path) -> float:
    return sum(p.stat().st_blocks * 512 for p in path.rglob("*") if p.is_file()) / 1e6  # allocated, like du


# ---------------------------------------------------------------- one size
def run_size(users: int, work: Path, args: argparse.Namespace, save: Callable[[dict], None]) -> dict:
    from graph import server
    from graph.settings import Neo4jSettings

    heap, pagecache = sizing_for(users)
    base = work / f"u{users}"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    spec = {"users": users, "world": str(base / "world"), "snapshot": str(base / "snapshot"),
            "runs": str(base / "runs")}
    entry = {"users": users, "content": users // USERS_PER_ITEM, "heap": heap, "pagecache": pagecache,
             "load_before": os.getloadavg(), "stages": {}, "caps": [args.mem_cap_gb, args.time_cap_min]}
    spec["train_config"] = str(train_config_for(users, args))
    entry["train_config"] = Path(spec["train_config"]).name
    stages = entry["stages"]
    cap = (args.mem_cap_gb, args.time_cap_min)
    try:
        stages["generate"] = run_child({**spec, "kind": "generate"}, None, *cap)
        save(entry)
        if "error" in stages["generate"]:
            return entry
        if users <= args.baseline_max_users and not STOP.is_set():
            stages[BASELINE] = run_child({**spec, "kind": "read"}, None, *cap)
            save(entry)
        started = time.perf_counter()
        with server.throwaway(base / "neo4j", heap=heap, pagecache=pagecache) as cfg:
            pid = server.status(cfg).pid
            idle = read_status_kb(pid, "VmRSS") or 0
            stages["neo4j start"] = {"seconds": round(time.perf_counter() - started, 2), "py_peak_mb": None,
                                     "neo4j_peak_mb": round(idle / 1024)}
            spec.update(uri=cfg.bolt_uri, password=Neo4jSettings.for_server(cfg).password)
            for stage, kind in (("ingest", "ingest"), ("export", "export"), ("train", "train"),
                                ("write-back", "writeback")):
                res = run_child({**spec, "kind": kind}, pid, *cap)
                stages[stage] = res
                save(entry)
                if "error" in res or STOP.is_set():
                    break
                spec.update({k: res[k] for k in ("run_dir",) if k in res})
        # measured after the server stopped: the store files are complete only after its final checkpoint
        entry["store_mb"] = round(_du_mb(base / "neo4j" / "data" / "databases"))
        entry["txlog_mb"] = round(_du_mb(base / "neo4j" / "data" / "transactions"))
    finally:
        entry["load_after"] = os.getloadavg()
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    return entry


# ---------------------------------------------------------------- report
def _plot(results: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = sorted(results, key=lambda r: (r["users"], r.get("label", "")))
    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(11, 4.2))
    for stage in STAGES:
        pts = [(r["users"], r["stages"][stage]["seconds"]) for r in results
               if stage in r["stages"] and "error" not in r["stages"][stage]]
        if pts:
            ax_t.plot(*zip(*pts), marker="o", label=stage)
    for key, label in (("py_peak_mb", "Python peak (max over completed pipeline stages)"),
                       ("neo4j_peak_mb", "Neo4j peak")):
        pts = [(r["users"], max((s.get(key) or 0 for n, s in r["stages"].items() if "error" not in s and n != BASELINE),
                                default=0))
               for r in results if "error" not in r["stages"].get("ingest", {"error": "not reached"})]
        ax_m.plot(*zip(*pts), marker="o", label=label + " (sizes whose ingest completed)")
    for stage, style in (("ingest", "s-"), (BASELINE, "x--")):
        pts = [(r["users"], r["stages"][stage]["py_peak_mb"]) for r in results
               if stage in r["stages"] and "error" not in r["stages"][stage]]
        if pts:
            ax_m.plot(*zip(*pts), style, label=f"Python peak: {stage}")
    killed = [(r["users"], s["py_peak_mb"]) for r in results for s in r["stages"].values()
              if "killed" in s.get("error", "")]
    if killed:
        ax_m.plot(*zip(*killed), "rx", markersize=10, label="Python RSS when a stage was killed at its cap")
    for ax, ylabel in ((ax_t, "seconds"), (ax_m, "peak RSS, MB")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("users (items = users / 4, ~21 events per user)")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    ax_m.legend(fontsize=7, loc="lower right")
    ax_t.set_title("Wall time per stage (completed stages)")
    ax_m.set_title("Peak memory")
    fig.tight_layout()
    PLOT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(PLOT, dpi=110)
    plt.close(fig)


def _load(la) -> str:
    return "/".join(f"{x:.1f}" for x in la)


def render(data: dict) -> str:
    results = sorted(data["sizes"].values(), key=lambda r: (r["users"], r.get("label", "")))
    rows = [f"| {r.get('label') or format(r['users'], ',')} | {r['content']:,} | "
            f"{fmt_num(r['stages'].get('generate', {}).get('detail', {}).get('interactions'))} | "
            f"{r['heap']} / {r['pagecache']} | {r['caps'][0]:g} GiB, {r['caps'][1]:g} min | "
            f"{fmt_num(r.get('store_mb'))} / {fmt_num(r.get('txlog_mb'))} | "
            f"{_load(r['load_before'])} → "
            f"{_load(r['load_after']) if 'load_after' in r else '– (not recorded: running, or the run aborted)'} | "
            f"{r.get('train_config', MINIBATCH_YAML.name)} | {r.get('date', '')} |"
            for r in results]
    sizes = "\n".join(["| users | items | interactions | Neo4j heap / page cache | caps (child RSS, time per stage) | "
                       "store / tx log MB at the end | load avg before → after | training config | run (UTC) |",
                       "|---:|---:|---:|---|---|---:|---|---|---|", *rows])
    details = []
    for r in results:
        for stage in (BASELINE, "ingest", "export", "train", "write-back"):
            s = r["stages"].get(stage)
            if s and s.get("detail"):
                details.append(f"- {r['users']:,} users, {stage}: `{json.dumps(s['detail'], sort_keys=True)}`")
            if s and s.get("timeline"):
                details.append(f"- {r['users']:,} users, {stage}, RSS timeline (s, Python MB, Neo4j MB): "
                               f"`{json.dumps(s['timeline'])}`")
    slopes = []
    for stage in STAGES:
        pts = [(r["users"], r["stages"][stage]["seconds"]) for r in results
               if stage in r["stages"] and "error" not in r["stages"][stage]]
        slope = loglog_slope([p[0] for p in pts], [p[1] for p in pts])
        if slope is not None:
            slopes.append(f"{stage} {slope:.2f}")
    base = data.get("baseline", {})
    enc = data.get("encoders", [])
    return "\n".join([
        "# Scale curve (`bench/scale.py`)", "",
        "Command: `.venv/bin/python bench/scale.py --sizes 10000,100000,1000000` (sizes can be run separately; "
        f"entries accumulate in bench/results/scale.json; each size's own command is listed below it). Machine: {platform.machine()}, {os.cpu_count()} CPUs, "
        f"{data['mem_gb']:.0f} GiB RAM, Python {platform.python_version()}; shared with other engineers' jobs, "
        "so wall seconds move with the load average listed per size.", "",
        "**World:** `ikg synth`, **no media** (text not encoded either: `IngestConfig(embed=False)`), "
        f"items = users / {USERS_PER_ITEM}, {TOPICS} topics, {INTERACTIONS_PER_WINDOW:g} interactions per user "
        "and window × 3 windows, 6 follows per user. **Ingest** is `ingest_paths`: a validation pass over the "
        "files (ids, key hashes, references), then a write pass reading them again; the row "
        f"`{BASELINE}` is the same run's baseline of holding the parsed dataset in memory (what ingest did "
        "before it streamed: `ingestion.readers.read_dataset`, no writes). **Training budget:** **"
        f"{TRAIN_EPOCHS} epoch** at every size, CPU with 1 torch thread (the box is shared), with the config "
        "named per size below: `scale.yaml` = full-graph LightGCN (no neighbour sampling, "
        "batch = interactions / 64, so ~44 steps an epoch over the training split at every size and an "
        "epoch costs ~44 whole-graph propagations), `minibatch.yaml` = "
        f"neighbour sampling (fanouts 10/5, batch 2,048); both rank a seeded sample of {EVAL_USERS:,} users "
        "in validation and test (`eval_users`), then the rest of `train_run` computes embeddings and the "
        "top-10 topics and top-50 items of every user. Each stage runs in its own child process; Python peak = the child's `ru_maxrss`, Neo4j "
        "peak = the server's `VmHWM` reset before the stage (and a 0.5 s `VmRSS` poll). "
        "A stage over its caps (per size below) is killed and marked in the table.", "",
        sizes, "",
        *[f"- {r['users']:,} users: `{r['command']}`" for r in results if r.get("command")], "",
        "## Stage × size", "",
        "Cell: wall seconds, rate (per wall second), Python peak RSS of the stage's process, Neo4j peak RSS during "
        "the stage, and CPU seconds of the stage's process and of the Neo4j server during the stage (steadier "
        "than wall time on a loaded box).", "",
        stage_table(results), "",
        f"Baselines (same run): a child that only imports torch, dgl and our packages peaks at "
        f"{fmt_num(base.get('py_peak_mb'))} MB (Python floor); the Neo4j row `neo4j start` is the "
        "server's RSS right after start (server floor).", "",
        "Growth exponents (log-log slope of seconds over users, completed sizes; 1.00 = linear): "
        + (", ".join(slopes) or "–") + ".", "",
        "## Encoders (not part of the pipeline runs above)", "",
        "Measured with `bench/encoders.py` (MovieLens texts, scikit-image photos, synthesised clips) by the last run "
        "without `--no-encoders` (the earlier curve, at load 14–23). "
        "The encoding time at each size is an **extrapolation** (items / measured items/s), not a measurement:", "",
        *[ln for ln in enc if not ln.startswith("#")], "",
        "## Stage details", "", *details, ""])


def _encoder_extrapolation(lines: list[str], sizes: list[int]) -> list[str]:
    """Append 'extrapolated hours per size' rows to the encoder table lines."""
    rates = {}
    for line in lines:
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) >= 7 and cells[0] in ("text", "image", "audio"):
            rates[cells[0]] = float(cells[6].replace(",", ""))
    out = list(lines) + ["", "| users | items | " + " | ".join(f"{m} hours (extrapolated)" for m in rates) + " |",
                         "|---:|---:|" + "---:|" * len(rates)]
    for users in sizes:
        items = users // USERS_PER_ITEM
        out.append(f"| {users:,} | {items:,} | " + " | ".join(f"{items / r / 3600:.2f}" for r in rates.values()) + " |")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated user counts")
    parser.add_argument("--workdir", type=Path, help="parent of the per-size work dirs (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep worlds, Neo4j homes, snapshots and runs")
    parser.add_argument("--mem-cap-gb", type=float, default=10.0, help="kill a stage whose process passes this RSS")
    parser.add_argument("--time-cap-min", type=float, default=45.0, help="kill a stage running longer than this")
    parser.add_argument("--train-config", type=Path, help="training YAML for every size (default: "
                        "gnn/configs/scale.yaml up to --full-graph-max-users, minibatch.yaml above)")
    parser.add_argument("--full-graph-max-users", type=int, default=FULL_GRAPH_MAX_USERS,
                        help="largest size trained full-graph when --train-config is not given")
    parser.add_argument("--baseline-max-users", type=int, default=100_000,
                        help="largest size at which the in-memory read baseline runs")
    parser.add_argument("--render", action="store_true", help="only rebuild scale.md and scale.png from scale.json")
    parser.add_argument("--no-encoders", action="store_true", help="skip the encoder throughput probe")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        logging.basicConfig(level=logging.WARNING)
        sys.path.insert(0, str(ROOT / "bench"))
        Path(args.child_out).write_text(json.dumps(_child(json.loads(args.child))))
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    sizes = [int(s) for s in args.sizes.split(",")]
    data = json.loads(RESULTS_JSON.read_text()) if RESULTS_JSON.exists() else {"sizes": {}}
    if args.render:
        RESULTS_MD.write_text(render(data))
        _plot(list(data["sizes"].values()))
        return 0
    data.update(sizes_arg=args.sizes, mem_cap_gb=args.mem_cap_gb, time_cap_min=args.time_cap_min,
                mem_gb=os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024 ** 3)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="ikg-bench-scale-"))
    try:
        data["baseline"] = run_child({"kind": "imports"}, None, args.mem_cap_gb, args.time_cap_min)
        if not args.no_encoders:
            enc = run_child({"kind": "encoders", "n": 200, "image_n": 50}, None, args.mem_cap_gb, args.time_cap_min)
            data["encoders"] = _encoder_extrapolation(enc.get("lines", [enc.get("error", "")]),
                                                      [10_000, 100_000, 1_000_000])
        signal.signal(signal.SIGTERM, _on_sigterm)
        for users in sizes:
            if STOP.is_set():
                break
            logger.info("size %d users (heap/page cache %s)", users, sizing_for(users))

            def save(entry: dict, users: int = users) -> None:
                entry["date"] = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
                entry["command"] = " ".join(["bench/scale.py", *sys.argv[1:]])
                data["sizes"][str(users)] = entry
                RESULTS_JSON.write_text(json.dumps(data, indent=1, default=list))
                RESULTS_MD.write_text(render(data))

            save(run_size(users, work, args, save))
            _plot(list(data["sizes"].values()))
    finally:
        if args.workdir is None and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    sys.stdout.write(render(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
