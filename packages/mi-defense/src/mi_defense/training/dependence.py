"""Kernel dependence measures for BiDO (survey Eq. 14): HSIC (Gretton et al. 2005, [124]) and
COCO, the constrained covariance (Gretton et al. 2005, [123]), on Gaussian kernels with the
median-distance bandwidth (a one-hot label matrix gets a linear kernel)."""

from __future__ import annotations

import torch


def gaussian_kernel(x: torch.Tensor, sigma: float | None = None) -> torch.Tensor:
    """``exp(-||xi - xj||^2 / (2 sigma^2))`` on flattened rows; sigma = median distance."""
    x = x.flatten(1).float()
    sq = x.pow(2).sum(1)
    d2 = (sq[:, None] + sq[None, :] - 2 * x @ x.T).clamp_min(0)  # no sqrt: finite gradients
    if sigma is None:
        off = d2[~torch.eye(d2.shape[0], dtype=torch.bool, device=d2.device)]
        s2 = off.detach().median().clamp_min(1e-6)
    else:
        s2 = torch.tensor(float(sigma) ** 2, device=d2.device)
    return torch.exp(-d2 / (2 * s2))


def linear_kernel(x: torch.Tensor) -> torch.Tensor:
    x = x.flatten(1).float()
    return x @ x.T


def center(k: torch.Tensor) -> torch.Tensor:
    """``H K H`` with ``H = I - 11^T / n``."""
    return k - k.mean(0, keepdim=True) - k.mean(1, keepdim=True) + k.mean()


def hsic(k: torch.Tensor, l: torch.Tensor) -> torch.Tensor:  # noqa: E741
    """Biased HSIC estimate ``tr(K H L H) / (n - 1)^2``."""
    n = k.shape[0]
    return (center(k) * l).sum() / (n - 1) ** 2


def normalized_hsic(k: torch.Tensor, l: torch.Tensor) -> torch.Tensor:  # noqa: E741
    """``HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L))`` in [0, 1]."""
    return hsic(k, l) / torch.sqrt((hsic(k, k) * hsic(l, l)).clamp_min(1e-12))


def coco(k: torch.Tensor, l: torch.Tensor) -> torch.Tensor:  # noqa: E741
    """Constrained covariance ``sqrt(||K~ L~||_2) / n`` of centred Gram matrices."""
    n = k.shape[0]
    return torch.sqrt(torch.linalg.matrix_norm(center(k) @ center(l), ord=2).clamp_min(1e-12)) / n


def dependence(measure: str, a: torch.Tensor, b: torch.Tensor, *, b_is_labels: bool = False):
    """``d(a, b)`` with ``measure`` in ``hsic`` (normalised) or ``coco``."""
    ka = gaussian_kernel(a)
    kb = linear_kernel(b) if b_is_labels else gaussian_kernel(b)
    return normalized_hsic(ka, kb) if measure == "hsic" else coco(ka, kb)
