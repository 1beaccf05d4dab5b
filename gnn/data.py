"""Snapshot -> typed training data: id maps, masked node features, bidirectional edges, splits, weights.

Pure numpy; no torch, no backend. Conventions:
- a user–content *pair* is positive when the user interacted with it and none of those interactions is
  negative (weight < 0, kind in ``negative_kinds``, or a feedback kind: dislike, hide, not_interested,
  skip); negatives are never positives, never held out (they stay "seen", so never recommended back);
- pair time = first interaction time (when the item became known to the user);
- pair weight = Σ weight · 0.5^((t_ref − ts) / half_life) over the pair's interactions, t_ref = the
  snapshot's ``reference_time`` (manifest; default: max ts);
- splits hold out, per user with >= ``min_user_interactions`` pairs, the last (temporal) or random
  (random) ``test_frac`` then ``val_frac`` of pairs; only training pairs become graph edges, and the
  degree/recency node statistics are computed from training pairs only (no leakage);
- node features computed at ingestion from all interactions (``graph.model.INTERACTION_DERIVED_PROPERTIES``,
  e.g. User ``emb_behavior``) would carry the held-out ones: dropped unless ``interaction_features: keep``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

import numpy as np

from graph.errors import InputError
from graph.model import (CONTENT, FEEDBACK_KINDS, FOLLOWS, HAS_TOPIC, INTERACTED, INTERACTION_DERIVED_PROPERTIES,
                         MODEL_REL_TYPES, TOPIC, USER)
from graph.snapshot import EdgeType, Snapshot

from gnn.config import DAY, TrainConfig

logger = logging.getLogger(__name__)

UC: EdgeType = (USER, INTERACTED, CONTENT)
CT: EdgeType = (CONTENT, HAS_TOPIC, TOPIC)
STATS = "_stats"  # name of the always-present numeric node statistics (degree, recency)


def reverse(etype: EdgeType) -> EdgeType:
    """(A, R, B) -> (B, rev_R, A)."""
    return (etype[2], f"rev_{etype[1]}", etype[0])


def parse_time(value: object, *, file: str = "manifest.json", field_name: str = "reference_time") -> float:
    """Epoch seconds from a number or an ISO-8601 string (naive = UTC)."""
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as e:
            raise InputError(f"not a time: {value!r}", file=file, field=field_name, value=value) from e
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        return dt.timestamp()
    raise InputError(f"not a time: {value!r}", file=file, field=field_name, value=value)


def decay(ts: np.ndarray, t_ref: float | np.ndarray, half_life_s: float) -> np.ndarray:
    """0.5 ** ((t_ref - ts) / half_life), clipped to 1 for events after t_ref."""
    age = np.maximum(np.asarray(t_ref, dtype=np.float64) - ts, 0.0)
    return np.power(0.5, age / half_life_s)


@dataclass
class Pairs:
    """Unique positive user–content pairs with first/last time and decayed weight."""

    user: np.ndarray
    content: np.ndarray
    first_ts: np.ndarray
    last_ts: np.ndarray
    weight: np.ndarray

    def __len__(self) -> int:
        return len(self.user)

    def take(self, idx: np.ndarray) -> "Pairs":
        return Pairs(self.user[idx], self.content[idx], self.first_ts[idx], self.last_ts[idx], self.weight[idx])


@dataclass
class TrainData:
    """Everything a backend needs; arrays indexed by the snapshot's contiguous ids."""

    node_ids: dict[str, np.ndarray]
    num_nodes: dict[str, int]
    features: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]  # label -> prop -> (x [n,d], mask [n])
    edges: dict[EdgeType, tuple[np.ndarray, np.ndarray]]           # message-passing graph, both directions
    train: Pairs
    val: Pairs
    test: Pairs
    all_pairs: Pairs
    user_topic: tuple[np.ndarray, np.ndarray, np.ndarray]          # (user, topic, decayed interest) from train
    content_topics: tuple[np.ndarray, np.ndarray]                  # the snapshot's HAS_TOPIC (content, topic),
                                                                   # kept when it is no message-passing relation
    seen: tuple[np.ndarray, np.ndarray]                            # every (user, content) in the snapshot
    reference_time: float
    split: str
    meta: dict = field(default_factory=dict)

    @property
    def etypes(self) -> list[EdgeType]:
        return list(self.edges)

    def with_all_interactions(self) -> "TrainData":
        """A copy whose User–Content edges are every positive pair (train + val + test): the graph
        used to compute the embeddings written to a run (node statistics stay the training ones)."""
        return self.with_interactions(self.all_pairs)

    def with_interactions(self, pairs: Pairs) -> "TrainData":
        """A copy whose User–Content message-passing edges are ``pairs`` (node statistics unchanged)."""
        edges = dict(self.edges)
        edges[UC] = (pairs.user, pairs.content)
        edges[reverse(UC)] = (pairs.content, pairs.user)
        return replace(self, edges=edges)

    def feature_dims(self) -> dict[str, dict[str, int]]:
        return {lab: {p: x.shape[1] for p, (x, _) in feats.items()} for lab, feats in self.features.items()}


