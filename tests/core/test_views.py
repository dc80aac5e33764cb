"""Access views: what each access level hands out, and what it refuses."""

import numpy as np
import pytest
import torch
from torch import nn

from mi_core import (
    Access,
    AccessError,
    ConfigError,
    NonFiniteOutputError,
    QueryBudgetExceeded,
    TargetInfo,
    make_view,
    require_access,
    view_from_callable,
    view_from_sklearn,
)


@pytest.fixture
def model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 5))


def test_white_box_view_hands_out_module_and_gradients(model):
    view = make_view(model, "white-box")
    x = torch.rand(3, 1, 4, 4, requires_grad=True)
    out = view(x)
    out.sum().backward()
    assert x.grad is not None and view.module is model
    assert view.queries == 3


def test_black_box_view_returns_detached_probabilities_without_route_to_gradients(model):
    view = make_view(model, "black-box-scores", budget=100)
    x = torch.rand(4, 1, 4, 4, requires_grad=True)
    out = view(x)
    assert out.shape == (4, 5)
    assert torch.allclose(out.sum(1), torch.ones(4))
    assert not out.requires_grad and out.grad_fn is None
    with pytest.raises(RuntimeError):
        torch.autograd.grad(out.sum(), x)
    with pytest.raises(AccessError, match="white-box"):
        _ = view.module
    # no attribute of the view leads to the module or its parameters
    for value in vars(view).values():
        assert not isinstance(value, nn.Module | nn.Parameter)
    # changing what came back changes nothing in the model
    w = model[1].weight.detach().clone()
    out.add_(1.0)
    assert torch.equal(model[1].weight, w)


def test_queries_are_counted_per_item_and_budget_is_enforced(model):
    view = make_view(model, "black-box-scores", budget=10)
    view(torch.rand(4, 1, 4, 4))
    view(torch.rand(4, 1, 4, 4))
    assert view.queries == 8 and view.remaining == 2
    with pytest.raises(QueryBudgetExceeded, match=r"8 of 10 items used, this call asks for 3 more"):
        view(torch.rand(3, 1, 4, 4))
    assert view.queries == 8  # a refused call costs nothing
    view(torch.rand(2, 1, 4, 4))
    assert view.remaining == 0


def test_narrowed_views_share_the_counter_and_release_less(model):
    scores = make_view(model, "black-box-scores", budget=100)
    topk = scores.restrict("black-box-topk", k=2)
    labels = scores.restrict(Access.LABEL_ONLY)
    x = torch.rand(6, 1, 4, 4)
    s, t, y = scores(x), topk(x), labels(x)
    assert ((t > 0).sum(1) == 2).all()
    assert torch.equal(t.argmax(1), s.argmax(1))
    assert y.dtype == torch.long and torch.equal(y, s.argmax(1))
    assert scores.queries == 18
    with pytest.raises(AccessError, match="views only narrow"):
        labels.restrict("black-box-scores")


def test_require_access_names_needed_and_given(model):
    view = make_view(model, "label-only")
    with pytest.raises(
        AccessError, match=r"needs white-box access, but the view grants label-only"
    ):
        require_access(view, Access.WHITE_BOX)
    wb = make_view(model, "white-box")
    narrowed = require_access(wb, "black-box-scores")
    assert narrowed.access is Access.BLACK_BOX_SCORES


def test_views_from_callable_and_sklearn():
    from sklearn.linear_model import LogisticRegression

    calls = []

    def api(x):
        calls.append(len(x))
        return np.tile([0.2, 0.8], (len(x), 1))

    view = view_from_callable(api, "black-box-scores", budget=5)
    assert view(np.zeros((3, 2))).shape == (3, 2)
    with pytest.raises(AccessError, match=r"white-box needs an nn\.Module"):
        view_from_callable(api, "white-box")

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    y = (x[:, 0] > 0).astype(int)
    clf = LogisticRegression().fit(x, y)
    sk = view_from_sklearn(clf, "black-box-scores", budget=100)
    np.testing.assert_allclose(sk(x[:5]), clf.predict_proba(x[:5]))
    np.testing.assert_array_equal(sk.labels(x[:5]), clf.predict(x[:5]))
    lab = sk.restrict("label-only")
    np.testing.assert_array_equal(lab(x[:5]), clf.predict(x[:5]))
    assert sk.queries == 15 and sk.num_classes == 2

    from sklearn.svm import LinearSVC

    with pytest.raises(ConfigError, match="has no predict_proba"):
        view_from_sklearn(LinearSVC().fit(x, y), "black-box-scores")


def test_topk_larger_than_classes_is_refused(model):
    with pytest.raises(ConfigError, match=r"k: 7 is larger than the number of classes \(5\)"):
        make_view(model, "black-box-topk", k=7, info=TargetInfo(num_classes=5))


def test_target_returning_nan_raises(model):
    with torch.no_grad():
        model[1].weight[0, 0] = float("nan")
    with pytest.raises(NonFiniteOutputError, match="NaN/inf"):
        make_view(model, "black-box-scores")(torch.rand(2, 1, 4, 4))
    with pytest.raises(NonFiniteOutputError):
        make_view(model, "white-box")(torch.rand(2, 1, 4, 4))


def test_output_transform_wraps_view_and_shares_counter(model):
    view = make_view(model, "black-box-scores", budget=10)
    rounded = view.map_outputs(lambda p: torch.round(p * 10) / 10)
    out = rounded(torch.rand(3, 1, 4, 4))
    assert torch.allclose(out * 10, torch.round(out * 10))
    assert view.queries == 3
    with pytest.raises(AccessError, match="cannot widen"):
        view.restrict("label-only").map_outputs(lambda p: p, access="black-box-scores")
