"""Diffusion priors on ``diffusers``: a pixel-space ``UNet2DModel`` (class-conditional through
its class embedding, or unconditional) trained with a ``DDPMScheduler`` noise schedule, sampled
with DDIM or DPM-Solver++ and classifier-free guidance (Ho & Salimans 2022, survey [74]).

A :class:`DiffusionPrior` sits beside the GAN priors behind
:class:`~mi_vision.priors.GeneratorPrior` (``kind="diffusion"``): ``sample(n, labels=c)``
samples class ``c``; ``generate(latent, labels)`` decodes an initial noise ``x_T``
(flattened, ``latent_dim = C*H*W``) with a few deterministic, differentiable DDIM steps, so
evaluation, selection and audits need no diffusion special case. Diffusion attacks
(:mod:`mi_vision.diffusion_inversion`) also use its sampler directly:
:meth:`DiffusionPrior.denoise` runs the reverse process from any timestep, with an optional
guidance hook (target-gradient classifier guidance, SIDE's surrogate classifier).

Training (:func:`train_diffusion_prior`) runs through :class:`mi_core.loop.ResumableLoop`
(checkpoints, exact resumption after a kill, tqdm) on the attacker's public images, unlabelled
(unconditional prior), with the user's labels, or pseudo-labelled by the target through a
counted view (Liu 2023: the target's hard labels, label-only access suffices; Diff-MI: the
``top_n`` most confident images per class, which needs scores). Saved priors are diffusers
``DDPMPipeline`` folders (safetensors) plus ``mi_prior.json``;
:meth:`DiffusionPrior.from_pretrained` loads those and a user's own pretrained ``UNet2DModel``
or ``DDPMPipeline`` folder.

**Size on 2 CPU cores.** The defaults (:class:`DiffusionConfig`) are a 1.1M-parameter UNet at
32x32: channels (32, 64, 64), one ResNet layer per block, self-attention only at 8x8, 1,500
steps of batch 64 (~0.8 s a step on 2 shared cores: 20 minutes). Fewer, wider layers at low
resolution carry the cost; the cosine schedule, min-SNR loss weighting (Hang et al. 2023) and
an EMA of the weights make 1,500 steps enough for recognisable 32x32 samples, which a larger
model would not reach in that budget.
"""

from __future__ import annotations

import copy
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from mi_core import device as devices
from mi_core.config import check_choice, check_positive, check_range, config_to_dict
from mi_core.errors import AccessError, ConfigError
from mi_core.io import PathLike, atomic_write_json, read_json
from mi_core.loop import GeneratorState, ResumableLoop, load_checkpoint
from mi_core.threat import Access
from mi_core.views import TargetView
from mi_vision.data import ImageSource
from mi_vision.priors.prior import GeneratorPrior

SAMPLERS = ("ddim", "dpm-solver", "ddpm")
PRIOR_FORMAT = 1

#: ``guide(x_t, t, eps, labels) -> eps``: a guidance hook applied to the (CFG) noise prediction
Guide = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None], torch.Tensor]