def interaction_arrays(snap: Snapshot) -> dict[str, np.ndarray]:
    """The snapshot's INTERACTED arrays; InputError if there are none."""
    if UC not in snap.edges or len(snap.edges[UC]["src"]) == 0:
        raise InputError("snapshot has no User-INTERACTED->Content edges", file="edges/User__INTERACTED__Content.npz")
    arrays = snap.edges[UC]
    if "ts" not in arrays:
        raise InputError("INTERACTED edges need a ts array", file="edges/User__INTERACTED__Content.npz", field="ts")
    return arrays


def reference_time(snap: Snapshot) -> float:
    """Manifest ``reference_time`` if present, else the latest interaction time."""
    if snap.manifest.get("reference_time") is not None:
        return parse_time(snap.manifest["reference_time"])
    return float(interaction_arrays(snap)["ts"].max())


def negative_mask(snap: Snapshot, negative_kinds: tuple[str, ...]) -> np.ndarray:
    """True for interactions that express dislike: weight < 0, a configured negative kind, or a
    feedback kind (``graph.model.FEEDBACK_KINDS``: always negative, whatever its stored weight)."""
    arrays = interaction_arrays(snap)
    n = len(arrays["src"])
    neg = np.zeros(n, dtype=bool)
    if "weight" in arrays:
        neg |= arrays["weight"] < 0
    kinds = list(snap.manifest.get("interaction_kinds", []))
    if negative_kinds and "kind" in arrays:
        unknown = [k for k in negative_kinds if k not in kinds]
        if unknown:
            raise InputError(f"negative kind(s) {unknown} not in interaction_kinds {kinds}",
                             file="manifest.json", field="interaction_kinds")
        neg |= np.isin(arrays["kind"], [kinds.index(k) for k in negative_kinds])
    feedback = [kinds.index(k) for k in FEEDBACK_KINDS if k in kinds]
    if feedback and "kind" in arrays:
        neg |= np.isin(arrays["kind"], feedback)
    return neg


