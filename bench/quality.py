"""MovieLens-100K quality: our GNNs (sage, gcn; with and without text/KG features) vs popularity vs BPR-MF.

The snapshot is built through the platform itself: `ingest_source(['movielens-100k'])` (MiniLM text
embeddings, genre + KG topics) into a throwaway Neo4j, then `graph.export.export_to` (cached under
var/bench/ml100k-snapshot; `--rebuild` to redo). "no text/KG" = the same snapshot without node
features and without the KG topic edges (genres kept). GNN rows use the shipped default configuration
(gnn/configs/default.yaml = TrainConfig defaults) with only the model name changed. Every model trains on
the same split with the same negatives, is early-stopped on the validation pairs and tested once on the
test pairs (full ranking over all movies, the user's train + validation movies excluded). BPR-MF is
tuned on validation NDCG@20 over a lr × l2 grid; `--tune` does the same for every GNN row. The test
column is never used for any choice; the verdict lines are computed from the table.

    .venv/bin/python bench/quality.py              # the whole table, ~15-20 min on a quiet 2-core box
    .venv/bin/python bench/quality.py --tune       # also tune the GNNs on validation (slower)
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import multiprocessing
import os
import platform
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("DGLBACKEND", "pytorch")
RESULTS = ROOT / "bench" / "results" / "quality.md"
logger = logging.getLogger("bench.quality")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from graph.settings import var_dir  # noqa: E402
from graph.snapshot import Snapshot  # noqa: E402
from gnn.baselines import MF_BATCH  # noqa: E402
from gnn.config import TrainConfig  # noqa: E402
from gnn.data import CT, TrainData, build_data  # noqa: E402
from gnn.evaluate import evaluate_models  # noqa: E402

MF_GRID = [{"lr": lr, "l2": l2} for lr in (0.002, 0.005, 0.01) for l2 in (1e-4, 1e-3, 1e-2)]
GNN_GRID = [{"lr": lr, "l2": l2} for lr in (0.005, 0.01) for l2 in (1e-4, 1e-3, 1e-2)]
MARGIN = 0.05  # "clearly above" = at least 5 % relative NDCG@20 over BPR-MF


def build_snapshot(path: Path, rebuild: bool) -> Path:
    """Ingest MovieLens-100K into a throwaway Neo4j and export it (cached)."""
    if (path / "manifest.json").exists() and not rebuild:
        return path
    from graph import schema, server
    from graph.db import Graph
    from graph.export import ExportConfig, export_to
    from graph.settings import Neo4jSettings
    from ingestion.pipeline import IngestConfig, ingest_source

    with tempfile.TemporaryDirectory(prefix="bench-quality-") as home, \
            server.throwaway(Path(home), heap="1g", pagecache="512m", plugins=False) as cfg, \
            Graph.connect(Neo4jSettings.for_server(cfg)) as g:
        schema.apply(g)
        t0 = time.perf_counter()
        ingest_source(g, ["movielens-100k"], IngestConfig(progress=False), kg=True)
        logger.info("ingested MovieLens-100K in %.1f s", time.perf_counter() - t0)
        export_to(g, ExportConfig(), path)
    return path


def without_text_kg(snap: Snapshot) -> Snapshot:
    """The same graph with no node features and only genre topic edges."""
    ct = snap.edges[CT]
    genre = np.array([str(t).startswith("genre:") for t in snap.node_ids["Topic"]])
    keep = genre[ct["dst"]]
    edges = dict(snap.edges)
    edges[CT] = {k: v[keep] for k, v in ct.items()}
    return dataclasses.replace(snap, edges=edges, features={}, feature_masks={})


def describe(cfg: TrainConfig, keys: tuple[str, ...]) -> str:
    return ", ".join(f"{k}={getattr(cfg, k)}" for k in keys)


def pick(data: TrainData, cfg: TrainConfig, model: str, grid: list[dict]) -> tuple[TrainConfig, dict, float]:
    """Best of ``cfg`` updated by each grid entry (or cfg itself) on validation NDCG@20.

    Returns the chosen config, its row and the wall time of the whole search."""
    t0 = time.perf_counter()
    best = None
    for change in grid or [{}]:
        c = dataclasses.replace(cfg, **change)
        row = evaluate_models(data, c, [model])[0]
        logger.info("%s %s %s: val ndcg@20 %.4f (%.0f s)", data.split, model, change, row["val_ndcg@20"],
                    row["seconds"])
        if best is None or row["val_ndcg@20"] > best[1]["val_ndcg@20"]:
            best = (c, row)
    return best[0], best[1], time.perf_counter() - t0


def verdicts(rows: list[dict], splits: list[str]) -> list[str]:
    """Per split: the GNN row with the best validation NDCG@20 vs BPR-MF on test NDCG@20."""
    out = []
    for split in splits:
        mf = next(r for r in rows if r["split"] == split and r["name"] == "BPR-MF")
        gnns = [r for r in rows if r["split"] == split and r["gnn"]]
        if not gnns:
            continue
        g = max(gnns, key=lambda r: r["val_ndcg@20"])
        rel = g["ndcg@20"] / mf["ndcg@20"] - 1
        word = ("clearly above" if rel >= MARGIN else "above (by less than 5 %)" if rel > 0 else "NOT above")
        out.append(f"- {split}: the GNN chosen on validation NDCG@20 ({g['name']}, val {g['val_ndcg@20']:.4f}) is "
                   f"**{word}** BPR-MF on test NDCG@20: {g['ndcg@20']:.4f} vs {mf['ndcg@20']:.4f} "
                   f"({rel:+.1%}); Recall@20 {g['recall@20']:.4f} vs {mf['recall@20']:.4f}.")
    return out


def base_config(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig().with_overrides(backend=args.backend, device=args.device, num_threads=args.threads,
                                        epochs=args.epochs, patience=args.patience)


def split_rows(snap_dir: Path, split: str, args: argparse.Namespace) -> tuple[list[dict], list[float]]:
    """Every row of one split (popularity, tuned BPR-MF, the GNN variants) and the load after each group."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    snap = Snapshot.load(snap_dir)
    base = base_config(args)
    rows, loads = [], []
    data_full = build_data(snap, base, split)
    data_plain = build_data(without_text_kg(snap), dataclasses.replace(base, use_features=False), split)
    pop = evaluate_models(data_full, base, ["pop"])[0]
    rows.append({**pop, "name": "popularity", "chosen": "-", "gnn": False})
    chosen, mf, secs = pick(data_full, dataclasses.replace(base, epochs=args.mf_epochs), "bprmf", MF_GRID)
    rows.append({**mf, "seconds": secs, "name": "BPR-MF", "gnn": False,
                 "chosen": f"{describe(chosen, ('lr', 'l2'))} (grid of {len(MF_GRID)}; this point "
                           f"{mf['seconds']:.0f} s)"})
    loads.append(os.getloadavg()[0])
    for model in args.models.split(","):
        for label, data, cfg in (("text+KG", data_full, base),
                                 ("no text/KG", data_plain, dataclasses.replace(base, use_features=False))):
            chosen, row, secs = pick(data, dataclasses.replace(cfg, model=model), model,
                                     GNN_GRID if args.tune else [])
            note = f" (grid of {len(GNN_GRID)}; this point {row['seconds']:.0f} s)" if args.tune else " (default)"
            rows.append({**row, "seconds": secs, "name": f"{model} ({label})", "gnn": True,
                         "chosen": describe(chosen, ("lr", "l2")) + note})
            loads.append(os.getloadavg()[0])
    return rows, loads


