"""The synthetic world's parameters and its pure, seeded sampling (numpy in, numpy out; no I/O).

Topic hierarchy, content topics and popularity, user interest mixtures (with drift), and
per-chunk interactions, follows and ground truth. Every random stream is seeded by
``(seed, stream, chunk)``, so a world depends only on its config.
"""
from __future__ import annotations

import calendar
import time
from dataclasses import dataclass, field

import numpy as np

from ingestion.synth.media import AudioConfig, ImageConfig
from ingestion.synth.text import TextConfig, max_parents, max_topics

DAY = 86_400
MODALITIES = ("text", "image", "audio")
DEFAULT_KIND_PROBS = (("view", 0.50), ("click", 0.22), ("like", 0.12), ("rate", 0.06),
                      ("comment", 0.05), ("share", 0.05))
VALID_KINDS = ("view", "click", "like", "rate", "share", "comment")

# Random stream ids (never reorder: they define the world for a seed).
(STREAM_TOPICS, STREAM_CONTENT, STREAM_USERS, STREAM_INTERACTIONS, STREAM_FOLLOWS, STREAM_TEXT, STREAM_IMAGE,
 STREAM_AUDIO) = range(8)


@dataclass(frozen=True)
class WorldConfig:
    """Everything that defines a synthetic world; ``seed`` + these values → the same bytes."""

    n_users: int = 1_000
    n_content: int = 500
    n_topics: int = 20
    seed: int = 0
    n_parents: int = 0                  # 0 → round(n_topics / 5), within [1, max_parents()]
    n_windows: int = 3
    window_days: int = 30
    start: str = "2025-01-01"          # UTC date of window 0
    user_topic_probs: tuple[float, ...] = (0.35, 0.40, 0.25)     # P(1, 2, 3 planted topics)
    content_topic_probs: tuple[float, ...] = (0.50, 0.35, 0.15)  # P(1, 2, 3 topics per item)
    mixture_alpha: float = 1.0          # Dirichlet concentration of user mixtures
    content_alpha: float = 2.0          # Dirichlet concentration of content topic weights
    sibling_bias: float = 0.5           # P(an extra topic is a sibling of the first)
    topic_skew: float = 0.5             # topic prevalence ∝ rank^-skew
    drift_fraction: float = 0.2         # share of users whose mixture changes once
    interactions_per_window: float = 8.0
    activity_sigma: float = 0.7         # log-normal spread of user activity
    noise_rate: float = 0.1             # share of interactions drawn from global popularity only
    popularity_exponent: float = 0.8    # item popularity ∝ rank^-exponent
    follows_mean: float = 6.0
    homophily: float = 0.8              # P(a followee is drawn from a follower's interest topic)
    kind_probs: tuple[tuple[str, float], ...] = DEFAULT_KIND_PROBS
    chunk_users: int = 50_000
    text: TextConfig = field(default_factory=TextConfig)
    image: ImageConfig = field(default_factory=ImageConfig)
    audio: AudioConfig = field(default_factory=AudioConfig)

    def __post_init__(self) -> None:
        def need(ok: bool, what: str, value: object) -> None:
            if not ok:
                raise ValueError(f"{what}, got {value!r}")

        need(self.n_users >= 2, "n_users must be >= 2", self.n_users)
        need(4 <= self.n_topics <= max_topics(), f"n_topics must be in [4, {max_topics()}]", self.n_topics)
        need(self.n_content >= self.n_topics, "n_content must be >= n_topics (every topic gets content)",
             self.n_content)
        need(self.seed >= 0, "seed must be >= 0", self.seed)
        need(0 <= self.n_parents <= min(self.n_topics, max_parents()),
             f"n_parents must be in [0, min(n_topics, {max_parents()})]", self.n_parents)
        need(self.n_windows >= 1, "n_windows must be >= 1", self.n_windows)
        need(self.window_days >= 1, "window_days must be >= 1", self.window_days)
        try:
            time.strptime(self.start, "%Y-%m-%d")
        except ValueError as e:
            raise ValueError(f"start must be a date YYYY-MM-DD, got {self.start!r}") from e
        for name in ("user_topic_probs", "content_topic_probs"):
            probs = getattr(self, name)
            need(len(probs) >= 1 and min(probs) >= 0 and abs(sum(probs) - 1.0) < 1e-6,
                 f"{name} must be non-negative and sum to 1", probs)
        for name in ("sibling_bias", "drift_fraction", "noise_rate", "homophily"):
            value = getattr(self, name)
            need(0.0 <= value <= 1.0, f"{name} must be in [0, 1]", value)
        need(self.drift_fraction == 0.0 or self.n_windows >= 2, "drift_fraction > 0 needs n_windows >= 2",
             self.n_windows)
        for name in ("mixture_alpha", "content_alpha"):
            need(getattr(self, name) > 0, f"{name} must be > 0", getattr(self, name))
        for name in ("topic_skew", "popularity_exponent", "activity_sigma", "follows_mean"):
            need(getattr(self, name) >= 0, f"{name} must be >= 0", getattr(self, name))
        need(self.interactions_per_window > 0, "interactions_per_window must be > 0", self.interactions_per_window)
        kinds = [k for k, _ in self.kind_probs]
        need(set(kinds) <= set(VALID_KINDS) and len(kinds) == len(set(kinds)),
             f"kind_probs kinds must be distinct and among {VALID_KINDS}", kinds)
        probs = [p for _, p in self.kind_probs]
        need(min(probs) >= 0 and abs(sum(probs) - 1.0) < 1e-6, "kind_probs must sum to 1", probs)
        need(self.chunk_users >= 1, "chunk_users must be >= 1", self.chunk_users)

    @property
    def parents(self) -> int:
        return self.n_parents or min(max_parents(), max(1, round(self.n_topics / 5)))

    @property
    def max_user_topics(self) -> int:
        return len(self.user_topic_probs)

    @property
    def start_ts(self) -> int:
        return calendar.timegm(time.strptime(self.start, "%Y-%m-%d"))

    @property
    def window_seconds(self) -> int:
        return self.window_days * DAY

    def rng(self, stream: int, chunk: int = 0) -> np.random.Generator:
        return np.random.default_rng([self.seed, stream, chunk])


