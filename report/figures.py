"""Report figures: pure functions from arrays/records to PNG files (matplotlib, Agg)."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

# The same colours as the Neo4j Browser style (cypher/browser), so the pictures agree.
LABEL_COLOURS = {"User": "#4C8EDA", "Content": "#F79767", "Topic": "#57C7E3"}
MAP_MAX_TSNE = 3000
OTHER = "other"


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def project_2d(emb: np.ndarray, seed: int = 0) -> np.ndarray:
    """2-D projection: t-SNE for up to MAP_MAX_TSNE points, PCA beyond (t-SNE is quadratic)."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    x = emb.astype(np.float64)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    if len(x) <= MAP_MAX_TSNE and len(x) > 5:
        perplexity = float(min(30, max(2, (len(x) - 1) // 3)))
        return TSNE(n_components=2, init="pca", perplexity=perplexity, random_state=seed).fit_transform(x)
    return PCA(n_components=2, random_state=seed).fit_transform(x)


def interest_map(xy: np.ndarray, top_topic: list[str], path: Path, max_legend: int = 10) -> Path:
    """Users as points, coloured by their top predicted topic (the most frequent topics get colours)."""
    common = [t for t, _ in Counter(top_topic).most_common(max_legend)]
    cmap = plt.get_cmap("tab10")
    fig, ax = plt.subplots(figsize=(8, 6))
    labels = np.array([t if t in common else OTHER for t in top_topic], dtype=object)
    ax.scatter(xy[labels == OTHER, 0], xy[labels == OTHER, 1], s=8, c="#cccccc", label=OTHER)
    for i, topic in enumerate(common):
        sel = labels == topic
        ax.scatter(xy[sel, 0], xy[sel, 1], s=10, color=cmap(i % 10), label=f"{topic} ({int(sel.sum())})")
    ax.set_title("Interest map: user GNN embeddings (2-D), coloured by top predicted topic")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(fontsize=7, loc="best", markerscale=1.5)
    return _save(fig, path)


def topic_bars(counts: list[tuple[str, float]], path: Path, title: str, xlabel: str) -> Path:
    """Horizontal bars, largest on top."""
    fig, ax = plt.subplots(figsize=(7, 0.35 * max(len(counts), 3) + 1))
    names = [n for n, _ in counts][::-1]
    values = [v for _, v in counts][::-1]
    ax.barh(names, values, color=LABEL_COLOURS["Topic"])
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    return _save(fig, path)


def cohort_heatmap(matrix: np.ndarray, cohorts: list[str], topics: list[str], path: Path, title: str) -> Path:
    """Share of each cohort's users whose top interests include each topic."""
    fig, ax = plt.subplots(figsize=(1.0 + 0.55 * len(topics), 1.2 + 0.4 * len(cohorts)))
    im = ax.imshow(matrix, aspect="auto", cmap="Blues", vmin=0)
    ax.set_xticks(range(len(topics)), topics, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(cohorts)), cohorts, fontsize=8)
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            ax.text(j, i, f"{matrix[i, j]:.0%}", ha="center", va="center", fontsize=6,
                    color="white" if matrix[i, j] > matrix.max() * 0.6 else "black")
    fig.colorbar(im, ax=ax, fraction=0.03)
    ax.set_title(title)
    return _save(fig, path)


def neighbourhood(nodes: list[dict], edges: list[dict], path: Path, title: str) -> Path:
    """A user's interest neighbourhood: nodes coloured by label, edge width by weight/score."""
    import networkx as nx

    g = nx.DiGraph()
    for n in nodes:
        g.add_node(n["key"], label=n["label"], caption=n["caption"])
    for e in edges:
        g.add_edge(e["src"], e["dst"], type=e["type"], weight=float(e.get("weight") or 0.5))
    pos = nx.spring_layout(g, seed=3, k=1.2 / max(np.sqrt(len(g)), 1))
    fig, ax = plt.subplots(figsize=(10, 7.5))
    styles = {"INTERESTED_IN": ("#2f6fbf", "-"), "MAY_LIKE": ("#d95f02", "--"),
              "INTERACTED": ("#999999", "-"), "HAS_TOPIC": ("#57C7E3", ":")}
    for etype, (colour, style) in styles.items():
        sel = [(u, v) for u, v, d in g.edges(data=True) if d["type"] == etype]
        if sel:
            widths = [0.5 + 3 * min(g.edges[u, v]["weight"], 1.0) for u, v in sel]
            nx.draw_networkx_edges(g, pos, edgelist=sel, edge_color=colour, style=style, width=widths,
                                   arrows=True, arrowsize=8, ax=ax, alpha=0.8)
    for label, colour in LABEL_COLOURS.items():
        sel = [n for n, d in g.nodes(data=True) if d["label"] == label]
        size = 900 if label == "User" else 500
        nx.draw_networkx_nodes(g, pos, nodelist=sel, node_color=colour, node_size=size, ax=ax,
                               edgecolors="white")
    nx.draw_networkx_labels(g, pos, labels={n: d["caption"][:28] for n, d in g.nodes(data=True)},
                            font_size=7, ax=ax)
    handles = [plt.Line2D([], [], color=c, linestyle=s, label=t) for t, (c, s) in styles.items()]
    handles += [plt.Line2D([], [], marker="o", color="w", markerfacecolor=c, markersize=10, label=lbl)
                for lbl, c in LABEL_COLOURS.items()]
    ax.legend(handles=handles, fontsize=7, loc="lower left")
    ax.set_title(title)
    ax.axis("off")
    return _save(fig, path)
