"""Diff-MI: white-box model inversion with a target-specific conditional diffusion model (Li et
al., "Model Inversion Attacks through Target-Specific Conditional Diffusion Models", 2024; the
attack LeakPro ships).

0. *Pretraining* (the prior): a class-conditional diffusion model on public images
   pseudo-labelled by the target (``top_n`` most confident per class; :mod:`mi_vision.priors.
   diffusion`), trained once and reused.
1. *Target-specific fine-tuning*: a copy of the model generates a batch of every class with a
   few-step DPM-Solver++ sampler and classifier-free guidance, keeping the graph; the target's
   top-k margin loss on augmented copies of every step's denoised estimate, plus the distance of
   the target's penultimate features to the class prototype (``p_reg``), is backpropagated into
   the class embedding and the middle block only (the authors' choice of layers) until the
   target recognises ``threshold`` of the samples or ``finetune_steps`` run out.
2. *Iterative reconstruction*: starting from the fine-tuned model's samples, each step first
   descends the denoising loss ``|eps_theta(x_t, t, c) - eps|^2`` at a decreasing, jittered
   ``t`` (keeping the image on the model's manifold), then the target's top-k + ``p_reg`` loss
   on augmented copies, its gradient clipped to ``norm_ratio`` times a running mean of the
   denoising gradient's norm (Adamax, as the authors). A last partial reverse pass from
   ``final_t`` cleans the result (SDEdit).

Deviation from the paper: the reconstruction starts from the fine-tuned model's samples rather
than from pure noise (30 steps from noise need a GPU-sized model to converge), and the
authors' optional PGD post-processing is left out (it makes adversarial, not reconstructed,
images).

Baseline (``arrays["prior_samples"]``): guided samples of the pretrained conditional prior for
each row's class, before fine-tuning and reconstruction. With ``finetune_steps=0``,
``steps=0`` and ``final_t=0`` the attack returns such samples and the tests check that it then
no longer beats them.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from mi_core import device as devices
from mi_core.attack import BaseAttack
from mi_core.config import check_positive, check_range
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetView
from mi_vision.augment import get_augment
from mi_vision.diffusion_inversion import (
    DiffusionAttackConfig,
    class_prototypes,
    freeze_target,
    own_prior_samples,
    resolve_diffusion_prior,
    sample_rows,
    sampling,
    timer,
    topk_margin_loss,
    trainable,
)
from mi_vision.inversion import penultimate, target_input
from mi_vision.priors.diffusion import DiffusionPrior
from mi_vision.targets import target_classes


@dataclass
class DiffMIConfig(DiffusionAttackConfig):
    """Hyper-parameters of Diff-MI (the authors' code in brackets).

    Attributes:
        finetune_steps: fine-tuning batches [up to 50 epochs of 300 classes].
        finetune_lr: AdamW learning rate of the fine-tuned layers [2e-4].
        finetune_sample_steps: DPM-Solver++ steps sampled with the graph kept [10].
        finetune_batch: rows per fine-tuning batch (classes cycle through it).
        finetune_layers: parameter-name prefixes of the UNet that are fine-tuned [the class
            embedding and the middle block].
        threshold: stop fine-tuning once the target recognises this share of a batch [0.99].
        top_k: other logits in the top-k margin loss [20].
        p_reg: weight of the feature-prototype term [1.0]; 0 turns it off (also when the
            knowledge holds no public images to build the prototypes from).
        top_n: public images per class behind each prototype [30].
        steps: iterative-reconstruction steps [30].
        lr: Adamax learning rate on the image in [-1, 1] [1.0].
        norm_ratio: clip of the target-loss gradient relative to the denoising one [1.25].
        t_range: the reconstruction's timesteps run from ``t_range[1]`` to ``t_range[0]``
            (fractions of the schedule) [0.2 -> 1.0, from noise].
        final_t: the last clean-up pass starts at this fraction of the schedule [0.15].
        augment, n_aug: augmentation preset and copies in every target loss [4].
        guidance_scale: classifier-free guidance weight [3].
    """

    finetune_steps: int = 40
    finetune_lr: float = 1e-3
    finetune_sample_steps: int = 4
    finetune_batch: int = 32
    finetune_layers: tuple[str, ...] = ("class_embedding", "mid_block")
    threshold: float = 0.99
    top_k: int = 20
    p_reg: float = 1.0
    top_n: int = 30
    steps: int = 30
    lr: float = 0.05
    norm_ratio: float = 1.25
    t_range: tuple[float, float] = (0.2, 0.6)
    final_t: float = 0.15
    augment: str = "standard"
    n_aug: int = 4
    guidance_scale: float | None = 3.0

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("finetune_steps", "steps", "top_k", "n_aug"):
            check_positive(name, getattr(self, name), allow_zero=True)
        for name in ("finetune_lr", "finetune_sample_steps", "finetune_batch", "lr", "top_n"):
            check_positive(name, getattr(self, name))
        check_positive("norm_ratio", self.norm_ratio)
        check_positive("p_reg", self.p_reg, allow_zero=True)
        check_range("threshold", self.threshold, 0.0, 1.0)
        check_range("final_t", self.final_t, 0.0, 1.0)
        lo, hi = self.t_range
        check_range("t_range[0]", lo, 0.0, 1.0)
        check_range("t_range[1]", hi, lo, 1.0)
        if not self.finetune_layers:
            from mi_core.errors import ConfigError

            raise ConfigError("finetune_layers: name at least one parameter prefix")
        get_augment(self.augment)


class DiffMI(BaseAttack):
    """White-box: fine-tune a conditional diffusion model toward the target, then reconstruct
    iteratively under the denoising and the target's losses (Li et al. 2024)."""

    name = "diff-mi"
    modality = "image"
    access = Access.WHITE_BOX
    paper = "Li et al., Diff-MI (2024)"
    summary = (
        "target-specific conditional diffusion: few-step fine-tuning with a top-k margin loss, "
        "then iterative reconstruction mixing denoising and target losses"
    )
    Config = DiffMIConfig

    def _run(self, view: TargetView, knowledge: Knowledge, seed: int) -> AttackResult:
        cfg: DiffMIConfig = self.config
        elapsed = timer()
        dev = devices.attack_device(cfg.device, view)
        train = {"top_n": cfg.top_n, **(cfg.prior or {}), "progress": cfg.progress}
        base = resolve_diffusion_prior(
            view,
            knowledge,
            who=f"attack {self.name!r}",
            train=train,
            seed=seed,
            conditional=True,
            device=dev,
        )
        prior_seconds = elapsed()
        freeze_target(view)
        classes = target_classes(view, knowledge, dev)
        to_input = target_input(view, knowledge)
        rows = classes.repeat_interleave(cfg.samples_per_class)
        g = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        kw = sampling(cfg, base)
        features = penultimate(view.module, view)
        protos = None
        k = base.num_classes
        assert k is not None
        if cfg.p_reg > 0 and knowledge.auxiliary is not None:
            from mi_vision.data import ImageSource

            public = torch.cat(list(ImageSource(knowledge.auxiliary).batches())).to(dev)
            protos = class_prototypes(features, public, to_input, k, cfg.top_n)
        augment = get_augment(cfg.augment)

        def target_loss(img: torch.Tensor, lab: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            """Per-row top-k + p_reg loss over ``n_aug`` augmented copies, and the target's
            accuracy on them."""
            reps = max(1, cfg.n_aug)
            x = img.repeat(reps, 1, 1, 1)
            if augment is not None and cfg.n_aug > 0:
                x = augment(x, g)
            y = lab.repeat(reps)
            f, logits = features(to_input(x))
            loss = topk_margin_loss(logits, y, cfg.top_k)
            if protos is not None:
                loss = loss + cfg.p_reg * (f.flatten(1) - protos[y]).pow(2).mean(1)
            acc = (logits.argmax(1) == y).float().mean()
            return loss.view(reps, -1).mean(0), acc

        # 1. target-specific fine-tuning ----------------------------------------------------
        prior = base
        history: list[float] = []
        if cfg.finetune_steps > 0:
            unet = copy.deepcopy(base.unet)
            prior = DiffusionPrior(
                unet,
                base.noise_config,
                num_classes=base.num_classes,
                null_class=base.null_class,
                sampler=base.sampler,
                sample_steps=base.sample_steps,
                guidance_scale=base.guidance_scale,
                decode_steps=base.decode_steps,
            )
            params = trainable(unet, tuple(cfg.finetune_layers))
            opt = torch.optim.AdamW(params, lr=cfg.finetune_lr, weight_decay=0.0)
            c, h, w = prior.image_shape
            order = classes.repeat(math.ceil(cfg.finetune_batch / classes.numel()))
            bar = tqdm(
                range(cfg.finetune_steps),
                desc=f"{self.name} fine-tune",
                disable=not cfg.progress,
                leave=False,
            )
            for _ in bar:
                perm = devices.randperm(order.numel(), generator=g, device=dev)
                lab = order[perm[: cfg.finetune_batch]]
                trace: list[torch.Tensor] = []
                prior.denoise(
                    devices.randn(lab.numel(), c, h, w, generator=g, device=dev),
                    lab,
                    steps=cfg.finetune_sample_steps,
                    sampler="dpm-solver",
                    guidance_scale=kw["guidance_scale"],
                    grad=True,
                    x0_trace=trace,
                )
                x0s = (torch.cat(trace) + 1) / 2
                loss, acc = target_loss(x0s, lab.repeat(len(trace)))
                opt.zero_grad(set_to_none=True)
                loss.mean().backward()
                opt.step()
                history.append(float(acc))
                bar.set_postfix(acc=f"{float(acc):.2f}")
                if acc >= cfg.threshold:
                    break
            for p in unet.parameters():
                p.requires_grad_(False)
            unet.eval()

        # 2. iterative reconstruction -------------------------------------------------------
        x0 = sample_rows(prior, rows, rows.shape[0], g, batch=cfg.batch, **kw) * 2 - 1
        img = x0.clone().requires_grad_(True)
        opt_x = torch.optim.Adamax([img], lr=cfg.lr)
        T = prior.timesteps
        lo, hi = cfg.t_range
        norm_track = None
        for i in tqdm(range(cfg.steps), desc=self.name, disable=not cfg.progress, leave=False):
            frac = 1 - i / max(1, cfg.steps)  # linearly decreasing plus a cosine wiggle
            s = frac / 1.5 + frac / 3 * math.cos(3 / (10 * math.pi) * i)
            jitter = float(torch.empty((), device="cpu").uniform_(-0.05, 0.05, generator=g))
            t = lo + (hi - lo) * min(1.0, s) + jitter
            t_i = int(min(T - 1, max(1, round(t * T))))
            tt = torch.full((rows.numel(),), t_i, dtype=torch.long, device=dev)
            noise = devices.randn(tuple(img.shape), generator=g, device=dev)
            e = prior.eps(prior.add_noise(img, noise, tt), tt, rows, kw["guidance_scale"])
            d_loss = F.mse_loss(e, noise)
            opt_x.zero_grad(set_to_none=True)
            d_loss.backward()
            assert img.grad is not None
            gn = float(img.grad.norm())
            norm_track = gn if norm_track is None else 0.5 * norm_track + 0.5 * gn
            with torch.device(dev):  # Adamax creates its step counter lazily
                opt_x.step()
            with torch.no_grad():
                img.clamp_(-1, 1)
            t_loss, _ = target_loss((img + 1) / 2, rows)
            opt_x.zero_grad(set_to_none=True)
            t_loss.mean().backward()
            torch.nn.utils.clip_grad_norm_([img], cfg.norm_ratio * norm_track)
            with torch.device(dev):  # Adamax creates its step counter lazily
                opt_x.step()
            with torch.no_grad():
                img.clamp_(-1, 1)
        x = img.detach()
        if cfg.final_t > 0:
            t_f = round(cfg.final_t * (T - 1))
            noise = devices.randn(tuple(x.shape), generator=g, device=dev)
            x = prior.add_noise(x, noise, torch.full((x.shape[0],), t_f, device=dev))
            x = prior.denoise(
                x,
                rows,
                steps=kw["steps"],
                sampler="ddim",
                guidance_scale=kw["guidance_scale"],
                start=t_f,
            )
        images = ((x + 1) / 2).clamp(0, 1)
        with torch.no_grad():
            probs = torch.softmax(view(to_input(images)).float(), 1)
        baseline = own_prior_samples(base, rows, seed, conditional=True, batch=cfg.batch, **kw)
        return self._result(
            images,
            targets=rows,
            scores=probs.gather(1, rows[:, None]).squeeze(1),
            arrays={"prior_samples": baseline},
            info={
                "prior": repr(base),
                "prior_seconds": prior_seconds,
                "finetune_accuracy": history,
                "finetune_steps_run": len(history),
                "prototypes": protos is not None,
                "sampling": kw,
                "classes": classes.tolist(),
                "baseline": "guided samples of the pretrained conditional prior (before "
                "fine-tuning)",
            },
        )
