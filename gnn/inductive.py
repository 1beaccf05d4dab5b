"""Inductive scoring: embed a user or content item that arrived after training, without retraining.

The new node is appended to the run's graph (its snapshot, all positive interactions) with its
features (missing ones use the learned "missing" vectors), its edges and its degree/recency statistics
(scaled like the training ones); its id uses the learned "unknown id" vector. Its embedding is computed
from its full L-hop neighbourhood (fanout -1) with the checkpoint's weights and scored against the run's
saved embeddings.

For ``gcn`` this is not training's propagation: the blocks' degree normalisation counts block edges only
(a content item the new user touched has degree 1 there), so the new user's neighbours weigh about
sqrt(their degree) more than in training. The training-consistent alternative (a full-graph pass with
the node appended) was measured worse for users unseen in training (`bench/cold_start.py --reuse`,
exact-forward NDCG@20 with 1 / 3 / 5 revealed: 0.248 / 0.258 / 0.279 vs 0.338 / 0.367 / 0.388 with
blocks), so the blocks are kept. Importing this module imports DGL only when the run's backend is dgl.

Known limit: a node's learned id embedding carries much of its trained representation, so a new node
(with the "unknown id" vector) is placed less precisely than a trained one; new users with a few
interactions are ranked well on planted data, new content with only topics/features much less so
(its missing interaction edges are a distribution shift) — give it a few early interactions.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from graph.errors import InputError
from graph.model import CONTENT, FOLLOWS, HAS_TOPIC, TOPIC, USER
from graph.snapshot import Snapshot

from gnn.backends import get_backend
from gnn.config import TrainConfig
from gnn.data import STATS, UC, TrainData, build_data, decay, raw_node_stats, reverse
from gnn.train import build_model, features_to, resolve_device

Neighbour = tuple[str, float, float]  # (raw id, weight, ts epoch seconds)


@dataclass
class Scored:
    embedding: np.ndarray
    items: list[tuple[str, float]]
    topics: list[tuple[str, float]]


class InductiveScorer:
    """Loaded once from a run directory; ``score_new_user`` / ``score_new_content`` per request."""

    def __init__(self, run_dir: Path, device: str = "cpu"):
        run_dir = Path(run_dir)
        if not (run_dir / "run.json").exists():
            raise InputError("not a run directory (no run.json)", file=str(run_dir))
        self.run = json.loads((run_dir / "run.json").read_text())
        ckpt = torch.load(run_dir / "checkpoint.pt", map_location="cpu", weights_only=False)
        # runs from before ``interaction_features`` existed were trained with those features kept
        self.cfg = replace(TrainConfig.from_dict({"interaction_features": "keep", **ckpt["config"]}), device=device)
        self.device = resolve_device(device)
        snap = Snapshot.load(Path(self.run["snapshot"]))
        self.ids = {nt: snap.index_of(nt) for nt in snap.node_ids}
        self.data = build_data(snap, self.cfg, ckpt["split"]).with_all_interactions()
        self.norm = ckpt["stats_norm"]
        self.backend = get_backend(self.cfg.backend)
        self.model = build_model(self.data, self.cfg, self.backend).to(self.device)
        self.model.load_state_dict(ckpt["state_dict"])
        self.model.eval()
        self.emb = {nt: torch.as_tensor(np.load(run_dir / "embeddings" / f"{nt}.npy"), device=self.device)
                    for nt in self.data.num_nodes if (run_dir / "embeddings" / f"{nt}.npy").exists()}
        self.user_mean, self.user_std = self._user_score_moments()

    def _user_score_moments(self, batch: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and std of each user's scores over all content (batched over users)."""
        means, stds = [], []
        with torch.no_grad():
            for s in range(0, len(self.emb[USER]), batch):
                scores = self.model.head.all(self.emb[USER][s:s + batch], self.emb[CONTENT])
                means.append(scores.mean(1))
                stds.append(scores.std(1).clamp(min=1e-6))
        return torch.cat(means), torch.cat(stds)

    # ---------------------------------------------------------------- helpers
    def _lookup(self, label: str, raw: str) -> int:
        try:
            return self.ids[label][raw]
        except KeyError:
            raise InputError(f"unknown {label} id {raw!r}", field=label, value=raw) from None

    def _stats_row(self, label: str, neighbours: list[Neighbour]) -> np.ndarray:
        t_ref = self.data.reference_time
        if neighbours:
            ts = np.array([n[2] for n in neighbours], dtype=np.float64)
            w = np.array([n[1] for n in neighbours], dtype=np.float64)
            mass = float((w * decay(ts, t_ref, self.cfg.half_life_s)).sum()) / self.norm["mass_scale"][0][0]
            raw = raw_node_stats(np.array([len(neighbours)], float), np.array([mass]), np.array([ts.max()]), t_ref)
        else:
            raw = raw_node_stats(np.zeros(1), np.zeros(1), np.array([-np.inf]), t_ref)
        mean, std = (np.asarray(v) for v in self.norm[label])
        return ((raw - mean) / std).astype(np.float32)

    def _with_node(self, label: str, features: dict[str, np.ndarray] | None,
                   new_edges: dict[tuple, tuple[np.ndarray, np.ndarray]], stats: np.ndarray) -> TrainData:
        """The run's data with one node of ``label`` appended (id = current count) and its edges."""
        d = self.data
        features = features or {}
        unknown = sorted(set(features) - set(d.features.get(label, {})) - {STATS})
        if unknown:
            raise InputError(f"unknown {label} feature(s) {unknown}; the model knows "
                             f"{sorted(p for p in d.features.get(label, {}) if p != STATS)}", field="features")
        feats = dict(d.features)
        row_feats = {}
        for prop, (x, mask) in d.features.get(label, {}).items():
            if prop == STATS:
                row, present = stats.reshape(1, -1), True
            elif prop in features:
                vec = np.asarray(features[prop], dtype=np.float32).reshape(1, -1)
                if vec.shape[1] != x.shape[1]:
                    raise InputError(f"feature {prop} has dim {vec.shape[1]}, expected {x.shape[1]}", field=prop)
                row, present = vec, True
            else:
                row, present = np.zeros((1, x.shape[1]), np.float32), False
            row_feats[prop] = (np.vstack([x, row]), np.append(mask, present))
        feats[label] = row_feats
        edges = dict(d.edges)
        for et, (s, t) in new_edges.items():
            if et not in edges:
                continue
            edges[et] = (np.concatenate([edges[et][0], s]), np.concatenate([edges[et][1], t]))
            rev = reverse(et)
            edges[rev] = (np.concatenate([edges[rev][0], t]), np.concatenate([edges[rev][1], s]))
        num_nodes = dict(d.num_nodes)
        num_nodes[label] += 1
        return replace(d, features=feats, edges=edges, num_nodes=num_nodes)

    def _embed(self, data: TrainData, label: str) -> torch.Tensor:
        """The appended node's embedding from its L-hop blocks (fanout -1). ``sage`` (mean over
        in-neighbours) is exact there; ``gcn``'s symmetric normalisation counts only the block's edges, so
        a neighbour's degree is its degree inside the block, not in the graph (see the module docstring)."""
        graph = self.backend.build_graph(data, self.device)
        seeds = {label: torch.tensor([data.num_nodes[label] - 1], device=self.device)}
        with torch.no_grad():
            input_nodes, blocks = self.backend.sample_blocks(graph, seeds, (-1,) * self.cfg.num_layers, self.device)
            return self.model(blocks, input_nodes, features_to(data, self.device))[label][0]

    def _top(self, scores: torch.Tensor, label: str, k: int, exclude: list[int]) -> list[tuple[str, float]]:
        scores = scores.clone()
        if exclude:
            scores[torch.as_tensor(exclude, device=scores.device)] = float("-inf")
        val, idx = torch.topk(scores, min(k, len(scores)))
        raw = self.data.node_ids[label]
        return [(str(raw[i]), float(v)) for v, i in zip(val.tolist(), idx.tolist()) if np.isfinite(v)]

    # ---------------------------------------------------------------- API
    def score_new_user(self, interactions: list[Neighbour], follows: list[str] = (),
                       features: dict[str, np.ndarray] | None = None, k: int = 10) -> Scored:
        """Top-``k`` content (excluding ``interactions``) and topics for a user unseen in training."""
        new = self.data.num_nodes[USER]
        content = np.array([self._lookup(CONTENT, c) for c, _, _ in interactions], dtype=np.int64)
        followed = np.array([self._lookup(USER, u) for u in follows], dtype=np.int64)
        data = self._with_node(USER, features, {
            UC: (np.full(len(content), new, np.int64), content),
            (USER, FOLLOWS, USER): (np.full(len(followed), new, np.int64), followed),
        }, self._stats_row(USER, list(interactions)))
        hu = self._embed(data, USER)
        with torch.no_grad():
            c_scores = self.model.head.all(hu.unsqueeze(0), self.emb[CONTENT])[0]
            topics = self._top(self.emb[TOPIC] @ hu, TOPIC, k, []) if TOPIC in self.emb else []
        return Scored(hu.cpu().numpy(), self._top(c_scores, CONTENT, k, content.tolist()), topics)

    def score_new_content(self, topics: list[tuple[str, float]], interactions: list[Neighbour] = (),
                          features: dict[str, np.ndarray] | None = None, k: int = 10) -> Scored:
        """Top-``k`` users for a content item unseen in training, ranked by how high the item would rank in
        each user's own list (z-score of its score among the user's scores for all content), since raw
        scores are comparable across items for one user, not across users."""
        new = self.data.num_nodes[CONTENT]
        topic_ids = np.array([self._lookup(TOPIC, t) for t, _ in topics], dtype=np.int64)
        users = np.array([self._lookup(USER, u) for u, _, _ in interactions], dtype=np.int64)
        data = self._with_node(CONTENT, features, {
            (CONTENT, HAS_TOPIC, TOPIC): (np.full(len(topic_ids), new, np.int64), topic_ids),
            UC: (users, np.full(len(users), new, np.int64)),
        }, self._stats_row(CONTENT, list(interactions)))
        hc = self._embed(data, CONTENT)
        with torch.no_grad():
            u_scores = (self.model.head.all(self.emb[USER], hc.unsqueeze(0))[:, 0] - self.user_mean) / self.user_std
        return Scored(hc.cpu().numpy(), self._top(u_scores, USER, k, users.tolist()), [])
