"""Write a synthetic world to disk: ingest-format tables, media files and the truth/ folder.

Users, interactions, follows and ground truth stream chunk by chunk (``cfg.chunk_users``);
content, text and media are per item. Tables are byte-identical for the same config.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import soundfile as sf
from PIL import Image
from tqdm import tqdm

from graph.errors import ConfigError
from ingestion.synth import media, text, world
from ingestion.synth.writer import TableWriter

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
CONTENT_CHUNK = 2_000
S, F64, I64, I32 = pa.string(), pa.float64(), pa.int64(), pa.int32()
SCHEMAS = {
    "topics": pa.schema([("id", S), ("name", S), ("source", S), ("kind", S), ("parent", S)]),
    "content": pa.schema([("id", S), ("kind", S), ("title", S), ("text", S), ("image", S), ("audio", S),
                          ("created_at", S)]),
    "content_topics": pa.schema([("content", S), ("topic", S), ("weight", F64)]),
    "users": pa.schema([("id", S), ("name", S), ("created_at", S)]),
    "interactions": pa.schema([("user", S), ("content", S), ("kind", S), ("rating", F64), ("ts", I64)]),
    "follows": pa.schema([("src", S), ("dst", S), ("ts", I64)]),
    # truth/ (not ingested)
    "user_topics": pa.schema([("user", S), ("window", I32), ("topic", S), ("weight", F64)]),
    "drifters": pa.schema([("user", S), ("from_window", I32), ("to_window", I32)]),
    "content_views": pa.schema([("content", S), ("modality", S), ("topic", S)]),
}


@dataclass(frozen=True)
class GenerateOptions:
    """How to write a world (not part of the world itself)."""

    media: bool = True                # render image/audio files (False: columns left empty)
    media_dir: Path | None = None     # shared media cache; files reused when already rendered
    fmt: str = "parquet"
    progress: bool = True

    def __post_init__(self) -> None:
        if self.fmt not in ("parquet", "csv"):
            raise ValueError(f"fmt must be parquet or csv, got {self.fmt!r}")


def user_id(i: int) -> str:
    return f"u{i}"


def content_id(i: int) -> str:
    return f"c{i}"


def topic_id(i: int) -> str:
    return f"t{i}"


def parent_id(i: int) -> str:
    return f"p{i}"


def _ids(make_id, n: int) -> pa.Array:
    return pa.array([make_id(i) for i in range(n)], type=pa.string())


def _iso(epoch: np.ndarray) -> np.ndarray:
    return np.char.add(np.datetime_as_string(epoch.astype("datetime64[s]"), unit="s"), "Z")


def media_key(w: world.World) -> str:
    """Hash of everything a content item's media depends on: reuse is safe only under the same key."""
    h = hashlib.sha256()
    h.update(w.content.topics.tobytes())
    h.update(w.content.shown.tobytes())
    h.update(json.dumps([w.cfg.seed, w.cfg.n_topics, dataclasses.asdict(w.cfg.image),
                         dataclasses.asdict(w.cfg.audio)], sort_keys=True).encode())
    return h.hexdigest()[:16]


def _atomic_save(path: Path, save) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    save(tmp)
    os.replace(tmp, path)


def _render_media(w: world.World, i: int, root: Path) -> tuple[Path, Path, bool]:
    """Image and audio files of content i under ``root`` (rendered unless already there)."""
    cfg, c = w.cfg, w.content
    img, wav = root / "image" / f"{content_id(i)}.png", root / "audio" / f"{content_id(i)}.wav"
    if img.exists() and wav.exists():
        return img, wav, False
    img_topics = [int(t) for t in c.topics[i][c.shown[1, i]]]
    pixels = media.render_image(cfg.rng(world.STREAM_IMAGE, i), img_topics, cfg.n_topics, cfg.image)
    _atomic_save(img, lambda p: Image.fromarray(pixels).save(p, format="PNG"))
    aud_topics = [int(t) for t in c.topics[i][c.shown[2, i]]]
    wave = media.render_audio(cfg.rng(world.STREAM_AUDIO, i), aud_topics, cfg.n_topics, cfg.audio)
    _atomic_save(wav, lambda p: sf.write(p, wave, cfg.audio.sample_rate, subtype="PCM_16", format="WAV"))
    return img, wav, True


