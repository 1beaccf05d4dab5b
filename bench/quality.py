"""MovieLens-100K quality: our GNNs (sage, gcn; with and without text/KG features) vs popularity vs BPR-MF.

The snapshot is built through the platform itself: `ingest_source(['movielens-100k'])` (MiniLM text
embeddings, genre + KG topics) into a throwaway Neo4j, then `graph.export.export_to` (cached under
var/bench/ml100k-snapshot; `--rebuild` to redo). "no text/KG" = the same snapshot without node
features and without the KG topic edges (genres kept). GNN rows start from the shipped default
configuration (gnn/configs/default.yaml = TrainConfig defaults) with the model name set. Every model trains on
the same split with the same negatives, is early-stopped on the validation pairs and tested once on the
test pairs (full ranking over all movies, the user's train + validation movies excluded). BPR-MF is
tuned on validation NDCG@20 over a lr × l2 grid (MF_GRID); each GNN's "text+KG" row over its own
lr × l2 grid (GNN_GRID) with up to 300 epochs; the "no text/KG" row of each model in ``--ablate`` reuses the
hyper-parameters chosen for its "text+KG" row (an ablation of the inputs). GNN rows also report test
NDCG@20 with the validation interactions as graph edges at test time, BPR-MF refit on train +
validation (second verdict line). The test column is never used for any choice; the verdict lines are
computed from the table. Node features computed from all interactions (User ``emb_behavior``) are left
out by the training default (``interaction_features: drop``), so held-out interactions reach no input.

    .venv/bin/python bench/quality.py --jobs 1     # the whole table, one split after the other
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
LIGHTGCN = ROOT / "gnn" / "configs" / "lightgcn.yaml"
logger = logging.getLogger("bench.quality")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from graph.settings import var_dir  # noqa: E402
from graph.model import CONTENT  # noqa: E402
from graph.snapshot import Snapshot  # noqa: E402
from gnn.baselines import MF_BATCH, train_bprmf  # noqa: E402
from gnn.config import TrainConfig  # noqa: E402
from gnn.data import CT, Pairs, TrainData, build_data  # noqa: E402
from gnn.evaluate import evaluate_models  # noqa: E402
from gnn.metrics import (evaluate_ranking, group_by_user, paired_bootstrap, per_user_accuracy,  # noqa: E402
                         rank_and_evaluate)
from gnn.train import Trainer  # noqa: E402

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


def describe(cfg: TrainConfig, grid: list[dict]) -> str:
    return ", ".join(f"{k}={getattr(cfg, k)}" for k in dict.fromkeys(k for g in grid for k in g))


def chosen_note(cfg: TrainConfig, grid: list[dict], row: dict) -> str:
    """The table's "chosen" cell of a grid-searched row."""
    return (f"{describe(cfg, grid)} (grid of {len(grid)}; this point {row['seconds']:.0f} s, "
            f"best epoch {row['epoch']})")


def known_pairs(data: TrainData) -> Pairs:
    """Training + validation pairs: every interaction known at test time."""
    return Pairs(*(np.concatenate([getattr(data.train, f), getattr(data.val, f)])
                   for f in ("user", "content", "first_ts", "last_ts", "weight")))


def test_ranking(score_fn, data: TrainData, cfg: TrainConfig) -> tuple[dict, np.ndarray]:
    """Test metrics (train + validation items excluded) and each test user's NDCG@k, users in id order."""
    known = known_pairs(data)
    k = cfg.eval_k
    test, users, top = rank_and_evaluate(score_fn, (data.test.user, data.test.content), (known.user, known.content),
                                         data.num_nodes[CONTENT], k=k, batch_users=cfg.score_batch_users,
                                         device=torch.device(cfg.device))
    ndcg = per_user_accuracy(top, group_by_user(data.test.user, data.test.content), users, k)[1]
    if abs(float(ndcg.mean()) - test[f"ndcg@{k}"]) > 1e-4:
        raise RuntimeError(f"per-user NDCG mean {ndcg.mean():.6f} != evaluator {test[f'ndcg@{k}']:.6f}")
    return test, ndcg


