"""Procedural images and audio for synthetic content (pure: numpy arrays out, no file I/O).

Topics are rendered through *prototypes* shared by pairs of topics, with a different pairing
per modality: images cannot tell topics 2k and 2k+1 apart, audio cannot tell 2k+1 and 2k+2
apart (cyclically), so only fusing modalities resolves every topic. See docs/synthetic-world.md.
"""
from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ("circle", "square", "triangle", "ring", "cross", "bar")
TEXTURES = ("plain", "stripes", "dots")
HARMONIC_PROFILES = ("saw", "odd", "bright", "pure")
PULSE_RATES_HZ = (2.0, 3.0, 5.0, 8.0)
N_HARMONICS = 8


def image_group(topic: int, n_topics: int) -> int:
    """Image prototype of a leaf topic: topics 2k and 2k+1 share one."""
    return topic // 2


def audio_group(topic: int, n_topics: int) -> int:
    """Audio prototype of a leaf topic: topics 2k+1 and 2k+2 (mod T) share one."""
    return ((topic + 1) % n_topics) // 2


def n_groups(n_topics: int) -> int:
    return (n_topics + 1) // 2


@dataclass(frozen=True)
class ImageConfig:
    """Image size and noise."""

    size: int = 64
    p_show: float = 0.7          # each of an item's topics is drawn with this probability
    hue_jitter: float = 0.03     # uniform ± on hues (fraction of the colour wheel)
    pixel_noise: float = 0.12    # Gaussian pixel noise, std as a fraction of 255
    p_distractor: float = 0.5    # probability of extra shapes in a random colour and kind

    def __post_init__(self) -> None:
        if not 16 <= self.size <= 512:
            raise ValueError(f"image.size must be in [16, 512], got {self.size!r}")
        for name in ("p_show", "hue_jitter", "pixel_noise", "p_distractor"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"image.{name} must be in [0, 1], got {value!r}")


@dataclass(frozen=True)
class AudioConfig:
    """Audio format and noise."""

    sample_rate: int = 16_000
    seconds: float = 1.0
    p_show: float = 0.7          # each of an item's topics is sounded with this probability
    pitch_jitter: float = 0.03   # relative ± on the fundamental
    noise: float = 0.25          # white-noise std relative to the signal's peak (before mixing)
    p_distractor: float = 0.4    # probability of an extra tone at a random pitch

    def __post_init__(self) -> None:
        if not 4_000 <= self.sample_rate <= 48_000:
            raise ValueError(f"audio.sample_rate must be in [4000, 48000], got {self.sample_rate!r}")
        if not 0.1 <= self.seconds <= 10.0:
            raise ValueError(f"audio.seconds must be in [0.1, 10], got {self.seconds!r}")
        for name in ("p_show", "pitch_jitter", "noise", "p_distractor"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"audio.{name} must be in [0, 1], got {value!r}")


