"""Access views: what each access level hands out, and what it refuses."""

import copy
import pickle
import threading
from typing import ClassVar

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
from mi_core.errors import QueryInputError, ViewPicklingError
from mi_core.views import frozen


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


# --- escapes that the views close (issue 13): each of these passed on the old views ----------


def test_narrowed_views_have_no_uncounted_door_and_wrapping_keeps_the_budget(model):
    scores = make_view(model, "black-box-scores", budget=12)
    x = torch.rand(2, 1, 4, 4)
    for view in (scores.restrict("label-only"), scores.restrict("black-box-topk", k=1)):
        # no raw helper and no name-mangled scorer: every callable attribute is counted
        assert not [n for n in dir(view) if "raw" in n or n.startswith("_BlackBoxView__")]
        for name in dir(view):
            attr = getattr(view, name, None) if name != "module" else None
            if name.startswith("__") or not callable(attr) or isinstance(attr, type):
                continue
            before = view.queries
            try:
                out = attr(x)
            except Exception:
                continue
            if isinstance(out, torch.Tensor):
                assert view.queries >= before + 2, name
    labels = scores.restrict("label-only")
    with pytest.raises(ConfigError, match="already a target view"):
        view_from_callable(labels, "label-only", budget=100)
    wrapped = view_from_callable(lambda q: labels(q), "label-only", budget=100)
    with pytest.raises(QueryBudgetExceeded):
        for _ in range(12):
            wrapped(x)
    assert scores.queries <= 12


class _Spy(torch.Tensor):
    """An input that sees every tensor the model combines it with, and overwrites weights."""

    seen: ClassVar[list] = []

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        for a in (*args, *kwargs.values()):
            if isinstance(a, nn.Parameter):
                cls.seen.append(a)
                with torch.no_grad():
                    a.add_(100.0)
        return super().__torch_function__(func, types, args, kwargs)


def test_tensor_subclass_input_cannot_see_or_overwrite_the_weights(model):
    view = make_view(model, "label-only", budget=10)
    w = model[1].weight.detach().clone()
    _Spy.seen.clear()
    out = view(torch.rand(2, 1, 4, 4).as_subclass(_Spy))
    assert _Spy.seen == [] and torch.equal(model[1].weight, w)
    assert type(out) is torch.Tensor and view.queries == 2


class _Flatten64(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(64, 10)

    def forward(self, x):
        return self.lin(x.reshape(-1, 64))


def test_cost_is_the_answers_returned_checked_against_the_declared_shape():
    torch.manual_seed(0)
    net = _Flatten64()
    info = TargetInfo(input_shape=(1, 8, 8), num_classes=10)
    view = make_view(net, "black-box-scores", budget=50, info=info)
    with pytest.raises(QueryInputError, match=r"\(1, 100, 8, 8\) does not match .*\(N, 1, 8, 8\)"):
        view(torch.rand(1, 100, 8, 8))
    assert view.queries == 0
    # without a declared shape, the 100 answers are charged (and refused past the budget)
    open_view = make_view(net, "black-box-scores", budget=150)
    assert open_view(torch.rand(1, 100, 8, 8)).shape == (100, 10) and open_view.queries == 100
    with pytest.raises(QueryBudgetExceeded, match="the target answered 100 items"):
        open_view(torch.rand(1, 100, 8, 8))
    with pytest.raises(QueryInputError, match="generator"):
        view(torch.rand(1, 1, 8, 8) for _ in range(100))
    # a dict costs the rows of its values, which must agree
    api = view_from_callable(lambda d: np.zeros((len(d["rows"]), 2)), budget=100)
    api({"flag": 1, "rows": np.zeros((7, 3))})
    assert api.queries == 7
    with pytest.raises(QueryInputError, match="different numbers of items"):
        api({"a": np.zeros((3, 2)), "b": np.zeros(5)})


def test_copies_share_the_counter_and_pickling_is_refused(model):
    view = make_view(model, "label-only", budget=4)
    twin, shallow = copy.deepcopy(view), copy.copy(view)
    view(torch.rand(2, 1, 4, 4))
    twin(torch.rand(2, 1, 4, 4))
    with pytest.raises(QueryBudgetExceeded):
        shallow(torch.rand(1, 1, 4, 4))
    assert view.queries == twin.queries == 4
    with pytest.raises(ViewPicklingError, match="cannot be pickled"):
        pickle.dumps(view)


def test_charging_is_atomic_across_threads(model):
    view = make_view(model, "black-box-scores", budget=40)
    answered = []

    def hammer():
        for _ in range(20):
            try:
                view(torch.rand(1, 1, 4, 4))
                answered.append(1)
            except QueryBudgetExceeded:
                pass

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answered) == view.queries == 40


