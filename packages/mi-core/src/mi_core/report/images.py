"""Image grids (PNG) for reconstructions and class means, with Pillow only."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mi_core.errors import ConfigError
from mi_core.io import PathLike, atomic_write_bytes, is_tensor


def _to_uint8(images: Any) -> np.ndarray:
    """(N, C, H, W) or (N, H, W) floats in [0, 1] (or uint8) -> (N, H, W, C) uint8."""
    x = images.detach().cpu().numpy() if is_tensor(images) else np.asarray(images)
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4:
        raise ConfigError(f"images: expected (N, C, H, W) or (N, H, W), got shape {x.shape}")
    if x.dtype != np.uint8:
        x = np.clip(np.nan_to_num(x.astype(np.float64)), 0.0, 1.0)
        x = (x * 255.0 + 0.5).astype(np.uint8)
    x = np.transpose(x, (0, 2, 3, 1))
    if x.shape[-1] not in (1, 3):
        raise ConfigError(f"images: expected 1 or 3 channels, got {x.shape[-1]}")
    return x


def grid_image(rows: Sequence[Any], *, scale: int = 1, pad: int = 2) -> Any:
    """Compose rows of images (each a batch) into one PIL image, rows top to bottom."""
    from PIL import Image

    arrays = [_to_uint8(r) for r in rows]
    if not arrays or any(a.shape[0] == 0 for a in arrays):
        raise ConfigError("images: a grid needs at least one image per row")
    h, w = arrays[0].shape[1:3]
    channels = max(a.shape[-1] for a in arrays)
    ncols = max(a.shape[0] for a in arrays)
    canvas = np.full(
        (len(arrays) * (h + pad) + pad, ncols * (w + pad) + pad, channels), 255, np.uint8
    )
    for r, arr in enumerate(arrays):
        if arr.shape[1:3] != (h, w):
            raise ConfigError("images: every row of a grid must have the same image size")
        if arr.shape[-1] != channels:
            arr = np.repeat(arr, channels, axis=-1)
        for c in range(arr.shape[0]):
            y0, x0 = pad + r * (h + pad), pad + c * (w + pad)
            canvas[y0 : y0 + h, x0 : x0 + w] = arr[c]
    img = Image.fromarray(canvas[..., 0] if channels == 1 else canvas)
    if scale != 1:
        img = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
    return img


def png_bytes(img: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def save_grid(images: Any, path: PathLike, *, ncols: int = 10, scale: int | None = None) -> Path:
    """Save a batch of images as a PNG grid (``ncols`` per row), atomically."""
    x = images if is_tensor(images) else np.asarray(images)
    rows = [x[i : i + ncols] for i in range(0, x.shape[0], ncols)]
    if scale is None:
        scale = max(1, 96 // max(x.shape[-1], 1))
    return atomic_write_bytes(path, png_bytes(grid_image(rows, scale=scale)))
