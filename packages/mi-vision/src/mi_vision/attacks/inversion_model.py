"""Training-based model inversion: an inversion model (decoder) from the target's confidence
vectors back to inputs (Yang, Zhang, Chang, Liang, CCS 2019; survey Sec. III, Eq. 2, [13]).

The attacker queries the target on auxiliary (public) images, trains a decoder ``M`` with

    M* = argmin_M  E_{x ~ X_pub} || M(trunc_k(f(x))) - x ||^2                     (Eq. 2)

where ``trunc_k`` keeps the ``k`` largest scores (Yang et al.: the released vectors may be
truncated, so the auxiliary ones are truncated the same way), then decodes the vectors the
target released for private queries. Two later variants are options:

* ``amplification`` (Zhang et al., TIFS 2023, [65]): a non-linear amplification layer
  ``s -> s^(1/11)`` ahead of the decoder enlarges the minor entries, whose differences tell
  samples of one class apart;
* ``domain_alignment`` (Zhang and Huang, Neural Networks 2024, [66]): the auxiliary vectors are
  mapped by an alignment network trained adversarially against a discriminator that tells them
  from the released private vectors, and the decoder learns from the aligned vectors.

Without released private vectors (``knowledge.extra["observed_outputs"]``) the attack inverts
each target class from the class's one-hot vector (the vector a confident target releases for
its training images).

This module is the one implementation of the inversion model: ``mi_defense`` trains its learned
output defenses against :class:`InversionNet` and measures defenses with
:func:`inversion_attack`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from mi_core import device as devices
from mi_core.attack import BaseAttack
from mi_core.config import check_positive
from mi_core.errors import ConfigError
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetView

SCORE_FLOOR = 1e-4
#: exponent of the power amplification layer (Zhang et al. 2023: 1/11)
POWER = 1.0 / 11.0
READS = ("scores", "features", "power")


def score_features(scores: torch.Tensor) -> torch.Tensor:
    """What an inversion model reads of a score vector: ``log(max(s, 0) + 1e-4)``."""
    return torch.log(scores.clamp_min(0) + SCORE_FLOOR)


def power_amplification(scores: torch.Tensor, alpha: float = POWER) -> torch.Tensor:
    """Zhang et al. 2023's amplification layer: ``max(s, 0) ** alpha`` (alpha = 1/11)."""
    return scores.clamp_min(0).pow(alpha)


def truncate_topk(scores: torch.Tensor, k: int | None) -> torch.Tensor:
    """Keep the ``k`` largest entries of each row, zero the others (Yang et al. 2019's
    truncation); ``None`` keeps the vector."""
    if k is None or k >= scores.shape[1]:
        return scores
    top = scores.topk(k, dim=1)
    return torch.zeros_like(scores).scatter(1, top.indices, top.values)


class InversionNet(nn.Module):
    """MLP decoder from a released vector to an output of shape ``out_shape``.

    ``reads``: ``"scores"`` reads probability vectors through :func:`score_features` (log),
    ``"power"`` through :func:`power_amplification`, ``"features"`` reads the vector as it is
    (raw scores, features, embeddings). With ``input_range=(lo, hi)`` the output is an input in
    that range (sigmoid); with ``None`` it is unbounded (a feature or latent vector).
    """

    def __init__(
        self,
        num_classes: int,
        out_shape: tuple[int, ...],
        hidden: int = 256,
        input_range: tuple[float, float] | None = (0.0, 1.0),
        reads: str = "scores",
    ) -> None:
        super().__init__()
        if reads not in READS:
            raise ConfigError(f"reads: must be one of {', '.join(map(repr, READS))}, got {reads!r}")
        self.reads = reads
        self.out_shape = tuple(int(s) for s in out_shape)
        self.bounded = input_range is not None
        lo, hi = input_range if input_range is not None else (0.0, 1.0)
        self.lo, self.hi = float(lo), float(hi)
        self.net = nn.Sequential(
            nn.Linear(num_classes, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, math.prod(self.out_shape)),
        )

    def read(self, scores: torch.Tensor) -> torch.Tensor:
        if self.reads == "scores":
            return score_features(scores)
        if self.reads == "power":
            return power_amplification(scores)
        return scores

    def forward(self, scores: torch.Tensor) -> torch.Tensor:
        out = self.net(self.read(scores))
        if self.bounded:
            out = self.lo + (self.hi - self.lo) * torch.sigmoid(out)
        return out.view(-1, *self.out_shape)


