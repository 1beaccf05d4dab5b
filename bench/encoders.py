"""Benchmark: seconds per 1,000 items for each encoder on CPU (model loading timed separately).

Usage: .venv/bin/python bench/encoders.py (also called by bench/ingest.py).
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from ingestion.embed.behavior import Activity  # noqa: E402
from ingestion.embed.registry import get_encoder  # noqa: E402
from ingestion.sample import CONTENT, synth_audio  # noqa: E402


def _time(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def encoder_table(ds=None, image_n: int = 200, n: int = 1000) -> list[str]:
    """Markdown lines: per encoder, load time, items timed, seconds per 1,000 items, items/s."""
    import torch
    from skimage import data

    if ds is None:
        from ingestion import movielens
        from ingestion.quarantine import ErrorPolicy
        ds = movielens.load(ErrorPolicy())
    texts = [c.embed_text for c in ds.content[:n]]
    photos = [data.astronaut(), data.coffee(), data.chelsea(), data.camera(), data.rocket()]
    images = [photos[i % len(photos)] for i in range(image_n)]
    rng = np.random.default_rng(0)
    sounds = [synth_audio(k, rng) for k in sorted({c[5] for c in CONTENT if c[5]})]
    clips = [(s.T if s.ndim == 2 else s[None, :], rate) for s, rate in (sounds[i % len(sounds)] for i in range(n))]
    acts = [Activity(["rate"] * 50, [3.0] * 50, list(range(0, 50 * 86_400_000, 86_400_000)), 50, 2, 3,
                     100 * 86_400_000) for _ in range(n)]
    rows = []
    for modality, items, note in (("text", texts, "MovieLens texts (title + year + genres + KG facts)"),
                                  ("image", images, "scikit-image photos, 224×224 crops, batch 16"),
                                  ("audio", clips, "1.5–3 s synthesised clips, 8–44.1 kHz, mono/stereo"),
                                  ("behavior", acts, "users with 50 interactions")):
        load = 0.0
        holder = {}
        load = _time(lambda m=modality: holder.setdefault("enc", get_encoder(m, None, "cpu")))
        enc = holder["enc"]
        enc.encode(items[:4])  # warm-up
        seconds = _time(lambda e=enc, it=items: e.encode(it))
        per_1000 = seconds / len(items) * 1000
        rows.append(f"| {modality} | {enc.name} | {enc.dim} | {load:.1f} | {len(items):,} | {per_1000:.2f} | "
                    f"{len(items) / seconds:,.0f} | {note} |")
    return ["## Encoders on CPU (seconds per 1,000 items)", "",
            f"torch {torch.__version__}, {torch.get_num_threads()} threads, device cpu. "
            f"Images are timed on {image_n} items and scaled to 1,000.", "",
            "| modality | model | dim | load s | items timed | s / 1,000 items | items/s | inputs |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |", *rows]


if __name__ == "__main__":
    sys.stdout.write("\n".join(encoder_table()) + "\n")
