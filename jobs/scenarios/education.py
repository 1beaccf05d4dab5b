"""An online-education learner profile: skills as interest topics, courses as content.

A synthetic world of courses and learners (``education_data``) with a skill hierarchy
(area → skill); enrolments, completions, ratings and comments are interactions; each learner's
first goal skill is *declared* (``INTERESTED_IN {source: 'declared'}``). After training and
write-back: a learner's skill profile, recommended next courses and the skills (and completed
courses) each recommendation builds on, plus recovered vs planted goal skills.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from graph.db import Graph
from jobs.scenarios import education_data, recovery
from jobs.scenarios.base import (Scenario, ScenarioConfig, ScenarioInfo, ScenarioPipeline, ScenarioResult,
                                 example_user, library_rows, recommendations)

SIZES = {"full": {"n_learners": 400, "n_courses": 120, "n_skills": 14},
         "ci": {"n_learners": 40, "n_courses": 30, "n_skills": 8}}
CI_EPOCHS = 5
TOP = 5
RECOVERY_K = 3
DECLARE = """
UNWIND $rows AS row
MATCH (u:User {id: row.user}), (s:Topic {id: row.skill})
MERGE (u)-[i:INTERESTED_IN {source: 'declared'}]->(s)
SET i.score = 1.0, i.rank = 1, i.updated_at = datetime()
"""
DECLARED_COUNT = "RETURN COUNT { MATCH (:User)-[:INTERESTED_IN {source: 'declared'}]->(:Topic) } AS n"
LEARNER = """
MATCH (u:User {id: $user_id})
OPTIONAL MATCH (u)-[:INTERESTED_IN {source: 'declared'}]->(d:Topic)
RETURN u.age AS age, u.occupation AS occupation, collect(d.name) AS declared,
       COUNT { (u)-[:INTERACTED {kind: 'view'}]->() } AS enrolled,
       COUNT { (u)-[:INTERACTED {kind: 'like'}]->() } AS completed
"""
# Paths behind a recommended course: (learner)-[:INTERESTED_IN]->(skill)<-[:HAS_TOPIC]-(course),
# (skill)-[:SUBTOPIC_OF]->(area), and (learner)-[:INTERACTED {kind:'like'}]->(completed)-[:HAS_TOPIC]->(skill).
BUILDS_ON = """
MATCH (u:User {id: $user_id})
MATCH (c:Content {id: $content_id})-[h:HAS_TOPIC]->(s:Topic)
OPTIONAL MATCH (s)-[:SUBTOPIC_OF]->(area:Topic)
OPTIONAL MATCH (run:ModelRun {active: true})
CALL (u, s, run) {
  OPTIONAL MATCH (u)-[i:INTERESTED_IN]->(s) WHERE i.run_id = run.id
  RETURN max(i.score) AS interest, min(i.rank) AS interest_rank
}
CALL (u, s) {
  RETURN EXISTS { (u)-[:INTERESTED_IN {source: 'declared'}]->(s) } AS declared
}
CALL (u, s, c) {
  OPTIONAL MATCH (u)-[:INTERACTED {kind: 'like'}]->(done:Content)-[:HAS_TOPIC]->(s) WHERE done <> c
  WITH DISTINCT done ORDER BY done.id
  RETURN collect(done.title) AS completed
}
RETURN s.id AS skill_id, s.name AS skill, area.name AS area, h.weight AS weight, interest, interest_rank,
       declared, completed