# ---------------------------------------------------------------- images
def image_prototype(group: int, n_group: int) -> tuple[float, float, str, str]:
    """(background hue, foreground hue, shape, texture) of an image prototype."""
    bg = (group + 0.5) / n_group
    fg = (bg + 0.37 + 0.21 * (group % 3)) % 1.0
    return bg, fg, SHAPES[group % len(SHAPES)], TEXTURES[(group // len(SHAPES)) % len(TEXTURES)]


def _rgb(hue: float, sat: float, val: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(hue % 1.0, sat, val)
    return int(r * 255), int(g * 255), int(b * 255)


def _draw_shape(draw: ImageDraw.ImageDraw, kind: str, cx: float, cy: float, r: float, colour) -> None:
    box = (cx - r, cy - r, cx + r, cy + r)
    if kind == "circle":
        draw.ellipse(box, fill=colour)
    elif kind == "square":
        draw.rectangle(box, fill=colour)
    elif kind == "triangle":
        draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=colour)
    elif kind == "ring":
        draw.ellipse(box, outline=colour, width=max(2, int(r / 3)))
    elif kind == "cross":
        w = max(2, int(r / 3))
        draw.rectangle((cx - r, cy - w, cx + r, cy + w), fill=colour)
        draw.rectangle((cx - w, cy - r, cx + w, cy + r), fill=colour)
    else:  # bar
        draw.rectangle((cx - r, cy - r / 4, cx + r, cy + r / 4), fill=colour)


def _draw_texture(draw: ImageDraw.ImageDraw, kind: str, size: int, colour, rng: np.random.Generator) -> None:
    step = max(4, size // 8)
    offset = int(rng.integers(step))
    if kind == "stripes":
        for x in range(-size + offset, size, step):
            draw.line([(x, 0), (x + size, size)], fill=colour, width=max(1, step // 3))
    elif kind == "dots":
        for y in range(offset, size, step):
            for x in range(offset, size, step):
                draw.ellipse((x - 1, y - 1, x + 1, y + 1), fill=colour)


def render_image(rng: np.random.Generator, shown: list[int], n_topics: int, cfg: ImageConfig) -> np.ndarray:
    """An RGB uint8 image (size×size×3) showing the prototypes of ``shown`` topics (first = background)."""
    size, ng = cfg.size, n_groups(n_topics)
    jitter = lambda: float(rng.uniform(-cfg.hue_jitter, cfg.hue_jitter))  # noqa: E731
    if shown:
        bg_hue, _, _, texture = image_prototype(image_group(shown[0], n_topics), ng)
    else:
        bg_hue, texture = float(rng.random()), TEXTURES[int(rng.integers(len(TEXTURES)))]
    img = Image.new("RGB", (size, size), _rgb(bg_hue + jitter(), 0.45, 0.85))
    draw = ImageDraw.Draw(img)
    _draw_texture(draw, texture, size, _rgb(bg_hue + jitter(), 0.6, 0.55), rng)
    layers = [image_prototype(image_group(t, n_topics), ng)[1:3] for t in shown]
    if rng.random() < cfg.p_distractor:
        layers.append((float(rng.random()), SHAPES[int(rng.integers(len(SHAPES)))]))
    for fg_hue, shape in layers:
        colour = _rgb(fg_hue + jitter(), 0.85, 0.95)
        for _ in range(int(rng.integers(1, 4))):
            cx, cy = rng.uniform(0.15 * size, 0.85 * size, 2)
            _draw_shape(draw, shape, float(cx), float(cy), float(rng.uniform(0.08, 0.2) * size), colour)
    pixels = np.asarray(img, dtype=np.float32)
    pixels += rng.normal(0.0, cfg.pixel_noise * 255.0, pixels.shape).astype(np.float32)
    return np.clip(pixels, 0, 255).astype(np.uint8)


# ---------------------------------------------------------------- audio
def audio_prototype(group: int, n_group: int) -> tuple[float, str, float]:
    """(fundamental Hz, harmonic profile, pulse rate Hz) of an audio prototype."""
    spacing = min(3.0, 36.0 / max(1, n_group))  # semitones between neighbouring prototypes
    f0 = 130.81 * 2.0 ** (group * spacing / 12.0)
    return f0, HARMONIC_PROFILES[group % len(HARMONIC_PROFILES)], PULSE_RATES_HZ[(group // 4) % len(PULSE_RATES_HZ)]


def _harmonic_amplitudes(profile: str) -> np.ndarray:
    n = np.arange(1, N_HARMONICS + 1, dtype=np.float64)
    if profile == "saw":
        return 1.0 / n
    if profile == "odd":
        return np.where(n % 2 == 1, 1.0 / n, 0.0)
    if profile == "bright":
        return np.where(n <= 6, 0.8, 0.0)
    return np.where(n == 1, 1.0, 0.05)  # pure


def _tone(t: np.ndarray, f0: float, profile: str, rate: float, phase: float) -> np.ndarray:
    amps = _harmonic_amplitudes(profile)
    n = np.arange(1, N_HARMONICS + 1)[:, None]
    keep = (amps > 0) & (np.arange(1, N_HARMONICS + 1) * f0 < 0.45 * (1.0 / (t[1] - t[0])))
    wave = (amps[keep][:, None] * np.sin(2 * np.pi * f0 * n[keep] * t[None, :])).sum(axis=0)
    envelope = 0.5 + 0.5 * np.sign(np.sin(2 * np.pi * rate * t + phase))  # on/off pulses
    return wave * (0.15 + 0.85 * envelope) / max(1e-9, float(np.abs(amps).sum()))


def render_audio(rng: np.random.Generator, shown: list[int], n_topics: int, cfg: AudioConfig) -> np.ndarray:
    """A mono float32 waveform in [-1, 1] sounding the prototypes of ``shown`` topics."""
    t = np.arange(int(cfg.sample_rate * cfg.seconds), dtype=np.float64) / cfg.sample_rate
    ng = n_groups(n_topics)
    voices = [audio_prototype(audio_group(topic, n_topics), ng) for topic in shown]
    if rng.random() < cfg.p_distractor:
        voices.append((float(130.81 * 2.0 ** rng.uniform(0, 3)), HARMONIC_PROFILES[int(rng.integers(4))],
                       PULSE_RATES_HZ[int(rng.integers(len(PULSE_RATES_HZ)))]))
    signal = np.zeros_like(t)
    for f0, profile, rate in voices:
        f = f0 * (1.0 + float(rng.uniform(-cfg.pitch_jitter, cfg.pitch_jitter)))
        signal += _tone(t, f, profile, rate, float(rng.uniform(0, 2 * np.pi)))
    peak = float(np.abs(signal).max()) or 1.0
    signal = signal / peak + rng.normal(0.0, cfg.noise, t.shape)
    return (0.9 * signal / float(np.abs(signal).max())).astype(np.float32)
