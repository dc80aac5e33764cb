"""SecretGen: privacy recovery with a known corrupted image (Yuan et al., ECCV 2022; survey
Table I and Sec. IV-A-5-b, [17]).

The attacker holds a corrupted version of each private image it attacks (masked: part of the
pixels known; or blurred) and its label (``knowledge.extra["corrupted"]``, built with
:func:`corrupt`). Three steps, all on the shared machinery:

1. **inpainting-conditioned latent search**: ``candidates`` random latents per image are fitted
   to the known evidence alone (``||measure(G(z)) - y||``: the known pixels of a mask, or the
   blurred image), with the GAN's realism loss; this is what the attacker's knowledge gives
   *without* the model, kept as the ``no_model`` baseline;
2. **selection with sequential cut-out**: the fitted candidates (known pixels pasted in) are
   scored by the target's confidence in the label averaged over sequential cut-outs
   (:func:`mi_vision.selection.cutout_scores`); the ``samples_per_class`` best are kept;
3. **white-box search** (momentum SGD, GMI's optimizer, as the paper): identity loss of the
   target on the completed image + ``context_weight`` times the evidence loss +
   ``prior_weight`` times the discriminator's realism loss.

Reconstructions are the completed images (the known pixels pasted into masked images).
``result.arrays`` holds ``prior_samples`` (unoptimised prior samples completed the same way)
and ``no_model`` (step 1's best fit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F

from mi_core.config import check_choice, check_positive
from mi_core.errors import ConfigError, NotApplicable
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetView
from mi_vision.inversion import GANAttackConfig, GANInversion
from mi_vision.losses import get_identity_loss
from mi_vision.optimizers import GradientOptimizer, SearchProblem, run_search
from mi_vision.selection import cutout_scores
from mi_vision.targets import scores_fn


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur (reflect padding), differentiable."""
    radius = max(1, math.ceil(2 * sigma))
    ax = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-(ax**2) / (2 * sigma**2))
    k = k / k.sum()
    c = x.shape[1]
    pad = min(radius, x.shape[-1] - 1, x.shape[-2] - 1)
    if pad < radius:
        k = k[radius - pad : radius + pad + 1]
        k = k / k.sum()
    x = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def corrupt(
    images: torch.Tensor,
    labels: torch.Tensor,
    kind: Literal["mask", "blur"] = "mask",
    *,
    region: Literal["center", "lower", "upper"] = "center",
    fraction: float = 0.5,
    sigma: float = 1.0,
) -> dict[str, Any]:
    """The corrupted private images SecretGen assumes known: ``mask`` hides a square of side
    ``fraction`` of the image at the ``center`` (or the ``lower`` / ``upper`` part of that
    height), ``blur`` applies a Gaussian blur of ``sigma`` pixels. Returns the dict for
    ``knowledge.extra["corrupted"]``."""
    check_choice("kind", kind, ("mask", "blur"))
    x = torch.as_tensor(images).float()
    y = torch.as_tensor(labels).long().reshape(-1)
    if x.ndim != 4 or x.shape[0] != y.shape[0]:
        raise ConfigError("images: expected (N, C, H, W) with one label per image")
    if kind == "blur":
        check_positive("sigma", sigma)
        return {"kind": "blur", "images": gaussian_blur(x, sigma), "labels": y, "sigma": sigma}
    h, w = x.shape[-2:]
    mh, mw = max(1, round(h * fraction)), max(1, round(w * fraction))
    known = torch.ones(1, 1, h, w)
    if region == "center":
        t, left = (h - mh) // 2, (w - mw) // 2
        known[..., t : t + mh, left : left + mw] = 0
    elif region == "lower":
        known[..., h - mh :, :] = 0
    elif region == "upper":
        known[..., :mh, :] = 0
    else:
        raise ConfigError(f"region: unknown value {region!r}; allowed: 'center', 'lower', 'upper'")
    return {"kind": "mask", "images": x * known, "labels": y, "mask": known}


