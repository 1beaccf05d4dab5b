"""Audio embeddings: MFCC (40, on a log-mel spectrogram) + Δ + ΔΔ, mean-pooled over time → 120-d.

Input: (waveform [channels, samples] float, sample rate). Channels are mixed to mono, the signal is
resampled to 16 kHz, leading/trailing silence (frames 40 dB below the loudest) is trimmed.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ingestion.embed.registry import register

SAMPLE_RATE = 16_000
N_MFCC, N_MELS, N_FFT, HOP = 40, 64, 400, 160
AUDIO_DIM = 3 * N_MFCC
SILENCE_DB = 40.0
MIN_SAMPLES = N_FFT


def trim_silence(mono: np.ndarray, frame: int = N_FFT, hop: int = HOP, db: float = SILENCE_DB) -> np.ndarray:
    """Drop leading and trailing frames whose RMS is ``db`` below the loudest frame."""
    if len(mono) < frame:
        return mono
    starts = np.arange(0, len(mono) - frame + 1, hop)
    power = np.concatenate([[0.0], np.cumsum(np.asarray(mono, dtype=np.float64) ** 2)])
    rms = np.sqrt((power[starts + frame] - power[starts]) / frame + 1e-20)
    loud = np.nonzero(rms >= rms.max() * 10 ** (-db / 20))[0]
    return mono[starts[loud[0]]:starts[loud[-1]] + frame]


class MfccEncoder:
    name = "mfcc-40"
    dim = AUDIO_DIM

    def __init__(self, device: str):
        import torch
        import torchaudio

        self.torch, self.F, self.device = torch, torchaudio.functional, device
        # log_mels=True: the DCT is applied to log(mel power), i.e. MFCCs of a log-mel spectrogram.
        self.mfcc = torchaudio.transforms.MFCC(
            sample_rate=SAMPLE_RATE, n_mfcc=N_MFCC, log_mels=True,
            melkwargs={"n_fft": N_FFT, "hop_length": HOP, "n_mels": N_MELS, "center": True}).to(device)

    def features(self, waveform: np.ndarray, sample_rate: int) -> np.ndarray:
        """One clip → 120-d vector. ValueError if the clip is empty, silent or not finite."""
        torch = self.torch
        wav = np.asarray(waveform, dtype=np.float32)
        if wav.ndim == 1:
            wav = wav[None, :]
        if wav.ndim != 2 or wav.shape[1] == 0:
            raise ValueError(f"expected a [channels, samples] waveform, got shape {wav.shape}")
        if not np.all(np.isfinite(wav)):
            raise ValueError("waveform contains NaN or infinite samples")
        if sample_rate <= 0:
            raise ValueError(f"bad sample rate {sample_rate}")
        mono = torch.from_numpy(wav.mean(axis=0))
        if sample_rate != SAMPLE_RATE:
            mono = self.F.resample(mono, sample_rate, SAMPLE_RATE)
        mono_np = mono.numpy()
        if not np.any(np.abs(mono_np) > 1e-6):
            raise ValueError("audio is silent")
        trimmed = trim_silence(mono_np)
        if len(trimmed) < MIN_SAMPLES:
            trimmed = np.pad(trimmed, (0, MIN_SAMPLES - len(trimmed)))
        with torch.inference_mode():
            mfcc = self.mfcc(torch.from_numpy(np.ascontiguousarray(trimmed)).to(self.device))  # (40, T)
            d1 = self.F.compute_deltas(mfcc[None])[0]
            d2 = self.F.compute_deltas(d1[None])[0]
            vec = torch.cat([mfcc, d1, d2], dim=0).mean(dim=1)
        return vec.float().cpu().numpy()

    def encode(self, items: Sequence[tuple[np.ndarray, int]]) -> np.ndarray:
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        # One clip's tensors are small: intra-op threads only add overhead (45x slower measured on
        # a busy 2-core box), so run single-threaded and restore the setting afterwards.
        threads = self.torch.get_num_threads()
        self.torch.set_num_threads(1)
        try:
            return np.stack([self.features(w, sr) for w, sr in items]).astype(np.float32)
        finally:
            self.torch.set_num_threads(threads)


@register("audio", "mfcc-40")
def _mfcc(device: str) -> MfccEncoder:
    return MfccEncoder(device)
