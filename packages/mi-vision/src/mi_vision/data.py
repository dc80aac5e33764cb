"""Image data: small sets that install offline, and loaders for the papers' data sets.

Every loader returns ``(x, y)`` with ``x`` a float tensor ``(N, C, H, W)`` in [0, 1] and ``y`` a
long tensor of class ids, so attacks and evaluators never care where images came from.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from mi_core.errors import ConfigError


def load_digits() -> tuple[torch.Tensor, torch.Tensor]:
    """sklearn's 8x8 handwritten digits (1,797 images, 10 classes), scaled to [0, 1]."""
    from sklearn.datasets import load_digits as _load

    d = _load()
    x = torch.tensor(d.images, dtype=torch.float32)[:, None] / 16.0
    return x, torch.tensor(d.target, dtype=torch.long)


def load_att_faces(path: str | Path, size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """AT&T (ORL) faces from an npz with ``images`` (400, 112, 92) uint8 and ``labels`` 0..39.

    Args:
        size: resize to ``size x size`` (area interpolation) when given.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(
            f"AT&T faces: {p} does not exist; get the ORL database (AT&T Laboratories Cambridge) "
            "and save it as an npz with `images` and `labels`"
        )
    with np.load(p) as d:
        x = torch.tensor(d["images"], dtype=torch.float32)[:, None] / 255.0
        y = torch.tensor(d["labels"], dtype=torch.long)
    if size is not None:
        x = F.interpolate(x, size=(size, size), mode="area")
    return x, y


def load_fashion_mnist(
    root: str | Path = "/usr/share/datasets/fashion-mnist",
    split: str = "train",
    size: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fashion-MNIST from the idx files (Debian package ``dataset-fashion-mnist`` or the
    original ``*-ubyte.gz`` files)."""
    if split not in ("train", "test"):
        raise ConfigError(f"split: must be 'train' or 'test', got {split!r}")
    root = Path(root)
    prefix = "train" if split == "train" else "t10k"
    img = _find(root, f"{prefix}-images-idx3-ubyte")
    lab = _find(root, f"{prefix}-labels-idx1-ubyte")
    images = _read_idx(img)
    labels = _read_idx(lab)
    x = torch.tensor(images, dtype=torch.float32)[:, None] / 255.0
    if size is not None:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return x, torch.tensor(labels, dtype=torch.long)


def _find(root: Path, stem: str) -> Path:
    for cand in (root / stem, root / f"{stem}.gz"):
        if cand.exists():
            return cand
    raise FileNotFoundError(
        f"Fashion-MNIST: {stem}(.gz) not found under {root}; install the Debian package "
        "dataset-fashion-mnist or download the idx files"
    )


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        data = fh.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def split_classes(
    x: torch.Tensor, y: torch.Tensor, private: list[int] | range
) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """Split by class: private classes (target's training data) vs public ones (the attacker's
    auxiliary data), the protocol of GMI and its successors. Private labels are re-indexed
    0..len(private)-1 in the order given."""
    private = list(private)
    mask = torch.isin(y, torch.tensor(private))
    remap = {c: i for i, c in enumerate(private)}
    py = torch.tensor([remap[int(c)] for c in y[mask]], dtype=torch.long)
    return (x[mask], py), (x[~mask], y[~mask])


def train_test_split(
    x: torch.Tensor, y: torch.Tensor, test_fraction: float, seed: int
) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """Stratified split with a seeded generator."""
    if not 0.0 < test_fraction < 1.0:
        raise ConfigError(f"test_fraction: must lie in (0, 1), got {test_fraction}")
    g = torch.Generator().manual_seed(seed)
    test_idx = []
    for c in torch.unique(y):
        idx = torch.nonzero(y == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        test_idx.append(idx[: max(1, round(len(idx) * test_fraction))])
    test = torch.cat(test_idx)
    mask = torch.ones(len(y), dtype=torch.bool)
    mask[test] = False
    return (x[mask], y[mask]), (x[test], y[test])


def class_means(
    x: torch.Tensor, y: torch.Tensor, classes: torch.Tensor | list[int]
) -> torch.Tensor:
    """Mean image of each class in ``classes`` (for reports: what a class "looks like")."""
    out = []
    for c in classes:
        mask = y == int(c)
        if not bool(mask.any()):
            raise ConfigError(f"classes: class {int(c)} has no images")
        out.append(x[mask].mean(0))
    return torch.stack(out)
