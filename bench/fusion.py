"""Fusion study: which modalities and which fusion method recover planted interests on a synthetic world.

A world from ``ikg synth`` (ingestion/synth) is loaded through the real ingest pipeline (MiniLM text,
EfficientNet-Lite0 image, MFCC audio; embeddings cached in SQLite under the work dir) into a
throwaway Neo4j and exported to a snapshot (world and snapshot are reused when they exist).

Protocol: only a ``--labelled`` share of items (random, seeded) keeps its HAS_TOPIC edges; the rest
are withheld, so what an item is about must come from its modalities (and co-interaction). For every
modality set × fusion method (``gnn/fusion.py``) one GNN is trained (same config, only ``modalities``
and ``fusion`` change; ``interest_readout: items``) and measured on:

- interest precision@5: the INTERESTED_IN lists ``gnn.train.interests_and_recommendations`` returns for
  write-back (gnn/interests.py: the fusion topic head's item topics refined by co-interaction, users'
  interests by EM over their decayed interactions), over leaf topics, against the planted mixture of
  the last window: |top-n ∩ planted| / n with n = min(5, number of planted topics) (1–3 per user, so a
  literal @5 could not exceed 0.6); interest recall@5 = |top-5 ∩ planted| / |planted|; beside it the
  same read-out from the modalities alone (no co-interaction refinement) and the GNN's User·Topic
  dot product (``interest_readout: embedding``);
- item topic accuracy of the withheld items (refined, and modalities alone);
- Recall@20 / NDCG@20 of the GNN's recommendations on the held-out temporal test split (gnn.metrics);
- drift precision@N: gnn.drift's ranking between the first and last window, on the snapshot whose
  withheld items get their top-1 refined topic (labelled items keep theirs), against the planted
  drifters (N = number of drifters active in both windows);
- wall time (training, evaluation, prediction and the read-outs).

Baselines in the same run: popularity (recommendations), a model with no modality (ids, node
statistics and the graph; its read-out has co-interaction only), references that see every true
HAS_TOPIC edge (the items read-out; gnn.drift's decayed interest over all windows; its drift
ranking), the bound of the modalities-only read-out (withheld items tagged with exactly the true topics
that some modality rendered: no tagger that reads only the content can know more), and a ceiling: the
share of planted topics the users' interactions since their switch touch at all.

``--ideal-encoders`` replaces the MiniLM/EfficientNet/MFCC embeddings by what each modality rendered
(``rendered_views``): the same study with perfect encoders, separating encoder loss from the world's
designed ambiguity.

    .venv/bin/python bench/fusion.py [--users 20000 --content 5000 --topics 30] [--labelled 0.1]
        [--interactions-per-window 8] [--media-noise default|low] [--p-show P] [--readout-only]
        [--ideal-encoders]
        [--methods early,decision,attention,shared] [--sets text,image,...] [--workdir DIR] [--out FILE]

``--readout-only`` skips the GNNs: the interest, item-topic and drift columns come from
``gnn.interests.readout``, which does not depend on the GNN, so the whole ablation takes minutes.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import platform
import sys
import tempfile
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("DGLBACKEND", "pytorch")
RESULTS = ROOT / "bench" / "results" / "fusion.md"
logger = logging.getLogger("bench.fusion")

import numpy as np  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402

from graph.model import CONTENT, TOPIC, USER  # noqa: E402
from graph.settings import var_dir  # noqa: E402
from graph.snapshot import Snapshot  # noqa: E402
from gnn.baselines import popularity_scores  # noqa: E402
from gnn.config import TrainConfig  # noqa: E402
from gnn.data import CT, TrainData, build_data  # noqa: E402
from gnn.drift import Window, drift_report, interest_matrix  # noqa: E402
from gnn.metrics import evaluate_ranking  # noqa: E402
from gnn.predict import top_k  # noqa: E402
from gnn import interests  # noqa: E402
from gnn.train import Trainer, interests_and_recommendations  # noqa: E402
from ingestion.synth.generate import topic_id  # noqa: E402
from ingestion.synth.media import AudioConfig, ImageConfig, audio_group, image_group, n_groups  # noqa: E402
from ingestion.synth.world import WorldConfig  # noqa: E402

MODALITY_SETS = {"text": ("emb_text",), "image": ("emb_image",), "audio": ("emb_audio",),
                 "text+image": ("emb_text", "emb_image"), "image+audio": ("emb_image", "emb_audio"),
                 "text+image+audio": ("emb_text", "emb_image", "emb_audio")}
METHODS = ("early", "decision", "attention", "shared")
GOAL_PRECISION = 0.9
CLEAR_MARGIN = 0.05  # "clearly above" = at least 0.05 precision@5 over every single modality
K_INTEREST = 5
# Model config of every row (only fusion and modalities vary): full-graph SAGE, early stopping on
# validation NDCG@20; the batch size is set per world so an epoch is STEPS_PER_EPOCH full-graph steps.
BASE = dict(model="sage", emb_dim=64, num_layers=2, lr=0.01, epochs=60, patience=10, topic_loss_weight=0.5,
            num_threads=1, device="cpu", interest_readout="items", eval_users=5000)
STEPS_PER_EPOCH = 10
DEFAULT_PER_WINDOW = WorldConfig.interactions_per_window  # ikg synth's default
# Media noise of the world (--media-noise). "low": images and audio keep their designed ambiguity (topics
# 2k/2k+1 share an image prototype, 2k+1/2k+2 an audio one) with less noise on top; text is unchanged.
MEDIA_NOISE = {
    "default": {},
    "low": {"image": ImageConfig(p_show=0.9, hue_jitter=0.02, pixel_noise=0.05, p_distractor=0.15),
            "audio": AudioConfig(p_show=0.9, pitch_jitter=0.02, noise=0.1, p_distractor=0.15)},
}


# ---------------------------------------------------------------- world and snapshot
def build_world(out: Path, users: int, content: int, topics: int, seed: int, media_dir: Path,
                per_window: float = DEFAULT_PER_WINDOW, media_noise: str = "default",
                p_show: float | None = None) -> Path:
    """Generate the world once (reused when ``truth/world.json`` exists); ``p_show`` (if set) is the
    probability that each modality shows each of an item's topics (text's p_mention, image and audio p_show)."""
    from ingestion.synth.generate import GenerateOptions, generate

    if (out / "truth" / "world.json").exists():
        return out
    t0 = time.perf_counter()
    cfg = WorldConfig(n_users=users, n_content=content, n_topics=topics, seed=seed,
                      interactions_per_window=per_window, **MEDIA_NOISE[media_noise])
    if p_show is not None:
        cfg = dataclasses.replace(cfg, text=dataclasses.replace(cfg.text, p_mention=p_show),
                                  image=dataclasses.replace(cfg.image, p_show=p_show),
                                  audio=dataclasses.replace(cfg.audio, p_show=p_show))
    generate(cfg, out, GenerateOptions(media_dir=media_dir, progress=True))
    logger.info("generated %s in %.1f s", out, time.perf_counter() - t0)
    return out


def ingest_and_export(g, world: Path, out: Path, cache_dir: Path) -> Path:
    """Load the world through the ingest pipeline (three encoders, SQLite embedding cache) and export it."""
    from graph.export import ExportConfig, export_to
    from ingestion.pipeline import IngestConfig, ingest_paths

    summary = ingest_paths(g, [world], IngestConfig(cache_dir=cache_dir, progress=False))
    if summary.rejected:
        raise RuntimeError(f"{summary.rejected} rows rejected while ingesting {world}")
    export_to(g, ExportConfig(), out)
    return out


def build_snapshot(world: Path, out: Path, cache_dir: Path) -> tuple[Path, float]:
    """``ingest_and_export`` into a throwaway Neo4j (reused if the snapshot exists); (path, seconds)."""
    if (out / "manifest.json").exists():
        return out, 0.0
    from graph import schema, server
    from graph.db import Graph
    from graph.settings import Neo4jSettings

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-fusion-") as home, \
            server.throwaway(Path(home), heap="1g", pagecache="512m", plugins=False) as cfg, \
            Graph.connect(Neo4jSettings.for_server(cfg)) as g:
        schema.apply(g)
        ingest_and_export(g, world, out, cache_dir)
    return out, time.perf_counter() - t0


def withhold_topics(snap: Snapshot, labelled: float, seed: int) -> tuple[Snapshot, np.ndarray]:
    """The snapshot with HAS_TOPIC kept only for a random ``labelled`` share of items, and that item mask."""
    n = snap.num_nodes(CONTENT)
    keep_item = np.zeros(n, dtype=bool)
    keep_item[np.random.default_rng(seed).permutation(n)[:int(round(labelled * n))]] = True
    ct = snap.edges[CT]
    keep = keep_item[ct["src"]]
    edges = dict(snap.edges)
    edges[CT] = {k: v[keep] for k, v in ct.items()}
    return dataclasses.replace(snap, edges=edges), keep_item


def rendered_views(world: Path, snap: Snapshot) -> dict[str, np.ndarray]:
    """What the generator rendered in each modality (truth/content_views) as [items, n] multi-hots in
    ``snap``'s item order: ``emb_text`` over the mentioned leaf topics, ``emb_image`` / ``emb_audio`` over
    the prototypes of the shown topics (topic pairs share one, so these views stay ambiguous)."""
    n_topics = json.loads((world / "truth" / "world.json").read_text())["config"]["n_topics"]
    leaf = {topic_id(t): t for t in range(n_topics)}
    item = {str(c): i for i, c in enumerate(snap.node_ids[CONTENT])}
    n, groups = snap.num_nodes(CONTENT), n_groups(n_topics)
    views = {"emb_text": np.zeros((n, n_topics), np.float32), "emb_image": np.zeros((n, groups), np.float32),
             "emb_audio": np.zeros((n, groups), np.float32)}
    col = {"emb_text": lambda t: t, "emb_image": lambda t: image_group(t, n_topics),
           "emb_audio": lambda t: audio_group(t, n_topics)}
    rows = pq.read_table(world / "truth" / "content_views.parquet").to_pydict()
    for c, modality, t in zip(rows["content"], rows["modality"], rows["topic"]):
        prop = f"emb_{modality}"
        views[prop][item[c], col[prop](leaf[t])] = 1.0
    return views


def ideal_encoders(world: Path, snap: Snapshot) -> Snapshot:
    """``snap`` with each content modality's embedding replaced by exactly what that modality shows
    (``rendered_views``): perfect encoders, so what is left is the world's own ambiguity and the head."""
    views = rendered_views(world, snap)
    ones = np.ones(snap.num_nodes(CONTENT), dtype=bool)
    features = {**snap.features, CONTENT: {**snap.features[CONTENT], **views}}
    masks = {**snap.feature_masks, CONTENT: {**snap.feature_masks[CONTENT], **{p: ones for p in views}}}
    return dataclasses.replace(snap, features=features, feature_masks=masks)


