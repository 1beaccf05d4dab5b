"""Snapshot format: round trip, validation, clear errors."""
from __future__ import annotations

import json

import numpy as np
import pytest

from graph.errors import InputError
from graph.snapshot import Snapshot


def _tiny() -> Snapshot:
    return Snapshot(
        node_ids={"User": np.array(["u1", "u2"], dtype=object), "Content": np.array(["c1", "c2", "c3"], dtype=object)},
        edges={("User", "INTERACTED", "Content"): {
            "src": np.array([0, 1, 1]), "dst": np.array([2, 0, 1]),
            "ts": np.array([1.0, 2.0, 3.0]), "weight": np.array([1, 1, 0.5], dtype=np.float32)}},
        features={"Content": {"emb_text": np.arange(6, dtype=np.float32).reshape(3, 2)}},
        feature_masks={"Content": {"emb_text": np.array([True, False, True])}},
        manifest={"selection": {"labels": ["User", "Content"]}},
    )


def test_round_trip(tmp_path):
    _tiny().save(tmp_path / "snap")
    snap = Snapshot.load(tmp_path / "snap")
    assert snap.node_ids["Content"].tolist() == ["c1", "c2", "c3"]
    np.testing.assert_array_equal(snap.edges[("User", "INTERACTED", "Content")]["dst"], [2, 0, 1])
    assert snap.features["Content"]["emb_text"].dtype == np.float32
    assert snap.feature_masks["Content"]["emb_text"].tolist() == [True, False, True]
    assert snap.manifest["counts"] == {"nodes": {"User": 2, "Content": 3},
                                       "edges": {"User__INTERACTED__Content": 3}}
    assert snap.manifest["features"] == {"Content": {"emb_text": {"dim": 2, "present": 2}}}
    assert snap.index_of("User") == {"u1": 0, "u2": 1}


def test_save_replaces_atomically(tmp_path):
    _tiny().save(tmp_path / "snap")
    _tiny().save(tmp_path / "snap")
    assert not (tmp_path / "snap.tmp").exists()


def test_out_of_range_ids_are_named(tmp_path):
    snap = _tiny()
    snap.edges[("User", "INTERACTED", "Content")]["dst"] = np.array([0, 1, 7])
    with pytest.raises(InputError, match="User__INTERACTED__Content.npz, field 'dst': ids out of range 0..2"):
        snap.save(tmp_path / "snap")
    assert not (tmp_path / "snap").exists()


def test_load_rejects_non_snapshots(tmp_path):
    with pytest.raises(InputError, match="no manifest.json"):
        Snapshot.load(tmp_path)
    _tiny().save(tmp_path / "snap")
    manifest = json.loads((tmp_path / "snap" / "manifest.json").read_text())
    manifest["format_version"] = 99
    (tmp_path / "snap" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="format 99 is not supported"):
        Snapshot.load(tmp_path / "snap")
