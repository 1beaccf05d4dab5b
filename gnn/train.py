"""Training: full-graph or mini-batch link prediction with early stopping; writes the run directory.

User–Topic scores (``interests.npz``): the dot product of user and topic embeddings in the shared
space, trained by an auxiliary BPR objective (weight ``topic_loss_weight``) whose positives are
(user, topic) pairs drawn in proportion to the user's decayed interest (format.md definition,
computed from training interactions only) and whose negatives are uniform topics.
Embeddings written to a run come from the best-on-validation model applied to the graph with every
positive interaction of the snapshot (train + val + test), so they reflect everything known.
"""
from __future__ import annotations

import copy
import logging
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from graph.deletions import current_snapshot
from graph.model import CONTENT, TOPIC, USER

from gnn.backends import Backend, get_backend
from gnn.config import TrainConfig
from gnn.data import TrainData, build_data
from gnn.interests import readout as items_readout
from gnn.metrics import evaluate_ranking, sample_users
from gnn.models import LOSSES, LinkModel, bpr_loss, l2_penalty
from gnn.predict import top_k
from gnn.rundir import new_run_id, write_run

logger = logging.getLogger(__name__)

Feats = dict[str, dict[str, tuple[torch.Tensor, torch.Tensor]]]


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        from graph.errors import ConfigError
        raise ConfigError("device 'cuda' requested but torch.cuda.is_available() is False")
    return torch.device(name)


def configure_torch(cfg: TrainConfig) -> None:
    """Set torch's CPU thread count (process-wide) when the config asks for one."""
    if cfg.num_threads > 0:
        torch.set_num_threads(cfg.num_threads)


