"""The one leakage rule (mi_core.leakage): every table and the audit's verdict call it."""

import pytest

from mi_core.errors import MetricError
from mi_core.leakage import assess, assess_figure, assess_seeds, seed_stats, worst
from mi_core.metrics.base import Figure


def test_unit_interval_gaps_are_absolute():
    assert assess(0.80, 0.20, higher_is_better=True).level == "high"
    assert assess(0.25, 0.20, higher_is_better=True).level == "some"
    assert assess(0.21, 0.20, higher_is_better=True).level == "not shown"
    assert assess(0.10, 0.20, higher_is_better=True).level == "not shown"


def test_unbounded_gaps_are_relative_and_direction_is_respected():
    # distances: lower favours the attacker; 60 vs 100 is 40% closer
    lk = assess(60.0, 100.0, higher_is_better=False)
    assert lk.level == "high" and lk.gap == pytest.approx(40.0)
    assert assess(97.0, 100.0, higher_is_better=False).level == "not shown"
    assert assess(130.0, 100.0, higher_is_better=False).level == "not shown"


def test_gap_inside_seed_spread_is_not_shown():
    assert assess(0.5, 0.2, higher_is_better=True, spread=0.35).level == "not shown"
    lk, st, sb = assess_seeds([0.9, 0.1, 0.5], [0.2, 0.3, 0.2], higher_is_better=True)
    assert lk.level == "not shown" and st.n == 3 and sb is not None
    lk, _, _ = assess_seeds([0.80, 0.82, 0.78], [0.20, 0.22, 0.18], higher_is_better=True)
    assert lk.level == "high" and lk.spread == pytest.approx(0.0, abs=1e-9)


def test_baseline_that_used_the_target_is_no_baseline():
    lk = assess(0.9, 0.5, higher_is_better=True, baseline_uses_target=True)
    assert lk.level == "invalid baseline" and lk.gap is None and lk.css == "bad"


def test_off_manifold_reconstructions_are_adversarial_not_leakage():
    fig = Figure("eval_top1", 0.9, True, 0.2, "prior samples", on_manifold=False)
    assert fig.leakage.level == "adversarial"
    assert fig.to_dict()["leakage"] == "adversarial"
    assert assess_figure(fig.to_dict()).level == "adversarial"


def test_registered_metrics_declare_their_scale():
    import mi_core.metrics  # noqa: F401  (registers eval_top1, knn_distance)

    assert Figure("eval_top1", 0.5, True, 0.4).unit_interval is True
    assert Figure("knn_distance", 0.5, False, 0.9).unit_interval is False


def test_worst_and_bad_input():
    items = [
        ("a", assess(0.3, 0.2, higher_is_better=True)),
        ("b", assess(0.9, 0.2, higher_is_better=True)),
    ]
    assert worst(items)[0] == "b"
    assert worst([]) is None
    with pytest.raises(MetricError, match="not a finite number"):
        assess(float("nan"), 0.1, higher_is_better=True)
    with pytest.raises(MetricError, match="no values"):
        seed_stats([])
    assert seed_stats([1.0, 3.0]).fmt(1) == "2.0 ± 1.4"
