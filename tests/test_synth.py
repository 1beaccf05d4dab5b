"""Synthetic world generator: determinism, schema, referential integrity, media, planted truth."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import soundfile as sf
from PIL import Image

from cli import main as ikg
from graph.errors import ConfigError
from ingestion.synth.generate import SCHEMAS, GenerateOptions, generate, prepare_out
from ingestion.synth.probe import truth_consistency, world_separability
from ingestion.synth.world import VALID_KINDS, WorldConfig

TABLES = ("topics", "content", "content_topics", "users", "interactions", "follows")
TRUTH = ("user_topics", "drifters", "content_views")
TINY = WorldConfig(n_users=50, n_content=40, n_topics=6, seed=7)
MEDIUM = WorldConfig(n_users=2_000, n_content=300, n_topics=20, seed=5, chunk_users=700)


def _table(out: Path, name: str):
    stem = out / ("truth" if name in TRUTH else "") / name
    for ext, read in (("parquet", pq.read_table), ("csv", pacsv.read_csv)):
        if stem.with_suffix(f".{ext}").exists():
            return read(stem.with_suffix(f".{ext}")).to_pandas()
    raise FileNotFoundError(stem)


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[Path, dict, float]:
    out = tmp_path_factory.mktemp("tiny") / "world"
    started = time.perf_counter()
    stats = generate(TINY, out, GenerateOptions(progress=False))
    return out, stats, time.perf_counter() - started


@pytest.fixture(scope="module")
def medium(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("medium") / "world"
    generate(MEDIUM, out, GenerateOptions(media=False, progress=False))
    return out


def test_tiny_world_is_fast_and_complete(tiny):
    out, stats, seconds = tiny
    assert seconds < 10.0
    assert stats["media_rendered"] == TINY.n_content
    for name in TABLES:
        assert (out / f"{name}.parquet").is_file()
    for name in TRUTH:
        assert (out / "truth" / f"{name}.parquet").is_file()
    doc = json.loads((out / "truth" / "world.json").read_text())
    assert doc["seed"] == TINY.seed and doc["synthetic"] is True
    assert doc["config"]["n_users"] == TINY.n_users and len(doc["windows"]) == TINY.n_windows
    assert doc["tables"]["interactions"] == len(_table(out, "interactions"))


def test_same_seed_gives_identical_bytes_and_other_seed_differs(tiny, tmp_path):
    out, _, _ = tiny
    again = tmp_path / "again"
    generate(TINY, again, GenerateOptions(progress=False))
    assert _files(again) == _files(out)
    other = tmp_path / "other"
    generate(WorldConfig(n_users=50, n_content=40, n_topics=6, seed=8), other, GenerateOptions(media=False,
                                                                                                progress=False))
    assert (other / "interactions.parquet").read_bytes() != (out / "interactions.parquet").read_bytes()


def test_schema_types(tiny):
    out, _, _ = tiny
    for name, schema in SCHEMAS.items():
        stem = out / ("truth" if name in TRUTH else "") / f"{name}.parquet"
        assert pq.read_schema(stem).remove_metadata() == schema, name


def test_referential_integrity(tiny, medium):
    for out in (tiny[0], medium):
        users, content, topics = _table(out, "users"), _table(out, "content"), _table(out, "topics")
        uids, cids, tids = set(users.id), set(content.id), set(topics.id)
        assert len(uids) == len(users) and len(cids) == len(content) and len(tids) == len(topics)
        leaves = topics[topics.kind == "leaf"]
        assert set(leaves.parent) <= set(topics[topics.kind == "parent"].id)
        assert topics[topics.kind == "parent"].parent.isna().all()
        ct = _table(out, "content_topics")
        assert set(ct.content) == cids and set(ct.topic) <= set(leaves.id)
        assert ct.groupby("content").size().between(1, 3).all()
        assert np.allclose(ct.groupby("content").weight.sum(), 1.0, atol=0.01)
        inter = _table(out, "interactions")
        assert set(inter.user) <= uids and set(inter.content) <= cids
        assert set(inter.kind) <= set(VALID_KINDS)
        rated = inter[inter.kind == "rate"]
        assert rated.rating.between(1, 5).all() and inter[inter.kind != "rate"].rating.isna().all()
        doc = json.loads((out / "truth" / "world.json").read_text())
        start, span = doc["derived"]["start_ts"], doc["derived"]["window_seconds"] * len(doc["windows"])
        assert inter.ts.between(start, start + span - 1).all()
        follows = _table(out, "follows")
        assert set(follows.src) <= uids and set(follows.dst) <= uids
        assert (follows.src != follows.dst).all() and not follows.duplicated(["src", "dst"]).any()
        truth = _table(out, "user_topics")
        assert set(truth.user) == uids and set(truth.topic) <= set(leaves.id)
        assert np.allclose(truth.groupby(["user", "window"]).weight.sum(), 1.0, atol=1e-3)
        assert truth.groupby("user").window.nunique().eq(len(doc["windows"])).all()
        drifters = _table(out, "drifters")
        assert set(drifters.user) <= uids and (drifters.to_window == drifters.from_window + 1).all()
        views = _table(out, "content_views")
        assert set(views.modality) <= {"text", "image", "audio"}
        pairs = set(zip(ct.content, ct.topic))
        assert set(zip(views.content, views.topic)) <= pairs


def test_interaction_kind_proportions(medium):
    shares = _table(medium, "interactions").kind.value_counts(normalize=True)
    for kind, p in MEDIUM.kind_probs:
        assert abs(shares[kind] - p) < 0.02, (kind, shares[kind], p)


def test_media_files_exist_and_decode(tiny):
    out, _, _ = tiny
    content = _table(out, "content")
    for image, audio in zip(content.image, content.audio):
        with Image.open(out / image) as im:
            assert im.format == "PNG" and im.mode == "RGB" and im.size == (TINY.image.size, TINY.image.size)
        wave, rate = sf.read(out / audio)
        assert rate == TINY.audio.sample_rate and wave.ndim == 1
        assert len(wave) == int(TINY.audio.sample_rate * TINY.audio.seconds) and 0 < np.abs(wave).max() <= 1.0


def _hits(out: Path):
    """Interactions with their window and whether the item has a planted topic of that window."""
    doc = json.loads((out / "truth" / "world.json").read_text())
    inter = _table(out, "interactions")
    inter["window"] = (inter.ts - doc["derived"]["start_ts"]) // doc["derived"]["window_seconds"]
    ct = _table(out, "content_topics").groupby("content").topic.apply(set).to_dict()
    planted = _table(out, "user_topics").groupby(["user", "window"]).topic.apply(set).to_dict()
    inter["hit"] = [bool(ct[c] & planted[(u, w)]) for u, c, w in zip(inter.user, inter.content, inter.window)]
    return inter, ct, planted


def test_users_interact_mostly_within_planted_topics(medium):
    inter, _, _ = _hits(medium)
    # Each interaction follows the planted mixture with probability 1 - noise_rate (the rest hit a
    # planted topic only by chance), so the hit rate is at least 1 - noise_rate up to sampling noise.
    assert inter.hit.mean() >= 1 - MEDIUM.noise_rate - 0.03
    per_user = inter.groupby("user").hit.agg(["mean", "size"])
    active = per_user[per_user["size"] >= 10]
    assert (active["mean"] >= 0.7).mean() >= 0.95


def test_drifters_shift_between_windows(medium):
    inter, ct, planted = _hits(medium)
    drifters = _table(medium, "drifters")
    assert abs(len(drifters) / MEDIUM.n_users - MEDIUM.drift_fraction) < 0.04
    before, after = [], []
    for user, src, dst in zip(drifters.user, drifters.from_window, drifters.to_window):
        old, new = planted[(user, src)], planted[(user, dst)]
        assert not old & new
        mine = inter[inter.user == user]
        for window, bucket in ((src, before), (dst, after)):
            items = mine[mine.window == window].content
            if len(items):
                bucket.append(np.mean([bool(ct[c] & new) and not ct[c] & old for c in items]))
    assert np.mean(before) < 0.1 and np.mean(after) > 0.7


def test_follows_are_homophilous(medium):
    follows = _table(medium, "follows")
    first = _table(medium, "user_topics").query("window == 0").groupby("user").topic.apply(set).to_dict()
    shared = np.mean([bool(first[s] & first[d]) for s, d in zip(follows.src, follows.dst)])
    shuffled = np.random.default_rng(0).permutation(follows.dst.to_numpy())
    baseline = np.mean([bool(first[s] & first[d]) for s, d in zip(follows.src, shuffled)])
    assert shared >= MEDIUM.homophily - 0.05 and shared > 2 * baseline


def test_truth_consistency_report_matches_independent_count(medium):
    inter, _, _ = _hits(medium)
    report = truth_consistency(medium)
    assert report["on_interest_share"] == pytest.approx(inter.hit.mean())
    assert report["drifters_new_topic_share_before"] < 0.1 < 0.7 < report["drifters_new_topic_share_after"]
    assert report["follows_sharing_topic"] > 2 * report["follows_sharing_topic_shuffled"]


def test_modalities_are_separable_but_each_imperfect(tmp_path):
    out = tmp_path / "sep"
    generate(WorldConfig(n_users=10, n_content=480, n_topics=12, seed=3), out, GenerateOptions(progress=False))
    scores = world_separability(out)
    for modality in ("text", "image", "audio"):
        assert 1.5 * scores["chance"] < scores[modality] < 0.8, (modality, scores)
    assert scores["fused"] > max(scores["text"], scores["image"], scores["audio"]) + 0.05, scores


def test_no_media_csv_and_shared_media_dir(tmp_path):
    plain = tmp_path / "plain"
    stats = generate(TINY, plain, GenerateOptions(media=False, fmt="csv", progress=False))
    content = _table(plain, "content")
    assert stats["media_rendered"] == 0 and content.image.isna().all() and content.audio.isna().all()
    assert not (plain / "media").exists() and (plain / "interactions.csv").is_file()
    cache = tmp_path / "cache"
    first = generate(TINY, tmp_path / "a", GenerateOptions(media_dir=cache, progress=False))
    second = generate(WorldConfig(n_users=80, n_content=40, n_topics=6, seed=7), tmp_path / "b",
                      GenerateOptions(media_dir=cache, progress=False))
    assert first["media_rendered"] == TINY.n_content and second["media_reused"] == TINY.n_content
    for image in _table(tmp_path / "b", "content").image:
        assert (tmp_path / "b" / image).resolve().is_file()


def test_bad_config_and_occupied_out_are_refused(tmp_path):
    with pytest.raises(ValueError, match="n_content must be >= n_topics"):
        WorldConfig(n_content=3, n_topics=6)
    with pytest.raises(ValueError, match="noise_rate must be in"):
        WorldConfig(noise_rate=1.5)
    with pytest.raises(ValueError, match="n_parents must be in"):
        WorldConfig(n_topics=100, n_content=100, n_parents=65)
    assert WorldConfig(n_topics=1_000, n_content=1_000).parents == 64
    (tmp_path / "x.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="not empty"):
        prepare_out(tmp_path)
    with pytest.raises(ConfigError, match="no truth/world.json"):
        prepare_out(tmp_path, replace=True)
    assert (tmp_path / "x.txt").exists()


def test_cli_synth(tmp_path, capsys):
    out = tmp_path / "w"
    args = ["synth", "--users", "20", "--content", "12", "--topics", "6", "--seed", "2", "--out", str(out),
            "--no-media", "--quiet"]
    assert ikg(args) == 0
    assert json.loads(capsys.readouterr().out)["rows"]["users"] == 20
    assert ikg(args) == 2                      # occupied --out
    assert ikg(args + ["--force"]) == 0
    assert ikg(["synth", "--topics", "2", "--out", str(tmp_path / "bad")]) == 2
