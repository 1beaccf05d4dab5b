"""Compare GNNs and baselines on one split: full ranking on the test pairs, markdown table + bar chart.

Every model is trained on the same training pairs, early-stopped on the same validation pairs and
ranked over all content with the user's training and validation items excluded. Besides accuracy,
each row has beyond-accuracy metrics of the same top-K lists (``gnn.metrics``): catalogue coverage,
intra-list diversity over a content embedding (default ``emb_text``, named in the row), novelty and
average recommended popularity (training users per item).
"""
from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from graph.errors import ConfigError
from graph.deletions import drop_deleted_users
from graph.model import CONTENT
from graph.rerank import DEFAULT_EMBEDDING
from graph.snapshot import Snapshot

from gnn.baselines import popularity_scores, train_bprmf
from gnn.config import MODELS, TrainConfig
from gnn.data import TrainData, build_data
from gnn.metrics import BEYOND, METRICS, beyond_accuracy, rank_and_evaluate, sample_users
from gnn.train import Trainer, resolve_device

logger = logging.getLogger(__name__)
BASELINES = ("pop", "bprmf")
ALL_MODELS = MODELS + BASELINES


def _test_exclude(data: TrainData) -> tuple[np.ndarray, np.ndarray]:
    return (np.concatenate([data.train.user, data.val.user]), np.concatenate([data.train.content, data.val.content]))


