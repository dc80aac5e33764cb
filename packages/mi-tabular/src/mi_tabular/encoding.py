"""Frames to numbers for the attacker's own models (attack models, imputation baselines).

Categorical columns (strings, categories, booleans) become ordinal codes that
``HistGradientBoostingClassifier`` treats as categories; numbers stay numbers. The encoder is
fitted on the attacker's data only (auxiliary records), unseen categories become missing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mi_core.errors import ConfigError


def is_categorical(s: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)


class FrameEncoder:
    """Ordinal-encode the categorical columns of a frame, pass numbers through."""

    def __init__(self, max_categories: int = 250) -> None:
        self.max_categories = max_categories
        self.columns_: list[str] = []
        self.categories_: dict[str, dict[Any, int]] = {}

    def fit(self, frame: pd.DataFrame) -> FrameEncoder:
        self.columns_ = [str(c) for c in frame.columns]
        self.categories_ = {}
        for c in self.columns_:
            s = frame[c]
            if is_categorical(s):
                cats = pd.unique(s.astype(str))
                if len(cats) > self.max_categories:
                    raise ConfigError(
                        f"column {c!r}: {len(cats)} categories (more than {self.max_categories});"
                        " encode it numerically first"
                    )
                self.categories_[c] = {v: i for i, v in enumerate(sorted(cats))}
        return self

    @property
    def categorical_mask(self) -> np.ndarray:
        return np.array([c in self.categories_ for c in self.columns_], dtype=bool)

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        missing = [c for c in self.columns_ if c not in frame.columns]
        if missing:
            raise ConfigError(f"frame lacks columns {missing}")
        out = np.empty((len(frame), len(self.columns_)), dtype=np.float64)
        for j, c in enumerate(self.columns_):
            s = frame[c]
            if c in self.categories_:
                mapping = self.categories_[c]
                out[:, j] = s.astype(str).map(mapping).astype(float).to_numpy()
            else:
                out[:, j] = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64)
        return out

    def fit_transform(self, frame: pd.DataFrame) -> np.ndarray:
        return self.fit(frame).transform(frame)


def attacker_features(known: pd.DataFrame, labels: np.ndarray | None) -> pd.DataFrame:
    """The attacker's features for an attack / imputation model: known attributes (+ label)."""
    feats = known.reset_index(drop=True).copy()
    if labels is not None:
        lab = np.asarray(labels)
        feats["__label__"] = lab.astype(str) if lab.dtype.kind in "OUSb" else lab
    return feats


def default_classifier(
    seed: int, categorical_mask: np.ndarray | None = None, max_iter: int = 200
) -> Any:
    """The attacker's default learner: gradient-boosted trees (fast, handles categories and
    unscaled numbers, strong on tabular data)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    cat = None
    if categorical_mask is not None and categorical_mask.any():
        cat = categorical_mask
    return HistGradientBoostingClassifier(
        max_iter=max_iter,
        learning_rate=0.1,
        early_stopping=True,
        validation_fraction=0.15,
        n_iter_no_change=10,
        categorical_features=cat,
        random_state=seed,
    )


AUTO_HGB_ROWS = 3000


def make_classifier(
    spec: str,
    seed: int,
    categorical_mask: np.ndarray | None = None,
    rows: int | None = None,
    iterations: int | None = None,
) -> Any:
    """An attacker-side classifier by name: ``hgb`` (gradient-boosted trees), ``logistic``,
    ``forest``, or ``auto``: boosted trees from ``AUTO_HGB_ROWS`` training rows on, logistic
    regression below (boosted trees overfit a few hundred records).

    ``iterations`` bounds its training: boosting rounds (``hgb``), solver iterations
    (``logistic``) or trees (``forest``); ``None`` keeps the learner's default. ``0`` trains
    nothing: the model stays at the point boosting starts from, the training class frequencies
    (sklearn's ``DummyClassifier(strategy="prior")``); tests use it to show that an attack's
    gain comes from training its attack model."""
    if iterations is not None and iterations < 0:
        raise ConfigError(f"iterations: must be >= 0 (0 = no training), got {iterations}")
    if iterations == 0:
        from sklearn.dummy import DummyClassifier

        return DummyClassifier(strategy="prior")
    if spec == "auto":
        spec = "hgb" if rows is not None and rows >= AUTO_HGB_ROWS else "logistic"
    if spec == "hgb":
        return default_classifier(seed, categorical_mask, iterations or 200)
    if spec == "logistic":
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        if categorical_mask is not None and categorical_mask.any():
            from sklearn.compose import ColumnTransformer

            idx = np.flatnonzero(categorical_mask)
            num = np.flatnonzero(~categorical_mask)
            pre = ColumnTransformer(
                [
                    ("cat", OneHotEncoder(handle_unknown="ignore"), idx),
                    ("num", StandardScaler(), num),
                ]
            )
            return make_pipeline(pre, LogisticRegression(max_iter=iterations or 2000))
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=iterations or 2000))
    if spec == "forest":
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(
            n_estimators=iterations or 200, min_samples_leaf=2, n_jobs=1, random_state=seed
        )
    raise ConfigError(f"estimator: unknown value {spec!r}; allowed: 'hgb', 'logistic', 'forest'")


def fit_predict_proba(
    clf: Any, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, k: int
) -> np.ndarray:
    """Fit ``clf`` on codes ``y_train`` in ``[0, k)`` and return ``(n_test, k)`` probabilities
    (classes never seen in training get probability 0)."""
    from threadpoolctl import threadpool_limits

    present = np.unique(y_train)
    proba = np.zeros((x_test.shape[0], k))
    if len(present) == 1:
        proba[:, present[0]] = 1.0
        return proba
    # one OpenMP thread: on a shared, loaded machine sklearn's multi-threaded histogram
    # boosting spin-waits for tens of seconds on fits that take a quarter second alone
    with threadpool_limits(limits=1, user_api="openmp"):
        clf.fit(x_train, y_train)
        p = clf.predict_proba(x_test)
    proba[:, np.asarray(clf.classes_, dtype=np.int64)] = p
    return proba
