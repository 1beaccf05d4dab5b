"""Maximal-marginal-relevance re-ranking with an optional per-topic cap (pure numpy; no neo4j).

Greedy MMR (Carbonell & Goldstein 1998): the next item maximises
``(1 - diversity) * rel(i) - diversity * max_{j chosen} cos(v_i, v_j)``, with ``rel`` the given
relevance min-max scaled to [0, 1] over the candidates. ``diversity = 0`` keeps the input order
(ties by position) and the first pick is always the most relevant; an item without a vector is
similar to nothing (cosine 0). With ``per_topic_cap = c`` an item is skipped while any of its
topics already has ``c`` chosen items, so a capped list can be shorter than ``k``. Used by the
API (over-fetched candidates) and by ``bench/diversity.py``, so both re-rank alike.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DEFAULT_EMBEDDING = "emb_text"   # the content embedding diversity is measured and re-ranked on


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length; zero (or non-finite) rows stay zero."""
    v = np.nan_to_num(np.asarray(vectors, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return np.divide(v, norms, out=np.zeros_like(v), where=norms > 0)


def _scaled(relevance: np.ndarray) -> np.ndarray:
    lo, hi = float(relevance.min()), float(relevance.max())
    return np.ones_like(relevance) if hi <= lo else (relevance - lo) / (hi - lo)


def mmr(relevance: Sequence[float] | np.ndarray, vectors: np.ndarray | None, k: int, diversity: float = 0.0,
        topics: Sequence[Sequence[str]] | None = None, per_topic_cap: int | None = None) -> list[int]:
    """Positions of the chosen candidates, in chosen order (at most ``k``).

    Args:
        relevance: one score per candidate, higher is better.
        vectors: [n, d] candidate embeddings (zero rows = none), or None when ``diversity`` is 0.
        topics: each candidate's topic ids, needed with ``per_topic_cap``.
    Raises:
        ValueError: diversity outside 0..1, k or per_topic_cap < 1, or misaligned inputs."""
    rel = np.asarray(relevance, dtype=np.float64)
    n = len(rel)
    if not 0.0 <= diversity <= 1.0:
        raise ValueError(f"diversity must be in 0..1, got {diversity}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if per_topic_cap is not None and (per_topic_cap < 1 or topics is None):
        raise ValueError(f"per_topic_cap must be >= 1 and needs topics, got {per_topic_cap}")
    if topics is not None and len(topics) != n:
        raise ValueError(f"{len(topics)} topic lists for {n} candidates")
    if diversity > 0 and (vectors is None or len(vectors) != n):
        raise ValueError(f"diversity > 0 needs one vector per candidate ({n})")
    if n == 0:
        return []
    rel = _scaled(rel)
    sim = None
    if diversity > 0:
        unit = unit_rows(vectors)
        sim = unit @ unit.T
    max_sim = np.full(n, -np.inf)  # max cosine to the chosen items (none chosen yet)
    free = np.ones(n, dtype=bool)
    counts: dict[str, int] = {}
    chosen: list[int] = []
    while len(chosen) < k:
        if per_topic_cap is not None:
            for i in np.flatnonzero(free):
                if any(counts.get(t, 0) >= per_topic_cap for t in topics[i]):
                    free[i] = False
        if not free.any():
            break
        if chosen and sim is not None:
            value = (1.0 - diversity) * rel - diversity * max_sim
        else:
            value = rel.copy()  # the first item (and every item without diversity) is the most relevant left
        value[~free] = -np.inf
        best = int(np.argmax(value))  # first maximum: ties keep the input order
        chosen.append(best)
        free[best] = False
        if sim is not None:
            max_sim = np.maximum(max_sim, sim[best])
        if per_topic_cap is not None:
            for t in set(topics[best]):
                counts[t] = counts.get(t, 0) + 1
    return chosen
