"""Training on a planted graph: both backends, both encoders, mini-batches, run directory, inductive."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from graph.errors import ConfigError
from graph.snapshot import Snapshot
from gnn.config import TrainConfig
from gnn.data import build_data
from gnn.evaluate import evaluate_models
from gnn.synthetic import PlantedWorld, planted_snapshot
from gnn.train import Trainer, train_run

WORLD = PlantedWorld(n_users=60, n_content=90, n_topics=6, per_user=16, drifters=3)
FAST = TrainConfig(device="cpu", num_threads=1, emb_dim=32, epochs=20, patience=5, batch_size=512, lr=0.01)
# default gcn = LightGCN-style (no weight, no activation); "gcn+relu" = weighted GraphConv with ReLU
VARIANTS = {"sage": {"model": "sage"}, "gcn": {"model": "gcn"},
            "gcn+relu": {"model": "gcn", "conv_weight": True, "activation": "relu", "dropout": 0.1}}
COMBOS = [(b, v) for b in ("dgl", "pyg") for v in VARIANTS]


@pytest.fixture(scope="module")
def planted():
    return planted_snapshot(WORLD)


@pytest.fixture(scope="module")
def data(planted):
    return build_data(planted[0], FAST, "random")


@pytest.fixture(scope="module")
def pop_ndcg(data):
    return evaluate_models(data, FAST, ["pop"])[0]["ndcg@20"]


@pytest.fixture(scope="module")
def full_graph_rows(data):
    return {(b, v): evaluate_models(data, TrainConfig(**{**FAST.to_dict(), "backend": b, **VARIANTS[v]}),
                                    [VARIANTS[v]["model"]])[0]
            for b, v in COMBOS}


@pytest.mark.parametrize("backend,model", COMBOS)
def test_full_graph_training_beats_popularity(full_graph_rows, pop_ndcg, backend, model):
    row = full_graph_rows[(backend, model)]
    assert row["ndcg@20"] > pop_ndcg + 0.1, (row, pop_ndcg)
    assert row["auc"] > 0.75


@pytest.mark.parametrize("backend", ["dgl", "pyg"])
def test_minibatch_training_runs_and_learns(data, pop_ndcg, backend):
    cfg = TrainConfig(**{**FAST.to_dict(), "backend": backend, "minibatch": True, "fanouts": [5, 5],
                         "batch_size": 256, "epochs": 6})
    trainer = Trainer(data, cfg)
    result = trainer.fit(progress=False)
    losses = [h["loss"] for h in result.history]
    assert losses[-1] < losses[0]
    assert trainer.evaluate("test")["ndcg@20"] > pop_ndcg


@pytest.fixture(scope="module")
def seed1_rows(data):
    return {(b, v): evaluate_models(data, TrainConfig(**{**FAST.to_dict(), "backend": b, "seed": 1, **VARIANTS[v]}),
                                    [VARIANTS[v]["model"]])[0]
            for b, v in COMBOS}


@pytest.mark.parametrize("model", list(VARIANTS))
def test_backends_reach_comparable_quality(full_graph_rows, seed1_rows, model):
    """Mean over two seeds: DGL and PyG SAGEConv initialise differently, and one seed on this tiny
    graph moves NDCG@20 by up to ~0.09 (seed 0, sage: 0.47 vs 0.57; seeds 1 and 2: within 0.02)."""
    dgl, pyg = ((full_graph_rows[(b, model)]["ndcg@20"] + seed1_rows[(b, model)]["ndcg@20"]) / 2
                for b in ("dgl", "pyg"))
    assert abs(dgl - pyg) < 0.08, (dgl, pyg)


def test_default_yaml_is_the_dataclass_default():
    path = Path(__file__).resolve().parents[1] / "gnn" / "configs" / "default.yaml"
    assert TrainConfig.from_yaml(path) == TrainConfig()


@pytest.mark.parametrize("backend", ["dgl", "pyg"])
def test_lightgcn_encoder_has_no_weights_and_options_reach_the_layers(data, backend):
    light = Trainer(data, TrainConfig(**{**FAST.to_dict(), "backend": backend, "model": "gcn"}))
    assert sum(p.numel() for p in light.model.encoder.parameters()) == 0
    weighted = Trainer(data, TrainConfig(**{**FAST.to_dict(), "backend": backend, **VARIANTS["gcn+relu"]}))
    assert sum(p.numel() for p in weighted.model.encoder.parameters()) > 0
    assert weighted.model.encoder.stack.activation is not None and light.model.encoder.stack.activation is None


def test_excluded_relations_leave_message_passing(planted):
    cfg = TrainConfig(**{**FAST.to_dict(), "exclude_relations": ["HAS_TOPIC"]})
    d = build_data(planted[0], cfg, "random")
    every = {r for _, r, _ in build_data(planted[0], FAST, "random").etypes}
    assert "HAS_TOPIC" in every
    assert {r for _, r, _ in d.etypes} == every - {"HAS_TOPIC", "rev_HAS_TOPIC"}
    assert len(d.user_topic[0]) > 0                     # interests still come from the snapshot's topics
    ct = planted[0].edges[("Content", "HAS_TOPIC", "Topic")]
    assert np.array_equal(d.content_topics[0], ct["src"]) and np.array_equal(d.content_topics[1], ct["dst"])
    with pytest.raises(ConfigError, match="INTERACTED"):
        TrainConfig(exclude_relations=["INTERACTED"])


def test_l2_penalty_is_the_batch_mean_of_squared_norms():
    import torch

    from gnn.models import l2_penalty

    hu, hp, hn = torch.ones(2, 3), 2 * torch.ones(2, 3), torch.ones(2, 4, 3)
    assert float(l2_penalty(hu, hp, hn)) == pytest.approx(3 + 12 + 3)


@pytest.mark.parametrize("target,minibatch", [("input", False), ("input", True), ("output", False)])
def test_l2_regularises_the_rows_l2_target_names(data, target, minibatch):
    """One step's loss with l2 = c minus the same step with l2 = 0 (same seed, same batch and negatives)
    is c x the penalty of the batch's rows of the named layer: the input layer (id + features, the
    same with or without sampling) or the output embeddings."""
    import torch

    from gnn.models import l2_penalty

    cfg = TrainConfig(**{**FAST.to_dict(), "id_dropout": 0.0, "l2_target": target, "minibatch": minibatch,
                         "fanouts": [5, 5], "topic_loss_weight": 0.0})
    idx = torch.arange(64)
    plain = Trainer(data, TrainConfig(**{**cfg.to_dict(), "l2": 0.0})).step(idx)
    with_l2 = Trainer(data, TrainConfig(**{**cfg.to_dict(), "l2": 0.5})).step(idx)
    probe = Trainer(data, cfg)
    b = probe._batch(idx)  # the negatives the two steps drew (same generator state)
    with torch.no_grad():
        if target == "input":
            rows = [probe.model.inputs(nt, ids, probe.feats.get(nt, {}))
                    for nt, ids in (("User", b["u"]), ("Content", b["c"]), ("Content", b["neg"].reshape(-1)))]
            rows[2] = rows[2].reshape(len(idx), -1, rows[2].shape[-1])
        else:
            h = probe.model(probe.blocks, probe.all_ids, probe.feats)
            rows = [h["User"][b["u"]], h["Content"][b["c"]], h["Content"][b["neg"]]]
    assert with_l2 - plain == pytest.approx(0.5 * float(l2_penalty(*rows)), rel=1e-4)


def test_shipped_configs_load():
    for path in sorted((Path(__file__).resolve().parents[1] / "gnn" / "configs").glob("*.yaml")):
        assert isinstance(TrainConfig.from_yaml(path), TrainConfig), path
    with pytest.raises(ConfigError, match="l2_target"):
        TrainConfig(l2_target="ego")


def test_training_is_deterministic(data):
    cfg = TrainConfig(**{**FAST.to_dict(), "backend": "pyg", "epochs": 3})
    runs = [Trainer(data, cfg).fit(progress=False).history for _ in range(2)]
    assert [h["loss"] for h in runs[0]] == [h["loss"] for h in runs[1]]


@pytest.fixture(scope="module")
def run_dir(planted, tmp_path_factory):
    snap_dir = planted[0].save(tmp_path_factory.mktemp("snap") / "snapshot")
    cfg = TrainConfig(**{**FAST.to_dict(), "backend": "pyg", "id_dropout": 0.3, "epochs": 30,
                         "top_k_recommendations": 85, "top_k_interests": 10})
    return train_run(snap_dir, cfg, tmp_path_factory.mktemp("runs"), progress=False)


def test_run_directory_follows_the_contract(run_dir):
    run = json.loads((run_dir / "run.json").read_text())
    assert set(run) >= {"run_id", "model", "backend", "device", "snapshot", "config", "metrics", "timings",
                        "created_at", "emb_dim"}
    assert run_dir.name == run["run_id"] and run["run_id"].startswith(f"{TrainConfig().model}-")
    assert Path(run["snapshot"]).is_absolute()
    for name in ("metrics.json", "curve.png", "checkpoint.pt", "interests.npz", "recommendations.npz"):
        assert (run_dir / name).exists(), name
    snap = Snapshot.load(Path(run["snapshot"]))
    for label in ("User", "Content", "Topic"):
        emb = np.load(run_dir / "embeddings" / f"{label}.npy")
        assert emb.dtype == np.float32 and emb.shape == (snap.num_nodes(label), run["emb_dim"])
    recs = np.load(run_dir / "recommendations.npz")
    assert recs["user"].dtype == np.int64 and recs["content"].dtype == np.int64 and recs["score"].dtype == np.float32
    assert recs["content"].shape == (snap.num_nodes("User"), 85)
    edges = snap.edges[("User", "INTERACTED", "Content")]
    seen = set(zip(edges["src"].tolist(), edges["dst"].tolist()))
    for u, row in zip(recs["user"], recs["content"]):
        valid = row[row >= 0]
        assert not any((int(u), int(c)) in seen for c in valid)
        assert (row[len(valid):] == -1).all()          # padding only at the end
    assert (recs["content"] == -1).any()                # 85 > 90 - seen for active users
    ints = np.load(run_dir / "interests.npz")
    assert ints["topic"].shape == (snap.num_nodes("User"), 10)
    assert (ints["topic"][:, -1] == -1).all()           # 9 topics < K = 10
    assert np.all(np.diff(ints["score"][:, :9], axis=1) <= 1e-6)


def test_interests_recover_planted_home_topics(run_dir, planted):
    _, truth = planted
    ints = np.load(run_dir / "interests.npz")
    hits = np.mean([truth["home"][u, 1] in ints["topic"][u, :2] for u in ints["user"]])
    assert hits > 0.6, hits


def test_lightgcn_config_trains_without_topic_edges_and_still_writes_interests(planted, tmp_path):
    """gnn/configs/lightgcn.yaml: topics take no part in message passing or the loss, and the
    INTERESTED_IN lists come from the items' HAS_TOPIC edges (interest_readout: items)."""
    snap_dir = planted[0].save(tmp_path / "snapshot")
    path = Path(__file__).resolve().parents[1] / "gnn" / "configs" / "lightgcn.yaml"
    cfg = TrainConfig.from_yaml(path, device="cpu", num_threads=1, emb_dim=32, epochs=10, batch_size=512)
    run = train_run(snap_dir, cfg, tmp_path / "runs", progress=False)
    ints = np.load(run / "interests.npz")
    hits = np.mean([planted[1]["home"][u, 1] in ints["topic"][u, :2] for u in ints["user"]])
    assert hits > 0.6, hits
    assert json.loads((run / "run.json").read_text())["config"]["exclude_relations"] == ["HAS_TOPIC", "SUBTOPIC_OF"]