class Evidence:
    """What a corrupted image says about the private one: ``loss(x)`` (per row, mean over the
    known pixels / the blurred image) and ``complete(x)`` (known pixels pasted into ``x``)."""

    def __init__(self, corrupted: dict[str, Any], rows: torch.Tensor) -> None:
        self.kind = corrupted["kind"]
        dev = rows.device
        self.y = torch.as_tensor(corrupted["images"], device=dev).float()[rows]
        if self.kind == "mask":
            m = torch.as_tensor(corrupted["mask"], device=dev).float()
            m = m[rows] if m.shape[0] > 1 else m.expand(rows.shape[0], *m.shape[1:])
            self.m = m.expand_as(self.y) if m.shape[1] == 1 else m
        else:
            self.sigma = float(corrupted["sigma"])

    def _fit(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) != tuple(self.y.shape[-2:]):
            x = F.interpolate(x, size=self.y.shape[-2:], mode="bilinear", align_corners=False)
        if x.shape[1] != self.y.shape[1]:
            x = x.mean(1, keepdim=True) if self.y.shape[1] == 1 else x.expand_as(self.y)
        return x

    def loss(self, x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        x = self._fit(x)
        if self.kind == "mask":
            m = self.m[idx]
            return ((x - self.y[idx]).abs() * m).flatten(1).sum(1) / m.flatten(1).sum(1).clamp_min(
                1
            )
        return (gaussian_blur(x, self.sigma) - self.y[idx]).pow(2).flatten(1).mean(1)

    def complete(self, x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        x = self._fit(x)
        if self.kind == "mask":
            m = self.m[idx]
            return m * self.y[idx] + (1 - m) * x
        return x


class _Objective:
    """Per-row loss of the inpainting fit (``identity=None``) or of the attack."""

    def __init__(self, prior, evidence: Evidence, index: torch.Tensor, *, to_input=None,  # type: ignore[no-untyped-def]
                 view=None, identity=None, context_weight: float = 1.0,
                 prior_weight: float = 0.0) -> None:  # fmt: skip
        self.prior, self.evidence, self.index = prior, evidence, index
        self.to_input, self.view, self.identity = to_input, view, identity
        self.context_weight, self.prior_weight = context_weight, prior_weight

    def __call__(self, latent: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        if latent.shape[0] != self.index.shape[0]:
            raise ConfigError("secretgen: every row of the search is evaluated at each step")
        idx = self.index
        x = self.prior.generate(latent)
        loss = self.context_weight * self.evidence.loss(x, idx)
        if self.identity is not None:
            logits = self.view(self.to_input(self.evidence.complete(x, idx)))
            loss = loss + self.identity(logits, classes)
        if self.prior_weight > 0:
            loss = loss + self.prior_weight * self.prior.realism_loss(x)
        return loss


@dataclass
class SecretGenConfig(GANAttackConfig):
    """Hyper-parameters of SecretGen (the paper's in brackets).

    Attributes:
        candidates: random latents per corrupted image fitted to its evidence.
        inpaint_steps, inpaint_lr: Adam on the evidence loss alone (step 1).
        cutout: side of the sequential cut-out square in pixels (``None``: a quarter of the
            image side).
        cutout_stride: step of the cut-out square (``None``: its side).
        steps, lr, momentum: momentum SGD of the attack [GMI's optimizer].
        identity_loss: ``ce`` [the paper].
        context_weight: weight of the evidence loss during the attack.
        prior_weight: weight of the discriminator's realism loss [lambda].
        samples_per_class: reconstructions per corrupted image.
    """

    candidates: int = 16
    inpaint_steps: int = 100
    inpaint_lr: float = 0.05
    cutout: int | None = None
    cutout_stride: int | None = None
    steps: int = 200
    lr: float = 0.02
    momentum: float = 0.9
    identity_loss: str = "ce"
    context_weight: float = 1.0
    prior_weight: float = 0.01

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("candidates", "inpaint_lr", "lr"):
            check_positive(name, getattr(self, name))
        check_positive("inpaint_steps", self.inpaint_steps, allow_zero=True)
        check_positive("steps", self.steps, allow_zero=True)  # 0: no search with the target
        check_positive("momentum", self.momentum, allow_zero=True)
        check_positive("context_weight", self.context_weight, allow_zero=True)
        check_positive("prior_weight", self.prior_weight, allow_zero=True)
        if self.cutout is not None:
            check_positive("cutout", self.cutout)
        if self.samples_per_class > self.candidates:
            raise ConfigError("samples_per_class: cannot exceed candidates")
        get_identity_loss(self.identity_loss)


class SecretGen(GANInversion):
    """Evidence-fitted latents, cut-out selection, then a white-box search (Yuan et al. 2022)."""

    name = "secretgen"
    modality = "image"
    access = Access.WHITE_BOX
    paper = "Yuan et al., ECCV 2022"
    summary = "known corrupted image: inpainting latent fit, cut-out selection, white-box search"
    Config = SecretGenConfig
    default_prior = (("kind", "gmi"),)

    def _run(self, view: TargetView, knowledge: Knowledge, seed: int) -> AttackResult:
        cfg: SecretGenConfig = self.config
        corrupted = knowledge.extra.get("corrupted")
        if corrupted is None:
            raise NotApplicable(
                "secretgen: the attacker holds corrupted private images; give "
                "knowledge.extra['corrupted'] (mi_vision.attacks.secretgen.corrupt(images, "
                "labels, 'mask' | 'blur'))"
            )
        for key in ("kind", "images", "labels"):
            if key not in corrupted:
                raise ConfigError(f"knowledge.extra['corrupted']: missing {key!r}")
        ctx = self._context(view, knowledge, seed)
        prior = ctx.prior
        if prior.num_classes is not None:
            raise ConfigError("knowledge.prior: SecretGen fits an unconditional generator")
        labels = torch.as_tensor(corrupted["labels"], device=ctx.device).long()
        chosen = torch.nonzero(torch.isin(labels, ctx.classes)).flatten()
        if chosen.numel() == 0:
            raise NotApplicable("secretgen: no corrupted image of the target classes")
        evidence = Evidence(corrupted, chosen)  # indexed 0..len(chosen) - 1
        n, kc, spc = chosen.numel(), cfg.candidates, cfg.samples_per_class
        weight = cfg.prior_weight if prior.discriminator is not None else 0.0
        common = {"checkpoint_every": cfg.checkpoint_every, "progress": cfg.progress}

        # 1. fit candidates to the evidence alone (no model)
        cand_idx = torch.arange(n, device=ctx.device).repeat_interleave(kc)
        cand_rows = labels[chosen][cand_idx]
        z = prior.clip(prior.to_search(prior.sample_z(n * kc, ctx.rng)))
        fit = run_search(
            GradientOptimizer(z, "adam", cfg.inpaint_lr, project=prior.clip),
            SearchProblem(
                cand_rows,
                ctx.rng,
                loss=_Objective(prior, evidence, cand_idx, prior_weight=weight),
                precision=cfg.precision,
            ),
            cfg.inpaint_steps,
            desc=f"{self.name} inpainting",
            checkpoint=f"{cfg.checkpoint}.inpaint" if cfg.checkpoint else None,
            **common,
        )
        z = fit.best
        with torch.no_grad():
            done = torch.cat(
                [
                    evidence.complete(prior.generate(z[i : i + 256]), cand_idx[i : i + 256])
                    for i in range(0, z.shape[0], 256)
                ]
            ).clamp(0, 1)
        no_model = done.view(n, kc, *done.shape[1:])[
            torch.arange(n, device=ctx.device), fit.best_loss.view(n, kc).argmin(1)
        ]

        # 2. selection with sequential cut-out
        size = cfg.cutout or max(1, done.shape[-1] // 4)
        probs = scores_fn(view, ctx.device)
        p = cutout_scores(done, probs, ctx.to_input, size, cfg.cutout_stride)
        conf = p.gather(1, cand_rows[:, None]).view(n, kc)
        pick = conf.topk(spc, dim=1).indices  # (n, spc)
        sel = (torch.arange(n, device=ctx.device)[:, None] * kc + pick).flatten()
        rows, index = cand_rows[sel], cand_idx[sel]

        # 3. white-box search on the completed images
        q0 = view.queries
        search = run_search(
            GradientOptimizer(z[sel], "sgd", cfg.lr, momentum=cfg.momentum, project=prior.clip),
            SearchProblem(
                rows,
                ctx.rng,
                loss=_Objective(
                    prior,
                    evidence,
                    index,
                    to_input=ctx.to_input,
                    view=view,
                    identity=get_identity_loss(cfg.identity_loss),
                    context_weight=cfg.context_weight,
                    prior_weight=weight,
                ),
                precision=cfg.precision,
            ),
            cfg.steps,
            desc=self.name,
            checkpoint=cfg.checkpoint,
            meta={"attack": self.name, "config": cfg, "rows": rows, "seed": seed},
            **common,
        )
        with torch.no_grad():
            images = evidence.complete(prior.generate(search.latents), index).clamp(0, 1)
            g = torch.Generator().manual_seed(seed + 7919)
            base = prior.generate(prior.to_search(prior.sample_z(rows.shape[0], g)))
            base = evidence.complete(base, index).clamp(0, 1)
        ctx.info["search_queries"] = view.queries - q0
        return self._result(
            images,
            targets=rows,
            scores=self._scores(ctx, images, rows),
            arrays={
                "latents": search.latents,
                "prior_samples": base,
                "no_model": no_model.repeat_interleave(spc, 0),
                "private_index": chosen[index],
            },
            info={
                **ctx.info,
                "corruption": evidence.kind,
                "images": int(n),
                "cutout": size,
                "prior": repr(prior),
                "classes": ctx.classes.tolist(),
            },
        )
