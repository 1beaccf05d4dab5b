"""Encoders: documented sizes, deterministic offline vectors, audio preprocessing, behaviour features."""
from __future__ import annotations

import os

import numpy as np
import pytest

from graph.errors import ConfigError
from ingestion.embed.audio import AUDIO_DIM, trim_silence
from ingestion.embed.behavior import BEHAVIOR_DIM, FEATURES, Activity, behavior_vector
from ingestion.embed.image import IMAGE_DIM, preprocess
from ingestion.embed.registry import available, get_encoder
from ingestion.embed.text import TEXT_DIM, minilm_path

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


@pytest.fixture(scope="module")
def text_encoder():
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    return get_encoder("text", device="cpu")


@pytest.fixture(scope="module")
def image_encoder():
    return get_encoder("image", device="cpu")


@pytest.fixture(scope="module")
def audio_encoder():
    return get_encoder("audio", device="cpu")


def test_registry_lists_defaults_and_rejects_unknown_names():
    assert "all-MiniLM-L6-v2" in available("text")
    assert available("image") == ["efficientnet-lite0"]
    with pytest.raises(ConfigError, match="unknown image encoder 'resnet-9000'"):
        get_encoder("image", "resnet-9000", "cpu")
    with pytest.raises(ConfigError, match="unknown modality"):
        get_encoder("smell", None, "cpu")


def test_text_vectors_are_384d_normalised_and_deterministic(text_encoder):
    texts = ["A rocket launch at dawn", "Fresh pasta with eggs and flour", "A rocket launch at dawn"]
    a = text_encoder.encode(texts)
    b = text_encoder.encode(list(reversed(texts)))
    assert a.shape == (3, TEXT_DIM) and a.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(a, b[::-1], atol=1e-5)
    assert a[0] @ a[1] < 0.5  # unrelated texts are not near-duplicates


def test_text_encoder_by_local_path_is_the_same_model(text_encoder):
    by_path = get_encoder("text", str(minilm_path()), "cpu")
    np.testing.assert_allclose(by_path.encode(["space"]), text_encoder.encode(["space"]), atol=1e-5)


def test_image_vectors_are_1280d_and_deterministic(image_encoder):
    from skimage import data

    images = [data.chelsea(), data.camera(), data.coffee()]  # RGB, grey, RGB
    a = image_encoder.encode(images)
    assert a.shape == (3, IMAGE_DIM) and a.dtype == np.float32 and np.all(np.isfinite(a))
    np.testing.assert_allclose(a, image_encoder.encode(images), atol=1e-5)
    assert preprocess(data.camera()).shape == (3, 224, 224)


def test_audio_resamples_mixes_to_mono_and_trims_silence(audio_encoder):
    rate = 22_050
    t = np.arange(rate) / rate
    tone = 0.5 * np.sin(2 * np.pi * 440 * t).astype(np.float32)
    base = audio_encoder.encode([(tone[None, :], rate)])
    assert base.shape == (1, AUDIO_DIM) and base.dtype == np.float32
    # the same tone at another rate, in stereo, with a second of silence around it: same vector
    rate2 = 16_000
    t2 = np.arange(rate2) / rate2
    tone2 = 0.5 * np.sin(2 * np.pi * 440 * t2).astype(np.float32)
    padded = np.concatenate([np.zeros(rate2, np.float32), tone2, np.zeros(rate2, np.float32)])
    other = audio_encoder.encode([(np.stack([padded, padded]), rate2)])
    cos = float(base[0] @ other[0] / np.linalg.norm(base[0]) / np.linalg.norm(other[0]))
    assert cos > 0.99
    np.testing.assert_allclose(audio_encoder.encode([(tone[None, :], rate)]), base, atol=1e-5)
    chirp = np.sin(2 * np.pi * np.cumsum(np.linspace(200, 3000, rate)) / rate).astype(np.float32)
    diff = audio_encoder.encode([(chirp[None, :], rate)])
    assert float(base[0] @ diff[0] / np.linalg.norm(base[0]) / np.linalg.norm(diff[0])) < cos


def test_audio_rejects_silence_and_nan(audio_encoder):
    with pytest.raises(ValueError, match="silent"):
        audio_encoder.encode([(np.zeros((1, 16_000), np.float32), 16_000)])
    bad = np.ones((1, 16_000), np.float32)
    bad[0, 5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        audio_encoder.encode([(bad, 16_000)])


def test_trim_silence_keeps_the_sound():
    y = np.concatenate([np.zeros(8000), np.ones(4000), np.zeros(8000)])
    trimmed = trim_silence(y)
    assert 4000 <= len(trimmed) <= 4000 + 2 * 400
    assert trimmed.sum() == 4000


def test_behavior_features():
    day = 86_400_000
    a = Activity(kinds=["view", "rate", "rate", "like"], ratings=[5.0, 3.0], ts_ms=[0, day, day, 3 * day],
                 items=3, following=1, followers=0, ref_ms=5 * day)
    v = dict(zip(FEATURES, behavior_vector(a)))
    assert len(v) == BEHAVIOR_DIM == 16
    assert v["log1p_events"] == pytest.approx(np.log1p(4))
    assert v["share_rate"] == pytest.approx(0.5) and v["share_view"] == pytest.approx(0.25)
    assert v["mean_rating"] == pytest.approx(0.8) and v["std_rating"] == pytest.approx(0.2)
    assert v["share_rated"] == pytest.approx(0.5)
    assert v["log1p_days_since_last"] == pytest.approx(np.log1p(2))
    assert v["log1p_active_span_days"] == pytest.approx(np.log1p(3))
    assert v["log1p_events_per_active_day"] == pytest.approx(np.log1p(4 / 3))
    assert v["log1p_following"] == pytest.approx(np.log1p(1)) and v["log1p_followers"] == 0


def test_behavior_refuses_users_without_activity():
    enc = get_encoder("behavior", None, "cpu")
    with pytest.raises(ValueError, match="no behaviour vector"):
        enc.encode([Activity([], [], [], 0, 0, 0, 0)])
