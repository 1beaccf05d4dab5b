"""Epoch time of our training loop vs bare minimal DGL and PyG loops: same graph, model, batches.

Graph: the MovieLens-100K snapshot of bench/quality.py if it is cached, else a planted synthetic one
(--planted). Two models, each with a bare loop per backend written the obvious minimal way: learned id
embeddings (the weight tensors themselves) -> 2 heterogeneous layers, summed over relations -> mean of the
input and every layer's output (the JK mean our encoder also uses) -> dot product, BPR with one uniform
negative, Adam; a full-graph forward per batch of positives.
* ``sage``: SAGEConv(mean) per relation, ReLU between layers (DGL HeteroGraphConv; PyG per-relation loop).
* ``lightgcn``: symmetric-normalised propagation without weight or activation (DGL GraphConv(norm='both',
  weight=False); PyG: our NormAdjConv without weight) = the shipped default encoder (gcn).
"ours (bare-equivalent)" runs gnn.train.Trainer with the options that add work switched off (features,
node statistics, topic loss, dropouts, l2); "ours (default)" is the shipped configuration. Each loop runs
one warm-up epoch, then --repeat epochs interleaved; the table shows wall and CPU seconds (the process's
CPU time, which on a shared, oversubscribed box is far steadier than wall time; every loop runs on one
torch thread, so on a quiet box the two agree). Ratios are taken on the median CPU seconds.

    .venv/bin/python bench/train_epoch.py [--repeat 5] [--planted] [--batch-size 8192]
"""
from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DGLBACKEND", "pytorch")
RESULTS = ROOT / "bench" / "results" / "train_epoch.md"

import torch  # noqa: E402
from torch import nn  # noqa: E402

from graph.settings import var_dir  # noqa: E402
from graph.snapshot import Snapshot  # noqa: E402
from gnn.config import TrainConfig  # noqa: E402
from gnn.data import TrainData, build_data  # noqa: E402
from gnn.models import bpr_loss  # noqa: E402
from gnn.synthetic import PlantedWorld, planted_snapshot  # noqa: E402
from gnn.train import Trainer  # noqa: E402

DIM, LAYERS = 64, 2
MODELS = {"sage": {"model": "sage"},
          "lightgcn": {"model": "gcn", "conv_weight": False, "activation": "none"}}
BARE_OFF = {"use_features": False, "stats_labels": (), "topic_loss_weight": 0.0, "dropout": 0.0,
            "id_dropout": 0.0, "l2": 0.0}


class BareLoop:
    """Minimal link-prediction loop: id embeddings, encoder, JK mean, dot product, BPR."""

    def __init__(self, data: TrainData, encoder: nn.Module, graph_fn, batch_size: int):
        torch.manual_seed(0)
        self.data, self.encoder, self.graph_fn, self.bs = data, encoder, graph_fn, batch_size
        self.emb = nn.ParameterDict({nt: nn.Parameter(torch.randn(n, DIM) * 0.1) for nt, n in data.num_nodes.items()})
        self.opt = torch.optim.Adam([*self.emb.parameters(), *encoder.parameters()], lr=0.005)
        self.u = torch.as_tensor(data.train.user)
        self.c = torch.as_tensor(data.train.content)

    def epoch(self) -> None:
        perm = torch.randperm(len(self.u))
        for s in range(0, len(perm), self.bs):
            idx = perm[s:s + self.bs]
            h0 = dict(self.emb)
            hs = [h0, *self.graph_fn(h0)]
            h = {nt: torch.stack([x[nt] for x in hs]).mean(0) for nt in ("User", "Content")}
            neg = torch.randint(self.data.num_nodes["Content"], (len(idx),))
            hu = h["User"][self.u[idx]]
            loss = bpr_loss((hu * h["Content"][self.c[idx]]).sum(-1),
                            (hu * h["Content"][neg]).sum(-1).unsqueeze(1))
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()


def bare_dgl(data: TrainData, batch_size: int, model: str) -> BareLoop:
    import dgl
    import dgl.nn as dglnn

    g = dgl.heterograph({et: (torch.as_tensor(s), torch.as_tensor(d)) for et, (s, d) in data.edges.items()},
                        num_nodes_dict=dict(data.num_nodes))

    def conv():
        if model == "sage":
            return dglnn.SAGEConv(DIM, DIM, "mean")
        return dglnn.GraphConv(DIM, DIM, norm="both", weight=False, bias=False, allow_zero_in_degree=True)
    layers = nn.ModuleList(dglnn.HeteroGraphConv({et: conv() for et in data.edges}, aggregate="sum")
                           for _ in range(LAYERS))

    def forward(h):
        outs = []
        for i, layer in enumerate(layers):
            h = layer(g, h)
            if model == "sage" and i < LAYERS - 1:
                h = {k: torch.relu(v) for k, v in h.items()}
            outs.append(h)
        return outs
    return BareLoop(data, layers, forward, batch_size)


