"""Accuracy vs diversity on MovieLens-100K: the trained GNN's lists re-ranked by graph/rerank.py (MMR).

The GNN (the shipped default TrainConfig; `--model` to change) trains on the temporal split of the
bench snapshot (bench/quality.py builds and caches it) and ranks all movies for each test user, the
user's train + validation movies excluded. Its top `--pool` candidates are re-ranked to 20 by
`graph.rerank.mmr` exactly as the API does (relevance = candidate position, vectors = `Content.emb_text`,
MiniLM) at each diversity level; the most-popular baseline is measured in the same run. Columns:
Recall@20 / NDCG@20 against the held-out test movies, catalogue coverage, intra-list diversity (mean
pairwise cosine distance of `emb_text`), novelty (mean -log2 p(i), p from training popularity) and
average recommended popularity (gnn/metrics.py).

    .venv/bin/python bench/diversity.py [--levels 0,0.3,0.6] [--pool 200] [--epochs N]
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("DGLBACKEND", "pytorch")
RESULTS = ROOT / "bench" / "results" / "diversity.md"
logger = logging.getLogger("bench.diversity")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from graph.model import CONTENT  # noqa: E402
from graph.rerank import DEFAULT_EMBEDDING, mmr  # noqa: E402
from graph.settings import var_dir  # noqa: E402
from graph.snapshot import Snapshot  # noqa: E402
from gnn.baselines import popularity_scores  # noqa: E402
from gnn.config import TrainConfig  # noqa: E402
from gnn.data import build_data  # noqa: E402
from gnn.evaluate import item_vectors  # noqa: E402
from gnn.metrics import beyond_accuracy, list_accuracy, rank_and_evaluate  # noqa: E402
from gnn.train import Trainer  # noqa: E402
from quality import build_snapshot  # noqa: E402

K = 20


def candidate_lists(score, data, n_items: int, k: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """Test users, their top-``k`` candidates (train + val excluded) and the evaluator's metrics@k."""
    exclude = (np.concatenate([data.train.user, data.val.user]), np.concatenate([data.train.content, data.val.content]))
    metrics, users, top = rank_and_evaluate(score, (data.test.user, data.test.content), exclude, n_items, k=k)
    return users, top, metrics


def rerank_lists(top: np.ndarray, vectors: np.ndarray, diversity: float) -> tuple[np.ndarray, float]:
    """Each row re-ranked to K by MMR (relevance = position, as in the API); seconds per list."""
    out = np.full((len(top), K), -1, dtype=np.int64)
    started = time.perf_counter()
    for row, items in enumerate(top):
        items = items[items >= 0]
        rel = np.linspace(1.0, 0.0, num=len(items), endpoint=False)
        chosen = mmr(rel, vectors[items] if diversity > 0 else None, K, diversity)
        out[row, :len(chosen)] = items[chosen]
    return out, (time.perf_counter() - started) / max(len(top), 1)


def row(name: str, top: np.ndarray, users: np.ndarray, data, beyond_args: tuple, per_list_s: float) -> dict:
    truth = {}
    for u, c in zip(data.test.user, data.test.content):
        truth.setdefault(int(u), []).append(int(c))
    acc = list_accuracy(top, {u: np.asarray(v) for u, v in truth.items()}, users, K)
    return {"name": name, **acc, **beyond_accuracy(top, *beyond_args), "ms": 1000 * per_list_s}