@dataclass(frozen=True)
class Topics:
    parent: np.ndarray       # (T,) parent index of each leaf
    prevalence: np.ndarray   # (T,) probability of being drawn as a first topic


@dataclass(frozen=True)
class Content:
    topics: np.ndarray       # (M, 3) leaf topics, -1 padded, by descending weight
    weights: np.ndarray      # (M, 3) float32, rows sum to 1
    popularity: np.ndarray   # (M,) float64
    shown: np.ndarray        # (3 modalities, M, 3) bool: topic slot rendered in that modality
    created_at: np.ndarray   # (M,) epoch seconds


@dataclass(frozen=True)
class Users:
    topics: np.ndarray          # (N, K) planted topics before the switch, -1 padded, by weight
    weights: np.ndarray         # (N, K) float32
    drift_topics: np.ndarray    # (N, K) topics from the switch window on (drifters only)
    drift_weights: np.ndarray   # (N, K)
    switch: np.ndarray          # (N,) int8 window where the mixture changes; -1 = no drift
    activity: np.ndarray        # (N,) float32 multiplier of interactions_per_window
    created_at: np.ndarray      # (N,) epoch seconds


@dataclass(frozen=True)
class World:
    cfg: WorldConfig
    topics: Topics
    content: Content
    users: Users
    # topic → content index, popularity-weighted sampling tables
    topic_ptr: np.ndarray
    topic_items: np.ndarray
    topic_cum: np.ndarray
    global_cum: np.ndarray
    # top planted topic → users (homophilous follows)
    top_ptr: np.ndarray
    top_users: np.ndarray


