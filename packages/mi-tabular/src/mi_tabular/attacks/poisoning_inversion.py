"""Poisoning-based black-box model inversion of linear regression (Hidano et al. 2018).

Hidano, Murakami, Katsumata, Kiyomoto, Hanaoka, "Model inversion attacks for online prediction
systems: without knowledge of non-sensitive attributes", IEICE Trans. Inf. & Syst. E101-D(11),
2018 (survey [58]). Unlike Fredrikson et al. 2014 the attacker knows *nothing* about its targets
but their prediction results; it can contribute training records to the online service. Three
stages:

1. **Setup.** Estimate the regression coefficients by querying the black-box model (a linear
   model is determined by as many answers as it has coefficients), and the service's
   hyper-parameter that poisoning needs: its training-set size ``n``, from how far the
   coefficients move when one probe record is contributed (for least squares
   ``G (w1 - w0) = x0 (y0 - x0^T w1)`` with ``G ~ n M``, ``M`` the second moments of public
   records).
2. **Poisoning.** Contribute records whose labels drive the retrained coefficients of the
   non-sensitive attributes to zero: with ``A = G + X_P^T X_P`` the retrained weights are
   ``A^{-1} (G w + X_P^T y_P)``; labels ``y_P = X_P w_tgt + delta`` with the minimum-norm
   ``delta`` that zeroes their non-sensitive rows. Rounds repeat (re-estimating the weights)
   until the non-sensitive part no longer moves the output.
3. **Inversion.** The targets' prediction results now depend on the sensitive attribute
   (almost) alone: ``x_s* = argmax_v p(v) N(y; b + w_s(v) + w_ns . mu, w_ns^T Sigma w_ns)``,
   with ``mu, Sigma`` the public moments of the attributes the attacker does not know.

The same inversion on the results observed before poisoning is kept in
``result.info["before_poisoning"]`` / ``arrays["codes_before"]``: the gain poisoning buys.

Knowledge: ``auxiliary`` (public records with every input column and the sensitive one),
``prior`` (a :class:`~mi_tabular.knowledge.Marginal` of the sensitive attribute), and in
``extra``: ``columns`` (the model's input columns), ``contribute(frame, y)`` (the service's
data-contribution channel) and ``observe()`` (the targets' current prediction results), e.g.
from :class:`~mi_tabular.targets.OnlineRegressionService`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mi_core.config import check_positive, check_range
from mi_core.errors import ConfigError
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetView
from mi_tabular.attacks._base import AttributeAttack
from mi_tabular.candidates import CandidateGrid, to_numpy
from mi_tabular.encoding import is_categorical
from mi_tabular.knowledge import Marginal, check_no_missing
from mi_tabular.posterior import posterior


@dataclass
class PoisoningInversionConfig:
    """Hyper-parameters.

    Attributes:
        poison_fraction: poison records per round, as a fraction of the estimated training size.
        max_rounds: poisoning rounds at most (``0``: no poisoning, only the setup's probe; the
            inversion then reads the unpoisoned model, a check that the gain is the poison's).
        tolerance: stop once the non-sensitive part of the output varies by less than this
            fraction of its variation before poisoning.
        probe_scale: the probe record's label offset, in output standard deviations.
        extraction_queries: query records for coefficient extraction, as a multiple of the
            number of coefficients.
        train_size: the service's training-set size if known (skips the probe).
    """

    poison_fraction: float = 0.05
    max_rounds: int = 4
    tolerance: float = 0.05
    probe_scale: float = 20.0
    extraction_queries: float = 3.0
    train_size: int | None = None

    def __post_init__(self) -> None:
        check_range("poison_fraction", self.poison_fraction, 1e-4, 10.0)
        check_positive("max_rounds", self.max_rounds, allow_zero=True)
        check_range("tolerance", self.tolerance, 0.0, 1.0)
        check_positive("probe_scale", self.probe_scale)
        check_range("extraction_queries", self.extraction_queries, 1.0, 100.0)
        if self.train_size is not None:
            check_positive("train_size", self.train_size)


class LinearDesign:
    """The attacker's linear design: intercept, numbers as they are, categories one-hot
    (first level dropped), the sensitive attribute one-hot over its candidate values."""

    def __init__(self, aux: pd.DataFrame, columns: tuple[str, ...], sensitive: Marginal) -> None:
        self.columns = columns
        self.sensitive = sensitive
        self.levels: dict[str, list[Any]] = {}
        names = ["(intercept)"]
        groups = ["intercept"]
        for c in columns:
            if c == sensitive.column:
                self.levels[c] = list(sensitive.values)
            elif is_categorical(aux[c]):
                self.levels[c] = sorted(pd.unique(aux[c].astype(str)).tolist())
            if c in self.levels:
                for lv in self.levels[c][1:]:
                    names.append(f"{c}={lv}")
                    groups.append("sensitive" if c == sensitive.column else "other")
            else:
                names.append(c)
                groups.append("other")
        self.names = names
        self.groups = np.array(groups)

    @property
    def p(self) -> int:
        return len(self.names)

    @property
    def ns(self) -> np.ndarray:
        return np.flatnonzero(self.groups == "other")

    @property
    def s(self) -> np.ndarray:
        return np.flatnonzero(self.groups == "sensitive")

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        cols = [np.ones(len(frame))]
        for c in self.columns:
            if c in self.levels:
                vals = frame[c].to_numpy()
                if c != self.sensitive.column:
                    vals = frame[c].astype(str).to_numpy()
                for lv in self.levels[c][1:]:
                    cols.append((vals == lv).astype(np.float64))
            else:
                cols.append(pd.to_numeric(frame[c]).to_numpy(dtype=np.float64))
        return np.column_stack(cols)

    def sensitive_rows(self) -> np.ndarray:
        """``(V, |s|)`` the sensitive block of the design for each candidate value."""
        v = len(self.sensitive.values)
        out = np.zeros((v, len(self.s)))
        for i in range(1, v):
            out[i, i - 1] = 1.0
        return out


def _mix(aux: pd.DataFrame, m: int, rng: np.random.Generator) -> pd.DataFrame:
    """``m`` plausible records: each column drawn from a different public record (keeps every
    value realistic while making the design full rank)."""
    idx = rng.integers(0, len(aux), size=(m, aux.shape[1]))
    data = {c: aux[c].to_numpy()[idx[:, j]] for j, c in enumerate(aux.columns)}
    return pd.DataFrame(data)


class PoisoningInversion(AttributeAttack):
    """Setup, poisoning and inversion against an online linear-regression service."""

    name = "poisoning-inversion"
    access = Access.BLACK_BOX_SCORES
    paper = "Hidano et al., IEICE Trans. Inf. & Syst. 2018"
    summary = "poison an online linear regression until its output reveals the attribute"
    Config = PoisoningInversionConfig
    #: an online regression service: a channel to contribute training records, the targets'
    #: prediction results (e.g. mi_tabular.targets.OnlineRegressionService), public records
    requires = ("auxiliary", "prior", "columns", "contribute", "observe")

    def _extract(
        self, view: TargetView, design: LinearDesign, aux: pd.DataFrame, rng: np.random.Generator
    ) -> tuple[np.ndarray, float]:
        m = int(np.ceil(self.config.extraction_queries * design.p))
        q = _mix(aux, m, rng)
        d = design.matrix(q)
        f = to_numpy(view(q[list(design.columns)])).astype(np.float64).reshape(-1)
        w, *_ = np.linalg.lstsq(d, f, rcond=None)
        resid = float(np.sqrt(np.mean((d @ w - f) ** 2)))
        return w, resid

    def _run(self, view: TargetView, knowledge: Knowledge, seed: int) -> AttackResult:
        cfg: PoisoningInversionConfig = self.config
        aux = knowledge.require("auxiliary", "public records of the population")
        sensitive = knowledge.require("prior", "a Marginal of the sensitive attribute")
        if not isinstance(sensitive, Marginal):
            raise ConfigError("knowledge.prior: expected a mi_tabular.Marginal")
        ak = knowledge.extra.get("attribute")  # an AttributeKnowledge knows the input columns
        columns = tuple(
            knowledge.extra.get("columns")
            or getattr(ak, "columns", None)
            or knowledge.require("columns", "the model's input columns")
        )
        contribute = knowledge.require("contribute", "the service's data-contribution channel")
        observe = knowledge.require("observe", "the targets' prediction results")
        if sensitive.column not in columns:
            raise ConfigError(
                f"sensitive column {sensitive.column!r} is unknown: not among {list(columns)}"
            )
        lacking = [c for c in columns if c not in aux.columns]
        if lacking:
            raise ConfigError(f"knowledge.auxiliary lacks columns {lacking}")
        check_no_missing(aux[list(columns)], "knowledge.auxiliary")
        aux = aux[list(columns)].reset_index(drop=True)
        rng = np.random.default_rng(seed)
        design = LinearDesign(aux, columns, sensitive)
        d_aux = design.matrix(aux)
        moments = d_aux.T @ d_aux / len(aux)
        ns, s_idx = design.ns, design.s
        mu = d_aux[:, ns].mean(axis=0)
        cov = np.cov(d_aux[:, ns], rowvar=False).reshape(len(ns), len(ns))

        def spread(w: np.ndarray) -> float:
            return float(np.sqrt(max(w[ns] @ cov @ w[ns], 0.0)))

        def invert(w: np.ndarray, y: np.ndarray) -> np.ndarray:
            mean = w[0] + design.sensitive_rows() @ w[s_idx] + w[ns] @ mu  # (V,)
            sd = max(spread(w), 1e-6 * (abs(w[0]) + 1.0))
            r = (y[:, None] - mean[None, :]) / sd
            loglik = (-0.5 * r * r)[:, :, None]
            grid = CandidateGrid(tuple(sensitive.values), (), ((),), np.zeros(1))
            return posterior(sensitive.log_prior(), grid, loglik)

        # 1. setup ------------------------------------------------------------------------------
        w0, extraction_rmse = self._extract(view, design, aux, rng)
        y_before = np.asarray(observe(), dtype=np.float64).reshape(-1)
        post_before = invert(w0, y_before)
        spread0 = spread(w0)
        gram_poison = np.zeros((design.p, design.p))
        if cfg.train_size is not None:
            n_hat = float(cfg.train_size)
            w = w0
        else:
            probe = _mix(aux, 1, rng)
            x0 = design.matrix(probe)
            out_sd = float(np.std(d_aux @ w0)) or 1.0
            y0 = x0 @ w0 + cfg.probe_scale * out_sd
            contribute(probe, y0)
            w, _ = self._extract(view, design, aux, rng)
            n_hat = _train_size(moments, np.zeros_like(moments), w - w0, x0.T @ (y0 - x0 @ w), 1.0)
            gram_poison += x0.T @ x0
        # 2. poisoning --------------------------------------------------------------------------
        contributed = 0 if cfg.train_size is not None else 1
        history = [spread(w) / max(spread0, 1e-12)]
        for _ in range(cfg.max_rounds):
            if history[-1] <= cfg.tolerance:
                break
            m = max(len(ns) + 1, int(np.ceil(cfg.poison_fraction * n_hat)))
            pts = _mix(aux, m, rng)
            xp = design.matrix(pts)
            g_est = n_hat * moments + gram_poison
            w_tgt = w.copy()
            w_tgt[0] = w[0] + w[ns] @ mu
            w_tgt[ns] = 0.0
            a_mat = g_est + xp.T @ xp
            b_rows = np.linalg.solve(a_mat, np.eye(design.p))[ns, :]
            lhs = b_rows @ xp.T
            rhs = -b_rows @ (g_est @ w + xp.T @ (xp @ w_tgt))
            delta, *_ = np.linalg.lstsq(lhs, rhs, rcond=None)
            y_p = xp @ w_tgt + delta
            contribute(pts, y_p)
            contributed += m
            w_old = w
            w, _ = self._extract(view, design, aux, rng)
            # the round's answer refines the training-size estimate (same relation as the probe)
            n_hat = _train_size(moments, gram_poison, w - w_old, xp.T @ (y_p - xp @ w), n_hat)
            gram_poison += xp.T @ xp
            history.append(spread(w) / max(spread0, 1e-12))
        # 3. inversion --------------------------------------------------------------------------
        y_after = np.asarray(observe(), dtype=np.float64).reshape(-1)
        post = invert(w, y_after)
        ak_like = _TargetsOnly(sensitive, len(y_after))
        info = {
            "estimated_train_size": n_hat,
            "extraction_rmse": extraction_rmse,
            "poison_records": contributed,
            "nonsensitive_spread": history,
            "before_poisoning": {"prior_spread": spread0},
        }
        arrays = {"codes_before": post_before.argmax(axis=1), "posterior_before": post_before}
        return self._posterior_result(ak_like, post, info=info, arrays=arrays)  # type: ignore[arg-type]


def _train_size(
    moments: np.ndarray, gram_known: np.ndarray, dw: np.ndarray, pull: np.ndarray, fallback: float
) -> float:
    """Least-squares ``n`` in ``(n M + G_known) dw = pull``: how many training records it takes
    for contributed records with residual pull ``pull`` to move the weights by only ``dw``."""
    a = moments @ dw
    b = np.ravel(pull) - gram_known @ dw
    if not np.isfinite(a @ a) or a @ a < 1e-300:
        return fallback
    return float(max((a @ b) / (a @ a), 1.0))


class _TargetsOnly:
    """The part of :class:`AttributeKnowledge` a result needs, for attackers that know no
    attribute of their targets."""

    def __init__(self, sensitive: Marginal, n: int) -> None:
        self.sensitive = sensitive
        self.known = pd.DataFrame(index=pd.RangeIndex(n))
        self.labels = None
        self.labels_are = None
