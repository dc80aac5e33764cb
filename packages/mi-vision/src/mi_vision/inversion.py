"""Pieces every GAN-prior attack composes: where the prior comes from, the objective of Eq. 3
(identity loss of the target on generated images plus a prior loss), black-box fitness and
label-only oracles over the same generator, and the result.

An attack is then: resolve the prior -> pick initial latents -> run a latent optimizer
(:mod:`mi_vision.optimizers`) on one of these objectives -> select -> result.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from mi_core import device as devices
from mi_core.attack import BaseAttack
from mi_core.config import check_positive
from mi_core.errors import ConfigError
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetView, frozen
from mi_vision.augment import Augment
from mi_vision.losses import IdentityLoss, feature_regularizer
from mi_vision.optimizers import LatentOptimizer, SearchProblem, SearchResult, run_search
from mi_vision.priors.prior import GeneratorPrior
from mi_vision.priors.training import TARGET_KINDS, PriorConfig, train_prior
from mi_vision.targets import TargetInput, input_spec, scores_fn, target_classes


def resolve_prior(
    view: TargetView,
    knowledge: Knowledge,
    *,
    who: str,
    kinds: Sequence[str] | None = None,
    train: dict[str, Any] | None = None,
    seed: int = 0,
    conditional: bool = False,
) -> GeneratorPrior:
    """The attacker's generator: ``knowledge.prior`` (a :class:`GeneratorPrior`, or a
    StyleGAN-like generator object, wrapped with :meth:`GeneratorPrior.from_stylegan`); if that
    is not of a kind in ``kinds``, a fitting one of ``knowledge.extra["priors"]`` (a dict of
    named priors); else one trained here on ``knowledge.auxiliary`` (public data) with the
    ``train`` prior config. Inside an audit, a prior trained without the target (``gmi``,
    ``dcgan``) is shared: attacks asking for the same settings, data and seed load the one
    trained first (:mod:`mi_core.artifacts`); a prior trained here says so in its
    ``info["source"]`` (``trained`` or ``shared``).

    Raises:
        ConfigError: naming what is missing or why the given prior does not fit the attack.
    """
    prior = knowledge.prior
    named = knowledge.extra.get("priors") or {}
    fits = (lambda p: isinstance(p, GeneratorPrior) and p.kind in kinds) if kinds else None
    if fits is not None and not (prior is not None and fits(prior)):
        # a prior of the kind this attack needs, among the attacker's named priors
        prior = next((p for p in named.values() if fits(p)), prior)
        if prior is not None and not fits(prior) and knowledge.auxiliary is not None:
            prior = None  # train one of the right kind on the public data
    if prior is None:
        if knowledge.auxiliary is None:
            raise ConfigError(
                f"knowledge.prior: {who} needs a generator prior; pass knowledge.prior (a "
                "GeneratorPrior, e.g. from mi_vision.priors.train_prior) or public images in "
                "knowledge.auxiliary to train one"
            )
        prior = _train_or_share(view, knowledge.auxiliary, dict(train or {}), seed)
    elif not isinstance(prior, GeneratorPrior):
        if hasattr(prior, "mapping") and hasattr(prior, "synthesis") and hasattr(prior, "z_dim"):
            prior = GeneratorPrior.from_stylegan(prior)
        else:
            raise ConfigError(
                f"knowledge.prior: expected a mi_vision GeneratorPrior or a StyleGAN-like "
                f"generator, got {type(prior).__name__}"
            )
    if kinds is not None and prior.kind not in kinds:
        raise ConfigError(
            f"knowledge.prior: {who} needs a prior of kind {' or '.join(map(repr, kinds))} "
            f"(see mi_vision.priors.PriorConfig.kind); got a {prior.kind!r} prior"
        )
    if conditional:
        if prior.num_classes is None:
            raise ConfigError(
                f"knowledge.prior: {who} needs a conditional generator (plg-mi, lokt)"
            )
        if view.num_classes is not None and prior.num_classes != view.num_classes:
            raise ConfigError(
                f"knowledge.prior: the conditional generator has {prior.num_classes} classes, "
                f"the target {view.num_classes}"
            )
    return prior


def _train_or_share(view: TargetView, data: Any, cfg: dict[str, Any], seed: int) -> GeneratorPrior:
    """Train the prior of ``cfg`` on ``data``; a prior that does not use the target is shared
    through the audit's artifact folder (trained once, loaded by every attack that asks). The
    prior's ``info["source"]`` says ``trained`` or ``shared``."""
    from mi_core.artifacts import artifact_path
    from mi_core.config import build_config, config_to_dict
    from mi_vision.data import ImageSource
    from mi_vision.priors.training import load_or_train_prior

    if cfg.get("kind", "gmi") in TARGET_KINDS:  # trained through the target: not shared
        prior = train_prior(data, cfg, target=view, seed=seed)
        prior.info["source"] = "trained"
        return prior
    from mi_vision.priors.training import identity

    source = data if isinstance(data, ImageSource) else ImageSource(data)
    settings = identity(config_to_dict(build_config(PriorConfig, cfg, where="prior")))
    folder = artifact_path("gan-prior", [settings, source.fingerprint(), seed])
    if folder is None:
        prior = train_prior(source, cfg, seed=seed)
        prior.info["source"] = "trained"
        return prior
    shared = (folder / "prior.json").exists()
    prior = load_or_train_prior(folder, source, cfg, seed=seed)
    prior.info["source"] = "shared" if shared else "trained"
    prior.info["shared_path"] = str(folder)
    return prior


