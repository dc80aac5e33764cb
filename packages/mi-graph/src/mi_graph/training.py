"""Training node classifiers the way the papers do, seeded.

GraphMI (Zhang et al. 2021) trains its GCN victim on 10% of the nodes for 200 epochs, keeping the
weights of the best validation loss (early stopping); link stealing and LinkTeller use the same
two-layer GCN recipe (Adam, lr 0.01, weight decay 5e-4, dropout 0.5).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from mi_core.config import check_positive, check_range
from mi_core.errors import ConfigError


@dataclass
class TrainConfig:
    """Full-batch node-classification training with early stopping on the validation loss.

    Attributes:
        train_ratio: share of nodes with training labels (GraphMI: 0.1).
        val_ratio: share of nodes for early stopping.
        epochs: epoch cap (GraphMI: 200).
        patience: stop after this many epochs without a lower validation loss; the best weights
            are restored.
    """

    train_ratio: float = 0.1
    val_ratio: float = 0.1
    epochs: int = 200
    patience: int = 50
    lr: float = 0.01
    weight_decay: float = 5e-4

    def __post_init__(self) -> None:
        check_range("train_ratio", self.train_ratio, 0.0, 1.0)
        check_range("val_ratio", self.val_ratio, 0.0, 1.0)
        if self.train_ratio + self.val_ratio >= 1:
            raise ConfigError(
                f"train_ratio + val_ratio: must be < 1 to leave test nodes, got "
                f"{self.train_ratio} + {self.val_ratio}"
            )
        check_positive("train_ratio", self.train_ratio)
        check_positive("epochs", self.epochs)
        check_positive("patience", self.patience)
        check_positive("lr", self.lr)
        check_positive("weight_decay", self.weight_decay, allow_zero=True)


@dataclass
class TrainReport:
    """Splits and accuracies of a training run."""

    train_idx: torch.Tensor
    val_idx: torch.Tensor
    test_idx: torch.Tensor
    epochs: int
    train_accuracy: float
    val_accuracy: float
    test_accuracy: float
    history: list[float] = field(default_factory=list)


def split_nodes(
    num_nodes: int, train_ratio: float, val_ratio: float, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random train / validation / test node ids (seeded, disjoint)."""
    rng = np.random.default_rng(seed)
    perm = torch.from_numpy(rng.permutation(num_nodes)).long()
    n_tr = max(1, round(train_ratio * num_nodes))
    n_va = max(1, round(val_ratio * num_nodes))
    return perm[:n_tr], perm[n_tr : n_tr + n_va], perm[n_tr + n_va :]


def _forward(model: nn.Module, data: Any) -> torch.Tensor:
    return model(data.x, data.edge_index)


@torch.no_grad()
def accuracy(model: nn.Module, data: Any, idx: torch.Tensor) -> float:
    """Accuracy of ``model`` on the nodes ``idx`` of ``data`` (eval mode)."""
    model.eval()
    pred = _forward(model, data).argmax(1)
    return float((pred[idx] == data.y[idx]).float().mean())


def train_node_classifier(
    model: nn.Module,
    data: Any,
    config: TrainConfig | None = None,
    *,
    seed: int = 0,
    progress: bool = True,
    desc: str = "training GNN",
    device: Any = None,
) -> TrainReport:
    """Train ``model(x, edge_index)`` on ``data`` (a PyG ``Data`` with ``y``); returns the splits
    and accuracies, with ``model`` in eval mode holding the best-validation weights. With
    ``device`` the model is moved there and trained on a copy of ``data`` moved there."""
    cfg = config or TrainConfig()
    if getattr(data, "y", None) is None:
        raise ConfigError("data.y: node labels are needed to train a node classifier")
    if device is not None:
        model.to(device)
        data = data.to(device)
    n = int(data.num_nodes)
    train_idx, val_idx, test_idx = split_nodes(n, cfg.train_ratio, cfg.val_ratio, seed)
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    best, bad, best_state, history = float("inf"), 0, None, []
    epochs = 0
    for _ in tqdm(range(cfg.epochs), desc=desc, disable=not progress, leave=False):
        epochs += 1
        model.train()
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(_forward(model, data)[train_idx], data.y[train_idx])
        loss.backward()
        opt.step()
        model.eval()
        with torch.no_grad():
            val_loss = float(F.cross_entropy(_forward(model, data)[val_idx], data.y[val_idx]))
        history.append(val_loss)
        if val_loss < best:
            best, bad = val_loss, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            bad += 1
            if bad >= cfg.patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return TrainReport(
        train_idx=train_idx,
        val_idx=val_idx,
        test_idx=test_idx,
        epochs=epochs,
        train_accuracy=accuracy(model, data, train_idx),
        val_accuracy=accuracy(model, data, val_idx),
        test_accuracy=accuracy(model, data, test_idx),
        history=history,
    )