def shown_topics(world: Path, full: Snapshot, labelled: np.ndarray) -> Snapshot:
    """``full`` whose withheld items keep only the true topics that some modality rendered (none when
    nothing was): the most that any tagger reading only the content could know."""
    item = {str(c): i for i, c in enumerate(full.node_ids[CONTENT])}
    topic = {str(t): i for i, t in enumerate(full.node_ids[TOPIC])}
    rows = pq.read_table(world / "truth" / "content_views.parquet", columns=["content", "topic"]).to_pydict()
    rendered = np.zeros((full.num_nodes(CONTENT), full.num_nodes(TOPIC)), dtype=bool)
    rendered[[item[c] for c in rows["content"]], [topic[t] for t in rows["topic"]]] = True
    ct = full.edges[CT]
    keep = labelled[ct["src"]] | rendered[ct["src"], ct["dst"]]
    return dataclasses.replace(full, edges={**full.edges, CT: {k: v[keep] for k, v in ct.items()}})


# ---------------------------------------------------------------- truth and scoring
@dataclasses.dataclass
class Truth:
    last: dict[int, set[int]]      # snapshot user index -> planted topic indices of the last window
    drifters: set[int]             # snapshot user indices of planted drifters
    item_topics: list[set[int]]    # every item's true topic indices (HAS_TOPIC before withholding)
    first: Window
    final: Window


