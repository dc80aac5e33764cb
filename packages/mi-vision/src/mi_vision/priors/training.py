"""Training of the GAN priors on public data: one resumable loop, four objectives.

* ``gmi``: WGAN-GP (Gulrajani et al. 2017), GMI's general prior (Zhang et al. 2020);
* ``dcgan``: the non-saturating GAN loss (a cheaper general prior);
* ``kedmi``: KEDMI's inversion-specific GAN (Chen et al. 2021): a K-way discriminator learns the
  target's soft labels on public images (knowledge distillation) and real-vs-fake through
  ``logsumexp`` of its logits; the generator matches the discriminator's mean features of public
  images and is pushed to images the discriminator assigns confidently to a class (entropy);
* ``plg-mi``: PLG-MI's pseudo-label-guided conditional GAN (Yuan et al. 2023): the target labels
  the public images (the ``top_n`` most confident per class), a projection discriminator with
  the hinge loss learns those pairs, and the generator also minimises the max-margin loss of the
  target on augmented generated images (weight ``inv_weight``);
* ``lokt``: LOKT's target-assisted ACGAN (T-ACGAN; Nguyen et al. 2023): a conditional generator
  and a discriminator with a real / fake output and a classifier head ``C o D``; the head learns
  the target's *hard labels* of public images and of generated images (so a label-only view
  suffices, every labelled image a counted query), and the generator is pushed to images that
  ``C o D`` assigns to the conditioned class (weight ``inv_weight``).

Training runs through :class:`mi_core.loop.ResumableLoop`: checkpoints every
``checkpoint_every`` steps, exact resumption after a kill (random batches come from a
checkpointed torch generator), tqdm progress. Data: an image tensor, a torch Dataset or a folder
(:class:`mi_vision.data.ImageSource`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F

from mi_core import device as devices
from mi_core.config import check_choice, check_positive, config_to_dict
from mi_core.errors import AccessError, ConfigError
from mi_core.io import read_json
from mi_core.loop import GeneratorState, ResumableLoop, load_checkpoint
from mi_core.threat import Access
from mi_core.views import TargetView
from mi_vision.augment import get_augment
from mi_vision.data import ImageSource
from mi_vision.losses import get_identity_loss
from mi_vision.priors.nets import DCGANDiscriminator, DCGANGenerator, MappingGenerator
from mi_vision.priors.prior import GeneratorPrior
from mi_vision.targets import TargetInput, labels_fn, scores_fn

_DEFAULTS = {  # kind: (n_critic, betas)
    "gmi": (5, (0.5, 0.999)),
    "dcgan": (1, (0.5, 0.999)),
    "kedmi": (1, (0.5, 0.999)),
    "plg-mi": (2, (0.0, 0.9)),
    "lokt": (1, (0.0, 0.9)),
}
#: prior kinds trained with the target
TARGET_KINDS = ("kedmi", "plg-mi", "lokt")


@dataclass
class PriorConfig:
    """How to train a GAN prior.

    Attributes:
        kind: ``gmi`` (WGAN-GP), ``dcgan``, ``kedmi``, ``plg-mi`` or ``lokt`` (see the module
            doc).
        steps: generator updates.
        n_critic: discriminator updates per generator update (``None``: 5 for gmi, 2 for plg-mi,
            1 otherwise).
        mapping_layers: > 0 gives a StyleGAN-like generator with a mapping network of that depth
            (W space, P space) instead of a plain DCGAN generator.
        betas: Adam betas (``None``: (0.0, 0.9) for plg-mi, (0.5, 0.999) otherwise).
        entropy_weight: KEDMI's entropy term (mean entropy of the discriminator's class output).
        inv_weight, inv_loss, top_n, augment: PLG-MI's inversion-loss weight (alpha), identity
            loss, pseudo-labelled public images per class, augmentation preset; for ``lokt``
            ``inv_weight`` weighs the ACGAN class loss (LOKT: 1.5).
        checkpoint: file to checkpoint to / resume from.
        device: where to train: ``auto`` (CUDA when present), ``cpu``, ``cuda``, ``cuda:N``;
            the prior's networks stay there.
        precision: ``fp32``, or ``bf16`` / ``fp16`` mixed precision (autocast; fp16 with loss
            scaling; the gradient penalty in fp32).
    """

    kind: Literal["gmi", "dcgan", "kedmi", "plg-mi", "lokt"] = "gmi"
    steps: int = 2000
    batch_size: int = 64
    n_critic: int | None = None
    latent_dim: int = 100
    g_width: int = 64
    d_width: int = 64
    mapping_layers: int = 0
    lr: float = 2e-4
    betas: tuple[float, float] | None = None
    gp_weight: float = 10.0
    entropy_weight: float = 0.01
    inv_weight: float = 0.2
    inv_loss: str = "max-margin"
    top_n: int = 30
    augment: str = "standard"
    checkpoint: str | None = None
    checkpoint_every: int = 200
    progress: bool = True
    device: str = "auto"
    precision: str = "fp32"

    def __post_init__(self) -> None:
        devices.check_device(self.device)
        devices.check_precision(self.precision)
        check_choice("kind", self.kind, tuple(_DEFAULTS))
        for name in ("steps", "batch_size", "latent_dim", "g_width", "d_width", "lr", "top_n"):
            check_positive(name, getattr(self, name))
        if self.n_critic is not None:
            check_positive("n_critic", self.n_critic)
        check_positive("mapping_layers", self.mapping_layers, allow_zero=True)
        check_positive("gp_weight", self.gp_weight, allow_zero=True)
        check_positive("entropy_weight", self.entropy_weight, allow_zero=True)
        check_positive("inv_weight", self.inv_weight, allow_zero=True)
        check_positive("checkpoint_every", self.checkpoint_every)
        get_identity_loss(self.inv_loss, "inv_loss")
        get_augment(self.augment)
        if self.mapping_layers and self.kind in ("plg-mi", "lokt"):
            raise ConfigError(
                f"mapping_layers: the {self.kind} prior is a conditional DCGAN; use 0"
            )

    @property
    def critic_steps(self) -> int:
        return self.n_critic if self.n_critic is not None else _DEFAULTS[self.kind][0]

    @property
    def adam_betas(self) -> tuple[float, float]:
        return self.betas if self.betas is not None else _DEFAULTS[self.kind][1]


def identity(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings that make a prior what it is (for checkpoint metadata, the saved prior's
    info and sharing): not where it is checkpointed or trained, nor progress bars; the
    precision only when it is mixed."""
    out = {
        k: v
        for k, v in settings.items()
        if k not in ("progress", "checkpoint", "checkpoint_every", "device")
    }
    if out.get("precision") == "fp32":
        out.pop("precision")
    return out


