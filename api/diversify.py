"""``diversity=0..1`` and ``per_topic_cap=`` on recommendations: MMR re-ranking of an over-fetched list.

The endpoint asks ``graph.read.recommendations`` for ``pool_size(k)`` candidates (the ladder's order,
feedback applied), then ``graph.rerank.mmr`` picks ``k`` of them over the content's ``emb_text``
vectors. Relevance is the candidate's position (1 for the first, falling linearly), because scores of
different strategies are not comparable; ``diversity=0`` with no cap skips all of this.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from api.params import float_arg, int_arg
from graph import read
from graph.db import Graph
from graph.rerank import DEFAULT_EMBEDDING, mmr

POOL_FACTOR = 5    # candidates fetched per requested item when re-ranking
MIN_POOL = 50
MAX_POOL = 400


@dataclass(frozen=True)
class Diversify:
    """The request's re-ranking parameters."""

    diversity: float = 0.0
    per_topic_cap: int | None = None

    @property
    def active(self) -> bool:
        return self.diversity > 0 or self.per_topic_cap is not None

    def pool_size(self, k: int) -> int:
        return min(max(POOL_FACTOR * k, MIN_POOL), MAX_POOL) if self.active else k


def diversify_args(max_cap: int) -> Diversify:
    """Parse ``diversity`` (0..1, default 0) and ``per_topic_cap`` (1..max_cap, default none)."""
    cap = int_arg("per_topic_cap", 0, 1, max_cap)
    return Diversify(float_arg("diversity", 0.0, 0.0, 1.0), cap or None)


def rerank(g: Graph, result: dict[str, Any], k: int, params: Diversify) -> dict[str, Any]:
    """``result`` (an over-fetched recommendations body) cut to ``k`` items by MMR / topic cap."""
    items = result["items"]
    if not params.active or not items:
        return {**result, "items": items[:k]}
    info = read.content_vectors(g, [i["id"] for i in items], DEFAULT_EMBEDDING)
    vectors = None
    if params.diversity > 0:
        dim = next((len(v["vector"]) for v in info.values() if v["vector"]), 1)
        vectors = np.array([info.get(i["id"], {}).get("vector") or [0.0] * dim for i in items], dtype=np.float64)
    topics = [info.get(i["id"], {}).get("topics", []) for i in items]
    relevance = np.linspace(1.0, 0.0, num=len(items), endpoint=False)
    chosen = [items[j] for j in mmr(relevance, vectors, k, params.diversity, topics, params.per_topic_cap)]
    strategies = list(dict.fromkeys(i["strategy"] for i in chosen))
    strategy = result["strategy"] if "personal_share" in result else (strategies[0] if strategies else None)
    return {**result, "items": chosen, "strategy": strategy, "strategies": strategies,
            "rerank": {"diversity": params.diversity, "per_topic_cap": params.per_topic_cap,
                       "embedding": DEFAULT_EMBEDDING, "candidates": len(items)}}