def test_inductive_new_user_gets_their_topic(run_dir, planted):
    from gnn.inductive import InductiveScorer

    _, truth = planted
    scorer = InductiveScorer(run_dir)
    ct = truth["content_topic"]
    shares = []
    for topic in range(WORLD.n_topics):
        liked = np.flatnonzero(ct == topic)[:5]
        res = scorer.score_new_user([(f"c{c}", 1.0, 1.7e9 + 100 * 86400) for c in liked], k=10)
        assert not {f"c{c}" for c in liked} & {c for c, _ in res.items}
        shares.append(np.mean([ct[int(c[1:])] == topic for c, _ in res.items]))
    assert np.mean(shares) > 0.6, shares                # chance is 1/6



def test_inductive_new_content_reaches_its_audience(run_dir, planted):
    from gnn.inductive import InductiveScorer

    _, truth = planted
    scorer = InductiveScorer(run_dir)
    home = truth["home"][:, 1]
    shares = []
    for topic in range(WORLD.n_topics):
        fans = np.flatnonzero(home == topic)[:3]
        res = scorer.score_new_content([(f"t{topic}", 1.0)], [(f"u{u}", 1.0, 1.7e9 + 100 * 86400) for u in fans], k=10)
        assert not {f"u{u}" for u in fans} & {u for u, _ in res.items}
        shares.append(np.mean([home[int(u[1:])] == topic for u, _ in res.items]))
    assert np.mean(shares) > 2 / WORLD.n_topics, shares  # weaker than for users (see gnn/inductive.py)


def test_pyg_path_never_imports_dgl():
    code = ("import sys; from gnn.backends import get_backend; get_backend('pyg');"
            "import gnn.train, gnn.inductive, gnn.evaluate, gnn.drift; assert 'dgl' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])