def _write_topics(w: world.World, vocab: text.Vocabulary, out: Path, fmt: str) -> None:
    cfg = w.cfg
    with TableWriter(out, "topics", SCHEMAS["topics"], fmt) as tw:
        tw.write({"id": [parent_id(p) for p in range(cfg.parents)], "name": list(vocab.parent_names),
                  "source": ["synthetic"] * cfg.parents, "kind": ["parent"] * cfg.parents,
                  "parent": [None] * cfg.parents})
        tw.write({"id": [topic_id(t) for t in range(cfg.n_topics)], "name": list(vocab.leaf_names),
                  "source": ["synthetic"] * cfg.n_topics, "kind": ["leaf"] * cfg.n_topics,
                  "parent": [parent_id(p) for p in w.topics.parent]})


def _write_content(w: world.World, vocab: text.Vocabulary, out: Path, opts: GenerateOptions,
                   stats: dict) -> None:
    cfg, c = w.cfg, w.content
    root = None
    if opts.media:
        root = (Path(opts.media_dir) / media_key(w)) if opts.media_dir else out / "media"
        for sub in ("image", "audio"):
            (root / sub).mkdir(parents=True, exist_ok=True)
    created = _iso(c.created_at)
    with TableWriter(out, "content", SCHEMAS["content"], opts.fmt) as cw, \
            TableWriter(out, "content_topics", SCHEMAS["content_topics"], opts.fmt) as tw, \
            TableWriter(out / "truth", "content_views", SCHEMAS["content_views"], opts.fmt) as vw:
        bar = tqdm(total=cfg.n_content, desc="content", unit="item", disable=not opts.progress)
        for lo in range(0, cfg.n_content, CONTENT_CHUNK):
            hi = min(cfg.n_content, lo + CONTENT_CHUNK)
            rows: dict[str, list] = {k: [] for k in SCHEMAS["content"].names}
            views: dict[str, list] = {k: [] for k in SCHEMAS["content_views"].names}
            for i in range(lo, hi):
                slots = c.topics[i] >= 0
                mentioned = [int(t) for t in c.topics[i][c.shown[0, i]]]
                parents = [int(w.topics.parent[t]) for t in mentioned]
                rng = cfg.rng(world.STREAM_TEXT, i)
                title = text.render_text(rng, mentioned, parents, vocab, cfg.text, cfg.text.title_words)
                body = text.render_text(rng, mentioned, parents, vocab, cfg.text, cfg.text.n_words)
                image = audio = None
                if root is not None:
                    img, wav, rendered = _render_media(w, i, root)
                    stats["media_rendered" if rendered else "media_reused"] += 1
                    image, audio = Path(os.path.relpath(img, out)).as_posix(), Path(os.path.relpath(wav, out)).as_posix()
                for key, value in (("id", content_id(i)), ("kind", "post"), ("title", title.capitalize()),
                                   ("text", body), ("image", image), ("audio", audio), ("created_at", str(created[i]))):
                    rows[key].append(value)
                for m, modality in enumerate(world.MODALITIES):
                    for t in c.topics[i][c.shown[m, i] & slots]:
                        views["content"].append(content_id(i))
                        views["modality"].append(modality)
                        views["topic"].append(topic_id(t))
                bar.update()
            cw.write(rows)
            sub_t, sub_w = c.topics[lo:hi], c.weights[lo:hi]
            keep = sub_t >= 0
            tw.write({"content": [content_id(i) for i in np.nonzero(keep)[0] + lo],
                      "topic": [topic_id(t) for t in sub_t[keep]],
                      "weight": sub_w[keep].astype(np.float64).round(3)})
            vw.write(views)
        bar.close()
        stats["rows"].update(content=cw.rows, content_topics=tw.rows, content_views=vw.rows)


