"""The main job end to end: Neo4j → schema → ingest → export → train → evaluate → write-back →
report → API, with per-stage timings. Rerunning skips stages whose output is still valid;
``fresh=True`` wipes the graph and the demo's state first.

State lives in ``var/demo/state.json``; every skip is re-checked against the graph or the disk,
so a wiped database or a deleted run is redone, never assumed. ``Pipeline`` (the stage runner
and the shared stages) is also what ``jobs.scenarios`` builds on.
"""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from graph.db import Graph
from graph.errors import IkgError
from graph.settings import var_dir

logger = logging.getLogger(__name__)

# COUNT subqueries only: one row even on an empty graph (a grouping key over no rows returns none)
MOVIELENS_CHECK = """
RETURN COUNT { MATCH (c:Content) WHERE c.id STARTS WITH 'movie:' } AS content,
       COUNT { MATCH (c:Content) WHERE c.id STARTS WITH 'movie:' AND c.emb_text IS NOT NULL } AS embedded,
       COUNT { MATCH (:User)-[:INTERACTED]->(m:Content) WHERE m.id STARTS WITH 'movie:' } AS interactions
"""
GRAPH_COUNTS = """
RETURN COUNT { MATCH (:User) } AS users, COUNT { MATCH (:Content) } AS content, COUNT { MATCH (t:Topic) WHERE coalesce(t.source, '') <> 'discovered' } AS topics,
       COUNT { MATCH (c:Content) WHERE c.emb_text IS NOT NULL } AS embedded,
       COUNT { MATCH (:User)-[:INTERACTED]->(:Content) } AS interactions
"""
SAMPLE_CHECK = "MATCH (c:Content) WHERE c.id STARTS WITH 'sample:' RETURN count(c) AS content"
WIPE = "MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS"
MOVIELENS = "movielens-100k"
MOVIELENS_CONTENT = 1682
MOVIELENS_INTERACTIONS = 100_000
API_START_TIMEOUT_S = 60.0
SAGE_CONFIG = Path(__file__).resolve().parents[1] / "gnn" / "configs" / "sage.yaml"  # tuned lr, l2


@dataclass(frozen=True)
class DemoConfig:
    """Knobs of the demo; defaults reproduce the README's run."""

    fresh: bool = False
    model: str = "sage"                # GraphSAGE with gnn/configs/sage.yaml; "gcn": LightGCN-style defaults
    backend: str = "dgl"
    device: str = "auto"
    epochs: int | None = None
    api_port: int = 8000
    serve: bool = True
    dataset: str = MOVIELENS           # `movielens-100k`, or a dataset directory in the generic format
    sample: bool = True                # also ingest the multimodal sample set
    example_user: str = "1"            # the user the report and the printed curl show
    state_dir: Path = field(default_factory=lambda: var_dir("demo"))

    def __post_init__(self) -> None:
        if self.model not in ("sage", "gcn"):
            raise ValueError(f"model must be sage or gcn, got {self.model!r}")
        if self.backend not in ("dgl", "pyg"):
            raise ValueError(f"backend must be dgl or pyg, got {self.backend!r}")
        if not 1 <= self.api_port <= 65535:
            raise ValueError(f"api_port must be in 1..65535, got {self.api_port}")

    def train_config(self):
        """GraphSAGE with the validation-tuned lr/l2 of gnn/configs/sage.yaml, or the LightGCN-style defaults."""
        from gnn.config import TrainConfig

        overrides = {"model": self.model, "backend": self.backend, "device": self.device, "epochs": self.epochs}
        if self.model == "sage":
            return TrainConfig.from_yaml(SAGE_CONFIG, **overrides)
        return TrainConfig().with_overrides(**overrides)


@dataclass
class StageTiming:
    name: str
    seconds: float
    skipped: bool
    detail: str = ""


@dataclass
class DemoResult:
    """What the demo leaves behind, for the closing summary."""

    stages: list[StageTiming] = field(default_factory=list)
    run_id: str = ""
    report: Path | None = None
    api_url: str = ""
    api_key: str = ""
    example_user: str = ""


class _State:
    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.data: dict = json.loads(path.read_text()) if path.exists() else {}

    def get(self, key: str, default=None):
        return self.data.get(key, default)

    def set(self, **values) -> None:
        self.data.update(values)
        self.path.write_text(json.dumps(self.data, indent=2, default=str))


