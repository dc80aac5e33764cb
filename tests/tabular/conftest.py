"""Shared fixtures: generated cohorts with a known dependence and models trained on them."""

import pytest

from mi_tabular import make_cohort, make_dosing_cohort, split_for_attack
from mi_tabular.cases import cohort_tree


@pytest.fixture(scope="session")
def cohort():
    """The survey cohort (sensitive 'smoker'), a fully grown tree, and the attacker's view of
    500 training + 500 other records with a 400-record public sample."""
    ds = make_cohort(6000, 0)
    sp = split_for_attack(
        ds.frame, train=0.5, auxiliary=400, attacked_in=500, attacked_out=500, seed=0
    )
    tree = cohort_tree(ds.features, 0).fit(sp.train[ds.features], sp.train[ds.label])
    return ds, sp, tree


@pytest.fixture(scope="session")
def dosing():
    """The warfarin-like cohort (sensitive 'vkorc1') and a linear dose model."""
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    ds = make_dosing_cohort(4000, 0)
    sp = split_for_attack(
        ds.frame, train=0.5, auxiliary=400, attacked_in=500, attacked_out=500, seed=0
    )

    def make_model():
        pre = make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), ["race", "vkorc1"]), remainder="passthrough"
        )
        return make_pipeline(pre, LinearRegression())

    model = make_model().fit(sp.train[ds.features], sp.train[ds.label])
    return ds, sp, model, make_model


@pytest.fixture(scope="session")
def cohort_eval(cohort):
    from mi_tabular import AttributeEvaluator

    ds, sp, _ = cohort
    ak = ds.knowledge(sp.attacked, sp.auxiliary)
    ev = AttributeEvaluator.build(
        ak, sp.attacked[ds.sensitive], member=sp.member, private=sp.train, label_column=ds.label
    )
    return ak, ev


def figures(evaluator, result):
    return {f.metric: f for f in evaluator.evaluate(result)}
