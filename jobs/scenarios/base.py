"""What every scenario shares: its config, its own managed Neo4j home and ports, the stage
pipeline (``jobs.demo.Pipeline``) and the result it prints.

A model run is global in a database (one active ModelRun), so each scenario gets its own
managed Neo4j under ``<root>/scenarios/<name>`` (``root`` = ``.neo4j``, sharing ``dist``'s jars)
on fixed per-scenario ports.
"""
from __future__ import annotations

import json
import logging
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graph.db import Graph
from graph.errors import ConfigError, IkgError, ServerError
from graph.settings import ServerConfig, var_dir
from jobs.demo import Pipeline, StageTiming

logger = logging.getLogger(__name__)

SIZES = ("full", "ci")
SCENARIO_HEAP = "1g"
SCENARIO_PAGECACHE = "512m"
LARGEST_INTERACTOR = """
MATCH (u:User)-[r:INTERACTED]->(:Content)
WITH u, count(r) AS n ORDER BY n DESC, u.id LIMIT 1
RETURN u.id AS id
"""
RECOMMENDATIONS = """
MATCH (run:ModelRun {active: true})
MATCH (u:User {id: $user_id})-[m:MAY_LIKE]->(c:Content) WHERE m.run_id = run.id AND m.rank <= $k
CALL (c) {
  OPTIONAL MATCH (c)-[h:HAS_TOPIC]->(t:Topic)
  WITH t, h ORDER BY h.weight DESC, t.id
  RETURN collect(t.name) AS topics
}
RETURN m.rank AS rank, c.id AS content_id, c.title AS title, m.score AS score, topics
ORDER BY rank
"""


@dataclass(frozen=True)
class ScenarioInfo:
    """A scenario's name, one-line title, what it demonstrates and its default ports."""

    name: str
    title: str
    demonstrates: tuple[str, ...]
    bolt_port: int
    http_port: int