@dataclass
class DiffusionConfig:
    """How to train a diffusion prior.

    Attributes:
        conditional: class-conditional UNet (class embedding plus a null class for
            classifier-free guidance) or unconditional.
        top_n: pseudo labels from the target: ``None`` labels every public image with the
            target's hard label (Liu 2023; label-only access); an integer keeps the ``top_n``
            most confident images per class (Diff-MI / PLG-MI; needs scores).
        steps, batch_size, lr, warmup: optimisation (AdamW, linear warm-up then cosine decay to
            a tenth of ``lr``).
        channels, layers_per_block, attention, norm_groups: the UNet2DModel (self-attention in
            the lowest-resolution block and the middle block, or nowhere).
        train_timesteps, beta_schedule: the DDPM noise schedule.
        cond_drop: probability of training on the null class (classifier-free guidance).
        device: where to train (``auto``: CUDA when present, else the CPU); the UNet is built
            on the CPU from the seed and moved, and batches, noise and timesteps are drawn on
            the CPU generator, so a GPU run sees the same draws as a CPU run.
        snr_gamma: min-SNR loss weighting (Hang et al. 2023); ``None`` for the plain DDPM loss.
        ema_decay: exponential moving average of the weights (the prior uses the EMA weights).
        hflip: random horizontal flips of the training images (faces; not digits).
        sampler, sample_steps, guidance_scale, decode_steps: the saved prior's sampling
            defaults (attacks may override them).
        checkpoint: file to checkpoint to / resume from.
    """

    conditional: bool = True
    top_n: int | None = None
    steps: int = 1500
    batch_size: int = 64
    lr: float = 1e-3
    warmup: int = 100
    channels: tuple[int, ...] = (32, 64, 64)
    layers_per_block: int = 1
    attention: bool = True
    norm_groups: int = 8
    train_timesteps: int = 1000
    beta_schedule: Literal["squaredcos_cap_v2", "linear", "scaled_linear"] = "squaredcos_cap_v2"
    cond_drop: float = 0.1
    snr_gamma: float | None = 5.0
    ema_decay: float = 0.995
    hflip: bool = False
    sampler: Literal["ddim", "dpm-solver", "ddpm"] = "dpm-solver"
    sample_steps: int = 20
    guidance_scale: float = 3.0
    decode_steps: int = 8
    checkpoint: str | None = None
    checkpoint_every: int = 100
    progress: bool = True
    device: str = "auto"

    def __post_init__(self) -> None:
        devices.check_device(self.device, "device")
        for name in ("steps", "batch_size", "lr", "layers_per_block", "norm_groups"):
            check_positive(name, getattr(self, name))
        for name in ("train_timesteps", "sample_steps", "decode_steps", "checkpoint_every"):
            check_positive(name, getattr(self, name))
        check_positive("warmup", self.warmup, allow_zero=True)
        check_positive("guidance_scale", self.guidance_scale, allow_zero=True)
        check_range("cond_drop", self.cond_drop, 0.0, 1.0)
        check_range("ema_decay", self.ema_decay, 0.0, 1.0)
        check_choice("sampler", self.sampler, SAMPLERS)
        if self.top_n is not None:
            check_positive("top_n", self.top_n)
        if self.snr_gamma is not None:
            check_positive("snr_gamma", self.snr_gamma)
        if not self.channels or any(c < 1 or c % self.norm_groups for c in self.channels):
            raise ConfigError(
                f"channels: every entry must be a positive multiple of norm_groups "
                f"({self.norm_groups}), got {list(self.channels)}"
            )
        if self.conditional and self.cond_drop == 0.0 and self.guidance_scale != 1.0:
            raise ConfigError(
                "cond_drop: classifier-free guidance (guidance_scale != 1) needs a null class "
                "seen in training; set cond_drop > 0 (e.g. 0.1) or guidance_scale=1"
            )


def build_unet(
    size: int,
    channels_in: int,
    cfg: DiffusionConfig,
    num_classes: int | None,
) -> nn.Module:
    """The ``UNet2DModel`` of ``cfg`` for ``size x size`` images (``num_classes + 1`` class
    embeddings, the last being the null class, when conditional)."""
    from diffusers import UNet2DModel

    levels = len(cfg.channels)
    if size % (2 ** (levels - 1)):
        raise ConfigError(
            f"channels: {levels} resolution levels halve {size}x{size} images "
            f"{levels - 1} times; use fewer levels or another image size"
        )
    last = levels - 1
    down = tuple(
        "AttnDownBlock2D" if cfg.attention and i == last else "DownBlock2D" for i in range(levels)
    )
    up = tuple("AttnUpBlock2D" if cfg.attention and i == 0 else "UpBlock2D" for i in range(levels))
    return UNet2DModel(
        sample_size=size,
        in_channels=channels_in,
        out_channels=channels_in,
        block_out_channels=tuple(cfg.channels),
        layers_per_block=cfg.layers_per_block,
        down_block_types=down,
        up_block_types=up,
        norm_num_groups=cfg.norm_groups,
        attention_head_dim=cfg.channels[-1] if cfg.attention else None,
        add_attention=cfg.attention,
        num_class_embeds=(num_classes + 1) if num_classes is not None else None,
    )


def _noise_config(cfg: DiffusionConfig) -> dict[str, Any]:
    return {
        "num_train_timesteps": cfg.train_timesteps,
        "beta_schedule": cfg.beta_schedule,
        "prediction_type": "epsilon",
        "clip_sample": True,
        "timestep_spacing": "trailing",
    }


