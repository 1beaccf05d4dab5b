"""The portable on-disk graph snapshot: what export writes and training reads (numpy + pyarrow only).

Layout of a snapshot directory::

    manifest.json                 format version, source, selection, reference time, counts, features
    nodes/<Label>.parquet         one column ``id`` (string); row i is contiguous node id i
    features/<Label>.<prop>.npy   float32 [n, dim]; rows of nodes without the feature are zero ...
    features/<Label>.<prop>.mask.npy  ... and False here (a missing modality is never "data")
    edges/<SRC>__<REL>__<DST>.npz src, dst (int64 contiguous ids) + per-edge attributes

``manifest["pseudonymised"]`` is true when User ids are keyed pseudonyms (``ikg export
--pseudonymise``): such a snapshot holds no raw user id and can leave the machine.

Edge attributes: INTERACTED has ``ts`` (float64 epoch seconds), ``weight`` (float32),
``rating`` (float32, NaN when absent) and ``kind`` (int8 index into
``manifest["interaction_kinds"]``); HAS_TOPIC has ``weight``; others may have none.
This module must not import neo4j: a GPU box without the driver loads snapshots.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from graph.errors import InputError

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
EdgeType = tuple[str, str, str]


def edge_key(etype: EdgeType) -> str:
    return "__".join(etype)


@dataclass
class Snapshot:
    """An exported heterogeneous graph held in numpy arrays."""

    node_ids: dict[str, np.ndarray]
    edges: dict[EdgeType, dict[str, np.ndarray]]
    features: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    feature_masks: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    manifest: dict = field(default_factory=dict)

    def num_nodes(self, label: str) -> int:
        return len(self.node_ids[label])

    def index_of(self, label: str) -> dict[str, int]:
        """Raw id -> contiguous id for one label."""
        return {raw: i for i, raw in enumerate(self.node_ids[label].tolist())}

    def validate(self) -> None:
        """Check array shapes and id ranges; InputError naming the offending array."""
        for label, ids in self.node_ids.items():
            if len(set(ids.tolist())) != len(ids):
                raise InputError("duplicate node ids", file=f"nodes/{label}.parquet", field="id")
        for etype, arrays in self.edges.items():
            src_label, _, dst_label = etype
            name = f"edges/{edge_key(etype)}.npz"
            if src_label not in self.node_ids or dst_label not in self.node_ids:
                raise InputError(f"edge type {etype} refers to a label with no nodes", file=name)
            n = len(arrays["src"])
            for key, arr in arrays.items():
                if len(arr) != n:
                    raise InputError(f"length {len(arr)} != {n} edges", file=name, field=key)
            for key, label in (("src", src_label), ("dst", dst_label)):
                arr = arrays[key]
                if n and (arr.min() < 0 or arr.max() >= self.num_nodes(label)):
                    raise InputError(f"ids out of range 0..{self.num_nodes(label) - 1}", file=name, field=key)
        for label, feats in self.features.items():
            for prop, arr in feats.items():
                name = f"features/{label}.{prop}.npy"
                if arr.ndim != 2 or arr.shape[0] != self.num_nodes(label):
                    raise InputError(f"shape {arr.shape} does not match {self.num_nodes(label)} nodes", file=name)
                mask = self.feature_masks.get(label, {}).get(prop)
                if mask is None or mask.shape != (arr.shape[0],):
                    raise InputError("missing or misshapen presence mask", file=name)

    def save(self, path: Path) -> Path:
        """Write atomically: into a sibling temp dir, then rename over ``path``."""
        self.validate()
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        if tmp.exists():
            shutil.rmtree(tmp)
        for sub in ("nodes", "features", "edges"):
            (tmp / sub).mkdir(parents=True)
        for label, ids in self.node_ids.items():
            pq.write_table(pa.table({"id": pa.array(ids.astype(str).tolist(), type=pa.string())}),
                           tmp / "nodes" / f"{label}.parquet")
        feature_info: dict[str, dict[str, dict]] = {}
        for label, feats in self.features.items():
            for prop, arr in feats.items():
                np.save(tmp / "features" / f"{label}.{prop}.npy", arr.astype(np.float32, copy=False))
                mask = self.feature_masks[label][prop].astype(bool, copy=False)
                np.save(tmp / "features" / f"{label}.{prop}.mask.npy", mask)
                feature_info.setdefault(label, {})[prop] = {"dim": int(arr.shape[1]), "present": int(mask.sum())}
        for etype, arrays in self.edges.items():
            np.savez(tmp / "edges" / f"{edge_key(etype)}.npz", **arrays)
        manifest = {
            **self.manifest,
            "format_version": FORMAT_VERSION,
            "counts": {
                "nodes": {label: int(len(ids)) for label, ids in self.node_ids.items()},
                "edges": {edge_key(et): int(len(a["src"])) for et, a in self.edges.items()},
            },
            "features": feature_info,
            "edge_types": [list(et) for et in self.edges],
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
        self.manifest = manifest
        return path

    @classmethod
    def load(cls, path: Path) -> "Snapshot":
        """Read a snapshot directory; InputError naming the file if it is not one."""
        path = Path(path)
        manifest_path = path / MANIFEST
        if not manifest_path.exists():
            raise InputError("not a snapshot directory (no manifest.json)", file=str(path))
        try:
            manifest = json.loads(manifest_path.read_text())
        except json.JSONDecodeError as e:
            raise InputError(f"invalid JSON: {e.msg}", file=str(manifest_path), line=e.lineno) from e
        version = manifest.get("format_version")
        if version != FORMAT_VERSION:
            raise InputError(f"snapshot format {version!r} is not supported (expected {FORMAT_VERSION})",
                             file=str(manifest_path), field="format_version")
        node_ids = {
            label: np.asarray(pq.read_table(path / "nodes" / f"{label}.parquet").column("id").to_pylist(),
                              dtype=object)
            for label in manifest["counts"]["nodes"]
        }
        features: dict[str, dict[str, np.ndarray]] = {}
        masks: dict[str, dict[str, np.ndarray]] = {}
        for label, props in manifest.get("features", {}).items():
            for prop in props:
                features.setdefault(label, {})[prop] = np.load(path / "features" / f"{label}.{prop}.npy")
                masks.setdefault(label, {})[prop] = np.load(path / "features" / f"{label}.{prop}.mask.npy")
        edges = {}
        for et in manifest.get("edge_types", []):
            etype = (et[0], et[1], et[2])
            with np.load(path / "edges" / f"{edge_key(etype)}.npz") as data:
                edges[etype] = {key: data[key] for key in data.files}
        snap = cls(node_ids=node_ids, edges=edges, features=features, feature_masks=masks, manifest=manifest)
        snap.validate()
        return snap
