"""A synthetic online-education world in the generic ingest format (docs/ingest-format.md).

Topics are *skills* under skill *areas* (programming → python, data → statistics, …); content
items are courses (kind ``course``) teaching one or two skills at a level; learners have an age,
an occupation that follows their main area, and one to three goal skills (the first one is
*declared*). Their activity: enrolment (``view``), completion (``like``), a rating (``rate``)
and sometimes a comment; on-goal courses in level order, plus off-goal noise. Everything is
synthetic and seeded: the same config gives the same files. Sampling is pure (``build``);
``write`` puts the tables (CSV) and ``truth/learner_skills.csv`` on disk.
"""
from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

# (area, area words, ((skill, skill words), …)); English words so MiniLM embeds them meaningfully.
AREAS: tuple[tuple[str, tuple[str, ...], tuple[tuple[str, tuple[str, ...]], ...]], ...] = (
    ("programming", ("code", "software", "developer", "program", "debugging"), (
        ("python", ("python", "functions", "modules", "scripts", "pandas", "notebooks")),
        ("javascript", ("javascript", "browser", "react", "frontend", "events", "node")),
        ("sql", ("sql", "queries", "joins", "tables", "database", "indexes")))),
    ("data", ("data", "analysis", "dataset", "insight", "numbers"), (
        ("statistics", ("statistics", "probability", "regression", "variance", "hypothesis", "sampling")),
        ("machine learning", ("models", "training", "classification", "neural", "features", "prediction")),
        ("data visualization", ("charts", "dashboards", "plots", "colour", "storytelling", "infographics")))),
    ("design", ("design", "creative", "visual", "layout", "aesthetic"), (
        ("ux design", ("usability", "wireframes", "prototypes", "research", "personas", "interaction")),
        ("typography", ("fonts", "typefaces", "kerning", "lettering", "hierarchy", "readability")),
        ("illustration", ("drawing", "sketching", "vector", "characters", "ink", "digital painting")))),
    ("business", ("business", "company", "strategy", "management", "growth"), (
        ("marketing", ("marketing", "campaigns", "brand", "audience", "advertising", "social media")),
        ("finance", ("accounting", "budgets", "investment", "valuation", "cash flow", "balance sheet")),
        ("project management", ("planning", "agile", "scrum", "deadlines", "stakeholders", "risk")))),
    ("languages", ("language", "speaking", "grammar", "vocabulary", "conversation"), (
        ("spanish", ("spanish", "verbs", "pronunciation", "madrid", "reading", "listening")),
        ("japanese", ("japanese", "kanji", "hiragana", "katakana", "tokyo", "politeness")))),
)
OCCUPATIONS = {"programming": "developer", "data": "analyst", "design": "designer", "business": "manager",
               "languages": "teacher"}
LEVELS = ("beginner", "intermediate", "advanced")
LEVEL_WORDS = {"beginner": "first steps in", "intermediate": "practical projects with",
               "advanced": "mastering"}
DAY = 86_400
START_TS = 1_735_689_600  # 2025-01-01T00:00:00Z


def max_skills() -> int:
    return sum(len(skills) for _, _, skills in AREAS)


@dataclass(frozen=True)
class EducationConfig:
    """Size and behaviour of the education world; ``seed`` + these values → the same files."""

    n_learners: int = 400
    n_courses: int = 120
    n_skills: int = 14
    seed: int = 0
    enrolments_mean: float = 8.0     # Poisson mean of enrolments per learner (plus 2)
    off_goal_rate: float = 0.15      # share of enrolments outside the learner's goal skills
    completion_rate: float = 0.6     # P(an on-goal enrolment is completed); off-goal: half of it
    comment_rate: float = 0.1
    days: int = 180

    def __post_init__(self) -> None:
        if not 2 <= self.n_skills <= max_skills():
            raise ValueError(f"n_skills must be in [2, {max_skills()}], got {self.n_skills}")
        if self.n_courses < self.n_skills:
            raise ValueError(f"n_courses must be >= n_skills (every skill gets a course), got {self.n_courses}")
        if self.n_learners < 2:
            raise ValueError(f"n_learners must be >= 2, got {self.n_learners}")
        if self.seed < 0 or self.enrolments_mean <= 0 or self.days < 1:
            raise ValueError("seed must be >= 0, enrolments_mean > 0 and days >= 1, got "
                             f"{self.seed}, {self.enrolments_mean}, {self.days}")
        for name in ("off_goal_rate", "completion_rate", "comment_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")


@dataclass(frozen=True)
class Skill:
    id: str
    name: str
    area: int
    words: tuple[str, ...]


@dataclass(frozen=True)
class EducationWorld:
    """Every table as a list of row dicts, plus the planted goal skills."""

    config: EducationConfig
    tables: dict[str, list[dict]]
    truth: list[dict]


def skill_id(name: str) -> str:
    return "skill:" + name.replace(" ", "-")


def area_id(name: str) -> str:
    return "area:" + name


def skills(n_skills: int) -> list[Skill]:
    """The first ``n_skills`` skills, taken round-robin over the areas so every area is used early."""
    order = []
    for j in range(max(len(s) for _, _, s in AREAS)):
        order += [(a, j) for a, (_, _, s) in enumerate(AREAS) if j < len(s)]
    out = []
    for a, j in order[:n_skills]:
        name, words = AREAS[a][2][j]
        out.append(Skill(skill_id(name), name, a, words))
    return out


def _words(rng: np.random.Generator, pool: tuple[str, ...], n: int) -> list[str]:
    return [pool[i] for i in rng.choice(len(pool), size=min(n, len(pool)), replace=False)]


