"""A planted-pattern snapshot for tests and benchmarks: users prefer topics, drifters switch topic.

Each content item has one topic; its ``emb_text`` is a noisy topic direction (missing for a share of
items, with the mask saying so). Each user has a home topic and draws interactions from it with
probability ``affinity`` (between per_user/2 and 3·per_user/2 interactions each) (otherwise from a popularity-skewed global pool), at increasing times over
two windows; drifters change home topic in the second window.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from graph.model import CONTENT, FOLLOWS, HAS_TOPIC, INTERACTED, INTERACTION_KINDS, SUBTOPIC_OF, TOPIC, USER
from graph.snapshot import Snapshot

DAY = 86400.0
T0 = 1_700_000_000.0


@dataclass(frozen=True)
class PlantedWorld:
    n_users: int = 120
    n_content: int = 200
    n_topics: int = 8
    per_user: int = 24
    affinity: float = 0.85
    text_dim: int = 16
    text_missing: float = 0.2
    drifters: int = 6
    days: float = 60.0
    seed: int = 0


def planted_snapshot(world: PlantedWorld = PlantedWorld()) -> tuple[Snapshot, dict]:
    """The snapshot and its truth: ``home`` [U, 2] (topic per window), ``drifters``, ``content_topic``."""
    rng = np.random.default_rng(world.seed)
    U, C, T = world.n_users, world.n_content, world.n_topics
    content_topic = np.arange(C) % T
    rng.shuffle(content_topic)
    popularity = rng.pareto(1.5, C) + 1
    home = np.repeat(rng.integers(0, T, U)[:, None], 2, axis=1)
    drifters = rng.choice(U, world.drifters, replace=False)
    for u in drifters:
        home[u, 1] = (home[u, 0] + 1 + rng.integers(0, T - 1)) % T
    src, dst, ts = [], [], []
    for u in range(U):
        seen: set[int] = set()
        n_u = int(rng.integers(world.per_user // 2, world.per_user * 3 // 2 + 1))
        half = n_u // 2
        times = np.sort(rng.uniform(0, world.days, n_u))
        for j, day in enumerate(times):
            topic = home[u, 0 if j < half else 1]
            for _ in range(50):
                if rng.random() < world.affinity:
                    pool = np.flatnonzero(content_topic == topic)
                    c = int(rng.choice(pool, p=popularity[pool] / popularity[pool].sum()))
                else:
                    c = int(rng.choice(C, p=popularity / popularity.sum()))
                if c not in seen:
                    break
            seen.add(c)
            src.append(u)
            dst.append(c)
            ts.append(T0 + (day if j < half else world.days + day) * DAY)
    n = len(src)
    directions = rng.normal(size=(T, world.text_dim))
    text = directions[content_topic] + 0.3 * rng.normal(size=(C, world.text_dim))
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    mask = rng.random(C) >= world.text_missing
    follows_src = rng.integers(0, U, U)
    follows_dst = rng.integers(0, U, U)
    keep = follows_src != follows_dst
    parents = np.arange(T) // 2 + T  # T leaf topics under T/2 parent topics
    snap = Snapshot(
        node_ids={USER: np.array([f"u{i}" for i in range(U)], dtype=object),
                  CONTENT: np.array([f"c{i}" for i in range(C)], dtype=object),
                  TOPIC: np.array([f"t{i}" for i in range(T + (T + 1) // 2)], dtype=object)},
        edges={
            (USER, INTERACTED, CONTENT): {
                "src": np.array(src, np.int64), "dst": np.array(dst, np.int64), "ts": np.array(ts, np.float64),
                "weight": np.ones(n, np.float32), "rating": np.full(n, np.nan, np.float32),
                "kind": np.full(n, INTERACTION_KINDS.index("view"), np.int8)},
            (CONTENT, HAS_TOPIC, TOPIC): {"src": np.arange(C, dtype=np.int64), "dst": content_topic.astype(np.int64),
                                          "weight": np.ones(C, np.float32)},
            (TOPIC, SUBTOPIC_OF, TOPIC): {"src": np.arange(T, dtype=np.int64), "dst": parents.astype(np.int64)},
            (USER, FOLLOWS, USER): {"src": follows_src[keep], "dst": follows_dst[keep]},
        },
        features={CONTENT: {"emb_text": np.where(mask[:, None], text, 0.0).astype(np.float32)}},
        feature_masks={CONTENT: {"emb_text": mask}},
        manifest={"source": "planted", "interaction_kinds": list(INTERACTION_KINDS)},
    )
    truth = {"home": home, "drifters": np.sort(drifters), "content_topic": content_topic,
             "window_split": T0 + world.days * DAY}
    return snap, truth