def load_truth(world: Path, snap: Snapshot) -> Truth:
    info = json.loads((world / "truth" / "world.json").read_text())
    windows = info["windows"]
    last_w = len(windows) - 1
    uidx = {str(u): i for i, u in enumerate(snap.node_ids[USER])}
    tidx = {str(t): i for i, t in enumerate(snap.node_ids[TOPIC])}
    ut = pq.read_table(world / "truth" / "user_topics.parquet").to_pydict()
    last: dict[int, set[int]] = {}
    for u, w, t in zip(ut["user"], ut["window"], ut["topic"]):
        if w == last_w and u in uidx:
            last.setdefault(uidx[u], set()).add(tidx[t])
    dr = pq.read_table(world / "truth" / "drifters.parquet").to_pydict()
    win = lambda w: Window.parse(f"{w['start']}..{w['end']}")  # noqa: E731
    items: list[set[int]] = [set() for _ in range(snap.num_nodes(CONTENT))]
    for c, t in zip(snap.edges[CT]["src"], snap.edges[CT]["dst"]):
        items[int(c)].add(int(t))
    return Truth(last, {uidx[u] for u in dr["user"] if u in uidx}, items, win(windows[0]), win(windows[-1]))


def leaf_topics(snap: Snapshot, world: Path) -> np.ndarray:
    """Snapshot indices of the leaf topics (the level the truth is planted at)."""
    topics = pq.read_table(world / "topics.parquet").to_pydict()
    leaves = {i for i, k in zip(topics["id"], topics["kind"]) if k == "leaf"}
    return np.array([i for i, t in enumerate(snap.node_ids[TOPIC]) if str(t) in leaves], dtype=np.int64)