def target_input(view: TargetView, knowledge: Knowledge) -> TargetInput:
    shape, rng = input_spec(view, knowledge)
    return TargetInput(shape, rng)


def penultimate(
    module: nn.Module, forward: Callable[[torch.Tensor], torch.Tensor] | None = None
) -> Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """``x -> (features, logits)`` in one forward pass: the features are the input of the
    module's last ``nn.Linear`` (its penultimate layer), captured by a forward hook.
    ``forward`` (default: the module) runs the pass, e.g. a white-box view that counts it."""
    call = forward if forward is not None else module
    last = None
    for m in module.modules():
        if isinstance(m, nn.Linear):
            last = m
    if last is None:
        raise ConfigError(
            "target: no nn.Linear layer found, so its penultimate features are unknown; "
            "set feature_weight=0"
        )
    box: dict[str, torch.Tensor] = {}

    def hook(mod: nn.Module, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        box["f"] = inp[0]

    def run(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        handle = last.register_forward_hook(hook)
        try:
            logits = call(x)
        finally:
            handle.remove()
        return box.pop("f"), logits

    return run


class GeneratorObjective:
    """Eq. 3 of the survey, per row: the mean over ``classifiers`` (the target, plus LOMMA's
    augmented models) and over ``n_aug`` augmentations of ``identity(f(aug(G(z))), c)``, plus
    ``prior_weight * L_prior(G(z))`` (the discriminator's realism loss) and LOMMA's
    ``feature_weight * |phi(G(z)) - reference|^2`` on the first classifier's penultimate
    features."""

    def __init__(
        self,
        prior: GeneratorPrior,
        to_input: TargetInput,
        classifiers: Sequence[Callable[[torch.Tensor], torch.Tensor]],
        identity: IdentityLoss,
        *,
        prior_weight: float = 0.0,
        augment: Augment | None = None,
        n_aug: int = 1,
        rng: torch.Generator | None = None,
        features: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None = None,
        feature_reference: torch.Tensor | None = None,
        feature_weight: float = 0.0,
    ) -> None:
        if not classifiers:
            raise ConfigError("classifiers: the objective needs at least the target")
        if feature_weight > 0 and (features is None or feature_reference is None):
            raise ConfigError("feature_weight: > 0 needs the target's features and a reference")
        self.prior, self.to_input, self.classifiers = prior, to_input, list(classifiers)
        self.identity, self.prior_weight = identity, prior_weight
        self.augment, self.n_aug, self.rng = augment, max(1, n_aug), rng
        self.features, self.reference, self.feature_weight = (
            features,
            feature_reference,
            feature_weight,
        )

    def images(self, latent: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        labels = classes if self.prior.num_classes is not None else None
        return self.prior.generate(latent, labels)

    def __call__(self, latent: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        x = self.images(latent, classes)
        total = torch.zeros(x.shape[0], device=x.device)
        reps = self.n_aug if self.augment is not None else 1
        for _ in range(reps):
            xa = self.augment(x, self.rng) if self.augment is not None else x
            inp = self.to_input(xa)
            for j, clf in enumerate(self.classifiers):
                if j == 0 and self.feature_weight > 0:
                    assert self.features is not None and self.reference is not None
                    feats, logits = self.features(inp)
                    total = total + self.feature_weight * feature_regularizer(feats, self.reference)
                else:
                    logits = clf(inp)
                total = total + self.identity(logits, classes) / len(self.classifiers)
        total = total / reps
        if self.prior_weight > 0:
            labels = classes if self.prior.num_classes is not None else None
            total = total + self.prior_weight * self.prior.realism_loss(x, labels)
        return total


class ScoreObjective:
    """Black-box fitness over a generator: ``-log p_c(G(z))`` from released scores (no
    gradients; every call is counted by the view)."""

    def __init__(
        self,
        prior: GeneratorPrior,
        to_input: TargetInput,
        probs: Callable[[torch.Tensor], torch.Tensor],
    ) -> None:
        self.prior, self.to_input, self.probs = prior, to_input, probs

    def scores(self, latent: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        """Target scores ``(M, K)`` of the generated images."""
        labels = classes if self.prior.num_classes is not None else None
        with torch.no_grad():
            p = self.probs(self.to_input(self.prior.generate(latent, labels)))
        return p.to(latent.device)

    def __call__(self, latent: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        p = self.scores(latent, classes)
        return -torch.log(p.gather(1, classes[:, None]).squeeze(1).clamp_min(1e-12))


class LabelOracle:
    """Label-only membership test over a generator: does the target label ``G(z)`` as ``c``."""

    def __init__(
        self,
        prior: GeneratorPrior,
        to_input: TargetInput,
        labels: Callable[[torch.Tensor], torch.Tensor],
    ) -> None:
        self.prior, self.to_input, self.labels = prior, to_input, labels

    def __call__(self, latent: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        lab = classes if self.prior.num_classes is not None else None
        with torch.no_grad():
            pred = self.labels(self.to_input(self.prior.generate(latent, lab)))
        return pred.to(classes.device) == classes


def generate(
    prior: GeneratorPrior, latents: torch.Tensor, classes: torch.Tensor, batch: int = 256
) -> torch.Tensor:
    """Images of ``latents`` (no gradients), in batches."""
    out = []
    cond = prior.num_classes is not None
    with torch.no_grad():
        for i in range(0, latents.shape[0], batch):
            lab = classes[i : i + batch] if cond else None
            out.append(prior.generate(latents[i : i + batch], lab))
    return torch.cat(out).clamp(0.0, 1.0)


def prior_baseline(prior: GeneratorPrior, classes: torch.Tensor, seed: int) -> torch.Tensor:
    """Unoptimised prior samples, one per row of ``classes`` (for a conditional prior, of the
    row's class): the baseline every GAN attack is compared with."""
    g = torch.Generator().manual_seed(seed + 7919)
    z = prior.sample_z(classes.shape[0], g)
    lab = classes if prior.num_classes is not None else None
    with torch.no_grad():
        return generate(prior, prior.to_search(z, lab), classes)


# ----------------------------------------------------------------------------------------------
# the pipeline every GAN attack follows
# ----------------------------------------------------------------------------------------------


@dataclass
class GANAttackConfig:
    """Fields every GAN-prior attack shares.

    Attributes:
        samples_per_class: reconstructions per target class (independent rows of one batch).
        prior: :class:`~mi_vision.priors.PriorConfig` fields for the prior trained on
            ``knowledge.auxiliary`` when ``knowledge.prior`` is not given.
        checkpoint: file to checkpoint the search to / resume from.
        device: where the search (and a prior trained here) runs: ``auto`` (a white-box
            target's device, else CUDA when present, else the CPU), ``cpu``, ``cuda``,
            ``cuda:N``; the prior is moved there, results come back on the CPU.
        precision: ``fp32``, or ``bf16`` / ``fp16``: the search's forward passes (and a prior
            trained here) under ``torch.autocast``.
    """

    samples_per_class: int = 1
    prior: dict[str, Any] | None = None
    checkpoint: str | None = None
    checkpoint_every: int = 100
    progress: bool = True
    device: str = "auto"
    precision: str = "fp32"

    def __post_init__(self) -> None:
        devices.check_device(self.device)
        devices.check_precision(self.precision)
        check_positive("samples_per_class", self.samples_per_class)
        check_positive("checkpoint_every", self.checkpoint_every)
        if self.prior is not None:
            from mi_core.config import build_config

            build_config(PriorConfig, self.prior, where="prior")  # validates, naming the field


@dataclass
class Context:
    """What one run of a GAN attack works with."""

    view: TargetView
    knowledge: Knowledge
    seed: int
    classes: torch.Tensor
    prior: GeneratorPrior
    to_input: TargetInput
    rng: torch.Generator
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    info: dict[str, Any] = field(default_factory=dict)
    scratch: dict[str, Any] = field(default_factory=dict)


class GANInversion(BaseAttack):
    """The skeleton of a GAN-prior attack (survey Fig. 4, Eq. 3): resolve the prior, pick the
    initial latents (:meth:`_initial`), build the search problem (:meth:`_problem`) and the
    latent optimizer (:meth:`_optimizer`), run :func:`mi_vision.optimizers.run_search`, then
    pick the final latents (:meth:`_final`). Subclasses fill in the hooks; none owns a loop."""

    prior_kinds: ClassVar[tuple[str, ...] | None] = None
    conditional: ClassVar[bool] = False
    default_prior: ClassVar[tuple[tuple[str, Any], ...]] = (("kind", "gmi"),)
    #: a generator prior, or public images to train one on
    requires = ("prior|auxiliary",)

    def prior_settings(self) -> dict[str, Any]:
        """The settings of the prior this attack trains when the knowledge holds none."""
        return {**dict(self.default_prior), **(self.config.prior or {})}

    def priors_to_train(self, provided: Any) -> list[dict[str, Any]]:
        """The prior :func:`resolve_prior` would train, given the knowledge a case provides
        (none when it provides a fitting prior, or no public data)."""
        from mi_core.attack import knowledge_satisfied

        if provided is None:
            return []
        have = list(provided)
        if knowledge_satisfied("prior", have) and self.prior_kinds is None:
            return []
        if self.prior_kinds is not None and knowledge_satisfied("priors", have):
            return []  # named priors of several kinds (e.g. the digits-gan case)
        if not knowledge_satisfied("auxiliary", have):
            return []
        settings = self.prior_settings()
        steps = int(settings.get("steps", 2000))
        return [
            {
                "kind": f"{settings.get('kind', 'gmi')} prior",
                "config": settings,
                "shared": settings.get("kind", "gmi") not in TARGET_KINDS,
                "seconds": 10.0 + 0.1 * steps,
            }
        ]

    # hooks ------------------------------------------------------------------------------
    def _initial(self, ctx: Context) -> tuple[torch.Tensor, torch.Tensor]:
        """``(row_classes, latents)``: random prior latents, ``samples_per_class`` per class."""
        rows = ctx.classes.repeat_interleave(self.config.samples_per_class)
        z = ctx.prior.sample_z(rows.shape[0], ctx.rng)
        lab = rows if ctx.prior.num_classes is not None else None
        return rows, ctx.prior.clip(ctx.prior.to_search(z, lab))

    def _problem(self, ctx: Context, rows: torch.Tensor, plugin: Any) -> SearchProblem:
        raise NotImplementedError

    def _optimizer(
        self, ctx: Context, rows: torch.Tensor, latents: torch.Tensor
    ) -> LatentOptimizer:
        raise NotImplementedError

    def _steps(self) -> int:
        return int(self.config.steps)

    def _final(
        self, ctx: Context, optimizer: LatentOptimizer, search: SearchResult, rows: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(row_classes, latents)`` to render: the final iterate by default."""
        return rows, search.latents

    # the pipeline -------------------------------------------------------------------------
    def _run(self, view: TargetView, knowledge: Knowledge, seed: int) -> AttackResult:
        return self._invert(view, knowledge, seed)

    def _context(self, view: TargetView, knowledge: Knowledge, seed: int) -> Context:
        cfg = self.config
        dev = devices.attack_device(cfg.device, view)
        train = {
            **dict(self.default_prior),
            "precision": cfg.precision,
            **(cfg.prior or {}),
            "progress": cfg.progress,
            "device": str(dev),
        }
        t0 = time.perf_counter()
        prior = resolve_prior(
            view,
            knowledge,
            who=f"attack {self.name!r}",
            kinds=self.prior_kinds,
            train=train,
            seed=seed,
            conditional=self.conditional,
        ).to(dev)
        return Context(
            view=view,
            knowledge=knowledge,
            seed=seed,
            classes=target_classes(view, knowledge, dev),
            prior=prior,
            to_input=target_input(view, knowledge),
            rng=torch.Generator().manual_seed(seed),  # on the CPU: the same draws everywhere
            device=dev,
            # training (or loading) the prior, reported apart from the attack's own time
            info={"prior_seconds": time.perf_counter() - t0},
        )

    def _invert(
        self, view: TargetView, knowledge: Knowledge, seed: int, plugin: Any = None
    ) -> AttackResult:
        # a white-box target is frozen while the latents are optimised, then restored
        with frozen(view.module) if view.access is Access.WHITE_BOX else nullcontext():
            return self._search(view, knowledge, seed, plugin)

    def _search(
        self, view: TargetView, knowledge: Knowledge, seed: int, plugin: Any
    ) -> AttackResult:
        ctx = self._context(view, knowledge, seed)
        rows, init = self._initial(ctx)
        problem = self._problem(ctx, rows, plugin)
        problem.precision = self.config.precision
        optimizer = self._optimizer(ctx, rows, init)
        q0 = view.queries
        search = run_search(
            optimizer,
            problem,
            self._steps(),
            checkpoint=self.config.checkpoint,
            checkpoint_every=self.config.checkpoint_every,
            meta={"attack": self.name, "config": self.config, "rows": rows, "seed": seed},
            desc=self.name,
            progress=self.config.progress,
        )
        ctx.info["search_queries"] = view.queries - q0
        rows, latents = self._final(ctx, optimizer, search, rows)
        images = generate(ctx.prior, latents, rows)
        return self._result(
            images,
            targets=rows,
            scores=self._scores(ctx, images, rows),
            arrays={"latents": latents, "prior_samples": prior_baseline(ctx.prior, rows, seed)},
            info={
                **ctx.info,
                "steps": search.steps,
                "stopped": search.stopped,
                "prior": repr(ctx.prior),
                # given by the knowledge, trained by this attack, or shared in the audit
                "prior_source": ctx.prior.info.get("source", "given"),
                "classes": ctx.classes.tolist(),
            },
        )

    def _scores(self, ctx: Context, images: torch.Tensor, rows: torch.Tensor) -> Any:
        """The target's confidence in each reconstruction's class (``None`` when label-only:
        spending queries on it would misstate the attack's cost)."""
        if ctx.view.access is Access.LABEL_ONLY:
            return None
        remaining = ctx.view.remaining
        if remaining is not None and remaining < images.shape[0]:
            ctx.info["scores"] = "not queried: the query budget is spent"
            return None
        p = scores_fn(ctx.view, ctx.device)(ctx.to_input(images.to(ctx.device)))
        return p.gather(1, rows.to(ctx.device)[:, None]).squeeze(1)
