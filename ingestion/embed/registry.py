"""Name → encoder factory, per modality; ``get_encoder`` loads each model once per process.

Register another model with ``@register("text", "my-model")`` on a factory taking ``device``;
for text, a local directory holding a sentence-transformers model also works as the name.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from graph.errors import ConfigError

logger = logging.getLogger(__name__)

MODALITIES = ("text", "image", "audio", "behavior")
DEFAULTS = {"text": "all-MiniLM-L6-v2", "image": "efficientnet-lite0", "audio": "mfcc-40",
            "behavior": "behavior-v1"}


class Encoder(Protocol):
    """Turns a batch of decoded inputs into a float32 array of shape (n, dim)."""

    name: str
    dim: int

    def encode(self, items: Sequence[Any]) -> np.ndarray: ...


Factory = Callable[[str], Encoder]
_FACTORIES: dict[tuple[str, str], Factory] = {}
_LOADED: dict[tuple[str, str, str], Encoder] = {}
_LOCK = threading.Lock()


def register(modality: str, name: str) -> Callable[[Factory], Factory]:
    """Decorator registering ``factory(device) -> Encoder`` under (modality, name)."""
    if modality not in MODALITIES:
        raise ValueError(f"unknown modality {modality!r}; one of {MODALITIES}")

    def deco(factory: Factory) -> Factory:
        _FACTORIES[(modality, name)] = factory
        return factory
    return deco


def available(modality: str) -> list[str]:
    _import_builtin()
    return sorted(n for m, n in _FACTORIES if m == modality)


def default_device() -> str:
    """``cuda`` when a GPU is visible, else ``cpu``."""
    import torch
    return "cuda" if torch.cuda.is_available() else "cpu"


def get_encoder(modality: str, name: str | None = None, device: str | None = None) -> Encoder:
    """The encoder for ``modality`` by registered name (default when None) or, for text, a local path."""
    _import_builtin()
    if modality not in MODALITIES:
        raise ConfigError(f"unknown modality {modality!r}; one of {', '.join(MODALITIES)}")
    name = name or DEFAULTS[modality]
    device = device or default_device()
    key = (modality, name, device)
    with _LOCK:
        if key not in _LOADED:
            factory = _FACTORIES.get((modality, name))
            if factory is None and modality == "text" and Path(name).is_dir():
                from ingestion.embed.text import SentenceEncoder
                factory = lambda dev, p=name: SentenceEncoder(Path(p), dev, name=Path(p).name)  # noqa: E731
            if factory is None:
                raise ConfigError(f"unknown {modality} encoder {name!r}; registered: "
                                  f"{', '.join(available(modality))}"
                                  + (" (or a local sentence-transformers directory)" if modality == "text" else ""))
            logger.info("loading %s encoder %s on %s", modality, name, device)
            _LOADED[key] = factory(device)
        return _LOADED[key]


def _import_builtin() -> None:
    """Importing the modules registers the built-in encoders."""
    from ingestion.embed import audio, behavior, image, text  # noqa: F401
