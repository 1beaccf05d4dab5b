"""GraphStorm export: gconstruct config structure, Parquet schemas, dense features, split and id round trip."""
from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import cli
from graph.errors import InputError
from graph.graphstorm import read_graphstorm_embeddings, split_pairs, to_graphstorm
from graph.snapshot import Snapshot

TARGET = ("User", "INTERACTED", "Content")


def _tiny() -> Snapshot:
    emb = np.arange(8, dtype=np.float32).reshape(4, 2) + 1  # row 2 is garbage the mask says is absent
    return Snapshot(
        node_ids={"User": np.array(["u1", "u2", "u3"], dtype=object),
                  "Content": np.array(["c1", "c2", "c3", "c4"], dtype=object),
                  "Topic": np.array(["t1", "t2"], dtype=object)},
        edges={
            TARGET: {"src": np.array([0, 0, 1, 2, 2, 0]), "dst": np.array([1, 1, 0, 3, 2, 3]),
                     "ts": np.array([1.0, 2.0, 3.0, np.nan, 5.0, 6.0]),
                     "weight": np.array([1, 1, 0.5, 1, 2, 1], dtype=np.float32),
                     "rating": np.array([4, np.nan, np.nan, 3, np.nan, 5], dtype=np.float32),
                     "kind": np.array([0, 0, 2, 3, 1, 0], dtype=np.int8)},
            ("Content", "HAS_TOPIC", "Topic"): {"src": np.array([0, 1, 2, 3]), "dst": np.array([0, 0, 1, 1]),
                                                "weight": np.ones(4, dtype=np.float32)},
            ("User", "FOLLOWS", "User"): {"src": np.zeros(0, dtype=np.int64), "dst": np.zeros(0, dtype=np.int64)},
        },
        features={"Content": {"emb_text": emb}, "User": {"emb_behavior": np.ones((3, 3), dtype=np.float32)}},
        feature_masks={"Content": {"emb_text": np.array([True, True, False, True])},
                       "User": {"emb_behavior": np.array([True, True, True])}},
        manifest={"name": "tiny", "interaction_kinds": ["view", "click", "like", "rate", "share", "comment"]},
    )


def _random(n_users: int = 40, n_content: int = 50, n_edges: int = 600, seed: int = 1) -> Snapshot:
    rng = np.random.default_rng(seed)
    return Snapshot(
        node_ids={"User": np.array([f"u{i}" for i in range(n_users)], dtype=object),
                  "Content": np.array([f"c{i}" for i in range(n_content)], dtype=object)},
        edges={TARGET: {"src": rng.integers(0, n_users, n_edges), "dst": rng.integers(0, n_content, n_edges),
                        "weight": np.ones(n_edges, dtype=np.float32)}},
    )


def _table(path) -> dict:
    return pq.read_table(path).to_pydict()


def test_config_follows_the_gconstruct_schema(tmp_path):
    conf_path = to_graphstorm(_tiny(), tmp_path / "gs")
    conf = json.loads(conf_path.read_text())
    assert conf_path == tmp_path / "gs" / "gconstruct.json"
    assert set(conf) == {"version", "nodes", "edges"} and conf["version"] == "gconstruct-v0.1"
    nodes = {n["node_type"]: n for n in conf["nodes"]}
    assert set(nodes) == {"User", "Content", "Topic"}
    for n in nodes.values():
        assert n["format"] == {"name": "parquet"} and n["node_id_col"] == "id"
        assert all((tmp_path / "gs" / f).is_file() for f in n["files"])
    assert nodes["Content"]["features"] == [
        {"feature_col": "emb_text", "feature_name": "emb_text", "out_dtype": "float32"},
        {"feature_col": "emb_text_present", "feature_name": "emb_text_present", "out_dtype": "float32"}]
    assert "features" not in nodes["Topic"]
    edges = {tuple(e["relation"]): e for e in conf["edges"]}
    assert set(edges) == {TARGET, ("Content", "HAS_TOPIC", "Topic")}  # empty FOLLOWS left out
    for e in edges.values():
        assert e["format"] == {"name": "parquet"}
        assert (e["source_id_col"], e["dest_id_col"]) == ("src_id", "dst_id")
        assert e["features"] == [{"feature_col": "weight", "feature_name": "weight", "out_dtype": "float32"}]
    assert "labels" not in edges[("Content", "HAS_TOPIC", "Topic")]
    (label,) = edges[TARGET]["labels"]
    assert label["task_type"] == "link_prediction" and label["split_pct"] == [0.8, 0.1, 0.1]
    custom = label["custom_split_filenames"]
    assert custom["column"] == ["src_id", "dst_id"]
    assert all((tmp_path / "gs" / custom[k]).is_file() for k in custom if k != "column")
    export = json.loads((tmp_path / "gs" / "export.json").read_text())
    assert export["edge_types_left_out"] == [["User", "FOLLOWS", "User"]]
    assert export["counts"]["edges"] == {"User__INTERACTED__Content": 6, "Content__HAS_TOPIC__Topic": 4}


