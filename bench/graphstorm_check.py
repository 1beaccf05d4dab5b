"""Optional check: our GraphStorm export through GraphStorm's own tools (construction, then training).

Needs a second, throwaway venv holding GraphStorm (``bench/graphstorm_check.sh`` builds it); the
project's venv never gets GraphStorm. Per case, in the project venv: build a snapshot, save it in
our own format (the baseline, same data), export it with ``graph.graphstorm.to_graphstorm``; in the
GraphStorm venv: run ``python -m graphstorm.gconstruct.construct_graph`` (1 partition), then load
the partition with DGL and check it against the snapshot: node/edge counts, every feature row and
presence flag, the target edges' endpoints, weights and train/valid/test masks, all mapped back
through GraphStorm's node/edge mappings to our raw ids. On the planted case it also runs
GraphStorm link-prediction training (``graphstorm.run.gs_link_prediction``, CPU, local launcher)
and maps the saved embeddings back with ``read_graphstorm_embeddings``. Prints a table and saves
it as bench/results/graphstorm.md.

    bench/graphstorm_check.sh                    # builds /tmp/gsvenv if needed, then runs this
    .venv/bin/python bench/graphstorm_check.py --gs-python /tmp/gsvenv/bin/python [--quick] [--no-train]
        [--snapshot DIR ...]                     # also check real snapshots (ikg export)
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "graphstorm.md"
TARGET = ("User", "INTERACTED", "Content")
logger = logging.getLogger("bench.graphstorm_check")

# name, users, content, topics, interactions per user, text dim (None: the planted world of gnn.synthetic)
CASES = [
    ("planted (gnn.synthetic defaults)", None, None, None, None, None),
    ("random 10k users", 10_000, 5_000, 50, 24, 384),
    ("random 100k users", 100_000, 20_000, 200, 24, 384),
]
TRAIN_EPOCHS = 3
LP_YAML = """---
version: 1.0
gsf:
  basic:
    backend: gloo
  gnn:
    model_encoder_type: rgcn
    fanout: "10,10"
    num_layers: 2
    hidden_size: 32
    use_mini_batch_infer: true
  hyperparam:
    lr: 0.01
    num_epochs: {epochs}
    batch_size: 256
    eval_batch_size: 1024
  rgcn:
    num_bases: -1
    use_self_loop: true
  link_prediction:
    num_negative_edges: 4
    num_negative_edges_eval: 100
    train_negative_sampler: uniform
    lp_decoder_type: dot_product
    train_etype: ["User,INTERACTED,Content"]
    eval_etype: ["User,INTERACTED,Content"]
    exclude_training_targets: true
    reverse_edge_types_map: ["User,INTERACTED,INTERACTED-rev,Content"]
  input:
    node_feat_name: ["Content:emb_text,emb_text_present"]
