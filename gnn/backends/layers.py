"""Backend-independent pieces of the heterogeneous encoder: per-layer relation sum, activation, layer mean."""
from __future__ import annotations

import torch
from torch import nn


def combine_layers(layers: list[dict[str, torch.Tensor]], types=None) -> dict[str, torch.Tensor]:
    """Mean of the input and every layer's output (JK-style), each cut to the final destination rows;
    only for node ``types`` when given (the others are not computed)."""
    final = layers[-1]
    return {nt: torch.stack([h[nt][: final[nt].shape[0]] for h in layers if nt in h]).mean(0) for nt in final
            if types is None or nt in types}


ACTIVATIONS = {"relu": torch.relu, "none": None}


class LayerStack(nn.Module):
    """Runs hetero layers over blocks; activation (``relu`` or ``none``) + dropout between layers; keeps
    a node type's state if no relation reaches it (its rows pass through unchanged)."""

    def __init__(self, layers: nn.ModuleList, dropout: float, activation: str = "relu"):
        super().__init__()
        self.layers = layers
        self.dropout = nn.Dropout(dropout) if dropout > 0 else None
        self.activation = ACTIVATIONS[activation]

    def run(self, blocks: list, h: dict[str, torch.Tensor], apply) -> list[dict[str, torch.Tensor]]:
        """``apply(layer, block, h_src, h_dst) -> dict`` is the backend's one-layer call."""
        outs = [h]
        for i, (layer, block) in enumerate(zip(self.layers, blocks)):
            h_dst = {nt: x[: block.num_dst_nodes(nt)] for nt, x in h.items()}
            new = apply(layer, block, h, h_dst)
            for nt, x in h_dst.items():
                new.setdefault(nt, x)
            if i < len(self.layers) - 1:
                if self.activation is not None:
                    new = {nt: self.activation(x) for nt, x in new.items()}
                if self.dropout is not None:
                    new = {nt: self.dropout(x) for nt, x in new.items()}
            outs.append(new)
            h = new
        return outs
