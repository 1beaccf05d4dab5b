"""The recommendation ladder's pure parts, shared by ``graph.read`` (Cypher) and ``bench/cold_start.py``.

Ladder (``graph.read.recommendations``), each rung filling what the rungs above left empty:
``model`` (active run's MAY_LIKE) → ``inductive_gnn`` (the user's positive items' ``emb_gnn``, each
L2-normalised, averaged, and searched in the ``content_emb_gnn`` vector index: graph-side neighbour
aggregation, so the API needs no torch) → ``similar_content:emb_text`` (new content without
interactions is reached through its text embedding) → ``declared`` (popular content of declared
topics) → ``topic_popularity`` (decayed topics) → ``cohort_popularity`` (users sharing attributes)
→ ``global_popularity``. Popularity counts only positive interactions (weight >= 0, not a feedback kind).

Blend: a user the model has no list for, but who has positive interactions, gets the personal rungs
(those ranked from the user's own history: ``inductive_gnn``, ``similar_content:emb_text``,
``topic_popularity``, each filling what the one before left) fused with the population rungs
(``declared``, ``cohort_popularity``, ``global_popularity``, likewise) by weighted reciprocal-rank fusion
(``blend``), the personal share growing with the user's positive interactions n as
n / (n + BLEND_HALF). With one interaction the list is mostly the population rungs', re-ranked towards
items both agree on; the personal rungs take over as history accumulates. On MovieLens-100K the personal
rungs alone are below popularity with 1-5 interactions (``bench/results/cold_start.md``).
"""
from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np

STRATEGIES = ("model", "inductive_gnn", "similar_content:emb_text", "declared", "topic_popularity",
              "cohort_popularity", "global_popularity")
INDUCTIVE_SEEDS = 50        # most recent positive items averaged into the inductive query vector
AGE_BUCKET_YEARS = 10       # cohort: same age bucket (age // 10) ...
COHORT_ATTRIBUTES = ("age", "occupation", "gender")
COHORT_MIN_MATCH = 2        # ... users sharing at least this many attributes (fewer if the user has fewer)
PERSONAL = ("inductive_gnn", "similar_content:emb_text", "topic_popularity")   # from the user's own history
BLEND_HALF = 20.0           # personal share = n / (n + BLEND_HALF) for n positive interactions: half at 20
RRF_K = 60                  # reciprocal-rank fusion constant: 1 / (RRF_K + rank)


def cohort_match(a: Mapping[str, Any], b: Mapping[str, Any]) -> int:
    """How many cohort attributes two users share (age by AGE_BUCKET_YEARS bucket)."""
    n = 0
    for attr in COHORT_ATTRIBUTES:
        x, y = a.get(attr), b.get(attr)
        if x is None or y is None:
            continue
        if attr == "age":
            n += int(x) // AGE_BUCKET_YEARS == int(y) // AGE_BUCKET_YEARS
        else:
            n += x == y
    return n


def cohort_threshold(user: Mapping[str, Any]) -> int:
    """Matches a cohort member needs: COHORT_MIN_MATCH, or every attribute the user has if fewer; 0 = no cohort."""
    return min(COHORT_MIN_MATCH, sum(user.get(a) is not None for a in COHORT_ATTRIBUTES))


def inductive_query(vectors: np.ndarray) -> np.ndarray:
    """Mean of the L2-normalised rows: the inductive rung's query vector."""
    v = np.asarray(vectors, dtype=np.float64)
    return (v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)).mean(axis=0)


def demote(items: Sequence[dict[str, Any]], demoted: Collection[str], factor: float) -> list[dict[str, Any]]:
    """Re-rank: an item whose id is in ``demoted`` ranks as if its 1-based position were divided by
    ``factor`` (0.25: four times further down); others keep their order. Marks them ``demoted: true``."""
    if not demoted:
        return list(items)
    keyed = []
    for pos, item in enumerate(items, start=1):
        if item["id"] in demoted:
            keyed.append((pos / factor, pos, {**item, "demoted": True}))
        else:
            keyed.append((float(pos), pos, item))
    keyed.sort(key=lambda x: (x[0], x[1]))
    return [x[2] for x in keyed]


def pool_size(k: int, has_demotions: bool, factor: float, cap: int) -> int:
    """Candidates to fetch for k results: k, or enough that demoted items can sink below k."""
    return min(max(k, math.ceil(k / factor)), max(k, cap)) if has_demotions else k


def personal_share(positives: int, half: float = BLEND_HALF) -> float:
    """Weight of the personal rungs in the blend for a user with ``positives`` positive interactions."""
    if half <= 0:
        raise ValueError(f"blend half must be > 0, got {half}")
    return positives / (positives + half) if positives > 0 else 0.0


def blend(personal: Sequence[dict[str, Any]], fallback: Sequence[dict[str, Any]], share: float, n: int,
          rrf_k: int = RRF_K) -> list[dict[str, Any]]:
    """Top ``n`` of two rankings fused by weighted reciprocal rank:
    ``share / (rrf_k + rank_personal) + (1 - share) / (rrf_k + rank_fallback)`` (1-based; an item absent
    from a list gets nothing from it); ties keep personal order, then fallback order. An item in both
    lists is the personal one with ``strategy`` "<personal>+<fallback>"."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"blend share must be in [0, 1], got {share}")
    fused: dict[Any, list] = {}
    for pos, item in enumerate(personal):
        fused.setdefault(item["id"], [0.0, pos, len(fallback), dict(item)])[0] += share / (rrf_k + pos + 1)
    for pos, item in enumerate(fallback):
        entry = fused.get(item["id"])
        if entry is None:
            fused[item["id"]] = [(1 - share) / (rrf_k + pos + 1), len(personal), pos, dict(item)]
        else:
            entry[0] += (1 - share) / (rrf_k + pos + 1)
            entry[2] = min(entry[2], pos)
            if "+" not in entry[3]["strategy"]:
                entry[3]["strategy"] = f"{entry[3]['strategy']}+{item['strategy']}"
    ranked = sorted(fused.values(), key=lambda e: (-e[0], e[1], e[2]))
    return [e[3] for e in ranked[:n]]


def blend_name(items: Sequence[dict[str, Any]]) -> str | None:
    """The blend's name, "<first personal rung>+<first fallback rung>" over ``items``' strategies."""
    rungs = [r for i in items for r in i["strategy"].split("+")]
    personal = next((r for r in rungs if r in PERSONAL), None)
    fallback = next((r for r in rungs if r not in PERSONAL), None)
    return "+".join(r for r in (personal, fallback) if r) or None
