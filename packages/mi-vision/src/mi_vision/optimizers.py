"""Latent optimizers and the one search loop every image attack runs (survey Sec. IV-A-4).

Rows of a search are independent candidates, each tied to a target class; all target classes
are optimised in one batch. An optimizer advances its candidates one step at a time:

* :class:`GradientOptimizer`: momentum SGD (GMI, Nesterov as in its code) or Adam (PLG-MI, PPA,
  Mirror-w); gradient steps on latents or pixels (MI-Face), with per-row freezing;
* :class:`DistributionOptimizer`: a Gaussian ``N(mu, sigma^2)`` per row, optimised through the
  reparameterisation trick (KEDMI's distributional recovery), optional KL term;
* :class:`GeneticOptimizer`: a population per row, elitism, uniform crossover and Gaussian
  mutation, fitness from black-box scores (Mirror-b);
* :class:`BoundaryRepulsion`: zeroth-order steps away from the class boundary from hard labels
  only, with a growing sphere radius (BREP-MI, survey Eq. 6);
* :class:`ZerothOrderOptimizer`: gradient estimation from black-box losses on a sphere of fixed
  radius, then Adam (BMI-S, survey Eq. 6 with the CE loss in place of the label indicator);
* :class:`SoftActorCritic`: one SAC agent per row whose actions are latents, rewarded by
  black-box scores (RLB-MI); the agents of all rows are batched.

:func:`run_search` drives any of them through :class:`mi_core.loop.ResumableLoop` (checkpoint,
resume, progress), tracks the best candidate per row, applies an optional per-row stopping rule
and stops before a query budget would be overspent. :func:`l1_ball` is a projection that keeps
latents in an L1 ball around their start (IF-GMI).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mi_core import device as devices
from mi_core.config import check_choice, check_positive, check_range
from mi_core.errors import ConfigError, NonFiniteOutputError
from mi_core.loop import GeneratorState, ResumableLoop, TensorState

Latents = torch.Tensor
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
OracleFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class SearchProblem:
    """What a latent search optimises.

    Attributes:
        classes: ``(N,)`` target class of each row.
        rng: the torch generator every random draw of the search uses (checkpointed).
        loss: ``(latents, classes) -> (M,)`` per-row loss, lower is better (differentiable for
            gradient optimizers; evaluated without gradients for black-box ones).
        in_class: label-only oracle ``(latents, classes) -> (M,) bool``: is the target's label
            the row's class (BREP-MI).
        remaining: items the target view may still answer (``None``: unlimited).
        precision: ``fp32``, or ``bf16`` / ``fp16``: the loss's forward pass runs under
            ``torch.autocast`` (:func:`mi_core.device.autocast`); losses come back in float32.

    Tensors live on the device of ``classes`` (the latents' device); ``rng`` is a CPU generator
    whose draws are moved there (the same draws on every device).
    """

    classes: torch.Tensor
    rng: torch.Generator
    loss: LossFn | None = None
    in_class: OracleFn | None = None
    remaining: Callable[[], int | None] | None = None
    precision: str = "fp32"

    def need_loss(self, who: str) -> LossFn:
        if self.loss is None:
            raise ConfigError(f"{who}: needs a loss; the search problem has none")
        loss, precision = self.loss, self.precision
        if precision == "fp32":
            return loss
        device = self.classes.device

        def mixed(latents: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
            with devices.autocast(device, precision):
                out = loss(latents, classes)
            return out.float()

        return mixed


@dataclass
class StepReport:
    """Rows ``rows`` were evaluated at ``latents`` with ``losses`` during a step."""

    rows: torch.Tensor
    latents: torch.Tensor
    losses: torch.Tensor


class LatentOptimizer:
    """Base class: ``candidates()`` are the current latents ``(N, *)``; ``step`` advances the
    active rows and reports what it evaluated (for best-candidate tracking)."""

    #: rows the optimizer itself declares finished (e.g. BREP-MI's radius rule)
    finished: torch.Tensor | None = None

    def candidates(self) -> torch.Tensor:
        raise NotImplementedError

    def step(self, problem: SearchProblem, active: torch.Tensor) -> StepReport | None:
        raise NotImplementedError

    def queries_per_step(self, n_active: int) -> int:
        """Target items one step queries (for budget checks)."""
        return n_active

    def state_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def load_state_dict(self, state: dict[str, Any]) -> None:
        raise NotImplementedError


def _check_finite(losses: torch.Tensor, who: str) -> None:
    if not bool(torch.isfinite(losses).all()):
        raise NonFiniteOutputError(
            f"{who}: the loss became NaN/inf; lower the learning rate or check the target"
        )


class GradientOptimizer(LatentOptimizer):
    """Gradient descent on latents: ``sgd`` (momentum, Nesterov as in GMI's code) or ``adam``.

    Rows that are inactive keep their values (their optimizer state does not move them).
    ``project`` maps latents back to the feasible set after each step (clipping)."""

    def __init__(
        self,
        latents: torch.Tensor,
        kind: str = "adam",
        lr: float = 0.01,
        momentum: float = 0.9,
        betas: tuple[float, float] = (0.9, 0.999),
        project: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        check_choice("optimizer", kind, ("adam", "sgd"))
        check_positive("lr", lr)
        check_range("momentum", momentum, 0.0, 0.999)
        self.z = latents.detach().clone().requires_grad_(True)
        self.project = project
        if kind == "adam":
            self.opt: torch.optim.Optimizer = torch.optim.Adam([self.z], lr=lr, betas=betas)
        else:
            self.opt = torch.optim.SGD([self.z], lr=lr, momentum=momentum, nesterov=momentum > 0)

    def candidates(self) -> torch.Tensor:
        return self.z.detach()

    def step(self, problem: SearchProblem, active: torch.Tensor) -> StepReport:
        loss_fn = problem.need_loss("GradientOptimizer")
        rows = torch.nonzero(active).flatten()
        all_active = rows.numel() == active.numel()
        before = self.z.detach().clone()
        za = self.z if all_active else self.z[rows]
        losses = loss_fn(za, problem.classes[rows])
        _check_finite(losses, "GradientOptimizer")
        self.opt.zero_grad(set_to_none=True)
        losses.sum().backward()
        self.opt.step()
        with torch.no_grad():
            if not all_active:
                keep = ~active
                self.z[keep] = before[keep]
            if self.project is not None:
                self.z.copy_(self.project(self.z))
        return StepReport(rows, before[rows], losses.detach())

    def state_dict(self) -> dict[str, Any]:
        return {"z": self.z.detach().clone(), "opt": self.opt.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        with torch.no_grad():
            self.z.copy_(state["z"])
        self.opt.load_state_dict(state["opt"])


class DistributionOptimizer(LatentOptimizer):
    """KEDMI's distributional recovery (Chen et al. 2021): a learnable Gaussian per row,
    ``z = mu + exp(logvar / 2) * eps``, optimised with Adam through the reparameterisation trick;
    ``samples`` draws per row and step; ``kl_weight`` adds KL(N(mu, sigma) || N(0, I)) (VMI)."""

    def __init__(
        self,
        mu: torch.Tensor,
        lr: float = 0.02,
        init_logvar: float = 0.0,
        samples: int = 1,
        kl_weight: float = 0.0,
        project: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        check_positive("lr", lr)
        check_positive("samples", samples)
        check_positive("kl_weight", kl_weight, allow_zero=True)
        self.mu = mu.detach().clone().requires_grad_(True)
        self.logvar = torch.full_like(self.mu, float(init_logvar)).requires_grad_(True)
        self.samples, self.kl_weight, self.project = samples, kl_weight, project
        self.opt = torch.optim.Adam([self.mu, self.logvar], lr=lr)

    def candidates(self) -> torch.Tensor:
        return self.mu.detach()

    def draw(self, k: int, rng: torch.Generator, rows: torch.Tensor | None = None) -> torch.Tensor:
        """``k`` latents per row, ``(len(rows) * k, *)`` grouped by row (differentiable)."""
        mu = self.mu if rows is None else self.mu[rows]
        logvar = self.logvar if rows is None else self.logvar[rows]
        eps = devices.randn((mu.shape[0], k, *mu.shape[1:]), generator=rng, device=mu.device)
        z = (mu[:, None] + (0.5 * logvar[:, None]).exp() * eps).flatten(0, 1)
        return self.project(z) if self.project is not None else z

    def step(self, problem: SearchProblem, active: torch.Tensor) -> StepReport:
        from mi_vision.losses import kl_standard_normal

        loss_fn = problem.need_loss("DistributionOptimizer")
        rows = torch.nonzero(active).flatten()
        before = self.mu.detach()[rows].clone()
        z = self.draw(self.samples, problem.rng, rows)
        cls = problem.classes[rows].repeat_interleave(self.samples)
        losses = loss_fn(z, cls).view(rows.numel(), self.samples).mean(1)
        if self.kl_weight > 0:
            losses = losses + self.kl_weight * kl_standard_normal(self.mu[rows], self.logvar[rows])
        _check_finite(losses, "DistributionOptimizer")
        self.opt.zero_grad(set_to_none=True)
        losses.sum().backward()
        self.opt.step()
        return StepReport(rows, before, losses.detach())

    def queries_per_step(self, n_active: int) -> int:
        return n_active * self.samples

    def state_dict(self) -> dict[str, Any]:
        return {
            "mu": self.mu.detach().clone(),
            "logvar": self.logvar.detach().clone(),
            "opt": self.opt.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        with torch.no_grad():
            self.mu.copy_(state["mu"])
            self.logvar.copy_(state["logvar"])
        self.opt.load_state_dict(state["opt"])


class GeneticOptimizer(LatentOptimizer):
    """Genetic search per row (Mirror-b, An et al. 2022): ``population (N, P, *)``; each
    generation keeps the ``elite`` fittest, breeds the rest from parents drawn from the fitter
    half (uniform crossover) and mutates each gene with probability ``mutation_prob`` by
    ``N(0, mutation_std^2)``. Fitness is ``-loss`` of black-box scores; only new children are
    queried."""

    def __init__(
        self,
        population: torch.Tensor,
        elite: int = 2,
        mutation_prob: float = 0.1,
        mutation_std: float | torch.Tensor = 0.2,
        project: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        """``mutation_std`` may be a tensor broadcasting over a latent (a scale per dimension)."""
        if population.ndim < 3:
            raise ConfigError("population: expected (rows, population, *latent)")
        p = population.shape[1]
        if not 1 <= elite < p:
            raise ConfigError(
                f"elite: must lie in [1, {p - 1}] for a population of {p}, got {elite}"
            )
        check_range("mutation_prob", mutation_prob, 0.0, 1.0)
        dev = population.device
        if isinstance(mutation_std, torch.Tensor):
            mutation_std = mutation_std.to(dev)
        if not bool((torch.as_tensor(mutation_std, device=dev) >= 0).all()):
            raise ConfigError(f"mutation_std: must be >= 0, got {mutation_std!r}")
        self.pop = population.detach().clone()
        self.fit = torch.full(self.pop.shape[:2], float("nan"), device=dev)
        self.elite, self.mp, self.ms, self.project = elite, mutation_prob, mutation_std, project

    def candidates(self) -> torch.Tensor:
        best = torch.nan_to_num(self.fit, nan=float("-inf")).argmax(1)
        return self.pop[torch.arange(self.pop.shape[0], device=best.device), best]

    def _score(self, problem: SearchProblem, lat: torch.Tensor, cls: torch.Tensor) -> torch.Tensor:
        loss_fn = problem.need_loss("GeneticOptimizer")
        with torch.no_grad():
            return -loss_fn(lat, cls)

    def step(self, problem: SearchProblem, active: torch.Tensor) -> StepReport:
        rows = torch.nonzero(active).flatten()
        r, p = rows.numel(), self.pop.shape[1]
        pop, fit = self.pop[rows], self.fit[rows]
        if bool(torch.isnan(fit).any()):  # first generation: score everybody
            cls = problem.classes[rows].repeat_interleave(p)
            fit = self._score(problem, pop.flatten(0, 1), cls).view(r, p)
        order = fit.argsort(dim=1, descending=True)
        pop = torch.gather(pop, 1, order.view(r, p, *([1] * (pop.ndim - 2))).expand_as(pop))
        fit = torch.gather(fit, 1, order)
        n_child, half = p - self.elite, max(2, p // 2)
        g, dev = problem.rng, pop.device
        pa = devices.randint(0, half, (r, n_child), generator=g, device=dev)
        pb = devices.randint(0, half, (r, n_child), generator=g, device=dev)
        idx = torch.arange(r, device=dev)[:, None]
        a, b = pop[idx, pa], pop[idx, pb]
        mask = devices.rand(a.shape, generator=g, device=dev) < 0.5
        child = torch.where(mask, a, b)
        mut = devices.rand(child.shape, generator=g, device=dev) < self.mp
        child = child + mut * self.ms * devices.randn(child.shape, generator=g, device=dev)
        if self.project is not None:
            child = self.project(child.flatten(0, 1)).view_as(child)
        cls = problem.classes[rows].repeat_interleave(n_child)
        child_fit = self._score(problem, child.flatten(0, 1), cls).view(r, n_child)
        self.pop[rows] = torch.cat([pop[:, : self.elite], child], 1)
        self.fit[rows] = torch.cat([fit[:, : self.elite], child_fit], 1)
        best = self.fit[rows].argmax(1)
        return StepReport(rows, self.pop[rows, best].clone(), -self.fit[rows, best])

    def queries_per_step(self, n_active: int) -> int:
        if bool(torch.isnan(self.fit).any()):
            return n_active * self.pop.shape[1] * 2
        return n_active * (self.pop.shape[1] - self.elite)

    def state_dict(self) -> dict[str, Any]:
        return {"pop": self.pop.clone(), "fit": self.fit.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.pop.copy_(state["pop"])
        self.fit.copy_(state["fit"])


class BoundaryRepulsion(LatentOptimizer):
    """BREP-MI's zeroth-order ascent from hard labels (Kahla et al. 2022; survey Eq. 6).

    Each step samples ``points`` directions ``u_i`` on a sphere of radius ``r`` around a row's
    latent ``z`` (which the target labels as the row's class), estimates
    ``g = 1/N sum_i Phi_c(z + r u_i) u_i`` with ``Phi_c = 0`` inside the class and ``-1``
    outside, and steps ``z <- clip(z + min(r/3, 3) g / r)`` when the new point stays in the
    class. When more than ``expand_fraction`` of the sphere lies inside the class the radius
    grows by ``expansion``; a row finishes after ``patience`` steps without growth."""

    def __init__(
        self,
        latents: torch.Tensor,
        points: int = 32,
        radius: float = 2.0,
        expansion: float = 1.3,
        expand_fraction: float = 0.75,
        clip: float | None = 1.5,
        patience: int = 100,
        max_radius: float = 100.0,
    ) -> None:
        check_positive("points", points)
        check_positive("radius", radius)
        if expansion <= 1.0:
            raise ConfigError(f"expansion: must be > 1, got {expansion}")
        check_range("expand_fraction", expand_fraction, 0.0, 1.0)
        check_positive("patience", patience)
        n = latents.shape[0]
        self.z = latents.detach().clone()
        dev = self.z.device
        self.radius = torch.full((n,), float(radius), device=dev)
        self.since = torch.zeros(n, dtype=torch.long, device=dev)
        self.finished = torch.zeros(n, dtype=torch.bool, device=dev)
        self.points, self.expansion, self.fraction = points, expansion, expand_fraction
        self.clip, self.patience, self.max_radius = clip, patience, max_radius

    def candidates(self) -> torch.Tensor:
        return self.z

    def step(self, problem: SearchProblem, active: torch.Tensor) -> StepReport | None:
        if problem.in_class is None:
            raise ConfigError("BoundaryRepulsion: needs a label-only oracle (in_class)")
        rows = torch.nonzero(active & ~self.finished).flatten()
        if rows.numel() == 0:
            return None
        z, r = self.z[rows], self.radius[rows]
        shape = (rows.numel(), self.points, *z.shape[1:])
        u = devices.randn(shape, generator=problem.rng, device=z.device)
        u = u / u.flatten(2).norm(dim=2).view(*shape[:2], *([1] * (z.ndim - 1)))
        rr = r.view(-1, 1, *([1] * (z.ndim - 1)))
        pts = (z[:, None] + rr * u).flatten(0, 1)
        cls = problem.classes[rows]
        inside = problem.in_class(pts, cls.repeat_interleave(self.points)).view(shape[:2]).float()
        grow = inside.mean(1) > self.fraction
        phi = inside - 1.0  # repulsion only: 0 inside, -1 outside
        grad = (phi.view(*shape[:2], *([1] * (z.ndim - 1))) * u).mean(1)
        step = torch.clamp(r / 3.0, max=3.0).view(-1, *([1] * (z.ndim - 1)))
        z_new = z + step * grad  # u is a unit vector: this is Eq. 6's estimate divided by r
        if self.clip is not None:
            z_new = z_new.clamp(-self.clip, self.clip)
        ok = problem.in_class(z_new, cls).bool()
        self.z[rows[ok]] = z_new[ok]
        self.radius[rows[grow]] = self.radius[rows[grow]] * self.expansion
        self.since[rows] = torch.where(
            grow, torch.zeros_like(self.since[rows]), self.since[rows] + 1
        )
        self.finished[rows] = (self.since[rows] >= self.patience) | (
            self.radius[rows] > self.max_radius
        )
        return None

    def queries_per_step(self, n_active: int) -> int:
        return n_active * (self.points + 1)

    def state_dict(self) -> dict[str, Any]:
        return {
            "z": self.z.clone(),
            "radius": self.radius.clone(),
            "since": self.since.clone(),
            "finished": self.finished.clone(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for k in ("z", "radius", "since", "finished"):
            getattr(self, k).copy_(state[k])


class ZerothOrderOptimizer(LatentOptimizer):
    """Gradient estimation from black-box losses (BMI-S, Xu et al. 2023; survey Eq. 6 with the
    cross-entropy loss of soft labels in place of BREP-MI's label indicator and a fixed radius).

    Each step samples ``points`` unit directions ``u_i`` per row, evaluates the loss at
    ``z + r u_i`` and at ``z`` (``points + 1`` queries per row), estimates
    ``g = d / (N r) sum_i (L(z + r u_i) - L(z)) u_i`` (the gradient of the loss smoothed over the
    sphere) and feeds it to Adam at step ``lr``; ``project`` maps the latents back after each
    step. The reported loss is ``L(z)``, exact for best tracking."""

    def __init__(
        self,
        latents: torch.Tensor,
        points: int = 16,
        radius: float = 0.5,
        lr: float = 0.05,
        project: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        check_positive("points", points)
        check_positive("radius", radius)
        check_positive("lr", lr)
        self.z = latents.detach().clone().requires_grad_(True)
        self.points, self.radius, self.project = points, radius, project
        self.opt = torch.optim.Adam([self.z], lr=lr)

    def candidates(self) -> torch.Tensor:
        return self.z.detach()

    def step(self, problem: SearchProblem, active: torch.Tensor) -> StepReport:
        loss_fn = problem.need_loss("ZerothOrderOptimizer")
        rows = torch.nonzero(active).flatten()
        z = self.z.detach()[rows]
        shape = (rows.numel(), self.points, *z.shape[1:])
        u = devices.randn(shape, generator=problem.rng, device=z.device)
        u = u / u.flatten(2).norm(dim=2).view(*shape[:2], *([1] * (z.ndim - 1)))
        pts = (z[:, None] + self.radius * u).flatten(0, 1)
        cls = problem.classes[rows]
        with torch.no_grad():
            here = loss_fn(z, cls)
            around = loss_fn(pts, cls.repeat_interleave(self.points)).view(shape[:2])
        _check_finite(around, "ZerothOrderOptimizer")
        diff = (around - here[:, None]).view(*shape[:2], *([1] * (z.ndim - 1)))
        dim = z[0].numel()
        grad = torch.zeros_like(self.z)
        grad[rows] = dim / self.radius * (diff * u).mean(1)
        before = self.z.detach().clone()
        self.opt.zero_grad(set_to_none=True)
        self.z.grad = grad
        self.opt.step()
        with torch.no_grad():
            keep = ~active
            if bool(keep.any()):
                self.z[keep] = before[keep]  # finished rows stay (Adam's momentum would move them)
            if self.project is not None:
                self.z.copy_(self.project(self.z))
        return StepReport(rows, z.clone(), here)

    def queries_per_step(self, n_active: int) -> int:
        return n_active * (self.points + 1)

    def state_dict(self) -> dict[str, Any]:
        return {"z": self.z.detach().clone(), "opt": self.opt.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        with torch.no_grad():
            self.z.copy_(state["z"])
        self.opt.load_state_dict(state["opt"])


def l1_ball(
    center: torch.Tensor, radius: torch.Tensor | float
) -> Callable[[torch.Tensor], torch.Tensor]:
    """A projection keeping each row within L1 distance ``radius`` (a float or one per row) of
    its row of ``center`` (IF-GMI's constraint on each intermediate space; the projection onto
    the L1 ball by sorting, Duchi et al. 2008)."""
    c = center.detach().clone()
    r = torch.as_tensor(radius, dtype=c.dtype, device=c.device).reshape(-1)
    if bool((r < 0).any()):
        raise ConfigError("radius: the L1 ball needs a radius >= 0")

    def project(x: torch.Tensor) -> torch.Tensor:
        d = (x - c).flatten(1)
        rad = r.expand(d.shape[0])
        a = d.abs()
        inside = a.sum(1) <= rad
        mu = a.sort(dim=1, descending=True).values
        css = mu.cumsum(1)
        j = torch.arange(1, d.shape[1] + 1, dtype=d.dtype, device=d.device)
        cond = mu * j > (css - rad[:, None])
        rho = cond.long().cumsum(1).argmax(1)  # the last index where cond holds
        theta = (css.gather(1, rho[:, None]).squeeze(1) - rad) / (rho + 1).to(d.dtype)
        proj = d.sign() * (a - theta.clamp_min(0)[:, None]).clamp_min(0)
        d = torch.where(inside[:, None], d, proj)
        return c + d.view_as(x)

    return project


class BatchedMLP(nn.Module):
    """``n`` independent MLPs evaluated in one batched matrix product: input ``(n, B, in)``."""

    def __init__(
        self,
        n: int,
        sizes: list[int],
        generator: torch.Generator | None = None,
        device: Any = "cpu",
    ) -> None:
        super().__init__()
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for a, b in itertools.pairwise(sizes):  # drawn on the CPU generator, then moved
            bound = 1.0 / math.sqrt(a)
            w = torch.empty(n, a, b, device="cpu").uniform_(-bound, bound, generator=generator)
            bias = torch.empty(n, 1, b, device="cpu").uniform_(-bound, bound, generator=generator)
            self.weights.append(nn.Parameter(w.to(device)))
            self.biases.append(nn.Parameter(bias.to(device)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            x = torch.baddbmm(b, x, w)
            if i < last:
                x = F.relu(x)
        return x


class SoftActorCritic(LatentOptimizer):
    """RLB-MI's agents (Han et al. 2023): one Soft Actor-Critic (Haarnoja et al. 2018) per row,
    batched. An episode samples a state ``s ~ N(0, I)``; the actor proposes an action ``a`` (a
    tanh-squashed Gaussian latent); the next state is ``s' = alpha s + (1 - alpha) a`` and
    ``reward_fn`` turns the target's scores of ``G(s')`` and ``G(a)`` into a reward. Episodes
    have one step (the paper's ``max_step=1``), so every transition is terminal and the twin
    critics regress the reward; the actor maximises ``min(Q1, Q2) - temperature * log pi`` and
    the temperature is tuned towards entropy ``-dim``. One update per episode after ``warmup``
    episodes, from a replay buffer. Candidates are the best-scored next states seen (no extra
    queries)."""

    def __init__(
        self,
        n: int,
        dim: int,
        reward_fn: Callable[
            [torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
            tuple[torch.Tensor, torch.Tensor],
        ],
        *,
        hidden: int = 256,
        lr: float = 5e-4,
        alpha: float = 0.0,
        batch_size: int = 64,
        capacity: int = 10000,
        warmup: int = 64,
        generator: torch.Generator | None = None,
        device: Any = "cpu",
    ) -> None:
        check_positive("hidden", hidden)
        check_positive("lr", lr)
        check_range("alpha", alpha, 0.0, 1.0)
        check_positive("batch_size", batch_size)
        check_positive("capacity", capacity)
        self.n, self.dim = n, dim
        self.reward_fn = reward_fn
        self.alpha, self.bs = alpha, batch_size
        self.capacity, self.warmup = capacity, warmup
        dev = self.device = torch.device(device)
        self.actor = BatchedMLP(n, [dim, hidden, hidden, 2 * dim], generator, dev)
        self.q1 = BatchedMLP(n, [2 * dim, hidden, hidden, 1], generator, dev)
        self.q2 = BatchedMLP(n, [2 * dim, hidden, hidden, 1], generator, dev)
        self.log_temp = torch.zeros(n, device=dev, requires_grad=True)
        self.target_entropy = -float(dim)
        self.opt_actor = torch.optim.Adam(self.actor.parameters(), lr=lr)
        self.opt_q = torch.optim.Adam([*self.q1.parameters(), *self.q2.parameters()], lr=lr)
        self.opt_temp = torch.optim.Adam([self.log_temp], lr=lr)
        self.buf = {
            "s": torch.zeros(n, capacity, dim, device=dev),
            "a": torch.zeros(n, capacity, dim, device=dev),
            "r": torch.zeros(n, capacity, device=dev),
        }
        self.count = torch.zeros((), dtype=torch.long, device="cpu")  # read every step
        self.best = torch.zeros(n, dim, device=dev)
        self.best_score = torch.full((n,), float("-inf"), device=dev)

    def _policy(
        self, s: torch.Tensor, rng: torch.Generator | None, deterministic: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.actor(s)
        mean, log_std = out[..., : self.dim], out[..., self.dim :].clamp(-20, 2)
        std = log_std.exp()
        pre = (
            mean
            if deterministic
            else mean + std * devices.randn(mean.shape, generator=rng, device=mean.device)
        )
        a = torch.tanh(pre)
        logp = (-0.5 * ((pre - mean) / std) ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(
            -1
        ) - torch.log(1 - a.pow(2) + 1e-6).sum(-1)
        return a, logp

    def act(self, s: torch.Tensor) -> torch.Tensor:
        """Deterministic actions ``(n, B, dim)`` of every agent for states ``(n, B, dim)``."""
        with torch.no_grad():
            return self._policy(s, None, deterministic=True)[0]

    def candidates(self) -> torch.Tensor:
        return self.best

    def step(self, problem: SearchProblem, active: torch.Tensor) -> StepReport:
        g = problem.rng
        s = devices.randn(self.n, 1, self.dim, generator=g, device=self.device)
        with torch.no_grad():
            a, _ = self._policy(s, g)
        s2 = self.alpha * s + (1 - self.alpha) * a
        reward, score = self.reward_fn(s2[:, 0], a[:, 0], problem.classes, active)
        i = int(self.count) % self.capacity
        self.buf["s"][:, i], self.buf["a"][:, i], self.buf["r"][:, i] = s[:, 0], a[:, 0], reward
        self.count += 1
        better = (score > self.best_score) & active
        self.best[better] = s2[better, 0]
        self.best_score[better] = score[better]
        if int(self.count) >= self.warmup:
            self._update(g, active)
        rows = torch.nonzero(active).flatten()
        return StepReport(rows, s2[rows, 0].clone(), -score[rows])

    def _update(self, g: torch.Generator, active: torch.Tensor) -> None:
        size = min(int(self.count), self.capacity)
        idx = devices.randint(0, size, (self.n, self.bs), generator=g, device=self.device)
        s = torch.gather(self.buf["s"], 1, idx[..., None].expand(-1, -1, self.dim))
        a = torch.gather(self.buf["a"], 1, idx[..., None].expand(-1, -1, self.dim))
        r = torch.gather(self.buf["r"], 1, idx)
        w = active.float()[:, None]  # finished rows stop learning
        temp = self.log_temp.exp().detach()[:, None]
        sa = torch.cat([s, a], -1)
        q_loss = ((self.q1(sa).squeeze(-1) - r) ** 2 + (self.q2(sa).squeeze(-1) - r) ** 2) * w
        self.opt_q.zero_grad(set_to_none=True)
        q_loss.mean().backward()
        self.opt_q.step()
        an, logp = self._policy(s, g)
        san = torch.cat([s, an], -1)
        q_pi = torch.min(self.q1(san), self.q2(san)).squeeze(-1)
        actor_loss = ((temp * logp - q_pi) * w).mean()
        self.opt_actor.zero_grad(set_to_none=True)
        actor_loss.backward()
        self.opt_actor.step()
        temp_loss = -(self.log_temp[:, None] * (logp.detach() + self.target_entropy) * w).mean()
        self.opt_temp.zero_grad(set_to_none=True)
        temp_loss.backward()
        self.opt_temp.step()

    def queries_per_step(self, n_active: int) -> int:
        return self.n * (1 if self.alpha == 0.0 else 2)

    def state_dict(self) -> dict[str, Any]:
        return {
            "nets": {k: getattr(self, k).state_dict() for k in ("actor", "q1", "q2")},
            "opts": {k: getattr(self, k).state_dict() for k in ("opt_actor", "opt_q", "opt_temp")},
            "log_temp": self.log_temp.detach().clone(),
            "buf": {k: v.clone() for k, v in self.buf.items()},
            "count": self.count.clone(),
            "best": self.best.clone(),
            "best_score": self.best_score.clone(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for k, v in state["nets"].items():
            getattr(self, k).load_state_dict(v)
        for k, v in state["opts"].items():
            getattr(self, k).load_state_dict(v)
        with torch.no_grad():
            self.log_temp.copy_(state["log_temp"])
        for k, v in state["buf"].items():
            self.buf[k].copy_(v)
        for k in ("count", "best", "best_score"):
            getattr(self, k).copy_(state[k])


# ----------------------------------------------------------------------------------------------
# the search loop
# ----------------------------------------------------------------------------------------------


@dataclass
class SearchResult:
    """Final candidates (``latents``), the best candidates and their losses per row, the step
    at which each row stopped, and why the search ended."""

    latents: torch.Tensor
    best: torch.Tensor
    best_loss: torch.Tensor
    stop_step: torch.Tensor
    steps: int
    stopped: str
    info: dict[str, Any] = field(default_factory=dict)


class StoppingRule:
    """Per-row stopping on the loss history: stop a row when its loss is no lower than the worst
    of its last ``patience`` losses, or falls to ``threshold`` (MI-Face, Algorithm 1)."""

    def __init__(
        self, n: int, patience: int, threshold: float = float("-inf"), device: Any = "cpu"
    ) -> None:
        check_positive("patience", patience)
        self.patience, self.threshold = patience, threshold
        self.history = torch.full((n, patience), float("inf"), device=device)
        self.seen = torch.zeros(n, dtype=torch.long, device=device)

    def __call__(self, rows: torch.Tensor, losses: torch.Tensor) -> torch.Tensor:
        """Rows (of ``rows``) that stop after recording ``losses``."""
        full = self.seen[rows] >= self.patience
        worst = self.history[rows].max(1).values
        stalled = (losses >= worst) & full
        done = losses <= self.threshold
        self.history[rows, self.seen[rows] % self.patience] = losses
        self.seen[rows] += 1
        return stalled | done

    def state_dict(self) -> dict[str, Any]:
        return {"history": self.history.clone(), "seen": self.seen.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.history.copy_(state["history"])
        self.seen.copy_(state["seen"])


def run_search(
    optimizer: LatentOptimizer,
    problem: SearchProblem,
    steps: int,
    *,
    stopping: StoppingRule | None = None,
    checkpoint: str | None = None,
    checkpoint_every: int = 100,
    meta: Any = None,
    desc: str = "search",
    progress: bool = True,
) -> SearchResult:
    """Run ``optimizer`` for up to ``steps`` steps on ``problem``.

    Tracks the lowest-loss latents each row was evaluated at, stops rows by ``stopping`` or by
    the optimizer's own rule, and ends early (``stopped="budget"``) before a step would overspend
    the view's query budget. Checkpoints and resumes through ``ResumableLoop``."""
    n = problem.classes.shape[0]
    cand = optimizer.candidates()
    dev = cand.device
    track = TensorState(
        best=cand.detach().clone(),
        best_loss=torch.full((n,), float("inf"), device=dev),
        active=torch.ones(n, dtype=torch.bool, device=dev),
        stop_step=torch.full((n,), -1, dtype=torch.long, device=dev),
        stopped="steps",
        executed=0,
    )
    state: dict[str, Any] = {
        "optimizer": optimizer,
        "rng": GeneratorState(problem.rng),
        "track": track,
    }
    if stopping is not None:
        state["stopping"] = stopping
    loop = ResumableLoop(
        steps,
        state=state,
        checkpoint=checkpoint,
        every=checkpoint_every,
        meta=meta,
        desc=desc,
        progress=progress,
    )
    best, best_loss, active, stop_step = (
        track["best"],
        track["best_loss"],
        track["active"],
        track["stop_step"],
    )
    for i in loop:
        remaining = problem.remaining() if problem.remaining is not None else None
        if remaining is not None and optimizer.queries_per_step(int(active.sum())) > remaining:
            track["stopped"] = "budget"
            loop.finish()
            break
        report = optimizer.step(problem, active)
        track["executed"] = int(track["executed"]) + 1
        if report is not None:
            rows, losses = report.rows, report.losses
            better = losses < best_loss[rows]
            best_loss[rows[better]] = losses[better]
            best[rows[better]] = report.latents[better].to(best.dtype)
            if stopping is not None:
                done = stopping(rows, losses)
                stop_step[rows[done]] = i + 1
                active[rows[done]] = False
        if optimizer.finished is not None:
            newly = optimizer.finished & active
            stop_step[newly] = i + 1
            active[newly] = False
        if not bool(active.any()):
            track["stopped"] = "converged"
            loop.finish()
            break
    executed = int(track["executed"])
    stop_step[stop_step < 0] = executed
    return SearchResult(
        latents=optimizer.candidates().detach().clone(),
        best=best.clone(),
        best_loss=best_loss.clone(),
        stop_step=stop_step.clone(),
        steps=executed,
        stopped=str(track["stopped"]),
    )