def bare_pyg(data: TrainData, batch_size: int, model: str) -> BareLoop:
    from torch_geometric.nn import SAGEConv

    from gnn.backends.pyg import NormAdjConv

    ei = {et: torch.stack([torch.as_tensor(s), torch.as_tensor(d)]) for et, (s, d) in data.edges.items()}

    def conv():
        return SAGEConv(DIM, DIM, aggr="mean") if model == "sage" else NormAdjConv(DIM, DIM, weight=False)
    layers = nn.ModuleList(nn.ModuleDict({"__".join(et): conv() for et in ei}) for _ in range(LAYERS))

    def forward(h):
        outs = []
        for i, layer in enumerate(layers):
            out: dict[str, torch.Tensor] = {}
            for et, e in ei.items():
                y = layer["__".join(et)]((h[et[0]], h[et[2]]), e, size=(len(h[et[0]]), len(h[et[2]])))
                out[et[2]] = out[et[2]] + y if et[2] in out else y
            h = {k: torch.relu(v) for k, v in out.items()} if model == "sage" and i < LAYERS - 1 else out
            outs.append(h)
        return outs
    return BareLoop(data, layers, forward, batch_size)


def ours(data: TrainData, backend: str, batch_size: int, model: str | None) -> Trainer:
    """Our Trainer: bare-equivalent for ``model`` (sage/lightgcn), or the shipped default when None."""
    extra = {**MODELS[model], **BARE_OFF} if model else {}
    cfg = TrainConfig().with_overrides(backend=backend, device="cpu", num_threads=torch.get_num_threads(),
                                       emb_dim=DIM, num_layers=LAYERS, batch_size=batch_size, **extra)
    return Trainer(data, cfg)


def run(args: argparse.Namespace) -> str:
    snap_dir = var_dir("bench") / "ml100k-snapshot"
    if (snap_dir / "manifest.json").exists() and not args.planted:
        snap, source = Snapshot.load(snap_dir), "MovieLens-100K snapshot (bench/quality.py)"
    else:
        snap, _ = planted_snapshot(PlantedWorld(n_users=2000, n_content=3000, n_topics=20, per_user=50))
        source = "planted synthetic snapshot (2,000 users, 3,000 items)"
    data = build_data(snap, TrainConfig())                        # the default config's features
    plain = build_data(snap, TrainConfig(**BARE_OFF))               # no features, no node statistics
    bs = args.batch_size
    loops = {}
    for backend, bare in (("DGL", bare_dgl), ("PyG", bare_pyg)):
        for model in MODELS:
            loops[(backend, model, "bare")] = bare(plain, bs, model)
            loops[(backend, model, "ours")] = ours(plain, backend.lower(), bs, model)
        loops[(backend, "default", "ours")] = ours(data, backend.lower(), bs, None)
    times: dict[tuple, list[float]] = {k: [] for k in loops}
    walls: dict[tuple, list[float]] = {k: [] for k in loops}
    load_before = os.getloadavg()
    for loop in loops.values():
        loop.epoch()
    for _ in range(args.repeat):
        for name, loop in loops.items():
            t0, c0 = time.perf_counter(), time.process_time()
            loop.epoch()
            times[name].append(time.process_time() - c0)
            walls[name].append(time.perf_counter() - t0)
    load_after = os.getloadavg()
    lines = [
        "# Training epoch time (`bench/train_epoch.py`)", "",
        f"Graph: {source}; {len(data.train):,} training pairs, {sum(len(s) for s, _ in data.edges.values()):,} "
        f"message-passing edges ({len(data.edges)} relation types incl. reverses). Model: {LAYERS} layers, {DIM}-d, "
        f"BPR, 1 negative, batch {bs:,} positives, full-graph forward per batch, CPU, torch "
        f"{torch.__version__}, {torch.get_num_threads()} torch thread(s). 1 warm-up + {args.repeat} timed epochs "
        "per loop, interleaved. Machine: "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, load average (1 min) {load_before[0]:.1f} → "
        f"{load_after[0]:.1f}.", "",
        "Command: `.venv/bin/python bench/train_epoch.py" + (f" --repeat {args.repeat}" if args.repeat != 5 else "")
        + "`", "",
        "| backend | model | loop | median wall s/epoch | median CPU s/epoch | best CPU s/epoch | "
        "ratio to its bare loop (median CPU) | (best CPU) |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for (backend, model, kind), ts in times.items():
        if kind == "bare":
            label, ratio = "bare (baseline)", "1.00x | 1.00x"
        else:
            label = "ours, bare-equivalent" if model != "default" else "ours, default config"
            ref = times[(backend, model if model != "default" else "lightgcn", "bare")]
            ratio = (f"{statistics.median(ts) / statistics.median(ref):.2f}x | {min(ts) / min(ref):.2f}x")
        lines.append(f"| {backend} | {model} | {label} | {statistics.median(walls[(backend, model, kind)]):.3f} | "
                     f"{statistics.median(ts):.3f} | {min(ts):.3f} | {ratio} |")
    worst = max(statistics.median(ts) / statistics.median(times[(b, m, "bare")])
                for (b, m, k), ts in times.items() if k == "ours" and m != "default")
    lines += ["", f"Goal: ours (bare-equivalent) <= 1.15x its bare loop (median CPU): worst ratio {worst:.2f}x, goal "
              f"{'met' if worst <= 1.15 else 'NOT met'}. The default config (ratio against the bare lightgcn loop) "
              "adds the mask-aware feature projections, the content statistics, the auxiliary User-Topic BPR term, "
              "id dropout and the l2 term."]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=8192)
    p.add_argument("--planted", action="store_true", help="use the planted graph even if MovieLens is cached")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads for every loop")
    p.add_argument("--no-save", action="store_true")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    report = run(args)
    sys.stdout.write(report)
    if not args.no_save:
        RESULTS.write_text(report)


if __name__ == "__main__":
    main()
