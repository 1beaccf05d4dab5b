"""Fusion input layers (gnn/fusion.py): masks, weights, the alignment loss, training on a planted
multimodal world, and the fusion study (bench/fusion.py) end to end on a tiny synthetic world."""
from __future__ import annotations

import dataclasses
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from graph.errors import ConfigError
from graph.model import CONTENT, TOPIC, USER
from gnn.config import FUSION_METHODS, TrainConfig
from gnn.data import CT, build_data
from gnn.fusion import build_input
from gnn.synthetic import PlantedWorld, planted_snapshot
from gnn.train import Trainer

MODS = ("emb_text", "emb_image", "emb_audio")


def _feats(n: int = 6, seed: int = 0) -> dict[str, dict[str, tuple[torch.Tensor, torch.Tensor]]]:
    g = torch.Generator().manual_seed(seed)
    masks = {"emb_text": [1, 1, 0, 1, 0, 0], "emb_image": [1, 0, 1, 1, 0, 0], "emb_audio": [1, 1, 1, 0, 0, 1]}
    return {CONTENT: {p: (torch.randn(n, 4 + i, generator=g), torch.tensor(masks[p][:n], dtype=torch.bool))
                      for i, p in enumerate(MODS)}}


def _layer(**kw):
    cfg = TrainConfig(emb_dim=8, id_dropout=0.0, **kw)
    dims = {CONTENT: {p: 4 + i for i, p in enumerate(MODS)}, USER: {}}
    return build_input({CONTENT: 6, USER: 3}, dims, cfg).eval()


def test_early_with_default_weights_is_the_plain_sum_of_projections():
    layer, feats = _layer(), _feats()
    ids = torch.arange(6)
    want = layer.ids[CONTENT](ids)
    for p, (x, m) in feats[CONTENT].items():
        m = m.float().unsqueeze(1)
        want = want + m * layer.proj[f"{CONTENT}__{p}"](x) + (1 - m) * layer.missing[f"{CONTENT}__{p}"]
    assert torch.allclose(layer(CONTENT, ids, feats[CONTENT]), want)
    # parameter names of the pre-fusion InputProjection: old checkpoints still load
    assert {"proj.Content__emb_text.weight", "missing.Content__emb_audio", "ids.User.weight",
            "unknown.Content"} <= set(layer.state_dict())


def test_modalities_select_feature_groups_and_weights_scale_them():
    feats = _feats()
    only = _layer(modalities=("emb_image",))
    assert only.modalities[CONTENT] == ["emb_image"] and "Content__emb_text" not in only.proj
    a = _layer(modalities=MODS, fusion_weights=(1.0, 0.0, 0.0))
    b = _layer(modalities=MODS, fusion_weights=(1.0, 5.0, 5.0))
    b.load_state_dict(a.state_dict())
    ids = torch.tensor([2, 4])  # no text: only the weighted image/audio parts differ
    assert not torch.allclose(a(CONTENT, ids, feats[CONTENT]), b(CONTENT, ids, feats[CONTENT]))
    learned = _layer(fusion_learn_weights=True)
    assert torch.allclose(learned.weights(CONTENT), torch.ones(3))


def test_decision_slices_give_weighted_per_modality_scores():
    layer, feats = _layer(fusion="decision", modalities=MODS, fusion_weights=(2.0, 0.0, 1.0)), _feats()
    h = layer(CONTENT, torch.arange(6), feats[CONTENT])
    sizes = layer.slices(CONTENT)
    assert h.shape == (6, 8) and sum(sizes) == 8 and len(sizes) == 4  # three modalities + the id slice
    image = h[:, sizes[0]:sizes[0] + sizes[1]]
    assert torch.count_nonzero(image) == 0  # weight 0: image contributes nothing to any score
    u = torch.randn(8)
    per_slice = [(h[:, s:s + w] * u[s:s + w]).sum(1) for s, w in zip(np.cumsum([0] + sizes[:-1]), sizes)]
    assert torch.allclose(h @ u, sum(per_slice))