def interest_scores(score_leaves, truth: Truth, leaves: np.ndarray) -> dict[str, float]:
    """Interest precision@5 (truncated to the planted count) and recall@5 against the last window;
    ``score_leaves(user ids) -> [B, leaf topics]``."""
    users = np.array(sorted(truth.last), dtype=np.int64)
    items, _ = top_k(score_leaves, users, len(leaves), K_INTEREST)
    prec, rec = [], []
    for idx, u in zip(items, users):
        row = leaves[idx[idx >= 0]]  # -1: fewer than 5 topics scored
        planted = truth.last[int(u)]
        n = min(K_INTEREST, len(planted))
        prec.append(len(set(row[:n].tolist()) & planted) / n)
        rec.append(len(set(row.tolist()) & planted) / len(planted))
    return {"interest_p@5": float(np.mean(prec)), "interest_r@5": float(np.mean(rec))}


def model_interest(emb: dict[str, torch.Tensor], truth: Truth, leaves: np.ndarray) -> dict[str, float]:
    """Interest scores of the write-back's User·Topic dot product, over leaf topics."""
    leaf_emb = emb[TOPIC][torch.as_tensor(leaves)]
    return interest_scores(lambda u: emb[USER][u] @ leaf_emb.T, truth, leaves)


def decayed_interest(snap: Snapshot, truth: Truth, leaves: np.ndarray, half_life_s: float) -> dict[str, float]:
    """Interest scores of gnn.drift's decayed interest over all windows, with ``snap``'s HAS_TOPIC edges."""
    m = interest_matrix(snap, Window(truth.first.start, truth.final.end, "all"), half_life_s)
    scores = torch.as_tensor(np.asarray(m[:, leaves].todense(), dtype=np.float32))
    return interest_scores(lambda u: scores[u], truth, leaves)


def predicted_topics(snap: Snapshot, q: sp.csr_matrix, labelled: np.ndarray, leaves: np.ndarray,
                     truth: Truth) -> tuple[Snapshot, float]:
    """``snap`` whose withheld items get their top-1 leaf topic by the read-out's item topics ``q``, and the
    share of withheld items whose predicted topic is one of theirs."""
    ct = snap.edges[CT]
    items = np.flatnonzero(~labelled)
    best = leaves[q[items][:, leaves].toarray().argmax(1)]
    edges = dict(snap.edges)
    edges[CT] = {"src": np.r_[ct["src"], items], "dst": np.r_[ct["dst"], best],
                 "weight": np.r_[ct["weight"], np.ones(len(items), ct["weight"].dtype)]}
    acc = float(np.mean([int(t) in truth.item_topics[int(i)] for i, t in zip(items, best)])) if len(items) else 1.0
    return dataclasses.replace(snap, edges=edges), acc


def written_interest(t_items: np.ndarray, truth: Truth, leaves: np.ndarray) -> dict[str, float]:
    """Interest scores of the INTERESTED_IN lists the write-back writes (``interests_and_recommendations``),
    restricted to leaf topics in their written order."""
    is_leaf = np.zeros(max(int(t_items.max(initial=0)), int(leaves.max())) + 1, dtype=bool)
    is_leaf[leaves] = True
    rank = {int(t): i for i, t in enumerate(leaves)}

    def score_leaves(u: torch.Tensor) -> torch.Tensor:
        out = torch.full((len(u), len(leaves)), float("-inf"))
        for row, user in enumerate(u.tolist()):
            written = [int(t) for t in t_items[user] if t >= 0 and is_leaf[t]]
            for pos, t in enumerate(written):
                out[row, rank[t]] = float(len(written) - pos)
        return out
    return interest_scores(score_leaves, truth, leaves)


def attested_share(world: Path, truth: Truth, snap: Snapshot) -> float:
    """Mean over users of (planted last-window topics that some interaction since the user's switch — every
    window for non-drifters — touched through an item carrying that topic) / n, n = min(5, planted): how much
    of the truth the behaviour shows at all (a ceiling for read-outs that only see interactions)."""
    info = json.loads((world / "truth" / "world.json").read_text())
    start, length = info["derived"]["start_ts"], info["derived"]["window_seconds"]
    uidx = {str(u): i for i, u in enumerate(snap.node_ids[USER])}
    cidx = {str(c): i for i, c in enumerate(snap.node_ids[CONTENT])}
    since = np.zeros(len(uidx), dtype=np.int64)
    dr = pq.read_table(world / "truth" / "drifters.parquet").to_pydict()
    for u, w in zip(dr["user"], dr["to_window"]):
        since[uidx[u]] = w
    it = pq.read_table(world / "interactions.parquet", columns=["user", "content", "ts"]).to_pydict()
    seen: dict[int, set[int]] = {}
    for u, c, ts in zip(it["user"], it["content"], it["ts"]):
        ui = uidx[u]
        if (ts - start) // length >= since[ui]:
            seen.setdefault(ui, set()).update(truth.item_topics[cidx[c]])
    return float(np.mean([len(planted & seen.get(u, set())) / min(K_INTEREST, len(planted))
                          for u, planted in truth.last.items()]))


