"""Image metrics of survey Sec. IV-A-6 beyond accuracy and feature distances (which live in
:mod:`mi_core.metrics`): pixel similarity to the nearest private image of the class (PSNR,
SSIM), sample diversity (improved precision / recall, Kynkäänniemi et al. 2019; density /
coverage, Naeem et al. 2020; as VMI reports them) and the Fréchet distance of features (FID,
Heusel et al. 2017) computed on whatever feature extractor is given: without Inception weights
this is the evaluation model's penultimate layer, and reports name it ``fid_eval_features``.

Every metric raises :class:`~mi_core.errors.MetricError` when it cannot be computed (too few
samples, a class without private images); none returns 0 instead.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from mi_core.errors import MetricError
from mi_core.metrics.base import register_metric
from mi_core.metrics.classification import predict_batched


def _match(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Resize / re-channel reconstructions to the private images' shape for pixel metrics."""
    if x.shape[1] != like.shape[1]:
        x = x.mean(1, keepdim=True) if like.shape[1] == 1 else x.expand(-1, like.shape[1], -1, -1)
    if x.shape[-2:] != like.shape[-2:]:
        x = F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)
    return x


def _per_class(
    recon: torch.Tensor, targets: torch.Tensor, private_x: torch.Tensor, private_y: torch.Tensor
):
    if recon.shape[0] == 0:
        raise MetricError("reconstructions: empty; there is nothing to evaluate")
    if targets.shape[0] != recon.shape[0]:
        raise MetricError(f"targets: {targets.shape[0]} labels for {recon.shape[0]} images")
    for c in torch.unique(targets):
        mask = private_y == c
        if not bool(mask.any()):
            raise MetricError(f"private_y: class {int(c)} has no private images to compare with")
        yield c, targets == c, private_x[mask]


