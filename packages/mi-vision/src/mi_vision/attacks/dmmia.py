"""DMMIA: model inversion with dynamic memory learning (Qi et al., ACM MM 2023; survey Table I,
[73]).

A latent search whose objective adds a memory regulariser to the identity loss against the
catastrophic forgetting of the generator search (early, diverse features vanish as the search
goes on):

    L = CE(f(G(z)), c) + imr_weight * L_imr + idr_weight * L_idr,

both memories living in the target's penultimate feature space, features ``phi`` L2-normalised:

* **IMR** (intra-class multicentric representation): ``centres`` learnable prototypes per class,
  trained with the latents; ``L_imr = -log sum_{m in c} e^{<phi, p_m>/t} / sum_m' e^{<phi,
  p_m'>/t}`` pulls a sample to the prototypes of its class while several prototypes keep several
  modes of the class alive;
* **IDR** (inter-class discriminative representation): a non-parametric prototype per class, the
  moving average (``momentum``) of the features the search has produced for it (its history);
  ``L_idr = -log e^{<phi, q_c>/t} / sum_k e^{<phi, q_k>/t}`` keeps samples distinguishable from
  the other classes' history.

The latents and IMR prototypes take Adam steps together (one optimizer step of
:func:`~mi_vision.optimizers.run_search`); the IDR memory is updated after each step and
checkpointed with the search.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mi_core import device as devices
from mi_core.config import check_positive, check_range
from mi_core.threat import Access
from mi_vision.augment import get_augment
from mi_vision.inversion import Context, GANAttackConfig, GANInversion, penultimate
from mi_vision.losses import get_identity_loss
from mi_vision.optimizers import GradientOptimizer, LatentOptimizer, SearchProblem, StepReport


class DynamicMemory(nn.Module):
    """IMR prototypes (learnable, ``(K, M, d)``) and IDR prototypes (moving averages, ``(K, d)``)
    of ``K`` classes in a ``d``-dimensional feature space."""

    def __init__(
        self, k: int, d: int, centres: int, temperature: float, momentum: float,
        generator: torch.Generator, device: object = "cpu",
    ) -> None:  # fmt: skip
        super().__init__()
        self.k, self.m, self.t, self.momentum = k, centres, temperature, momentum
        self.imr = nn.Parameter(
            F.normalize(devices.randn(k, centres, d, generator=generator, device=device), dim=-1)
        )
        self.register_buffer("idr", torch.zeros(k, d, device=device))
        self.register_buffer("seen", torch.zeros(k, dtype=torch.bool, device=device))

    def imr_loss(self, f: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        logits = f @ F.normalize(self.imr, dim=-1).flatten(0, 1).T / self.t  # (N, K*M)
        own = logits.view(-1, self.k, self.m)[torch.arange(f.shape[0], device=f.device), classes]
        return torch.logsumexp(logits, dim=1) - torch.logsumexp(own, dim=1)

    def idr_loss(self, f: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        if not bool(self.seen[classes].all()):
            return torch.zeros(f.shape[0], device=f.device)
        proto = F.normalize(self.idr, dim=-1)
        logits = f @ proto.T / self.t
        logits = logits.masked_fill(~self.seen[None], float("-inf"))  # classes not in the search
        return F.cross_entropy(logits, classes, reduction="none")

    @torch.no_grad()
    def remember(self, f: torch.Tensor, classes: torch.Tensor) -> None:
        for c in torch.unique(classes):
            mean = f[classes == c].mean(0)
            if bool(self.seen[c]):
                self.idr[c] = self.momentum * self.idr[c] + (1 - self.momentum) * mean
            else:
                self.idr[c], self.seen[c] = mean, True


class MemoryObjective:
    """Eq. 3 with DMMIA's memory terms, per row; remembers the features it saw."""

    def __init__(self, ctx: Context, memory: DynamicMemory, cfg: DMMIAConfig) -> None:
        self.prior, self.to_input, self.memory, self.cfg = ctx.prior, ctx.to_input, memory, cfg
        self.features = penultimate(ctx.view.module, ctx.view)
        self.identity = get_identity_loss(cfg.identity_loss)
        self.augment, self.rng = get_augment(cfg.augment), ctx.rng

    def __call__(self, latent: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        labels = classes if self.prior.num_classes is not None else None
        x = self.prior.generate(latent, labels)
        if self.augment is not None:
            x = self.augment(x, self.rng)
        feats, logits = self.features(self.to_input(x))
        f = F.normalize(feats.flatten(1), dim=1)
        loss = self.identity(logits, classes)
        loss = loss + self.cfg.imr_weight * self.memory.imr_loss(f, classes)
        loss = loss + self.cfg.idr_weight * self.memory.idr_loss(f, classes)
        self.memory.remember(f.detach(), classes)
        return loss


class MemoryOptimizer(GradientOptimizer):
    """Adam on the latents and, in the same step, on the IMR prototypes of the memory."""

    def __init__(self, latents: torch.Tensor, memory: DynamicMemory, lr: float,
                 memory_lr: float, project: Any = None) -> None:  # fmt: skip
        super().__init__(latents, "adam", lr, project=project)
        self.memory = memory
        self.memory_opt = torch.optim.Adam(memory.parameters(), lr=memory_lr)

    def step(self, problem: SearchProblem, active: torch.Tensor) -> StepReport:
        self.memory_opt.zero_grad(set_to_none=True)
        report = super().step(problem, active)  # the backward pass also reaches the prototypes
        self.memory_opt.step()
        return report

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "memory": {k: v.clone() for k, v in self.memory.state_dict().items()},
            "memory_opt": self.memory_opt.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.memory.load_state_dict(state["memory"])
        self.memory_opt.load_state_dict(state["memory_opt"])


@dataclass
class DMMIAConfig(GANAttackConfig):
    """Hyper-parameters of DMMIA.

    Attributes:
        steps, lr: Adam steps and step size on the latents.
        identity_loss: ``ce`` [the paper] or another identity loss.
        centres: IMR prototypes per class.
        imr_weight, idr_weight: lambda_1 and lambda_2 of ``L_memory``.
        temperature: of both contrastive terms.
        momentum: of the IDR moving averages.
        memory_lr: Adam step of the IMR prototypes.
        augment: augmentation preset of the generated images each step.
    """

    steps: int = 300
    lr: float = 0.05
    identity_loss: str = "ce"
    centres: int = 3
    imr_weight: float = 0.5
    idr_weight: float = 0.5
    temperature: float = 0.1
    momentum: float = 0.9
    memory_lr: float = 0.01
    augment: str = "none"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive("steps", self.steps, allow_zero=True)  # 0: no search
        for name in ("lr", "centres", "temperature", "memory_lr"):
            check_positive(name, getattr(self, name))
        check_positive("imr_weight", self.imr_weight, allow_zero=True)
        check_positive("idr_weight", self.idr_weight, allow_zero=True)
        check_range("momentum", self.momentum, 0.0, 1.0)
        get_identity_loss(self.identity_loss)
        get_augment(self.augment)


class DMMIA(GANInversion):
    """Latent search regularised by intra- and inter-class memories (Qi et al. 2023)."""

    name = "dmmia"
    modality = "image"
    access = Access.WHITE_BOX
    paper = "Qi et al., ACM MM 2023"
    summary = "latent search with a dynamic memory: learnable class centres + class history"
    Config = DMMIAConfig
    default_prior = (("kind", "gmi"),)

    def _memory(self, ctx: Context) -> DynamicMemory:
        if "memory" not in ctx.scratch:
            cfg: DMMIAConfig = self.config
            feats, logits = penultimate(ctx.view.module, ctx.view)(
                ctx.to_input(ctx.prior.sample(1, ctx.rng, labels=ctx.classes[:1]))
            )
            k = ctx.view.num_classes or int(logits.shape[1])
            g = torch.Generator().manual_seed(ctx.seed + 31)
            ctx.scratch["memory"] = DynamicMemory(
                k,
                feats.flatten(1).shape[1],
                cfg.centres,
                cfg.temperature,
                cfg.momentum,
                g,
                ctx.device,
            )
        return ctx.scratch["memory"]

    def _problem(self, ctx: Context, rows: torch.Tensor, plugin: Any) -> SearchProblem:
        return SearchProblem(
            rows, ctx.rng, loss=MemoryObjective(ctx, self._memory(ctx), self.config)
        )

    def _optimizer(
        self, ctx: Context, rows: torch.Tensor, latents: torch.Tensor
    ) -> LatentOptimizer:
        cfg: DMMIAConfig = self.config
        return MemoryOptimizer(
            latents, self._memory(ctx), cfg.lr, cfg.memory_lr, project=ctx.prior.clip
        )