def build(cfg: EducationConfig) -> EducationWorld:
    """Sample the world (pure)."""
    rng = np.random.default_rng([cfg.seed, 7])
    sk = skills(cfg.n_skills)
    areas = sorted({s.area for s in sk})
    by_area = {a: [i for i, s in enumerate(sk) if s.area == a] for a in areas}
    topics = [{"id": area_id(AREAS[a][0]), "name": AREAS[a][0], "source": "skills", "kind": "area", "parent": ""}
              for a in areas]
    topics += [{"id": s.id, "name": s.name, "source": "skills", "kind": "skill", "parent": area_id(AREAS[s.area][0])}
               for s in sk]

    content, content_topics = [], []
    course_skills: list[list[int]] = []
    course_level = np.zeros(cfg.n_courses, dtype=np.int64)
    for c in range(cfg.n_courses):
        primary = c % cfg.n_skills if c < cfg.n_skills else int(rng.integers(cfg.n_skills))
        taught = [primary]
        siblings = [i for i in by_area[sk[primary].area] if i != primary]
        if siblings and rng.random() < 0.4:
            taught.append(int(rng.choice(siblings)))
        level = int(rng.integers(len(LEVELS)))
        course_skills.append(taught)
        course_level[c] = level
        s = sk[primary]
        title = f"{LEVELS[level].capitalize()} {s.name}: {' and '.join(_words(rng, s.words, 2))}"
        words = _words(rng, s.words, 4) + _words(rng, AREAS[s.area][1], 2)
        if len(taught) > 1:
            words += _words(rng, sk[taught[1]].words, 2)
        article = "An" if LEVELS[level][0] in "aeiou" else "A"
        text = (f"{article} {LEVELS[level]} course on {' and '.join(sk[i].name for i in taught)}: "
                f"{LEVEL_WORDS[LEVELS[level]]} {', '.join(words)}.")
        content.append({"id": f"course:{c}", "kind": "course", "title": title, "text": text,
                        "created_at": START_TS - int(rng.integers(1, 365)) * DAY})
        weights = [1.0] if len(taught) == 1 else [0.7, 0.3]
        content_topics += [{"content": f"course:{c}", "topic": sk[i].id, "weight": w} for i, w in zip(taught, weights)]
    teaches = {i: [c for c, t in enumerate(course_skills) if i in t] for i in range(cfg.n_skills)}

    users, interactions, truth = [], [], []
    for u in range(cfg.n_learners):
        uid = f"learner:{u}"
        area = areas[int(rng.integers(len(areas)))]
        n_goals = int(rng.choice([1, 2, 3], p=[0.4, 0.4, 0.2]))
        own = by_area[area]
        others = [i for i in range(cfg.n_skills) if i not in own]
        goals = [int(g) for g in rng.choice(own, size=min(n_goals, len(own)), replace=False)]
        extra = min(n_goals - len(goals), len(others))
        if extra > 0:
            goals += [int(g) for g in rng.choice(others, size=extra, replace=False)]
        weights = rng.dirichlet(np.ones(len(goals)))
        order = np.argsort(-weights, kind="stable")
        goals, weights = [int(goals[i]) for i in order], weights[order]
        users.append({"id": uid, "name": f"synthetic learner {u}", "age": int(rng.integers(18, 61)),
                      "occupation": OCCUPATIONS[AREAS[area][0]] if rng.random() < 0.8 else "student",
                      "created_at": START_TS - int(rng.integers(1, 365)) * DAY})
        truth += [{"user": uid, "skill": sk[g].id, "weight": round(float(w), 4), "declared": i == 0}
                  for i, (g, w) in enumerate(zip(goals, weights))]
        taken: set[int] = set()
        for _ in range(2 + int(rng.poisson(cfg.enrolments_mean))):
            on_goal = rng.random() >= cfg.off_goal_rate
            options = teaches[goals[int(rng.choice(len(goals), p=weights))]] if on_goal else range(cfg.n_courses)
            options = [c for c in options if c not in taken]
            if not options:
                continue
            c = int(rng.choice(options))
            taken.add(c)
        # a learner takes courses in level order: beginner ones first
        ts_sorted = np.sort(rng.integers(0, cfg.days * DAY, size=len(taken))) + START_TS
        for ts, c in zip(ts_sorted, sorted(taken, key=lambda c: (course_level[c], c))):
            on_goal = any(g in course_skills[c] for g in goals)
            cid, ts = f"course:{c}", int(ts)
            interactions.append({"user": uid, "content": cid, "kind": "view", "rating": "", "ts": ts})
            if rng.random() < cfg.completion_rate * (1.0 if on_goal else 0.5):
                done = ts + int(rng.integers(7, 40)) * DAY
                rating = float(np.clip(np.round(rng.normal(4.3 if on_goal else 2.8, 0.7)), 1, 5))
                interactions.append({"user": uid, "content": cid, "kind": "like", "rating": "", "ts": done})
                interactions.append({"user": uid, "content": cid, "kind": "rate", "rating": rating, "ts": done + 60})
                if rng.random() < cfg.comment_rate:
                    interactions.append({"user": uid, "content": cid, "kind": "comment", "rating": "",
                                         "ts": done + 120})
    return EducationWorld(cfg, {"topics": topics, "content": content, "content_topics": content_topics,
                                "users": users, "interactions": interactions}, truth)


def write(world: EducationWorld, out: Path) -> dict[str, int]:
    """Write the tables as CSV into ``out`` (and ``truth/``); returns row counts per table."""
    out = Path(out)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    counts = {}
    for name, rows in [*world.tables.items(), ("truth/learner_skills", world.truth)]:
        with (out / f"{name}.csv").open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        counts[name] = len(rows)
    (out / "truth" / "world.json").write_text(json.dumps(
        {"generator": "jobs.scenarios.education_data", "synthetic": True, "config": asdict(world.config),
         "tables": counts}, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return counts
