"""Benchmark `ikg synth`: generation speed (rows/s, media items/s) and peak memory.

Each case runs in a fresh child process (its own ``ru_maxrss``). Baselines measured in the
same run: the interpreter with the generator imported (memory floor), the table writer alone
writing the same interaction rows from premade indices (I/O floor), and PNG/WAV encoding of
blank media for the same item count (encoding floor).

    .venv/bin/python bench/synth.py            # 10k + 100k users --no-media, 3k content with media
    .venv/bin/python bench/synth.py --million  # also 1M users --no-media
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "synth.md"
logger = logging.getLogger("bench.synth")

CASES = [
    # name, users, content, topics, media
    ("10k users, no media", 10_000, 5_000, 50, False),
    ("100k users, no media", 100_000, 20_000, 50, False),
    ("3k content with media", 1_000, 3_000, 20, True),
]
MILLION = ("1M users, no media", 1_000_000, 50_000, 100, False)
SEPARABILITY = [(1_000, 20), (1_000, 40)]  # (content items, topics), default noise
TRUTH_USERS = 100_000  # the case whose behaviour is checked against the planted truth


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _load(avg: tuple[float, float, float]) -> str:
    return "/".join(f"{v:.1f}" for v in avg)


def _dir_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


# ---------------------------------------------------------------- child-process cases
def _child(spec: dict) -> dict:
    from ingestion.synth.generate import GenerateOptions, generate
    from ingestion.synth.world import WorldConfig

    out = Path(spec["out"])
    if spec["kind"] == "imports":
        return {"seconds": 0.0}
    if spec["kind"] == "writer_floor":
        return _writer_floor(out, spec["rows"], spec["users"], spec["content"])
    if spec["kind"] == "media_floor":
        return _media_floor(out, spec["items"])
    if spec["kind"] == "truth":
        from ingestion.synth.probe import truth_consistency
        return {"seconds": 0.0, "truth": truth_consistency(out)}
    if spec["kind"] == "separability":
        return _separability(out, spec["content"], spec["topics"])
    cfg = WorldConfig(n_users=spec["users"], n_content=spec["content"], n_topics=spec["topics"], seed=0)
    started = time.perf_counter()
    stats = generate(cfg, out, GenerateOptions(media=spec["media"], progress=False))
    return {"seconds": time.perf_counter() - started, "rows": stats["rows"],
            "media": stats["media_rendered"], "stage_seconds": stats["seconds"], "mb": _dir_mb(out)}


def _writer_floor(out: Path, rows: int, users: int, content: int) -> dict:
    """The same interaction columns written from premade random indices: no sampling at all."""
    import numpy as np
    import pyarrow as pa

    from ingestion.synth.generate import SCHEMAS
    from ingestion.synth.writer import TableWriter

    rng = np.random.default_rng(0)
    uids = pa.array([f"u{i}" for i in range(users)])
    cids = pa.array([f"c{i}" for i in range(content)])
    kinds = pa.array(["view", "click", "like", "rate", "comment", "share"])
    out.mkdir(parents=True, exist_ok=True)
    chunk = 1_200_000
    started = time.perf_counter()
    with TableWriter(out, "interactions", SCHEMAS["interactions"]) as tw:
        for lo in range(0, rows, chunk):
            n = min(chunk, rows - lo)
            tw.write({"user": uids.take(np.sort(rng.integers(0, users, n))), "content": cids.take(rng.integers(0, content, n)),
                      "kind": kinds.take(rng.integers(0, 6, n)), "rating": pa.nulls(n, pa.float64()),
                      "ts": rng.integers(1_735_689_600, 1_743_465_600, n)})
    return {"seconds": time.perf_counter() - started, "rows": {"interactions": rows}, "mb": _dir_mb(out)}


def _media_floor(out: Path, items: int) -> dict:
    """PNG + WAV encoding of blank media: the file-writing cost without any rendering."""
    import numpy as np
    import soundfile as sf
    from PIL import Image

    (out / "image").mkdir(parents=True, exist_ok=True)
    (out / "audio").mkdir(parents=True, exist_ok=True)
    pixels, wave = np.zeros((64, 64, 3), np.uint8), np.zeros(16_000, np.float32)
    started = time.perf_counter()
    for i in range(items):
        Image.fromarray(pixels).save(out / "image" / f"c{i}.png", format="PNG")
        sf.write(out / "audio" / f"c{i}.wav", wave, 16_000, subtype="PCM_16", format="WAV")
    return {"seconds": time.perf_counter() - started, "media": items, "mb": _dir_mb(out)}


def _separability(out: Path, content: int, topics: int) -> dict:
    """Nearest-centroid primary-topic accuracy per modality (probe) on a media world."""
    from ingestion.synth.generate import GenerateOptions, generate
    from ingestion.synth.probe import world_separability
    from ingestion.synth.world import WorldConfig

    from ingestion.embed.registry import get_encoder
    from ingestion.synth.probe import read_world_sample

    generate(WorldConfig(n_users=10, n_content=content, n_topics=topics, seed=0), out, GenerateOptions(progress=False))
    minilm = get_encoder("text", device="cpu").encode(read_world_sample(out).texts)
    return {"seconds": 0.0, "scores": world_separability(out, extra={"text_minilm": minilm})}


def _run_child(spec: dict) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True,
                          cwd=ROOT, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"case {spec} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- report
def _row(name: str, r: dict) -> str:
    rows = sum(r.get("rows", {}).values())
    inter = r.get("rows", {}).get("interactions", 0)
    sec = r["seconds"]
    fmt = lambda v: f"{v:,.0f}" if v else "–"  # noqa: E731
    return (f"| {name} | {fmt(r.get('rows', {}).get('users', 0))} | {fmt(inter)} | {fmt(rows)} | {sec:.2f} | "
            f"{fmt(rows / sec if sec and rows else 0)} | {fmt(inter / sec if sec and inter else 0)} | "
            f"{fmt(r.get('media', 0) / sec if sec and r.get('media') else 0)} | {r['cpu_s']:.1f} | {r['rss_mb']:.0f} | "
            f"{r.get('mb', 0):.1f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--million", action="store_true", help="also generate 1M users (--no-media)")
    parser.add_argument("--only-million", action="store_true", help="only the 1M-user case (+ baselines)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help="where worlds are written (default: a temp dir, removed)")
    args = parser.parse_args()
    if args.child:
        spec = json.loads(args.child)
        result = _child(spec)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        result["rss_mb"], result["cpu_s"] = _peak_rss_mb(), usage.ru_utime + usage.ru_stime
        sys.stdout.write(json.dumps(result) + "\n")
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    cases = [MILLION] if args.only_million else CASES + ([MILLION] if args.million else [])
    work = args.workdir or Path(tempfile.mkdtemp(prefix="ikg-bench-synth-"))
    lines, separ, truth = [], [], []
    load_before = os.getloadavg()
    try:
        base = _run_child({"kind": "imports", "out": str(work / "none")})
        lines.append(("baseline: interpreter + generator imported", base))
        for name, users, content, topics, media in cases:
            out = work / name.replace(" ", "_").replace(",", "")
            logger.info("case %s", name)
            res = _run_child({"kind": "world", "out": str(out), "users": users, "content": content,
                              "topics": topics, "media": media})
            lines.append((name, res))
            if users == TRUTH_USERS:
                truth.append((name, _run_child({"kind": "truth", "out": str(out)})["truth"]))
            if media:
                floor = _run_child({"kind": "media_floor", "out": str(out) + "_floor", "items": content})
                lines.append((f"baseline: PNG+WAV encode of {content:,} blank items", floor))
            else:
                floor = _run_child({"kind": "writer_floor", "out": str(out) + "_floor",
                                    "rows": res["rows"]["interactions"], "users": users, "content": content})
                lines.append((f"baseline: writer only, same {res['rows']['interactions']:,} interaction rows", floor))
            shutil.rmtree(out, ignore_errors=True)
            shutil.rmtree(str(out) + "_floor", ignore_errors=True)
        if not args.only_million:
            for content, topics in SEPARABILITY:
                logger.info("separability: %d content, %d topics", content, topics)
                res = _run_child({"kind": "separability", "out": str(work / f"sep{topics}"), "content": content,
                                  "topics": topics})
                separ.append((content, topics, res["scores"]))
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    header = ("| case | users | interactions | rows (all tables) | seconds | rows/s | interactions/s | "
              "media items/s | process CPU s | peak RSS MB | output MB |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    table = "\n".join([header] + [_row(n, r) for n, r in lines])
    stages = "\n".join(f"- {n}: " + ", ".join(f"{k} {v:.2f} s" for k, v in r["stage_seconds"].items())
                       for n, r in lines if "stage_seconds" in r)
    load_after = os.getloadavg()
    sep_table = "\n".join(
        ["| content | topics | majority-class baseline | text | image | audio | fused (concat) | "
         "text up to siblings | image up to twin | audio up to twin | text, MiniLM embeddings |",
         "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        + [f"| {c:,} | {t} | {s['chance']:.3f} | {s['text']:.3f} | {s['image']:.3f} | {s['audio']:.3f} | "
           f"{s['fused']:.3f} | {s['text_group']:.3f} | {s['image_group']:.3f} | {s['audio_group']:.3f} | "
           f"{s['text_minilm']:.3f} |"
           for c, t, s in separ])
    sep_section = ("" if not separ else
                   "\n## Separability (nearest centroid, primary topic, 50 % held out)\n\n"
                   "Features: bag of words; saturation-weighted hue histogram; log band energies + envelope "
                   "modulation. \"up to\" columns count a prediction inside the modality's confusion group "
                   "as correct. The last column scores the platform's MiniLM text embeddings (384-d) alone, "
                   "to check that the word lists embed meaningfully.\n\n" + sep_table + "\n")
    truth_section = "".join(
        f"\n## Behaviour vs planted truth ({name}; `probe.truth_consistency`)\n\n"
        "| measure | value | expected from the parameters |\n|---|---:|---|\n"
        f"| interactions with an item having a planted topic of that window | {t['on_interest_share']:.3f} | "
        f">= 1 - noise_rate = 0.9 |\n"
        f"| users with >= 10 interactions having >= 70 % such interactions | {t['active_users_at_least_70pct']:.3f} | "
        f"close to 1 |\n"
        f"| drifters: share on their new topics, window before the switch | "
        f"{t['drifters_new_topic_share_before']:.3f} | only noise draws (~0) |\n"
        f"| drifters: share on their new topics, window of the switch | {t['drifters_new_topic_share_after']:.3f} | "
        f"~0.9 minus items also carrying an old topic |\n"
        f"| follows whose users share a window-0 topic | {t['follows_sharing_topic']:.3f} | >= homophily = 0.8 |\n"
        f"| same, followees shuffled (baseline) | {t['follows_sharing_topic_shuffled']:.3f} | chance |\n"
        for name, t in truth)
    report = (f"# `ikg synth` generation speed and memory\n\n"
              f"Command: `.venv/bin/python bench/synth.py{' --million' if args.million else ''}"
              f"{' --only-million' if args.only_million else ''}`; {platform.python_version()} on "
              f"{os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. "
              f"Load average (1/5/15 min) before {_load(load_before)}, after {_load(load_after)}: the machine is shared, "
              f"so wall seconds vary with others' load; process CPU s is steadier. "
              f"Each case runs in a fresh process; peak RSS is that process's `ru_maxrss`. Parquet (zstd); "
              f"defaults otherwise (3 windows, 8 interactions per user and window, 6 follows per user).\n\n"
              f"{table}\n\nStage seconds (world sampling / content+text+media / users+interactions+follows+truth):\n"
              f"{stages}\n{truth_section}{sep_section}")
    sys.stdout.write(report)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    if args.only_million and RESULTS.exists():
        RESULTS.write_text(RESULTS.read_text() + "\n## 1M users\n\n" + report.split("\n", 2)[2])
    else:
        RESULTS.write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
