"""Export a snapshot as GraphStorm graph-construction input: Parquet files + a gconstruct JSON config.

GraphStorm's ``python -m graphstorm.gconstruct.construct_graph`` turns this into (partitioned) DGL
graphs for GraphStorm / DistDGL training on a cluster (docs/scaling.md). numpy + pyarrow only.

Layout of the output directory (paths inside ``gconstruct.json`` are relative to it, so run the
construction tool from inside the directory)::

    gconstruct.json                    the gconstruct config ("version": "gconstruct-v0.1")
    nodes/<Label>.parquet              id (raw string id) + per feature <prop> (fixed-size list of
                                       float32; zero row where the node lacks it) and <prop>_present
                                       (float32 1/0), because GraphStorm needs dense features
    edges/<SRC>__<REL>__<DST>.parquet  src_id, dst_id (raw ids) + the snapshot's edge attributes
                                       (weight; ts, rating with null where absent; kind as a string);
                                       row i is snapshot edge i, which is GraphStorm's original edge id
    splits/<target key>/{train,valid,test}.parquet  src_id, dst_id: the seeded link-prediction split
                                       of unique (src, dst) pairs (custom_split_filenames; none
                                       with seed=None, when GraphStorm splits by split_pct)
    splits/<target key>/assignment.parquet  split (int8 0 train, 1 valid, 2 test) per snapshot edge
    id_maps/<Label>.parquet            id (raw) -> nid (snapshot contiguous id), to map results back
    export.json                        what was exported from which snapshot, split counts, notes

GraphStorm saves node embeddings keyed by these raw ids (``<emb dir>/<Label>/*.parquet`` with
columns ``nid``, ``emb`` after its id remapping); ``read_graphstorm_embeddings`` aligns them back
to snapshot rows, the layout of a run directory's ``embeddings/<Label>.npy``.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from graph.errors import InputError
from graph.model import CONTENT, INTERACTED, USER
from graph.snapshot import EdgeType, Snapshot, edge_key

logger = logging.getLogger(__name__)

GCONSTRUCT_VERSION = "gconstruct-v0.1"
CONFIG_FILE = "gconstruct.json"
EXPORT_FILE = "export.json"
NODE_ID_COL = "id"
SRC_COL = "src_id"
DST_COL = "dst_id"
PRESENT_SUFFIX = "_present"
SPLIT_NAMES = ("train", "valid", "test")
TASKS = ("link_prediction",)
FEATURE_DTYPE = "float32"
EDGE_FEATURES = ("weight",)  # dense numeric edge attributes GraphStorm may use (lp_edge_weight_for_loss)
DEFAULT_TARGET: EdgeType = (USER, INTERACTED, CONTENT)


def split_pairs(src: np.ndarray, dst: np.ndarray, fractions: tuple[float, float, float],
                seed: int) -> np.ndarray:
    """Seeded train/valid/test split (int8 0/1/2 per edge) of unique (src, dst) pairs.

    All repeated interactions of one pair land in the same part, so a test pair never leaks
    through a training edge.
    """
    if len(src) == 0:
        return np.zeros(0, dtype=np.int8)
    width = int(dst.max()) + 1
    keys = src.astype(np.int64) * width + dst.astype(np.int64)
    unique, inverse = np.unique(keys, return_inverse=True)
    n = len(unique)
    n_train = int(round(fractions[0] * n))
    n_valid = min(int(round(fractions[1] * n)), n - n_train)
    part = np.full(n, 2, dtype=np.int8)
    order = np.random.default_rng(seed).permutation(n)
    part[order[:n_train]] = 0
    part[order[n_train:n_train + n_valid]] = 1
    return part[inverse]


def _check_split(split: tuple[float, float, float]) -> tuple[float, float, float]:
    if len(split) != 3 or any(not np.isfinite(f) or f < 0 for f in split):
        raise ValueError(f"split must be three non-negative fractions (train, valid, test), got {split!r}")
    if abs(sum(split) - 1.0) > 1e-6 or split[0] <= 0:
        raise ValueError(f"split fractions must sum to 1 with train > 0, got {split!r}")
    return (float(split[0]), float(split[1]), float(split[2]))


def _feature_column(arr: np.ndarray, mask: np.ndarray) -> pa.FixedSizeListArray:
    dense = np.where(mask[:, None], arr, 0).astype(np.float32, copy=False)
    return pa.FixedSizeListArray.from_arrays(pa.array(dense.reshape(-1)), dense.shape[1])


def _raw_ids(snapshot: Snapshot, label: str) -> pa.Array:
    return pa.array(snapshot.node_ids[label].astype(str).tolist(), type=pa.string())


def _node_table(snapshot: Snapshot, label: str, raw: dict[str, pa.Array]) -> tuple[pa.Table, list[dict]]:
    columns: dict[str, pa.Array] = {NODE_ID_COL: raw[label]}
    features: list[dict] = []
    for prop, arr in snapshot.features.get(label, {}).items():
        mask = snapshot.feature_masks[label][prop].astype(bool, copy=False)
        present = prop + PRESENT_SUFFIX
        columns[prop] = _feature_column(arr, mask)
        columns[present] = pa.array(mask.astype(np.float32))
        features += [{"feature_col": prop, "feature_name": prop, "out_dtype": FEATURE_DTYPE},
                     {"feature_col": present, "feature_name": present, "out_dtype": FEATURE_DTYPE}]
    return pa.table(columns), features


def _edge_table(snapshot: Snapshot, etype: EdgeType, raw: dict[str, pa.Array]) -> tuple[pa.Table, list[dict]]:
    arrays = snapshot.edges[etype]
    name = f"edges/{edge_key(etype)}.npz"
    columns: dict[str, pa.Array] = {SRC_COL: raw[etype[0]].take(pa.array(arrays["src"])),
                                    DST_COL: raw[etype[2]].take(pa.array(arrays["dst"]))}
    kinds = snapshot.manifest.get("interaction_kinds")
    features: list[dict] = []
    for key, arr in arrays.items():
        if key in ("src", "dst"):
            continue
        if key == "kind" and kinds:
            codes = arr.astype(np.int64)
            if len(codes) and (codes.min() < 0 or codes.max() >= len(kinds)):
                raise InputError(f"kind codes outside 0..{len(kinds) - 1}", file=name, field="kind")
            columns[key] = pa.array(list(kinds), type=pa.string()).take(pa.array(codes))
        elif arr.dtype.kind == "f":
            columns[key] = pa.array(arr, from_pandas=True)  # NaN (absent) -> null
        else:
            columns[key] = pa.array(arr)
        if key in EDGE_FEATURES:
            if not np.isfinite(arr).all():
                bad = int(np.flatnonzero(~np.isfinite(arr))[0])
                raise InputError(f"edge {bad} has non-finite {key} {arr[bad]!r}; GraphStorm needs dense "
                                 "features", file=name, field=key, value=arr[bad])
            features.append({"feature_col": key, "feature_name": key, "out_dtype": FEATURE_DTYPE})
    return pa.table(columns), features


def _write_split(snapshot: Snapshot, etype: EdgeType, part: np.ndarray, raw: dict[str, pa.Array],
                 out: Path) -> tuple[dict, dict]:
    """Write the per-part pair files and the per-edge assignment; return (custom split conf, counts)."""
    arrays = snapshot.edges[etype]
    folder = out / "splits" / edge_key(etype)
    folder.mkdir(parents=True)
    width = int(arrays["dst"].max()) + 1
    keys = arrays["src"].astype(np.int64) * width + arrays["dst"].astype(np.int64)
    conf: dict = {}
    counts: dict = {}
    for code, name in enumerate(SPLIT_NAMES):
        rows = np.flatnonzero(part == code)
        pairs = np.unique(keys[rows])
        counts[name] = {"edges": int(len(rows)), "pairs": int(len(pairs))}
        if not len(pairs):
            continue  # gconstruct treats a missing part as empty
        rel = f"splits/{edge_key(etype)}/{name}.parquet"
        pq.write_table(pa.table({SRC_COL: raw[etype[0]].take(pa.array(pairs // width)),
                                 DST_COL: raw[etype[2]].take(pa.array(pairs % width))}), out / rel)
        conf[name] = rel
    pq.write_table(pa.table({"split": pa.array(part)}), folder / "assignment.parquet")
    conf["column"] = [SRC_COL, DST_COL]
    return conf, counts


def _write(snapshot: Snapshot, tmp: Path, task: str | None, target: EdgeType,
           fractions: tuple[float, float, float], seed: int | None) -> tuple[int, int]:
    """Write every file into ``tmp``; return (node types, edge types) written."""
    for sub in ("nodes", "edges", "id_maps"):
        (tmp / sub).mkdir(parents=True)
    raw = {label: _raw_ids(snapshot, label) for label in snapshot.node_ids}
    node_confs = []
    for label, ids in snapshot.node_ids.items():
        if len(ids) == 0:
            logger.info("node type %s has no nodes; left out", label)
            continue
        table, features = _node_table(snapshot, label, raw)
        pq.write_table(table, tmp / "nodes" / f"{label}.parquet")
        pq.write_table(pa.table({NODE_ID_COL: table.column(NODE_ID_COL),
                                 "nid": pa.array(np.arange(len(ids), dtype=np.int64))}),
                       tmp / "id_maps" / f"{label}.parquet")
        conf: dict = {"node_type": label, "format": {"name": "parquet"}, "files": [f"nodes/{label}.parquet"],
                      "node_id_col": NODE_ID_COL}
        if features:
            conf["features"] = features
        node_confs.append(conf)

    edge_confs = []
    split_counts: dict = {}
    skipped = []
    for etype in snapshot.edges:
        if len(snapshot.edges[etype]["src"]) == 0:
            skipped.append(list(etype))
            logger.info("edge type %s has no edges; left out", etype)
            continue
        table, features = _edge_table(snapshot, etype, raw)
        rel = f"edges/{edge_key(etype)}.parquet"
        pq.write_table(table, tmp / rel)
        conf = {"relation": list(etype), "format": {"name": "parquet"}, "files": [rel],
                "source_id_col": SRC_COL, "dest_id_col": DST_COL}
        if features:
            conf["features"] = features
        if task is not None and etype == target:
            label: dict = {"task_type": task, "split_pct": list(fractions)}
            if seed is not None:  # our seeded split, which overrides split_pct in GraphStorm
                arrays = snapshot.edges[etype]
                part = split_pairs(arrays["src"], arrays["dst"], fractions, seed)
                label["custom_split_filenames"], split_counts = _write_split(snapshot, etype, part, raw, tmp)
            conf["labels"] = [label]
        edge_confs.append(conf)

    config = {"version": GCONSTRUCT_VERSION, "nodes": node_confs, "edges": edge_confs}
    (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2))
    export = {
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "snapshot": {k: snapshot.manifest.get(k) for k in ("name", "created_at", "reference_time")},
        "task": task,
        "target_etype": list(target) if task is not None else None,
        "split": {"fractions": list(fractions), "seed": seed, "counts": split_counts,
                  "unit": "unique (src, dst) pair" if seed is not None else "edge (GraphStorm draws it, unseeded)"},
        "counts": {"nodes": {c["node_type"]: snapshot.num_nodes(c["node_type"]) for c in node_confs},
                   "edges": {edge_key(tuple(c["relation"])): len(snapshot.edges[tuple(c["relation"])]["src"])
                             for c in edge_confs}},
        "edge_types_left_out": skipped,
        "notes": {
            "missing_features": f"rows without a feature are zero; <prop>{PRESENT_SUFFIX} is 1.0 where present",
            "ids": "nodes use raw ids (node_id_col 'id'); id_maps/<Label>.parquet maps them to snapshot ids",
            "edge_order": "row i of edges/<key>.parquet is snapshot edge i (GraphStorm's original edge id)",
            "paths": "config paths are relative: run construct_graph from inside this directory",
        },
    }
    (tmp / EXPORT_FILE).write_text(json.dumps(export, indent=2, default=str))
    return len(node_confs), len(edge_confs)


def to_graphstorm(snapshot: Snapshot, out_dir: Path, *, task: str | None = "link_prediction",
                  target_etype: EdgeType = DEFAULT_TARGET, split: tuple[float, float, float] = (0.8, 0.1, 0.1),
                  seed: int | None = 0) -> Path:
    """Write ``snapshot`` as GraphStorm gconstruct input into ``out_dir`` (atomically); return the config path.

    ``task=None`` writes the graph without labels (for embedding inference only). ``seed=None``
    writes no split files: GraphStorm then draws its own unseeded split by ``split_pct``, which is
    faster to construct at scale but neither reproducible nor pair-level.

    Raises:
        ValueError: bad task or split fractions.
        InputError: the target edge type is absent or empty, or an edge feature is not finite.
    """
    if task is not None and task not in TASKS:
        raise ValueError(f"task must be one of {TASKS} or None, got {task!r}")
    fractions = _check_split(split)
    target = (target_etype[0], target_etype[1], target_etype[2])
    if task is not None:
        if target not in snapshot.edges:
            raise InputError(f"target edge type {list(target)} is not in the snapshot "
                             f"(has {[list(et) for et in snapshot.edges]})", field="edge_types")
        if len(snapshot.edges[target]["src"]) == 0:
            raise InputError(f"target edge type {list(target)} has no edges", field="edge_types")
    snapshot.validate()
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / EXPORT_FILE).exists():
        raise InputError("exists and is not a previous GraphStorm export; refusing to replace it", file=str(out_dir))
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        written = _write(snapshot, tmp, task, target, fractions, seed)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if out_dir.exists():
        shutil.rmtree(out_dir)
    os.replace(tmp, out_dir)
    logger.info("GraphStorm input written to %s: %d node types, %d edge types", out_dir, *written)
    return out_dir / CONFIG_FILE


def read_graphstorm_embeddings(emb_dir: Path, snapshot: Snapshot) -> dict[str, np.ndarray]:
    """GraphStorm's remapped node embeddings as float32 [num_nodes, dim] per label, row i = snapshot id i.

    Raises:
        InputError: a file lacks ``nid``/``emb``, names an unknown id, or a label misses nodes.
    """
    emb_dir = Path(emb_dir)
    out: dict[str, np.ndarray] = {}
    for label in snapshot.node_ids:
        files = sorted((emb_dir / label).glob("*.parquet"))
        if not files:
            continue
        index = snapshot.index_of(label)
        rows: list[np.ndarray] = []
        vectors: list[np.ndarray] = []
        for path in files:
            table = pq.read_table(path)
            for col in ("nid", "emb"):
                if col not in table.column_names:
                    raise InputError(f"no column {col!r} (has {table.column_names})", file=str(path), field=col)
            ids = table.column("nid").to_pylist()
            unknown = [raw for raw in ids if str(raw) not in index]
            if unknown:
                raise InputError(f"{len(unknown)} ids not in the snapshot's {label} nodes",
                                 file=str(path), field="nid", value=unknown[0])
            rows.append(np.fromiter((index[str(raw)] for raw in ids), dtype=np.int64, count=len(ids)))
            emb = table.column("emb").combine_chunks()
            flat = np.asarray(emb.flatten().to_numpy(zero_copy_only=False), dtype=np.float32)
            dim = len(emb[0]) if len(emb) else 0
            if flat.size != len(emb) * dim:
                raise InputError("embeddings of unequal length", file=str(path), field="emb")
            vectors.append(flat.reshape(len(emb), dim))
        row = np.concatenate(rows)
        matrix = np.zeros((snapshot.num_nodes(label), vectors[0].shape[1]), dtype=np.float32)
        matrix[row] = np.concatenate(vectors)
        covered = np.zeros(snapshot.num_nodes(label), dtype=bool)
        covered[row] = True
        if not covered.all():
            missing = snapshot.node_ids[label][int(np.flatnonzero(~covered)[0])]
            raise InputError(f"{int((~covered).sum())} of {len(covered)} {label} nodes have no embedding",
                             file=str(emb_dir / label), field="nid", value=missing)
        out[label] = matrix
    return out