def test_decision_needs_a_slice_per_modality():
    with pytest.raises(ConfigError, match="needs emb_dim >= 4"):
        build_input({CONTENT: 6}, {CONTENT: {p: 4 for p in MODS}}, TrainConfig(fusion="decision", emb_dim=3))


def test_attention_ignores_missing_modalities():
    layer, feats = _layer(fusion="attention"), _feats()
    parts, a = layer.attention(CONTENT, torch.arange(6), feats[CONTENT])
    mask = torch.stack([m for _, m in feats[CONTENT].values()], 1)
    assert torch.allclose(a.sum(1), torch.ones(6))
    some = mask.any(1)
    assert torch.all(a[some][~mask[some]] == 0)    # absent modalities get no attention
    assert torch.allclose(a[4], torch.full((3,), 1 / 3))  # a node with none averages the missing vectors


def test_shared_alignment_loss_trains_and_others_have_none():
    feats = _feats(n=6)
    assert float(_layer(fusion="early").aux_loss(feats)) == 0.0
    layer = _layer(fusion="shared", fusion_align_weight=1.0).train()
    opt = torch.optim.Adam(layer.parameters(), lr=0.05)
    first = float(layer.aux_loss(feats))
    for _ in range(30):
        loss = layer.aux_loss(feats)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert first > 0 and float(layer.aux_loss(feats)) < first


@pytest.mark.parametrize("bad, match", [
    ({"fusion": "late"}, "fusion must be one of"),
    ({"modalities": ("emb_text",), "fusion_weights": (1.0, 2.0)}, "fusion_weights needs one weight"),
    ({"modalities": ("emb_text",), "fusion_weights": (-1.0,)}, "fusion_weights needs one weight"),
    ({"fusion_temperature": 0}, "fusion_temperature must be > 0"),
])
def test_config_rejects_bad_fusion_settings(bad, match):
    with pytest.raises(ConfigError, match=match):
        TrainConfig(**bad)