def psnr_matrix(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """PSNR (dB, peak 1) of every pair: ``(len(a), len(b))``."""
    mse = torch.cdist(a.flatten(1).double(), b.flatten(1).double()) ** 2 / a[0].numel()
    return (10.0 * torch.log10(1.0 / mse.clamp_min(1e-12))).float()


@register_metric("psnr", higher_is_better=True, modality="image", unit_interval=False)
def psnr_nearest(
    reconstructions: torch.Tensor,
    targets: torch.Tensor,
    private_x: torch.Tensor,
    private_y: torch.Tensor,
) -> float:
    """Mean over reconstructions of the PSNR to the nearest (highest-PSNR) private image of the
    target class."""
    x = _match(reconstructions.float(), private_x)
    out = []
    for _, rmask, priv in _per_class(x, targets, private_x.float(), private_y):
        out.append(psnr_matrix(x[rmask], priv).max(1).values)
    return float(torch.cat(out).mean())


def _gauss_window(size: int, sigma: float, channels: int) -> torch.Tensor:
    ax = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    g = torch.exp(-(ax**2) / (2 * sigma**2))
    g = g / g.sum()
    w = g[:, None] * g[None, :]
    return w.expand(channels, 1, size, size).contiguous()


def ssim_pairs(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """SSIM (Wang et al. 2004; Gaussian window 11 / sigma 1.5, shrunk for small images) of
    aligned pairs ``a[i], b[i]``, images in [0, 1]."""
    c = a.shape[1]
    size = min(11, a.shape[-1] - (1 - a.shape[-1] % 2), a.shape[-2] - (1 - a.shape[-2] % 2))
    size = max(3, size)
    w = _gauss_window(size, 1.5 * size / 11, c)
    c1, c2 = 0.01**2, 0.03**2

    def filt(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, w, groups=c)

    mu_a, mu_b = filt(a), filt(b)
    saa = filt(a * a) - mu_a**2
    sbb = filt(b * b) - mu_b**2
    sab = filt(a * b) - mu_a * mu_b
    num = (2 * mu_a * mu_b + c1) * (2 * sab + c2)
    den = (mu_a**2 + mu_b**2 + c1) * (saa + sbb + c2)
    return (num / den).flatten(1).mean(1)


@register_metric("ssim", higher_is_better=True, modality="image", unit_interval=True)
def ssim_nearest(
    reconstructions: torch.Tensor,
    targets: torch.Tensor,
    private_x: torch.Tensor,
    private_y: torch.Tensor,
) -> float:
    """Mean over reconstructions of the SSIM to the most similar private image of the class."""
    x = _match(reconstructions.float(), private_x).clamp(0, 1)
    out = []
    for _, rmask, priv in _per_class(x, targets, private_x.float(), private_y):
        rx = x[rmask]
        n, m = rx.shape[0], priv.shape[0]
        a = rx.repeat_interleave(m, 0)
        b = priv.repeat(n, 1, 1, 1)
        vals = torch.cat(
            [ssim_pairs(a[i : i + 4096], b[i : i + 4096]) for i in range(0, n * m, 4096)]
        )
        out.append(vals.view(n, m).max(1).values)
    return float(torch.cat(out).mean())


def prdc(real: torch.Tensor, fake: torch.Tensor, k: int = 3) -> dict[str, float]:
    """Improved precision / recall (Kynkäänniemi et al. 2019) and density / coverage (Naeem et
    al. 2020) of ``fake`` features against ``real`` features with k-NN balls."""
    if real.shape[0] <= k or fake.shape[0] <= k:
        raise MetricError(
            f"prdc: needs more than k={k} real and fake samples, got {real.shape[0]} real and "
            f"{fake.shape[0]} fake; lower k or generate more samples per class"
        )
    real, fake = real.double(), fake.double()
    rr = torch.cdist(real, real)
    ff = torch.cdist(fake, fake)
    rf = torch.cdist(real, fake)  # (R, F)
    r_rad = rr.kthvalue(k + 1, dim=1).values  # k-th neighbour, excluding the point itself
    f_rad = ff.kthvalue(k + 1, dim=1).values
    inside_real = rf <= r_rad[:, None]  # fake j within real i's ball
    precision = inside_real.any(0).double().mean()
    recall = (rf <= f_rad[None, :]).any(1).double().mean()
    density = inside_real.double().sum(0).mean() / k
    coverage = (rf.min(1).values <= r_rad).double().mean()
    return {
        "precision": float(precision),
        "recall": float(recall),
        "density": float(density),
        "coverage": float(coverage),
    }


def prdc_per_class(
    feature_fn: Callable[[torch.Tensor], torch.Tensor],
    reconstructions: torch.Tensor,
    targets: torch.Tensor,
    private_x: torch.Tensor,
    private_y: torch.Tensor,
    k: int = 3,
) -> dict[str, float]:
    """:func:`prdc` within each target class (features of ``feature_fn``), averaged over
    classes (VMI's sample-diversity figures)."""
    fr = predict_batched(feature_fn, reconstructions.float()).flatten(1)
    fp = predict_batched(feature_fn, private_x.float()).flatten(1)
    acc: dict[str, list[float]] = {"precision": [], "recall": [], "density": [], "coverage": []}
    for c in torch.unique(targets):
        mask = private_y == c
        if not bool(mask.any()):
            raise MetricError(f"private_y: class {int(c)} has no private images to compare with")
        vals = prdc(fp[mask], fr[targets == c], k)
        for key, v in vals.items():
            acc[key].append(v)
    return {key: float(np.mean(v)) for key, v in acc.items()}


@register_metric("prdc_precision", higher_is_better=True, modality="image", unit_interval=True)
def sample_precision(*args: object, **kwargs: object) -> float:
    """Improved precision of reconstructions per class (arguments of :func:`prdc_per_class`)."""
    return prdc_per_class(*args, **kwargs)["precision"]  # type: ignore[arg-type]


@register_metric("prdc_recall", higher_is_better=True, modality="image", unit_interval=True)
def sample_recall(*args: object, **kwargs: object) -> float:
    """Improved recall of reconstructions per class (arguments of :func:`prdc_per_class`)."""
    return prdc_per_class(*args, **kwargs)["recall"]  # type: ignore[arg-type]


@register_metric("prdc_density", higher_is_better=True, modality="image", unit_interval=False)
def sample_density(*args: object, **kwargs: object) -> float:
    """Density of reconstructions per class (arguments of :func:`prdc_per_class`)."""
    return prdc_per_class(*args, **kwargs)["density"]  # type: ignore[arg-type]


@register_metric("prdc_coverage", higher_is_better=True, modality="image", unit_interval=True)
def sample_coverage(*args: object, **kwargs: object) -> float:
    """Coverage of reconstructions per class (arguments of :func:`prdc_per_class`)."""
    return prdc_per_class(*args, **kwargs)["coverage"]  # type: ignore[arg-type]


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to feature sets ``a`` and ``b`` (FID's
    formula, Heusel et al. 2017)."""
    from scipy import linalg

    if a.shape[0] < 2 or b.shape[0] < 2:
        raise MetricError(
            f"fid: needs at least 2 samples per set, got {a.shape[0]} and {b.shape[0]}"
        )
    x, y = a.double().numpy(), b.double().numpy()
    mu1, mu2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    s1, s2 = np.atleast_2d(s1), np.atleast_2d(s2)
    with warnings.catch_warnings():  # singular covariances (fewer samples than dimensions)
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all():
        eps = np.eye(s1.shape[0]) * 1e-6
        covmean = linalg.sqrtm((s1 + eps) @ (s2 + eps))
    covmean = np.real(covmean)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


@register_metric("fid_eval_features", higher_is_better=False, modality="image", unit_interval=False)
def fid_eval_features(
    feature_fn: Callable[[torch.Tensor], torch.Tensor],
    reconstructions: torch.Tensor,
    private_x: torch.Tensor,
) -> float:
    """Fréchet distance of ``feature_fn`` features of reconstructions and private images; named
    ``fid_eval_features`` because without Inception weights ``feature_fn`` is the evaluation
    model's penultimate layer, so values are not comparable with published FIDs."""
    fr = predict_batched(feature_fn, reconstructions.float()).flatten(1)
    fp = predict_batched(feature_fn, private_x.float()).flatten(1)
    return frechet_distance(fr, fp)