def mf_row(data: TrainData, cfg: TrainConfig) -> dict:
    """BPR-MF early-stopped on validation and tested on the test pairs."""
    t0 = time.perf_counter()
    k = cfg.eval_k
    model, val = train_bprmf(data, cfg, torch.device(cfg.device))
    test, per_user = test_ranking(model.all, data, cfg)
    return {"split": data.split, **test, f"val_ndcg@{k}": val[f"ndcg@{k}"], "epoch": val["epoch"],
            "user_ndcg": per_user, "seconds": time.perf_counter() - t0}


def mf_refit(data: TrainData, cfg: TrainConfig, epochs: int) -> dict:
    """BPR-MF refit on training + validation pairs for ``epochs`` epochs (no early stopping), tested: the
    validation interactions known at test time."""
    device = torch.device(cfg.device)
    k = cfg.eval_k
    known = known_pairs(data)
    model, _ = train_bprmf(dataclasses.replace(data, train=known), dataclasses.replace(cfg, epochs=epochs),
                           device, select=False)
    test = evaluate_ranking(model.all, (data.test.user, data.test.content), (known.user, known.content),
                            data.num_nodes[CONTENT], k=k, batch_users=cfg.score_batch_users, device=device)
    return {f"known_ndcg@{k}": test[f"ndcg@{k}"], f"known_recall@{k}": test[f"recall@{k}"]}


def gnn_row(data: TrainData, cfg: TrainConfig) -> dict:
    """Train ``cfg.model`` with early stopping on validation; test metrics on the training graph, and again
    with the validation interactions added as edges at test time (known then; no retraining)."""
    t0 = time.perf_counter()
    trainer = Trainer(data, cfg)
    result = trainer.fit(progress=False)
    test, per_user = test_ranking(trainer.score_fn(trainer.embeddings()), data, cfg)
    with_val = trainer.evaluate("test", trainer.embeddings(data.with_interactions(known_pairs(data))))
    key = f"ndcg@{cfg.eval_k}"
    return {"split": data.split, **test, "val_" + key: result.val[key], "epoch": result.best_epoch,
            "known_" + key: with_val[key], f"known_recall@{cfg.eval_k}": with_val[f"recall@{cfg.eval_k}"],
            "user_ndcg": per_user, "seconds": time.perf_counter() - t0}


def pick(data: TrainData, cfg: TrainConfig, model: str, grid: list[dict]) -> tuple[TrainConfig, dict, float]:
    """Best of ``cfg`` updated by each grid entry (or cfg itself) on validation NDCG@20.

    Returns the chosen config, its row and the wall time of the whole search."""
    t0 = time.perf_counter()
    best = None
    for change in grid or [{}]:
        c = dataclasses.replace(cfg, **change)
        row = mf_row(data, c) if model == "bprmf" else gnn_row(data, c)
        logger.info("%s %s %s: val ndcg@20 %.4f (%.0f s)", data.split, model, change, row["val_ndcg@20"],
                    row["seconds"])
        if best is None or row["val_ndcg@20"] > best[1]["val_ndcg@20"]:
            best = (c, row)
    return best[0], best[1], time.perf_counter() - t0


def interval(g: dict, mf: dict) -> str:
    """The paired-bootstrap 95 % interval of the GNN's relative NDCG@20 difference over BPR-MF."""
    lo, hi = paired_bootstrap(g["user_ndcg"], mf["user_ndcg"])
    verdict = "excludes 0" if lo > 0 or hi < 0 else "includes 0: the difference is within the noise"
    return (f"Paired bootstrap over the {len(g['user_ndcg'])} test users (10,000 resamples): 95 % interval of "
            f"the relative difference [{lo:+.1%}, {hi:+.1%}], which {verdict}.")


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
                   f"({rel:+.1%}); Recall@20 {g['recall@20']:.4f} vs {mf['recall@20']:.4f}. {interval(g, mf)}")
        rel = g["known_ndcg@20"] / mf["known_ndcg@20"] - 1
        word = ("clearly above" if rel >= MARGIN else "above (by less than 5 %)" if rel > 0 else "NOT above")
        out.append(f"- {split}, validation interactions known at test time (GNN: as edges, no retraining; "
                   f"BPR-MF: refit on train + validation): the same GNN is **{word}** BPR-MF: "
                   f"{g['known_ndcg@20']:.4f} vs {mf['known_ndcg@20']:.4f} ({rel:+.1%}); Recall@20 "
                   f"{g['known_recall@20']:.4f} vs {mf['known_recall@20']:.4f}.")
    return out