def run(args: argparse.Namespace) -> str:
    started = time.perf_counter()
    snap_dir = build_snapshot(var_dir("bench") / "ml100k-snapshot", args.rebuild)
    snap = Snapshot.load(snap_dir)
    base = base_config(args)
    splits = args.splits.split(",")
    load_before = os.getloadavg()
    if args.jobs > 1 and len(splits) > 1:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(args.jobs, len(splits)), mp_context=ctx) as pool:
            parts = list(pool.map(split_rows, [snap_dir] * len(splits), splits, [args] * len(splits)))
    else:
        parts = [split_rows(snap_dir, split, args) for split in splits]
    rows = [r for part, _ in parts for r in part]
    loads = [x for _, part in parts for x in part]
    load_after = os.getloadavg()
    total = time.perf_counter() - started
    counts = snap.manifest["counts"]
    arch = ("LightGCN-style propagation (no weight, no activation)" if base.model == "gcn" and not base.conv_weight
            and base.activation == "none" else f"{base.model}")
    cmd = "    .venv/bin/python bench/quality.py " + " ".join(sys.argv[1:])
    selection = "lr × l2 grid on validation" if args.tune else "none (defaults)"
    lines = [
        "# MovieLens-100K quality (`bench/quality.py`)", "",
        "Command (one run writes this whole file):", "", cmd, "",
        f"Snapshot: `ikg ingest movielens-100k` (MiniLM text, genre + KG topics) → `graph.export` "
        f"({counts['nodes']}, {sum(counts['edges'].values()):,} edges). GNN rows: the shipped default config "
        f"(`gnn/configs/default.yaml`; default model `{base.model}`: {arch}) with only the model changed — "
        f"backend {args.backend}, {args.device}, {base.num_layers} layers, emb {base.emb_dim}, JK layer mean, "
        f"batch {base.batch_size:,} positives, lr {base.lr}, l2 {base.l2}, {base.loss.upper()} with "
        f"{base.num_negatives} uniform negative(s), dropout {base.dropout}, id dropout {base.id_dropout}, "
        f"topic loss weight {base.topic_loss_weight}, early stopping on validation NDCG@20 (patience "
        f"{base.patience}, max {base.epochs} epochs), seed {base.seed}. \"sage\" = SAGEConv(mean) with the same "
        f"settings. BPR-MF: same split, same uniform negatives, batch {min(base.batch_size, MF_BATCH):,}, max "
        f"{args.mf_epochs} epochs, "
        f"same early stopping, lr × l2 chosen on validation NDCG@20. Split per user: last 10 % (temporal) or a "
        "random 10 % as test, the 10 % before them validation. Full ranking over all 1,682 movies, the "
        f"user's train+val movies excluded. GNN selection: {selection}; test used only for this table. "
        "`s` = wall seconds of the row including its grid search.", "",
        "| split | model | Recall@20 | NDCG@20 | val NDCG@20 | chosen | s |",
        "| --- | --- | ---: | ---: | ---: | --- | ---: |",
    ]
    for r in rows:
        lines.append(f"| {r['split']} | {r['name']} | {r['recall@20']:.4f} | {r['ndcg@20']:.4f} | "
                     f"{r['val_ndcg@20']:.4f} | {r['chosen']} | {r['seconds']:.0f} |")
    lines += ["", "Verdict (computed; \"clearly\" = at least +5 % relative test NDCG@20):", ""]
    lines += verdicts(rows, splits)
    lines += ["", f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}, torch {torch.__version__}, "
              f"{args.threads} torch thread(s); load average (1 min) {load_before[0]:.1f} before, "
              f"{', '.join(f'{x:.1f}' for x in loads)} after each row group, {load_after[0]:.1f} at the end; "
              f"splits in {min(args.jobs, len(splits))} parallel process(es); "
              f"total wall {total / 60:.1f} min."]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--splits", default="temporal,random")
    p.add_argument("--backend", default="dgl", choices=["dgl", "pyg"])
    p.add_argument("--device", default="cpu")
    p.add_argument("--models", default="sage,gcn")
    p.add_argument("--epochs", type=int, help="max GNN epochs (default: the config's)")
    p.add_argument("--patience", type=int, help="GNN early-stopping patience (default: the config's)")
    p.add_argument("--mf-epochs", type=int, default=200, help="max BPR-MF epochs")
    p.add_argument("--tune", action="store_true", help="also pick lr × l2 per GNN row on validation")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads per process (1 avoids oversubscription)")
    p.add_argument("--jobs", type=int, default=2, help="splits trained in parallel processes (one per core)")
    p.add_argument("--rebuild", action="store_true", help="re-ingest and re-export the snapshot")
    p.add_argument("--out", type=Path, default=RESULTS, help="where to save the table")
    p.add_argument("--no-save", action="store_true")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    report = run(args)
    sys.stdout.write(report)
    if not args.no_save:
        args.out.write_text(report)


if __name__ == "__main__":
    main()
