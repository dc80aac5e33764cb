"""Image data: small sets that install offline, and loaders for the papers' data sets.

Every loader returns ``(x, y)`` with ``x`` a float tensor ``(N, C, H, W)`` in [0, 1] and ``y`` a
long tensor of class ids, so attacks and evaluators never care where images came from.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

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


# ---------------------------------------------------------------------------------------------
# Image sources for prior training: a tensor, a torch Dataset or a folder of image files
# ---------------------------------------------------------------------------------------------

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".ppm", ".webp", ".tif", ".tiff")


def _pil_to_tensor(img: Any, size: int | tuple[int, int] | None, channels: int) -> torch.Tensor:
    mode = "L" if channels == 1 else "RGB"
    img = img.convert(mode)
    if size is not None:
        from PIL import Image

        hw = (size, size) if isinstance(size, int) else size
        img = img.resize((hw[1], hw[0]), Image.Resampling.BILINEAR)
    arr = np.asarray(img, dtype=np.float32) / 255.0
    t = torch.from_numpy(arr.copy())
    return t[None] if channels == 1 else t.permute(2, 0, 1)


class ImageFolderDataset(Dataset):
    """Images under ``root`` loaded lazily with Pillow, resized to ``size`` and scaled to [0, 1].

    With ``labels="subfolder"`` each immediate sub-folder is a class (torchvision's ImageFolder
    layout, FaceScrub); ``labels=None`` yields images only (FFHQ); a mapping ``{file name: label}``
    labels files by name (CelebA's identity file).

    Args:
        crop: ``(top, left, height, width)`` cropped before resizing (CelebA's face crop).
    """

    def __init__(
        self,
        root: str | Path,
        size: int | tuple[int, int] | None = 64,
        channels: int = 3,
        labels: str | dict[str, int] | None = "subfolder",
        crop: tuple[int, int, int, int] | None = None,
        extensions: tuple[str, ...] = IMAGE_EXTENSIONS,
    ) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"root: {self.root} is not a directory of images")
        if channels not in (1, 3):
            raise ConfigError(f"channels: must be 1 or 3, got {channels}")
        self.size, self.channels, self.crop = size, channels, crop
        files = sorted(
            p for p in self.root.rglob("*") if p.is_file() and p.suffix.lower() in extensions
        )
        self.classes: list[str] = []
        targets: list[int] | None = None
        if labels == "subfolder":
            self.classes = sorted(
                {p.relative_to(self.root).parts[0] for p in files if p.parent != self.root}
            )
            index = {c: i for i, c in enumerate(self.classes)}
            files = [p for p in files if p.parent != self.root]
            targets = [index[p.relative_to(self.root).parts[0]] for p in files]
        elif isinstance(labels, dict):
            files = [p for p in files if p.name in labels]
            targets = [int(labels[p.name]) for p in files]
        elif labels is not None:
            raise ConfigError(
                f"labels: unknown value {labels!r}; allowed: 'subfolder', None or a dict "
                "{file name: label}"
            )
        if not files:
            raise FileNotFoundError(f"root: no images ({', '.join(extensions)}) under {self.root}")
        self.files = files
        self.targets = targets

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> Any:
        from PIL import Image

        with Image.open(self.files[i]) as img:
            if self.crop is not None:
                top, left, h, w = self.crop
                img = img.crop((left, top, left + w, top + h))
            x = _pil_to_tensor(img, self.size, self.channels)
        if self.targets is None:
            return x
        return x, self.targets[i]


def load_celeba(
    root: str | Path,
    size: int = 64,
    identity_file: str | Path | None = None,
    crop: tuple[int, int, int, int] | None = (55, 35, 108, 108),
) -> ImageFolderDataset:
    """CelebA aligned faces (``img_align_celeba/*.jpg``) with identities from
    ``identity_CelebA.txt`` (lines ``file id``), centre-cropped to 108x108 as in GMI / PLG-MI."""
    root = Path(root)
    img_dir = root / "img_align_celeba" if (root / "img_align_celeba").is_dir() else root
    labels: dict[str, int] | None = None
    if identity_file is None and (root / "identity_CelebA.txt").exists():
        identity_file = root / "identity_CelebA.txt"
    if identity_file is not None:
        labels = {}
        for line in Path(identity_file).read_text().splitlines():
            parts = line.split()
            if len(parts) == 2:
                labels[parts[0]] = int(parts[1])
    return ImageFolderDataset(img_dir, size, 3, labels, crop)


def load_ffhq(root: str | Path, size: int = 64) -> ImageFolderDataset:
    """FFHQ thumbnails / images (unlabelled public faces for priors)."""
    return ImageFolderDataset(root, size, 3, None)


def load_facescrub(root: str | Path, size: int = 64) -> ImageFolderDataset:
    """FaceScrub aligned faces: one sub-folder per identity (``actors/``, ``actresses/`` parents
    are descended into when present)."""
    root = Path(root)
    subs = [root / s for s in ("actors", "actresses") if (root / s).is_dir()]
    if not subs:
        return ImageFolderDataset(root, size, 3, "subfolder")
    datasets = [
        ImageFolderDataset(s / "faces" if (s / "faces").is_dir() else s, size) for s in subs
    ]
    merged = datasets[0]
    for extra in datasets[1:]:
        offset = len(merged.classes)
        merged.files = merged.files + extra.files
        assert merged.targets is not None and extra.targets is not None
        merged.targets = merged.targets + [t + offset for t in extra.targets]
        merged.classes = merged.classes + extra.classes
    return merged


class ImageSource:
    """Random batches of images ``(N, C, H, W)`` in [0, 1] from a tensor, a torch ``Dataset``
    (items are images or ``(image, label)``) or a folder path; seeded by a torch generator, so
    prior training resumes exactly.

    Args:
        size: resize to ``size x size`` when the data has another size.
        channels: convert to 1 or 3 channels when the data has the other count.
    """

    def __init__(self, data: Any, size: int | None = None, channels: int | None = None) -> None:
        if isinstance(data, str | Path):
            data = ImageFolderDataset(data, size or 64, channels or 3, labels=None)
        if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], torch.Tensor):
            data = data[0]
        if isinstance(data, np.ndarray):
            data = torch.as_tensor(data, device="cpu")
        if isinstance(data, torch.Tensor):
            if data.ndim == 3:
                data = data[:, None]
            if data.ndim != 4:
                raise ConfigError(
                    f"data: expected images (N, C, H, W), got shape {tuple(data.shape)}"
                )
            if data.dtype == torch.uint8:
                data = data.float() / 255.0
            self.tensor: torch.Tensor | None = data.float()
            self.dataset: Any = None
            n = data.shape[0]
        elif hasattr(data, "__getitem__") and hasattr(data, "__len__"):
            self.tensor, self.dataset = None, data
            n = len(data)
        else:
            raise ConfigError(
                f"data: give an image tensor (N, C, H, W), a torch Dataset or a folder path, "
                f"got {type(data).__name__}"
            )
        if n == 0:
            raise ConfigError("data: the image source is empty")
        self.n = n
        self.size, self.channels = size, channels
        self.shape = tuple(self.get(torch.tensor([0], device="cpu")).shape[1:])

    def __len__(self) -> int:
        return self.n

    def _fix(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels is not None and x.shape[1] != self.channels:
            if self.channels == 1:
                x = x.mean(1, keepdim=True)
            elif x.shape[1] == 1:
                x = x.expand(-1, self.channels, -1, -1)
            else:
                raise ConfigError(
                    f"channels: cannot turn {x.shape[1]} channels into {self.channels}"
                )
        if self.size is not None and tuple(x.shape[-2:]) != (self.size, self.size):
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
        return x

    def get(self, idx: torch.Tensor) -> torch.Tensor:
        """The images at indices ``idx`` (on the device the data are: the CPU for datasets and
        folders; callers move batches to their device)."""
        if self.tensor is not None:
            return self._fix(self.tensor[idx.to(self.tensor.device)])
        items = [self.dataset[int(i)] for i in idx]
        imgs = [it[0] if isinstance(it, tuple | list) else it for it in items]
        return self._fix(
            torch.stack([torch.as_tensor(im, dtype=torch.float32, device="cpu") for im in imgs])
        )

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return self.get(torch.randint(0, self.n, (n,), generator=generator, device="cpu"))

    def batches(self, batch_size: int = 256):
        """Every image once, in order (for scoring a public set with the target)."""
        for i in range(0, self.n, batch_size):
            yield self.get(torch.arange(i, min(self.n, i + batch_size), device="cpu"))

    def fingerprint(self) -> list[Any]:
        """A cheap identity of the data (size, shape, a checksum of a few images) for
        checkpoint metadata."""
        probe = self.get(torch.linspace(0, self.n - 1, min(self.n, 16), device="cpu").long())
        return [self.n, list(self.shape), round(float(probe.double().sum()), 4)]
