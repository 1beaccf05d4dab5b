"""PyG backend: SAGEConv (mean) or a normalised-adjacency conv per relation, summed over relations.

* ``gcn``: PyG's GCNConv adds self-loops and assumes one node set, so it cannot run on bipartite
  relations. ``NormAdjConv`` below is the bipartite equivalent of DGL ``GraphConv(norm='both')``:
  out_i = b + W · Σ_{j→i} x_j / sqrt(deg_out(j) · deg_in(i)) (degrees clamped at 1, no self-loop);
  without W and b (``conv_weight: false``) it is LightGCN's propagation.
* Relation sum: PyG's ``HeteroConv`` passes one tensor (not a (src, dst) pair) for relations whose
  two ends share a node type (FOLLOWS, SUBTOPIC_OF), which breaks sampled blocks whose source and
  destination sets differ; so the per-relation loop (what HeteroConv does with aggr='sum') is here.
* Sampling: PyG's loaders need pyg-lib/torch-sparse (not installed); ``sample_blocks`` uses CSR over
  incoming edges and ``torch.randint`` per seed (with replacement; a node with degree <= fanout keeps
  all its edges). Never imports dgl.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch_geometric.nn import MessagePassing, SAGEConv

from graph.snapshot import EdgeType

from gnn.backends.layers import LayerStack, combine_layers
from gnn.data import TrainData


class NormAdjConv(MessagePassing):
    """Symmetric-normalised adjacency convolution for bipartite relations (DGL GraphConv norm='both')."""

    def __init__(self, in_dim: int, out_dim: int, weight: bool = True):
        super().__init__(aggr="add")
        self.lin = nn.Linear(in_dim, out_dim, bias=False) if weight else None
        self.bias = nn.Parameter(torch.zeros(out_dim)) if weight else None
        if weight:
            nn.init.xavier_uniform_(self.lin.weight)

    def forward(self, x: tuple[torch.Tensor, torch.Tensor], edge_index: torch.Tensor,
                size: tuple[int, int]) -> torch.Tensor:
        src, dst = edge_index
        deg_out = torch.bincount(src, minlength=size[0]).clamp(min=1).float()
        deg_in = torch.bincount(dst, minlength=size[1]).clamp(min=1).float()
        norm = deg_out[src].rsqrt() * deg_in[dst].rsqrt()
        x_src = self.lin(x[0]) if self.lin is not None else x[0]
        out = self.propagate(edge_index, x=(x_src, x[1]), norm=norm, size=size)
        return out + self.bias if self.bias is not None else out

    def message(self, x_j: torch.Tensor, norm: torch.Tensor) -> torch.Tensor:
        return x_j * norm.unsqueeze(-1)


@dataclass
class HeteroBlock:
    """One layer's structure: per type source/destination counts, per relation local edge_index."""

    num_src: dict[str, int]
    num_dst: dict[str, int]
    edge_index: dict[EdgeType, torch.Tensor]

    def num_dst_nodes(self, ntype: str) -> int:
        return self.num_dst[ntype]


@dataclass
class HeteroGraph:
    """Full graph: node counts, global edge_index per relation, CSR over incoming edges for sampling."""

    num_nodes: dict[str, int]
    edge_index: dict[EdgeType, torch.Tensor]
    csr: dict[EdgeType, tuple[torch.Tensor, torch.Tensor]]  # indptr over dst, src ids sorted by dst


def _conv(kind: str, dim: int, weight: bool) -> nn.Module:
    if kind == "sage":
        return SAGEConv(dim, dim, aggr="mean")
    if kind == "gcn":
        return NormAdjConv(dim, dim, weight)
    raise ValueError(f"unknown encoder kind {kind!r}")


class PyGEncoder(nn.Module):
    """L layers of per-relation convs summed per destination type, JK layer mean."""

    def __init__(self, kind: str, etypes: list[EdgeType], dim: int, num_layers: int, dropout: float,
                 activation: str = "relu", conv_weight: bool = True):
        super().__init__()
        self.etypes = list(etypes)
        self.keys = ["__".join(et) for et in self.etypes]
        layers = nn.ModuleList(nn.ModuleDict({k: _conv(kind, dim, conv_weight) for k in self.keys})
                               for _ in range(num_layers))
        self.stack = LayerStack(layers, dropout, activation)

    def forward(self, blocks: list[HeteroBlock], h: dict[str, torch.Tensor], types=None) -> dict[str, torch.Tensor]:
        def apply(layer, block, h_src, h_dst):
            out: dict[str, torch.Tensor] = {}
            for et, key in zip(self.etypes, self.keys):
                ei = block.edge_index.get(et)
                s, _, d = et
                if ei is None or s not in h_src or d not in h_dst:
                    continue
                y = layer[key]((h_src[s], h_dst[d]), ei, size=(block.num_src[s], block.num_dst[d]))
                out[d] = out[d] + y if d in out else y
            return out
        return combine_layers(self.stack.run(blocks, h, apply), types)