def item_vectors(snap: Snapshot, prop: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(vectors, presence mask) of one content embedding in the snapshot, or None if it has none."""
    x = snap.features.get(CONTENT, {}).get(prop)
    return None if x is None else (x, snap.feature_masks[CONTENT][prop].astype(bool))


def evaluate_models(data: TrainData, cfg: TrainConfig, models: list[str], progress: bool = False,
                    vectors: tuple[np.ndarray, np.ndarray] | None = None,
                    embedding: str = DEFAULT_EMBEDDING) -> list[dict]:
    """Train (where needed) and test every model on ``data``'s split; one row of metrics per model.

    ``vectors`` (content embedding ``embedding`` and its mask) measure intra-list diversity; without
    them the training features' ``embedding`` is used if present, else diversity is NaN."""
    unknown = [m for m in models if m not in ALL_MODELS]
    if unknown:
        raise ConfigError(f"unknown model(s) {unknown}; choose from {', '.join(ALL_MODELS)}")
    device = resolve_device(cfg.device)
    n_items = data.num_nodes[CONTENT]
    truth = sample_users((data.test.user, data.test.content), cfg.eval_users, cfg.seed)
    exclude = _test_exclude(data)
    if vectors is None:
        vectors = data.features.get(CONTENT, {}).get(embedding)
    popularity = np.bincount(data.train.content, minlength=n_items)
    n_train_users = len(np.unique(data.train.user))
    rows = []
    for name in models:
        t0 = time.perf_counter()
        if name == "pop":
            pop = popularity_scores(data).to(device)
            score, val = (lambda users: pop.expand(len(users), -1)), {}
        elif name == "bprmf":
            mf, val = train_bprmf(data, cfg, device)
            score = mf.all
        else:
            trainer = Trainer(data, replace(cfg, model=name), device)
            result = trainer.fit(progress=progress)
            emb = trainer.embeddings()
            score, val = trainer.score_fn(emb), result.val
        metrics, _, top = rank_and_evaluate(score, truth, exclude, n_items, k=cfg.eval_k,
                                            batch_users=cfg.score_batch_users, device=device)
        beyond = beyond_accuracy(top, n_items, popularity, n_train_users, *(vectors or (None, None)))
        key = f"ndcg@{cfg.eval_k}"
        rows.append({"model": name, "split": data.split, **metrics,
                     **{f"{m}@{cfg.eval_k}": v for m, v in beyond.items()},
                     "diversity_embedding": embedding if vectors is not None else None,
                     f"val_{key}": val.get(key, float("nan")), "seconds": time.perf_counter() - t0})
        logger.info("%s on %s split: %s=%.4f", name, data.split, key, metrics[key])
    return rows


def metric_names(k: int) -> list[str]:
    return [f"{m}@{k}" if m not in ("mrr", "auc") else m for m in METRICS]


def beyond_names(k: int) -> list[str]:
    return [f"{m}@{k}" for m in BEYOND]


def _cell(value: float | None) -> str:
    return "n/a" if value is None or value != value else f"{value:.4f}"


def markdown_table(rows: list[dict], k: int) -> str:
    """Accuracy and beyond-accuracy columns (n/a: not measured for that row, e.g. a stored run)."""
    cols = metric_names(k) + beyond_names(k)
    head = "| split | model | " + " | ".join(cols) + f" | val ndcg@{k} | s |"
    lines = [head, "|" + " --- |" * (len(cols) + 4)]
    for r in rows:
        vals = " | ".join(_cell(r.get(c)) for c in cols)
        lines.append(f"| {r['split']} | {r['model']} | {vals} | {r[f'val_ndcg@{k}']:.4f} | {r['seconds']:.1f} |")
    embeddings = sorted({r["diversity_embedding"] for r in rows if r.get("diversity_embedding")})
    if embeddings:
        lines.append(f"\ndiversity@{k}: mean pairwise cosine distance of a list's `{', '.join(embeddings)}` "
                     f"vectors; novelty@{k}: mean -log2 p(i); avg_pop@{k}: mean training users per recommended item")
    return "\n".join(lines)


def bar_chart(rows: list[dict], k: int, path: Path) -> Path:
    """Grouped bars: one group per metric, one bar per (split, model)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = metric_names(k)
    labels = [f"{r['split']}/{r['model']}" for r in rows]
    width = 0.8 / max(len(rows), 1)
    fig, ax = plt.subplots(figsize=(max(8, len(cols) * 1.4), 4.5))
    for i, (label, r) in enumerate(zip(labels, rows)):
        ax.bar(np.arange(len(cols)) + i * width, [r[c] for c in cols], width, label=label)
    ax.set_xticks(np.arange(len(cols)) + 0.4 - width / 2, cols)
    ax.set_ylabel("score")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def run_row(run: dict) -> dict:
    """The evaluation row of an already trained run (its test metrics, same protocol as evaluate_models)."""
    m = run["metrics"]
    key = next((k for k in m["val"] if k.startswith("ndcg@")), "ndcg@20")
    return {"model": f"{run['model']} (this run)", "split": m["split"], **m["test"],
            f"val_{key}": m["val"].get(key, float("nan")), "seconds": run["timings"].get("train_s", float("nan"))}


def run_evaluation(snapshot_dir: Path, cfg: TrainConfig, splits: list[str], models: list[str], out_dir: Path,
                   progress: bool = False, runs: list[dict] | None = None,
                   embedding: str = DEFAULT_EMBEDDING) -> tuple[list[dict], Path]:
    """Evaluate ``models`` on each split; writes ``report.md``, ``rows.json`` and ``bars.png`` to ``out_dir``.

    ``runs`` (run.json contents) are reported from their stored test metrics instead of being retrained.
    """
    import json

    snap, _ = drop_deleted_users(Snapshot.load(snapshot_dir))
    vectors = item_vectors(snap, embedding)
    if vectors is None:
        logger.warning("snapshot has no Content.%s: intra-list diversity is not measured", embedding)
    rows: list[dict] = [run_row(r) for r in runs or []]
    for split in splits:
        rows += evaluate_models(build_data(snap, cfg, split), cfg, models, progress, vectors, embedding)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.md").write_text(markdown_table(rows, cfg.eval_k) + "\n")
    (out_dir / "rows.json").write_text(json.dumps(rows, indent=2))
    bar_chart(rows, cfg.eval_k, out_dir / "bars.png")
    return rows, out_dir
