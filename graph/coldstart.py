"""The recommendation ladder's pure parts, shared by ``graph.read`` (Cypher) and ``bench/cold_start.py``.

Ladder (``graph.read.recommendations``), each rung filling what the rungs above left empty:
``model`` (active run's MAY_LIKE) → ``inductive_gnn`` (the user's positive items' ``emb_gnn``, each
L2-normalised, averaged, and searched in the ``content_emb_gnn`` vector index: graph-side neighbour
aggregation, so the API needs no torch) → ``similar_content:emb_text`` (new content without
interactions is reached through its text embedding) → ``declared`` (popular content of declared
topics) → ``topic_popularity`` (decayed topics) → ``cohort_popularity`` (users sharing attributes)
→ ``global_popularity``. Popularity counts only positive interactions (weight >= 0, not a feedback kind).
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
