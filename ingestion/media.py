"""Decode media files for the encoders: images to RGB uint8 arrays, audio to float waveforms."""
from __future__ import annotations

from pathlib import Path

import numpy as np

MAX_IMAGE_PIXELS = 50_000_000
MAX_AUDIO_SECONDS = 600


def load_image(path: Path) -> np.ndarray:
    """HxWx3 uint8; ValueError if the file is not a readable image."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            if im.width * im.height > MAX_IMAGE_PIXELS:
                raise ValueError(f"image is too large ({im.width}x{im.height})")
            return np.asarray(im.convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as e:
        raise ValueError(f"unreadable image: {e}") from None


def load_audio(path: Path) -> tuple[np.ndarray, int]:
    """([channels, samples] float32, sample rate); ValueError if not a readable audio file."""
    import soundfile as sf

    try:
        info = sf.info(str(path))
        if info.frames / max(info.samplerate, 1) > MAX_AUDIO_SECONDS:
            raise ValueError(f"audio is longer than {MAX_AUDIO_SECONDS} s")
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as e:
        raise ValueError(f"unreadable audio: {e}") from None
    if data.shape[0] == 0:
        raise ValueError("audio has no samples")
    return np.ascontiguousarray(data.T), int(rate)
