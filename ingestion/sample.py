"""The multimodal sample dataset: scikit-image photos, synthesised audio and hand-written texts,
written in the generic format (CSV, JSONL and Parquet tables) into a folder, usually ``var/sample``.

Everything is local and deterministic: rebuilding gives byte-identical tables and WAVs.
"""
from __future__ import annotations

import csv
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from graph.errors import ConfigError

logger = logging.getLogger(__name__)

SOURCE = "sample"
# scikit-image sample photos that ship with the wheel (no download).
IMAGES = {"astronaut": "astronaut.png", "coffee": "coffee.png", "chelsea": "chelsea.png",
          "camera": "camera.png", "rocket": "rocket.jpg", "hubble": "hubble_deep_field.jpg",
          "coins": "coins.png", "moon": "moon.png", "motorcycle": "motorcycle_left.png"}

TOPICS = [
    ("sample:science", "Science", None), ("sample:space", "Space", "sample:science"),
    ("sample:astronomy", "Astronomy", "sample:space"), ("sample:food", "Food & drink", None),
    ("sample:coffee", "Coffee", "sample:food"), ("sample:pets", "Pets", None),
    ("sample:music", "Music", None), ("sample:rhythm", "Rhythm & percussion", "sample:music"),
    ("sample:photography", "Photography", None), ("sample:nature", "Nature sounds", None),
    ("sample:vehicles", "Vehicles", None),
]

# id, kind, title, text, image key, audio key, topics (topic suffix, weight)
CONTENT = [
    ("sample:astronaut", "photo", "Portrait of an astronaut",
     "An astronaut in a white spacesuit poses in front of the American flag before a shuttle mission.",
     "astronaut", None, [("space", 1.0), ("photography", 0.5)]),
    ("sample:rocket", "photo", "Rocket on the launch pad",
     "A launch vehicle stands on the pad, fuelled and ready; the countdown begins at dawn.",
     "rocket", "countdown", [("space", 1.0), ("vehicles", 0.5)]),
    ("sample:hubble", "photo", "Hubble deep field",
     "Thousands of distant galaxies in a tiny patch of sky, photographed by the Hubble space telescope.",
     "hubble", None, [("astronomy", 1.0), ("science", 0.5)]),
    ("sample:moon", "photo", "The surface of the Moon",
     "Craters and maria on the lunar surface in grey tones.", "moon", None, [("astronomy", 1.0)]),
    ("sample:coffee", "photo", "A cup of coffee",
     "Espresso in a red cup on a saucer, with a spoon; the crema is still fresh.",
     "coffee", "cafe", [("coffee", 1.0), ("food", 0.5)]),
    ("sample:chelsea", "photo", "Chelsea the cat",
     "A tabby cat called Chelsea looks straight into the camera.", "chelsea", "purr", [("pets", 1.0)]),
    ("sample:camera", "photo", "The cameraman",
     "A classic black-and-white test photograph of a man with a film camera on a tripod.",
     "camera", None, [("photography", 1.0)]),
    ("sample:coins", "photo", "Old coins", "Greek coins on a dark background, photographed from above.",
     "coins", None, [("photography", 0.5), ("science", 0.3)]),
    ("sample:motorcycle", "photo", "A motorcycle in the studio",
     "A motorcycle photographed for stereo vision research.", "motorcycle", "engine",
     [("vehicles", 1.0), ("science", 0.3)]),
    ("sample:a440", "audio", "Concert pitch A",
     "A pure 440 Hz tone, the note orchestras tune to.", None, "a440", [("music", 1.0), ("science", 0.3)]),
    ("sample:chord", "audio", "C major chord", "Three notes, C, E and G, sounding together.",
     None, "chord", [("music", 1.0)]),
    ("sample:drums", "audio", "Four-on-the-floor beat",
     "A steady kick drum at 120 beats per minute with off-beat hi-hats.", None, "drums", [("rhythm", 1.0)]),
    ("sample:waves", "audio", "Waves on the shore", "Surf rolling in and out, slow and calming.",
     None, "waves", [("nature", 1.0)]),
    ("sample:siren", "audio", "A rising siren", "A tone sweeping from low to high and back.",
     None, "siren", [("vehicles", 0.5), ("music", 0.2)]),
    ("sample:essay", "article", "Why we explore space",
     "Exploration pays back in science, technology and perspective: seeing Earth from orbit changes how "
     "we think about home.", None, None, [("space", 1.0), ("science", 1.0)]),
    ("sample:recipe", "article", "Cold brew at home",
     "Steep coarse ground coffee in cold water for sixteen hours, then filter and dilute.",
     None, None, [("coffee", 1.0)]),
]