def seed_everything(seed: int, backend: str) -> None:
    """Seed python, numpy, torch (and DGL's sampler when DGL is the backend)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if backend == "dgl":
        import dgl
        dgl.seed(seed)


def features_to(data: TrainData, device: torch.device) -> Feats:
    return {nt: {p: (torch.as_tensor(x, device=device), torch.as_tensor(m, device=device))
                 for p, (x, m) in feats.items()} for nt, feats in data.features.items()}


def build_model(data: TrainData, cfg: TrainConfig, backend: Backend) -> LinkModel:
    encoder = backend.encoder(cfg.model, data.etypes, cfg.emb_dim, cfg.num_layers, cfg.dropout, cfg.activation,
                              cfg.conv_weight)
    return LinkModel(encoder, data.num_nodes, data.feature_dims(), cfg)


def embed_all(model: LinkModel, backend: Backend, graph, feats: Feats, num_nodes: dict[str, int],
              num_layers: int, device: torch.device) -> dict[str, torch.Tensor]:
    """Full-graph embeddings of every node (eval mode, no grad)."""
    model.eval()
    with torch.no_grad():
        ids = {nt: torch.arange(n, device=device) for nt, n in num_nodes.items()}
        return model(backend.full_blocks(graph, num_layers), ids, feats)


@dataclass
class FitResult:
    model: LinkModel
    history: list[dict]
    best_epoch: int
    val: dict
    timings: dict = field(default_factory=dict)


class Trainer:
    """Owns the model, optimiser, graph and sampling for one TrainData."""

    def __init__(self, data: TrainData, cfg: TrainConfig, device: torch.device | None = None):
        self.data, self.cfg = data, cfg
        self.device = device or resolve_device(cfg.device)
        configure_torch(cfg)
        seed_everything(cfg.seed, cfg.backend)
        self.backend = get_backend(cfg.backend)
        started = time.perf_counter()
        self.graph = self.backend.build_graph(data, self.device)
        self.feats = features_to(data, self.device)
        self.model = build_model(data, cfg, self.backend).to(self.device)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.gen = torch.Generator(device="cpu").manual_seed(cfg.seed)
        tr = data.train
        self.u = torch.as_tensor(tr.user, device=self.device)
        self.c = torch.as_tensor(tr.content, device=self.device)
        w = tr.weight.astype(np.float64)
        self.w = (torch.as_tensor(w / w.mean(), dtype=torch.float32, device=self.device)
                  if cfg.weight_positives and w.mean() > 0 else None)
        ut_u, ut_t, ut_v = data.user_topic
        self.has_topics = cfg.topic_loss_weight > 0 and len(ut_u) > 0 and data.num_nodes.get(TOPIC, 0) > 1
        if self.has_topics:
            self.ut_u = torch.as_tensor(ut_u, device=self.device)
            self.ut_t = torch.as_tensor(ut_t, device=self.device)
            # cumulative interest: drawing ∝ interest is a binary search per draw (multinomial rebuilds it per call)
            self.ut_cdf = torch.cumsum(torch.as_tensor(ut_v, dtype=torch.float64), 0)
        self.out_types = (USER, CONTENT, TOPIC) if self.has_topics else (USER, CONTENT)
        self.all_ids = {nt: torch.arange(num, device=self.device) for nt, num in data.num_nodes.items()}
        self.blocks = self.backend.full_blocks(self.graph, cfg.num_layers)
        self.setup_s = time.perf_counter() - started

    # -------------------------------------------------------------- one step
    def _batch(self, idx: torch.Tensor) -> dict[str, torch.Tensor]:
        k, n_c = self.cfg.num_negatives, self.data.num_nodes[CONTENT]
        b = {"u": self.u[idx], "c": self.c[idx],
             "neg": torch.randint(n_c, (len(idx), k), generator=self.gen).to(self.device)}
        if self.has_topics:
            draw = torch.rand(len(idx), generator=self.gen, dtype=torch.float64) * self.ut_cdf[-1]
            pick = torch.searchsorted(self.ut_cdf, draw, right=True).clamp(max=len(self.ut_cdf) - 1).to(self.device)
            b["tu"], b["tp"] = self.ut_u[pick], self.ut_t[pick]
            b["tn"] = torch.randint(self.data.num_nodes[TOPIC], (len(idx),), generator=self.gen).to(self.device)
        return b

    def _loss(self, hu, hc_pos, hc_neg, w, ht, reg_rows) -> torch.Tensor:
        """Link loss + l2 on ``reg_rows`` (the batch's user/positive/negative rows of the output or of the
        input embeddings, ``l2_target``) + the auxiliary topic loss."""
        head = self.model.head
        pos = head.pair(hu, hc_pos)
        neg = head.pair(hu.unsqueeze(1).expand_as(hc_neg), hc_neg)
        loss = LOSSES[self.cfg.loss](pos, neg, w)
        if self.cfg.l2 > 0:
            loss = loss + self.cfg.l2 * l2_penalty(*reg_rows)
        if ht is not None:
            tu, tp, tn = ht
            loss = loss + self.cfg.topic_loss_weight * bpr_loss((tu * tp).sum(-1), (tu * tn).sum(-1).unsqueeze(1))
        return loss

    def step(self, idx: torch.Tensor) -> float:
        b = self._batch(idx)
        w = self.w[idx] if self.w is not None else None
        self.model.train()
        if self.cfg.minibatch:
            parts = {USER: [b["u"]], CONTENT: [b["c"], b["neg"].reshape(-1)]}
            if self.has_topics:
                parts[USER].append(b["tu"])
                parts[TOPIC] = [b["tp"], b["tn"]]
            seeds, inv = {}, {}
            for nt, arrs in parts.items():
                cat = torch.cat(arrs)
                seeds[nt], inv[nt] = torch.unique(cat, return_inverse=True)
            input_nodes, blocks = self.backend.sample_blocks(self.graph, seeds, self.cfg.fanouts, self.device)
            # the seeds are the first rows of the input nodes too (blocks list destinations first)
            h, h_in = self.model.encode(blocks, input_nodes, self.feats, self.out_types)
            n, iu, ic = len(idx), inv[USER], inv[CONTENT]
            rows = {"u": (USER, iu[:n]), "c": (CONTENT, ic[:n]), "neg": (CONTENT, ic[n:].reshape(n, -1))}
            if self.has_topics:
                it = inv[TOPIC]
                rows.update(tu=(USER, iu[n:]), tp=(TOPIC, it[:n]), tn=(TOPIC, it[n:]))
        else:
            h, h_in = self.model.encode(self.blocks, self.all_ids, self.feats, self.out_types)
            rows = {key: (nt, b[key]) for key, nt in (("u", USER), ("c", CONTENT), ("neg", CONTENT),
                                                       ("tu", USER), ("tp", TOPIC), ("tn", TOPIC)) if key in b}
        hu, hc, hn = (h[rows[k][0]][rows[k][1]] for k in ("u", "c", "neg"))
        ht = tuple(h[rows[k][0]][rows[k][1]] for k in ("tu", "tp", "tn")) if self.has_topics else None
        reg = h if self.cfg.l2_target == "output" else h_in
        reg_rows = tuple(reg[rows[k][0]][rows[k][1]] for k in ("u", "c", "neg"))
        loss = self._loss(hu, hc, hn, w, ht, reg_rows) + self.model.inputs.aux_loss(self.feats)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return float(loss.detach())

    def epoch(self) -> float:
        n = len(self.u)
        perm = torch.randperm(n, generator=self.gen).to(self.device)
        losses = [self.step(perm[s:s + self.cfg.batch_size]) for s in range(0, n, self.cfg.batch_size)]
        return float(np.mean(losses))

    # -------------------------------------------------------------- evaluation
    def embeddings(self, data: TrainData | None = None) -> dict[str, torch.Tensor]:
        """Full-graph embeddings; on ``data``'s graph if given (e.g. with all interactions)."""
        if data is None:
            graph, feats = self.graph, self.feats
        else:
            graph, feats = self.backend.build_graph(data, self.device), features_to(data, self.device)
        return embed_all(self.model, self.backend, graph, feats, self.data.num_nodes, self.cfg.num_layers,
                         self.device)

    def score_fn(self, emb: dict[str, torch.Tensor]):
        head = self.model.head
        return lambda users: head.all(emb[USER][users], emb[CONTENT])

    def evaluate(self, split: str, emb: dict[str, torch.Tensor] | None = None) -> dict[str, float]:
        """Full-ranking metrics on 'val' (exclude train) or 'test' (exclude train + val), over
        ``cfg.eval_users`` sampled users when set."""
        d = self.data
        emb = emb if emb is not None else self.embeddings()
        if split == "val":
            truth, excl = d.val, d.train
            exclude = (excl.user, excl.content)
        else:
            truth = d.test
            exclude = (np.concatenate([d.train.user, d.val.user]), np.concatenate([d.train.content, d.val.content]))
        truth_pairs = sample_users((truth.user, truth.content), self.cfg.eval_users, self.cfg.seed)
        return evaluate_ranking(self.score_fn(emb), truth_pairs, exclude, d.num_nodes[CONTENT],
                                k=self.cfg.eval_k, batch_users=self.cfg.score_batch_users, device=self.device)

    def fit(self, progress: bool = True) -> FitResult:
        """Train with early stopping on validation NDCG@K; restores the best weights."""
        cfg = self.cfg
        key = f"ndcg@{cfg.eval_k}"
        best, best_epoch, best_state, bad = -1.0, 0, None, 0
        history: list[dict] = []
        train_s = eval_s = 0.0
        bar = tqdm(range(1, cfg.epochs + 1), desc=f"{cfg.model}/{cfg.backend}", disable=not progress, leave=False)
        for ep in bar:
            t0 = time.perf_counter()
            loss = self.epoch()
            t1 = time.perf_counter()
            val = self.evaluate("val") if len(self.data.val) else {key: -loss}
            t2 = time.perf_counter()
            train_s, eval_s = train_s + t1 - t0, eval_s + t2 - t1
            history.append({"epoch": ep, "loss": loss, "epoch_s": t1 - t0, **val})
            bar.set_postfix(loss=f"{loss:.4f}", val=f"{val[key]:.4f}")
            if val[key] > best:
                best, best_epoch, bad = val[key], ep, 0
                best_state = copy.deepcopy(self.model.state_dict())
            else:
                bad += 1
                if bad >= cfg.patience:
                    logger.info("early stop at epoch %d (best %s=%.4f at epoch %d)", ep, key, best, best_epoch)
                    break
        if best_state is not None:
            self.model.load_state_dict(best_state)
        val_best = next(h for h in history if h["epoch"] == best_epoch)
        timings = {"setup_s": self.setup_s, "train_s": train_s, "eval_s": eval_s,
                   "epochs": len(history), "epoch_mean_s": train_s / max(len(history), 1)}
        return FitResult(self.model, history, best_epoch, val_best, timings)

    def checkpoint(self, result: FitResult) -> dict:
        d = self.data
        return {"config": self.cfg.to_dict(), "state_dict": self.model.state_dict(), "best_epoch": result.best_epoch,
                "num_nodes": d.num_nodes, "feature_dims": d.feature_dims(), "etypes": [list(e) for e in d.etypes],
                "stats_norm": d.meta["stats_norm"], "reference_time": d.reference_time, "split": d.split}