class Pipeline:
    """The stage runner and the stages every job shares (schema, ingest, export, train, write-back).

    Each stage returns a short detail string; ``stage`` skips one whose ``done`` check holds
    unless an upstream stage produced new data. State lives in ``state_dir/state.json``, the
    snapshot in ``var/snapshots/<name>``.
    """

    def __init__(self, g: Graph, state_dir: Path, name: str, device: str = "auto"):
        self.g, self.name, self.device = g, name, device
        self.state = _State(Path(state_dir) / "state.json")
        self.stages: list[StageTiming] = []
        self.changed = False  # an upstream stage produced new data: downstream must redo

    def stage(self, name: str, done: Callable[[], bool], run: Callable[[], str]) -> None:
        started = time.perf_counter()
        if not self.changed and done():
            self.stages.append(StageTiming(name, time.perf_counter() - started, True, "up to date"))
            logger.info("✔ %s: up to date", name)
            return
        logger.info("▶ %s", name)
        detail = run()
        self.changed = True
        seconds = time.perf_counter() - started
        self.stages.append(StageTiming(name, seconds, False, detail))
        logger.info("✔ %s (%.1f s) %s", name, seconds, detail)

    def train_config(self):
        """The TrainConfig of the train stage (subclasses override)."""
        from gnn.config import TrainConfig

        return TrainConfig().with_overrides(device=self.device)

    # ------------------------------------------------------------ stages
    def wipe(self) -> None:
        logger.info("fresh: deleting every node and relationship and the %s state", self.name)
        with self.g.driver.session(database=self.g.database) as session:
            session.run(WIPE).consume()
        self.state.data.clear()
        self.state.set()

    def schema(self) -> str:
        from graph import schema

        counts = schema.apply(self.g)
        return f"{counts['statements']} constraints/indexes, {counts['vector_indexes']} vector indexes"

    def movielens_done(self) -> bool:
        row = self.g.read(MOVIELENS_CHECK)[0]
        return (row["content"] == row["embedded"] == MOVIELENS_CONTENT
                and row["interactions"] >= MOVIELENS_INTERACTIONS)

    def ingest(self, source: str) -> str:
        from ingestion.pipeline import IngestConfig, ingest_source

        summary = ingest_source(self.g, [source], IngestConfig(device=self._device(), cache_dir=var_dir("cache")))
        return (f"{summary.created.get('nodes', 0)} nodes, "
                f"{summary.created.get('relationships', 0)} relationships created")

    def ingest_counted(self, source: str, key: str) -> str:
        """Ingest a dataset directory and remember the graph's counts afterwards under ``key``."""
        detail = self.ingest(source)
        self.state.set(**{key: self.g.read(GRAPH_COUNTS)[0]})
        return detail

    def counted_done(self, key: str) -> bool:
        """True if the graph still has exactly the counts ``ingest_counted`` recorded."""
        recorded = self.state.get(key)
        return bool(recorded) and self.g.read(GRAPH_COUNTS)[0] == recorded

    def export(self) -> str:
        from graph.export import ExportConfig, export_to

        path = var_dir("snapshots") / self.name
        snap = export_to(self.g, ExportConfig(), path, name=self.name)
        self.state.set(snapshot=str(path))
        counts = snap.manifest["counts"]
        return f"{sum(counts['nodes'].values())} nodes, {sum(counts['edges'].values())} edges → {path}"

    def snapshot_done(self) -> bool:
        snap = self.state.get("snapshot")
        return bool(snap) and (Path(snap) / "manifest.json").exists()

    def train(self) -> str:
        from gnn.train import train_run

        run_dir = train_run(Path(self.state.get("snapshot")), self.train_config(), var_dir("runs"))
        run = json.loads((run_dir / "run.json").read_text())
        self.state.set(run_dir=str(run_dir), run_id=run["run_id"])
        test = run["metrics"].get("test", {})
        return f"run {run['run_id']} ({run['device']}), test " + ", ".join(
            f"{k}={v:.4f}" for k, v in test.items() if k.startswith(("recall@", "ndcg@")))

    def run_done(self) -> bool:
        run_dir = self.state.get("run_dir")
        return bool(run_dir) and (Path(run_dir) / "run.json").exists()

    def writeback(self) -> str:
        from graph.writeback import writeback

        result = writeback(self.g, Path(self.state.get("run_dir")))
        return f"{result.interests} INTERESTED_IN, {result.recommendations} MAY_LIKE, run {result.run_id} active"

    def writeback_done(self) -> bool:
        from graph.writeback import active_run

        active = active_run(self.g)
        return bool(active) and active.get("id") == self.state.get("run_id")

    def _device(self) -> str | None:
        return None if self.device == "auto" else self.device


