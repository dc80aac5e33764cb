"""Posterior of the sensitive attribute from per-candidate likelihoods (survey Eq. 1).

Fredrikson et al. 2014 pick ``argmax_v p_t(v) * sum_u prod_j p_j(u_j) * pi(y | f(x_K, v, u))``,
where ``pi`` is the model's error model. The likelihood ``pi`` differs by what the attacker sees:

* a regressor's output: Gaussian error ``N(y; f(x), sigma^2)`` (the 2014 warfarin model),
* a classifier's label: the confusion matrix ``Pr[y | f(x)]`` (the 2014 / 2015 black-box
  estimator),
* a classifier's scores: the model's confidence ``f(x)_y`` (the 2015 confidence estimator),
* a decision tree's paths: the training counts of the leaf ``(x_K, v, u)`` reaches
  (the 2015 white-box estimator, :mod:`mi_tabular.attacks.fredrikson_tree`).

Everything is computed in log space so that near-exact matches do not underflow.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mi_core.errors import ConfigError
from mi_tabular.candidates import CandidateGrid

_TINY = 1e-300


def logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    return np.squeeze(out, axis=axis)


def posterior(log_prior: np.ndarray, grid: CandidateGrid, log_lik: np.ndarray) -> np.ndarray:
    """``(n, V)`` posterior from ``(n, V, U)`` log-likelihoods: Eq. 1 before the argmax.
    ``log_prior`` is ``(V,)`` (the marginal) or ``(n, V)`` (a prior per record).

    Records whose every candidate has zero likelihood fall back to the prior (nothing
    observed is consistent with the model, so the model says nothing about them).
    """
    lp = log_prior if log_prior.ndim == 2 else np.broadcast_to(log_prior, log_lik.shape[:2])
    joint = lp + logsumexp(log_lik + grid.log_weight[None, None, :], axis=2)
    norm = logsumexp(joint, axis=1)
    dead = ~np.isfinite(norm)
    if dead.any():
        joint[dead] = lp[dead]
        norm[dead] = logsumexp(lp[dead], axis=1)
    return np.exp(joint - norm[:, None])


def gaussian_loglik(outputs: np.ndarray, y: np.ndarray, std: float) -> np.ndarray:
    """``log N(y; f(x), std^2)`` for regressor outputs ``(n, V, U)`` and observations ``(n,)``."""
    if not std > 0:
        raise ConfigError(f"error_std: must be > 0, got {std!r}")
    out = np.asarray(outputs, dtype=np.float64)
    if out.ndim == 4 and out.shape[-1] == 1:
        out = out[..., 0]
    if out.ndim != 3:
        raise ConfigError(
            f"target: a regressor must return one number per record, got outputs of shape "
            f"{out.shape[3:]} per record"
        )
    r = (np.asarray(y, dtype=np.float64)[:, None, None] - out) / std
    return -0.5 * r * r - np.log(std)


def class_index(labels: Any, classes: tuple[Any, ...], what: str = "labels") -> np.ndarray:
    """Positions of ``labels`` in ``classes`` (the model's score-column order)."""
    lookup = {c: i for i, c in enumerate(classes)}
    arr = np.asarray(labels, dtype=object).reshape(-1)
    out = np.empty(arr.shape[0], dtype=np.int64)
    bad = set()
    for i, v in enumerate(arr):
        v = v.item() if isinstance(v, np.generic) else v
        j = lookup.get(v)
        if j is None and isinstance(v, float) and v.is_integer():
            j = lookup.get(int(v))
        if j is None:
            bad.add(v)
            j = -1
        out[i] = j
    if bad:
        raise ConfigError(
            f"{what}: {sorted(map(str, bad))[:5]} are not among the model's classes "
            f"{list(classes)[:10]} (set knowledge classes= to the model's class order)"
        )
    return out


def scores_loglik(scores: np.ndarray, y_idx: np.ndarray, floor: float = 1e-6) -> np.ndarray:
    """``log f(x)_y``: the model's confidence in the observed class, ``(n, V, U)``."""
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 4:
        raise ConfigError(
            "target: a confidence attack needs class probabilities (predict_proba), but the "
            f"model returned outputs of shape {s.shape[3:]} per record; give a classifier with "
            "predict_proba, or use a label-only attack (lomia, fredrikson-map)"
        )
    if (y_idx >= s.shape[-1]).any():
        raise ConfigError(
            f"labels: class index {int(y_idx.max())} but the model returns {s.shape[-1]} scores"
        )
    picked = np.take_along_axis(s, y_idx[:, None, None, None], axis=3)[..., 0]
    return np.log(np.clip(picked, floor, None))


def require_scores(outputs: np.ndarray, who: str) -> None:
    """Raise when a view returned labels or a single number instead of class scores."""
    if outputs.ndim < 4 or outputs.shape[-1] < 2:
        raise ConfigError(
            f"target: {who} needs class confidence scores, but the model returned "
            f"{'one value' if outputs.ndim < 4 else outputs.shape[-1]} per record: it has no "
            "predict_proba (or the view is label-only). Give a probabilistic classifier or use "
            "a label-only attack such as 'lomia'"
        )


def confusion_loglik(predicted: np.ndarray, y_idx: np.ndarray, confusion: np.ndarray) -> np.ndarray:
    """``log Pr[y | f(x)]`` from a row-normalised confusion matrix ``C[pred, true]``."""
    pred = np.asarray(predicted, dtype=np.int64)
    c = np.log(np.clip(confusion, _TINY, None))
    return c[pred, y_idx[:, None, None]]


def estimate_confusion(
    predicted_idx: np.ndarray, true_idx: np.ndarray, k: int, smoothing: float = 1.0
) -> np.ndarray:
    """``C[p, t] = Pr[true = t | predicted = p]`` with Laplace ``smoothing`` (the 2014 paper's
    "performance statistics" of the model)."""
    c = np.full((k, k), float(smoothing))
    np.add.at(c, (predicted_idx, true_idx), 1.0)
    return c / c.sum(axis=1, keepdims=True)


def identity_confusion(k: int, eps: float = 1e-3) -> np.ndarray:
    """The confusion of an observation that *is* the model's output: near-exact matches."""
    c = np.full((k, k), eps / max(k - 1, 1))
    np.fill_diagonal(c, 1.0 - eps)
    return c
