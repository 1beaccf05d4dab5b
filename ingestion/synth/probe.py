"""Separability probe: simple per-modality features + nearest-centroid topic recovery.

Checks the property the fusion study relies on: each modality alone recovers an item's
primary topic better than chance but clearly imperfectly, and concatenating them does better.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import soundfile as sf
from PIL import Image

N_HUE_BINS = 24
N_AUDIO_BANDS = 48
FRAME = 160  # 10 ms at 16 kHz


# ---------------------------------------------------------------- pure features
def image_features(pixels: np.ndarray) -> np.ndarray:
    """Saturation-weighted hue histogram + value/saturation means (colour palette)."""
    hsv = np.asarray(Image.fromarray(pixels).convert("HSV"), dtype=np.float64) / 255.0
    hist, _ = np.histogram(hsv[..., 0], bins=N_HUE_BINS, range=(0, 1), weights=hsv[..., 1])
    return np.concatenate([hist / max(hist.sum(), 1e-9), hsv[..., 1:].mean(axis=(0, 1))])


def audio_features(wave: np.ndarray, sample_rate: int) -> np.ndarray:
    """Log energies in log-spaced bands (pitch/timbre) + envelope modulation spectrum (rhythm)."""
    spec = np.abs(np.fft.rfft(wave)) ** 2
    freqs = np.fft.rfftfreq(len(wave), 1.0 / sample_rate)
    edges = np.geomspace(80.0, min(4_000.0, sample_rate / 2), N_AUDIO_BANDS + 1)
    band = np.searchsorted(edges, freqs) - 1
    ok = (band >= 0) & (band < N_AUDIO_BANDS)
    energy = np.log1p(np.bincount(band[ok], weights=spec[ok], minlength=N_AUDIO_BANDS))
    frames = wave[: len(wave) // FRAME * FRAME].reshape(-1, FRAME)
    env = np.sqrt((frames ** 2).mean(axis=1))
    mod = np.abs(np.fft.rfft(env - env.mean()))[1:12]
    return np.concatenate([energy - energy.mean(), mod / max(mod.sum(), 1e-9)])


def text_features(texts: list[str]) -> np.ndarray:
    """Bag of words (L2-normalised counts) over the texts' own vocabulary."""
    vocab: dict[str, int] = {}
    tokens = [t.lower().split() for t in texts]
    for words in tokens:
        for word in words:
            vocab.setdefault(word, len(vocab))
    x = np.zeros((len(texts), len(vocab)))
    for row, words in enumerate(tokens):
        for word in words:
            x[row, vocab[word]] += 1
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)


def _standardise(x: np.ndarray, train: np.ndarray) -> np.ndarray:
    mu, sd = x[train].mean(axis=0), x[train].std(axis=0) + 1e-6
    return (x - mu) / sd / np.sqrt(x.shape[1])