USERS = [("sample:ada", "Ada", 36, "F", "engineer"), ("sample:ben", "Ben", 28, "M", "chef"),
         ("sample:chen", "Chen", 45, "F", "musician"), ("sample:dev", "Dev", 31, "M", "photographer"),
         ("sample:eve", "Eve", 22, "F", "student"), ("sample:finn", "Finn", 60, "M", "retired")]
# Each user's favourite topics: interactions are drawn mostly from content in them.
TASTES = {"sample:ada": ["space", "astronomy", "science"], "sample:ben": ["coffee", "food", "pets"],
          "sample:chen": ["music", "rhythm", "nature"], "sample:dev": ["photography", "vehicles"],
          "sample:eve": ["pets", "music", "space"], "sample:finn": ["nature", "astronomy"]}
FOLLOWS = [("sample:ada", "sample:eve"), ("sample:eve", "sample:ada"), ("sample:ben", "sample:dev"),
           ("sample:chen", "sample:eve"), ("sample:dev", "sample:ada"), ("sample:finn", "sample:chen")]
KINDS = ("view", "click", "like", "rate", "share", "comment")
START_TS = 1_767_225_600  # 2026-01-01T00:00:00Z
SEED = 7


# ---------------------------------------------------------------- synthesised audio
def _t(seconds: float, rate: int) -> np.ndarray:
    return np.arange(int(seconds * rate)) / rate


def _envelope(n: int, rate: int, attack: float = 0.01, release: float = 0.05) -> np.ndarray:
    env = np.ones(n)
    a, r = max(1, int(attack * rate)), max(1, int(release * rate))
    env[:a] = np.linspace(0, 1, a)
    env[-r:] = np.linspace(1, 0, r)
    return env