class DiffusionPrior(GeneratorPrior):
    """A pixel-space diffusion model behind the generator-prior interface.

    Args:
        unet: a ``diffusers.UNet2DModel`` predicting the noise ``eps``.
        noise_config: the ``DDPMScheduler`` config of its training noise schedule.
        num_classes: classes of a conditional model (its class embedding), else ``None``.
        null_class: the class-embedding index of "no class" (classifier-free guidance);
            ``None`` when the model has none (then guidance_scale must be 1).
        sampler, sample_steps, guidance_scale: defaults of :meth:`sample`.
        decode_steps: deterministic DDIM steps of :meth:`generate` (latent -> image).
    """

    def __init__(
        self,
        unet: nn.Module,
        noise_config: dict[str, Any] | None = None,
        *,
        num_classes: int | None = None,
        null_class: int | None = None,
        sampler: str = "dpm-solver",
        sample_steps: int = 20,
        guidance_scale: float = 3.0,
        decode_steps: int = 8,
    ) -> None:
        from diffusers import DDPMScheduler

        check_choice("sampler", sampler, SAMPLERS)
        cfg = getattr(unet, "config", None)
        if cfg is None or not hasattr(cfg, "sample_size"):
            raise ConfigError(
                f"unet: expected a diffusers UNet2DModel (pixel space), got {type(unet).__name__}"
            )
        size = cfg.sample_size
        size = int(size[0] if isinstance(size, list | tuple) else size)
        self.image_shape = (int(cfg.in_channels), size, size)
        embeds = getattr(cfg, "num_class_embeds", None)
        if num_classes is not None and (embeds is None or num_classes > int(embeds)):
            raise ConfigError(
                f"num_classes: the UNet has {embeds or 'no'} class embeddings, "
                f"cannot condition on {num_classes} classes"
            )
        if null_class is not None and (num_classes is None or not num_classes <= null_class):
            raise ConfigError(
                f"null_class: must be an embedding index >= num_classes ({num_classes}), "
                f"got {null_class}"
            )
        c, h, w = self.image_shape
        super().__init__(
            self._decode,
            c * h * w,
            output_range=(-1.0, 1.0),
            num_classes=num_classes,
            kind="custom",
            modules={"unet": unet},
        )
        self.kind = "diffusion"
        self.unet = unet
        with torch.device("cpu"):  # the schedule's tables live on the CPU
            self.noise = DDPMScheduler.from_config(dict(noise_config or {}))
        self.noise_config = dict(self.noise.config)
        self.alphas_cumprod = self.noise.alphas_cumprod.float().to(self._dev())
        self.null_class = null_class
        self.sampler = sampler
        self.sample_steps = int(sample_steps)
        self.guidance_scale = float(guidance_scale)
        self.decode_steps = int(decode_steps)
        self.freeze()

    # ------------------------------------------------------------------ the score network
    @property
    def timesteps(self) -> int:
        return int(self.noise.config.num_train_timesteps)

    def _labels(self, labels: torch.Tensor | None, n: int) -> torch.Tensor | None:
        if self.num_classes is None:
            return None
        if labels is None:
            if self.null_class is None:
                raise ConfigError(
                    "labels: this conditional model has no null class, so it cannot sample "
                    "without a class; pass labels"
                )
            return torch.full((n,), self.null_class, dtype=torch.long, device=self._dev())
        return torch.as_tensor(labels, dtype=torch.long, device=self._dev()).reshape(-1).expand(n)

    def _dev(self) -> torch.device:
        return self.device or torch.device("cpu")

    def to(self, device: Any) -> DiffusionPrior:
        super().to(device)
        self.alphas_cumprod = self.alphas_cumprod.to(self._dev())
        return self

    def eps(
        self,
        x: torch.Tensor,
        t: torch.Tensor | int,
        labels: torch.Tensor | None = None,
        guidance_scale: float = 1.0,
    ) -> torch.Tensor:
        """Noise prediction at timestep ``t`` (differentiable): for class ``labels`` with
        classifier-free guidance ``eps_u + s (eps_c - eps_u)`` (``s = guidance_scale``; 1 is
        the conditional model, 0 the unconditional one); ``labels=None`` is unconditional."""
        n = x.shape[0]
        t = torch.as_tensor(t, device=x.device).reshape(-1)
        t = t.expand(n) if t.numel() == 1 else t
        if self.num_classes is None:
            if labels is not None:
                raise ConfigError("labels: this diffusion prior is unconditional")
            return self.unet(x, t).sample
        cond = self._labels(labels, n)  # the null class when labels is None
        assert cond is not None
        if labels is None or guidance_scale == 1.0:
            return self.unet(x, t, class_labels=cond).sample
        if self.null_class is None:
            raise ConfigError(
                "guidance_scale: classifier-free guidance needs a null class; this model has "
                "none (set guidance_scale=1 or give null_class)"
            )
        null = torch.full_like(cond, self.null_class)
        if guidance_scale == 0.0:
            return self.unet(x, t, class_labels=null).sample
        both = self.unet(torch.cat([x, x]), torch.cat([t, t]), class_labels=torch.cat([cond, null]))
        e_c, e_u = both.sample.chunk(2)
        return e_u + guidance_scale * (e_c - e_u)

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``x_t = sqrt(a_t) x0 + sqrt(1 - a_t) noise`` (the forward process)."""
        a = self.alphas_cumprod[t.long().to(self.alphas_cumprod.device)].view(-1, 1, 1, 1)
        return a.sqrt() * x0 + (1 - a).sqrt() * noise

    def predict_x0(self, x: torch.Tensor, eps: torch.Tensor, t: torch.Tensor | int) -> torch.Tensor:
        """The denoised estimate ``(x_t - sqrt(1 - a_t) eps) / sqrt(a_t)``."""
        ac = self.alphas_cumprod
        a = ac[torch.as_tensor(t, device=ac.device).long()].reshape(-1, 1, 1, 1)
        return (x - (1 - a).sqrt() * eps) / a.sqrt()

    # ------------------------------------------------------------------ the reverse process
    def scheduler(self, sampler: str | None = None, steps: int | None = None) -> Any:
        """A fresh diffusers scheduler for ``steps`` reverse steps (``ddim``: deterministic
        DDIM; ``dpm-solver``: DPM-Solver++ 2M; ``ddpm``: ancestral sampling)."""
        from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler

        sampler = sampler or self.sampler
        check_choice("sampler", sampler, SAMPLERS)
        cfg = {**self.noise_config, "timestep_spacing": "trailing"}
        with torch.device("cpu"):  # the schedule's tables live on the CPU
            if sampler == "ddim":
                s = DDIMScheduler.from_config(cfg)
            elif sampler == "dpm-solver":
                cfg.pop("clip_sample", None)
                s = DPMSolverMultistepScheduler.from_config(cfg, algorithm_type="dpmsolver++")
            else:
                s = DDPMScheduler.from_config(cfg)
            s.set_timesteps(int(steps or self.sample_steps))
        return s

    def denoise(
        self,
        x: torch.Tensor,
        labels: torch.Tensor | None = None,
        *,
        steps: int | None = None,
        sampler: str | None = None,
        guidance_scale: float | None = None,
        guide: Guide | None = None,
        start: int | None = None,
        generator: torch.Generator | None = None,
        grad: bool = False,
        x0_trace: list[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Run the reverse process on ``x`` (model space, [-1, 1]): from pure noise, or, with
        ``start``, from ``x`` read as a sample at timestep ``start`` (only the sampler's
        timesteps ``<= start`` run; SDEdit-like). ``guide`` edits each noise prediction
        (classifier guidance); ``grad=True`` keeps the graph (few-step fine-tuning, latent
        decoding); ``x0_trace`` collects the denoised estimate of every step."""
        s = self.scheduler(sampler, steps)
        scale = self.guidance_scale if guidance_scale is None else float(guidance_scale)
        if labels is None and self.num_classes is not None:
            scale = 1.0
        ts = [t for t in s.timesteps if start is None or int(t) <= start]
        ctx = torch.enable_grad() if grad else torch.no_grad()
        kw = {"generator": generator} if isinstance(s, _ddpm_cls()) else {}
        with ctx:
            for t in ts:
                e = self.eps(x, t, labels, scale)
                if guide is not None:
                    e = guide(x, torch.as_tensor(t, device="cpu"), e, labels)
                if x0_trace is not None:
                    x0_trace.append(self.predict_x0(x, e, t).clamp(-1, 1))
                x = s.step(e, t, x, **kw).prev_sample
        return x.clamp(-1.0, 1.0)

    def sample(
        self,
        n: int,
        generator: torch.Generator | None = None,
        labels: torch.Tensor | None = None,
        *,
        steps: int | None = None,
        sampler: str | None = None,
        guidance_scale: float | None = None,
        guide: Guide | None = None,
        batch: int = 256,
    ) -> torch.Tensor:
        """``n`` images in [0, 1]: of class ``labels`` (one per row, or one class for all) with
        classifier-free guidance, or unconditional samples (``labels=None``)."""
        c, h, w = self.image_shape
        if labels is not None:
            labels = torch.as_tensor(labels, dtype=torch.long, device=self._dev()).reshape(-1)
            labels = labels.expand(n) if labels.numel() == 1 else labels
            if labels.numel() != n:
                raise ConfigError(f"labels: {labels.numel()} labels for {n} samples")
        out = []
        for i in range(0, n, batch):
            m = min(batch, n - i)
            x = devices.randn(m, c, h, w, generator=generator, device=self._dev())
            lab = labels[i : i + m] if labels is not None else None
            out.append(
                self.denoise(
                    x,
                    lab,
                    steps=steps,
                    sampler=sampler,
                    guidance_scale=guidance_scale,
                    guide=guide,
                    generator=generator,
                ).detach()
            )
        return self._to_unit(torch.cat(out)) if out else torch.empty(0, c, h, w, device=self._dev())

    # ------------------------------------------------------------------ generator interface
    def _decode(self, latent: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        x = latent.reshape(latent.shape[0], *self.image_shape)
        return self.denoise(x, labels, steps=self.decode_steps, sampler="ddim", grad=True)

    def generate(self, latent: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images in [0, 1] of initial noises ``latent`` (N, C*H*W): ``decode_steps``
        deterministic DDIM steps with classifier-free guidance, differentiable."""
        return self._to_unit(self._decode(latent, labels))

    def to_search(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return z

    # ------------------------------------------------------------------ persistence
    def save(self, directory: PathLike) -> Path:
        """Write a diffusers ``DDPMPipeline`` folder (``unet/`` in safetensors, ``scheduler/``,
        ``model_index.json``) plus ``mi_prior.json``; replaces ``directory`` atomically."""
        from diffusers import DDPMPipeline

        d = Path(directory)
        d.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{d.name}.", dir=d.parent))
        try:
            DDPMPipeline(unet=self.unet, scheduler=self.noise).save_pretrained(
                tmp, safe_serialization=True
            )
            atomic_write_json(
                tmp / "mi_prior.json",
                {
                    "format": PRIOR_FORMAT,
                    "kind": "diffusion",
                    "num_classes": self.num_classes,
                    "null_class": self.null_class,
                    "sampler": self.sampler,
                    "sample_steps": self.sample_steps,
                    "guidance_scale": self.guidance_scale,
                    "decode_steps": self.decode_steps,
                    "info": self.info,
                },
            )
            old = None
            if d.exists():
                old = d.with_name(f".{d.name}.old-{os.getpid()}")
                d.rename(old)
            tmp.rename(d)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return d

    @classmethod
    def load(cls, directory: PathLike) -> DiffusionPrior:
        """Load a prior written by :meth:`save` (safetensors, no pickle)."""
        d = Path(directory)
        if not (d / "mi_prior.json").exists():
            raise FileNotFoundError(
                f"prior: {d / 'mi_prior.json'} does not exist (not a saved diffusion prior; "
                "use DiffusionPrior.from_pretrained for a diffusers folder)"
            )
        return cls.from_pretrained(d)

    @classmethod
    def from_pretrained(
        cls,
        path: PathLike | str,
        *,
        num_classes: int | None = None,
        null_class: int | None = None,
        **kwargs: Any,
    ) -> DiffusionPrior:
        """A user's pretrained pixel-space diffusers model: a ``DDPMPipeline``-style folder
        (``unet/``, ``scheduler/``), a bare ``UNet2DModel`` folder (the DDPM default linear
        schedule is assumed unless ``scheduler/`` lies beside it), or a prior saved here.
        A hub name works for users with internet (diffusers downloads it); tests never do.

        ``num_classes`` / ``null_class``: for a class-conditional UNet not saved by this
        package, which embeddings are classes and which (if any) is the null class.
        Remaining keyword arguments are the sampling defaults (``sampler``, ``sample_steps``,
        ``guidance_scale``, ``decode_steps``).
        """
        from diffusers import DDPMScheduler, UNet2DModel

        p = Path(path)
        meta = read_json(p / "mi_prior.json") if (p / "mi_prior.json").exists() else {}
        if meta and meta.get("format") != PRIOR_FORMAT:
            raise ConfigError(f"prior: {p / 'mi_prior.json'} has format {meta.get('format')!r}")
        local = p.exists()
        pipeline = (p / "model_index.json").exists() if local else True
        if local and not pipeline and not (p / "config.json").exists():
            raise ConfigError(
                f"path: {p} holds neither a diffusers pipeline (model_index.json) nor a "
                "UNet2DModel (config.json)"
            )
        try:
            if pipeline and (not local or (p / "unet").exists()):
                unet = UNet2DModel.from_pretrained(str(path), subfolder="unet")
            else:
                unet = UNet2DModel.from_pretrained(str(path))
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"path: cannot load a pixel-space UNet2DModel from {path} ({exc}); latent "
                "diffusion pipelines (UNet2DConditionModel + VAE) are not supported"
            ) from exc
        sched_dir = p / "scheduler" if local else None
        if sched_dir is None or sched_dir.exists():
            noise_config = dict(DDPMScheduler.load_config(str(path), subfolder="scheduler"))
        else:
            noise_config = dict(DDPMScheduler().config)
        noise_config = {
            k: v for k, v in noise_config.items() if not k.startswith("_") and k != "skip_prk_steps"
        }
        embeds = unet.config.num_class_embeds
        if meta:
            num_classes = meta.get("num_classes") if num_classes is None else num_classes
            null_class = meta.get("null_class") if null_class is None else null_class
            for key in ("sampler", "sample_steps", "guidance_scale", "decode_steps"):
                kwargs.setdefault(key, meta[key])
        elif embeds is not None and num_classes is None:
            num_classes = int(embeds)
        if embeds is None and num_classes is not None:
            raise ConfigError(
                f"num_classes: {path} holds an unconditional UNet (no class embedding)"
            )
        if null_class is None and num_classes is not None:
            kwargs.setdefault("guidance_scale", 1.0)
        prior = cls(unet, noise_config, num_classes=num_classes, null_class=null_class, **kwargs)
        prior.info = dict(meta.get("info", {})) if meta else {"source": str(path)}
        return prior

    def __repr__(self) -> str:
        cond = f", {self.num_classes} classes" if self.num_classes else ", unconditional"
        n = sum(p.numel() for p in self.unet.parameters())
        c, h, w = self.image_shape
        return f"<DiffusionPrior {c}x{h}x{w}{cond}, {n / 1e6:.2f}M parameters, {self.sampler}>"


def _ddpm_cls() -> type:
    from diffusers import DDPMScheduler

    return DDPMScheduler


# ------------------------------------------------------------------------------------------
# training
# ------------------------------------------------------------------------------------------


def pseudo_labels(
    source: ImageSource,
    target: TargetView,
    top_n: int | None,
    image_shape: tuple[int, int, int],
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """``(indices, labels, num_classes)`` of the public images labelled by the target: every
    image with its hard label (``top_n=None``; any access) or the ``top_n`` most confident per
    class (needs scores). Every image costs one counted query."""
    from mi_vision.targets import TargetInput, labels_fn, scores_fn

    shape = target.input_shape or image_shape
    rng = target.info.input_range or (0.0, 1.0)
    to_input = TargetInput(tuple(shape), tuple(rng))  # type: ignore[arg-type]
    if top_n is None:
        lab = labels_fn(target, "cpu")
        y = torch.cat([lab(to_input(x)) for x in source.batches()])
        k = target.num_classes or int(y.max()) + 1
        return torch.arange(len(source), device="cpu"), y, int(k)
    if target.access is Access.LABEL_ONLY:
        raise AccessError(
            "top_n: picking the most confident public images per class needs the target's "
            "scores; a label-only view gives labels (set top_n=None to label every image)"
        )
    probs = scores_fn(target, "cpu")
    p = torch.cat([probs(to_input(x)) for x in source.batches()])
    k = int(p.shape[1])
    top = min(top_n, len(source))
    idx = p.topk(top, dim=0).indices  # (top, K)
    return idx.T.reshape(-1), torch.arange(k, device="cpu").repeat_interleave(top), k


def _lr_lambda(cfg: DiffusionConfig) -> Callable[[int], float]:
    def f(step: int) -> float:
        if step < cfg.warmup:
            return (step + 1) / cfg.warmup
        frac = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, frac)))

    return f


class _EMA(nn.Module):
    """An exponential moving average of a module's parameters (stateful for checkpoints)."""

    def __init__(self, module: nn.Module, decay: float) -> None:
        super().__init__()
        self.shadow = copy.deepcopy(module).eval()
        for p in self.shadow.parameters():
            p.requires_grad_(False)
        self.decay = decay
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def update(self, module: nn.Module) -> None:
        self.updates += 1
        n = int(self.updates)
        d = min(self.decay, (1 + n) / (10 + n))
        for s, p in zip(self.shadow.parameters(), module.parameters(), strict=True):
            s.lerp_(p.detach(), 1.0 - d)


def train_diffusion_prior(
    data: Any,
    config: DiffusionConfig | dict[str, Any] | None = None,
    *,
    labels: torch.Tensor | None = None,
    target: TargetView | None = None,
    seed: int = 0,
    **overrides: Any,
) -> DiffusionPrior:
    """Train a diffusion prior on public ``data`` (tensor, Dataset or folder, in [0, 1]).

    A conditional prior learns the classes of ``labels`` (one per image) or, without them, the
    target's pseudo labels (``target``: any view; see :func:`pseudo_labels`); the labelling
    queries are counted by the view and recorded in ``prior.info["queries"]``.
    """
    from mi_core.config import build_config

    cfg: DiffusionConfig = build_config(DiffusionConfig, config, where="prior", **overrides)
    source = data if isinstance(data, ImageSource) else ImageSource(data)
    c, size, size2 = (int(s) for s in source.shape)
    if size != size2:
        raise ConfigError(
            f"data: diffusion priors generate square images; got {size}x{size2}, resize with "
            "ImageSource(data, size=...)"
        )
    dev = devices.get_device(cfg.device, "prior.device")
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    idx = torch.arange(len(source), device="cpu")
    y: torch.Tensor | None = None
    num_classes: int | None = None
    queries = 0
    if cfg.conditional:
        if labels is not None:
            y = torch.as_tensor(labels, dtype=torch.long, device="cpu").reshape(-1)
            if y.numel() != len(source):
                raise ConfigError(f"labels: {y.numel()} labels for {len(source)} images")
            num_classes = int(y.max()) + 1
        elif target is not None:
            q0 = target.queries
            idx, y, num_classes = pseudo_labels(source, target, cfg.top_n, (c, size, size))
            queries = target.queries - q0
        else:
            raise ConfigError(
                "target: a conditional diffusion prior needs labels: pass labels=... or the "
                "target view to pseudo-label the public images (or conditional=False)"
            )
    # built on the CPU from the seeded generator (the same initial weights on every device)
    with torch.device("cpu"):
        unet = build_unet(size, c, cfg, num_classes)
        ema = _EMA(unet, cfg.ema_decay)
    unet, ema = unet.to(dev), ema.to(dev)
    from diffusers import DDPMScheduler

    with torch.device("cpu"):
        noise = DDPMScheduler(**_noise_config(cfg))
    ac = noise.alphas_cumprod.float().to(dev)
    snr = ac / (1 - ac)
    opt = torch.optim.AdamW(unet.parameters(), lr=cfg.lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(cfg))
    meta = {
        "prior": {k: v for k, v in config_to_dict(cfg).items() if k not in ("progress", "device")},
        "data": source.fingerprint(),
        "seed": seed,
        "labels": None if y is None else [int(y.numel()), int(y.sum())],
    }
    loop = ResumableLoop(
        cfg.steps,
        state={"unet": unet, "ema": ema, "opt": opt, "sched": sched, "rng": GeneratorState(g)},
        checkpoint=cfg.checkpoint,
        every=cfg.checkpoint_every,
        meta={k: v for k, v in meta.items() if k != "prior"}
        | {"prior": {k: v for k, v in meta["prior"].items() if k not in _CKPT_FREE}},
        desc="prior (diffusion)",
        progress=cfg.progress,
    )
    t0 = time.perf_counter()
    unet.train()
    null = num_classes if num_classes is not None else None
    for _ in loop:
        pick = devices.randint(0, idx.numel(), (cfg.batch_size,), generator=g, device="cpu")
        x0 = (source.get(idx[pick]) * 2.0 - 1.0).to(dev)
        if cfg.hflip:
            flip = devices.rand(cfg.batch_size, generator=g, device=dev) < 0.5
            x0 = torch.where(flip.view(-1, 1, 1, 1), x0.flip(-1), x0)
        eps = devices.randn(tuple(x0.shape), generator=g, device=dev)
        t = devices.randint(0, cfg.train_timesteps, (cfg.batch_size,), generator=g, device=dev)
        a = ac[t].view(-1, 1, 1, 1)
        xt = a.sqrt() * x0 + (1 - a).sqrt() * eps
        cl = None
        if y is not None:
            cl = y[pick].clone().to(dev)
            drop = devices.rand(cfg.batch_size, generator=g, device=dev) < cfg.cond_drop
            cl[drop] = null  # type: ignore[assignment]
        pred = unet(xt, t, class_labels=cl).sample
        per = F.mse_loss(pred, eps, reduction="none").mean(dim=(1, 2, 3))
        if cfg.snr_gamma is not None:
            per = per * (snr[t].clamp(max=cfg.snr_gamma) / snr[t])
        loss = per.mean()
        if not torch.isfinite(loss):
            raise ConfigError(
                f"prior: diffusion training diverged (loss NaN/inf at step {loop.step}); lower "
                f"lr ({cfg.lr})"
            )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        opt.step()
        sched.step()
        ema.update(unet)
    prior = DiffusionPrior(
        ema.shadow,
        _noise_config(cfg),
        num_classes=num_classes,
        null_class=num_classes,
        sampler=cfg.sampler,
        sample_steps=cfg.sample_steps,
        guidance_scale=cfg.guidance_scale if num_classes is not None else 1.0,
        decode_steps=cfg.decode_steps,
    )
    prior.info = {
        "config": meta["prior"],
        "data": meta["data"],
        "seed": seed,
        "seconds": round(time.perf_counter() - t0, 2),
        "resumed": loop.resumed,
        "num_classes": num_classes,
        "queries": queries,
        "labelled_images": int(idx.numel()),
        "parameters": sum(p.numel() for p in unet.parameters()),
    }
    return prior


#: config fields that change sampling only: a checkpoint of the same training resumes across them
_CKPT_FREE = ("sampler", "sample_steps", "guidance_scale", "decode_steps", "checkpoint_every")


def load_or_train_diffusion_prior(
    directory: str | Path,
    data: Any,
    config: DiffusionConfig | dict[str, Any] | None = None,
    *,
    labels: torch.Tensor | None = None,
    target: TargetView | None = None,
    seed: int = 0,
    **overrides: Any,
) -> DiffusionPrior:
    """Load the diffusion prior saved in ``directory`` if it was trained with the same config,
    data and seed; otherwise train it (checkpointing to ``directory/../NAME.ckpt``, so a killed
    run resumes) and save it there."""
    from mi_core.config import build_config

    d = Path(directory)
    cfg: DiffusionConfig = build_config(DiffusionConfig, config, where="prior", **overrides)
    if cfg.checkpoint is None:
        cfg.checkpoint = str(d.with_name(d.name + ".ckpt"))

    def identity(c: dict[str, Any]) -> dict[str, Any]:
        return {
            k: v
            for k, v in c.items()
            if k not in ("progress", "checkpoint", "checkpoint_every", "device")
        }

    want = identity(config_to_dict(cfg))
    if (d / "mi_prior.json").exists():
        info = read_json(d / "mi_prior.json").get("info", {})
        source = data if isinstance(data, ImageSource) else ImageSource(data)
        if (
            identity(info.get("config") or {}) == want
            and info.get("seed") == seed
            and info.get("data") == source.fingerprint()
        ):
            return DiffusionPrior.load(d).to(devices.get_device(cfg.device, "prior.device"))
        ck = Path(cfg.checkpoint)
        if ck.exists() and bool(load_checkpoint(ck).get("done")):
            ck.unlink()
    prior = train_diffusion_prior(data, cfg, labels=labels, target=target, seed=seed)
    prior.save(d)
    return prior


__all__ = [
    "DiffusionConfig",
    "DiffusionPrior",
    "build_unet",
    "load_or_train_diffusion_prior",
    "pseudo_labels",
    "train_diffusion_prior",
]