# ---------------------------------------------------------------- planted multimodal world
def multimodal_world(seed: int = 0):
    """gnn.synthetic's planted world, HAS_TOPIC kept for 10 % of items, with three modalities of the item's
    topic: text (noisy, 20 % missing), image (confuses topic pairs 2k/2k+1), audio (pure noise)."""
    snap, truth = planted_snapshot(PlantedWorld(n_users=120, n_content=160, per_user=10, affinity=0.8,
                                                seed=seed))
    rng = np.random.default_rng(seed)
    topic = truth["content_topic"]
    n = len(topic)
    image = np.eye(4)[topic // 2] + 0.3 * rng.normal(size=(n, 4))
    audio = rng.normal(size=(n, 8))
    features = {CONTENT: {**snap.features[CONTENT], "emb_image": image.astype(np.float32),
                          "emb_audio": audio.astype(np.float32)}}
    masks = {CONTENT: {**snap.feature_masks[CONTENT], "emb_image": np.ones(n, bool), "emb_audio": np.ones(n, bool)}}
    labelled = rng.random(n) < 0.1
    ct = snap.edges[CT]
    edges = {**snap.edges, CT: {k: v[labelled[ct["src"]]] for k, v in ct.items()}}
    return dataclasses.replace(snap, edges=edges, features=features, feature_masks=masks), truth


def interest_accuracy(method: str, modalities: tuple[str, ...], snap, truth) -> float:
    """Share of users whose top topic (User·Topic) is their planted home topic of the last window."""
    cfg = TrainConfig(fusion=method, modalities=modalities, epochs=25, patience=25, lr=0.01, emb_dim=16,
                      topic_loss_weight=0.5, num_threads=1, backend="dgl", device="cpu", seed=0)
    data = build_data(snap, cfg)
    trainer = Trainer(data, cfg)
    trainer.fit(progress=False)
    emb = trainer.embeddings(data.with_all_interactions())
    leaves = torch.arange(len(np.unique(truth["content_topic"])))
    top = (emb[USER] @ emb[TOPIC][leaves].T).argmax(1).numpy()
    return float(np.mean(top == truth["home"][:, 1]))


@pytest.fixture(scope="module")
def world():
    return multimodal_world()


@pytest.mark.parametrize("method", [m for m in FUSION_METHODS])
def test_each_fusion_method_beats_its_worst_single_modality(method, world):
    snap, truth = world
    fused = interest_accuracy(method, MODS, snap, truth)
    worst = min(interest_accuracy(method, (m,), snap, truth) for m in MODS)
    assert fused > worst + 0.05, (method, fused, worst)


# ---------------------------------------------------------------- the study, end to end
def _bench(name: str = "fusion"):
    path = Path(__file__).resolve().parents[1] / "bench" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny_world(session_graph, tmp_path_factory):
    """(bench/fusion.py as a module, a tiny synthetic world, its ingested and exported snapshot)."""
    from ingestion.synth.generate import GenerateOptions, generate
    from ingestion.synth.world import WorldConfig

    fusion = _bench()
    root = tmp_path_factory.mktemp("fusion-world")
    world = root / "world"
    generate(WorldConfig(n_users=60, n_content=30, n_topics=6, seed=3), world, GenerateOptions(progress=False))
    session_graph.write("MATCH (n) DETACH DELETE n")
    snap_dir = fusion.ingest_and_export(session_graph, world, root / "snapshot", root / "cache")
    return fusion, world, snap_dir


def test_fusion_study_runs_end_to_end_on_a_tiny_world(tiny_world, tmp_path):
    fusion, world, snap_dir = tiny_world
    out = tmp_path / "fusion.md"
    opts = fusion.parse_args(["--sets", "text,image,audio,text+image+audio", "--methods", "early,shared",
                              "--epochs", "3", "--labelled", "0.3", "--out", str(out)])
    text = fusion.study(world, snap_dir, opts)
    assert text == out.read_text()
    table = [line for line in text.splitlines() if line.startswith("| ")]
    # header, rule, 8 cells, no-modality, popularity, two true-topic references, the modalities-only bound,
    # the attested ceiling
    assert len(table) == 2 + 4 * 2 + 6
    for line in table[2:10]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert all(0.0 <= float(c) <= 1.0 for c in cells[2:11]), line
    # the goal's verdict on the written read-out and on the modalities-only read-out, per method
    assert sum("three-modality interest precision@5" in line for line in text.splitlines()) == 4

    # --readout-only: no GNN; the read-out's columns are the trained run's (they do not depend on the GNN)
    quick = fusion.study(world, snap_dir, fusion.parse_args([*opts.argv[:-2], "--readout-only",
                                                              "--out", str(tmp_path / "readout.md")]))
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in table[2:10]]
    quick_rows = [[c.strip() for c in line.strip("|").split("|")] for line in quick.splitlines()
                  if line.startswith("| ")][2:10]
    assert "No GNN trained" in quick
    for full, fast in zip(rows, quick_rows):
        assert fast[:2] == full[:2]
        assert [fast[i] for i in (4, 6, 7, 10)] == [full[i] for i in (4, 6, 7, 10)], (full, fast)
        assert fast[5] == fast[8] == fast[9] == fast[11] == "—"  # User·Topic, Recall/NDCG@20, epochs