def run(args: argparse.Namespace) -> str:
    started = time.perf_counter()
    load_before = os.getloadavg()
    snap = Snapshot.load(build_snapshot(var_dir("bench") / "ml100k-snapshot", args.rebuild))
    cfg = TrainConfig(device=args.device, backend=args.backend, num_threads=args.threads, eval_k=K,
                      **({"model": args.model} if args.model else {}),
                      **({"epochs": args.epochs} if args.epochs else {}))
    data = build_data(snap, cfg, "temporal")
    n_items = data.num_nodes[CONTENT]
    found = item_vectors(snap, DEFAULT_EMBEDDING)
    if found is None:
        raise SystemExit(f"the snapshot has no Content.{DEFAULT_EMBEDDING}")
    vectors = np.where(found[1][:, None], found[0], 0.0)
    popularity = np.bincount(data.train.content, minlength=n_items)
    beyond_args = (n_items, popularity, len(np.unique(data.train.user)), vectors, found[1])

    t0 = time.perf_counter()
    trainer = Trainer(data, cfg)
    fit = trainer.fit(progress=False)
    train_s = time.perf_counter() - t0
    score = trainer.score_fn(trainer.embeddings())
    users, top, _ = candidate_lists(score, data, n_items, args.pool)
    _, _, evaluator = candidate_lists(score, data, n_items, K)
    rows = []
    pop = popularity_scores(data)
    p_users, p_top, _ = candidate_lists(lambda u: pop.expand(len(u), -1), data, n_items, K)
    assert np.array_equal(p_users, users)
    rows.append(row("popularity (baseline)", p_top, users, data, beyond_args, 0.0))
    for level in args.levels:
        lists, per_list = rerank_lists(top, vectors, level)
        rows.append(row(f"{cfg.model}, diversity {level:g}", lists, users, data, beyond_args, per_list))
    load_after = os.getloadavg()

    lines = [
        "# Accuracy vs diversity on MovieLens-100K (`bench/diversity.py`)", "",
        "Command:", "", f"    .venv/bin/python bench/diversity.py --levels {','.join(f'{x:g}' for x in args.levels)} "
        f"--pool {args.pool}" + (f" --epochs {args.epochs}" if args.epochs else ""), "",
        f"GNN: `{cfg.model}` with the shipped default TrainConfig (backend {cfg.backend}, emb {cfg.emb_dim}, "
        f"{cfg.num_layers} layers, lr {cfg.lr}, early stopping on validation NDCG@20, best epoch "
        f"{fit.best_epoch}, trained in {train_s:.0f} s), temporal split (each user's last 10 % of movies as test), "
        f"{len(users)} test users, all {n_items:,} movies ranked with the user's train + validation movies "
        f"excluded. Re-ranking: the top {args.pool} candidates cut to {K} by `graph.rerank.mmr` (relevance = "
        f"candidate position, as in the API), vectors `Content.{DEFAULT_EMBEDDING}` (MiniLM over title + genres). "
        "Diversity 0 is the GNN's own top 20 (`ikg evaluate`'s protocol gives the same model Recall@20 "
        f"{evaluator['recall@20']:.4f}, NDCG@20 {evaluator['ndcg@20']:.4f}). The popularity baseline is "
        "measured in the same run on the same users.", "",
        "Columns: Recall@20 and NDCG@20 vs held-out movies; coverage = share of the 1,682 movies in any list; "
        "diversity = mean pairwise cosine distance (1 − cos) of a list's `emb_text` vectors; novelty = mean "
        "−log2 p(i), p(i) = (training users of i + 1) / (training users + 1); avg pop = mean training users "
        "per recommended movie; ms = re-ranking time per list.", "",
        f"Machine: {os.cpu_count()} cores (shared), Python {platform.python_version()}, torch "
        f"{torch.__version__}; load average {load_before[0]:.1f} → {load_after[0]:.1f}; total "
        f"{time.perf_counter() - started:.0f} s.", "",
        "| lists | Recall@20 | NDCG@20 | coverage | diversity | novelty | avg pop | ms/list |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(f"| {r['name']} | {r['recall@20']:.4f} | {r['ndcg@20']:.4f} | {r['coverage']:.4f} | "
                     f"{r['diversity']:.4f} | {r['novelty']:.3f} | {r['avg_pop']:.1f} | {r['ms']:.2f} |")
    base = rows[1]
    for r in rows[2:]:
        lines.append("")
        lines.append(f"{r['name']}: NDCG@20 {100 * (r['ndcg@20'] / base['ndcg@20'] - 1):+.1f} %, intra-list "
                     f"diversity {100 * (r['diversity'] / base['diversity'] - 1):+.1f} %, coverage "
                     f"{100 * (r['coverage'] / base['coverage'] - 1):+.1f} % vs diversity 0.")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--levels", default="0,0.3,0.6", type=lambda s: [float(x) for x in s.split(",")])
    p.add_argument("--pool", type=int, default=200, help="GNN candidates re-ranked per user")
    p.add_argument("--model", help="GNN model (default: the config's)")
    p.add_argument("--backend", default="dgl", choices=["dgl", "pyg"])
    p.add_argument("--device", default="cpu")
    p.add_argument("--epochs", type=int, help="max epochs (default: the config's)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--rebuild", action="store_true", help="re-ingest and re-export the snapshot")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--no-save", action="store_true")
    args = p.parse_args()
    if args.levels[0] != 0:
        p.error("--levels must start with 0 (the undiversified lists everything is compared to)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")
    text = run(args)
    sys.stdout.write(text)
    if not args.no_save:
        args.out.write_text(text)
        logger.info("wrote %s", args.out)


if __name__ == "__main__":
    main()
