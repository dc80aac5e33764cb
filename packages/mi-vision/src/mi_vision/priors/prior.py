"""The generator interface every GAN-prior attack searches (survey Sec. IV-A-2, Eq. 3).

A :class:`GeneratorPrior` turns a latent of its *search space* into images in [0, 1]:

* ``space="z"``: the input noise (GMI, KEDMI, PLG-MI, BREP-MI, RLB-MI);
* ``space="w"``: the output of a mapping network (StyleGAN's W space; PPA, Mirror), with Mirror's
  P space (the input of the mapping network's last LeakyReLU) for clipping.

It wraps this package's own networks (trained by :func:`mi_vision.priors.train_prior`) or a user's
pretrained StyleGAN-like generator (:meth:`GeneratorPrior.from_stylegan`) without importing its
training code. ``blocks`` splits a generator ``G = G_L o ... o G_1`` (survey Eq. 7) for
intermediate-layer search.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mi_core import device as devices
from mi_core.errors import ConfigError
from mi_core.io import PathLike, atomic_write_json, load_tensors, read_json, save_tensors
from mi_vision.priors.nets import build_net, net_spec

PRIOR_FORMAT = 1
KINDS = ("gmi", "dcgan", "kedmi", "plg-mi", "lokt", "custom")


class GeneratorPrior:
    """A generator plus what attacks need to search it.

    Args:
        synthesis: callable ``latent (, labels) -> images`` in ``output_range``; takes the W-space
            latent when ``mapping`` is given, else the Z-space latent.
        latent_dim: dimension of the input noise z (standard normal).
        mapping: optional ``z (, labels) -> w`` mapping network (StyleGAN-like).
        space: ``"z"`` or ``"w"`` (needs ``mapping``): the space attacks search.
        output_range: value range of the generator's images (mapped to [0, 1]).
        num_classes: number of classes of a conditional generator (PLG-MI), else ``None``.
        discriminator: the GAN's discriminator, for realism prior losses (GMI, KEDMI).
        kind: how it was trained: ``gmi`` (WGAN-GP), ``dcgan``, ``kedmi``, ``plg-mi`` or
            ``custom``; decides the realism loss.
        latent_clip: attacks clip z-space latents to ``[-latent_clip, latent_clip]`` (GMI: 1).
        p_space: ``(slope, gain)`` of the mapping network's last activation
            ``w = gain * leaky_relu(p, slope)``; ``None`` if there is no P space.
        blocks: callables ``[G_1, ..., G_L]`` whose composition is the synthesis network.
        block_input: ``(latent, labels) -> h``, the input of ``G_1`` of a conditional generator
            (e.g. the latent concatenated with the class embedding), for :meth:`stages`.
        modules: the nn.Modules behind the callables (for ``freeze`` and ``save``).
    """

    def __init__(
        self,
        synthesis: Callable[..., torch.Tensor],
        latent_dim: int,
        *,
        mapping: Callable[..., torch.Tensor] | None = None,
        space: str = "z",
        output_range: tuple[float, float] = (0.0, 1.0),
        num_classes: int | None = None,
        discriminator: nn.Module | None = None,
        kind: str = "custom",
        latent_clip: float | None = None,
        p_space: tuple[float, float] | None = None,
        blocks: Sequence[Callable[..., torch.Tensor]] | None = None,
        modules: dict[str, nn.Module] | None = None,
        block_input: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        if space not in ("z", "w"):
            raise ConfigError(f"space: unknown value {space!r}; allowed: 'z', 'w'")
        if space == "w" and mapping is None:
            raise ConfigError("space: 'w' needs a mapping network (mapping=...)")
        if kind not in KINDS:
            raise ConfigError(f"kind: unknown value {kind!r}; allowed: {', '.join(KINDS)}")
        if not isinstance(latent_dim, int) or latent_dim < 1:
            raise ConfigError(f"latent_dim: must be a positive integer, got {latent_dim!r}")
        self.synthesis = synthesis
        self.mapping = mapping
        self.latent_dim = latent_dim
        self.space = space
        self.output_range = (float(output_range[0]), float(output_range[1]))
        self.num_classes = num_classes
        self.discriminator = discriminator
        self.kind = kind
        self.latent_clip = latent_clip
        self.p_space = p_space if mapping is not None else None
        self.blocks = list(blocks) if blocks is not None else None
        self.block_input = block_input
        self.modules: dict[str, nn.Module] = dict(modules or {})
        self.arch: dict[str, Any] | None = None
        self.info: dict[str, Any] = {}

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_networks(
        cls,
        generator: nn.Module,
        discriminator: nn.Module | None = None,
        *,
        kind: str = "custom",
        space: str | None = None,
        latent_clip: float | None = None,
    ) -> GeneratorPrior:
        """A prior from this package's networks (:mod:`mi_vision.priors.nets`)."""
        mapping = getattr(generator, "mapping", None)
        synthesis = getattr(generator, "synthesis", None) if mapping is not None else generator
        space = space or ("w" if mapping is not None else "z")
        blocks = getattr(synthesis, "blocks", None)
        modules = {"generator": generator}
        embed = getattr(synthesis, "embed", None)
        block_input = None
        if embed is not None:

            def block_input(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
                return torch.cat([z.flatten(1), embed(y)], dim=1)

        if discriminator is not None:
            modules["discriminator"] = discriminator
        prior = cls(
            synthesis,  # type: ignore[arg-type]
            int(generator.latent_dim),  # type: ignore[arg-type]
            mapping=mapping,
            space=space,
            num_classes=getattr(generator, "num_classes", None),
            discriminator=discriminator,
            kind=kind,
            latent_clip=latent_clip,
            p_space=(mapping.slope, 1.0) if mapping is not None else None,
            blocks=list(blocks) if blocks is not None else None,
            modules=modules,
            block_input=block_input,
        )
        prior.arch = {
            "generator": net_spec(generator),
            "discriminator": net_spec(discriminator) if discriminator is not None else None,
        }
        return prior.freeze()

    @classmethod
    def from_stylegan(
        cls,
        generator: Any,
        *,
        space: str = "w",
        truncation_psi: float = 1.0,
        noise_mode: str = "const",
        output_range: tuple[float, float] = (-1.0, 1.0),
        p_space: tuple[float, float] | None = (0.2, math.sqrt(2.0)),
        blocks: Sequence[Callable[..., torch.Tensor]] | None = None,
    ) -> GeneratorPrior:
        """Wrap a pretrained StyleGAN2(-ADA)/StyleGAN3-like generator.

        The object needs ``z_dim``, ``mapping(z, c, truncation_psi=...)`` returning ``ws`` and
        ``synthesis(ws, noise_mode=...)`` returning images in ``output_range``; its training
        code is never imported. ``c_dim`` (class conditioning) is fed zeros unless labels are
        given. ``p_space`` is the (slope, gain) of the mapping's last activation (StyleGAN2:
        LeakyReLU 0.2 with gain sqrt(2)).
        """
        for attr in ("z_dim", "mapping", "synthesis"):
            if not hasattr(generator, attr):
                raise ConfigError(
                    f"generator: a StyleGAN-like generator needs `{attr}` (z_dim, mapping(z, c), "
                    "synthesis(ws)); wrap other generators with GeneratorPrior(...) directly"
                )
        c_dim = int(getattr(generator, "c_dim", 0) or 0)

        def mapping(z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
            if c_dim:
                c = torch.zeros(z.shape[0], c_dim, device=z.device)
                if labels is not None:
                    c[torch.arange(z.shape[0], device=z.device), labels] = 1.0
            else:
                c = None
            return generator.mapping(z, c, truncation_psi=truncation_psi)  # type: ignore[no-any-return]

        def synthesis(ws: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
            return generator.synthesis(ws, noise_mode=noise_mode)  # type: ignore[no-any-return]

        mods = {"generator": generator} if isinstance(generator, nn.Module) else {}
        prior = cls(
            synthesis,
            int(generator.z_dim),
            mapping=mapping,
            space=space,
            output_range=output_range,
            num_classes=c_dim or None,
            kind="custom",
            p_space=p_space,
            blocks=blocks,
            modules=mods,
        )
        return prior.freeze()

    # ------------------------------------------------------------------ device
    @property
    def device(self) -> torch.device | None:
        """Where the generator computes (its modules' device); None for a prior of plain
        callables without modules."""
        for m in self.modules.values():
            dev = devices.module_device(m)
            if dev is not None:
                return dev
        return None

    def to(self, device: Any) -> GeneratorPrior:
        """Move the generator (and discriminator) to ``device``, in place; returns the prior.
        Attacks move the prior they search to their own device."""
        dev = devices.get_device(device) if isinstance(device, str) else torch.device(device)
        for m in self.modules.values():
            m.to(dev)
        if self.discriminator is not None and self.discriminator not in self.modules.values():
            self.discriminator.to(dev)
        return self

    # ------------------------------------------------------------------ use
    def freeze(self) -> GeneratorPrior:
        """Eval mode and no parameter gradients (attacks optimise latents only)."""
        for m in self.modules.values():
            m.eval()
            for p in m.parameters():
                p.requires_grad_(False)
        return self

    def sample_z(
        self, n: int, generator: torch.Generator | None = None, device: Any = None
    ) -> torch.Tensor:
        """``n`` standard-normal input latents, drawn on the CPU generator and moved to
        ``device`` (default: the generator's device): the same latents on every device."""
        where = device if device is not None else (self.device or "cpu")
        return devices.randn(n, self.latent_dim, generator=generator, device=where)

    def _call(self, fn: Callable[..., torch.Tensor], x: torch.Tensor, labels: Any) -> torch.Tensor:
        if self.num_classes is not None:
            if labels is None:
                raise ConfigError("labels: this prior is conditional; pass the class of each row")
            return fn(x, labels)
        return fn(x)

    def to_search(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Map input noise to the search space (identity in Z space, ``mapping`` in W space)."""
        if self.space == "w":
            assert self.mapping is not None
            with torch.no_grad():
                return self._call(self.mapping, z, labels)
        return z

    def generate(self, latent: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images in [0, 1] for search-space latents (differentiable)."""
        h = latent
        if self.space == "z" and self.mapping is not None:
            h = self._call(self.mapping, h, labels)
        x = self._call(self.synthesis, h, labels)
        return self._to_unit(x)

    def sample(
        self, n: int, generator: torch.Generator | None = None, labels: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``n`` unoptimised images (the baseline of every GAN attack)."""
        with torch.no_grad():
            return self.generate(self.to_search(self.sample_z(n, generator), labels), labels)

    def _to_unit(self, x: torch.Tensor) -> torch.Tensor:
        lo, hi = self.output_range
        if (lo, hi) == (0.0, 1.0):
            return x
        return ((x - lo) / (hi - lo)).clamp(0.0, 1.0)

    def clip(self, latent: torch.Tensor) -> torch.Tensor:
        """Clip z-space latents to ``latent_clip`` (no-op otherwise)."""
        if self.latent_clip is None or self.space != "z":
            return latent
        return latent.clamp(-self.latent_clip, self.latent_clip)

    # ------------------------------------------------------------------ P space (Mirror)
    def to_p(self, w: torch.Tensor) -> torch.Tensor:
        """W -> P: invert the mapping network's last activation ``w = gain * lrelu(p, slope)``."""
        slope, gain = self._p()
        w = w / gain
        return torch.where(w >= 0, w, w / slope)

    def from_p(self, p: torch.Tensor) -> torch.Tensor:
        slope, gain = self._p()
        return gain * torch.where(p >= 0, p, p * slope)

    def p_stats(
        self, n: int = 10000, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and standard deviation of P-space activations over ``n`` random z."""
        self._p()
        ps = []
        for i in range(0, n, 1000):
            z = self.sample_z(min(1000, n - i), generator)
            with torch.no_grad():
                assert self.mapping is not None
                w = self.mapping(z) if self.num_classes is None else self.mapping(z, None)
            ps.append(self.to_p(w))
        p = torch.cat(ps)
        return p.mean(0), p.std(0)

    def _p(self) -> tuple[float, float]:
        if self.p_space is None or self.mapping is None:
            raise ConfigError(
                "p_space: this generator has no mapping network, so there is no P space to clip "
                "in; use a W-space prior (e.g. PriorConfig(mapping_layers=3)) or turn clipping off"
            )
        return self.p_space

    # ------------------------------------------------------------------ intermediate blocks
    def split(
        self, k: int
    ) -> tuple[Callable[[torch.Tensor], torch.Tensor], Callable[[torch.Tensor], torch.Tensor]]:
        """``(head, tail)`` with ``synthesis = tail o head``: ``head = G_k o ... o G_1`` maps a
        latent to the input of block ``k + 1`` (intermediate-layer search, survey Eq. 7)."""
        if self.blocks is None:
            raise ConfigError("blocks: this generator exposes no blocks; pass blocks=[G_1, ...]")
        if not 0 <= k <= len(self.blocks):
            raise ConfigError(f"k: must lie in [0, {len(self.blocks)}], got {k}")
        head_blocks, tail_blocks = self.blocks[:k], self.blocks[k:]

        def head(h: torch.Tensor) -> torch.Tensor:
            for b in head_blocks:
                h = b(h)
            return h

        def tail(h: torch.Tensor) -> torch.Tensor:
            for b in tail_blocks:
                h = b(h)
            return self._to_unit(h)

        return head, tail

    def stages(
        self, labels: torch.Tensor | None = None
    ) -> list[Callable[[torch.Tensor], torch.Tensor]]:
        """The generator split into blocks ``G = G_L o ... o G_1 o G_0`` for search in its
        intermediate spaces (survey Eq. 7; IF-GMI): callables whose composition maps a
        search-space latent to images in [0, 1]. ``G_0`` takes the latent to the input of the
        first synthesis block: the mapping network when a mapping generator is searched in Z,
        the class conditioning of a conditional generator (``labels``, one per row); it is left
        out when it is the identity (a W-space or plain Z-space search). The last block ends in
        the map to [0, 1]."""
        if self.blocks is None:
            raise ConfigError(
                "blocks: this generator exposes no blocks to split; pass blocks=[G_1, ...] "
                "(and block_input for a conditional generator) to GeneratorPrior"
            )
        first: list[Callable[[torch.Tensor], torch.Tensor]] = []
        if self.space == "z" and self.mapping is not None:
            mapping = self.mapping
            first.append(lambda h: self._call(mapping, h, labels))
        if self.num_classes is not None:
            if labels is None:
                raise ConfigError("labels: this prior is conditional; pass the class of each row")
            if self.block_input is None:
                raise ConfigError(
                    "block_input: a conditional generator split into blocks needs the input of "
                    "its first block, block_input=(latent, labels) -> h"
                )
            block_input = self.block_input
            first.append(lambda h: block_input(h, labels))
        out = list(self.blocks)
        last = out[-1]
        out[-1] = lambda h: self._to_unit(last(h))
        if first:

            def g0(h: torch.Tensor) -> torch.Tensor:
                for fn in first:
                    h = fn(h)
                return h

            out.insert(0, g0)
        return out

    # ------------------------------------------------------------------ realism (prior loss)
    def realism_loss(
        self, images: torch.Tensor, labels: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Per-image discriminator prior loss (survey Eq. 3, ``L_prior``); see
        :func:`mi_vision.losses.discriminator_realism`."""
        from mi_vision.losses import discriminator_realism

        if self.discriminator is None:
            raise ConfigError(
                "prior.discriminator: a realism prior loss needs the GAN's discriminator; set "
                "prior_weight=0 or give a prior trained with train_prior"
            )
        if getattr(self.discriminator, "num_classes", None) is not None:
            out = self.discriminator(images, labels)
        else:
            out = self.discriminator(images)
        return discriminator_realism(out, self.kind)

    # ------------------------------------------------------------------ persistence
    def save(self, directory: PathLike) -> Path:
        """Write ``prior.json`` and ``*.safetensors`` (built-in networks only)."""
        if self.arch is None:
            raise ConfigError(
                "prior: only priors built from mi_vision.priors.nets can be saved; save your own "
                "generator with its own code"
            )
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        for name, mod in self.modules.items():
            save_tensors(
                d / f"{name}.safetensors", {k: v.cpu().clone() for k, v in mod.state_dict().items()}
            )
        atomic_write_json(
            d / "prior.json",
            {
                "format": PRIOR_FORMAT,
                "kind": self.kind,
                "space": self.space,
                "latent_clip": self.latent_clip,
                "arch": self.arch,
                "info": self.info,
            },
        )
        return d

    @classmethod
    def load(cls, directory: PathLike, device: Any = "cpu") -> GeneratorPrior:
        """Load a prior written by :meth:`save` (safetensors, no pickle) onto ``device``."""
        d = Path(directory)
        meta_path = d / "prior.json"
        if not meta_path.exists():
            raise FileNotFoundError(f"prior: {meta_path} does not exist (not a saved prior)")
        meta = read_json(meta_path)
        if meta.get("format") != PRIOR_FORMAT:
            raise ConfigError(f"prior: {meta_path} has format {meta.get('format')!r}")
        gen = devices.build(lambda: build_net(meta["arch"]["generator"]), "cpu")
        gen.load_state_dict(load_tensors(d / "generator.safetensors"))
        disc = None
        if meta["arch"].get("discriminator"):
            disc = devices.build(lambda: build_net(meta["arch"]["discriminator"]), "cpu")
            disc.load_state_dict(load_tensors(d / "discriminator.safetensors"))
        prior = cls.from_networks(
            gen, disc, kind=meta["kind"], space=meta["space"], latent_clip=meta["latent_clip"]
        )
        prior.info = dict(meta.get("info", {}))
        return prior.to(device)

    def __repr__(self) -> str:
        cond = f", {self.num_classes} classes" if self.num_classes else ""
        return f"<GeneratorPrior kind={self.kind} space={self.space} z={self.latent_dim}{cond}>"