def _gradient_penalty(
    D: torch.nn.Module, real: torch.Tensor, fake: torch.Tensor, g: torch.Generator
) -> torch.Tensor:
    """WGAN-GP's penalty, in float32 even under mixed precision (its inner gradient)."""
    a = devices.rand(real.shape[0], 1, 1, 1, generator=g, device=real.device)
    with torch.autocast(real.device.type, enabled=False):
        x = (a * real.float() + (1 - a) * fake.float()).requires_grad_(True)
        (grad,) = torch.autograd.grad(D(x).float().sum(), x, create_graph=True)
        return ((grad.flatten(1).norm(dim=1) - 1.0) ** 2).mean()


class _Trainer:
    """Discriminator and generator losses of one prior kind (one step each)."""

    def __init__(
        self,
        cfg: PriorConfig,
        G: torch.nn.Module,
        D: torch.nn.Module,
        source: ImageSource,
        g: torch.Generator,
        soft: torch.Tensor | None,
        pairs: tuple[torch.Tensor, torch.Tensor] | None,
        num_classes: int | None,
        target: Any,
        target_input: TargetInput | None,
        hard: torch.Tensor | None = None,
        label_of: Any = None,
    ) -> None:
        self.cfg, self.G, self.D, self.source, self.g = cfg, G, D, source, g
        self.device = devices.module_device(G) or torch.device("cpu")
        self.hard, self.label_of = hard, label_of
        self.soft, self.pairs, self.k = soft, pairs, num_classes
        self.target, self.target_input = target, target_input
        self.augment = get_augment(cfg.augment)
        self.inv_loss = get_identity_loss(cfg.inv_loss)

    def _z(self, n: int) -> torch.Tensor:
        return devices.randn(n, self.cfg.latent_dim, generator=self.g, device=self.device)

    def _y(self, n: int) -> torch.Tensor:
        assert self.k is not None
        return devices.randint(0, self.k, (n,), generator=self.g, device=self.device)

    def _idx(self, n: int) -> torch.Tensor:
        """Indices of ``n`` public images (on the CPU, where the data are)."""
        return devices.randint(0, len(self.source), (n,), generator=self.g, device="cpu")

    def _real(self, idx: torch.Tensor) -> torch.Tensor:
        return self.source.get(idx).to(self.device)

    def _sample(self, n: int) -> torch.Tensor:
        return self.source.sample(n, self.g).to(self.device)

    def _real_pairs(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        assert self.pairs is not None
        idx, lab = self.pairs
        pick = devices.randint(0, idx.shape[0], (n,), generator=self.g, device="cpu")
        return self._real(idx[pick]), lab[pick].to(self.device)

    def d_loss(self) -> torch.Tensor:
        cfg, G, D, bs = self.cfg, self.G, self.D, self.cfg.batch_size
        if cfg.kind == "lokt":
            assert self.hard is not None and self.label_of is not None
            idx = self._idx(bs)
            real = self._real(idx)
            yf = self._y(bs)
            with torch.no_grad():
                fake = G(self._z(bs), yf)
                y_fake = self.label_of(fake)  # the target's hard labels (counted queries)
            h_real, h_fake = D.features(real), D.features(fake)  # type: ignore[operator]
            adv = F.softplus(-D.out(h_real)).mean() + F.softplus(D.out(h_fake)).mean()
            cls = F.cross_entropy(D.head(h_real), self.hard[idx].to(self.device)) + F.cross_entropy(
                D.head(h_fake), y_fake
            )
            return adv + cfg.inv_weight * cls
        if cfg.kind == "plg-mi":
            real, y = self._real_pairs(bs)
            yf = self._y(bs)
            with torch.no_grad():
                fake = G(self._z(bs), yf)
            return F.relu(1.0 - D(real, y)).mean() + F.relu(1.0 + D(fake, yf)).mean()
        with torch.no_grad():
            fake = G(self._z(bs))
        if cfg.kind == "kedmi":
            assert self.soft is not None
            idx = self._idx(bs)
            lab_out = D(self._real(idx))
            sup = -(self.soft[idx].to(self.device) * F.log_softmax(lab_out, dim=1)).sum(1).mean()
            lse_u = torch.logsumexp(D(self._sample(bs)), dim=1)
            lse_f = torch.logsumexp(D(fake), dim=1)
            unsup = 0.5 * (F.softplus(lse_u).mean() - lse_u.mean() + F.softplus(lse_f).mean())
            return sup + unsup
        real = self._sample(bs)
        if cfg.kind == "gmi":
            loss = D(fake).mean() - D(real).mean()
            if cfg.gp_weight > 0:
                loss = loss + cfg.gp_weight * _gradient_penalty(D, real, fake, self.g)
            return loss
        return F.softplus(-D(real)).mean() + F.softplus(D(fake)).mean()  # dcgan

    def g_loss(self) -> torch.Tensor:
        cfg, G, D, bs = self.cfg, self.G, self.D, self.cfg.batch_size
        if cfg.kind == "lokt":
            y = self._y(bs)
            h = D.features(G(self._z(bs), y))  # type: ignore[operator]
            return F.softplus(-D.out(h)).mean() + cfg.inv_weight * F.cross_entropy(D.head(h), y)
        if cfg.kind == "plg-mi":
            y = self._y(bs)
            fake = G(self._z(bs), y)
            loss = -D(fake, y).mean()
            if cfg.inv_weight > 0:
                assert self.target_input is not None
                x = self.augment(fake, self.g) if self.augment is not None else fake
                logits = self.target(self.target_input(x)).to(self.device)
                loss = loss + cfg.inv_weight * self.inv_loss(logits, y).mean()
            return loss
        fake = G(self._z(bs))
        if cfg.kind == "kedmi":
            f_fake = D.features(fake).mean(0)  # type: ignore[operator]
            with torch.no_grad():
                f_real = D.features(self._sample(bs)).mean(0)  # type: ignore[operator]
            out = D(fake)
            ent = -(F.softmax(out, 1) * F.log_softmax(out, 1)).sum(1).mean()
            return (f_fake - f_real).abs().mean() + cfg.entropy_weight * ent
        if cfg.kind == "gmi":
            return -D(fake).mean()
        return F.softplus(-D(fake)).mean()


def train_prior(
    data: Any,
    config: PriorConfig | dict[str, Any] | None = None,
    *,
    target: TargetView | None = None,
    seed: int = 0,
    **overrides: Any,
) -> GeneratorPrior:
    """Train a GAN prior on public ``data`` (tensor, Dataset or folder); returns a
    :class:`GeneratorPrior` with its discriminator.

    ``kedmi`` needs the target's scores (any view but label-only) to distil its soft labels;
    ``plg-mi`` needs a white-box view (pseudo labels and the max-margin term through the target);
    ``lokt`` needs only hard labels (any view; the public images and every generated batch of
    the discriminator's steps are labelled by the target: counted queries).
    The images are generated at the data's resolution; attacks resize them to the target's input.
    """
    from mi_core.config import build_config

    cfg: PriorConfig = build_config(PriorConfig, config, where="prior", **overrides)
    dev = devices.get_device(cfg.device, "prior.device")
    source = data if isinstance(data, ImageSource) else ImageSource(data)
    channels, size = int(source.shape[0]), int(source.shape[1])
    if source.shape[1] != source.shape[2]:
        raise ConfigError(
            f"data: priors generate square images; got {source.shape[1]}x{source.shape[2]}, "
            "resize with ImageSource(data, size=...)"
        )
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    soft = pairs = hard = label_of = None
    num_classes = None
    target_fn = target_input = None
    if cfg.kind == "lokt":
        if target is None:
            raise ConfigError("target: a lokt prior is trained with the target; pass target=view")
        if target.num_classes is None:
            raise ConfigError(
                "target: a lokt prior needs the target's number of classes; build the view with "
                "info=TargetInfo(num_classes=...)"
            )
        num_classes = int(target.num_classes)
        shape = target.input_shape or (channels, size, size)
        rng = target.info.input_range or (0.0, 1.0)
        target_input = TargetInput(tuple(shape), tuple(rng))  # type: ignore[arg-type]
        labels = labels_fn(target, device=dev)

        def label_of(x: torch.Tensor) -> torch.Tensor:
            assert target_input is not None
            return labels(target_input(x))

        hard = torch.cat([label_of(x).cpu() for x in source.batches()])
    if cfg.kind in ("kedmi", "plg-mi"):
        if target is None:
            raise ConfigError(
                f"target: a {cfg.kind} prior is trained with the target; pass target=view"
            )
        if cfg.kind == "plg-mi" and cfg.inv_weight > 0 and target.access is not Access.WHITE_BOX:
            raise AccessError(
                f"a plg-mi prior with inv_weight > 0 backpropagates through the target: it needs "
                f"white-box access, the view grants {target.access.value}"
            )
        shape = target.input_shape or (channels, size, size)
        rng = target.info.input_range or (0.0, 1.0)
        target_input = TargetInput(tuple(shape), tuple(rng))  # type: ignore[arg-type]
        probs_of = scores_fn(target, device="cpu")  # the public data's labels stay beside it
        soft = torch.cat([probs_of(target_input(x)) for x in source.batches()])
        num_classes = int(soft.shape[1])
        if cfg.kind == "plg-mi":
            top = min(cfg.top_n, len(source))
            idx = soft.topk(top, dim=0).indices  # (top, K): most confident images per class
            classes = torch.arange(num_classes, device="cpu")
            pairs = (idx.T.reshape(-1), classes.repeat_interleave(top))
            target_fn = target if target.access is Access.WHITE_BOX else None
    # built on the CPU from the seeded generator (the same initial weights on every device)
    if cfg.mapping_layers:
        G: torch.nn.Module = devices.build(
            lambda: MappingGenerator(
                cfg.latent_dim, channels, size, cfg.g_width, mapping_layers=cfg.mapping_layers
            ),
            dev,
        )
    else:
        G = devices.build(
            lambda: DCGANGenerator(
                cfg.latent_dim,
                channels,
                size,
                cfg.g_width,
                num_classes=num_classes if cfg.kind in ("plg-mi", "lokt") else None,
            ),
            dev,
        )
    D = devices.build(
        lambda: DCGANDiscriminator(
            channels,
            size,
            cfg.d_width,
            out_dim=num_classes if cfg.kind == "kedmi" else 1,  # type: ignore[arg-type]
            num_classes=num_classes if cfg.kind == "plg-mi" else None,
            norm="spectral" if cfg.kind in ("plg-mi", "lokt") else "layer",
            aux_classes=num_classes if cfg.kind == "lokt" else None,
        ),
        dev,
    )
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=cfg.adam_betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=cfg.adam_betas)
    scale_g = devices.grad_scaler(dev, cfg.precision)
    scale_d = devices.grad_scaler(dev, cfg.precision)
    trainer = _Trainer(
        cfg, G, D, source, g, soft, pairs, num_classes, target_fn, target_input, hard, label_of
    )
    settings = config_to_dict(cfg)
    meta = {
        "prior": {  # as before devices: a checkpoint resumes on any device
            k: v
            for k, v in settings.items()
            if k not in ("progress", "device") and not (k == "precision" and v == "fp32")
        },
        "data": source.fingerprint(),
        "seed": seed,
    }
    state: dict[str, Any] = {
        "G": G,
        "D": D,
        "opt_g": opt_g,
        "opt_d": opt_d,
        "rng": GeneratorState(g),
    }
    if cfg.precision == "fp16":
        state.update(scale_g=scale_g, scale_d=scale_d)
    loop = ResumableLoop(
        cfg.steps,
        state=state,
        checkpoint=cfg.checkpoint,
        every=cfg.checkpoint_every,
        meta=meta,
        desc=f"prior ({cfg.kind})",
        progress=cfg.progress,
    )
    t0 = time.perf_counter()
    G.train()
    D.train()
    for _ in loop:
        for _ in range(cfg.critic_steps):
            with devices.autocast(dev, cfg.precision):
                d_loss = trainer.d_loss().float()
            opt_d.zero_grad(set_to_none=True)
            scale_d.scale(d_loss).backward()
            scale_d.step(opt_d)
            scale_d.update()
        for p in D.parameters():
            p.requires_grad_(False)
        with devices.autocast(dev, cfg.precision):
            g_loss = trainer.g_loss().float()
        opt_g.zero_grad(set_to_none=True)
        scale_g.scale(g_loss).backward()
        scale_g.step(opt_g)
        scale_g.update()
        for p in D.parameters():
            p.requires_grad_(True)
        if not (torch.isfinite(d_loss) and torch.isfinite(g_loss)):
            raise ConfigError(
                f"prior: the {cfg.kind} GAN diverged (loss NaN/inf at step {loop.step}); lower "
                f"lr ({cfg.lr}) or change n_critic"
            )
    prior = GeneratorPrior.from_networks(G, D, kind=cfg.kind)
    prior.info = {
        "config": meta["prior"],
        "data": meta["data"],
        "seed": seed,
        "seconds": round(time.perf_counter() - t0, 2),
        "resumed": loop.resumed,
        "num_classes": num_classes,
    }
    return prior