def interests_and_recommendations(trainer: Trainer, emb: dict[str, torch.Tensor]):
    """Top-K topics per user (user·topic dot product, or with ``interest_readout: items`` gnn.interests'
    read-out; topics scored 0 there are left out) and top-K content excluding everything seen."""
    d, cfg = trainer.data, trainer.cfg
    users = np.arange(d.num_nodes[USER], dtype=np.int64)
    if TOPIC in emb and d.num_nodes.get(TOPIC, 0):
        theta = items_readout(d, cfg)[0] if cfg.interest_readout == "items" else None

        def topic_score(u: torch.Tensor) -> torch.Tensor:
            if theta is None:
                return emb[USER][u] @ emb[TOPIC].T
            s = torch.as_tensor(theta[u.cpu().numpy()].toarray(), device=u.device)
            return s.masked_fill(s <= 0, float("-inf"))
        t_items, t_scores = top_k(topic_score, users, d.num_nodes[TOPIC],
                                  cfg.top_k_interests, None, cfg.score_batch_users, trainer.device)
    else:
        t_items = np.full((len(users), cfg.top_k_interests), -1, np.int64)
        t_scores = np.zeros((len(users), cfg.top_k_interests), np.float32)
    c_items, c_scores = top_k(trainer.score_fn(emb), users, d.num_nodes[CONTENT], cfg.top_k_recommendations,
                              d.seen, cfg.score_batch_users, trainer.device)
    return (users, t_items, t_scores), (users, c_items, c_scores)


