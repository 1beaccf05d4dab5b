"""MovieLens-100K quality: our GNNs (sage, gcn; with and without text/KG features) vs popularity vs BPR-MF.

The snapshot is built through the platform itself: `ingest_source(['movielens-100k'])` (MiniLM text
embeddings, genre + KG topics) into a throwaway Neo4j, then `graph.export.export_to` (cached under
var/bench/ml100k-snapshot; `--rebuild` to redo). "no text/KG" = the same snapshot without node
features and without the KG topic edges (genres kept). Every model trains on the same split, is
early-stopped on the validation pairs and tested once on the test pairs (full ranking over all
movies, the user's train + validation movies excluded). `--tune` picks lr and depth per GNN
variant on validation NDCG@20 only; the test column is never used for any choice.

    .venv/bin/python bench/quality.py [--splits temporal,random] [--backend dgl] [--tune] [--epochs 200]
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("DGLBACKEND", "pytorch")
RESULTS = ROOT / "bench" / "results" / "quality.md"
logger = logging.getLogger("bench.quality")

import numpy as np  # noqa: E402

from graph.settings import var_dir  # noqa: E402
from graph.snapshot import Snapshot  # noqa: E402
from gnn.config import TrainConfig  # noqa: E402
from gnn.data import CT, build_data  # noqa: E402
from gnn.evaluate import evaluate_models  # noqa: E402

GRID = [{"lr": lr, "num_layers": nl, "fanouts": (10,) * nl} for lr in (0.002, 0.005) for nl in (1, 2)]


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


def pick(data, cfg: TrainConfig, model: str, tune: bool) -> tuple[TrainConfig, dict]:
    """Best config on validation NDCG@20 among GRID (or cfg itself); returns it and its test row."""
    candidates = [dataclasses.replace(cfg, **g) for g in GRID] if tune else [cfg]
    best = None
    for c in candidates:
        row = evaluate_models(data, c, [model])[0]
        logger.info("%s %s lr=%s layers=%d: val ndcg@20 %.4f", data.split, model, c.lr, c.num_layers,
                    row["val_ndcg@20"])
        if best is None or row["val_ndcg@20"] > best[1]["val_ndcg@20"]:
            best = (c, row)
    return best


def run(args: argparse.Namespace) -> str:
    snap_dir = build_snapshot(var_dir("bench") / "ml100k-snapshot", args.rebuild)
    snap = Snapshot.load(snap_dir)
    plain = without_text_kg(snap)
    base = TrainConfig(backend=args.backend, device=args.device, epochs=args.epochs, patience=args.patience,
                       batch_size=args.batch_size, emb_dim=64, eval_k=20,
                       num_threads=args.threads, lr=args.lr)
    load_before = os.getloadavg()
    rows = []
    for split in args.splits.split(","):
        data_full = build_data(snap, base, split)
        data_plain = build_data(plain, dataclasses.replace(base, use_features=False), split)
        if "full" in args.variants:
            for name, row in zip(("popularity", "BPR-MF"), evaluate_models(data_full, base, ["pop", "bprmf"])):
                rows.append({**row, "name": name, "chosen": f"lr={base.lr}, batch {min(base.batch_size, 1024)}"})
        variants = [v for v in (("text+KG", data_full, base, "full"),
                                ("no text/KG", data_plain, dataclasses.replace(base, use_features=False), "plain"))
                    if v[3] in args.variants]
        for model in args.models.split(","):
            for label, data, cfg, _ in variants:
                chosen, row = pick(data, cfg, model, args.tune)
                rows.append({**row, "name": f"{model} ({label})",
                             "chosen": f"lr={chosen.lr}, layers={chosen.num_layers}"})
    load_after = os.getloadavg()
    counts = snap.manifest["counts"]
    lines = [
        "# MovieLens-100K quality (`bench/quality.py`)", "",
        f"Snapshot: `ikg ingest movielens-100k` (MiniLM text, genre + KG topics) → `graph.export` "
        f"({counts['nodes']}, {sum(counts['edges'].values()):,} edges). Backend {args.backend}, "
        f"{args.device}, emb 64, lr {args.lr}, batch {args.batch_size:,} positives, BPR, 1 uniform negative, early stopping on validation NDCG@20 "
        f"(patience {args.patience}, max {args.epochs} epochs), seed 0. Split per user: last 10 % (temporal) or random "
        "10 % test, the 10 % before validation. Full ranking over all 1,682 movies, user's train+val movies "
        f"excluded. Selection {'on validation (grid: lr × layers)' if args.tune else 'none (defaults)'}; "
        f"test used only for this table. Machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load {load_before[0]:.1f} → {load_after[0]:.1f}.", "",
        "| split | model | Recall@20 | NDCG@20 | val NDCG@20 | chosen | s |",
        "| --- | --- | ---: | ---: | ---: | --- | ---: |",
    ]
    for r in rows:
        lines.append(f"| {r['split']} | {r['name']} | {r['recall@20']:.4f} | {r['ndcg@20']:.4f} | "
                     f"{r['val_ndcg@20']:.4f} | {r['chosen']} | {r['seconds']:.0f} |")
    for split in args.splits.split(",") if "full" in args.variants else ():
        mf = next(r for r in rows if r["split"] == split and r["name"] == "BPR-MF")
        gnn = max((r for r in rows if r["split"] == split and r["name"][:3] in ("sag", "gcn")),
                  key=lambda r: r["val_ndcg@20"])
        verdict = "above" if gnn["ndcg@20"] > mf["ndcg@20"] else "NOT above"
        lines.append("")
        lines.append(f"{split}: the GNN chosen on validation ({gnn['name']}) is {verdict} BPR-MF on test NDCG@20 "
                     f"({gnn['ndcg@20']:.4f} vs {mf['ndcg@20']:.4f}).")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--splits", default="temporal,random")
    p.add_argument("--backend", default="dgl", choices=["dgl", "pyg"])
    p.add_argument("--device", default="cpu")
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--patience", type=int, default=15)
    p.add_argument("--batch-size", type=int, default=8192)
    p.add_argument("--variants", default="full,plain", help="full (text+KG, with baselines), plain (no text/KG)")
    p.add_argument("--models", default="sage,gcn")
    p.add_argument("--lr", type=float, default=0.005)
    p.add_argument("--tune", action="store_true")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 avoids oversubscription)")
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
