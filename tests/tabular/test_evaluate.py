"""Metrics and the evaluator: every figure beside the prior, no-model and ideal baselines."""

import numpy as np
import pytest

from mi_core import MetricError
from mi_tabular import AttributeEvaluator, Marginal
from mi_tabular.metrics import balanced_accuracy, g_mean, mcc, per_class, summarize


def test_metrics_on_a_hand_example():
    true = np.array([0, 0, 0, 0, 1, 1])
    pred = np.array([0, 0, 0, 1, 1, 0])
    assert balanced_accuracy(pred, true) == pytest.approx((0.75 + 0.5) / 2)
    assert g_mean(pred, true) == pytest.approx(np.sqrt(0.75 * 0.5))
    # MCC = (TP*TN - FP*FN) / sqrt(...) with TP=1, TN=3, FP=1, FN=1
    assert mcc(pred, true) == pytest.approx((1 * 3 - 1 * 1) / np.sqrt(2 * 2 * 4 * 4))
    pc = per_class(pred, true, 2)
    assert pc[1] == {"precision": 0.5, "recall": 0.5, "support": 2}
    with pytest.raises(MetricError, match="undefined"):
        mcc(np.zeros(4, int), np.array([0, 1, 0, 1]))
    s = summarize(pred, true, np.column_stack([1 - pred, pred]).astype(float), 2)
    assert s["auc"] == pytest.approx(0.625) and s["accuracy"] == pytest.approx(4 / 6)


def test_evaluator_reports_baselines_leakage_and_membership_split():
    sens = Marginal("s", ("a", "b"), (0.7, 0.3))
    true = ["a", "a", "b", "b", "a", "b"]
    member = [True, True, True, False, False, False]
    no_model = (np.array([0, 0, 0, 0, 0, 1]), np.tile([0.6, 0.4], (6, 1)))
    ev = AttributeEvaluator(true, sens, member=member, no_model=no_model)
    attack = (np.array([0, 0, 1, 1, 1, 1]), np.tile([0.5, 0.5], (6, 1)))
    figs = {f.metric: f for f in ev.evaluate(attack)}
    acc = figs["accuracy"]
    assert acc.value == pytest.approx(5 / 6) and acc.baseline == pytest.approx(4 / 6)
    assert acc.baseline_name == "no-model imputation"
    assert acc.details["leakage"] == pytest.approx(1 / 6) == pytest.approx(acc.gap)
    assert acc.details["prior_only"] == pytest.approx(0.5)
    assert figs["accuracy_vs_prior"].baseline == pytest.approx(0.5)
    assert figs["accuracy_in_training"].value == 1.0
    assert figs["accuracy_out_of_training"].value == pytest.approx(2 / 3)
    with pytest.raises(MetricError, match="5 inferred values for 6 records"):
        ev.evaluate((np.zeros(5, int), None))
