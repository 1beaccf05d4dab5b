"""`ikg report`: one self-contained HTML page (PNGs inlined, also written beside it) about a model run.

Sections: dataset, training curve, evaluation vs baselines, interest map, top topics overall
and per cohort, drift examples, one example user's interest neighbourhood. Reads the run
directory and its snapshot; the graph (optional) supplies topic names, cohorts and the
neighbourhood as written back.
"""
from __future__ import annotations

import base64
import html
import json
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from graph.db import Graph
from graph.snapshot import Snapshot
from report import figures

logger = logging.getLogger(__name__)

TOPIC_NAMES = "MATCH (t:Topic) WHERE t.id IN $ids RETURN t.id AS id, coalesce(t.name, t.id) AS name"
USER_ATTRS = """
MATCH (u:User) WHERE u.id IN $ids
RETURN u.id AS id, u.age AS age, u.occupation AS occupation, u.gender AS gender
"""
NEIGHBOURHOOD = """
MATCH (u:User {id: $user})
CALL (u) {
  MATCH (u)-[r:INTERESTED_IN {run_id: $run_id}]->(t:Topic)
  RETURN 'INTERESTED_IN' AS type, t AS node, r.score AS weight ORDER BY r.rank LIMIT $topics
  UNION ALL
  MATCH (u)-[r:MAY_LIKE {run_id: $run_id}]->(c:Content)
  RETURN 'MAY_LIKE' AS type, c AS node, r.score AS weight ORDER BY r.rank LIMIT $recs
  UNION ALL
  MATCH (u)-[r:INTERACTED]->(c:Content)
  RETURN 'INTERACTED' AS type, c AS node, r.weight AS weight ORDER BY r.ts DESC LIMIT $seen
}
RETURN type, labels(node)[0] AS label, node.id AS id, coalesce(node.name, node.title, node.id) AS caption, weight
"""
CONTENT_TOPICS = """
MATCH (c:Content)-[h:HAS_TOPIC]->(t:Topic) WHERE c.id IN $content AND t.id IN $topics
RETURN c.id AS src, t.id AS dst, h.weight AS weight
"""
AGE_BUCKETS = ((0, 18, "<18"), (18, 25, "18-24"), (25, 35, "25-34"), (35, 45, "35-44"), (45, 55, "45-54"),
               (55, 200, "55+"))


@dataclass(frozen=True)
class ReportConfig:
    """What to put in the report."""

    top_topics: int = 15
    cohort_topics: int = 10
    example_user: str | None = None
    drift_rows: int = 8
    half_life_days: float = 30.0

    def __post_init__(self) -> None:
        if self.top_topics < 1 or self.cohort_topics < 1:
            raise ValueError("top_topics and cohort_topics must be >= 1")


def _age_bucket(age: object) -> str | None:
    try:
        a = int(age)
    except (TypeError, ValueError):
        return None
    return next(name for lo, hi, name in AGE_BUCKETS if lo <= a < hi)


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _table(rows: list[dict], columns: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c)))}</td>" for c in columns) + "</tr>"
                   for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.4f}"
    if isinstance(v, (list, tuple)):
        return ", ".join(_fmt(x) if not isinstance(x, (list, tuple)) else f"{x[0]} {x[1]:+.2f}" for x in v)
    return "" if v is None else str(v)