def test_node_parquet_dense_features_and_presence(tmp_path):
    to_graphstorm(_tiny(), tmp_path / "gs")
    table = pq.read_table(tmp_path / "gs" / "nodes" / "Content.parquet")
    assert table.schema.field("id").type == pa.string()
    assert table.schema.field("emb_text").type == pa.list_(pa.float32(), 2)  # fixed-size list
    assert table.schema.field("emb_text_present").type == pa.float32()
    data = table.to_pydict()
    assert data["id"] == ["c1", "c2", "c3", "c4"]
    assert data["emb_text"] == [[1, 2], [3, 4], [0, 0], [7, 8]]  # the absent row is zero, whatever was stored
    assert data["emb_text_present"] == [1, 1, 0, 1]
    assert _table(tmp_path / "gs" / "nodes" / "Topic.parquet") == {"id": ["t1", "t2"]}


def test_edge_parquet_rows_attributes_and_order(tmp_path):
    to_graphstorm(_tiny(), tmp_path / "gs")
    table = pq.read_table(tmp_path / "gs" / "edges" / "User__INTERACTED__Content.parquet")
    assert table.schema.field("weight").type == pa.float32() and table.schema.field("ts").type == pa.float64()
    data = table.to_pydict()
    assert data["src_id"] == ["u1", "u1", "u2", "u3", "u3", "u1"]  # row i = snapshot edge i
    assert data["dst_id"] == ["c2", "c2", "c1", "c4", "c3", "c4"]
    assert data["ts"] == [1.0, 2.0, 3.0, None, 5.0, 6.0]  # absent -> null, not NaN
    assert data["rating"] == [4.0, None, None, 3.0, None, 5.0]
    assert data["kind"] == ["view", "view", "like", "rate", "click", "view"]
    assert table.num_rows == 6
    assert _table(tmp_path / "gs" / "edges" / "Content__HAS_TOPIC__Topic.parquet")["dst_id"] == ["t1", "t1", "t2", "t2"]


def test_split_and_ids_round_trip(tmp_path):
    snap = _random()
    to_graphstorm(snap, tmp_path / "gs", split=(0.7, 0.2, 0.1), seed=3)
    out = tmp_path / "gs"
    nid = {label: dict(zip(*_table(out / "id_maps" / f"{label}.parquet").values())) for label in ("User", "Content")}
    assert nid["User"] == snap.index_of("User") and nid["Content"] == snap.index_of("Content")
    assignment = np.array(_table(out / "splits" / "User__INTERACTED__Content" / "assignment.parquet")["split"])
    src, dst = snap.edges[TARGET]["src"], snap.edges[TARGET]["dst"]
    pair_part: dict[tuple[int, int], int] = {}
    for code, name in enumerate(("train", "valid", "test")):
        rows = _table(out / "splits" / "User__INTERACTED__Content" / f"{name}.parquet")
        for s, d in zip(rows["src_id"], rows["dst_id"]):
            assert (nid["User"][s], nid["Content"][d]) not in pair_part  # parts are disjoint
            pair_part[(nid["User"][s], nid["Content"][d])] = code
    assert set(pair_part) == set(zip(src.tolist(), dst.tolist()))  # every pair in exactly one part
    assert [pair_part[p] for p in zip(src.tolist(), dst.tolist())] == assignment.tolist()
    counts = np.bincount(list(pair_part.values()), minlength=3)
    assert counts.tolist() == [round(0.7 * len(pair_part)), round(0.2 * len(pair_part)),
                               len(pair_part) - round(0.7 * len(pair_part)) - round(0.2 * len(pair_part))]


def test_split_pairs_is_seeded_and_keeps_repeats_together():
    src = np.array([0, 0, 1, 1, 2, 2, 3, 3, 4, 4] * 3)
    dst = np.arange(30) % 7
    part = split_pairs(src, dst, (0.6, 0.2, 0.2), seed=0)
    np.testing.assert_array_equal(part, split_pairs(src, dst, (0.6, 0.2, 0.2), seed=0))
    assert any((split_pairs(src, dst, (0.6, 0.2, 0.2), seed=s) != part).any() for s in range(1, 5))
    for s, d in set(zip(src.tolist(), dst.tolist())):
        assert len(set(part[(src == s) & (dst == d)].tolist())) == 1
    assert split_pairs(np.array([5, 5, 5]), np.array([1, 1, 1]), (0.8, 0.1, 0.1), seed=0).tolist() == [0, 0, 0]


