"""What the training defenses share: finding a classifier's head and layers, capturing
intermediate representations, and one seeded training loop that every ``fit`` runs through
``wrap`` and ``loss`` (so ``fit`` is exactly what a user gets by wrapping their own loop)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from tqdm.auto import tqdm

from mi_core import device as devices
from mi_core.config import check_positive
from mi_core.defense import TrainingDefense
from mi_core.errors import ConfigError

HEAD_NAMES = ("head", "fc", "classifier", "linear", "out")


def find_head(module: nn.Module, head: str | None = None) -> tuple[nn.Module, str, nn.Linear]:
    """The classifier's final linear layer as ``(parent, attribute, layer)``.

    ``head`` names it by its dotted path (``"head"``, ``"classifier.2"``); otherwise the first of
    ``head``, ``fc``, ``classifier``, ``linear``, ``out`` that is (or ends with) an
    ``nn.Linear``, else the last ``nn.Linear`` registered in the module.
    """
    if head is not None:
        return _resolve(module, head)
    for name in HEAD_NAMES:
        sub = getattr(module, name, None)
        if isinstance(sub, nn.Linear):
            return module, name, sub
        if isinstance(sub, nn.Sequential) and len(sub) and isinstance(sub[-1], nn.Linear):
            return sub, str(len(sub) - 1), sub[-1]
    last = None
    for path, sub in module.named_modules():
        if isinstance(sub, nn.Linear):
            last = path
    if last is None:
        raise ConfigError(
            f"head: {type(module).__name__} has no nn.Linear layer to use as its classifier head; "
            "name the final layer with head='<attribute path>'"
        )
    return _resolve(module, last)


def _resolve(module: nn.Module, path: str) -> tuple[nn.Module, str, nn.Linear]:
    parent = module
    parts = path.split(".")
    for p in parts[:-1]:
        parent = getattr(parent, p, None)  # type: ignore[assignment]
        if parent is None:
            raise ConfigError(f"head: {path!r} is not a sub-module of {type(module).__name__}")
    layer = getattr(parent, parts[-1], None)
    if not isinstance(layer, nn.Linear):
        raise ConfigError(
            f"head: {path!r} is a {type(layer).__name__}, not an nn.Linear; name the final "
            "linear layer of the classifier"
        )
    return parent, parts[-1], layer


def param_layers(module: nn.Module) -> list[tuple[str, nn.Module]]:
    """Modules holding parameters directly, in registration order (input side first)."""
    out = []
    for name, sub in module.named_modules():
        if any(True for _ in sub.parameters(recurse=False)):
            out.append((name, sub))
    return out


class Capture:
    """Forward hooks recording the outputs of named sub-modules (latent representations)."""

    def __init__(self, module: nn.Module, names: Iterable[str]) -> None:
        self.outputs: dict[str, torch.Tensor] = {}
        self.handles = []
        subs = dict(module.named_modules())
        for name in names:
            if name not in subs:
                raise ConfigError(
                    f"layers: {name!r} is not a sub-module; choose among "
                    f"{[n for n in subs if n][:20]}"
                )
            self.handles.append(subs[name].register_forward_hook(self._hook(name)))

    def _hook(self, name: str) -> Any:
        def hook(_m: nn.Module, _inp: Any, out: Any) -> None:
            self.outputs[name] = out if isinstance(out, torch.Tensor) else out[0]

        return hook

    def remove(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles = []


def tensor_loader(
    x: torch.Tensor, y: torch.Tensor, batch_size: int, seed: int, shuffle: bool = True
) -> DataLoader:
    if x.shape[0] != y.shape[0]:
        raise ConfigError(f"x and y differ in length: {x.shape[0]} vs {y.shape[0]}")
    g = torch.Generator().manual_seed(seed)
    return DataLoader(  # the data stay on the CPU; batches are moved to the training device
        TensorDataset(
            torch.as_tensor(x, device="cpu").float(), torch.as_tensor(y, device="cpu").long()
        ),
        batch_size=batch_size,
        shuffle=shuffle,
        generator=g,
    )


def cpu_batches(loader: Iterable[Any]) -> Iterator[Any]:
    """The loader's batches, with the loader's own machinery (samplers, seeds, Poisson
    sampling) running on the CPU whatever torch's default device is: a data loader samples
    indices on the CPU; the training loop moves each batch to the device."""
    with torch.device("cpu"):
        it = iter(loader)
    while True:
        with torch.device("cpu"):
            try:
                batch = next(it)
            except StopIteration:
                return
        yield batch


def training_device(defense: Any) -> torch.device:
    """The device ``defense.config.device`` names (``auto``: CUDA when present, else the CPU)."""
    setting = getattr(defense.config, "device", "auto")
    return devices.get_device(setting, f"{defense.name}.config.device")


class ClassifierTrainingDefense(TrainingDefense):
    """A training defense for classifiers: ``wrap`` + ``loss`` and the ``fit`` that uses them."""

    modalities = ("image", "tabular", "text")

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor, inputs: Any = None) -> Any:
        """The defended loss; plain cross-entropy unless the method changes it."""
        return F.cross_entropy(outputs, targets)

    def before_fit(self, module: nn.Module, n: int, epochs: int) -> None:
        """Hook run before ``wrap`` in ``fit`` (e.g. DP-SGD needs the epochs for its budget)."""

    def start_epoch(self, epoch: int, epochs: int) -> None:
        """Hook run at the start of each epoch (schedules)."""

    def unwrap(self, module: nn.Module) -> nn.Module:
        """The user's module from what ``wrap`` returned."""
        return module

    def after_fit(self, module: nn.Module) -> None:
        """Hook run after training (remove hooks, report budgets)."""

    def fit(
        self,
        module: nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        *,
        epochs: int = 30,
        lr: float = 1e-3,
        batch_size: int = 64,
        weight_decay: float = 0.0,
        optimizer: str = "adam",
        seed: int = 0,
        progress: bool = True,
    ) -> nn.Module:
        """Train ``module`` on ``(x, y)`` under this defense and return it in eval mode.

        The loop is the one a user would write around ``wrap``: build a loader and an
        optimizer, ``module, optimizer, loader = defense.wrap(...)``, then minimise
        ``defense.loss(module(xb), yb, xb)``. The module trains on ``config.device`` (moved
        there; it stays there), the data stay on the CPU and each batch is moved.
        """
        check_positive("epochs", epochs)
        check_positive("lr", lr)
        check_positive("batch_size", batch_size)
        dev = training_device(self)
        module.to(dev)
        torch.manual_seed(seed)
        loader = tensor_loader(x, y, batch_size, seed)
        self.before_fit(module, int(x.shape[0]), epochs)
        if optimizer == "adam":
            opt: torch.optim.Optimizer = torch.optim.Adam(
                module.parameters(), lr=lr, weight_decay=weight_decay
            )
        elif optimizer == "sgd":
            opt = torch.optim.SGD(
                module.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay
            )
        else:
            raise ConfigError(f"optimizer: unknown value {optimizer!r}; allowed: 'adam', 'sgd'")
        model, opt, loader = self.wrap(module, opt, loader)
        model.train()
        for epoch in tqdm(range(epochs), desc=self.name, disable=not progress, leave=False):
            self.start_epoch(epoch, epochs)
            for xb, yb in cpu_batches(loader):
                if xb.shape[0] == 0:  # Poisson sampling may draw an empty batch
                    continue
                xb, yb = xb.to(dev), yb.to(dev)
                loss = self.loss(model(xb), yb, xb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        trained = self.unwrap(model)
        self.after_fit(trained)
        return trained.eval()


def rebuild_optimizer(optimizer: torch.optim.Optimizer, params: Any) -> torch.optim.Optimizer:
    """The same optimizer class and hyper-parameters over new parameters."""
    return type(optimizer)(params, **optimizer.defaults)


@dataclass
class NoConfig:
    """No hyper-parameters, only where to train.

    Attributes:
        device: where to train: ``auto`` (CUDA when present, else the CPU), ``cpu``, ``cuda`` or
            ``cuda:N``; the module is moved there and stays there.
    """

    device: str = "auto"

    def __post_init__(self) -> None:
        devices.check_device(self.device)


class PlainTraining(ClassifierTrainingDefense):
    """Undefended training with the same loop (cross-entropy): the baseline of every training
    defense, and TL-DMI's public pre-training."""

    name = "none"
    summary = "plain cross-entropy training (no defense)"
    Config = NoConfig
