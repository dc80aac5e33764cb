"""Baselines every attribute-inference figure stands beside.

* **prior-only**: always the attribute's most likely value from the marginal prior.
* **no-model imputation**: the same attacker knowledge (known attributes and, when the attacker
  knows it, the label) but no access to the target: a classifier trained on the attacker's
  auxiliary records (as ART's ``AttributeInferenceBaseline``). What an attack gains over it is
  what the *model* leaks; the rest the data gives away on its own.
* **ideal**: Fredrikson et al.'s (2014) comparison: a classifier trained on the true private
  data with the attacker's features; it measures what the population relation allows. Records
  of its own training data are predicted by cross-fitting (a model that has not seen them), so
  it reflects the population, not memorisation.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mi_core.errors import ConfigError
from mi_tabular.encoding import (
    FrameEncoder,
    attacker_features,
    fit_predict_proba,
    make_classifier,
)
from mi_tabular.knowledge import AttributeKnowledge, Marginal


def prior_only(sensitive: Marginal, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Codes and probabilities of the prior-only guess for ``n`` records."""
    prior = np.asarray(sensitive.prior)
    return np.full(n, int(prior.argmax())), np.tile(prior, (n, 1))


def no_model_imputation(
    ak: AttributeKnowledge, *, estimator: str = "auto", seed: int = 0, use_labels: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Impute the sensitive attribute from the attacker's knowledge, trained on its auxiliary
    records; no target access. Returns ``(codes, (n, V) probabilities)``."""
    aux = ak.require_auxiliary("the no-model imputation baseline")
    with_labels = use_labels and ak.labels is not None and ak.label_column is not None
    aux_lab = aux[ak.label_column].to_numpy() if with_labels else None
    f_aux = attacker_features(aux[ak.known_columns], aux_lab)
    f_tgt = attacker_features(ak.known[ak.known_columns], ak.labels if with_labels else None)
    enc = FrameEncoder().fit(f_aux)
    y = ak.sensitive.codes(aux[ak.sensitive.column].to_numpy(), "auxiliary")
    clf = make_classifier(estimator, seed, enc.categorical_mask, len(f_aux))
    proba = fit_predict_proba(
        clf, enc.transform(f_aux), y, enc.transform(f_tgt), len(ak.sensitive.values)
    )
    return proba.argmax(axis=1), proba


def ideal_predictor(
    ak: AttributeKnowledge,
    private: pd.DataFrame,
    *,
    label_column: str | None = None,
    estimator: str = "auto",
    folds: int = 5,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Fredrikson's ideal predictor, trained on the private training records (``private``: the
    model's input columns, the sensitive one and ``label_column``). Records under attack whose
    index appears in ``private.index`` are predicted by the fold that did not train on them."""
    s = ak.sensitive.column
    if s not in private.columns:
        raise ConfigError(f"private: lacks the sensitive column {s!r}")
    with_labels = ak.labels is not None and label_column is not None
    if ak.labels is not None and label_column is None:
        raise ConfigError("label_column: the attacker knows labels; name the private label column")
    priv_lab = private[label_column].to_numpy() if with_labels else None
    f_priv = attacker_features(private[ak.known_columns], priv_lab)
    f_tgt = attacker_features(ak.known[ak.known_columns], ak.labels if with_labels else None)
    enc = FrameEncoder().fit(pd.concat([f_priv, f_tgt], ignore_index=True))
    x_priv, x_tgt = enc.transform(f_priv), enc.transform(f_tgt)
    y = ak.sensitive.codes(private[s].to_numpy(), "private")
    k = len(ak.sensitive.values)
    rng = np.random.default_rng(seed)
    fold_of = rng.integers(0, folds, size=len(private))
    pos = pd.Series(np.arange(len(private)), index=private.index)
    if not private.index.is_unique:
        raise ConfigError("private: the index must identify records (it has duplicates)")
    tgt_pos = pos.reindex(ak.known.index).to_numpy()
    member = ~np.isnan(tgt_pos)
    proba = np.zeros((ak.n, k))

    def model() -> Any:
        return make_classifier(estimator, seed, enc.categorical_mask, len(private))

    if (~member).any():
        proba[~member] = fit_predict_proba(model(), x_priv, y, x_tgt[~member], k)
    if member.any():
        tgt_fold = fold_of[tgt_pos[member].astype(np.int64)]
        rows = np.flatnonzero(member)
        for f in range(folds):
            sel = tgt_fold == f
            if not sel.any():
                continue
            keep = fold_of != f
            proba[rows[sel]] = fit_predict_proba(
                model(), x_priv[keep], y[keep], x_tgt[rows[sel]], k
            )
    return proba.argmax(axis=1), proba