def positive_pairs(snap: Snapshot, cfg: TrainConfig, t_ref: float) -> tuple[Pairs, dict[str, np.ndarray]]:
    """Unique positive pairs (pairs with any negative interaction dropped) and their events (key, ts, w)."""
    arrays = interaction_arrays(snap)
    u, c, ts = arrays["src"].astype(np.int64), arrays["dst"].astype(np.int64), arrays["ts"].astype(np.float64)
    w = np.abs(arrays["weight"].astype(np.float64)) if "weight" in arrays else np.ones(len(u))
    neg = negative_mask(snap, cfg.negative_kinds)
    n_content = snap.num_nodes(CONTENT)
    key = u * n_content + c
    bad_keys = np.unique(key[neg])
    keep = ~np.isin(key, bad_keys)
    key, ts, w = key[keep], ts[keep], w[keep]
    uniq, inv = np.unique(key, return_inverse=True)
    first = np.full(len(uniq), np.inf)
    last = np.full(len(uniq), -np.inf)
    np.minimum.at(first, inv, ts)
    np.maximum.at(last, inv, ts)
    weight = np.zeros(len(uniq))
    np.add.at(weight, inv, w * decay(ts, t_ref, cfg.half_life_s))
    if len(bad_keys):
        logger.info("%d user-content pairs have negative interactions and are never positives", len(bad_keys))
    events = {"key": key, "ts": ts, "w": w}
    return Pairs(uniq // n_content, uniq % n_content, first, last, weight), events


def split_pairs(pairs: Pairs, cfg: TrainConfig, split: str) -> tuple[Pairs, Pairs, Pairs]:
    """Per-user hold-out: (train, val, test). Temporal: by first time (ties by content id)."""
    rng = np.random.default_rng(cfg.seed)
    if split == "temporal":
        order = np.lexsort((pairs.content, pairs.first_ts, pairs.user))
    else:
        order = np.lexsort((rng.random(len(pairs)), pairs.user))
    users = pairs.user[order]
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    ends = np.r_[starts[1:], len(users)]
    role = np.zeros(len(pairs), dtype=np.int8)  # 0 train, 1 val, 2 test (in sorted order)
    for s, e in zip(starts, ends):
        n = e - s
        if n < cfg.min_user_interactions:
            continue
        n_test = max(1, int(round(cfg.test_frac * n)))
        n_val = max(1, int(round(cfg.val_frac * n)))
        if n - n_test - n_val < 1:
            continue
        role[e - n_test:e] = 2
        role[e - n_test - n_val:e - n_test] = 1
    train, val, test = (pairs.take(np.sort(order[role == r])) for r in (0, 1, 2))
    return train, val, test


def user_topic_interest(train: Pairs, events: dict[str, np.ndarray], ct: dict[str, np.ndarray] | None,
                        n_users: int, n_content: int, n_topics: int,
                        half_life_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decayed interest (format.md; t_ref = the user's latest training interaction) as sparse (u, t, value)."""
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32))
    if ct is None or n_topics == 0 or len(train) == 0:
        return empty
    train_key = train.user * n_content + train.content
    in_train = np.isin(events["key"], train_key)
    ev_user = events["key"][in_train] // n_content
    ev_content = events["key"][in_train] % n_content
    user_last = np.full(n_users, -np.inf)
    np.maximum.at(user_last, train.user, train.last_ts)
    ev_val = events["w"][in_train] * decay(events["ts"][in_train], user_last[ev_user], half_life_s)
    ct_w = ct["weight"].astype(np.float64) if "weight" in ct else np.ones(len(ct["src"]))
    order = np.argsort(ct["src"], kind="stable")
    c_sorted, t_sorted, cw_sorted = ct["src"][order], ct["dst"][order].astype(np.int64), ct_w[order]
    starts = np.searchsorted(c_sorted, ev_content, side="left")
    counts = np.searchsorted(c_sorted, ev_content, side="right") - starts
    if counts.sum() == 0:
        return empty
    rep = np.repeat(np.arange(len(ev_content)), counts)
    idx = np.repeat(starts - np.r_[0, np.cumsum(counts)[:-1]], counts) + np.arange(counts.sum())
    key = ev_user[rep] * n_topics + t_sorted[idx]
    uniq, inv = np.unique(key, return_inverse=True)
    agg = np.zeros(len(uniq))
    np.add.at(agg, inv, ev_val[rep] * cw_sorted[idx])
    return uniq // n_topics, uniq % n_topics, agg.astype(np.float32)


def raw_node_stats(deg: np.ndarray, mass: np.ndarray, last: np.ndarray, t_ref: float) -> np.ndarray:
    """Unstandardised [n, 3]: log1p degree, recency (−log1p days since the last interaction; −log1p of
    10 years when there is none), log1p decayed interaction mass (relative to t_ref)."""
    has = np.isfinite(last)
    age_days = np.where(has, np.maximum(t_ref - np.where(has, last, t_ref), 0.0) / DAY, 3650.0)
    return np.stack([np.log1p(deg), -np.log1p(age_days), np.log1p(mass)], axis=1)


def node_stats(pairs: Pairs, n_users: int, n_content: int, t_ref: float,
               half_life_s: float) -> tuple[dict[str, np.ndarray], dict[str, list[list[float]]]]:
    """Standardised degree/recency/mass features per User and Content from training pairs, and the
    (mean, std) used, so new nodes are scaled alike at inductive time."""
    out, norms = {}, {}
    mass_scale = max(float(pairs.weight.max(initial=0.0)), 1e-300)
    for label, ids, n in ((USER, pairs.user, n_users), (CONTENT, pairs.content, n_content)):
        deg = np.bincount(ids, minlength=n).astype(np.float64)
        mass = np.bincount(ids, weights=pairs.weight / mass_scale, minlength=n)
        last = np.full(n, -np.inf)
        np.maximum.at(last, ids, pairs.last_ts)
        x = raw_node_stats(deg, mass, last, t_ref)
        mean, std = x.mean(axis=0), x.std(axis=0)
        std = np.where(std > 1e-6, std, 1.0)
        out[label] = ((x - mean) / std).astype(np.float32)
        norms[label] = [mean.tolist(), std.tolist()]
    norms["mass_scale"] = [[mass_scale]]
    return out, norms


def build_data(snap: Snapshot, cfg: TrainConfig, split: str | None = None) -> TrainData:
    """Turn a snapshot into training data for one split ('temporal' or 'random', default cfg.split)."""
    split = split or cfg.split
    for label in (USER, CONTENT):
        if label not in snap.node_ids:
            raise InputError(f"snapshot has no {label} nodes", file=f"nodes/{label}.parquet")
    labels = [lab for lab in (USER, CONTENT, TOPIC) if lab in snap.node_ids]
    num_nodes = {lab: snap.num_nodes(lab) for lab in labels}
    t_ref = reference_time(snap)
    pairs, events = positive_pairs(snap, cfg, t_ref)
    train, val, test = split_pairs(pairs, cfg, split)
    if len(train) == 0:
        raise InputError("no positive interactions left for training", file="edges/User__INTERACTED__Content.npz")

    edges: dict[EdgeType, tuple[np.ndarray, np.ndarray]] = {}
    edges[UC] = (train.user, train.content)
    for etype, arrays in snap.edges.items():
        if (etype == UC or etype[1] in MODEL_REL_TYPES or etype[1] in cfg.exclude_relations
                or etype[0] not in labels or etype[2] not in labels):
            continue
        edges[etype] = (arrays["src"].astype(np.int64), arrays["dst"].astype(np.int64))
    for etype in list(edges):
        src, dst = edges[etype]
        edges[reverse(etype)] = (dst, src)

    features: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {lab: {} for lab in labels}
    leaky = set(INTERACTION_DERIVED_PROPERTIES) if cfg.interaction_features == "drop" else set()
    if cfg.use_features:
        for lab in labels:
            for prop, x in snap.features.get(lab, {}).items():
                if prop in cfg.exclude_features or (lab, prop) in leaky:
                    continue
                mask = snap.feature_masks[lab][prop].astype(bool)
                features[lab][prop] = (np.where(mask[:, None], x, 0.0).astype(np.float32), mask)
    stats, stats_norm = node_stats(train, num_nodes[USER], num_nodes[CONTENT], t_ref, cfg.half_life_s)
    for lab in cfg.stats_labels:
        features[lab][STATS] = (stats[lab], np.ones(len(stats[lab]), dtype=bool))

    arrays = interaction_arrays(snap)
    seen_key = np.unique(arrays["src"].astype(np.int64) * num_nodes[CONTENT] + arrays["dst"].astype(np.int64))
    n_topics = num_nodes.get(TOPIC, 0)
    ct = snap.edges.get(CT) if TOPIC in labels else None
    ut = user_topic_interest(train, events, ct, num_nodes[USER], num_nodes[CONTENT], n_topics, cfg.half_life_s)
    content_topics = ((ct["src"].astype(np.int64), ct["dst"].astype(np.int64)) if ct is not None
                      else (np.zeros(0, np.int64), np.zeros(0, np.int64)))
    logger.info("data (%s split): %s nodes, %d train / %d val / %d test pairs, %d edge types",
                split, num_nodes, len(train), len(val), len(test), len(edges))
    return TrainData(
        node_ids={lab: snap.node_ids[lab] for lab in labels}, num_nodes=num_nodes, features=features,
        edges=edges, train=train, val=val, test=test, all_pairs=pairs, user_topic=ut, content_topics=content_topics,
        seen=(seen_key // num_nodes[CONTENT], seen_key % num_nodes[CONTENT]),
        reference_time=t_ref, split=split,
        meta={"n_positive_pairs": len(pairs), "n_interactions": int(len(arrays["src"])), "stats_norm": stats_norm},
    )
