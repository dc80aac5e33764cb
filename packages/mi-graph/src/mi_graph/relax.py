"""Relaxed adjacency over candidate node pairs: the projection and regularisers of GraphMI.

GraphMI (Zhang et al., IJCAI 2021) relaxes the binary adjacency to ``a in [0, 1]^P`` over the P
candidate pairs and keeps it feasible with a projected gradient step: after each step, ``a`` is
projected onto ``{a : 0 <= a <= 1, sum(a) <= m}`` where ``m`` is the edge budget (the expected
number of edges). Both regularisers of its objective are computed here on the pair vector, in
O(P) time, instead of on dense N x N matrices:

* sparsity: the Frobenius norm ``||a||_2``;
* feature smoothness: ``tr(X^T L~ X)`` with ``L~ = D~^-1/2 (D - A) D~^-1/2``,
  ``D~ = D + 1e-3 I`` (the reference code's form), which for pair weights ``a_ij`` equals
  ``sum_ij a_ij (G_ii r_i^2 + G_jj r_j^2 - 2 G_ij r_i r_j)``, ``G = X X^T``, ``r = diag(D~)^-1/2``.

:func:`descend` is the one optimisation loop of the relaxed-adjacency attacks: GraphMI (plain
projected gradient), MC-GRA (Adam steps, then the projection, as its reference code) and
RL-GraphMI (gradients estimated from hard-label queries) differ only in where the gradient comes
from and how the variable is kept feasible; the loop owns stepping, checkpoint / resume, the
non-finite check and the progress bar.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from mi_core.errors import ConfigError, NonFiniteOutputError
from mi_core.loop import ResumableLoop, TensorState

OPTIMIZERS = ("pgd", "adam")


def triu_pairs(k: int, device: Any = "cpu") -> torch.Tensor:
    """The ``(2, k (k - 1) / 2)`` index pairs ``i < j`` (row-major), on ``device``."""
    if k < 2:
        raise ConfigError(f"k: need at least two nodes to form pairs, got {k}")
    return torch.triu_indices(k, k, 1, device=device)


def symmetric_edges(pairs: torch.Tensor) -> torch.Tensor:
    """Both directions of each pair, as a PyG ``edge_index``: ``[pairs, flipped pairs]``."""
    return torch.cat([pairs, pairs.flip(0)], dim=1)


def pairs_to_matrix(values: torch.Tensor, pairs: torch.Tensor, k: int) -> torch.Tensor:
    """Symmetric ``(k, k)`` matrix with ``values`` at ``pairs`` (zero diagonal)."""
    out = torch.zeros(k, k, dtype=values.dtype, device=values.device)
    out[pairs[0], pairs[1]] = values
    out[pairs[1], pairs[0]] = values
    return out


@torch.no_grad()
def project_budget(a: torch.Tensor, budget: float, iters: int = 60) -> torch.Tensor:
    """Euclidean projection of ``a`` onto ``{0 <= a <= 1, sum(a) <= budget}`` (bisection on the
    shift ``mu`` in ``clamp(a - mu, 0, 1)``, as GraphMI's projected gradient does)."""
    if budget < 0:
        raise ConfigError(f"budget: must be >= 0, got {budget}")
    clipped = a.clamp(0, 1)
    if float(clipped.sum()) <= budget:
        return clipped
    lo, hi = float(a.min()) - 1.0, float(a.max())
    for _ in range(iters):
        mu = (lo + hi) / 2
        if float((a - mu).clamp(0, 1).sum()) > budget:
            lo = mu
        else:
            hi = mu
    return (a - hi).clamp(0, 1)


def node_degrees(a: torch.Tensor, pairs: torch.Tensor, k: int) -> torch.Tensor:
    """Weighted degree of each node under pair weights ``a``."""
    deg = torch.zeros(k, dtype=a.dtype, device=a.device)
    return deg.index_add(0, pairs[0], a).index_add(0, pairs[1], a)


def feature_smoothness(
    a: torch.Tensor, pairs: torch.Tensor, gram_diag: torch.Tensor, gram_pairs: torch.Tensor
) -> torch.Tensor:
    """GraphMI's feature-smoothness term ``tr(X^T L~ X)`` on pair weights (module docstring);
    ``gram_diag = diag(X X^T)``, ``gram_pairs = <x_i, x_j>`` for each pair."""
    k = gram_diag.shape[0]
    r = (node_degrees(a, pairs, k) + 1e-3).rsqrt()
    i, j = pairs
    per_pair = gram_diag[i] * r[i] ** 2 + gram_diag[j] * r[j] ** 2 - 2 * gram_pairs * r[i] * r[j]
    return (a * per_pair).sum()


def pair_gram(x: torch.Tensor, pairs: torch.Tensor, rows: int = 1024) -> torch.Tensor:
    """``<x_i, x_j>`` for each pair, computed in blocks of ``rows`` rows of ``X X^T``."""
    out = torch.empty(pairs.shape[1], dtype=x.dtype, device=x.device)
    i, j = pairs
    for r0 in range(0, x.shape[0], rows):
        sel = (i >= r0) & (i < r0 + rows)
        if not bool(sel.any()):
            continue
        block = x[r0 : r0 + rows] @ x.T
        out[sel] = block[i[sel] - r0, j[sel]]
    return out


def pair_entropy(a: torch.Tensor) -> torch.Tensor:
    """Information entropy ``-mean(a log2 a)`` of the relaxed pair weights: MC-GRA's complexity
    term ``S(A_hat)`` on the pair vector (its reference code takes it over the dense normalised
    adjacency); low when the weights are near 0 or 1."""
    p = a.clamp(1e-4, 1 - 1e-4)
    return -(p * torch.log2(p)).mean()


#: ``grad_fn(variable, step) -> (gradient, loss)``
GradFn = Callable[[torch.Tensor, int], tuple[torch.Tensor, float]]


def autograd_grad(objective: Callable[[torch.Tensor, int], torch.Tensor]) -> GradFn:
    """A :data:`GradFn` from a differentiable ``objective(variable, step) -> loss``."""

    def grad_fn(a: torch.Tensor, step: int) -> tuple[torch.Tensor, float]:
        av = a.detach().clone().requires_grad_(True)
        loss = objective(av, step)
        (grad,) = torch.autograd.grad(loss, av)
        return grad, float(loss.detach())

    return grad_fn


@dataclass
class Descent:
    """Outcome of :func:`descend`: the final variable, the last loss, the steps taken."""

    variable: torch.Tensor
    loss: float
    steps: int


def descend(
    init: torch.Tensor,
    grad_fn: GradFn,
    project: Callable[[torch.Tensor], torch.Tensor],
    *,
    steps: int,
    lr: float,
    optimizer: str = "pgd",
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    checkpoint: Any = None,
    checkpoint_every: int = 25,
    meta: Any = None,
    desc: str = "relaxed adjacency",
    progress: bool = True,
    state: dict[str, Any] | None = None,
) -> Descent:
    """Projected descent on a relaxed-adjacency variable (the loop of GraphMI, MC-GRA and
    RL-GraphMI).

    Each step asks ``grad_fn`` for a gradient (autograd, or an estimate from queries), takes a
    plain step (``"pgd"``, GraphMI: ``x - lr * g``) or an Adam step (``"adam"``, MC-GRA's
    reference optimiser), then ``project`` makes the variable feasible again (e.g.
    :func:`project_budget`). Checkpoints (variable, Adam moments, last loss) every
    ``checkpoint_every`` steps, with any further ``state`` (e.g. the generator an estimated
    gradient samples from); a rerun with the same ``checkpoint`` resumes.
    """
    if optimizer not in OPTIMIZERS:
        raise ConfigError(f"optimizer: unknown value {optimizer!r}; allowed values: {OPTIMIZERS}")
    x = init.detach().clone()
    m, v = torch.zeros_like(x), torch.zeros_like(x)
    tensors = TensorState(a=x, m=m, v=v, loss=torch.zeros((), device="cpu"))
    loop = ResumableLoop(
        steps,
        state={"attack": tensors, **(state or {})},
        checkpoint=checkpoint,
        every=checkpoint_every,
        meta=meta,
        desc=desc,
        progress=progress,
    )
    b1, b2 = betas
    for step in loop:
        grad, loss = grad_fn(x, step)
        if not (math.isfinite(loss) and bool(torch.isfinite(grad).all())):
            raise NonFiniteOutputError(
                f"{desc}: the loss or its gradient became NaN/inf at step {step}; lower lr "
                f"({lr}) or check the model's outputs"
            )
        with torch.no_grad():
            if optimizer == "pgd":
                x.copy_(project(x - lr * grad))
            else:
                t = step + 1
                m.mul_(b1).add_(grad, alpha=1 - b1)
                v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
                update = (m / (1 - b1**t)) / ((v / (1 - b2**t)).sqrt() + eps)
                x.copy_(project(x - lr * update))
        tensors["loss"].fill_(loss)
    return Descent(variable=x, loss=float(tensors["loss"]), steps=loop.step)