def nearest_centroid_predict(x: np.ndarray, y: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Labels of the ~train rows: the class whose train-row centroid is closest."""
    classes = np.unique(y[train])
    centroids = np.stack([x[train & (y == c)].mean(axis=0) for c in classes])
    dist = ((x[~train][:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2)
    return classes[dist.argmin(axis=1)]


def separability(features: dict[str, np.ndarray], labels: np.ndarray, train: np.ndarray,
                 groups: dict[str, np.ndarray] | None = None) -> dict[str, float]:
    """Nearest-centroid accuracy per modality and fused (concatenated, block-standardised).

    With ``groups`` (modality → confusion group of each topic), ``<modality>_group`` is the
    accuracy when confusing a topic with another of its group counts as correct.
    """
    blocks = {m: _standardise(x, train) for m, x in features.items()}
    blocks["fused"] = np.concatenate(list(blocks.values()), axis=1)
    truth = labels[~train]
    scores = {}
    for m, x in blocks.items():
        pred = nearest_centroid_predict(x, labels, train)
        scores[m] = float((pred == truth).mean())
        if groups and m in groups:
            scores[f"{m}_group"] = float((groups[m][pred] == groups[m][truth]).mean())
    scores["chance"] = float(np.bincount(truth).max() / len(truth))
    return scores


# ---------------------------------------------------------------- reading a world
@dataclass(frozen=True)
class WorldSample:
    """Raw modalities and primary topics of a world's content items (index order)."""

    texts: list[str]
    images: list[np.ndarray]
    waves: list[np.ndarray]
    sample_rate: int
    primary: np.ndarray


def _read(path_stem: Path):
    for ext, read in (("parquet", pq.read_table), ("csv", pacsv.read_csv)):
        path = path_stem.with_suffix(f".{ext}")
        if path.exists():
            return read(path).to_pylist()
    raise FileNotFoundError(f"no {path_stem.name}.parquet or .csv in {path_stem.parent}")


def read_world_sample(out: Path) -> WorldSample:
    """Load text, decoded image/audio and each item's highest-weight topic from a generated world."""
    out = Path(out)
    rows = _read(out / "content")
    primary: dict[str, tuple[float, str]] = {}
    for r in _read(out / "content_topics"):
        if r["content"] not in primary or r["weight"] > primary[r["content"]][0]:
            primary[r["content"]] = (r["weight"], r["topic"])
    images, waves, rate = [], [], 0
    for r in rows:
        images.append(np.asarray(Image.open(out / r["image"]).convert("RGB")))
        wave, rate = sf.read(out / r["audio"], dtype="float64")
        waves.append(wave)
    labels = np.array([int(primary[r["id"]][1].lstrip("t")) for r in rows])
    return WorldSample([r["text"] for r in rows], images, waves, rate, labels)


def train_split(n: int, train_fraction: float = 0.5, seed: int = 0) -> np.ndarray:
    """Boolean mask of training rows (a seeded random split)."""
    return np.random.default_rng(seed).random(n) < train_fraction


def world_separability(out: Path, train_fraction: float = 0.5, seed: int = 0,
                       extra: dict[str, np.ndarray] | None = None) -> dict[str, float]:
    """Nearest-centroid primary-topic accuracy per modality (also up to its confusion group) and fused.

    ``extra`` adds feature blocks (one row per content item, e.g. MiniLM text embeddings) scored
    alone under their own names; they do not enter the fused score.
    """
    out = Path(out)
    sample = read_world_sample(out)
    train = train_split(len(sample.texts), train_fraction, seed)
    features = {
        "text": text_features(sample.texts),
        "image": np.stack([image_features(p) for p in sample.images]),
        "audio": np.stack([audio_features(w, sample.sample_rate) for w in sample.waves]),
    }
    derived = json.loads((out / "truth" / "world.json").read_text(encoding="utf-8"))["derived"]
    groups = {m: np.asarray(derived[f"{m}_groups"]) for m in ("text", "image", "audio")}
    scores = separability(features, sample.primary, train, groups)
    for name, x in (extra or {}).items():
        scores[name] = separability({name: x}, sample.primary, train)[name]
    return scores


# ---------------------------------------------------------------- ground truth vs behaviour
def _table(path_stem: Path) -> pa.Table:
    for ext, read in (("parquet", pq.read_table), ("csv", pacsv.read_csv)):
        path = path_stem.with_suffix(f".{ext}")
        if path.exists():
            return read(path)
    raise FileNotFoundError(f"no {path_stem.name}.parquet or .csv in {path_stem.parent}")


def _index(column: pa.ChunkedArray, prefix: str) -> np.ndarray:
    """Integer part of generated ids (``u12`` → 12)."""
    return pc.cast(pc.utf8_slice_codeunits(column, len(prefix)), pa.int64()).to_numpy()


def _padded(rows: np.ndarray, values: np.ndarray, n_rows: int, width: int = 3) -> np.ndarray:
    """(n_rows, width) matrix of ``values`` grouped by ``rows``, -1 padded."""
    order = np.argsort(rows, kind="stable")
    rows, values = rows[order], values[order]
    slot = np.arange(len(rows)) - np.searchsorted(rows, rows, side="left")
    out = np.full((n_rows, width), -1, dtype=np.int64)
    out[rows, slot] = values
    return out


def _share(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise: do the -1 padded topic sets a and b intersect?"""
    return ((a[:, :, None] == b[:, None, :]) & (a[:, :, None] >= 0)).any(axis=(1, 2))


def truth_consistency(out: Path) -> dict[str, float]:
    """How behaviour follows the planted truth: on-interest share, drifters' shift, follow homophily."""
    out = Path(out)
    doc = json.loads((out / "truth" / "world.json").read_text(encoding="utf-8"))
    n_users, n_content = doc["config"]["n_users"], doc["config"]["n_content"]
    n_windows, start, span = len(doc["windows"]), doc["derived"]["start_ts"], doc["derived"]["window_seconds"]
    ct = _table(out / "content_topics")
    ctop = _padded(_index(ct["content"], "c"), _index(ct["topic"], "t"), n_content)
    ut = _table(out / "truth" / "user_topics")
    key = _index(ut["user"], "u") * n_windows + ut["window"].to_numpy()
    planted = _padded(key, _index(ut["topic"], "t"), n_users * n_windows).reshape(n_users, n_windows, 3)
    inter = _table(out / "interactions")
    user, item = _index(inter["user"], "u"), _index(inter["content"], "c")
    window = (inter["ts"].to_numpy() - start) // span
    hit = _share(ctop[item], planted[user, window])
    counts = np.bincount(user, minlength=n_users)
    per_user = np.bincount(user, weights=hit, minlength=n_users) / np.maximum(counts, 1)
    drift = _table(out / "truth" / "drifters")
    switch = np.full(n_users, -1)
    switch[_index(drift["user"], "u")] = drift["to_window"].to_numpy()
    to_w = switch[user]
    new_only = (_share(ctop[item], planted[user, np.maximum(to_w, 0)])
                & ~_share(ctop[item], planted[user, np.maximum(to_w - 1, 0)]))
    before, after = (to_w >= 0) & (window == to_w - 1), (to_w >= 0) & (window == to_w)
    fol = _table(out / "follows")
    src, dst = _index(fol["src"], "u"), _index(fol["dst"], "u")
    shuffled = np.random.default_rng(0).permutation(dst)
    return {
        "on_interest_share": float(hit.mean()),
        "active_users_at_least_70pct": float((per_user[counts >= 10] >= 0.7).mean()),
        "drifters_new_topic_share_before": float(new_only[before].mean()),
        "drifters_new_topic_share_after": float(new_only[after].mean()),
        "follows_sharing_topic": float(_share(planted[src, 0], planted[dst, 0]).mean()),
        "follows_sharing_topic_shuffled": float(_share(planted[src, 0], planted[shuffled, 0]).mean()),
    }
