"""Backend protocol (DGL or PyG) and lazy lookup: ``get_backend('pyg')`` never imports dgl."""
from __future__ import annotations

import importlib
from typing import Any, Protocol

import torch
from torch import nn

from graph.errors import ConfigError
from graph.snapshot import EdgeType

from gnn.data import TrainData

GraphT = Any   # backend graph object (dgl.DGLHeteroGraph or backends.pyg.HeteroGraph)
BlockT = Any   # one message-passing layer's bipartite structure


class Backend(Protocol):
    """What the model and training loop need from a graph library."""

    name: str

    def build_graph(self, data: TrainData, device: torch.device) -> GraphT:
        """The message-passing graph (both edge directions) on ``device``."""

    def full_blocks(self, graph: GraphT, num_layers: int) -> list[BlockT]:
        """Full-graph layers: every layer sees every node and edge."""

    def sample_blocks(self, graph: GraphT, seeds: dict[str, torch.Tensor], fanouts: tuple[int, ...],
                      device: torch.device) -> tuple[dict[str, torch.Tensor], list[BlockT]]:
        """Neighbour sampling (fanout -1 = all) for ``seeds`` -> (input node ids per type, blocks).

        The destination nodes of every block are the first rows of its source nodes, and the last
        block's destination nodes are the seeds in the given order."""

    def encoder(self, kind: str, etypes: list[EdgeType], dim: int, num_layers: int, dropout: float,
                activation: str = "relu", conv_weight: bool = True) -> nn.Module:
        """Heterogeneous encoder; ``forward(blocks, h: dict[str, Tensor], types=None) -> dict[str, Tensor]``
        (JK layer mean of the last block's destination nodes, only for node ``types`` when given).
        ``activation`` between layers: relu or none; ``conv_weight`` (gcn): learned weight and bias per relation."""


def get_backend(name: str) -> Backend:
    """Import ``gnn.backends.<name>`` on demand."""
    if name not in ("dgl", "pyg"):
        raise ConfigError(f"backend must be dgl or pyg, got {name!r}")
    try:
        module = importlib.import_module(f"gnn.backends.{name}")
    except ImportError as e:
        raise ConfigError(f"backend {name!r} is not installed here: {e}") from e
    return module.BACKEND