def test_without_labels_writes_no_split(tmp_path):
    conf = json.loads(to_graphstorm(_tiny(), tmp_path / "gs", task=None).read_text())
    assert all("labels" not in e for e in conf["edges"])
    assert not (tmp_path / "gs" / "splits").exists()


def test_graphstorm_draws_the_split_without_a_seed(tmp_path):
    conf = json.loads(to_graphstorm(_tiny(), tmp_path / "gs", seed=None, split=(0.6, 0.2, 0.2)).read_text())
    (label,) = next(e for e in conf["edges"] if tuple(e["relation"]) == TARGET)["labels"]
    assert label == {"task_type": "link_prediction", "split_pct": [0.6, 0.2, 0.2]}
    assert not (tmp_path / "gs" / "splits").exists()


def test_replaces_a_previous_export_but_nothing_else(tmp_path):
    to_graphstorm(_tiny(), tmp_path / "gs")
    to_graphstorm(_tiny(), tmp_path / "gs", seed=5)
    assert not (tmp_path / "gs.tmp").exists()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(InputError, match="not a previous GraphStorm export"):
        to_graphstorm(_tiny(), tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"


@pytest.mark.parametrize("kwargs, error, match", [
    ({"split": (0.5, 0.5, 0.5)}, ValueError, "sum to 1"),
    ({"split": (0.0, 0.5, 0.5)}, ValueError, "train > 0"),
    ({"split": (0.8, 0.2)}, ValueError, "three non-negative"),
    ({"task": "classification"}, ValueError, "task must be one of"),
    ({"target_etype": ("User", "LIKES", "Content")}, InputError, r"\['User', 'LIKES', 'Content'\] is not in"),
    ({"target_etype": ("User", "FOLLOWS", "User")}, InputError, "has no edges"),
])
def test_bad_arguments_are_named(tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        to_graphstorm(_tiny(), tmp_path / "gs", **kwargs)
    assert not (tmp_path / "gs").exists()


def test_non_finite_edge_feature_is_named(tmp_path):
    snap = _tiny()
    snap.edges[TARGET]["weight"][4] = np.nan
    with pytest.raises(InputError, match="User__INTERACTED__Content.npz, field 'weight': edge 4 has non-finite"):
        to_graphstorm(snap, tmp_path / "gs")
    assert not (tmp_path / "gs").exists() and not (tmp_path / "gs.tmp").exists()


def test_cli_export_graphstorm(tmp_path, capsys):
    _tiny().save(tmp_path / "snap")
    assert cli.main(["export-graphstorm", "--snapshot", str(tmp_path / "snap"), "--out", str(tmp_path / "gs"),
                     "--split", "0.5,0.25,0.25", "--seed", "7"]) == 0
    out = capsys.readouterr().out
    assert "graphstorm.gconstruct.construct_graph --conf-file gconstruct.json" in out
    export = json.loads((tmp_path / "gs" / "export.json").read_text())
    assert export["split"]["fractions"] == [0.5, 0.25, 0.25] and export["split"]["seed"] == 7
    assert cli.main(["export-graphstorm", "--snapshot", str(tmp_path / "snap"), "--out", str(tmp_path / "gs2"),
                     "--split", "a,b,c"]) == 2


def _write_embeddings(folder, ids: list[str], vectors: list[list[float]], name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"emb": pa.array(vectors, type=pa.list_(pa.float32())), "nid": pa.array(ids)}),
                   folder / name)


def test_graphstorm_embeddings_map_back_to_snapshot_rows(tmp_path):
    snap = _tiny()
    _write_embeddings(tmp_path / "emb" / "User", ["u3", "u1"], [[3, 3], [1, 1]], "embed-00000_00000.parquet")
    _write_embeddings(tmp_path / "emb" / "User", ["u2"], [[2, 2]], "embed-00001_00000.parquet")
    got = read_graphstorm_embeddings(tmp_path / "emb", snap)
    assert set(got) == {"User"}
    np.testing.assert_array_equal(got["User"], [[1, 1], [2, 2], [3, 3]])
    assert got["User"].dtype == np.float32


def test_graphstorm_embeddings_errors_are_named(tmp_path):
    snap = _tiny()
    _write_embeddings(tmp_path / "a" / "User", ["u1", "u2"], [[1.0], [2.0]], "e.parquet")
    with pytest.raises(InputError, match="1 of 3 User nodes have no embedding"):
        read_graphstorm_embeddings(tmp_path / "a", snap)
    _write_embeddings(tmp_path / "b" / "User", ["u1", "u2", "u3", "zz"], [[1.0]] * 4, "e.parquet")
    with pytest.raises(InputError, match="field 'nid': 1 ids not in the snapshot's User nodes"):
        read_graphstorm_embeddings(tmp_path / "b", snap)