def load_or_train_prior(
    directory: str | Path,
    data: Any,
    config: PriorConfig | dict[str, Any] | None = None,
    *,
    target: TargetView | None = None,
    seed: int = 0,
    **overrides: Any,
) -> GeneratorPrior:
    """Load the prior saved in ``directory`` if it was trained with the same config, data and
    seed; otherwise train it (checkpointing to ``directory/train.ckpt``, so a killed run resumes)
    and save it there."""
    from mi_core.config import build_config

    d = Path(directory)
    cfg: PriorConfig = build_config(PriorConfig, config, where="prior", **overrides)
    if cfg.checkpoint is None:
        cfg.checkpoint = str(d / "train.ckpt")

    want = identity(config_to_dict(cfg))
    if (d / "prior.json").exists():
        info = read_json(d / "prior.json").get("info", {})
        source = data if isinstance(data, ImageSource) else ImageSource(data)
        if (
            identity(info.get("config") or {}) == want
            and info.get("seed") == seed
            and info.get("data") == source.fingerprint()
        ):
            return GeneratorPrior.load(d, devices.get_device(cfg.device, "prior.device"))
        # the saved prior is of another config: a *finished* checkpoint beside it is stale
        ck = Path(cfg.checkpoint)
        if ck.exists() and bool(load_checkpoint(ck).get("done")):
            ck.unlink()
    prior = train_prior(data, cfg, target=target, seed=seed)
    prior.save(d)
    return prior