def drift_precision(snap: Snapshot, truth: Truth, half_life_s: float) -> float:
    """Precision@N of gnn.drift's most-moved users against the planted drifters (N = drifters ranked)."""
    ranked = drift_report(snap, truth.first, truth.final, half_life_s, top_n=snap.num_nodes(USER))
    uidx = {str(u): i for i, u in enumerate(snap.node_ids[USER])}
    active = [uidx[r["user"]] for r in ranked]
    n = len(truth.drifters & set(active))
    return len(set(active[:n]) & truth.drifters) / max(n, 1)


# ---------------------------------------------------------------- runs
def readout_row(data: TrainData, cfg: TrainConfig, snap: Snapshot, labelled: np.ndarray, truth: Truth,
                leaves: np.ndarray) -> dict:
    """Interest, item-topic and drift columns of the ``interest_readout: items`` read-out for ``cfg``."""
    t0 = time.perf_counter()
    theta, q = interests.readout(data, cfg)
    theta_t = torch.as_tensor(theta[:, leaves].toarray())
    row = interest_scores(lambda u: theta_t[u], truth, leaves)  # train_row replaces these with the written lists
    plain, q_plain = interests.readout(data, cfg.with_overrides(interest_refine_items=False))
    plain_t = torch.as_tensor(plain[:, leaves].toarray())
    row["interest_p@5_modal"] = interest_scores(lambda u: plain_t[u], truth, leaves)["interest_p@5"]
    row["item_acc_modal"] = predicted_topics(snap, q_plain, labelled, leaves, truth)[1]
    pred, row["item_acc"] = predicted_topics(snap, q, labelled, leaves, truth)
    row["drift_p@N"] = drift_precision(pred, truth, cfg.half_life_s)
    row["readout_s"] = time.perf_counter() - t0
    return row


def train_row(data: TrainData, cfg: TrainConfig, snap: Snapshot, labelled: np.ndarray, truth: Truth,
              leaves: np.ndarray) -> dict:
    """One cell: the GNN (recommendations, its User·Topic interests, and the INTERESTED_IN lists written with
    ``interest_readout: items``) and the read-out's item-topic and drift columns."""
    t0 = time.perf_counter()
    trainer = Trainer(data, cfg)
    fit = trainer.fit(progress=False)
    test = trainer.evaluate("test")
    emb = {k: v.cpu() for k, v in trainer.embeddings(data.with_all_interactions()).items()}
    (_, t_items, _), _ = interests_and_recommendations(trainer, emb)
    row = {"epochs": len(fit.history), "recall@20": test["recall@20"], "ndcg@20": test["ndcg@20"],
           "interest_p@5_emb": model_interest(emb, truth, leaves)["interest_p@5"],
           **readout_row(data, cfg, snap, labelled, truth, leaves),
           **written_interest(t_items, truth, leaves)}
    weights = {}
    inputs = trainer.model.inputs
    if CONTENT in inputs.logits:
        weights = dict(zip(inputs.modalities[CONTENT], inputs.weights(CONTENT).detach().cpu().tolist()))
    row["weights"] = weights
    row["seconds"] = time.perf_counter() - t0
    return row


_CONTEXT: dict = {}  # the study's loaded snapshot, truth and data, shared with forked workers


def _cell(cfg: TrainConfig) -> dict:
    """One table row for ``cfg`` on the study's snapshot (``_CONTEXT``): a trained GNN, or with
    ``readout_only`` the interest read-out alone (it does not depend on the GNN)."""
    c = _CONTEXT
    data = c["data"] if cfg.exclude_features == c["base"].exclude_features else build_data(c["snap"], cfg)
    if not c["readout_only"]:
        return train_row(data, cfg, c["snap"], c["labelled"], c["truth"], c["leaves"])
    t0 = time.perf_counter()
    row = {"epochs": None, "recall@20": None, "ndcg@20": None, "interest_p@5_emb": None, "weights": {},
           **readout_row(data, cfg, c["snap"], c["labelled"], c["truth"], c["leaves"])}
    row["seconds"] = time.perf_counter() - t0
    return row


def popularity_row(data: TrainData) -> dict:
    pop = popularity_scores(data)
    d = data
    exclude = (np.concatenate([d.train.user, d.val.user]), np.concatenate([d.train.content, d.val.content]))
    m = evaluate_ranking(lambda users: pop.expand(len(users), -1), (d.test.user, d.test.content), exclude,
                         d.num_nodes[CONTENT], k=20)
    return {"recall@20": m["recall@20"], "ndcg@20": m["ndcg@20"]}