def test_ideal_encoders_and_the_content_bound_read_what_the_generator_rendered(tiny_world, tmp_path):
    import pyarrow.parquet as pq
    from graph.snapshot import Snapshot
    from ingestion.synth.media import audio_group, image_group

    fusion, world, snap_dir = tiny_world
    full = Snapshot.load(snap_dir)
    n_topics = 6
    leaf = {str(t): int(str(t)[1:]) for t in full.node_ids[TOPIC] if str(t).startswith("t")}
    topic_ids = list(map(str, full.node_ids[TOPIC]))
    true = [set() for _ in range(full.num_nodes(CONTENT))]
    for c, t in zip(full.edges[CT]["src"], full.edges[CT]["dst"]):
        true[int(c)].add(leaf[topic_ids[int(t)]])
    views = fusion.rendered_views(world, full)
    item = {str(c): i for i, c in enumerate(full.node_ids[CONTENT])}
    v = pq.read_table(world / "truth" / "content_views.parquet").to_pydict()
    for prop, group in (("emb_text", lambda t: t), ("emb_image", lambda t: image_group(t, n_topics)),
                        ("emb_audio", lambda t: audio_group(t, n_topics))):
        x = views[prop]
        assert x.sum() > 0 and set(np.unique(x)) <= {0.0, 1.0}
        assert x.sum() <= sum(m == prop[4:] for m in v["modality"])  # topics sharing a prototype share a column
        for i, topics in enumerate(true):  # a modality only ever shows the item's own topics
            assert set(np.flatnonzero(x[i])) <= {group(t) for t in topics}, (prop, i)
    assert views["emb_text"].sum() == sum(m == "text" for m in v["modality"])  # one column per leaf topic

    ideal = fusion.ideal_encoders(world, full)
    assert all(np.array_equal(ideal.features[CONTENT][p], views[p]) for p in views)
    assert all(ideal.feature_masks[CONTENT][p].all() for p in views)

    _, labelled = fusion.withhold_topics(full, 0.3, 0)
    bound = fusion.shown_topics(world, full, labelled).edges[CT]
    kept = set(zip(bound["src"].tolist(), bound["dst"].tolist()))
    every = set(zip(full.edges[CT]["src"].tolist(), full.edges[CT]["dst"].tolist()))
    assert kept <= every and {(c, t) for c, t in every if labelled[c]} <= kept
    shown = {(item[c], leaf[t]) for c, t in zip(v["content"], v["topic"])}
    assert {(c, t) for c, t in kept if not labelled[c]} == \
        {(c, t) for c, t in every if not labelled[c] and (c, leaf[topic_ids[t]]) in shown}

    text = fusion.study(world, snap_dir, fusion.parse_args(
        ["--sets", "text,text+image+audio", "--methods", "early", "--labelled", "0.3", "--readout-only",
         "--ideal-encoders", "--out", str(tmp_path / "ideal.md")]))
    assert "**Ideal encoders**" in text
    bound_row = next(line for line in text.splitlines() if line.startswith("| true topics that some modality"))
    assert 0.0 < float(bound_row.strip("|").split("|")[4]) <= 1.0

    # the cold-content plot reads these tables back
    plot = _bench("plot_fusion")
    table = plot.read_table(tmp_path / "ideal.md")
    assert set(table["cells"]) == {("text", "early"), ("text+image+audio", "early")}
    assert table["bound"] == float(bound_row.strip("|").split("|")[4]) and 0 < table["reference"] <= 1
    plot.plot([("tiny", tmp_path / "ideal.md", tmp_path / "ideal.md")], tmp_path / "cold.png")
    assert (tmp_path / "cold.png").read_bytes()[:4] == b"\x89PNG"
    (tmp_path / "empty.md").write_text("# no table\n")
    with pytest.raises(ValueError, match="empty.md: no fusion results table"):
        plot.read_table(tmp_path / "empty.md")


def test_fusion_world_coverage_option_sets_every_modality(tmp_path, capsys):
    import json

    fusion = _bench()
    world = fusion.build_world(tmp_path / "w", 40, 20, 6, 1, tmp_path / "media", 4.0, "low", p_show=0.95)
    cfg = json.loads((world / "truth" / "world.json").read_text())["config"]
    assert (cfg["text"]["p_mention"], cfg["image"]["p_show"], cfg["audio"]["p_show"]) == (0.95, 0.95, 0.95)
    assert cfg["image"]["pixel_noise"] == fusion.MEDIA_NOISE["low"]["image"].pixel_noise  # noise kept
    assert fusion.media_note(cfg).startswith("text: p_mention 0.95; image: p_distractor 0.15, p_show 0.95")
    with pytest.raises(SystemExit):
        fusion.parse_args(["--p-show", "0"])
    assert "--p-show must be in (0, 1]" in capsys.readouterr().err