def test_plain_inputs_only_unless_the_target_declares_its_type():
    class Opaque:
        pass

    api = view_from_callable(lambda q: np.zeros((len(q), 2)), budget=10)
    with pytest.raises(QueryInputError, match="a Opaque cannot be sent"):
        api([Opaque()])
    assert api(["a prompt", "another"]).shape == (2, 2)  # text and plain scalars go through


# --- bad inputs to the API give named errors ----------------------------------------------


def test_sklearn_class_or_unfitted_estimator_is_refused_by_name():
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(ConfigError, match="got the class LogisticRegression, not"):
        make_view(LogisticRegression, "black-box-scores")
    with pytest.raises(ConfigError, match="LogisticRegression is not fitted"):
        make_view(LogisticRegression(), "black-box-scores")


def test_target_label_beyond_the_outputs_is_refused(model):
    from dataclasses import dataclass

    from mi_core import BaseAttack, Knowledge

    @dataclass
    class NoConfig:
        pass

    class Echo(BaseAttack):
        name, modality, access, Config = "echo", "image", Access.LABEL_ONLY, NoConfig

        def _run(self, view, knowledge, seed):
            return self._result(None)

    view = make_view(model, "label-only", info=TargetInfo(modality="image", num_classes=5))
    with pytest.raises(ConfigError, match=r"class 7 is beyond the target's 5 outputs"):
        Echo().run(view, Knowledge(target_labels=[0, 7]))
    Echo().run(view, Knowledge(target_labels=torch.tensor([0, 4])))


def test_frozen_restores_every_flag(model):
    model.train()
    model[1].bias.requires_grad_(False)
    with frozen(model):
        assert not model.training and not model[1].weight.requires_grad
        model[1].weight.requires_grad_(True)  # code inside may change them again
    assert model.training and model[0].training
    assert model[1].weight.requires_grad and not model[1].bias.requires_grad


def test_white_box_view_names_a_wrong_input_shape(model):
    view = make_view(model, "white-box", info=TargetInfo(input_shape=(1, 4, 4)))
    with pytest.raises(QueryInputError, match=r"input of shape \(2, 16\) does not match"):
        view(torch.rand(2, 16))


def test_views_module_imports_torch_lazily():
    # mi_core.views works for plain callables without torch: no module-level torch import
    import ast
    from pathlib import Path

    import mi_core.views

    tree = ast.parse(Path(mi_core.views.__file__).read_text())
    top = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    names = [a.name for n in top for a in n.names] + [getattr(n, "module", "") for n in top]
    assert not any(str(m).split(".")[0] == "torch" for m in names)


def test_a_callable_that_answers_with_labels_declares_them():
    """A service whose answers already are labels (a chat API's reply text) declares
    ``mi_labels_fn``: its label-only view releases those, not an argmax of them."""

    class Chat:
        def __call__(self, requests):
            return [f"reply to {r}" for r in requests]

        def mi_labels_fn(self, requests):
            return self(requests)

    view = make_view(Chat(), "label-only", budget=2)
    assert view(["hi", "who?"]) == ["reply to hi", "reply to who?"]
    assert view.queries == 2