def media_note(wcfg: dict) -> str:
    """The world's modality settings (text's p_mention, image and audio noise), from its truth/world.json."""
    media = [f"{kind}: " + ", ".join(f"{k} {v:g}" for k, v in wcfg[kind].items()
                                     if k in ("p_show", "pixel_noise", "noise", "p_distractor"))
             for kind in ("image", "audio")]
    return "; ".join([f"text: p_mention {wcfg['text']['p_mention']:g}", *media])


def fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f}"


def verdicts(rows: dict[tuple[str, str], dict], methods: list[str], key: str) -> list[str]:
    """Computed verdict lines for the issue's goal on column ``key``, per fusion method."""
    lines = []
    singles = [s for s in ("text", "image", "audio")]
    for m in methods:
        full = rows.get(("text+image+audio", m))
        single = [rows[(s, m)][key] for s in singles if (s, m) in rows]
        if full is None or len(single) < 3:
            continue
        p, best = full[key], max(single)
        ok = p >= GOAL_PRECISION and p >= best + CLEAR_MARGIN
        lines.append(f"- **{m}**: three-modality interest precision@5 = {p:.3f} (goal ≥ {GOAL_PRECISION}: "
                     f"{'met' if p >= GOAL_PRECISION else 'NOT met'}); best single modality {best:.3f} "
                     f"(clearly above = +{CLEAR_MARGIN}: {'yes' if p >= best + CLEAR_MARGIN else 'NO'}) "
                     f"→ goal {'MET' if ok else 'NOT MET'}.")
    return lines


def run(args: argparse.Namespace) -> str | None:
    """Build (or reuse) the world and snapshot, then run the study unless ``--prepare-only``."""
    started = time.perf_counter()
    work = Path(args.workdir)
    name = f"u{args.users}-c{args.content}-t{args.topics}-s{args.seed}"
    if args.interactions_per_window != DEFAULT_PER_WINDOW:  # same items and media, denser behaviour
        name += f"-i{args.interactions_per_window:g}"
    if args.media_noise != "default":
        name += f"-m{args.media_noise}"
    if args.p_show is not None:
        name += f"-p{args.p_show:g}"
    world = build_world(work / "worlds" / name, args.users, args.content, args.topics, args.seed, work / "media",
                        args.interactions_per_window, args.media_noise, args.p_show)
    snap_dir, ingest_s = build_snapshot(world, work / "snapshots" / name, work / "cache")
    logger.info("world and snapshot ready in %.0f s (ingest + export %.0f s)", time.perf_counter() - started, ingest_s)
    return None if args.prepare_only else study(world, snap_dir, args, ingest_s)


