"""Fredrikson et al. 2014: maximum-a-posteriori attribute inversion (survey Sec. III, Eq. 1).

Fredrikson, Lantz, Jha, Lin, Page, Ristenpart, "Privacy in pharmacogenetics: an end-to-end case
study of personalized warfarin dosing", USENIX Security 2014. The attacker knows a patient's
non-sensitive attributes ``x_K``, the model's output or the true label ``y`` and the marginal
priors ``p_i``, and picks::

    x_t* = argmax_v  p_t(v) * sum_{u} prod_j p_j(u_j) * pi(y | f(x_K, v, u))

where ``u`` ranges over the attributes it does not know and ``pi`` is the model's error model:
a Gaussian with the model's error standard deviation for a regressor (the warfarin dose model),
the confusion matrix ``Pr[y | f(x)]`` for a classifier's label, or the confidence ``f(x)_y`` for
a classifier's scores (``output="scores"``, the confidence variant of Fredrikson et al. 2015).

The error model is the model's "performance statistics" in the paper: here either given
(``error_std``) or measured on the attacker's labelled auxiliary records (which costs one query
each). When the attacker observes the model's own output (``labels_are="predicted"``), ``pi`` is a
near-exact match.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from mi_core.config import check_choice, check_positive
from mi_core.errors import ConfigError
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetView
from mi_tabular.attacks._base import AttributeAttack
from mi_tabular.candidates import candidate_grid, query, query_candidates
from mi_tabular.knowledge import AttributeKnowledge
from mi_tabular.posterior import (
    class_index,
    confusion_loglik,
    estimate_confusion,
    gaussian_loglik,
    identity_confusion,
    posterior,
    require_scores,
    scores_loglik,
)


@dataclass
class FredriksonMAPConfig:
    """Hyper-parameters.

    Attributes:
        output: what the attack reads from the model: ``labels`` (label-only access; a
            regressor's prediction), ``scores`` (class probabilities), ``auto`` = ``labels``.
        error_std: a regressor's error standard deviation ``sigma`` (e.g. its published RMSE);
            ``None`` measures it on the labelled auxiliary records.
        prior: ``marginal`` (the paper: ``p_t(v)``) or ``auxiliary`` (``p(v | x_K)`` learned
            from the auxiliary records, for attributes correlated with the sensitive one).
        smoothing: Laplace smoothing of the confusion matrix measured on auxiliary records.
        max_candidates: cap on sensitive values x unknown combinations per record.
        chunk_rows: candidate rows per model call.
        progress: show a progress bar.
    """

    output: Literal["auto", "labels", "scores"] = "auto"
    error_std: float | None = None
    prior: Literal["marginal", "auxiliary"] = "marginal"
    smoothing: float = 1.0
    max_candidates: int = 4096
    chunk_rows: int = 200_000
    progress: bool = True

    def __post_init__(self) -> None:
        check_choice("output", self.output, ("auto", "labels", "scores"))
        if self.error_std is not None:
            check_positive("error_std", self.error_std)
        check_choice("prior", self.prior, ("marginal", "auxiliary"))
        check_positive("smoothing", self.smoothing, allow_zero=True)
        check_positive("max_candidates", self.max_candidates)
        check_positive("chunk_rows", self.chunk_rows)


def regression_error_std(
    view: TargetView, ak: AttributeKnowledge, given: float | None, outputs: np.ndarray
) -> tuple[float, str]:
    """The regressor's error std ``sigma`` of Eq. 1's Gaussian ``pi``, and where it came from."""
    if given is not None:
        return float(given), "given"
    if ak.labels is not None and ak.labels_are == "predicted":
        spread = float(np.std(outputs)) or 1.0
        return 1e-3 * spread, "observed model outputs (near-exact match)"
    if ak.auxiliary is None or ak.label_column is None:
        raise ConfigError(
            "error_std: the attack needs the model's error std (its RMSE): give error_std=, or "
            "labelled auxiliary records (knowledge.auxiliary with label_column) to measure it"
        )
    aux = ak.auxiliary
    pred = query(view, ak, aux[list(ak.columns)], "outputs").astype(np.float64).reshape(len(aux))
    resid = aux[ak.label_column].to_numpy(dtype=np.float64) - pred
    return float(max(np.sqrt(np.mean(resid**2)), 1e-9)), "auxiliary residuals"


def label_confusion(
    view: TargetView, ak: AttributeKnowledge, classes: tuple, smoothing: float
) -> tuple[np.ndarray, str]:
    """``Pr[y | f(x)]`` for label observations: exact for observed model outputs, else measured
    on labelled auxiliary records, else a near-exact match (the attacker assumes an accurate
    model)."""
    k = len(classes)
    if ak.labels_are == "predicted":
        return identity_confusion(k), "observed model outputs (exact match)"
    if ak.auxiliary is not None and ak.label_column is not None:
        aux = ak.auxiliary
        pred = query(view, ak, aux[list(ak.columns)], "labels")
        p_idx = class_index(pred, classes, "model labels")
        t_idx = class_index(aux[ak.label_column].to_numpy(), classes, "auxiliary labels")
        return estimate_confusion(p_idx, t_idx, k, smoothing), "auxiliary confusion matrix"
    return identity_confusion(k, 0.05), "assumed accurate model (no auxiliary labels)"


class FredriksonMAP(AttributeAttack):
    """MAP attribute inversion of Fredrikson et al. 2014 (survey Eq. 1)."""

    name = "fredrikson-map"
    access = Access.LABEL_ONLY
    paper = "Fredrikson et al., USENIX Security 2014"
    summary = "MAP estimate of a sensitive attribute from the output, known attributes, priors"
    Config = FredriksonMAPConfig
    requires = ("known_attributes", "prior", "target_labels")

    def __init__(self, config=None, **overrides) -> None:
        super().__init__(config, **overrides)
        self._set_access(self.config.output)

    def _run(self, view: TargetView, knowledge: Knowledge, seed: int) -> AttackResult:
        cfg = self.config
        ak = self._knowledge(knowledge)
        y = ak.require_labels(self.name)
        task = self.task(view, ak)
        grid = candidate_grid(ak, cfg.max_candidates)
        outs = query_candidates(
            view, ak, grid, chunk_rows=cfg.chunk_rows, progress=cfg.progress, desc=self.name
        )
        info: dict = {"task": task, "candidates_per_record": grid.size}
        if task == "regression":
            std, source = regression_error_std(view, ak, cfg.error_std, outs)
            loglik = gaussian_loglik(outs, np.asarray(y, dtype=np.float64), std)
            info.update(error_std=std, error_model=f"gaussian, sigma from {source}")
        else:
            classes = self.classes(view, ak)
            y_idx = class_index(y, classes, "knowledge.target_labels")
            if view.access is Access.LABEL_ONLY:
                if outs.ndim == 4 and outs.shape[-1] > 1:
                    raise ConfigError("target: a label-only view returned score vectors")
                pred = outs.reshape(outs.shape[:3])
                p_idx = class_index(pred.reshape(-1), classes, "model labels").reshape(pred.shape)
                conf, source = label_confusion(view, ak, classes, cfg.smoothing)
                loglik = confusion_loglik(p_idx, y_idx, conf)
                info["error_model"] = source
            else:
                require_scores(outs, self.name)
                loglik = scores_loglik(outs, y_idx)
                info["error_model"] = "model confidence in the observed class"
        post = posterior(self.log_prior(ak, cfg.prior, seed), grid, loglik)
        return self._posterior_result(ak, post, info=info)
