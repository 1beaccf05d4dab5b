"""Dynamic interest: decayed user→topic interest per time window, and who moved most between two.

Interest of user u in topic t within a window [start, end) follows the decayed-interest definition
(format.md): Σ over u's interactions r in the window with content c, (c)-[h:HAS_TOPIC]->(t), of
r.weight · h.weight · 0.5^((t_ref − r.ts)/half_life), t_ref = u's latest interaction in the window.
Movement = cosine distance between the two windows' vectors (users active in both); gained/lost
topics = largest changes in each topic's share of the user's interest.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from graph.errors import InputError
from graph.model import TOPIC
from graph.snapshot import Snapshot

from gnn.data import CT, decay, interaction_arrays, parse_time


@dataclass(frozen=True)
class Window:
    start: float
    end: float
    label: str

    @classmethod
    def parse(cls, text: str) -> "Window":
        """``START..END`` with ISO-8601 dates/times or epoch seconds; END exclusive."""
        parts = text.split("..")
        if len(parts) != 2:
            raise InputError(f"window must look like START..END, got {text!r}", field="window", value=text)
        start, end = (parse_time(p.strip(), file="--window", field_name="window") for p in parts)
        if end <= start:
            raise InputError(f"window end must be after start: {text!r}", field="window", value=text)
        return cls(start, end, text)


def interest_matrix(snap: Snapshot, window: Window, half_life_s: float) -> sp.csr_matrix:
    """Sparse [U, T] decayed interest within ``window``."""
    arr = interaction_arrays(snap)
    n_users, n_topics = snap.num_nodes("User"), snap.num_nodes(TOPIC) if TOPIC in snap.node_ids else 0
    if CT not in snap.edges or n_topics == 0:
        raise InputError("snapshot has no Content-HAS_TOPIC->Topic edges", file="edges/Content__HAS_TOPIC__Topic.npz")
    ts = arr["ts"].astype(np.float64)
    sel = (ts >= window.start) & (ts < window.end)
    u, c, ts = arr["src"][sel].astype(np.int64), arr["dst"][sel].astype(np.int64), ts[sel]
    w = arr["weight"][sel].astype(np.float64) if "weight" in arr else np.ones(len(u))
    last = np.full(n_users, -np.inf)
    np.maximum.at(last, u, ts)
    val = w * decay(ts, last[u], half_life_s)
    n_content = snap.num_nodes("Content")
    user_content = sp.csr_matrix((val, (u, c)), shape=(n_users, n_content))
    ct = snap.edges[CT]
    hw = ct["weight"].astype(np.float64) if "weight" in ct else np.ones(len(ct["src"]))
    content_topic = sp.csr_matrix((hw, (ct["src"], ct["dst"])), shape=(n_content, n_topics))
    return (user_content @ content_topic).tocsr()


def _shares(m: sp.csr_matrix) -> np.ndarray:
    dense = np.asarray(m.todense(), dtype=np.float64)
    total = np.abs(dense).sum(1, keepdims=True)
    return dense / np.where(total > 0, total, 1.0)


def drift_report(snap: Snapshot, a: Window, b: Window, half_life_s: float, top_n: int = 20,
                 top_topics: int = 3, batch: int = 4096) -> list[dict]:
    """Users active in both windows ranked by cosine distance of their interest vectors (largest first)."""
    ma, mb = interest_matrix(snap, a, half_life_s), interest_matrix(snap, b, half_life_s)
    active = np.flatnonzero((np.abs(ma).sum(1).A1 > 0) & (np.abs(mb).sum(1).A1 > 0))
    topics = snap.node_ids[TOPIC]
    rows: list[dict] = []
    for s in range(0, len(active), batch):
        users = active[s:s + batch]
        xa, xb = _shares(ma[users]), _shares(mb[users])
        na, nb = np.linalg.norm(xa, axis=1), np.linalg.norm(xb, axis=1)
        dist = 1.0 - (xa * xb).sum(1) / np.maximum(na * nb, 1e-12)
        delta = xb - xa
        for i, u in enumerate(users):
            order = np.argsort(delta[i])
            gained = [(str(topics[t]), round(float(delta[i, t]), 4)) for t in order[::-1][:top_topics] if delta[i, t] > 0]
            lost = [(str(topics[t]), round(float(delta[i, t]), 4)) for t in order[:top_topics] if delta[i, t] < 0]
            rows.append({"user": str(snap.node_ids["User"][u]), "distance": float(dist[i]),
                         "gained": gained, "lost": lost})
    rows.sort(key=lambda r: (-r["distance"], r["user"]))
    return rows[:top_n]


def markdown_table(rows: list[dict]) -> str:
    lines = ["| user | cosine distance | gained (topic, Δshare) | lost (topic, Δshare) |", "| --- | --- | --- | --- |"]
    for r in rows:
        fmt = lambda xs: ", ".join(f"{t} {d:+.2f}" for t, d in xs)  # noqa: E731
        lines.append(f"| {r['user']} | {r['distance']:.3f} | {fmt(r['gained'])} | {fmt(r['lost'])} |")
    return "\n".join(lines)
