"""Writes a training run directory exactly as the run-directory contract says (I/O only)."""
from __future__ import annotations

import json
import logging
import secrets
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from graph.model import CONTENT, TOPIC, USER

logger = logging.getLogger(__name__)


def new_run_id(model: str, now: datetime | None = None) -> str:
    """``<model>-<UTC yyyymmddThhmmss>-<4 hex>``."""
    now = now or datetime.now(timezone.utc)
    return f"{model}-{now.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(2)}"


def plot_curve(history: list[dict], path: Path, metric: str) -> None:
    """Training loss and validation metric per epoch (matplotlib, Agg)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, ax1 = plt.subplots(figsize=(7, 4))
    ax1.plot(epochs, [h["loss"] for h in history], color="tab:blue", label="train loss")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("train loss", color="tab:blue")
    ax2 = ax1.twinx()
    ax2.plot(epochs, [h.get(metric, np.nan) for h in history], color="tab:orange", label=f"val {metric}")
    ax2.set_ylabel(f"validation {metric}", color="tab:orange")
    fig.suptitle("training curve")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_run(run_dir: Path, run_info: dict, metrics: dict, history: list[dict], checkpoint: dict,
              embeddings: dict[str, np.ndarray], interests: tuple[np.ndarray, np.ndarray, np.ndarray],
              recommendations: tuple[np.ndarray, np.ndarray, np.ndarray], curve_metric: str) -> Path:
    """Write run.json, metrics.json, curve.png, checkpoint.pt, embeddings/*.npy, interests.npz,
    recommendations.npz into a fresh ``run_dir`` (written under ``<run_dir>.tmp`` then renamed)."""
    import torch

    run_dir = Path(run_dir)
    tmp = run_dir.with_name(run_dir.name + ".tmp")
    (tmp / "embeddings").mkdir(parents=True, exist_ok=False)
    for label in (USER, CONTENT, TOPIC):
        if label in embeddings:
            np.save(tmp / "embeddings" / f"{label}.npy", embeddings[label].astype(np.float32))
    users, topics, tscores = interests
    np.savez(tmp / "interests.npz", user=users.astype(np.int64), topic=topics.astype(np.int64),
             score=tscores.astype(np.float32))
    users, content, cscores = recommendations
    np.savez(tmp / "recommendations.npz", user=users.astype(np.int64), content=content.astype(np.int64),
             score=cscores.astype(np.float32))
    torch.save(checkpoint, tmp / "checkpoint.pt")
    (tmp / "metrics.json").write_text(json.dumps({**metrics, "history": history}, indent=2))
    plot_curve(history, tmp / "curve.png", curve_metric)
    (tmp / "run.json").write_text(json.dumps(run_info, indent=2, default=str))
    tmp.rename(run_dir)
    logger.info("run written to %s", run_dir)
    return run_dir