def base_config(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig().with_overrides(backend=args.backend, device=args.device, num_threads=args.threads,
                                        patience=args.patience)


def split_rows(snap_dir: Path, split: str, args: argparse.Namespace) -> tuple[list[dict], list[float], list[dict]]:
    """Every row of one split (popularity, tuned BPR-MF, the GNN variants), the load after each group and
    the seed check (``seed_check``)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    snap = Snapshot.load(snap_dir)
    base = base_config(args)
    rows, loads = [], []
    data_full = build_data(snap, base, split)
    data_plain = build_data(without_text_kg(snap), dataclasses.replace(base, use_features=False), split)
    pop = evaluate_models(data_full, base, ["pop"])[0]
    rows.append({**pop, "name": "popularity", "chosen": "-", "gnn": False})
    chosen, mf, secs = pick(data_full, dataclasses.replace(base, epochs=args.mf_epochs, patience=args.mf_patience),
                            "bprmf", MF_GRID)
    t0 = time.perf_counter()
    mf.update(mf_refit(data_full, chosen, mf["epoch"]))
    rows.append({**mf, "seconds": secs + time.perf_counter() - t0, "name": "BPR-MF", "gnn": False, "cfg": chosen,
                 "chosen": chosen_note(chosen, MF_GRID, mf)})
    loads.append(os.getloadavg()[0])
    for model in args.models.split(","):
        cfg = dataclasses.replace(base, model=model, epochs=args.epochs)
        chosen, row, secs = pick(data_full, cfg, model, GNN_GRID)
        rows.append({**row, "seconds": secs, "name": f"{model} (text+KG)", "gnn": True, "cfg": chosen, "plain": False,
                     "chosen": chosen_note(chosen, GNN_GRID, row)})
        if model not in args.ablate.split(","):
            loads.append(os.getloadavg()[0])
            continue
        plain_cfg = dataclasses.replace(chosen, use_features=False)
        _, row, secs = pick(data_plain, plain_cfg, model, [])
        rows.append({**row, "seconds": secs, "name": f"{model} (no text/KG)", "gnn": True, "cfg": plain_cfg,
                     "plain": True,
                     "chosen": f"{describe(chosen, GNN_GRID)} (as text+KG; best epoch {row['epoch']})"})
        loads.append(os.getloadavg()[0])
    if args.lightgcn:
        cfg = TrainConfig.from_yaml(LIGHTGCN).with_overrides(
            backend=base.backend, device=base.device, num_threads=base.num_threads, patience=args.patience,
            epochs=args.epochs)
        chosen, row, secs = pick(build_data(snap, cfg, split), cfg, "gcn", GNN_GRID)
        rows.append({**row, "seconds": secs, "name": "gcn (LightGCN recipe)", "gnn": True, "cfg": chosen,
                     "plain": False, "chosen": chosen_note(chosen, GNN_GRID, row)})
        loads.append(os.getloadavg()[0])
    return rows, loads, seed_check(snap, split, rows, args.seeds)


def seed_check(snap: Snapshot, split: str, rows: list[dict], seeds: int) -> list[dict]:
    """The verdict's pair (the GNN row best on validation, tuned BPR-MF) retrained with seeds 1..``seeds``
    at their chosen hyper-parameters: test NDCG@20 per seed. The seed sets the initialisation, the
    negatives and, on the random split, which pairs are held out (both models share each seed's split)."""
    gnns = [r for r in rows if r["gnn"]]
    if not seeds or not gnns:
        return []
    g = max(gnns, key=lambda r: r["val_ndcg@20"])
    mf = next(r for r in rows if r["name"] == "BPR-MF")
    g_snap = without_text_kg(snap) if g["plain"] else snap
    out = []
    for seed in range(1, seeds + 1):
        g_cfg, mf_cfg = (dataclasses.replace(r["cfg"], seed=seed) for r in (g, mf))
        gr = gnn_row(build_data(g_snap, g_cfg, split), g_cfg)
        mr = mf_row(build_data(snap, mf_cfg, split), mf_cfg)
        logger.info("%s seed %d: %s %.4f, BPR-MF %.4f", split, seed, g["name"], gr["ndcg@20"], mr["ndcg@20"])
        out.append({"split": split, "seed": seed, "gnn": g["name"], "gnn_ndcg": gr["ndcg@20"],
                    "mf_ndcg": mr["ndcg@20"], "ci": paired_bootstrap(gr["user_ndcg"], mr["user_ndcg"])})
    return out


def seed_lines(rows: list[dict], checks: list[dict]) -> list[str]:
    """Markdown table of the seed check, seed 0 taken from the main table."""
    if not checks:
        return []
    lines = ["", "Seed check (`--seeds`): the verdict's GNN and BPR-MF retrained at their chosen hyper-parameters "
             "with other seeds (initialisation, negatives and, on the random split, the held-out pairs; both "
             "models share each seed's split). Test NDCG@20; interval = paired bootstrap 95 % of the relative "
             "difference.", "", "| split | GNN | seed | GNN NDCG@20 | BPR-MF NDCG@20 | difference | 95 % interval |",
             "| --- | --- | ---: | ---: | ---: | ---: | --- |"]
    for split in dict.fromkeys(c["split"] for c in checks):
        these = [c for c in checks if c["split"] == split]
        g = next(r for r in rows if r["split"] == split and r["name"] == these[0]["gnn"])
        mf = next(r for r in rows if r["split"] == split and r["name"] == "BPR-MF")
        first = {"seed": 0, "gnn_ndcg": g["ndcg@20"], "mf_ndcg": mf["ndcg@20"],
                 "ci": paired_bootstrap(g["user_ndcg"], mf["user_ndcg"])}
        diffs = []
        for c in [first, *these]:
            diffs.append(c["gnn_ndcg"] / c["mf_ndcg"] - 1)
            lo, hi = c["ci"]
            lines.append(f"| {split} | {these[0]['gnn']} | {c['seed']} | {c['gnn_ndcg']:.4f} | {c['mf_ndcg']:.4f} | "
                         f"{diffs[-1]:+.1%} | [{lo:+.1%}, {hi:+.1%}] |")
        lines.append(f"| {split} | mean over {len(diffs)} seeds | | "
                     f"{np.mean([c['gnn_ndcg'] for c in [first, *these]]):.4f} | "
                     f"{np.mean([c['mf_ndcg'] for c in [first, *these]]):.4f} | {np.mean(diffs):+.1%} "
                     f"(min {min(diffs):+.1%}) | |")
    return lines


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
    rows = [r for part, _, _ in parts for r in part]
    loads = [x for _, part, _ in parts for x in part]
    checks = [c for _, _, part in parts for c in part]
    load_after = os.getloadavg()
    total = time.perf_counter() - started
    counts = snap.manifest["counts"]
    arch = ("LightGCN-style propagation (no weight, no activation)" if base.model == "gcn" and not base.conv_weight
            and base.activation == "none" else f"{base.model}")
    cmd = "    .venv/bin/python bench/quality.py " + " ".join(sys.argv[1:])
    light_patience = args.patience or TrainConfig.from_yaml(LIGHTGCN).patience
    grid = ", ".join(f"{k} {sorted({g[k] for g in GNN_GRID})}" for k in dict.fromkeys(k for g in GNN_GRID for k in g))
    mf_grid = ", ".join(f"{k} {sorted({g[k] for g in MF_GRID})}" for k in dict.fromkeys(k for g in MF_GRID for k in g))
    lines = [
        "# MovieLens-100K quality (`bench/quality.py`)", "",
        "Command (one run writes this whole file):", "", cmd, "",
        f"Snapshot: `ikg ingest movielens-100k` (MiniLM text, genre + KG topics) → `graph.export` "
        f"({counts['nodes']}, {sum(counts['edges'].values()):,} edges). Inputs: Content text embedding, "
        f"Content degree/recency statistics from training pairs, genre + KG topic edges; User "
        f"`emb_behavior` (computed at ingestion from all interactions, held-out ones included) is left out "
        f"(`interaction_features: {base.interaction_features}`). GNN rows: the shipped default config "
        f"(`gnn/configs/default.yaml`; default model `{base.model}`: {arch}) with the model set and "
        f"lr × l2 chosen on validation NDCG@20 over {grid} ({len(GNN_GRID)} points) — backend {args.backend}, "
        f"{args.device}, {base.num_layers} layers, emb {base.emb_dim}, JK layer mean, "
        f"batch {base.batch_size:,} positives, {base.loss.upper()} with "
        f"{base.num_negatives} uniform negative(s), dropout {base.dropout}, id dropout {base.id_dropout}, "
        f"topic loss weight {base.topic_loss_weight}, early stopping on validation NDCG@20 (patience "
        f"{base.patience}, max {args.epochs} epochs), seed {base.seed}. \"sage\" = SAGEConv(mean) with the same "
        f"settings. \"no text/KG\" rows: no node features and genre topic edges only, with the hyper-parameters "
        f"chosen for the model's text+KG row. \"LightGCN recipe\" row: `gnn/configs/lightgcn.yaml` (id "
        f"embeddings over the interaction graph only, no topic edges, no topic loss, no id dropout, l2 on the "
        f"input-layer embeddings) over the same lr × l2 grid, patience {light_patience}. BPR-MF: same split, same uniform negatives, batch "
        f"{min(base.batch_size, MF_BATCH):,}, max {args.mf_epochs} epochs, patience {args.mf_patience}, "
        f"{mf_grid} ({len(MF_GRID)} points) chosen on validation NDCG@20. Split per user: last 10 % (temporal) "
        "or a random 10 % as test, the 10 % before them validation. Full ranking over all 1,682 movies, the "
        "user's train+val movies excluded. \"NDCG@20, val known\": test NDCG@20 when the validation "
        "interactions are used at test time (they are known then): the same trained GNN with its test "
        "embeddings propagated over the training + validation edges (no retraining; a deployed run embeds "
        "over every known interaction), BPR-MF refit on training + validation pairs with its chosen lr, l2 "
        "and best epoch count (no early stopping). The first verdict line per split is the strict one "
        "(training interactions only). The test columns are used for this table only. `s` = wall seconds "
        "of the row including its grid search.", "",
        "| split | model | Recall@20 | NDCG@20 | val NDCG@20 | NDCG@20, val known | chosen | s |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for r in rows:
        known = f"{r['known_ndcg@20']:.4f}" if "known_ndcg@20" in r else "-"
        lines.append(f"| {r['split']} | {r['name']} | {r['recall@20']:.4f} | {r['ndcg@20']:.4f} | "
                     f"{r['val_ndcg@20']:.4f} | {known} | {r['chosen']} | {r['seconds']:.0f} |")
    lines += ["", "Verdict (computed; \"clearly\" = at least +5 % relative test NDCG@20):", ""]
    lines += verdicts(rows, splits)
    lines += seed_lines(rows, checks)
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
    p.add_argument("--ablate", default="gcn", help="models that also get a 'no text/KG' row")
    p.add_argument("--epochs", type=int, default=300, help="max GNN epochs")
    p.add_argument("--seeds", type=int, default=2,
                   help="retrain the verdict's GNN and BPR-MF with seeds 1..N (0: no seed check)")
    p.add_argument("--no-lightgcn", dest="lightgcn", action="store_false",
                   help="skip the gnn/configs/lightgcn.yaml row (interactions only, l2 on the input layer)")
    p.add_argument("--patience", type=int, help="early-stopping patience of every GNN (default: each config's)")
    p.add_argument("--mf-patience", type=int, default=30,
                   help="BPR-MF's early-stopping patience (default: that of the most patient GNN config)")
    p.add_argument("--mf-epochs", type=int, default=200, help="max BPR-MF epochs")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads per process (1 avoids oversubscription)")
    p.add_argument("--jobs", type=int, default=1,
                   help="splits trained in parallel processes (2 only on a quiet 2-core box)")
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
