"""Inversion models from released score vectors back to inputs (Yang et al. 2019-style
training-based inversion): the adversary that the learned output defenses train against
(Wen et al. 2021 [24]; Yang et al. 2020 [27]; Yang et al. 2023 [119]) and the black-box attack
the benchmark and tests measure them with.

An inversion model ``M`` maps a score vector ``s`` (through ``score_features``: the log of the
clipped scores, so that small scores count) to an input in the target's input range; it is
trained on auxiliary inputs and the outputs the target releases for them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from mi_core.config import check_positive
from mi_core.errors import ConfigError

SCORE_FLOOR = 1e-4


def score_features(scores: torch.Tensor) -> torch.Tensor:
    """What an inversion model reads of a score vector: ``log(max(s, 0) + 1e-4)``."""
    return torch.log(scores.clamp_min(0) + SCORE_FLOOR)


class InversionNet(nn.Module):
    """MLP decoder from a released vector to an input of shape ``out_shape`` in ``[lo, hi]``;
    ``reads="scores"`` reads probability vectors through :func:`score_features`,
    ``reads="features"`` reads real-valued features / embeddings as they are."""

    def __init__(
        self,
        num_classes: int,
        out_shape: tuple[int, ...],
        hidden: int = 256,
        input_range: tuple[float, float] = (0.0, 1.0),
        reads: str = "scores",
    ) -> None:
        super().__init__()
        if reads not in ("scores", "features"):
            raise ConfigError(f"reads: must be 'scores' or 'features', got {reads!r}")
        self.reads = reads
        self.out_shape = tuple(int(s) for s in out_shape)
        self.lo, self.hi = float(input_range[0]), float(input_range[1])
        self.net = nn.Sequential(
            nn.Linear(num_classes, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, math.prod(self.out_shape)),
        )

    def forward(self, scores: torch.Tensor) -> torch.Tensor:
        inp = score_features(scores) if self.reads == "scores" else scores
        out = torch.sigmoid(self.net(inp))
        return (self.lo + (self.hi - self.lo) * out).view(-1, *self.out_shape)


def scores_of(target: Any) -> Callable[[torch.Tensor], torch.Tensor]:
    """A function returning released scores: an ``nn.Module`` returning logits gets a softmax;
    a view or any other callable is called as is (it already releases scores)."""
    if isinstance(target, nn.Module):
        module = target.eval()

        def fn(x: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                return torch.softmax(module(x).float(), dim=-1)

        return fn
    if callable(target):

        def call(x: torch.Tensor) -> torch.Tensor:
            out = target(x)
            return torch.as_tensor(out, dtype=torch.float32)

        return call
    raise ConfigError(
        f"target: expected an nn.Module or a callable returning scores, got {type(target).__name__}"
    )


def batched(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, batch: int = 512):
    """``fn`` over ``x`` in batches, concatenated."""
    return torch.cat([fn(x[i : i + batch]) for i in range(0, x.shape[0], batch)])


def train_inversion(
    scores: torch.Tensor,
    x: torch.Tensor,
    *,
    epochs: int = 60,
    lr: float = 1e-3,
    batch_size: int = 64,
    hidden: int = 256,
    input_range: tuple[float, float] = (0.0, 1.0),
    reads: str = "scores",
    seed: int = 0,
    progress: bool = False,
) -> InversionNet:
    """Train ``M(scores) ~ x`` with MSE (the inversion adversary / attack)."""
    check_positive("epochs", epochs)
    if scores.shape[0] != x.shape[0]:
        raise ConfigError(f"scores and x differ in length: {scores.shape[0]} vs {x.shape[0]}")
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    net = InversionNet(scores.shape[1], tuple(x.shape[1:]), hidden, input_range, reads)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    s, xt = scores.float(), x.float()
    for _ in tqdm(range(epochs), desc="inversion model", disable=not progress, leave=False):
        perm = torch.randperm(xt.shape[0], generator=g)
        for i in range(0, xt.shape[0], batch_size):
            idx = perm[i : i + batch_size]
            loss = F.mse_loss(net(s[idx]), xt[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return net.eval()


def inversion_attack(
    view: Callable[[torch.Tensor], Any],
    x_aux: torch.Tensor,
    x_private: torch.Tensor,
    *,
    epochs: int = 60,
    seed: int = 0,
    input_range: tuple[float, float] = (0.0, 1.0),
    reads: str = "auto",
) -> dict[str, float]:
    """Black-box training-based inversion through a (possibly defended) view: query the view on
    auxiliary inputs, train an inversion model on the released outputs, invert the outputs the
    view releases for the private inputs. Returns the mean squared error of the reconstructions
    (lower = stronger attack) beside the no-model baseline (the mean auxiliary input), and
    ``leakage = 1 - mse / baseline``.

    ``reads="auto"`` lets the attacker adapt to the defense: it picks how to read the released
    vectors (log-scores or raw values) by the error on a fifth of its auxiliary data held out,
    then trains on all of it."""
    s_aux = torch.as_tensor(batched(lambda b: torch.as_tensor(view(b)), x_aux)).float()
    if reads == "auto":
        n_val = max(1, x_aux.shape[0] // 5)
        errs = {}
        for mode in ("scores", "features"):
            net = train_inversion(
                s_aux[n_val:],
                x_aux[n_val:],
                epochs=epochs,
                seed=seed,
                input_range=input_range,
                reads=mode,
            )
            with torch.no_grad():
                errs[mode] = float(((net(s_aux[:n_val]) - x_aux[:n_val]) ** 2).mean())
        reads = min(errs, key=lambda m: errs[m])
    net = train_inversion(
        s_aux, x_aux, epochs=epochs, seed=seed, input_range=input_range, reads=reads
    )
    s_priv = torch.as_tensor(batched(lambda b: torch.as_tensor(view(b)), x_private)).float()
    with torch.no_grad():
        rec = net(s_priv)
    mse = float(((rec - x_private) ** 2).flatten(1).mean(1).mean())
    base = float(((x_aux.mean(0, keepdim=True) - x_private) ** 2).flatten(1).mean(1).mean())
    if base <= 0:
        raise ConfigError("x_private: every private input equals the auxiliary mean; no baseline")
    return {"mse": mse, "baseline_mse": base, "leakage": 1.0 - mse / base, "reads": reads}
