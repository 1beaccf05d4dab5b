"""DGL backend: HeteroGraphConv over SAGEConv (mean) or GraphConv (norm='both', optionally without weight
and bias: LightGCN propagation); DGL NeighborSampler."""
from __future__ import annotations

import os

os.environ.setdefault("DGLBACKEND", "pytorch")

import dgl  # noqa: E402
import dgl.nn as dglnn  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from graph.snapshot import EdgeType  # noqa: E402

from gnn.backends.layers import LayerStack, combine_layers  # noqa: E402
from gnn.data import TrainData  # noqa: E402


def _conv(kind: str, dim: int, weight: bool) -> nn.Module:
    if kind == "sage":
        return dglnn.SAGEConv(dim, dim, "mean")
    if kind == "gcn":
        return dglnn.GraphConv(dim, dim, norm="both", weight=weight, bias=weight, allow_zero_in_degree=True)
    raise ValueError(f"unknown encoder kind {kind!r}")


class DGLEncoder(nn.Module):
    """L x HeteroGraphConv (sum over relations), JK layer mean."""

    def __init__(self, kind: str, etypes: list[EdgeType], dim: int, num_layers: int, dropout: float,
                 activation: str = "relu", conv_weight: bool = True):
        super().__init__()
        layers = nn.ModuleList(
            dglnn.HeteroGraphConv({et: _conv(kind, dim, conv_weight) for et in etypes}, aggregate="sum")
            for _ in range(num_layers))
        self.stack = LayerStack(layers, dropout, activation)

    def forward(self, blocks: list, h: dict[str, torch.Tensor], types=None) -> dict[str, torch.Tensor]:
        def apply(layer, block, h_src, h_dst):
            return dict(layer(block, (h_src, h_dst)))
        return combine_layers(self.stack.run(blocks, h, apply), types)


class DGLBackend:
    name = "dgl"

    def build_graph(self, data: TrainData, device: torch.device) -> dgl.DGLHeteroGraph:
        graph_data = {et: (torch.as_tensor(s, dtype=torch.int64), torch.as_tensor(d, dtype=torch.int64))
                      for et, (s, d) in data.edges.items()}
        g = dgl.heterograph(graph_data, num_nodes_dict=dict(data.num_nodes))
        return g.to(device)

    def full_blocks(self, graph: dgl.DGLHeteroGraph, num_layers: int) -> list:
        return [graph] * num_layers

    def sample_blocks(self, graph, seeds, fanouts, device):
        sampler = dgl.dataloading.NeighborSampler(list(fanouts))
        seeds = {nt: s.to(graph.device) for nt, s in seeds.items() if len(s)}
        input_nodes, _, blocks = sampler.sample_blocks(graph, seeds)
        return ({nt: x.to(device) for nt, x in input_nodes.items()}, [b.to(device) for b in blocks])

    def encoder(self, kind, etypes, dim, num_layers, dropout, activation="relu", conv_weight=True):
        return DGLEncoder(kind, etypes, dim, num_layers, dropout, activation, conv_weight)


BACKEND = DGLBackend()
