import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score, roc_auc_score

from mi_core import MetricError
from mi_core.metrics import (
    attribute_accuracy,
    average_precision,
    eval_accuracy,
    get_metric,
    knn_distance,
    list_metrics,
    precision_recall,
    roc_auc,
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.booleans()), min_size=2, max_size=40))
def test_auc_and_ap_match_sklearn_including_ties(pairs):
    scores = np.array([p[0] for p in pairs], float)
    labels = np.array([p[1] for p in pairs], int)
    if labels.min() == labels.max():
        with pytest.raises(MetricError, match="both positives and negatives"):
            roc_auc(scores, labels)
        return
    assert roc_auc(scores, labels) == pytest.approx(roc_auc_score(labels, scores))
    assert average_precision(scores, labels) == pytest.approx(
        average_precision_score(labels, scores)
    )


def test_auc_is_never_flipped():
    assert roc_auc([0.9, 0.8, 0.1, 0.2], [0, 0, 1, 1]) == 0.0


def test_metrics_declare_direction():
    names = {m.name: m.higher_is_better for m in list_metrics()}
    assert names["eval_top1"] is True and names["knn_distance"] is False
    assert get_metric("auc").higher_is_better


def test_eval_accuracy_and_knn_distance():
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
    with torch.no_grad():
        model[1].weight.copy_(torch.eye(3, 4))
        model[1].bias.zero_()
    x = torch.eye(4)[:3].reshape(3, 1, 2, 2)
    assert eval_accuracy(model, x, [0, 1, 2], ks=(1,)) == {"top1": 1.0}
    assert eval_accuracy(model, x, [1, 2, 0], ks=(1,)) == {"top1": 0.0}
    with pytest.raises(MetricError, match="top-5 accuracy needs at least 5 classes"):
        eval_accuracy(model, x, [0, 1, 2], ks=(5,))
    flat = torch.nn.Flatten()
    assert knn_distance(flat, x, [0, 1, 2], x, torch.tensor([0, 1, 2])) == 0.0
    with pytest.raises(MetricError, match="class 2 has no private samples"):
        knn_distance(flat, x, [0, 1, 2], x[:2], torch.tensor([0, 1]))


def test_undefined_metrics_raise_instead_of_returning_zero():
    with pytest.raises(MetricError, match="nothing was predicted positive"):
        precision_recall([0, 0, 0], [1, 0, 1])
    with pytest.raises(MetricError, match="no records"):
        attribute_accuracy([], [])
    assert precision_recall([1, 1, 0], [1, 0, 1]) == {"precision": 0.5, "recall": 0.5, "f1": 0.5}