def synth_audio(key: str, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """(samples [n] or [n, channels] float32 in [-1, 1], rate) for one of the sample sounds.

    Rates and channel counts vary on purpose (resampling and mono mixing), and several clips
    start or end with silence (trimming).
    """
    if key == "a440":
        rate = 16_000
        t = _t(1.5, rate)
        y = 0.5 * np.sin(2 * np.pi * 440 * t) * _envelope(len(t), rate)
    elif key == "chord":
        rate = 22_050
        t = _t(2.0, rate)
        y = sum(0.25 * np.sin(2 * np.pi * f * t) for f in (261.63, 329.63, 392.0)) * _envelope(len(t), rate)
    elif key == "drums":
        rate = 44_100
        t = _t(2.0, rate)
        y = np.zeros(len(t))
        for beat in np.arange(0, 2.0, 0.5):
            i = int(beat * rate)
            k = _t(0.15, rate)
            y[i:i + len(k)] += 0.8 * np.sin(2 * np.pi * (60 + 90 * np.exp(-k * 30)) * k) * np.exp(-k * 20)
            j = int((beat + 0.25) * rate)
            h = _t(0.04, rate)
            y[j:j + len(h)] += 0.2 * rng.standard_normal(len(h)) * np.exp(-h * 80)
        y = np.stack([y, 0.9 * y], axis=1)  # stereo
    elif key == "waves":
        rate = 22_050
        t = _t(3.0, rate)
        noise = np.convolve(rng.standard_normal(len(t)), np.ones(40) / 40, mode="same")
        y = 2.0 * noise * (0.6 + 0.4 * np.sin(2 * np.pi * 0.4 * t))
        y = np.stack([y, np.roll(y, 300)], axis=1)
    elif key == "siren":
        rate = 16_000
        t = _t(2.0, rate)
        freq = 600 + 400 * np.sin(2 * np.pi * 0.5 * t)
        y = 0.4 * np.sin(2 * np.pi * np.cumsum(freq) / rate)
    elif key == "countdown":
        rate = 8_000
        y = np.concatenate([np.zeros(rate // 2)] + [
            np.concatenate([0.5 * np.sin(2 * np.pi * 880 * _t(0.1, rate)), np.zeros(int(0.4 * rate))])
            for _ in range(3)] + [0.6 * rng.standard_normal(rate)])  # leading silence, beeps, roar
    elif key == "cafe":
        rate = 22_050
        t = _t(2.5, rate)
        murmur = np.convolve(rng.standard_normal(len(t)), np.ones(200) / 200, mode="same") * 4
        clink = np.zeros(len(t))
        for at in (0.6, 1.7):
            c = _t(0.3, rate)
            i = int(at * rate)
            clink[i:i + len(c)] += 0.3 * np.sin(2 * np.pi * 3200 * c) * np.exp(-c * 15)
        y = murmur + clink
    elif key == "purr":
        rate = 16_000
        t = _t(2.0, rate)
        y = 0.5 * np.sign(np.sin(2 * np.pi * 25 * t)) * np.convolve(
            rng.standard_normal(len(t)), np.ones(30) / 30, mode="same") * 3
        y = np.concatenate([y, np.zeros(rate // 2)])  # trailing silence
    elif key == "engine":
        rate = 22_050
        t = _t(2.0, rate)
        y = 0.3 * (np.sin(2 * np.pi * 45 * t) + 0.5 * np.sin(2 * np.pi * 90 * t)
                   + 0.25 * np.sign(np.sin(2 * np.pi * 30 * t)))
    else:
        raise ConfigError(f"unknown sample sound {key!r}")
    return np.clip(np.asarray(y, dtype=np.float32), -1.0, 1.0), rate


# ---------------------------------------------------------------- tables
def _interactions(rng: np.random.Generator) -> list[dict]:
    by_topic: dict[str, list[str]] = {}
    for cid, *_, topics in CONTENT:
        for suffix, _w in topics:
            by_topic.setdefault(suffix, []).append(cid)
    rows = []
    for u, (uid, *_rest) in enumerate(USERS):
        liked = sorted({c for t in TASTES[uid] for c in by_topic.get(t, [])})
        others = sorted({c[0] for c in CONTENT} - set(liked))
        for i in range(8):
            pool = liked if rng.random() < 0.8 or not others else others
            cid = pool[int(rng.integers(len(pool)))]
            kind = KINDS[int(rng.integers(len(KINDS)))]
            ts = START_TS + u * 3600 + i * 86_400 + int(rng.integers(3600))
            rating = float(rng.integers(3, 6)) if kind == "rate" and pool is liked else (
                float(rng.integers(1, 3)) if kind == "rate" else None)
            rows.append({"user": uid, "content": cid, "kind": kind, "rating": rating, "ts": ts})
    return rows


def build(directory: Path) -> Path:
    """Write the sample dataset (tables + media) into ``directory``; returns it."""
    from skimage import data as skdata
    import soundfile as sf

    media = directory / "media"
    media.mkdir(parents=True, exist_ok=True)
    image_dir = Path(skdata.__file__).resolve().parent
    available = {k: f for k, f in IMAGES.items() if (image_dir / f).is_file()}
    missing = sorted(set(IMAGES) - set(available))
    if missing:
        logger.warning("scikit-image sample photos not available offline, left out: %s", ", ".join(missing))
    for key, fname in available.items():
        target = media / f"{key}{Path(fname).suffix}"
        if not target.exists():
            shutil.copyfile(image_dir / fname, target)
    rng = np.random.default_rng(SEED)
    sounds = sorted({c[5] for c in CONTENT if c[5]})
    for key in sounds:
        samples, rate = synth_audio(key, rng)
        sf.write(media / f"{key}.wav", samples, rate, subtype="PCM_16")

    with (directory / "users.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "name", "age", "gender", "occupation"])
        w.writerows(USERS)
    with (directory / "topics.jsonl").open("w", encoding="utf-8") as fh:
        for tid, name, parent in TOPICS:
            fh.write(json.dumps({"id": tid, "name": name, "source": SOURCE, "parent": parent}) + "\n")
    with (directory / "content.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "kind", "title", "text", "image", "audio"])
        for cid, kind, title, text, image, audio, _topics in CONTENT:
            w.writerow([cid, kind, title, text,
                        f"media/{image}{Path(available[image]).suffix}" if image in available else "",
                        f"media/{audio}.wav" if audio else ""])
    with (directory / "content_topics.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["content", "topic", "weight"])
        for cid, *_, topics in CONTENT:
            w.writerows([cid, f"sample:{t}", weight] for t, weight in topics)
    pq.write_table(pa.Table.from_pylist(_interactions(rng), schema=pa.schema([
        ("user", pa.string()), ("content", pa.string()), ("kind", pa.string()),
        ("rating", pa.float64()), ("ts", pa.int64())])), directory / "interactions.parquet")
    with (directory / "follows.jsonl").open("w", encoding="utf-8") as fh:
        for i, (a, b) in enumerate(FOLLOWS):
            fh.write(json.dumps({"src": a, "dst": b, "ts": START_TS - 86_400 * (i + 1)}) + "\n")
    logger.info("sample dataset written to %s (%d images, %d sounds)", directory, len(available), len(sounds))
    return directory