class _Report:
    def __init__(self, run_dir: Path, out_dir: Path, g: Graph | None, cfg: ReportConfig):
        self.run_dir, self.out, self.g, self.cfg = run_dir, out_dir, g, cfg
        self.run = json.loads((run_dir / "run.json").read_text())
        self.metrics = json.loads((run_dir / "metrics.json").read_text())
        self.snap = Snapshot.load(Path(self.run["snapshot"]))
        self.sections: list[str] = []
        self.names: dict[str, str] = {}
        out_dir.mkdir(parents=True, exist_ok=True)

    def section(self, title: str, body: str) -> None:
        self.sections.append(f"<section><h2>{html.escape(title)}</h2>{body}</section>")

    def topic_name(self, tid: str) -> str:
        return self.names.get(tid, tid)

    def load_names(self) -> None:
        ids = self.snap.node_ids.get("Topic", np.array([], dtype=object)).tolist()
        if self.g is not None and ids:
            self.names = {r["id"]: r["name"] for r in self.g.read(TOPIC_NAMES, ids=ids)}

    # ------------------------------------------------------------ sections
    def dataset(self) -> None:
        m = self.snap.manifest
        rows = [{"what": f"{label} nodes", "count": n} for label, n in m["counts"]["nodes"].items()]
        rows += [{"what": f"{et.replace('__', ' ')} edges", "count": n} for et, n in m["counts"]["edges"].items()]
        feats = [{"label": lbl, "feature": p, "dim": info["dim"], "present": info["present"]}
                 for lbl, props in m.get("features", {}).items() for p, info in props.items()]
        body = _table(rows, ["what", "count"])
        if feats:
            body += "<h3>Node features</h3>" + _table(feats, ["label", "feature", "dim", "present"])
        ref = m.get("reference_time")
        if isinstance(ref, (int, float)):
            ref = datetime.fromtimestamp(ref, tz=timezone.utc).isoformat()
        body += f"<p>Snapshot <code>{html.escape(str(self.run['snapshot']))}</code>, reference time {ref}.</p>"
        self.section("Dataset", body)

    def training(self) -> None:
        cfg = self.run.get("config", {})
        items = [{"setting": k, "value": json.dumps(v) if isinstance(v, (dict, list)) else v}
                 for k, v in sorted(cfg.items()) if not isinstance(v, dict)]
        timings = [{"stage": k[:-2], "seconds": float(v)} for k, v in self.run.get("timings", {}).items()
                   if k.endswith("_s") and isinstance(v, (int, float))]
        body = _img(self.run_dir / "curve.png", "training curve") if (self.run_dir / "curve.png").exists() else ""
        body += (f"<p>Run <b>{html.escape(self.run['run_id'])}</b>: model {self.run.get('model')}, backend "
                 f"{self.run.get('backend')}, device {self.run.get('device')}.</p>")
        body += _table(timings, ["stage", "seconds"]) + "<details><summary>configuration</summary>"
        body += _table(items, ["setting", "value"]) + "</details>"
        self.section("Training", body)

    def evaluation(self, eval_dir: Path | None) -> None:
        if eval_dir is None or not (eval_dir / "rows.json").exists():
            self.section("Evaluation", "<p>No evaluation was run for this report (see <code>ikg evaluate</code>).</p>")
            return
        rows = json.loads((eval_dir / "rows.json").read_text())
        columns = list(rows[0]) if rows else []
        body = _table(rows, columns)
        if (eval_dir / "bars.png").exists():
            body += _img(eval_dir / "bars.png", "evaluation vs baselines")
        self.section("Evaluation against baselines", body)

    def interests(self) -> None:
        inter = np.load(self.run_dir / "interests.npz")
        users, topics = inter["user"], inter["topic"]
        topic_ids = self.snap.node_ids["Topic"]
        top1 = [self.topic_name(str(topic_ids[t])) if t >= 0 else "none" for t in topics[:, 0]]
        emb = np.load(self.run_dir / "embeddings" / "User.npy")[users]
        xy = figures.project_2d(emb)
        body = _img(figures.interest_map(xy, top1, self.out / "interest_map.png"), "interest map")
        top3 = Counter(self.topic_name(str(topic_ids[t])) for row in topics[:, :3] for t in row if t >= 0)
        overall = top3.most_common(self.cfg.top_topics)
        body += _img(figures.topic_bars([(n, c) for n, c in overall], self.out / "top_topics.png",
                                        "Topics most often in users' top-3 predicted interests", "users"),
                     "top topics")
        self.section("Interest map and top topics", body)
        self.cohorts(users, topics, topic_ids)

    def cohorts(self, users: np.ndarray, topics: np.ndarray, topic_ids: np.ndarray) -> None:
        if self.g is None:
            return
        raw = [str(u) for u in self.snap.node_ids["User"][users]]
        attrs = {r["id"]: r for r in self.g.read(USER_ATTRS, ids=raw)}
        for attr, bucket in (("age", _age_bucket), ("occupation", lambda v: v or None)):
            groups: dict[str, list[int]] = {}
            for i, uid in enumerate(raw):
                key = bucket(attrs.get(uid, {}).get(attr))
                if key is not None:
                    groups.setdefault(str(key), []).append(i)
            groups = {k: v for k, v in groups.items() if len(v) >= 5}
            if len(groups) < 2:
                continue
            counts = Counter(int(t) for row in topics[:, :3] for t in row if t >= 0)
            cols = [t for t, _ in counts.most_common(self.cfg.cohort_topics)]
            order = sorted(groups, key=lambda k: (k[0].isdigit() is False, k)) if attr == "age" else \
                sorted(groups, key=lambda k: -len(groups[k]))[:15]
            matrix = np.array([[np.mean([t in topics[i, :3] for i in groups[k]]) for t in cols] for k in order])
            names = [self.topic_name(str(topic_ids[t])) for t in cols]
            path = figures.cohort_heatmap(matrix, [f"{k} (n={len(groups[k])})" for k in order], names,
                                          self.out / f"cohort_{attr}.png",
                                          f"Share of users with the topic in their top-3, by {attr}")
            self.section(f"Top topics by {attr}", _img(path, f"cohort {attr}"))

    def drift(self) -> None:
        from gnn.drift import Window, drift_report

        ts = self.snap.edges.get(("User", "INTERACTED", "Content"), {}).get("ts")
        if ts is None or len(ts) == 0 or "Topic" not in self.snap.node_ids:
            return
        # Split at the median interaction time, not the midpoint of the range: datasets of different
        # eras in one graph would otherwise leave one window nearly empty.
        lo, mid, hi = float(ts.min()), float(np.median(ts)), float(ts.max()) + 1
        a, b = Window(lo, mid, "before the median"), Window(mid, hi, "from the median")
        rows = drift_report(self.snap, a, b, self.cfg.half_life_days * 86400, top_n=self.cfg.drift_rows)
        for r in rows:
            r["gained"] = [(self.topic_name(t), d) for t, d in r["gained"]]
            r["lost"] = [(self.topic_name(t), d) for t, d in r["lost"]]
        span = lambda x: datetime.fromtimestamp(x, tz=timezone.utc).date().isoformat()  # noqa: E731
        body = (f"<p>Users whose decayed topic interests moved most between {span(lo)}–{span(mid)} and "
                f"{span(mid)}–{span(hi)} (cosine distance of topic-share vectors; half-life "
                f"{self.cfg.half_life_days:g} days).</p>")
        self.section("Interest drift", body + _table(rows, ["user", "distance", "gained", "lost"]))

    def example_user(self) -> None:
        if self.g is None:
            return
        inter = np.load(self.run_dir / "interests.npz")
        user = self.cfg.example_user or str(self.snap.node_ids["User"][inter["user"][0]])
        rows = self.g.read(NEIGHBOURHOOD, user=user, run_id=self.run["run_id"], topics=5, recs=5, seen=8)
        if not rows:
            self.section(f"User {user}", "<p>This user has no written-back interests for this run "
                                         "(run <code>ikg writeback</code> first).</p>")
            return
        nodes = {("User", user): {"key": f"User:{user}", "label": "User", "caption": f"user {user}"}}
        edges = []
        for r in rows:
            key = f"{r['label']}:{r['id']}"
            nodes[(r["label"], r["id"])] = {"key": key, "label": r["label"], "caption": str(r["caption"])}
            edges.append({"src": f"User:{user}", "dst": key, "type": r["type"], "weight": r["weight"]})
        content = [i for (lbl, i) in nodes if lbl == "Content"]
        topics = [i for (lbl, i) in nodes if lbl == "Topic"]
        for r in self.g.read(CONTENT_TOPICS, content=content, topics=topics):
            edges.append({"src": f"Content:{r['src']}", "dst": f"Topic:{r['dst']}", "type": "HAS_TOPIC",
                          "weight": r["weight"]})
        path = figures.neighbourhood(list(nodes.values()), edges, self.out / "neighbourhood.png",
                                     f"Interest neighbourhood of user {user}")
        table = _table([r for r in rows if r["type"] != "INTERACTED"], ["type", "label", "id", "caption", "weight"])
        self.section(f"Example: the interest neighbourhood of user {user}", _img(path, "neighbourhood") + table)

    def write(self) -> Path:
        css = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}"
               "table{border-collapse:collapse;margin:.5em 0;font-size:13px}td,th{border:1px solid #ddd;"
               "padding:3px 8px;text-align:left}th{background:#f3f6fa}img{max-width:100%;display:block;"
               "margin:.5em 0}section{margin-bottom:2em}h1{color:#2f6fbf}")
        title = f"Interest graph report: {self.run['run_id']}"
        stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
        page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
                f"<style>{css}</style></head><body><h1>{html.escape(title)}</h1><p>Generated {stamp}.</p>"
                + "".join(self.sections) + "</body></html>")
        path = self.out / "index.html"
        path.write_text(page)
        return path


def build_report(run_dir: Path, out_dir: Path, g: Graph | None = None, eval_dir: Path | None = None,
                 cfg: ReportConfig = ReportConfig()) -> Path:
    """Write ``out_dir/index.html`` (self-contained) and its PNGs; returns the HTML path."""
    rep = _Report(Path(run_dir), Path(out_dir), g, cfg)
    rep.load_names()
    for name, step in (("dataset", rep.dataset), ("training", rep.training),
                       ("evaluation", lambda: rep.evaluation(eval_dir)), ("interests", rep.interests),
                       ("drift", rep.drift), ("example user", rep.example_user)):
        logger.info("report: %s", name)
        step()
    return rep.write()