def train_run(snapshot_dir: Path, cfg: TrainConfig, runs_dir: Path, progress: bool = True) -> Path:
    """Load snapshot, train, evaluate, write ``runs_dir/<run_id>``; returns the run directory."""
    stamps: dict[str, float] = {}
    t0 = time.perf_counter()
    snapshot_dir = Path(snapshot_dir).resolve()
    snap, snapshot_dir, stale = current_snapshot(snapshot_dir)
    data = build_data(snap, cfg)
    stamps["data_s"] = time.perf_counter() - t0
    trainer = Trainer(data, cfg)
    result = trainer.fit(progress=progress)
    t1 = time.perf_counter()
    test = trainer.evaluate("test") if len(data.test) else {}
    emb = trainer.embeddings(data.with_all_interactions())
    interests, recs = interests_and_recommendations(trainer, emb)
    stamps["predict_s"] = time.perf_counter() - t1
    stamps.update(result.timings)
    metrics = {"split": data.split, "best_epoch": result.best_epoch,
               "val": {k: v for k, v in result.val.items() if k not in ("epoch", "loss", "epoch_s")},
               "test": test, "counts": {"train": len(data.train), "val": len(data.val), "test": len(data.test)},
               **stale.as_metrics()}
    run_id = new_run_id(cfg.model)
    run_info = {"run_id": run_id, "model": cfg.model, "backend": cfg.backend, "device": str(trainer.device),
                "snapshot": str(snapshot_dir), "config": cfg.to_dict(), "metrics": metrics, "timings": stamps,
                "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "emb_dim": cfg.emb_dim}
    embeddings = {nt: x.cpu().numpy() for nt, x in emb.items()}
    return write_run(Path(runs_dir) / run_id, run_info, metrics, result.history, trainer.checkpoint(result),
                     embeddings, interests, recs, curve_metric=f"ndcg@{cfg.eval_k}")
