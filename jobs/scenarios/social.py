"""A social-media feed on the synthetic multimodal world (``ingestion.synth``).

Posts with text, image and audio, users who follow each other; train, write back; then a
user's feed (MAY_LIKE), whose followees shape it, the influencers query, and how well
INTERESTED_IN recovers the planted interests (precision@5 against ``truth/user_topics``).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from graph.db import Graph
from ingestion.synth.world import WorldConfig
from jobs.scenarios import recovery
from jobs.scenarios.base import (Scenario, ScenarioConfig, ScenarioInfo, ScenarioPipeline, ScenarioResult,
                                 library_rows, recommendations)

SIZES = {"full": {"n_users": 300, "n_content": 400, "n_topics": 12},
         "ci": {"n_users": 60, "n_content": 40, "n_topics": 6}}
CI_EPOCHS = 10
TOP = 5
MOST_FOLLOWING = """
MATCH (u:User)-[f:FOLLOWS]->(:User)
WITH u, count(f) AS n ORDER BY n DESC, u.id LIMIT 1
RETURN u.id AS id, n AS followees
"""
FEED_FROM_FOLLOWEES = """
MATCH (run:ModelRun {active: true})
MATCH (u:User {id: $user_id})-[m:MAY_LIKE]->(c:Content) WHERE m.run_id = run.id AND m.rank <= $k
CALL (u, c) {
  OPTIONAL MATCH (u)-[:FOLLOWS]->(f:User)-[:INTERACTED]->(c)
  RETURN collect(DISTINCT f.id) AS followees
}
RETURN m.rank AS rank, c.id AS content_id, followees
ORDER BY rank
"""


def world_config(cfg: ScenarioConfig) -> WorldConfig:
    return WorldConfig(seed=cfg.seed, **SIZES[cfg.size])


def planted_truth(data_dir: Path) -> dict[str, set[str]]:
    """Each user's planted topics in the world's last window (``truth/user_topics``)."""
    world = json.loads((data_dir / "truth" / "world.json").read_text())
    last = world["config"]["n_windows"] - 1
    table = pq.read_table(data_dir / "truth" / "user_topics.parquet").to_pylist()
    truth: dict[str, set[str]] = {}
    for row in table:
        if row["window"] == last:
            truth.setdefault(row["user"], set()).add(row["topic"])
    return truth


class SocialScenario(Scenario):
    info = ScenarioInfo(
        name="social", title="Social-media feed on the synthetic multimodal world",
        demonstrates=(
            "A synthetic world of posts with text, image and audio, follows and planted interests (ikg synth).",
            "Posts are embedded per modality (MiniLM text, EfficientNet image, MFCC audio) as GNN features.",
            "A user's feed (MAY_LIKE), how followees shape it (influencers), and a real measurement:",
            "precision@5 of INTERESTED_IN against the planted interests, beside two baselines.",
        ),
        bolt_port=7689, http_port=7484)

    def train_overrides(self, cfg: ScenarioConfig) -> dict[str, Any]:
        return {"model": "sage", **({"epochs": CI_EPOCHS} if cfg.size == "ci" else {})}

    def build(self, p: ScenarioPipeline) -> None:
        wc = world_config(p.cfg)
        out = Path(p.cfg.data_dir)
        p.stage("generate synthetic world", lambda: self._world_done(p, wc), lambda: self._generate(p, wc))
        p.stage("ingest posts (text+image+audio)", lambda: p.counted_done("ingested"),
                lambda: p.ingest_counted(str(out), "ingested"))

    @staticmethod
    def _world_done(p: ScenarioPipeline, wc: WorldConfig) -> bool:
        return p.state.get("world") == repr(wc) and (Path(p.cfg.data_dir) / "truth" / "world.json").exists()

    @staticmethod
    def _generate(p: ScenarioPipeline, wc: WorldConfig) -> str:
        from ingestion.synth.generate import GenerateOptions, generate, prepare_out

        out = Path(p.cfg.data_dir)
        prepare_out(out, replace=True)
        stats = generate(wc, out, GenerateOptions(media=True, progress=False))
        p.state.set(world=repr(wc))
        rows = stats["rows"]
        return (f"{rows['users']} users, {rows['content']} posts with image+audio, {rows['interactions']} "
                f"interactions, {rows['follows']} follows, {wc.n_topics} topics → {out}")

    def show(self, g: Graph, p: ScenarioPipeline, result: ScenarioResult) -> None:
        who = g.read(MOST_FOLLOWING)[0]
        user = who["id"]
        feed = recommendations(g, user, TOP)
        via = {r["content_id"]: r["followees"] for r in g.read(FEED_FROM_FOLLOWEES, user_id=user, k=TOP)}
        influencers = library_rows(g, "influencers", k=TOP, min_followers=3, limit=TOP)
        truth = planted_truth(Path(p.cfg.data_dir))
        scores = recovery.compare(g, "leaf", truth, TOP)
        result.data.update(user=user, followees=who["followees"], feed=feed, feed_followees=via,
                           influencers=influencers, recovery=scores)
        f = result.facts
        f.append(f"User {user} (follows {who['followees']} users): top {TOP} of their feed (MAY_LIKE)")
        for r in feed:
            seen_by = via.get(r["content_id"], [])
            f.append(f"  #{r['rank']} {r['title']}  score {r['score']:.3f}  [{', '.join(r['topics'])}]"
                     + (f"  ← followees {', '.join(seen_by[:3])} interacted" if seen_by else ""))
        f.append("Influencers: followed users whose top-5 interests their followers share (library 'influencers')")
        for r in influencers:
            f.append(f"  {r['user_id']:<6} {r['followers']:>3} followers, {r['followers_sharing']:>3} share a topic, "
                     f"mean Jaccard {r['mean_jaccard']:.2f}  [{', '.join(r['shared_topics'][:3])}]")
        f.append("Recovered vs planted interests (last window of truth/user_topics, leaf topics):")
        f += recovery.table_lines(scores, TOP)
        fol = influencers[0]["user_id"] if influencers else user
        post = feed[0]["content_id"] if feed else "c0"
        result.look_at += [
            "ikg cypher run influencers -p k=5 -p min_followers=3",
            f"ikg cypher run user_top_interests -p user_id={user} -p k=5",
            f"ikg cypher run explain_may_like -p user_id={user} -p content_id={post}",
            f"ikg cypher run similar_content -p content_id={post} -p embedding=image",
            f"Browser: MATCH p=(:User {{id:'{fol}'}})<-[:FOLLOWS]-(:User)-[:INTERESTED_IN]->(:Topic) RETURN p LIMIT 50",
            f"API: GET /v1/users/{user}/recommendations?k=5 · /v1/users/{user}/neighborhood?depth=1 · "
            f"/v1/content/<id>/similar?modality=audio",
        ]