class Demo(Pipeline):
    """The demo's stages in order, on top of the shared ones."""

    def __init__(self, g: Graph, cfg: DemoConfig):
        super().__init__(g, cfg.state_dir, "demo", cfg.device)
        self.cfg = cfg
        self.result = DemoResult(stages=self.stages, example_user=cfg.example_user)

    def _sample_done(self) -> bool:
        return bool(self.state.get("sample_ingested")) and self.g.read(SAMPLE_CHECK)[0]["content"] > 0

    def _ingest_sample(self) -> str:
        detail = self.ingest("sample")
        self.state.set(sample_ingested=True)
        return detail

    def train_config(self):
        return self.cfg.train_config()

    def discover_topics(self) -> str:
        """k-means topics (two levels, c-TF-IDF names) over the content embeddings, then their communities."""
        from discovery.cluster import DiscoveryConfig
        from jobs.topics import discover_topics, topic_communities

        outcome = discover_topics(self.g, DiscoveryConfig(), progress=False)
        communities = topic_communities(self.g)
        return (f"{len(outcome.hierarchy.leaves)} topics in {len(outcome.hierarchy.parents)} groups, "
                f"{communities.n_communities} communities ({communities.backend})")

    def _topics_done(self) -> bool:
        from graph import topics as gt

        return gt.active_run(self.g) is not None

    def evaluate(self) -> str:
        from gnn.evaluate import run_evaluation

        run_dir = Path(self.state.get("run_dir"))
        run = json.loads((run_dir / "run.json").read_text())
        rows, _ = run_evaluation(Path(self.state.get("snapshot")), self.train_config(), [run["metrics"]["split"]],
                                 ["pop", "bprmf"], run_dir / "eval", runs=[run])
        k = self.train_config().eval_k
        return "; ".join(f"{r['model']} ndcg@{k}={r[f'ndcg@{k}']:.4f}" for r in rows)

    def _eval_done(self) -> bool:
        return (Path(self.state.get("run_dir", "")) / "eval" / "rows.json").exists()

    def report(self) -> str:
        from report.build import ReportConfig, build_report

        run_dir = Path(self.state.get("run_dir"))
        path = build_report(run_dir, var_dir("reports") / run_dir.name, self.g, run_dir / "eval",
                            ReportConfig(example_user=self.result.example_user))
        self.state.set(report=str(path))
        return str(path)

    def _report_done(self) -> bool:
        report = self.state.get("report")
        return bool(report) and Path(report).exists() and Path(report).parent.name == self.state.get("run_id")

    def api(self) -> str:
        from api import keys

        url = f"http://127.0.0.1:{self.cfg.api_port}"
        if not _healthy(url):
            log = var_dir("logs") / "api.log"
            with open(log, "ab") as out:
                proc = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--port", str(self.cfg.api_port)],
                                        stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        cwd=Path(__file__).resolve().parents[1], start_new_session=True,
                                        env=os.environ.copy())
            (self.cfg.state_dir / "api.pid").write_text(f"{proc.pid}\n")
            deadline = time.monotonic() + API_START_TIMEOUT_S
            while not _healthy(url):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise IkgError(f"the API did not come up on {url}; see {log}")
                time.sleep(0.3)
        for old in keys.list_keys(self.g):
            if old.get("name") == "demo" and not old.get("revoked_at"):
                keys.revoke_key(self.g, old["id"])
        key, _ = keys.create_key(self.g, "demo", "write")
        self.result.api_url, self.result.api_key = url, key
        return f"{url} (pid file {self.cfg.state_dir / 'api.pid'})"

    def run(self) -> DemoResult:
        if self.cfg.fresh:
            self.wipe()
        self.stage("apply schema", lambda: False, self.schema)
        self.changed = False  # the schema stage is always run and invalidates nothing
        if self.cfg.dataset == MOVIELENS:
            self.stage("ingest MovieLens-100K", self.movielens_done, lambda: self.ingest(MOVIELENS))
        else:
            self.stage(f"ingest {Path(self.cfg.dataset).name}", lambda: self.counted_done("dataset_counts"),
                       lambda: self.ingest_counted(self.cfg.dataset, "dataset_counts"))
        if self.cfg.sample:
            self.stage("ingest multimodal sample", self._sample_done, self._ingest_sample)
        self.stage("discover topics", self._topics_done, self.discover_topics)
        self.stage("export snapshot", self.snapshot_done, self.export)
        self.stage(f"train {self.cfg.model} ({self.cfg.backend})", self.run_done, self.train)
        self.stage("evaluate vs baselines", self._eval_done, self.evaluate)
        self.stage("write back interests", self.writeback_done, self.writeback)
        self.stage("report", self._report_done, self.report)
        self.result.run_id = self.state.get("run_id", "")
        self.result.report = Path(self.state.get("report")) if self.state.get("report") else None
        if self.cfg.serve:
            self.stage("start API", lambda: False, self.api)
        return self.result


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=1) as resp:
            return resp.status == 200
    except OSError:
        return False


def stop_api(state_dir: Path | None = None) -> bool:
    """Stop the API the demo started (SIGTERM to gunicorn's arbiter); False if none was running."""
    import signal

    pid_file = (state_dir or var_dir("demo")) / "api.pid"
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text().strip())
    pid_file.unlink()
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    return True
