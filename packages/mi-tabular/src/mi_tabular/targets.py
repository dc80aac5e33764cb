"""Targets beyond a fitted estimator: an online prediction service that retrains on contributed
records (the setting of the poisoning attack of Hidano et al. 2018).

The service keeps its training records private. Anyone may contribute labelled records (the
poisoning channel); the model is retrained on everything contributed so far; users' prediction
results are observable (what the attacker of Hidano et al. sees of its targets). Attacks reach
the model only through :meth:`OnlineRegressionService.view`, a black-box view whose answers
follow the latest retraining.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from mi_core.errors import ConfigError
from mi_core.views import TargetInfo, TargetView, view_from_callable
from mi_tabular.knowledge import check_no_missing


class OnlineRegressionService:
    """An online regression service (survey [58]): training records, a model factory, and the
    records of the users whose prediction results are observed.

    Args:
        make_model: returns a fresh, unfitted sklearn-style regressor (e.g. a Pipeline of a
            one-hot encoder and ``LinearRegression``).
        train: the service's private training records (model input columns).
        y: their labels.
        users: records of users who query the service; their results are observable.
    """

    def __init__(
        self,
        make_model: Callable[[], Any],
        train: pd.DataFrame,
        y: Any,
        users: pd.DataFrame,
    ) -> None:
        if not isinstance(train, pd.DataFrame) or not isinstance(users, pd.DataFrame):
            raise ConfigError("train / users: expected pandas DataFrames")
        check_no_missing(train, "train")
        check_no_missing(users, "users")
        self._make = make_model
        self._train = train.reset_index(drop=True)
        self._y = np.asarray(y, dtype=np.float64)
        if self._y.shape[0] != len(train):
            raise ConfigError(f"y: {self._y.shape[0]} labels for {len(train)} records")
        self._users = users[list(train.columns)]
        self._extra_x: list[pd.DataFrame] = []
        self._extra_y: list[np.ndarray] = []
        self.columns = tuple(str(c) for c in train.columns)
        self._fit()

    def _fit(self) -> None:
        x = pd.concat([self._train, *self._extra_x], ignore_index=True)
        y = np.concatenate([self._y, *self._extra_y])
        self._model = self._make().fit(x, y)

    @property
    def contributed(self) -> int:
        """Records contributed so far (poison included)."""
        return int(sum(len(x) for x in self._extra_x))

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """The current model's predictions (what the service answers)."""
        return np.asarray(self._model.predict(frame[list(self.columns)]), dtype=np.float64)

    def contribute(self, frame: pd.DataFrame, y: Any) -> None:
        """Add labelled records to the training data and retrain (the poisoning channel)."""
        if not isinstance(frame, pd.DataFrame):
            raise ConfigError("contribute: expected a DataFrame of records")
        check_no_missing(frame[list(self.columns)], "contributed records")
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        if y.shape[0] != len(frame) or not np.isfinite(y).all():
            raise ConfigError("contribute: one finite label per record is needed")
        self._extra_x.append(frame[list(self.columns)].reset_index(drop=True))
        self._extra_y.append(y)
        self._fit()

    def observe(self) -> np.ndarray:
        """The prediction results of the service's users under the current model."""
        return self.predict(self._users)

    def view(self, access: str = "black-box-scores", budget: int | None = None) -> TargetView:
        """A black-box view of the live model (answers follow every retraining)."""
        return view_from_callable(
            self.predict, access, budget=budget, info=TargetInfo(modality="tabular")
        )

    def rmse(self, frame: pd.DataFrame, y: Any) -> float:
        """The current model's RMSE on ``(frame, y)`` (the service's utility)."""
        r = np.asarray(y, dtype=np.float64) - self.predict(frame)
        return float(np.sqrt(np.mean(r * r)))