def study(world: Path, snap_dir: Path, args: argparse.Namespace, ingest_s: float = 0.0) -> str:
    """Train and score every cell on the snapshot of ``world``; writes and returns the markdown."""
    started = time.perf_counter()
    load0 = os.getloadavg()
    wcfg = json.loads((world / "truth" / "world.json").read_text())["config"]
    users, content, topics, seed = wcfg["n_users"], wcfg["n_content"], wcfg["n_topics"], wcfg["seed"]
    full = Snapshot.load(snap_dir)
    if args.ideal_encoders:
        full = ideal_encoders(world, full)
    snap, labelled = withhold_topics(full, args.labelled, args.seed)
    truth = load_truth(world, full)
    leaves = leaf_topics(snap, world)
    base = TrainConfig(**{**BASE, "epochs": args.epochs, "seed": args.seed})
    data = build_data(snap, base)
    base = base.with_overrides(batch_size=max(256, -(-len(data.train) // STEPS_PER_EPOCH)))
    logger.info("snapshot %s: %s; %d of %d items labelled", snap_dir, data.num_nodes, labelled.sum(), len(labelled))

    every = tuple(p for feats in snap.features.values() for p in feats)
    cells = {(set_name, method): base.with_overrides(fusion=method, modalities=MODALITY_SETS[set_name])
             for set_name in args.sets for method in args.methods}
    cells[("none", "—")] = base.with_overrides(exclude_features=base.exclude_features + every)
    _CONTEXT.update(snap=snap, labelled=labelled, truth=truth, leaves=leaves, data=data, base=base,
                    readout_only=args.readout_only)
    rows: dict[tuple[str, str], dict] = {}
    if args.workers > 1:  # fork before any torch work, so each worker inherits the loaded snapshot
        ctx = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(args.workers, mp_context=ctx) as pool:
            futures = {pool.submit(_cell, cfg): key for key, cfg in cells.items()}
            for fut in tqdm(as_completed(futures), total=len(futures), desc="cells"):
                rows[futures[fut]] = fut.result()
                logger.info("%s: %s", futures[fut], rows[futures[fut]])
    else:
        for key, cfg in tqdm(cells.items(), desc="cells"):
            rows[key] = _cell(cfg)
            logger.info("%s: %s", key, rows[key])
    rows = {key: rows[key] for key in cells}
    bare = rows.pop(("none", "—"))
    pop = popularity_row(data)
    full_data = build_data(full, base)
    full_theta = torch.as_tensor(interests.readout(full_data, base)[0][:, leaves].toarray())
    bare_cfg = base.with_overrides(exclude_features=base.exclude_features + every, interest_refine_items=False)
    shown = interests.readout(build_data(shown_topics(world, full, labelled), bare_cfg), bare_cfg)[0]
    shown_theta = torch.as_tensor(shown[:, leaves].toarray())
    oracle = {"items": interest_scores(lambda u: full_theta[u], truth, leaves),
              "shown": interest_scores(lambda u: shown_theta[u], truth, leaves),
              "decayed": decayed_interest(full, truth, leaves, base.half_life_s),
              "drift_p@N": drift_precision(full, truth, base.half_life_s),
              "attested": attested_share(world, truth, full)}
    load1 = os.getloadavg()

    cmd = "python bench/fusion.py " + " ".join(args.argv)
    out = [f"# Fusion study on a synthetic world ({users:,} users, {content:,} items, {topics} topics)",
           "", f"Command: `{cmd.strip()}`  ", f"Machine: {platform.processor() or platform.machine()}, "
           f"{os.cpu_count()} CPUs, torch {torch.__version__}; load average (1/5/15 min) at start "
           f"{load0[0]:.1f}/{load0[1]:.1f}/{load0[2]:.1f}, at end {load1[0]:.1f}/{load1[1]:.1f}/{load1[2]:.1f} "
           f"(shared box: wall times are upper bounds).  ",
           f"Study {time.perf_counter() - started:.0f} s; ingest + export "
           f"{'reused from an earlier run' if ingest_s == 0 else f'{ingest_s:.0f} s'}.", "",
           "## Protocol", "",
           f"- World: `ikg synth --users {users} --content {content} --topics {topics} "
           f"--seed {seed} --interactions-per-window {wcfg['interactions_per_window']:g}` (3 windows, 20 % "
           f"drifters), media noise `{args.media_noise}` ({media_note(wcfg)}), ingested with MiniLM text, "
           f"EfficientNet-Lite0 image and MFCC audio embeddings, exported with `graph.export`.",
           *(["- **Ideal encoders** (`--ideal-encoders`): each item's text, image and audio embeddings are "
              "replaced by exactly what the generator rendered in that modality (truth/content_views): a "
              "multi-hot over the mentioned topics (text) or over the shown topics' prototypes (image, audio; "
              "topic pairs share one). What is left is the world's own ambiguity, the labels and the head."]
             if args.ideal_encoders else []),
           f"- HAS_TOPIC kept for {labelled.sum():,} of {len(labelled):,} items ({args.labelled:.0%}, random); the "
           f"others are withheld, so what an item is about comes from its modalities and co-interactions.",
           ("- **No GNN trained** (`--readout-only`): the interest columns do not depend on it. interest p@5 "
            "is computed on the read-out's scores θ over leaf topics, the scores the INTERESTED_IN lists are cut "
            "from; the GNN's columns (User·Topic, Recall/NDCG@20, epochs) are left empty. Only `fusion` and "
            "`modalities` change between cells (they select the item topic head's input fusion, gnn/fusion.py)."
            if args.readout_only else
            f"- One GNN per cell: {json.dumps({**BASE, 'epochs': args.epochs, 'batch_size': base.batch_size})}, "
            f"temporal split; only `fusion` and `modalities` change (they select the GNN's node-input fusion and "
            f"the item topic head's, gnn/fusion.py)."),
           "- **interest p@5** (the goal's number): the INTERESTED_IN lists `interests_and_recommendations` "
           "returns for write-back with `interest_readout: items` (gnn/interests.py: item topics = HAS_TOPIC where "
           "kept, else the fusion topic head's prediction refined by co-interaction; users' interests by EM "
           "deconvolution of their decayed interactions), top-n leaf topics, n = min(5, planted topics), vs the "
           "last window's planted mixture; r@5: share of planted topics in the top 5. **p@5 modalities only**: "
           "the same read-out without the co-interaction refinement (withheld items' topics from the modalities "
           "alone). **p@5 User·Topic**: the GNN's embedding dot product (`interest_readout: embedding`).",
           "- Item topic acc: share of withheld items whose top-1 topic is one of their true topics (refined / "
           "modalities only). Recall/NDCG@20: the GNN's full ranking on the temporal test split. Drift p@N: "
           "`gnn.drift` between the first and last window with withheld items given their top-1 refined topic; "
           "N = planted drifters active in both windows.", "",
           "## Results", "",
           "| modalities | fusion | interest p@5 | interest r@5 | p@5 modalities only | p@5 User·Topic | "
           "item topic acc | item acc modalities only | Recall@20 | NDCG@20 | drift p@N | epochs | s |",
           "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]

    def line(label: str, method: str, r: dict) -> str:
        return (f"| {label} | {method} | {fmt(r['interest_p@5'])} | {fmt(r['interest_r@5'])} | "
                f"{fmt(r['interest_p@5_modal'])} | {fmt(r['interest_p@5_emb'])} | {fmt(r['item_acc'])} | "
                f"{fmt(r['item_acc_modal'])} | {fmt(r['recall@20'])} | {fmt(r['ndcg@20'])} | {fmt(r['drift_p@N'])} | "
                f"{r['epochs'] if r['epochs'] is not None else '—'} | {r['seconds']:.0f} |")
    out += [line(set_name, method, r) for (set_name, method), r in rows.items()]
    out.append(line("none (ids + graph)", "—", bare))
    out.append(f"| popularity | — | — | — | — | — | — | — | {fmt(pop['recall@20'])} | {fmt(pop['ndcg@20'])} | — | — "
               f"| — |")
    out.append(f"| every true HAS_TOPIC, items read-out (reference) | — | {fmt(oracle['items']['interest_p@5'])} | "
               f"{fmt(oracle['items']['interest_r@5'])} | — | — | 1 | 1 | — | — | {fmt(oracle['drift_p@N'])} | — | — |")
    out.append(f"| true topics that some modality rendered, items read-out (bound for modalities only) | — | — | — | "
               f"{fmt(oracle['shown']['interest_p@5'])} | — | — | — | — | — | — | — | — |")
    out.append(f"| every true HAS_TOPIC, decayed interest (format.md) | — | {fmt(oracle['decayed']['interest_p@5'])} | "
               f"{fmt(oracle['decayed']['interest_r@5'])} | — | — | 1 | 1 | — | — | — | — | — |")
    out.append(f"| ceiling: planted topics shown by the user's interactions since their switch | — | "
               f"{fmt(oracle['attested'])} | — | — | — | — | — | — | — | — | — | — |")
    out += ["", "## Verdicts (computed)", "", *verdicts(rows, args.methods, "interest_p@5"), "",
            "Cold content, modalities only (the read-out with `interest_refine_items: false`, what INTERESTED_IN "
            "holds for items too new to have co-interactions: withheld items are tagged from their modalities "
            "alone):", "",
            *verdicts(rows, args.methods, "interest_p@5_modal")]
    text = "\n".join(out) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    return text


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--users", type=int, default=20_000)
    p.add_argument("--content", type=int, default=5_000)
    p.add_argument("--topics", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--interactions-per-window", type=float, default=DEFAULT_PER_WINDOW,
                   help=f"mean interactions per user and window of the world (default {DEFAULT_PER_WINDOW:g}, ikg synth's)")
    p.add_argument("--media-noise", choices=sorted(MEDIA_NOISE), default="default",
                   help="image/audio noise of the world (low: less noise on top of the designed ambiguity)")
    p.add_argument("--p-show", type=float, default=None,
                   help="probability that each modality shows each of an item's topics (text, image and audio; "
                        "default: the world's, 0.7, or --media-noise low's 0.9 for image and audio)")
    p.add_argument("--labelled", type=float, default=0.1, help="share of items that keep HAS_TOPIC")
    p.add_argument("--epochs", type=int, default=BASE["epochs"])
    p.add_argument("--methods", type=lambda s: s.split(","), default=list(METHODS))
    p.add_argument("--sets", type=lambda s: s.split(","), default=list(MODALITY_SETS))
    p.add_argument("--workdir", type=Path, default=None, help="worlds, media, snapshots, embedding cache")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--workers", type=int, default=1, help="cells trained in parallel processes (1 thread each)")
    p.add_argument("--readout-only", action="store_true",
                   help="no GNN: only the interest, item-topic and drift columns (they do not depend on it)")
    p.add_argument("--ideal-encoders", action="store_true",
                   help="replace the content embeddings by what each modality rendered (perfect encoders)")
    p.add_argument("--prepare-only", action="store_true", help="build the world and snapshot, train nothing")
    args = p.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    args.workdir = args.workdir or var_dir() / "bench-fusion"
    bad = [s for s in args.sets if s not in MODALITY_SETS] + [m for m in args.methods if m not in METHODS + ("concat",)]
    if bad:
        p.error(f"unknown modality set or method {bad}; sets: {list(MODALITY_SETS)}, methods: {list(METHODS)}")
    if args.p_show is not None and not 0 < args.p_show <= 1:
        p.error(f"--p-show must be in (0, 1], got {args.p_show}")
    if not 0 < args.labelled <= 1:
        p.error(f"--labelled must be in (0, 1], got {args.labelled}")
    return args


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    text = run(parse_args(argv))
    if text:
        print(text)


if __name__ == "__main__":
    main()
