"""Training of image classifiers (targets and evaluation models), seeded and progress-barred."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from mi_core import device as devices
from mi_core.config import check_positive
from mi_core.errors import ConfigError


@dataclass
class TrainConfig:
    epochs: int = 30
    lr: float = 1e-3
    batch_size: int = 64
    weight_decay: float = 0.0
    augment_noise: float = 0.0  # std of Gaussian input noise (cheap augmentation)
    augment: str = "none"  # a preset of mi_vision.augment (crop, rotation, flip, jitter)

    def __post_init__(self) -> None:
        from mi_vision.augment import get_augment

        get_augment(self.augment, "augment")
        check_positive("epochs", self.epochs)
        check_positive("lr", self.lr)
        check_positive("batch_size", self.batch_size)
        check_positive("weight_decay", self.weight_decay, allow_zero=True)
        check_positive("augment_noise", self.augment_noise, allow_zero=True)


def train_classifier(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    config: TrainConfig | None = None,
    *,
    seed: int = 0,
    progress: bool = True,
    desc: str = "training",
) -> nn.Module:
    """Train ``model`` with Adam on ``(x, y)``; returns it in eval mode. Batches are moved to
    the device of the model's weights (random batches and noise are drawn on the CPU
    generator: the same on every device)."""
    cfg = config or TrainConfig()
    if x.shape[0] != y.shape[0]:
        raise ConfigError(f"x and y differ in length: {x.shape[0]} vs {y.shape[0]}")
    from mi_vision.augment import get_augment

    aug = get_augment(cfg.augment, "augment")
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    model.train()
    n = x.shape[0]
    dev = devices.module_device(model) or x.device
    for _ in tqdm(range(cfg.epochs), desc=desc, disable=not progress, leave=False):
        perm = torch.randperm(n, generator=g, device="cpu")
        for i in range(0, n, cfg.batch_size):
            idx = perm[i : i + cfg.batch_size]
            xb = x[idx.to(x.device)].to(dev)
            if aug is not None:
                xb = aug(xb, g)
            if cfg.augment_noise > 0:
                noise = devices.randn(xb.shape, generator=g, device=dev)
                xb = (xb + cfg.augment_noise * noise).clamp(0, 1)
            loss = F.cross_entropy(model(xb), y[idx.to(y.device)].to(dev))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return model.eval()


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 512) -> float:
    model.eval()
    correct = 0
    dev = devices.module_device(model) or x.device
    for i in range(0, x.shape[0], batch_size):
        pred = model(x[i : i + batch_size].to(dev)).argmax(1)
        correct += int((pred == y[i : i + batch_size].to(dev)).sum())
    return correct / max(1, x.shape[0])


def distill_classifier(
    student: nn.Module,
    x: torch.Tensor,
    teacher_probs: torch.Tensor,
    config: TrainConfig | None = None,
    *,
    temperature: float = 1.0,
    seed: int = 0,
    progress: bool = True,
    desc: str = "distilling",
) -> nn.Module:
    """Knowledge distillation (Hinton et al. 2015) of a teacher's soft labels ``teacher_probs``
    on images ``x`` into ``student``: KL(teacher || softmax(student / T)) * T^2. LOMMA's model
    augmentation trains its augmented models this way on public data."""
    cfg = config or TrainConfig()
    check_positive("temperature", temperature)
    if x.shape[0] != teacher_probs.shape[0]:
        raise ConfigError(
            f"x and teacher_probs differ in length: {x.shape[0]} vs {teacher_probs.shape[0]}"
        )
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    soft = teacher_probs.clamp_min(1e-8)
    if temperature != 1.0:
        soft = torch.softmax(soft.log() / temperature, dim=1)
    opt = torch.optim.Adam(student.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    student.train()
    n = x.shape[0]
    dev = devices.module_device(student) or x.device
    for _ in tqdm(range(cfg.epochs), desc=desc, disable=not progress, leave=False):
        perm = torch.randperm(n, generator=g, device="cpu")
        for i in range(0, n, cfg.batch_size):
            idx = perm[i : i + cfg.batch_size]
            logp = F.log_softmax(student(x[idx.to(x.device)].to(dev)) / temperature, dim=1)
            target = soft[idx.to(soft.device)].to(dev)
            loss = F.kl_div(logp, target, reduction="batchmean") * temperature**2
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return student.eval()
