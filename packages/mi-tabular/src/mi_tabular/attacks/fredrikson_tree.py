"""Fredrikson et al. 2015: model inversion of decision trees (survey Sec. III, [11]).

Fredrikson, Jha, Ristenpart, "Model inversion attacks that exploit confidence information and
basic countermeasures", CCS 2015, Sec. 4. A tree is a set of paths ``phi_i`` with training counts
``n_i``; a record ``(x_K, v, u)`` follows exactly one path. Two estimators:

* **White-box with counts** (:class:`FredriksonTreeWhiteBox`): the attacker reads the tree and
  weighs each candidate by the training records on its path that are consistent with what it
  observed::

      x_t* = argmax_v  p_t(v) * sum_u prod_j p_j(u_j) * n(path(x_K, v, u), y) / N

  ``counts="label"`` (default) is the paper's count: ``n_i`` when path ``i`` outputs ``y``,
  else 0. ``counts="class"`` uses the path's training records *of class* ``y``, which sklearn
  stores per leaf; it keeps a candidate whose leaf predicts another class but holds records of
  class ``y``, which is where a training record sits when the tree did not fit it. For a
  regression tree the path's count is weighed by the Gaussian ``N(y; leaf value, sigma^2)``.
  All candidate records go through ``tree.apply`` in one vectorised call (ART's implementation
  walks the tree once per row).
* **Black-box with confidence** (:class:`FredriksonTreeBlackBox`): only the model's outputs:
  ``pi(y | f(x)) = f(x)_y``, the confidence the model (e.g. a BigML tree) returns for ``y``; it is
  :class:`~mi_tabular.attacks.fredrikson_map.FredriksonMAP` with ``output="scores"``.

The paper's finding, which the evaluator's in/out-of-training split shows: the white-box counts
make training records far easier to invert than other records of the population.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from tqdm.auto import tqdm

from mi_core.config import check_choice, check_positive
from mi_core.errors import ConfigError
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetView
from mi_tabular.attacks._base import AttributeAttack
from mi_tabular.attacks.fredrikson_map import FredriksonMAP, FredriksonMAPConfig
from mi_tabular.candidates import candidate_grid, expand
from mi_tabular.posterior import class_index, posterior


@dataclass
class FredriksonTreeConfig:
    """Hyper-parameters of the white-box estimator.

    Attributes:
        counts: ``label`` (the paper: the path's count when the path outputs the observed
            label) or ``class`` (training records of the observed class on the path).
        use_prior: multiply by the sensitive attribute's prior ``p_t(v)`` (the paper does).
        prior: ``marginal`` (``p_t(v)``) or ``auxiliary`` (``p(v | x_K)`` learned from the
            auxiliary records).
        error_std: regression trees: error std of the observed value; ``None`` = measured on
            labelled auxiliary records, or a near-exact match for observed model outputs.
        max_candidates: cap on sensitive values x unknown combinations per record.
        chunk_rows: candidate rows per ``tree.apply`` call.
        progress: show a progress bar.
    """

    counts: Literal["class", "label"] = "label"
    use_prior: bool = True
    prior: Literal["marginal", "auxiliary"] = "marginal"
    error_std: float | None = None
    max_candidates: int = 4096
    chunk_rows: int = 500_000
    progress: bool = True

    def __post_init__(self) -> None:
        check_choice("counts", self.counts, ("class", "label"))
        check_choice("prior", self.prior, ("marginal", "auxiliary"))
        if self.error_std is not None:
            check_positive("error_std", self.error_std)
        check_positive("max_candidates", self.max_candidates)
        check_positive("chunk_rows", self.chunk_rows)


def unwrap_tree(estimator: Any) -> tuple[Any, Any]:
    """``(tree, preprocessing)`` of a fitted decision tree or a Pipeline ending in one."""
    pre = None
    tree = estimator
    if hasattr(estimator, "steps") and len(estimator.steps) > 1:
        pre = estimator[:-1]
        tree = estimator.steps[-1][1]
    if not hasattr(tree, "tree_") or not hasattr(tree, "apply"):
        raise ConfigError(
            f"target: the white-box tree attack needs a fitted sklearn DecisionTreeClassifier / "
            f"DecisionTreeRegressor (or a Pipeline ending in one), got {type(tree).__name__}"
        )
    return tree, pre


class FredriksonTreeWhiteBox(AttributeAttack):
    """White-box-with-counts decision-tree inversion (Fredrikson et al. 2015)."""

    name = "fredrikson-tree-wb"
    access = Access.WHITE_BOX
    paper = "Fredrikson et al., CCS 2015"
    summary = "decision-tree inversion from the paths and training counts of the tree"
    Config = FredriksonTreeConfig
    requires = ("known_attributes", "prior", "target_labels")

    def _run(self, view: TargetView, knowledge: Knowledge, seed: int) -> AttackResult:
        cfg: FredriksonTreeConfig = self.config
        ak = self._knowledge(knowledge)
        y = ak.require_labels(self.name)
        estimator = getattr(view, "estimator", None)
        if estimator is None:
            raise ConfigError(
                "target: the white-box tree attack needs a view of an sklearn tree "
                "(make_view(tree, 'white-box')); this white-box view holds no estimator"
            )
        tree, pre = unwrap_tree(estimator)
        t = tree.tree_
        n_total = float(t.weighted_n_node_samples[0])
        node_n = t.weighted_n_node_samples.astype(np.float64)
        is_clf = hasattr(tree, "classes_")
        grid = candidate_grid(ak, cfg.max_candidates)
        v_count, u_count = grid.shape
        info: dict[str, Any] = {"counts": cfg.counts, "leaves": int(t.n_leaves)}
        if is_clf:
            frac = t.value[:, 0, :].astype(np.float64)
            frac = frac / np.clip(frac.sum(axis=1, keepdims=True), 1e-300, None)
            y_idx = class_index(y, tuple(tree.classes_.tolist()), "knowledge.target_labels")
            if cfg.counts == "class":
                weight_of = frac * node_n[:, None] / n_total  # (nodes, classes)
            else:
                hit = (frac.argmax(axis=1)[:, None] == np.arange(frac.shape[1])[None, :]).astype(
                    np.float64
                )
                weight_of = hit * (node_n / n_total)[:, None]
        else:
            leaf_value = t.value[:, 0, 0].astype(np.float64)
            std = self._regression_std(tree, pre, ak, leaf_value)
            info["error_std"] = std
        loglik = np.empty((ak.n, v_count, u_count))
        step = max(1, cfg.chunk_rows // grid.size)
        starts = range(0, ak.n, step)
        for s in tqdm(starts, desc=self.name, disable=not cfg.progress or len(starts) < 3):
            part = ak.known.iloc[s : s + step]
            x = ak.to_model_input(expand(part, ak, grid))
            if pre is not None:
                x = pre.transform(x)
            leaves = tree.apply(x).reshape(len(part), v_count, u_count)
            if is_clf:
                w = weight_of[leaves, y_idx[s : s + len(part), None, None]]
            else:
                obs = np.asarray(y[s : s + len(part)], dtype=np.float64)[:, None, None]
                r = (obs - leaf_value[leaves]) / std
                w = (node_n[leaves] / n_total) * np.exp(-0.5 * r * r)
            with np.errstate(divide="ignore"):
                loglik[s : s + len(part)] = np.log(w)
        log_prior = self.log_prior(ak, cfg.prior, seed) if cfg.use_prior else np.zeros(v_count)
        post = posterior(log_prior, grid, loglik)
        return self._posterior_result(ak, post, info=info)

    def _regression_std(self, tree: Any, pre: Any, ak: Any, leaf_value: np.ndarray) -> float:
        cfg: FredriksonTreeConfig = self.config
        if cfg.error_std is not None:
            return float(cfg.error_std)
        if ak.labels_are == "predicted":
            spread = float(np.std(leaf_value)) or 1.0
            return 1e-3 * spread
        if ak.auxiliary is None or ak.label_column is None:
            raise ConfigError(
                "error_std: a regression tree needs the error std of the observed values: give "
                "error_std=, or labelled auxiliary records (knowledge.auxiliary, label_column)"
            )
        x = ak.to_model_input(ak.auxiliary[list(ak.columns)])
        if pre is not None:
            x = pre.transform(x)
        resid = ak.auxiliary[ak.label_column].to_numpy(dtype=np.float64) - tree.predict(x)
        return float(max(np.sqrt(np.mean(resid**2)), 1e-9))


@dataclass
class FredriksonTreeBlackBoxConfig(FredriksonMAPConfig):
    """As :class:`FredriksonMAPConfig`, reading the model's confidence scores by default."""

    output: Literal["auto", "labels", "scores"] = "scores"


class FredriksonTreeBlackBox(FredriksonMAP):
    """Black-box decision-tree inversion from confidence values (Fredrikson et al. 2015)."""

    name = "fredrikson-tree-bb"
    access = Access.BLACK_BOX_SCORES
    paper = "Fredrikson et al., CCS 2015"
    summary = "MAP inversion weighting each candidate by the model's confidence in the label"
    Config = FredriksonTreeBlackBoxConfig
