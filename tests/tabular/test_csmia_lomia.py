"""CSMIA and LOMIA (Mehnaz et al., USENIX Security 2022) on a decision tree."""

import numpy as np
import pandas as pd
import pytest
from conftest import figures

from mi_core import ConfigError, make_view
from mi_core.registry import get_attack
from mi_tabular.attacks.csmia import CSMIA, csmia_decide
from mi_tabular.attacks.lomia import LOMIA


def test_registered():
    assert get_attack("csmia") is CSMIA and get_attack("lomia") is LOMIA


def test_csmia_cases_follow_the_paper():
    # record 0: only candidate 1 predicts y=1 -> case 1; record 1: both predict y=0, candidate 0
    # more confidently -> case 2; record 2: neither predicts y=1, candidate 1 is less sure of its
    # wrong answer -> case 3
    scores = np.array(
        [
            [[0.8, 0.2], [0.3, 0.7]],
            [[0.9, 0.1], [0.6, 0.4]],
            [[0.9, 0.1], [0.55, 0.45]],
        ]
    )
    codes, case, _ = csmia_decide(scores, np.array([1, 0, 1]))
    assert codes.tolist() == [1, 0, 1] and case.tolist() == [1, 2, 3]


def test_csmia_beats_prior_and_leaks_training_records(cohort, cohort_eval):
    ds, sp, tree = cohort
    ak, ev = cohort_eval
    result = CSMIA(progress=False).run(make_view(tree, "black-box-scores"), ak.to_knowledge())
    f = figures(ev, result)
    assert f["accuracy_vs_prior"].value >= f["accuracy_vs_prior"].baseline + 0.08
    assert f["accuracy_in_training"].value >= f["accuracy_in_training"].baseline + 0.05
    assert sum(result.info["cases"].values()) == 1000
    case = result.arrays["case"]
    truth = ak.sensitive.codes(sp.attacked[ds.sensitive].to_numpy())
    # case-1 records (a single candidate reproduces the label) are inverted best
    assert (result.arrays["codes"][case == 1] == truth[case == 1]).mean() > f["accuracy"].value


def test_confidence_attack_refuses_a_model_without_predict_proba(cohort, cohort_eval):
    from sklearn.svm import LinearSVC

    ds, sp, _ = cohort
    ak, _ = cohort_eval
    x = sp.train[["age", "activity", "bmi", "smoker"]]
    svm = LinearSVC().fit(x, sp.train[ds.label])
    cols = ("age", "activity", "bmi", "smoker")
    from mi_tabular import AttributeKnowledge

    k = AttributeKnowledge(
        known=sp.attacked[["age", "activity", "bmi"]],
        sensitive=ak.sensitive,
        columns=cols,
        labels=sp.attacked[ds.label].to_numpy(),
    ).to_knowledge()
    with pytest.raises(ConfigError, match="has no predict_proba"):
        CSMIA(progress=False).run(make_view(svm, "black-box-scores"), k)


def test_lomia_label_only_beats_prior(cohort, cohort_eval):
    _ds, _sp, tree = cohort
    ak, ev = cohort_eval
    result = LOMIA(progress=False).run(make_view(tree, "label-only"), ak.to_knowledge())
    f = figures(ev, result)
    assert f["accuracy_vs_prior"].value >= f["accuracy_vs_prior"].baseline + 0.08
    assert f["balanced_accuracy"].value >= f["balanced_accuracy"].baseline + 0.02
    assert f["accuracy_in_training"].value >= f["accuracy_in_training"].baseline + 0.05
    assert 0 < result.info["case1"] < 1000 and result.queries == 2000


def test_lomia_falls_back_to_the_prior_without_case1_records():
    from sklearn.dummy import DummyClassifier

    from mi_tabular import AttributeKnowledge, Marginal

    frame = pd.DataFrame({"a": np.arange(40.0), "s": [0, 1] * 20})
    model = DummyClassifier(strategy="most_frequent").fit(frame, [0] * 30 + [1] * 10)
    ak = AttributeKnowledge(
        known=frame[["a"]],
        sensitive=Marginal("s", (0, 1), (0.3, 0.7)),
        columns=("a", "s"),
        labels=np.array([1] * 40),
        classes=(0, 1),
    )
    res = LOMIA(progress=False).run(make_view(model, "label-only"), ak.to_knowledge())
    assert "fallback" in res.info and set(res.reconstructions) == {1}
