"""Pieces every diffusion-prior attack on a classifier composes (survey Sec. IV-A, VIII-a):
where the diffusion prior comes from, its unoptimised samples (the baseline), the target's
top-k margin loss and class feature prototypes (Diff-MI), target-gradient classifier guidance
of the sampler, and selection by the target's labels under augmentation (Liu 2023).

An attack is then: resolve the prior -> sample (guided, fine-tuned, optimised) -> select ->
result with ``arrays["prior_samples"]``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mi_core import device as devices
from mi_core.config import check_choice, check_positive
from mi_core.errors import ConfigError
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetView
from mi_vision.augment import Augment
from mi_vision.priors.diffusion import (
    SAMPLERS,
    DiffusionConfig,
    DiffusionPrior,
    train_diffusion_prior,
)
from mi_vision.targets import TargetInput


@dataclass
class DiffusionAttackConfig:
    """Fields every diffusion-prior attack shares.

    Attributes:
        samples_per_class: reconstructions per target class.
        prior: :class:`~mi_vision.priors.diffusion.DiffusionConfig` fields of the prior trained
            on ``knowledge.auxiliary`` when the knowledge holds no fitting diffusion prior.
        sampler, sample_steps, guidance_scale: sampling (``None``: the prior's defaults;
            ``guidance_scale`` is the classifier-free guidance weight ``s`` of
            ``eps_u + s (eps_c - eps_u)``).
        batch: images sampled together.
        device: where the attack (and a prior it trains) runs: ``auto`` (a white-box target's
            device, else CUDA when present, else the CPU), ``cpu``, ``cuda``, ``cuda:N``; the
            prior is moved there, results come back on the CPU.
    """

    samples_per_class: int = 4
    prior: dict[str, Any] | None = None
    sampler: str | None = None
    sample_steps: int | None = None
    guidance_scale: float | None = None
    batch: int = 128
    progress: bool = True
    device: str = "auto"

    def __post_init__(self) -> None:
        devices.check_device(self.device)
        check_positive("samples_per_class", self.samples_per_class)
        check_positive("batch", self.batch)
        if self.sampler is not None:
            check_choice("sampler", self.sampler, SAMPLERS)
        if self.sample_steps is not None:
            check_positive("sample_steps", self.sample_steps)
        if self.guidance_scale is not None:
            check_positive("guidance_scale", self.guidance_scale, allow_zero=True)
        if self.prior is not None:
            from mi_core.config import build_config

            build_config(DiffusionConfig, self.prior, where="prior")


def _fits(p: Any, conditional: bool, k: int | None) -> bool:
    if not isinstance(p, DiffusionPrior):
        return False
    if conditional:
        return p.num_classes is not None and (k is None or p.num_classes == k)
    return True


def resolve_diffusion_prior(
    view: TargetView,
    knowledge: Knowledge,
    *,
    who: str,
    train: dict[str, Any] | None = None,
    seed: int = 0,
    conditional: bool = True,
    device: Any = "cpu",
) -> DiffusionPrior:
    """The attacker's diffusion prior: ``knowledge.prior`` when it is a fitting
    :class:`DiffusionPrior` (a conditional one with the target's classes when ``conditional``),
    else a fitting one of ``knowledge.extra["priors"]``, else one trained here on
    ``knowledge.auxiliary`` (public images) with the ``train`` config, pseudo-labelled by the
    target through ``view`` when conditional (the labelling queries are counted by the view).
    The prior is moved to (or trained on) ``device``.

    Raises:
        ConfigError: naming what is missing or why the given prior does not fit.
    """
    k = view.num_classes
    candidates = [knowledge.prior, *(knowledge.extra.get("priors") or {}).values()]
    for p in candidates:
        if _fits(p, conditional, k):
            return p.to(device)  # type: ignore[union-attr,no-any-return]
    if knowledge.auxiliary is None:
        given = knowledge.prior
        why = f"got {given!r}, which does not fit" if given is not None else "none was given"
        kind = "a class-conditional" if conditional else "a"
        raise ConfigError(
            f"knowledge.prior: {who} needs {kind} DiffusionPrior"
            + (f" with the target's {k} classes" if conditional and k else "")
            + f" ({why}); pass one (mi_vision.priors.diffusion.train_diffusion_prior or "
            "DiffusionPrior.from_pretrained) or public images in knowledge.auxiliary to train one"
        )
    cfg = {**(train or {}), "conditional": conditional, "device": str(device)}
    return train_diffusion_prior(
        knowledge.auxiliary, cfg, target=view if conditional else None, seed=seed
    )


def sampling(cfg: DiffusionAttackConfig, prior: DiffusionPrior) -> dict[str, Any]:
    """The sampler settings of an attack config (``None`` fields fall back to the prior's)."""
    return {
        "sampler": cfg.sampler or prior.sampler,
        "steps": cfg.sample_steps or prior.sample_steps,
        "guidance_scale": prior.guidance_scale
        if cfg.guidance_scale is None
        else cfg.guidance_scale,
    }


def sample_rows(
    prior: DiffusionPrior,
    rows: torch.Tensor | None,
    n: int,
    generator: torch.Generator,
    *,
    batch: int = 128,
    progress: bool = False,
    desc: str = "sampling",
    **kw: Any,
) -> torch.Tensor:
    """``n`` samples in [0, 1] (of class ``rows[i]`` for row i; unconditional when ``rows`` is
    ``None``), in batches with a progress bar."""
    from tqdm.auto import tqdm

    out = []
    for i in tqdm(range(0, n, batch), desc=desc, disable=not progress, leave=False):
        m = min(batch, n - i)
        lab = rows[i : i + m] if rows is not None else None
        out.append(prior.sample(m, generator, lab, batch=m, **kw))
    return torch.cat(out)


def own_prior_samples(
    prior: DiffusionPrior,
    rows: torch.Tensor,
    seed: int,
    *,
    conditional: bool,
    batch: int = 128,
    **kw: Any,
) -> torch.Tensor:
    """The baseline of a diffusion attack: one unoptimised sample of its own prior per row,
    of the row's class with classifier-free guidance (``conditional``) or unconditional (the
    null class: the public distribution without the target's labels). A fixed offset of the
    seed keeps it apart from the attack's own draws."""
    g = torch.Generator().manual_seed(seed + 7919)
    lab = rows if conditional and prior.num_classes is not None else None
    return sample_rows(prior, lab, rows.shape[0], g, batch=batch, **kw)


def topk_margin_loss(logits: torch.Tensor, targets: torch.Tensor, k: int = 20) -> torch.Tensor:
    """Diff-MI's top-k loss (Li et al. 2024): ``-l_c + mean of the k largest other logits``,
    per sample (``k`` is capped at the number of other classes; ``k=0`` is ``-l_c``)."""
    real = logits.gather(1, targets[:, None]).squeeze(1)
    k = min(k, logits.shape[1] - 1)
    if k <= 0:
        return -real
    others = logits.scatter(1, targets[:, None], float("-inf"))
    return -real + others.topk(k, dim=1).values.mean(1)


def class_prototypes(
    features: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
    public: torch.Tensor,
    to_input: TargetInput,
    num_classes: int,
    top_n: int,
    batch: int = 256,
) -> torch.Tensor:
    """Diff-MI's ``p_reg``: per class, the mean penultimate feature of the target over the
    ``top_n`` public images it is most confident belong to that class ``(K, d)``."""
    feats, probs = [], []
    with torch.no_grad():
        for i in range(0, public.shape[0], batch):
            f, logits = features(to_input(public[i : i + batch]))
            feats.append(f.flatten(1))
            probs.append(torch.softmax(logits.float(), 1))
    f_all, p = torch.cat(feats), torch.cat(probs)
    top = min(top_n, f_all.shape[0])
    idx = p[:, :num_classes].topk(top, dim=0).indices  # (top, K)
    return f_all[idx].mean(0)  # (K, d)


class TargetGuidance:
    """Target-gradient classifier guidance of the sampler (white-box): at each reverse step the
    denoised estimate ``x0`` is moved up the target's log-probability of the row's class,
    ``eps <- eps - w * |eps| * g / |g|`` with ``g = grad_x0 log p_c(f(x0))`` scaled back to the
    noise (the cheap "forward universal guidance" of Bansal et al. 2023: the gradient is taken
    at ``x0`` without backpropagating through the UNet; ``w = strength``). Steps above
    ``t_max`` (pure noise) are left alone."""

    def __init__(
        self,
        prior: DiffusionPrior,
        target: Callable[[torch.Tensor], torch.Tensor],
        to_input: TargetInput,
        strength: float,
        *,
        t_max: float = 1.0,
        augment: Augment | None = None,
        rng: torch.Generator | None = None,
    ) -> None:
        self.prior, self.target, self.to_input = prior, target, to_input
        self.strength, self.t_max = float(strength), float(t_max)
        self.augment, self.rng = augment, rng

    def __call__(
        self, x: torch.Tensor, t: torch.Tensor, eps: torch.Tensor, labels: torch.Tensor | None
    ) -> torch.Tensor:
        if labels is None:
            raise ConfigError("labels: target guidance needs the class of each row")
        if self.strength == 0.0 or int(t) > self.t_max * self.prior.timesteps:
            return eps
        a = self.prior.alphas_cumprod[int(t)]
        with torch.enable_grad():
            x0 = self.prior.predict_x0(x, eps.detach(), t).clamp(-1, 1).detach().requires_grad_()
            img = (x0 + 1) / 2
            if self.augment is not None:
                img = self.augment(img, self.rng)
            logp = F.log_softmax(self.target(self.to_input(img)).float(), 1)
            (g,) = torch.autograd.grad(logp.gather(1, labels[:, None]).sum(), x0)
        # x0 + d  <=>  eps - sqrt(a) / sqrt(1 - a) d; the step is scaled to |eps|
        d = g / g.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
        size = eps.detach().flatten(1).norm(dim=1).view(-1, 1, 1, 1)
        return eps - self.strength * size * d * (a.sqrt() / (1 - a).sqrt()).clamp(max=1.0)


def label_votes(
    images: torch.Tensor,
    rows: torch.Tensor,
    labels: Callable[[torch.Tensor], torch.Tensor],
    to_input: TargetInput,
    *,
    augment: Augment | None,
    n_aug: int,
    rng: torch.Generator,
    batch: int = 256,
) -> torch.Tensor:
    """Fraction of the image and its ``n_aug`` augmented copies that the target labels as the
    row's class (label-only selection under augmentation; every copy is a counted query)."""
    votes = torch.zeros(images.shape[0], device=images.device)
    reps = [None] + ([augment] * n_aug if augment is not None else [])
    for aug in reps:
        for i in range(0, images.shape[0], batch):
            x = images[i : i + batch]
            if aug is not None:
                x = aug(x, rng)
            with torch.no_grad():
                pred = labels(to_input(x))
            votes[i : i + batch] += (pred == rows[i : i + batch]).float()
    return votes / len(reps)


def freeze_target(view: TargetView) -> None:
    """No parameter gradients for a white-box target (attacks differentiate inputs only)."""
    if view.access is Access.WHITE_BOX:
        for p in view.module.parameters():
            p.requires_grad_(False)


def timer() -> Callable[[], float]:
    t0 = time.perf_counter()
    return lambda: time.perf_counter() - t0


def trainable(module: nn.Module, prefixes: tuple[str, ...]) -> list[nn.Parameter]:
    """Unfreeze and return the parameters whose names start with one of ``prefixes``."""
    out = []
    for name, p in module.named_parameters():
        on = name.startswith(prefixes)
        p.requires_grad_(on)
        if on:
            out.append(p)
    if not out:
        raise ConfigError(
            f"finetune_layers: no parameter of the UNet starts with {list(prefixes)}; see "
            "[n for n, _ in prior.unet.named_parameters()]"
        )
    return out