ORDER BY weight DESC, skill_id
"""


def world_config(cfg: ScenarioConfig) -> education_data.EducationConfig:
    return education_data.EducationConfig(seed=cfg.seed, **SIZES[cfg.size])


def goal_skills(data_dir: Path) -> list[dict[str, Any]]:
    """Rows of ``truth/learner_skills.csv`` (user, skill, weight, declared)."""
    with (data_dir / "truth" / "learner_skills.csv").open(newline="", encoding="utf-8") as fh:
        return [{**row, "declared": row["declared"] == "True"} for row in csv.DictReader(fh)]


class EducationScenario(Scenario):
    info = ScenarioInfo(
        name="education", title="Online-education learner profile (skills as topics, courses as content)",
        demonstrates=(
            "Courses teach skills in a hierarchy (area → skill); enrolments, completions, ratings are interactions.",
            "A learner's skill profile (INTERESTED_IN, beside their declared goal and their history) and",
            "recommended next courses (MAY_LIKE) come out of the graph, with the skills and completed",
            "courses each one builds on; recovered vs planted goal skills is measured, not assumed.",
        ),
        bolt_port=7690, http_port=7487)

    def train_overrides(self, cfg: ScenarioConfig) -> dict[str, Any]:
        # Learners take courses in level order, so a temporal split holds out mostly advanced courses
        # that are rarely positives in training (val AUC ~0.5 at full size); a random split measures
        # what this static model learns: which skills a learner's courses share.
        return {"model": "sage", "split": "random", "top_k_recommendations": 20,
                **({"epochs": CI_EPOCHS} if cfg.size == "ci" else {})}

    def build(self, p: ScenarioPipeline) -> None:
        wc = world_config(p.cfg)
        out = Path(p.cfg.data_dir)
        p.stage("build courses and learners", lambda: self._world_done(p, wc), lambda: self._write(p, wc))
        p.stage("ingest courses and learners", lambda: p.counted_done("ingested"),
                lambda: p.ingest_counted(str(out), "ingested"))
        p.stage("declare goal skills", lambda: self._declared_done(p), lambda: self._declare(p))

    @staticmethod
    def _world_done(p: ScenarioPipeline, wc: education_data.EducationConfig) -> bool:
        return p.state.get("world") == repr(wc) and (Path(p.cfg.data_dir) / "truth" / "world.json").exists()

    @staticmethod
    def _write(p: ScenarioPipeline, wc: education_data.EducationConfig) -> str:
        out = Path(p.cfg.data_dir)
        counts = education_data.write(education_data.build(wc), out)
        p.state.set(world=repr(wc))
        return (f"{counts['users']} learners, {counts['content']} courses, {wc.n_skills} skills, "
                f"{counts['interactions']} interactions → {out}")

    @staticmethod
    def _declared_rows(p: ScenarioPipeline) -> list[dict[str, Any]]:
        return [r for r in goal_skills(Path(p.cfg.data_dir)) if r["declared"]]

    def _declared_done(self, p: ScenarioPipeline) -> bool:
        return p.g.read(DECLARED_COUNT)[0]["n"] == len(self._declared_rows(p))

    def _declare(self, p: ScenarioPipeline) -> str:
        rows = [{"user": r["user"], "skill": r["skill"]} for r in self._declared_rows(p)]
        p.g.write_batches(DECLARE, rows, batch_size=5_000)
        return f"{len(rows)} declared INTERESTED_IN"

    def show(self, g: Graph, p: ScenarioPipeline, result: ScenarioResult) -> None:
        user = example_user(g)
        learner = g.read(LEARNER, user_id=user)[0]
        profile = library_rows(g, "user_top_interests", user_id=user, k=TOP)
        recs = recommendations(g, user, TOP)
        builds_on = {r["content_id"]: g.read(BUILDS_ON, user_id=user, content_id=r["content_id"]) for r in recs}
        truth: dict[str, set[str]] = {}
        for row in goal_skills(Path(p.cfg.data_dir)):
            truth.setdefault(row["user"], set()).add(row["skill"])
        scores = recovery.compare(g, "skill", truth, RECOVERY_K)
        result.data.update(user=user, learner=learner, profile=profile, recommendations=recs, builds_on=builds_on,
                           recovery=scores, planted=sorted(truth.get(user, ())))
        f = result.facts
        f.append(f"Learner {user}: age {learner['age']}, {learner['occupation']}, declared goal "
                 f"{', '.join(learner['declared']) or '-'}; {learner['enrolled']} enrolments, "
                 f"{learner['completed']} completed")
        f.append("  skill profile (model score / decayed-history score):")
        for r in profile:
            model = f"{r['model_score']:.3f} (#{r['model_rank']})" if r["model_score"] is not None else "-"
            hist = f"{r['decayed_score']:.3f} (#{r['decayed_rank']})" if r["decayed_score"] is not None else "-"
            f.append(f"    {r['topic']:<22} model {model:<14} history {hist}")
        f.append(f"  planted goal skills: {', '.join(sorted(truth.get(user, ()))) or '-'}")
        f.append(f"Recommended next courses for {user} (MAY_LIKE) and the skills they build on:")
        for r in recs:
            f.append(f"  #{r['rank']} {r['title']}  score {r['score']:.3f}")
            for s in builds_on[r["content_id"]]:
                interest = f"interest #{s['interest_rank']}" if s["interest_rank"] is not None else "no model interest"
                done = f"; completed {len(s['completed'])}: {', '.join(s['completed'][:2])}" if s["completed"] else ""
                f.append(f"      teaches {s['skill']} ({s['area']}), {interest}"
                         f"{', declared goal' if s['declared'] else ''}{done}")
        f.append("Recovered vs planted goal skills (truth/learner_skills.csv):")
        f += recovery.table_lines(scores, RECOVERY_K)
        top_id = recs[0]["content_id"] if recs else "course:0"
        result.look_at += [
            f"ikg cypher run user_top_interests -p user_id={user} -p k=5",
            f"ikg cypher run explain_may_like -p user_id={user} -p content_id={top_id}",
            "ikg cypher run topic_top_users -p topic_id=skill:python -p by=model",
            "ikg cypher run cohort_top_topics -p cohort=occupation -p k=3 -p source=skills",
            f"Browser: MATCH p=(:User {{id:'{user}'}})-[:INTERESTED_IN|MAY_LIKE]->()-[:SUBTOPIC_OF|HAS_TOPIC*0..1]->() "
            f"RETURN p LIMIT 60",
            f"API: GET /v1/users/{user}/interests · /v1/users/{user}/recommendations?k=5 · "
            f"/v1/users/{user}/explain?content={top_id} · /v1/topics/skill:python/users",
        ]
