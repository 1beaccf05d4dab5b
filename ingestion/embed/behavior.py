"""Behaviour features of a user from their interactions and follows: 16 numbers (see FEATURES)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from graph.events import RATING_MAX
from graph.model import INTERACTION_KINDS
from ingestion.embed.registry import register

DAY_MS = 86_400_000
FEATURES = (
    "log1p_events", *(f"share_{k}" for k in INTERACTION_KINDS), "log1p_items",
    "mean_rating", "std_rating", "share_rated", "log1p_days_since_last", "log1p_active_span_days",
    "log1p_events_per_active_day", "log1p_following", "log1p_followers",
)
BEHAVIOR_DIM = len(FEATURES)


@dataclass(frozen=True)
class Activity:
    """One user's interactions (kinds, ratings of rated events, epoch-ms times), follow counts and
    the reference time ``ref_ms`` recency is measured from (the latest event in the graph)."""

    kinds: Sequence[str]
    ratings: Sequence[float]
    ts_ms: Sequence[int]
    items: int
    following: int
    followers: int
    ref_ms: int

    @property
    def empty(self) -> bool:
        return not self.kinds and not self.following and not self.followers


def behavior_vector(a: Activity) -> np.ndarray:
    """The FEATURES of one user."""
    n = len(a.kinds)
    shares = [sum(1 for k in a.kinds if k == kind) / n if n else 0.0 for kind in INTERACTION_KINDS]
    ratings = np.asarray(a.ratings, dtype=np.float64) / RATING_MAX
    ts = np.asarray(a.ts_ms, dtype=np.int64)
    if n:
        since = max(0, a.ref_ms - int(ts.max())) / DAY_MS
        span = (int(ts.max()) - int(ts.min())) / DAY_MS
        per_day = n / len(np.unique(ts // DAY_MS))
    else:
        since = span = per_day = 0.0
    vec = [np.log1p(n), *shares, np.log1p(a.items),
           float(ratings.mean()) if len(ratings) else 0.0, float(ratings.std()) if len(ratings) else 0.0,
           len(ratings) / n if n else 0.0, np.log1p(since), np.log1p(span), np.log1p(per_day),
           np.log1p(a.following), np.log1p(a.followers)]
    return np.asarray(vec, dtype=np.float32)


class BehaviorEncoder:
    name = "behavior-v1"
    dim = BEHAVIOR_DIM

    def encode(self, items: Sequence[Activity]) -> np.ndarray:
        """Users with no activity at all must not be passed (their behaviour is missing, not zero)."""
        if any(a.empty for a in items):
            raise ValueError("a user without interactions or follows has no behaviour vector")
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([behavior_vector(a) for a in items])


@register("behavior", "behavior-v1")
def _behavior(device: str) -> BehaviorEncoder:
    return BehaviorEncoder()