class PyGBackend:
    name = "pyg"

    def build_graph(self, data: TrainData, device: torch.device) -> HeteroGraph:
        edge_index, csr = {}, {}
        for et, (s, d) in data.edges.items():
            src = torch.as_tensor(s, dtype=torch.int64)
            dst = torch.as_tensor(d, dtype=torch.int64)
            edge_index[et] = torch.stack([src, dst]).to(device)
            order = torch.argsort(dst, stable=True)
            indptr = torch.zeros(data.num_nodes[et[2]] + 1, dtype=torch.int64)
            indptr[1:] = torch.cumsum(torch.bincount(dst, minlength=data.num_nodes[et[2]]), 0)
            csr[et] = (indptr, src[order])
        return HeteroGraph(dict(data.num_nodes), edge_index, csr)

    def full_blocks(self, graph: HeteroGraph, num_layers: int) -> list[HeteroBlock]:
        block = HeteroBlock(dict(graph.num_nodes), dict(graph.num_nodes), graph.edge_index)
        return [block] * num_layers

    def sample_blocks(self, graph, seeds, fanouts, device):
        cur = {nt: s.cpu() for nt, s in seeds.items()}
        blocks: list[HeteroBlock] = []
        for fanout in reversed(fanouts):
            sampled: dict[EdgeType, tuple[torch.Tensor, torch.Tensor]] = {}
            for et, (indptr, indices) in graph.csr.items():
                dst_nodes = cur.get(et[2])
                if dst_nodes is None or len(dst_nodes) == 0:
                    continue
                sampled[et] = _sample_incoming(indptr, indices, dst_nodes, fanout)
            src_nodes: dict[str, torch.Tensor] = {}
            lookup: dict[str, torch.Tensor] = {}
            for nt, n in graph.num_nodes.items():
                dst_nodes = cur.get(nt, torch.zeros(0, dtype=torch.int64))
                extra = [sampled[et][0] for et in sampled if et[0] == nt]
                cand = torch.cat([dst_nodes, *extra]) if extra else dst_nodes
                table = torch.full((n,), -1, dtype=torch.int64)
                table[dst_nodes] = torch.arange(len(dst_nodes))
                new = torch.unique(cand[table[cand] < 0])
                table[new] = torch.arange(len(dst_nodes), len(dst_nodes) + len(new))
                src_nodes[nt] = torch.cat([dst_nodes, new])
                lookup[nt] = table
            edge_index = {}
            for et, (src_g, dst_local) in sampled.items():
                edge_index[et] = torch.stack([lookup[et[0]][src_g], dst_local]).to(device)
            blocks.append(HeteroBlock({nt: len(x) for nt, x in src_nodes.items()},
                                      {nt: len(cur.get(nt, ())) for nt in graph.num_nodes}, edge_index))
            cur = src_nodes
        blocks.reverse()
        return {nt: x.to(device) for nt, x in cur.items()}, blocks

    def encoder(self, kind, etypes, dim, num_layers, dropout, activation="relu", conv_weight=True):
        return PyGEncoder(kind, etypes, dim, num_layers, dropout, activation, conv_weight)


def _sample_incoming(indptr: torch.Tensor, indices: torch.Tensor, dst_nodes: torch.Tensor,
                     fanout: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(global src ids, local dst positions) of up to ``fanout`` incoming edges per destination node."""
    start = indptr[dst_nodes]
    deg = indptr[dst_nodes + 1] - start
    local = torch.arange(len(dst_nodes))
    take_all = deg if fanout < 0 else torch.where(deg <= fanout, deg, torch.zeros_like(deg))
    rep_all = torch.repeat_interleave(local, take_all)
    offs = torch.arange(int(take_all.sum())) - torch.repeat_interleave(torch.cumsum(take_all, 0) - take_all, take_all)
    src_all = indices[start[rep_all] + offs]
    if fanout < 0:
        return src_all, rep_all
    big = local[deg > fanout]
    if len(big) == 0:
        return src_all, rep_all
    rand = (torch.rand(len(big), fanout) * deg[big].unsqueeze(1).float()).long().clamp(max=deg[big].unsqueeze(1) - 1)
    src_big = indices[(start[big].unsqueeze(1) + rand).reshape(-1)]
    return torch.cat([src_all, src_big]), torch.cat([rep_all, big.repeat_interleave(fanout)])


BACKEND = PyGBackend()