def _write_users(w: world.World, out: Path, opts: GenerateOptions, stats: dict) -> None:
    cfg = w.cfg
    users_all = _ids(user_id, cfg.n_users)
    content_all = _ids(content_id, cfg.n_content)
    topic_all = _ids(topic_id, cfg.n_topics)
    kinds = pa.array([k for k, _ in cfg.kind_probs], type=pa.string())
    truth = out / "truth"
    with TableWriter(out, "users", SCHEMAS["users"], opts.fmt) as uw, \
            TableWriter(out, "interactions", SCHEMAS["interactions"], opts.fmt) as iw, \
            TableWriter(out, "follows", SCHEMAS["follows"], opts.fmt) as fw, \
            TableWriter(truth, "user_topics", SCHEMAS["user_topics"], opts.fmt) as tw, \
            TableWriter(truth, "drifters", SCHEMAS["drifters"], opts.fmt) as dw:
        bar = tqdm(total=cfg.n_users, desc="users", unit="user", disable=not opts.progress)
        for lo in range(0, cfg.n_users, cfg.chunk_users):
            hi = min(cfg.n_users, lo + cfg.chunk_users)
            ids = users_all.slice(lo, hi - lo)
            uw.write({"id": ids, "name": pa.array([f"synthetic user {i}" for i in range(lo, hi)]),
                      "created_at": _iso(w.users.created_at[lo:hi])})
            ch = world.interactions(w, lo, hi)
            iw.write({"user": users_all.take(ch.user), "content": content_all.take(ch.content),
                      "kind": kinds.take(ch.kind.astype(np.int64)),
                      "rating": pa.array(ch.rating.astype(np.float64), mask=np.isnan(ch.rating)), "ts": ch.ts})
            src, dst, ts = world.follows(w, lo, hi)
            fw.write({"src": users_all.take(src), "dst": users_all.take(dst), "ts": ts})
            user, window, topic, weight = world.truth_rows(w, lo, hi)
            tw.write({"user": users_all.take(user), "window": window.astype(np.int32),
                      "topic": topic_all.take(topic.astype(np.int64)),
                      "weight": weight.astype(np.float64).round(4)})
            switch = w.users.switch[lo:hi]
            moved = np.nonzero(switch >= 0)[0]
            dw.write({"user": ids.take(moved), "from_window": (switch[moved] - 1).astype(np.int32),
                      "to_window": switch[moved].astype(np.int32)})
            bar.update(hi - lo)
        bar.close()
        stats["rows"].update(users=uw.rows, interactions=iw.rows, follows=fw.rows, user_topics=tw.rows,
                             drifters=dw.rows)


def _world_json(w: world.World, vocab: text.Vocabulary, opts: GenerateOptions, stats: dict) -> dict:
    cfg = w.cfg
    windows = [{"window": k,
                "start": str(_iso(np.array([cfg.start_ts + k * cfg.window_seconds]))[0]),
                "end": str(_iso(np.array([cfg.start_ts + (k + 1) * cfg.window_seconds]))[0])}
               for k in range(cfg.n_windows)]
    return {
        "generator": "ikg synth", "format_version": FORMAT_VERSION, "synthetic": True, "seed": cfg.seed,
        "config": dataclasses.asdict(cfg), "table_format": opts.fmt, "windows": windows,
        "derived": {
            "n_parents": cfg.parents, "start_ts": cfg.start_ts, "window_seconds": cfg.window_seconds,
            "topic_names": dict(zip((topic_id(t) for t in range(cfg.n_topics)), vocab.leaf_names)),
            "image_groups": [media.image_group(t, cfg.n_topics) for t in range(cfg.n_topics)],
            "audio_groups": [media.audio_group(t, cfg.n_topics) for t in range(cfg.n_topics)],
            "text_groups": [int(p) for p in w.topics.parent],
            "topic_prevalence": [round(float(p), 6) for p in w.topics.prevalence],
        },
        "media": {"rendered": opts.media, "key": media_key(w) if opts.media else None,
                  "shared_dir": bool(opts.media_dir)},
        "tables": dict(sorted(stats["rows"].items())),
    }


def prepare_out(out: Path, replace: bool = False) -> None:
    """Make ``out`` ready: missing or empty, or (with ``replace``) a previous synthetic world, removed."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()):
        if not replace:
            raise ConfigError(f"--out {out} is not empty (use --force to replace a previous synthetic world)")
        if not (out / "truth" / "world.json").is_file():
            raise ConfigError(f"--out {out} is not empty and holds no truth/world.json: refusing to delete it")
        shutil.rmtree(out)


def generate(cfg: world.WorldConfig, out: Path, opts: GenerateOptions = GenerateOptions()) -> dict:
    """Write the world for ``cfg`` into ``out``; returns row counts, media counts and stage seconds."""
    out = Path(out)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    stats: dict = {"rows": {}, "media_rendered": 0, "media_reused": 0, "seconds": {}}
    t0 = time.perf_counter()
    w = world.build_world(cfg)
    vocab = text.build_vocabulary(cfg.n_topics, cfg.parents)
    stats["seconds"]["world"] = time.perf_counter() - t0
    logger.info("world sampled: %d users, %d content, %d topics under %d parents (%.1f s)",
                cfg.n_users, cfg.n_content, cfg.n_topics, cfg.parents, stats["seconds"]["world"])
    _write_topics(w, vocab, out, opts.fmt)
    stats["rows"]["topics"] = cfg.parents + cfg.n_topics
    t0 = time.perf_counter()
    _write_content(w, vocab, out, opts, stats)
    stats["seconds"]["content"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    _write_users(w, out, opts, stats)
    stats["seconds"]["users"] = time.perf_counter() - t0
    doc = _world_json(w, vocab, opts, stats)
    _atomic_save(out / "truth" / "world.json",
                 lambda p: p.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8"))
    logger.info("wrote %s: %s", out, stats["rows"])
    return stats