def scores_of(target: Any) -> Callable[[torch.Tensor], torch.Tensor]:
    """A function returning released scores: an ``nn.Module`` returning logits gets a softmax;
    a view or any other callable is called as is (it already releases scores)."""
    if isinstance(target, nn.Module):
        module = target.eval()

        def fn(x: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                out = module(x.to(devices.module_device(module) or x.device))
                return torch.softmax(out.float(), dim=-1).to(x.device)

        return fn
    if callable(target):

        def call(x: torch.Tensor) -> torch.Tensor:
            out = target(x)
            return torch.as_tensor(out, dtype=torch.float32, device=x.device)

        return call
    raise ConfigError(
        f"target: expected an nn.Module or a callable returning scores, got {type(target).__name__}"
    )


def batched(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, batch: int = 512):
    """``fn`` over ``x`` in batches, concatenated."""
    return torch.cat([fn(x[i : i + batch]) for i in range(0, x.shape[0], batch)])


def train_inversion(
    scores: torch.Tensor,
    x: torch.Tensor,
    *,
    epochs: int = 60,
    lr: float = 1e-3,
    batch_size: int = 64,
    hidden: int = 256,
    input_range: tuple[float, float] | None = (0.0, 1.0),
    reads: str = "scores",
    seed: int = 0,
    progress: bool = False,
) -> InversionNet:
    """Train ``M(scores) ~ x`` with MSE (survey Eq. 2): the inversion model of the attack and of
    the learned defenses. It trains on the device of ``scores`` (built on the CPU from the
    seeded generator, batches drawn on the CPU: the same numbers on every device)."""
    check_positive("epochs", epochs, allow_zero=True)  # 0: an untrained decoder
    check_positive("lr", lr)
    if scores.shape[0] != x.shape[0]:
        raise ConfigError(f"scores and x differ in length: {scores.shape[0]} vs {x.shape[0]}")
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    dev = scores.device
    net = devices.build(
        lambda: InversionNet(scores.shape[1], tuple(x.shape[1:]), hidden, input_range, reads), dev
    )
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    s, xt = scores.float(), x.float().to(dev)
    for _ in tqdm(range(epochs), desc="inversion model", disable=not progress, leave=False):
        perm = devices.randperm(xt.shape[0], generator=g, device=dev)
        for i in range(0, xt.shape[0], batch_size):
            idx = perm[i : i + batch_size]
            loss = F.mse_loss(net(s[idx]), xt[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return net.eval()


class _Aligner(nn.Module):
    """Domain alignment of score vectors: ``softmax(log s + r(log s))`` with a residual MLP ``r``
    initialised at zero (the identity map at the start)."""

    def __init__(self, k: int, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(k, hidden), nn.ReLU(), nn.Linear(hidden, k))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        h = score_features(s)
        return torch.softmax(h + self.net(h), dim=1)


def train_aligned_inversion(
    scores: torch.Tensor,
    x: torch.Tensor,
    private_scores: torch.Tensor,
    *,
    truncate: int | None = None,
    epochs: int = 60,
    lr: float = 1e-3,
    batch_size: int = 64,
    hidden: int = 256,
    input_range: tuple[float, float] = (0.0, 1.0),
    reads: str = "scores",
    label_weight: float = 1.0,
    seed: int = 0,
    progress: bool = False,
) -> tuple[InversionNet, nn.Module]:
    """Domain-aligned inversion (Zhang and Huang 2024, [66]): an alignment network ``A`` maps
    the auxiliary score vectors so that a discriminator cannot tell them from the released
    private vectors (keeping each vector's label), while the decoder learns
    ``M(trunc(A(s_aux))) ~ x_aux``. Returns ``(M, A)``."""
    check_positive("epochs", epochs, allow_zero=True)
    if scores.shape[0] != x.shape[0]:
        raise ConfigError(f"scores and x differ in length: {scores.shape[0]} vs {x.shape[0]}")
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    k, dev = scores.shape[1], scores.device
    net = devices.build(
        lambda: InversionNet(k, tuple(x.shape[1:]), hidden, input_range, reads), dev
    )
    align = devices.build(lambda: _Aligner(k, hidden), dev)
    disc = devices.build(
        lambda: nn.Sequential(nn.Linear(k, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, 1)), dev
    )
    opt_m = torch.optim.Adam(net.parameters(), lr=lr)
    opt_a = torch.optim.Adam(align.parameters(), lr=lr)
    opt_d = torch.optim.Adam(disc.parameters(), lr=lr)
    s, xt, sp = scores.float(), x.float().to(dev), private_scores.float().to(dev)
    labels = s.argmax(1)

    def view(v: torch.Tensor) -> torch.Tensor:  # what the discriminator reads: sorted log-scores
        return score_features(truncate_topk(v, truncate)).sort(dim=1, descending=True).values

    for _ in tqdm(range(epochs), desc="aligned inversion", disable=not progress, leave=False):
        perm = devices.randperm(s.shape[0], generator=g, device=dev)
        for i in range(0, s.shape[0], batch_size):
            idx = perm[i : i + batch_size]
            real = sp[devices.randint(0, sp.shape[0], (idx.numel(),), generator=g, device=dev)]
            fake = align(s[idx])
            d_loss = (
                F.softplus(-disc(view(real))).mean() + F.softplus(disc(view(fake.detach()))).mean()
            )
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
            a_loss = F.softplus(-disc(view(fake))).mean() + label_weight * F.nll_loss(
                torch.log(fake.clamp_min(1e-8)), labels[idx]
            )
            opt_a.zero_grad(set_to_none=True)
            a_loss.backward()
            opt_a.step()
            m_loss = F.mse_loss(net(truncate_topk(fake.detach(), truncate)), xt[idx])
            opt_m.zero_grad(set_to_none=True)
            m_loss.backward()
            opt_m.step()
    return net.eval(), align.eval()


def inversion_attack(
    view: Callable[[torch.Tensor], Any],
    x_aux: torch.Tensor,
    x_private: torch.Tensor,
    *,
    epochs: int = 60,
    seed: int = 0,
    input_range: tuple[float, float] = (0.0, 1.0),
    reads: str = "auto",
) -> dict[str, float]:
    """Black-box training-based inversion through a (possibly defended) view, as a measurement:
    query the view on auxiliary inputs, train an inversion model on the released outputs,
    invert the outputs the view releases for the private inputs. Returns the mean squared error
    of the reconstructions (lower = stronger attack) beside the no-model baseline (the mean
    auxiliary input), and ``leakage = 1 - mse / baseline``.

    ``reads="auto"`` lets the attacker adapt to the defense: it picks how to read the released
    vectors (log-scores or raw values) by the error on a fifth of its auxiliary data held out,
    then trains on all of it."""

    def released(b: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(view(b), device=x_aux.device).float()

    s_aux = batched(released, x_aux)
    if reads == "auto":
        reads = _pick_reads(s_aux, x_aux, epochs=epochs, seed=seed, input_range=input_range)
    net = train_inversion(
        s_aux, x_aux, epochs=epochs, seed=seed, input_range=input_range, reads=reads
    )
    s_priv = batched(released, x_private)
    with torch.no_grad():
        rec = net(s_priv)
    mse = float(((rec - x_private) ** 2).flatten(1).mean(1).mean())
    base = float(((x_aux.mean(0, keepdim=True) - x_private) ** 2).flatten(1).mean(1).mean())
    if base <= 0:
        raise ConfigError("x_private: every private input equals the auxiliary mean; no baseline")
    return {"mse": mse, "baseline_mse": base, "leakage": 1.0 - mse / base, "reads": reads}


def _pick_reads(
    s_aux: torch.Tensor,
    x_aux: torch.Tensor,
    *,
    epochs: int,
    seed: int,
    input_range: tuple[float, float],
    modes: tuple[str, ...] = ("scores", "features"),
    **train: Any,
) -> str:
    """The reading of the released vectors with the lowest error on a held-out fifth of the
    auxiliary data."""
    n_val = max(1, x_aux.shape[0] // 5)
    errs = {}
    for mode in modes:
        net = train_inversion(
            s_aux[n_val:],
            x_aux[n_val:],
            epochs=epochs,
            seed=seed,
            input_range=input_range,
            reads=mode,
            **train,
        )
        with torch.no_grad():
            err = (net(s_aux[:n_val]) - x_aux[:n_val].to(s_aux.device)) ** 2
            errs[mode] = float(err.mean())
    return min(errs, key=lambda m: errs[m])


# ----------------------------------------------------------------------------------------------
# the attack
# ----------------------------------------------------------------------------------------------


@dataclass
class InversionModelConfig:
    """Hyper-parameters (the papers' in brackets).

    Attributes:
        truncate: keep the top ``truncate`` scores of every vector [Yang et al.: k]; ``None``
            keeps the full vector.
        reads: how the decoder reads a vector: ``raw`` probabilities [Yang et al.], ``log``
            scores, or ``auto`` (the lower held-out error on the auxiliary data).
        amplification: read through the power amplification layer ``s^(1/11)`` [Zhang et al.
            2023]; overrides ``reads``.
        domain_alignment: align the auxiliary vectors to the released private ones before
            training the decoder [Zhang and Huang 2024]; needs ``observed_outputs``.
        epochs, lr, batch_size, hidden: decoder training.
        aux_samples: auxiliary images queried and trained on (the first ones).
        device: where the decoder trains: ``auto`` (CUDA when present, else the CPU), ``cpu``,
            ``cuda``, ``cuda:N``; results come back on the CPU.
    """

    truncate: int | None = None
    reads: Literal["raw", "log", "auto"] = "raw"
    amplification: bool = False
    domain_alignment: bool = False
    epochs: int = 60
    lr: float = 1e-3
    batch_size: int = 64
    hidden: int = 256
    aux_samples: int = 5000
    progress: bool = True
    device: str = "auto"

    def __post_init__(self) -> None:
        devices.check_device(self.device)
        if self.truncate is not None:
            check_positive("truncate", self.truncate)
        check_positive("epochs", self.epochs, allow_zero=True)  # 0: an untrained decoder
        for name in ("lr", "batch_size", "hidden", "aux_samples"):
            check_positive(name, getattr(self, name))


class InversionModel(BaseAttack):
    """Decoder from (truncated) confidence vectors to images, trained on auxiliary data."""

    name = "inversion-model"
    modality = "image"
    access = Access.BLACK_BOX_SCORES
    paper = "Yang et al., CCS 2019 (+ Zhang et al. 2023, 2024)"
    summary = "training-based: decoder from truncated confidence vectors, trained on public data"
    Config = InversionModelConfig

    def _run(self, view: TargetView, knowledge: Knowledge, seed: int) -> AttackResult:
        from mi_core.errors import NotApplicable
        from mi_vision.data import ImageSource
        from mi_vision.targets import input_spec, scores_fn, target_classes

        cfg: InversionModelConfig = self.config
        aux = knowledge.require("auxiliary", "the inversion model is trained on public images")
        shape, (lo, hi) = input_spec(view, knowledge)
        dev = devices.attack_device(cfg.device, view)
        src = aux if isinstance(aux, ImageSource) else ImageSource(aux, size=shape[1])
        x_aux = src.get(torch.arange(min(len(src), cfg.aux_samples), device="cpu")).to(dev)
        if tuple(x_aux.shape[1:]) != tuple(shape):
            raise ConfigError(
                f"knowledge.auxiliary: images of shape {tuple(x_aux.shape[1:])}, the target "
                f"takes {tuple(shape)}; resize them"
            )
        x_aux = lo + (hi - lo) * x_aux.clamp(0, 1)
        probs = scores_fn(view, dev)
        s_aux = truncate_topk(batched(probs, x_aux, 256).float(), cfg.truncate)
        observed = knowledge.extra.get("observed_outputs")
        if observed is not None:
            released = truncate_topk(torch.as_tensor(observed, device=dev).float(), cfg.truncate)
            if released.ndim != 2 or released.shape[1] != s_aux.shape[1]:
                raise ConfigError(
                    f"knowledge.extra['observed_outputs']: expected (N, {s_aux.shape[1]}) "
                    f"score vectors, got {tuple(released.shape)}"
                )
            targets = released.argmax(1)
            mode = "released vectors"
        else:
            if cfg.domain_alignment:
                raise NotApplicable(
                    "inversion-model: domain_alignment aligns the auxiliary vectors to released "
                    "private vectors; give knowledge.extra['observed_outputs']"
                )
            targets = target_classes(view, knowledge, dev)
            released = F.one_hot(targets, s_aux.shape[1]).float()
            mode = "class one-hot vectors"
        reads = {"raw": "features", "log": "scores"}.get(cfg.reads, cfg.reads)
        train = {"lr": cfg.lr, "batch_size": cfg.batch_size, "hidden": cfg.hidden}
        if cfg.amplification:
            reads = "power"
        elif reads == "auto":
            reads = _pick_reads(
                s_aux, x_aux, epochs=cfg.epochs, seed=seed, input_range=(lo, hi), **train
            )
        if cfg.domain_alignment:
            net, _ = train_aligned_inversion(
                s_aux,
                x_aux,
                released,
                truncate=cfg.truncate,
                epochs=cfg.epochs,
                input_range=(lo, hi),
                reads=reads,
                seed=seed,
                progress=cfg.progress,
                **train,
            )
        else:
            net = train_inversion(
                s_aux,
                x_aux,
                epochs=cfg.epochs,
                input_range=(lo, hi),
                reads=reads,
                seed=seed,
                progress=cfg.progress,
                **train,
            )
        with torch.no_grad():
            rec = (batched(net, released, 256) - lo) / (hi - lo)
            base = ((x_aux.mean(0, keepdim=True) - lo) / (hi - lo)).expand_as(rec)
        return self._result(
            rec.clamp(0, 1),
            targets=targets,
            scores=released.gather(1, targets[:, None]).squeeze(1),
            arrays={"prior_samples": base.clone()},
            info={
                "inverted": mode,
                "reads": reads,
                "aux_samples": int(x_aux.shape[0]),
                "baseline": "mean auxiliary image (no model)",
            },
        )