# ---------------------------------------------------------------- building blocks
def _powerlaw(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    """Weights ∝ rank^-exponent over a random permutation, normalised."""
    w = np.arange(1, n + 1, dtype=np.float64) ** -exponent
    w = w[rng.permutation(n)]
    return w / w.sum()


def _siblings(parent: np.ndarray, n_parents: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    order = np.argsort(parent, kind="stable")
    counts = np.bincount(parent, minlength=n_parents)
    return order, np.concatenate([[0], np.cumsum(counts)[:-1]]), counts


def _topic_sets(rng: np.random.Generator, n: int, k_probs: tuple[float, ...], topics: Topics,
                n_parents: int, sibling_bias: float, first: np.ndarray | None = None) -> np.ndarray:
    """(n, K) distinct leaf topics, -1 padded: a first topic, then siblings or prevalence draws."""
    n_topics, width = len(topics.parent), len(k_probs)
    k = rng.choice(width, size=n, p=np.asarray(k_probs)) + 1
    out = np.full((n, width), -1, dtype=np.int32)
    out[:, 0] = rng.choice(n_topics, size=n, p=topics.prevalence) if first is None else first
    order, start, counts = _siblings(topics.parent, n_parents)
    par = topics.parent[out[:, 0]]
    for j in range(1, width):
        sib = order[start[par] + (rng.random(n) * counts[par]).astype(np.int64)]
        other = rng.choice(n_topics, size=n, p=topics.prevalence)
        cand = np.where(rng.random(n) < sibling_bias, sib, other).astype(np.int32)
        dup = (out[:, :j] == cand[:, None]).any(axis=1)
        out[:, j] = np.where((j < k) & ~dup, cand, -1)
    return out


def _sorted_weights(rng: np.random.Generator, sets: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Dirichlet(alpha) weights over each row's valid slots; rows reordered by descending weight."""
    g = rng.gamma(alpha, size=sets.shape)
    g = np.where(sets >= 0, np.maximum(g, 1e-12), 0.0)
    w = g / g.sum(axis=1, keepdims=True)
    order = np.argsort(-w, axis=1, kind="stable")
    return np.take_along_axis(sets, order, axis=1), np.take_along_axis(w, order, axis=1).astype(np.float32)


def _content_index(content: Content, n_topics: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rows, slots = np.nonzero(content.topics >= 0)
    tops = content.topics[rows, slots]
    order = np.lexsort((rows, tops))
    items, tops = rows[order].astype(np.int64), tops[order]
    ptr = np.concatenate([[0], np.cumsum(np.bincount(tops, minlength=n_topics))])
    return ptr, items, np.cumsum(content.popularity[items]), np.cumsum(content.popularity)


# ---------------------------------------------------------------- the world
def build_world(cfg: WorldConfig) -> World:
    """Sample topics, content and users (all in memory: O(users + content) small arrays)."""
    t_count, m, n, width = cfg.n_topics, cfg.n_content, cfg.n_users, cfg.max_user_topics
    rng = cfg.rng(STREAM_TOPICS)
    topics = Topics(parent=(np.arange(t_count) % cfg.parents).astype(np.int32),
                    prevalence=_powerlaw(rng, t_count, cfg.topic_skew))

    rng = cfg.rng(STREAM_CONTENT)
    first = rng.choice(t_count, size=m, p=topics.prevalence).astype(np.int32)
    first[:t_count] = rng.permutation(t_count)  # every topic has content
    sets = _topic_sets(rng, m, cfg.content_topic_probs, topics, cfg.parents, cfg.sibling_bias, first)
    c_topics, c_weights = _sorted_weights(rng, sets, cfg.content_alpha)
    p_show = (cfg.text.p_mention, cfg.image.p_show, cfg.audio.p_show)
    shown = np.stack([(rng.random(c_topics.shape) < p) & (c_topics >= 0) for p in p_show])
    created = cfg.start_ts - rng.integers(1, 90 * DAY, size=m)
    content = Content(c_topics, np.round(c_weights, 3), _powerlaw(rng, m, cfg.popularity_exponent), shown, created)

    rng = cfg.rng(STREAM_USERS)
    u_topics, u_weights = _sorted_weights(
        rng, _topic_sets(rng, n, cfg.user_topic_probs, topics, cfg.parents, cfg.sibling_bias), cfg.mixture_alpha)
    drifter = rng.random(n) < cfg.drift_fraction
    switch = np.where(drifter, rng.integers(1, max(2, cfg.n_windows), size=n), -1).astype(np.int8)
    new = _topic_sets(rng, n, cfg.user_topic_probs, topics, cfg.parents, cfg.sibling_bias)
    new[(new[:, :, None] == u_topics[:, None, :]).any(axis=2)] = -1   # drop topics already planted
    empty = (new < 0).all(axis=1)
    fill = (u_topics[:, 0] + 1 + rng.integers(t_count - 1, size=n)) % t_count
    for _ in range(width):  # step past old topics (at most K of them)
        clash = (fill[:, None] == u_topics).any(axis=1)
        fill = np.where(clash, (fill + 1) % t_count, fill)
    new[empty, 0] = fill[empty]
    d_topics, d_weights = _sorted_weights(rng, new, cfg.mixture_alpha)
    d_topics[~drifter] = -1
    d_weights[~drifter] = 0.0
    activity = rng.lognormal(-cfg.activity_sigma ** 2 / 2, cfg.activity_sigma, size=n).astype(np.float32)
    users = Users(u_topics, u_weights, d_topics, d_weights, switch, activity,
                  cfg.start_ts - rng.integers(1, 365 * DAY, size=n))

    ptr, items, cum, gcum = _content_index(content, t_count)
    top = u_topics[:, 0]
    return World(cfg, topics, content, users, ptr, items, cum, gcum,
                 np.concatenate([[0], np.cumsum(np.bincount(top, minlength=t_count))]),
                 np.argsort(top, kind="stable"))


def mixture(users: Users, lo: int, hi: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Planted topics and weights of users [lo, hi) in ``window``."""
    moved = ((users.switch[lo:hi] >= 0) & (window >= users.switch[lo:hi]))[:, None]
    return (np.where(moved, users.drift_topics[lo:hi], users.topics[lo:hi]),
            np.where(moved, users.drift_weights[lo:hi], users.weights[lo:hi]))


def _pick_slot(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    cum = np.cumsum(weights, axis=1)
    slot = (rng.random(len(weights))[:, None] * cum[:, -1:] > cum).sum(axis=1)
    return np.minimum(slot, (weights > 0).sum(axis=1) - 1)


def _draw_cum(rng: np.random.Generator, cum: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Index in [lo, hi) drawn ∝ increments of ``cum`` (a global cumulative sum)."""
    base = np.where(lo > 0, cum[np.maximum(lo - 1, 0)], 0.0)
    target = base + rng.random(len(lo)) * (cum[hi - 1] - base)
    return np.clip(np.searchsorted(cum, target, side="right"), lo, hi - 1)


@dataclass(frozen=True)
class InteractionChunk:
    user: np.ndarray      # int64 user index
    content: np.ndarray   # int64 content index
    kind: np.ndarray      # int8 index into cfg.kind_probs
    rating: np.ndarray    # float32, NaN unless kind == rate
    ts: np.ndarray        # int64 epoch seconds


def interactions(world: World, lo: int, hi: int) -> InteractionChunk:
    """Interactions of users [lo, hi): per window, topic ~ mixture, item ~ popularity within topic."""
    cfg, users, content = world.cfg, world.users, world.content
    rng = cfg.rng(STREAM_INTERACTIONS, lo // cfg.chunk_users)
    kind_cum = np.cumsum([p for _, p in cfg.kind_probs])
    rate = next((i for i, (k, _) in enumerate(cfg.kind_probs) if k == "rate"), -1)
    parts = []
    for w in range(cfg.n_windows):
        topics_w, weights_w = mixture(users, lo, hi, w)
        counts = rng.poisson(cfg.interactions_per_window * users.activity[lo:hi])
        local = np.repeat(np.arange(hi - lo), counts)
        topic = topics_w[local, _pick_slot(rng, weights_w[local])]
        by_topic = _draw_cum(rng, world.topic_cum, world.topic_ptr[topic], world.topic_ptr[topic + 1])
        item = world.topic_items[by_topic]
        noisy = np.nonzero(rng.random(len(local)) < cfg.noise_rate)[0]
        item[noisy] = _draw_cum(rng, world.global_cum, np.zeros(len(noisy), dtype=np.int64),
                                np.full(len(noisy), len(world.global_cum), dtype=np.int64))
        kind = np.minimum(np.searchsorted(kind_cum, rng.random(len(local)) * kind_cum[-1], side="right"),
                          len(kind_cum) - 1).astype(np.int8)
        ct = content.topics[item]
        liked = ((ct[:, :, None] == topics_w[local][:, None, :]) & (ct[:, :, None] >= 0)).any(axis=(1, 2))
        score = np.where(liked, rng.normal(4.1, 0.8, len(local)), rng.normal(2.6, 1.0, len(local)))
        rating = np.where(kind == rate, np.clip(np.round(score), 1, 5), np.nan).astype(np.float32)
        ts = cfg.start_ts + w * cfg.window_seconds + rng.integers(0, cfg.window_seconds, size=len(local))
        parts.append((local + lo, item, kind, rating, ts))
    user, item, kind, rating, ts = (np.concatenate(cols) for cols in zip(*parts))
    order = np.argsort(user * (cfg.n_windows * cfg.window_seconds) + (ts - cfg.start_ts), kind="stable")
    return InteractionChunk(user[order], item[order], kind[order], rating[order], ts[order])


def follows(world: World, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(src, dst, ts) follow edges of users [lo, hi): homophilous draws share a planted topic."""
    cfg, users = world.cfg, world.users
    rng = cfg.rng(STREAM_FOLLOWS, lo // cfg.chunk_users)
    local = np.repeat(np.arange(hi - lo), rng.poisson(cfg.follows_mean, size=hi - lo))
    topic = users.topics[lo:hi][local, _pick_slot(rng, users.weights[lo:hi][local])]
    start, count = world.top_ptr[topic], world.top_ptr[topic + 1] - world.top_ptr[topic]
    similar = world.top_users[np.minimum(start + (rng.random(len(local)) * count).astype(np.int64),
                                         len(world.top_users) - 1)]
    homophilous = (rng.random(len(local)) < cfg.homophily) & (count > 0)
    dst = np.where(homophilous, similar, rng.integers(0, cfg.n_users, size=len(local)))
    src = local + lo
    key = np.unique((src * cfg.n_users + dst)[src != dst])
    ts = cfg.start_ts + rng.integers(0, cfg.n_windows * cfg.window_seconds, size=len(key))
    return key // cfg.n_users, key % cfg.n_users, ts


def truth_rows(world: World, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(user, window, topic, weight) ground-truth rows of users [lo, hi), by user then window."""
    cfg = world.cfg
    tops, wts = zip(*(mixture(world.users, lo, hi, w) for w in range(cfg.n_windows)))
    topic, weight = np.stack(tops, axis=1), np.stack(wts, axis=1)        # (n, W, K)
    user = np.broadcast_to(np.arange(lo, hi)[:, None, None], topic.shape)
    window = np.broadcast_to(np.arange(cfg.n_windows, dtype=np.int8)[None, :, None], topic.shape)
    keep = topic >= 0
    return user[keep], window[keep], topic[keep], weight[keep]
