"""Interest read-out from items (gnn/interests.py): EM by hand, the co-interaction refinement, the fusion
topic head on a planted multimodal world, and the INTERESTED_IN lists train writes with it."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from graph.errors import ConfigError
from graph.model import CONTENT, TOPIC, USER
from gnn.config import FUSION_METHODS, TrainConfig
from gnn.data import build_data
from gnn.interests import em_interests, head_topics, labelled_topics
from gnn.train import Trainer, interests_and_recommendations

from tests.test_fusion import MODS, multimodal_world


def _one_user(weights):
    return sp.csr_matrix(np.array([weights], dtype=np.float32))


@pytest.mark.parametrize("dense", [True, False])
def test_em_by_hand_one_iteration_and_fixed_point(dense):
    # item 0 is about A; item 1 about A and B; equal popularity; the user touched both once.
    # p(i|A) = (2/3, 1/3), p(i|B) = (0, 1). From θ = (1/2, 1/2), item 1's responsibility for A is
    # (1/2 · 1/3) / (1/2 · 1/3 + 1/2 · 1) = 1/4, so θ_A = (1 + 1/4) / 2 = 0.625 after one iteration;
    # the fixed point solves 4a² − 7a + 3 = 0 with a < 1: a = 3/4.
    x, q, pop = _one_user([1.0, 1.0]), np.array([[1.0, 0.0], [0.5, 0.5]]), np.ones(2)
    theta, _ = em_interests(x, q, pop, background=0.0, iters=1, dense=dense)
    assert theta.toarray()[0] == pytest.approx([0.625, 0.375], abs=1e-6)
    theta, _ = em_interests(x, q, pop, background=0.0, iters=300, dense=dense)
    assert theta.toarray()[0] == pytest.approx([0.75, 0.25], abs=1e-4)


@pytest.mark.parametrize("dense", [True, False])
def test_background_explains_items_without_topics_and_idle_users_get_nothing(dense):
    # item 1 has no known topic: only the popularity background explains it, so θ stays all on A
    x = sp.csr_matrix(np.array([[1.0, 3.0], [0.0, 0.0]], dtype=np.float32))
    theta, _ = em_interests(x, np.array([[1.0, 0.0], [0.0, 0.0]]), np.ones(2), background=0.1, iters=5, dense=dense)
    theta = theta.toarray()
    assert theta[0] == pytest.approx([1.0, 0.0]) and not theta[1].any()


@pytest.mark.parametrize("dense", [True, False])
def test_refinement_gives_an_unlabelled_item_the_topic_of_its_users(dense):
    # users 0-1 read item 0 (topic A) and item 2; user 2 reads item 1 (topic B); item 2 is unlabelled
    x = sp.csr_matrix(np.array([[1, 0, 1], [1, 0, 1], [0, 1, 0]], dtype=np.float32))
    q = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    prior = np.full((3, 2), 0.5)
    theta, q2 = em_interests(x, q, np.ones(3), 0.1, 30, free_items=np.array([2]), prior=prior, prior_weight=0.1,
                              dense=dense)
    theta, q2 = theta.toarray(), q2.toarray()
    assert q2[2].argmax() == 0 and q2[2, 0] > 0.9
    assert q2[:2] == pytest.approx(q[:2])  # labelled rows never move
    assert theta[:2, 0] == pytest.approx([1.0, 1.0], abs=1e-3) and theta[2, 1] == pytest.approx(1.0)


def test_labelled_topics_are_uniform_over_an_items_topics():
    q = labelled_topics(np.array([0, 0, 2]), np.array([1, 2, 0]), 3, 3)
    assert q.toarray().tolist() == [[0.0, 0.5, 0.5], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]


@pytest.fixture(scope="module")
def world():
    return multimodal_world()


def _head_accuracy(snap, truth, cfg) -> float:
    data = build_data(snap, cfg)
    src, dst = data.content_topics
    n, n_topics = data.num_nodes[CONTENT], data.num_nodes[TOPIC]
    target = labelled_topics(src, dst, n, n_topics)
    pred = head_topics(data.features[CONTENT], target, cfg)
    unlabelled = target.getnnz(1) == 0
    return float(np.mean(pred[unlabelled].argmax(1) == truth["content_topic"][unlabelled]))


@pytest.mark.parametrize("method", FUSION_METHODS)
def test_topic_head_of_each_fusion_method_beats_its_worst_single_modality(method, world):
    snap, truth = world
    base = TrainConfig(fusion=method, emb_dim=16, seed=0, num_threads=1)
    fused = _head_accuracy(snap, truth, base.with_overrides(modalities=MODS))
    worst = min(_head_accuracy(snap, truth, base.with_overrides(modalities=(m,))) for m in MODS)
    assert fused > worst + 0.05, (method, fused, worst)


def test_topic_head_ignores_a_modalitys_scale(world):
    """Encoders' scales differ by orders of magnitude; the head standardises each modality, so rescaling one
    (here by 1,000) leaves its predictions unchanged. Without standardising, the same weight decay would
    act on very different weights and the head would change."""
    snap, _ = world
    cfg = TrainConfig(fusion="early", modalities=MODS, emb_dim=16, seed=0, num_threads=1)
    data = build_data(snap, cfg)
    src, dst = data.content_topics
    target = labelled_topics(src, dst, data.num_nodes[CONTENT], data.num_nodes[TOPIC])
    feats = data.features[CONTENT]
    scaled = {**feats, MODS[0]: (feats[MODS[0]][0] * 1000.0, feats[MODS[0]][1])}
    assert head_topics(scaled, target, cfg) == pytest.approx(head_topics(feats, target, cfg), abs=1e-4)


def test_train_writes_the_items_read_out_as_interests(world):
    snap, truth = world
    cfg = TrainConfig(interest_readout="items", epochs=2, emb_dim=16, num_threads=1, device="cpu", seed=0)
    data = build_data(snap, cfg)
    trainer = Trainer(data, cfg)
    trainer.fit(progress=False)
    emb = trainer.embeddings(data.with_all_interactions())
    (users, t_items, t_scores), _ = interests_and_recommendations(trainer, emb)
    assert len(users) == data.num_nodes[USER] and t_items.shape[1] == cfg.top_k_interests
    written = t_items >= 0
    assert (t_scores[written] > 0).all() and (t_scores[~written] == 0).all()  # topics scored 0 are left out
    assert np.all(np.diff(t_scores, axis=1)[written[:, 1:]] <= 0)
    home = truth["home"][:, 1]
    assert np.mean(t_items[:, 0] == home) > 0.5  # the planted home topic comes first for most users


def test_config_rejects_bad_read_out_settings():
    for bad in ({"interest_readout": "graph"}, {"interest_background": 1.0}, {"interest_item_prior": -1},
                {"interest_em_iters": 0}):
        with pytest.raises(ConfigError):
            TrainConfig(**bad)