@dataclass(frozen=True)
class ScenarioConfig:
    """How to run a scenario: size preset, training knobs, where its state and data live."""

    name: str
    size: str = "full"
    epochs: int | None = None
    fresh: bool = False
    device: str = "auto"
    seed: int = 0
    threads: int = 0                 # torch CPU threads for training; 0 = torch's default
    state_dir: Path | None = None
    data_dir: Path | None = None

    def __post_init__(self) -> None:
        if self.size not in SIZES:
            raise ConfigError(f"size must be one of {', '.join(SIZES)}, got {self.size!r}")
        if self.epochs is not None and self.epochs < 1:
            raise ConfigError(f"epochs must be >= 1, got {self.epochs}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ConfigError(f"device must be auto, cpu or cuda, got {self.device!r}")
        if self.seed < 0 or self.threads < 0:
            raise ConfigError(f"seed and threads must be >= 0, got {self.seed}, {self.threads}")
        if self.state_dir is None:
            object.__setattr__(self, "state_dir", var_dir("scenarios", self.name))
        if self.data_dir is None:
            object.__setattr__(self, "data_dir", Path(self.state_dir) / "data")


@dataclass
class ScenarioResult:
    """What a run leaves behind: stage timings, the facts it shows (text and data), where to look."""

    name: str
    stages: list[StageTiming] = field(default_factory=list)
    run_id: str = ""
    facts: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    look_at: list[str] = field(default_factory=list)


class ScenarioPipeline(Pipeline):
    """The shared stages with the scenario's training config and its own state directory."""

    def __init__(self, g: Graph, cfg: ScenarioConfig, train_overrides: dict[str, Any]):
        super().__init__(g, Path(cfg.state_dir), f"scenario-{cfg.name}", cfg.device)
        self.cfg, self.train_overrides = cfg, train_overrides

    def train_config(self):
        from gnn.config import TrainConfig

        overrides = {"device": self.cfg.device, "seed": self.cfg.seed, **self.train_overrides}
        if self.cfg.epochs:
            overrides["epochs"] = self.cfg.epochs
        if self.cfg.threads:
            overrides["num_threads"] = self.cfg.threads
        return TrainConfig().with_overrides(**overrides)

    def run_done(self) -> bool:
        """The last run exists and was trained with this scenario's current config (threads aside)."""
        if not super().run_done():
            return False
        trained = json.loads((Path(self.state.get("run_dir")) / "run.json").read_text())["config"]
        wanted = self.train_config().to_dict()
        return {k: v for k, v in trained.items() if k != "num_threads"} == \
            {k: v for k, v in wanted.items() if k != "num_threads"}


class Scenario(ABC):
    """A scenario: ``build`` adds its data stages, ``show`` reads the facts it demonstrates."""

    info: ScenarioInfo

    def train_overrides(self, cfg: ScenarioConfig) -> dict[str, Any]:
        """TrainConfig fields this scenario sets (``--epochs`` still wins)."""
        return {}

    @abstractmethod
    def build(self, p: ScenarioPipeline) -> None:
        """Add the stages that put the scenario's data into the graph."""

    @abstractmethod
    def show(self, g: Graph, p: ScenarioPipeline, result: ScenarioResult) -> None:
        """Read the facts from the graph into ``result`` (facts, data, look_at)."""

    def run(self, g: Graph, cfg: ScenarioConfig) -> ScenarioResult:
        """Schema → the scenario's data → export → train → write-back, then the facts."""
        Path(cfg.state_dir).mkdir(parents=True, exist_ok=True)
        p = ScenarioPipeline(g, cfg, self.train_overrides(cfg))
        if cfg.fresh:
            p.wipe()
        result = ScenarioResult(self.info.name, stages=p.stages)
        p.stage("apply schema", lambda: False, p.schema)
        p.changed = False  # the schema stage is always run and invalidates nothing
        self.build(p)
        p.stage("export snapshot", p.snapshot_done, p.export)
        p.stage(f"train {p.train_config().model}", p.run_done, p.train)
        p.stage("write back interests", p.writeback_done, p.writeback)
        result.run_id = p.state.get("run_id", "")
        started = time.perf_counter()
        self.show(g, p, result)
        p.stages.append(StageTiming("read the facts", time.perf_counter() - started, False,
                                    f"{len(result.facts)} lines"))
        return result


def library_rows(g: Graph, name: str, **params: Any) -> list[dict[str, Any]]:
    """Rows of a Cypher library query (the same text ``ikg cypher run NAME`` runs)."""
    from graph import library

    return library.run(g, library.get(name), params)


def example_user(g: Graph) -> str:
    """The user with the most interactions (ties: smallest id): a well-documented profile."""
    rows = g.read(LARGEST_INTERACTOR)
    if not rows:
        raise IkgError("the scenario's graph has no interactions")
    return rows[0]["id"]


def recommendations(g: Graph, user_id: str, k: int) -> list[dict[str, Any]]:
    """The active run's top-k MAY_LIKE of a user with titles and topics."""
    return g.read(RECOMMENDATIONS, user_id=user_id, k=k)


# ---------------------------------------------------------------- servers
def server_config(info: ScenarioInfo, bolt_port: int | None = None, http_port: int | None = None) -> ServerConfig:
    """The scenario's own managed Neo4j: home ``<root>/scenarios/<name>``, shared jars, own ports."""
    root = ServerConfig.from_env().root
    return ServerConfig.from_env(root=root, home=root / "scenarios" / info.name,
                                 bolt_port=bolt_port or info.bolt_port, http_port=http_port or info.http_port,
                                 heap=SCENARIO_HEAP, pagecache=SCENARIO_PAGECACHE)


def ensure_server(info: ScenarioInfo, cfg: ServerConfig) -> bool:
    """Start the scenario's server unless it runs (idempotent); True if it was started now."""
    from graph import server

    if server.status(cfg).running:
        return False
    for what, flag, port in (("Bolt", "--bolt-port", cfg.bolt_port), ("HTTP", "--http-port", cfg.http_port)):
        if server.port_in_use(port):
            raise ServerError(f"scenario {info.name!r} runs its own Neo4j on {what} port {port}, which another "
                              f"process already uses; free it or pick another port with "
                              f"`ikg scenario run {info.name} {flag} PORT`")
    logger.info("starting the %s scenario's Neo4j (home %s, Bolt %d, HTTP %d)",
                info.name, cfg.home, cfg.bolt_port, cfg.http_port)
    server.start(cfg)
    return True
