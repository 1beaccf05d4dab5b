"""Communities of topics on their co-occurrence graph: networkx Louvain (the fallback when the
server has no Graph Data Science plugin) and a stable renumbering shared with the GDS path."""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from itertools import combinations

import networkx as nx

WEIGHTINGS = ("ppmi", "count")


def cooccurrence(baskets: Iterable[Sequence[str]], *, weighting: str = "ppmi", min_count: int = 1
                 ) -> tuple[list[str], list[tuple[str, str, float]]]:
    """Topics and weighted topic pairs from baskets (the topics of one item, or of one user).

    ``count``: baskets holding both topics; ``ppmi``: positive pointwise mutual information,
    log(n · n_ab / (n_a · n_b)), which discounts pairs that co-occur only because both topics are
    popular (raw counts make every popular pair an edge, and Louvain then finds one community).
    Pairs seen in fewer than ``min_count`` baskets, or with PPMI <= 0, are left out.
    """
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {', '.join(WEIGHTINGS)}, got {weighting!r}")
    single: Counter = Counter()
    pairs: Counter = Counter()
    n = 0
    for basket in baskets:
        topics = sorted(set(basket))
        n += 1
        single.update(topics)
        pairs.update(combinations(topics, 2))
    edges = []
    for (a, b), together in sorted(pairs.items()):
        if together < min_count:
            continue
        w = float(together) if weighting == "count" else math.log(n * together / (single[a] * single[b]))
        if w > 0:
            edges.append((a, b, w))
    return sorted(single), edges


def renumber(assignment: Mapping[str, int]) -> dict[str, int]:
    """Community ids 0, 1, … by size (largest first), ties by smallest member id."""
    groups: dict[int, list[str]] = {}
    for node, community in assignment.items():
        groups.setdefault(community, []).append(node)
    ordered = sorted(groups.values(), key=lambda members: (-len(members), min(members)))
    return {node: i for i, members in enumerate(ordered) for node in members}


def louvain(nodes: Sequence[str], edges: Iterable[tuple[str, str, float]], *, seed: int = 42,
            resolution: float = 1.0) -> dict[str, int]:
    """Louvain communities of an undirected weighted graph; every node gets one (isolated → alone)."""
    g = nx.Graph()
    g.add_nodes_from(nodes)
    for a, b, w in edges:
        if a != b:
            g.add_edge(a, b, weight=float(w) + (g[a][b]["weight"] if g.has_edge(a, b) else 0.0))
    parts = nx.community.louvain_communities(g, weight="weight", resolution=resolution, seed=seed)
    return renumber({node: i for i, part in enumerate(parts) for node in part})
