"""Plot the cold-content column of fusion studies: real encoders beside ideal ones, against the bounds.

Reads result tables written by ``bench/fusion.py`` (one panel per pair of real / ``--ideal-encoders``
runs on the same world) and draws, per modality set, the best "p@5 modalities only" over the fusion
methods, with the goal (0.9), the every-true-topic reference and the content bound as lines.

    .venv/bin/python bench/plot_fusion.py --panel "24 / window" bench/results/fusion-dense.md \\
        bench/results/fusion-dense-ideal-encoders.md [--panel ...] [--out docs/img/fusion-cold.png]
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "img" / "fusion-cold.png"
SETS = ("text", "image", "audio", "text+image", "image+audio", "text+image+audio")
METHODS = ("early", "decision", "attention", "shared")
MODAL_COL = 4       # "p@5 modalities only", counting from the modalities column
REFERENCE = "every true HAS_TOPIC, items read-out"
BOUND = "true topics that some modality rendered"
GOAL = 0.9
logger = logging.getLogger("bench.plot_fusion")


def read_table(path: Path) -> dict:
    """{"cells": {(set, method): p@5 modalities only}, "reference": float, "bound": float | None} of one
    results file; a clear error naming the file when a row it needs is missing."""
    cells, reference, bound = {}, None, None
    for line in path.read_text().splitlines():
        if not line.startswith("| "):
            continue
        col = [c.strip() for c in line.strip().strip("|").split("|")]
        if col[0] in SETS and col[1] in METHODS and col[MODAL_COL] != "—":
            cells[(col[0], col[1])] = float(col[MODAL_COL])
        elif col[0].startswith(REFERENCE):
            reference = float(col[2])
        elif col[0].startswith(BOUND):
            bound = float(col[MODAL_COL])
    if not cells or reference is None:
        raise ValueError(f"{path}: no fusion results table (cells and the '{REFERENCE}' row) found")
    return {"cells": cells, "reference": reference, "bound": bound}


def best_per_set(table: dict) -> list[float | None]:
    """The best fusion method's value per modality set (None for a set the run did not include)."""
    return [max((v for (s, _), v in table["cells"].items() if s == name), default=None) for name in SETS]


def plot(panels: list[tuple[str, Path, Path]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(5.6 * len(panels), 5.0), sharey=True, squeeze=False)
    for ax, (title, real_path, ideal_path) in zip(axes[0], panels):
        real, ideal = read_table(real_path), read_table(ideal_path)
        xs = range(len(SETS))
        for offset, table, label, colour in ((-0.2, real, "real encoders (MiniLM, EfficientNet, MFCC)", "tab:blue"),
                                             (0.2, ideal, "ideal encoders (what each modality rendered)",
                                              "tab:orange")):
            values = best_per_set(table)
            ax.bar([x + offset for x, v in zip(xs, values) if v is not None], [v for v in values if v is not None],
                   width=0.4, color=colour, label=label)
        bound = ideal["bound"] if ideal["bound"] is not None else real["bound"]
        ax.axhline(GOAL, color="black", linestyle="--", linewidth=1, label=f"goal {GOAL}")
        ax.axhline(real["reference"], color="tab:green", linewidth=1, label="every true topic (reference)")
        if bound is not None:
            ax.axhline(bound, color="tab:red", linestyle=":", linewidth=1.5,
                       label="true topics some modality rendered (bound for any content tagger)")
        title += f"\nreference {real['reference']:.3f}" + (f", bound {bound:.3f}" if bound is not None else "")
        ax.set_xticks(list(xs), [s.replace("+", "+\n") for s in SETS], fontsize=8)
        ax.set_ylim(0.5, 0.95)
        ax.set_title(title, fontsize=10)
        ax.grid(True, axis="y", alpha=0.3)
    axes[0][0].set_ylabel("cold-content interest precision@5\n(best fusion method per set)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    logger.info("wrote %s", out)


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--panel", nargs=3, action="append", required=True, metavar=("TITLE", "REAL_MD", "IDEAL_MD"),
                   help="a panel: its title, the real-encoder results file and the ideal-encoder one")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    panels = [(title, Path(real), Path(ideal)) for title, real, ideal in args.panel]
    for _, real, ideal in panels:
        for path in (real, ideal):
            if not path.is_file():
                p.error(f"no such results file: {path}")
    plot(panels, args.out)


if __name__ == "__main__":
    main()