"""


# ---------------------------------------------------------------- project venv side
def _random_snapshot(users: int, content: int, topics: int, per_user: int, text_dim: int, seed: int = 0):
    """A vectorised random world at a chosen size (features with 20 % missing, all four edge types)."""
    from graph.model import INTERACTION_KINDS
    from graph.snapshot import Snapshot

    rng = np.random.default_rng(seed)
    n = users * per_user
    text = rng.normal(size=(content, text_dim)).astype(np.float32)
    text_mask = rng.random(content) >= 0.2
    text[~text_mask] = 0
    return Snapshot(
        node_ids={"User": np.array([f"u{i}" for i in range(users)], dtype=object),
                  "Content": np.array([f"c{i}" for i in range(content)], dtype=object),
                  "Topic": np.array([f"t{i}" for i in range(topics)], dtype=object)},
        edges={
            TARGET: {"src": np.repeat(np.arange(users), per_user), "dst": rng.integers(0, content, n),
                     "ts": 1.7e9 + rng.uniform(0, 90 * 86400, n), "weight": rng.uniform(0.5, 2, n).astype(np.float32),
                     "rating": np.where(rng.random(n) < 0.3, rng.integers(1, 6, n), np.nan).astype(np.float32),
                     "kind": rng.integers(0, 6, n).astype(np.int8)},
            ("Content", "HAS_TOPIC", "Topic"): {"src": np.arange(content), "dst": rng.integers(0, topics, content),
                                                "weight": np.ones(content, dtype=np.float32)},
            ("Topic", "SUBTOPIC_OF", "Topic"): {"src": np.arange(1, topics),
                                                "dst": np.zeros(topics - 1, dtype=np.int64)},
            ("User", "FOLLOWS", "User"): {"src": rng.integers(0, users, 6 * users),
                                          "dst": rng.integers(0, users, 6 * users)},
        },
        features={"Content": {"emb_text": text},
                  "User": {"emb_behavior": rng.normal(size=(users, 16)).astype(np.float32)}},
        feature_masks={"Content": {"emb_text": text_mask}, "User": {"emb_behavior": np.ones(users, dtype=bool)}},
        manifest={"name": f"random-{users}", "interaction_kinds": list(INTERACTION_KINDS)},
    )


def _dir_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def _run(cmd: list[str], log: Path, cwd: Path, timeout: float) -> float:
    env = {**os.environ, "DGLBACKEND": "pytorch", "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    with log.open("w") as fh:
        proc = subprocess.run(cmd, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT, env=env, timeout=timeout)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-25:])
        raise RuntimeError(f"{' '.join(cmd[:3])} … failed (rc {proc.returncode}); log {log}:\n{tail}")
    return seconds


def _case(name: str, spec: tuple, gs_python: str, work: Path, train: bool) -> dict:
    from gnn.synthetic import planted_snapshot
    from graph.graphstorm import read_graphstorm_embeddings, to_graphstorm
    from graph.snapshot import Snapshot

    _, users, content, topics, per_user, text_dim = spec
    if isinstance(users, Path):
        snap = Snapshot.load(users)
    elif users is None:
        snap = planted_snapshot()[0]
    else:
        snap = _random_snapshot(users, content, topics, per_user, text_dim)
    case_dir = work / re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    case_dir.mkdir(parents=True)
    snap.save(case_dir / "warm-up-snapshot")  # untimed: first writes pay page-cache and import costs
    to_graphstorm(snap, case_dir / "warm-up-gs")
    t0 = time.perf_counter()
    snap.save(case_dir / "snapshot")
    save_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    conf = to_graphstorm(snap, case_dir / "gs-input")
    export_s = time.perf_counter() - t0
    built = case_dir / "gs-built"
    construct_s = _run([gs_python, "-m", "graphstorm.gconstruct.construct_graph", "--conf-file", conf.name,
                        "--output-dir", str(built), "--num-parts", "1", "--graph-name", "ikg",
                        "--add-reverse-edges"], case_dir / "construct.log", conf.parent, 3000)
    # baseline: the same input with GraphStorm drawing its own split (split_pct) instead of our custom split
    conf_pct = json.loads(conf.read_text())
    for edge in conf_pct["edges"]:
        for label in edge.get("labels", []):
            label.pop("custom_split_filenames")
    (conf.parent / "gconstruct_split_pct.json").write_text(json.dumps(conf_pct))
    construct_pct_s = _run([gs_python, "-m", "graphstorm.gconstruct.construct_graph", "--conf-file",
                            "gconstruct_split_pct.json", "--output-dir", str(case_dir / "gs-built-pct"),
                            "--num-parts", "1", "--graph-name", "ikg", "--add-reverse-edges"],
                           case_dir / "construct_pct.log", conf.parent, 3000)
    shutil.rmtree(case_dir / "gs-built-pct")
    _run([gs_python, str(Path(__file__).resolve()), "--verify", str(case_dir)], case_dir / "verify.log", ROOT, 1200)
    checks = json.loads((case_dir / "checks.json").read_text())
    row = {"case": name, "users": snap.num_nodes("User"), "content": snap.num_nodes("Content"),
           "interactions": len(snap.edges[TARGET]["src"]), "save_s": save_s, "export_s": export_s,
           "snapshot_mb": _dir_mb(case_dir / "snapshot"), "export_mb": _dir_mb(case_dir / "gs-input"),
           "construct_s": construct_s, "construct_pct_s": construct_pct_s, "built_mb": _dir_mb(built), **checks}
    if train:
        (case_dir / "lp.yaml").write_text(LP_YAML.format(epochs=TRAIN_EPOCHS))
        emb = case_dir / "gs-emb"
        row["train_s"] = _run([gs_python, "-m", "graphstorm.run.gs_link_prediction", "--workspace", str(case_dir),
                               "--num-trainers", "1", "--num-servers", "1", "--num-samplers", "0",
                               "--part-config", str(built / "ikg.json"), "--cf", str(case_dir / "lp.yaml"),
                               "--save-embed-path", str(emb)], case_dir / "train.log", case_dir, 1800)
        embeddings = read_graphstorm_embeddings(emb, snap)
        row["embeddings"] = {label: list(arr.shape) for label, arr in embeddings.items()}
    return row


def _table(rows: list[dict]) -> list[str]:
    lines = ["| case | users | content | interactions | baseline: Snapshot.save s | to_graphstorm s | snapshot MB "
             "| export MB | gconstruct s | baseline: gconstruct, split_pct s | partition MB | nodes (GraphStorm) "
             "| edges incl. reverse | checks |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        passed = [k for k, v in r["checks"].items() if v is True]
        failed = [k for k, v in r["checks"].items() if v is not True]
        verdict = f"{len(passed)}/{len(r['checks'])} pass" + (f" (FAILED: {', '.join(failed)})" if failed else "")
        lines.append(f"| {r['case']} | {r['users']:,} | {r['content']:,} | {r['interactions']:,} | {r['save_s']:.2f} "
                     f"| {r['export_s']:.2f} | {r['snapshot_mb']:.1f} | {r['export_mb']:.1f} | {r['construct_s']:.1f} "
                     f"| {r['construct_pct_s']:.1f} "
                     f"| {r['built_mb']:.1f} | {r['num_nodes']:,} | {r['num_edges']:,} | {verdict} |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gs-python", default="/tmp/gsvenv/bin/python", help="python of the GraphStorm venv")
    parser.add_argument("--quick", action="store_true", help="skip the 100k-user case")
    parser.add_argument("--no-train", action="store_true", help="skip GraphStorm training on the planted case")
    parser.add_argument("--snapshot", type=Path, action="append", default=[],
                        help="also check this exported snapshot directory (repeatable)")
    parser.add_argument("--verify", type=Path, help=argparse.SUPPRESS)  # internal: runs in the GraphStorm venv
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.verify:
        (args.verify / "checks.json").write_text(json.dumps(_verify(args.verify)))
        return 0
    version = subprocess.run([args.gs_python, "-c", "import importlib.metadata as m; "
                              "print(m.version('graphstorm'), m.version('dgl'), m.version('torch'))"],
                             capture_output=True, text=True, check=True).stdout.split()
    rows = []
    with tempfile.TemporaryDirectory(prefix="ikg-gs-") as tmp:
        cases = (CASES[:2] if args.quick else CASES) + [
            (f"snapshot {path.name} (ikg export)", path.resolve(), None, None, None, None) for path in args.snapshot]
        for i, spec in enumerate(cases):
            logger.info("case %s", spec[0])
            rows.append(_case(spec[0], spec, args.gs_python, Path(tmp), train=(i == 0 and not args.no_train)))
    trained = [r for r in rows if "train_s" in r]
    lines = [
        "# GraphStorm check: `ikg export-graphstorm` output through GraphStorm's own tools",
        "",
        f"Command: `.venv/bin/python bench/graphstorm_check.py {' '.join(sys.argv[1:])}`; "
        f"graphstorm {version[0]}, dgl {version[1]}, torch {version[2]} (separate venv, see "
        f"bench/graphstorm_check.sh); Python {platform.python_version()} on {os.cpu_count()} CPUs, "
        f"{datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M')} UTC.",
        "gconstruct: `python -m graphstorm.gconstruct.construct_graph --conf-file gconstruct.json --num-parts 1 "
        "--graph-name ikg --add-reverse-edges` (wall seconds include its start-up and imports); the baseline runs "
        "it on the same files with our custom split removed, so GraphStorm draws its own split_pct split. "
        "Checks load the "
        "partition with DGL and map every node and edge back to our raw ids through GraphStorm's "
        "raw_id_mappings, node_mapping.pt and edge_mapping.pt.",
        "",
        *_table(rows),
        "",
        "Checks per case: " + ", ".join(rows[0]["checks"]) + ". Save and export are timed after one untimed "
        "warm-up run of each.",
    ]
    for r in rows:
        lines.append(f"- {r['case']}: split train/valid/test edges {r['split_edges']}")
    for r in trained:
        lines.append(f"- GraphStorm link-prediction training on {r['case']}: "
                     "`python -m graphstorm.run.gs_link_prediction` "
                     f"(rgcn, 2 layers, {TRAIN_EPOCHS} epochs, CPU, local launcher) ran in {r['train_s']:.1f} s wall "
                     f"including launcher start-up and id remapping; its embeddings mapped back to snapshot rows "
                     f"with read_graphstorm_embeddings: {r['embeddings']}. Model quality is not assessed here.")
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    failed = any(v is not True for r in rows for v in r["checks"].values())
    return 1 if failed else 0


# ---------------------------------------------------------------- GraphStorm venv side
def _verify(case_dir: Path) -> dict:
    """Load the built partition and compare it with the snapshot (1 partition)."""
    import dgl
    import pyarrow.parquet as pq
    import torch

    from graph.snapshot import Snapshot

    snap = Snapshot.load(case_dir / "snapshot")
    built = case_dir / "gs-built"
    g, nfeat, efeat, gpb, _, ntypes, etypes = dgl.distributed.load_partition(str(built / "ikg.json"), 0)
    node_map = torch.load(built / "node_mapping.pt")
    edge_map = torch.load(built / "edge_mapping.pt")
    raw_of: dict[str, np.ndarray] = {}  # per type: shuffled id -> raw id
    for ntype in ntypes:
        ids = pq.read_table(built / "raw_id_mappings" / ntype).to_pydict()
        by_new = np.empty(len(ids["new"]), dtype=object)
        by_new[np.asarray(ids["new"])] = ids["orig"]
        raw_of[ntype] = by_new[node_map[ntype].numpy()]
    part = json.loads((built / "ikg.json").read_text())
    checks: dict[str, bool] = {}
    checks["node counts"] = all(sum(e - s for s, e in part["node_map"][nt]) == snap.num_nodes(nt)
                                for nt in snap.node_ids)
    counts = {key: sum(e - s for s, e in ranges) for key, ranges in part["edge_map"].items()}
    expected = {et: len(a["src"]) or None for et, a in snap.edges.items()}  # empty types are left out
    checks["edge counts (+ reverse)"] = all(
        counts.get(":".join(et)) == n and counts.get(f"{et[2]}:{et[1]}-rev:{et[0]}") == n for et, n in expected.items())
    feats_ok = True
    for label, feats in snap.features.items():
        index = snap.index_of(label)
        rows = np.array([index[raw] for raw in raw_of[label]])
        for prop, arr in feats.items():
            mask = snap.feature_masks[label][prop]
            expected = np.where(mask[:, None], arr, 0)[rows]
            feats_ok &= np.array_equal(nfeat[f"{label}/{prop}"].numpy(), expected)
            present = nfeat[f"{label}/{prop}_present"].numpy().reshape(-1)
            feats_ok &= np.array_equal(present, mask[rows].astype(np.float32))
    checks["node features + presence"] = bool(feats_ok)
    # endpoints of the target edges, mapped back to raw ids and original (= snapshot) edge ids
    etype_ids, per_type_eids = gpb.map_to_per_etype(g.edata[dgl.EID])
    target_id = gpb.canonical_etypes.index(TARGET)
    sel = (etype_ids == target_id).numpy()
    u, v = g.edges()
    _, src_shuffled = gpb.map_to_per_ntype(g.ndata[dgl.NID][u[sel]])
    _, dst_shuffled = gpb.map_to_per_ntype(g.ndata[dgl.NID][v[sel]])
    orig_eid = edge_map[TARGET].numpy()[per_type_eids[sel].numpy()]
    arrays = snap.edges[TARGET]
    checks["target endpoints by edge id"] = bool(
        np.array_equal(raw_of["User"][src_shuffled.numpy()], snap.node_ids["User"][arrays["src"][orig_eid]])
        and np.array_equal(raw_of["Content"][dst_shuffled.numpy()], snap.node_ids["Content"][arrays["dst"][orig_eid]]))
    key = ":".join(TARGET)
    shuffled_to_orig = edge_map[TARGET].numpy()
    weight = efeat[f"{key}/weight"].numpy().reshape(-1)
    checks["edge weight"] = bool(np.allclose(weight, arrays["weight"][shuffled_to_orig]))
    assignment = np.asarray(pq.read_table(case_dir / "gs-input" / "splits" / "__".join(TARGET) /
                                          "assignment.parquet").column("split").to_pylist())[shuffled_to_orig]
    masks = [efeat[f"{key}/{m}"].numpy().reshape(-1) for m in ("train_mask", "val_mask", "test_mask")]
    checks["train/val/test masks = our split"] = all(np.array_equal(m.astype(bool), assignment == code)
                                                     for code, m in enumerate(masks))
    return {"checks": checks, "num_nodes": int(g.num_nodes()), "num_edges": int(g.num_edges()),
            "split_edges": [int(m.sum()) for m in masks]}


if __name__ == "__main__":
    sys.exit(main())
