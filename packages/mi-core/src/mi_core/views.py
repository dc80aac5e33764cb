"""Target views: the only door from an attack to a target model, with access enforced.

* :class:`WhiteBoxView` hands out the module (weights, gradients).
* :class:`BlackBoxView` is a callable that returns detached outputs computed under
  ``torch.no_grad``: full scores, top-k scores or labels only.
  It takes inputs on any device (moved to the device of a module target) and returns outputs on
  the CPU; a white-box view exposes its module's ``device``. It counts queries per item (a batch
  of 32 inputs costs 32) and raises :class:`~mi_core.errors.QueryBudgetExceeded` before a call
  that would overspend the budget.

Views are built from an ``nn.Module`` (:func:`view_from_module`), a plain Python callable such as
a remote API client (:func:`view_from_callable`), or an sklearn estimator
(:func:`view_from_sklearn`); :func:`make_view` picks the right one. A view of a stronger access
narrows to a weaker one with :meth:`TargetView.restrict` (sharing its query counter); output
defenses wrap a black-box view with :meth:`BlackBoxView.map_outputs`.

Enforcement is against honest code paths: Python has no sandbox, but no attribute of a black-box
view leads to the module, and nothing it returns carries an autograd graph.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from mi_core.errors import AccessError, ConfigError, NonFiniteOutputError, QueryBudgetExceeded
from mi_core.threat import Access

Postprocess = str | Callable[[Any], Any] | None


def batch_len(x: Any) -> int:
    """Number of items in a query batch (tensor / array rows, frame rows, list items)."""
    if isinstance(x, torch.Tensor | np.ndarray):
        return 1 if x.ndim == 0 else int(x.shape[0])
    if isinstance(x, Mapping):
        if not x:
            raise ConfigError("query: an empty mapping has no items")
        return batch_len(next(iter(x.values())))
    if hasattr(x, "shape") and len(getattr(x, "shape", ())) >= 1:  # pandas, scipy
        return int(x.shape[0])
    if isinstance(x, Sequence) and not isinstance(x, str | bytes):
        return len(x)
    return 1


class QueryCounter:
    """Counts queried items and enforces an optional budget."""

    def __init__(self, budget: int | None = None) -> None:
        if budget is not None and (not isinstance(budget, int) or budget < 0):
            raise ConfigError(f"budget: must be a non-negative integer or None, got {budget!r}")
        self.budget = budget
        self.used = 0
        self.calls = 0

    @property
    def remaining(self) -> int | None:
        return None if self.budget is None else self.budget - self.used

    def charge(self, n: int) -> None:
        if self.budget is not None and self.used + n > self.budget:
            raise QueryBudgetExceeded(
                f"query budget spent: {self.used} of {self.budget} items used, this call asks "
                f"for {n} more ({self.used + n - self.budget} over). Raise the budget "
                f"(knowledge.query_budget / the view's budget=) or query fewer items."
            )
        self.used += n
        self.calls += 1


def _detach(obj: Any) -> Any:
    """Copy outputs so that nothing returned shares memory or autograd history with the model;
    tensors come back on the CPU (wherever the target runs)."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, np.ndarray):
        return obj.copy()
    if isinstance(obj, Mapping):
        return {k: _detach(v) for k, v in obj.items()}
    if isinstance(obj, tuple):
        return tuple(_detach(v) for v in obj)
    if isinstance(obj, list):
        return [_detach(v) for v in obj]
    if hasattr(obj, "logits") and isinstance(obj.logits, torch.Tensor):  # HF ModelOutput
        return obj.logits.detach().clone()
    return obj


def _on_device(x: Any, module: nn.Module) -> Any:
    """Input tensors (nested in dicts, lists, tuples) moved to the device the module's weights
    live on: attackers may hand CPU tensors to a target on a GPU."""
    from mi_core.device import module_device, to_device

    dev = module_device(module)
    return x if dev is None else to_device(x, dev)


def _detach_input(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        return x.detach()
    if isinstance(x, dict):
        return {k: _detach_input(v) for k, v in x.items()}
    return x


def check_finite(out: Any, what: str = "target output") -> None:
    """Raise :class:`NonFiniteOutputError` if a tensor / array holds NaN or inf."""
    if isinstance(out, torch.Tensor) and out.is_floating_point():
        if not bool(torch.isfinite(out).all()):
            bad = int((~torch.isfinite(out)).sum())
            raise NonFiniteOutputError(
                f"{what} holds {bad} NaN/inf values of {out.numel()}; the target model is "
                "numerically broken for these inputs (check its weights and input range)."
            )
    elif isinstance(out, np.ndarray) and np.issubdtype(out.dtype, np.floating):
        if not np.isfinite(out).all():
            bad = int((~np.isfinite(out)).sum())
            raise NonFiniteOutputError(
                f"{what} holds {bad} NaN/inf values of {out.size}; the target model is "
                "numerically broken for these inputs (check its weights and input range)."
            )
    elif isinstance(out, tuple | list):
        for o in out:
            check_finite(o, what)
    elif isinstance(out, Mapping):
        for o in out.values():
            check_finite(o, what)


def _softmax(out: Any) -> Any:
    if isinstance(out, torch.Tensor):
        return torch.softmax(out.float(), dim=-1)
    arr = np.asarray(out, dtype=np.float64)
    arr = arr - arr.max(axis=-1, keepdims=True)
    e = np.exp(arr)
    return e / e.sum(axis=-1, keepdims=True)


def _resolve_postprocess(postprocess: Postprocess) -> Callable[[Any], Any]:
    if postprocess is None or postprocess == "none":
        return lambda o: o
    if postprocess == "softmax":
        return _softmax
    if callable(postprocess):
        return postprocess
    raise ConfigError(
        f"postprocess: unknown value {postprocess!r}; allowed: None, 'softmax' or a callable"
    )


def topk_dense(scores: Any, k: int) -> Any:
    """Keep the k largest scores of each row, zero the rest (survey [13]: truncated vectors)."""
    if isinstance(scores, torch.Tensor):
        if k >= scores.shape[-1]:
            return scores
        vals, idx = scores.topk(k, dim=-1)
        return torch.zeros_like(scores).scatter(-1, idx, vals)
    arr = np.asarray(scores)
    if k >= arr.shape[-1]:
        return arr
    top = np.argpartition(-arr, k - 1, axis=-1)[..., :k]
    out = np.zeros_like(arr)
    np.put_along_axis(out, top, np.take_along_axis(arr, top, axis=-1), axis=-1)
    return out


def argmax_labels(scores: Any) -> Any:
    if isinstance(scores, torch.Tensor):
        return scores.argmax(dim=-1)
    return np.asarray(scores).argmax(axis=-1)


@dataclass(frozen=True)
class TargetInfo:
    """What an attacker is assumed to know about the target's interface (not its weights)."""

    modality: str | None = None
    input_shape: tuple[int, ...] | None = None
    num_classes: int | None = None
    input_range: tuple[float, float] | None = None


class TargetView:
    """Base class of all views. Subclasses define ``access``."""

    access: Access

    def __init__(self, info: TargetInfo, counter: QueryCounter) -> None:
        self.info = info
        self._counter = counter

    # query accounting -------------------------------------------------------------------
    @property
    def queries(self) -> int:
        """Items queried through this view and every view sharing its counter."""
        return self._counter.used

    @property
    def budget(self) -> int | None:
        return self._counter.budget

    @property
    def remaining(self) -> int | None:
        return self._counter.remaining

    @property
    def modality(self) -> str | None:
        return self.info.modality

    @property
    def num_classes(self) -> int | None:
        return self.info.num_classes

    @property
    def input_shape(self) -> tuple[int, ...] | None:
        return self.info.input_shape

    @property
    def device(self) -> torch.device | None:
        """Where the target computes: the device of a white-box module; None for black-box
        views (they take inputs on any device and return outputs on the CPU)."""
        return None

    @property
    def module(self) -> nn.Module:
        raise AccessError(
            f"this {self.access.value} view exposes no module: reaching weights or gradients "
            f"needs white-box access (build the view with access='white-box')."
        )

    def restrict(self, access: Access | str, *, k: int | None = None) -> TargetView:
        """A view of equal or weaker access that shares this view's query counter."""
        raise NotImplementedError

    def __repr__(self) -> str:
        budget = "unlimited" if self.budget is None else str(self.budget)
        return f"<{type(self).__name__} {self.access.value} queries={self.queries}/{budget}>"


def require_access(view: TargetView, needed: Access | str, who: str = "this attack") -> TargetView:
    """Check that ``view`` grants at least ``needed`` access and narrow it to exactly that.

    Raises:
        AccessError: naming the access needed and the access given.
    """
    needed = Access.parse(needed)
    if not isinstance(view, TargetView):
        raise AccessError(
            f"{who} needs a target view (mi_core.views.make_view(model, access=...)), "
            f"got {type(view).__name__}"
        )
    if not view.access.covers(needed):
        raise AccessError(
            f"{who} needs {needed.value} access, but the view grants {view.access.value}. "
            f"Run an attack made for {view.access.value} access, or grant {needed.value}."
        )
    if view.access is needed:
        return view
    return view.restrict(needed)


class WhiteBoxView(TargetView):
    """Full access: the module, its gradients and its raw outputs."""

    access = Access.WHITE_BOX

    def __init__(
        self,
        module: nn.Module,
        info: TargetInfo | None = None,
        *,
        postprocess: Postprocess = "softmax",
        counter: QueryCounter | None = None,
    ) -> None:
        if not isinstance(module, nn.Module):
            raise ConfigError(
                f"module: a white-box view needs a torch.nn.Module, got {type(module).__name__}"
            )
        super().__init__(info or TargetInfo(), counter or QueryCounter(None))
        self._module = module
        self._postprocess = postprocess

    @property
    def module(self) -> nn.Module:
        return self._module

    @property
    def device(self) -> torch.device | None:
        """The device the module's weights live on (None: a module without weights)."""
        from mi_core.device import module_device

        return module_device(self._module)

    def __call__(self, x: Any) -> Any:
        """Forward pass with autograd (raw outputs, usually logits, on the module's device);
        inputs are moved to :attr:`device`; counted, never budgeted."""
        self._counter.used += batch_len(x)
        self._counter.calls += 1
        out = self._module(_on_device(x, self._module))
        check_finite(out if isinstance(out, torch.Tensor) else _detach(out))
        return out

    def restrict(self, access: Access | str, *, k: int | None = None) -> TargetView:
        access = Access.parse(access)
        if access is Access.WHITE_BOX:
            return self
        module = self._module

        def raw(x: Any) -> Any:
            return module(_on_device(x, module))

        return BlackBoxView(
            raw,
            access,
            self.info,
            postprocess=self._postprocess,
            k=k,
            counter=self._counter,
            labels_fn=None,
        )


class BlackBoxView(TargetView):
    """Scores, top-k scores or labels only; detached, counted, budgeted."""

    def __init__(
        self,
        fn: Callable[[Any], Any],
        access: Access | str,
        info: TargetInfo | None = None,
        *,
        postprocess: Postprocess = None,
        k: int | None = None,
        counter: QueryCounter | None = None,
        budget: int | None = None,
        labels_fn: Callable[[Any], Any] | None = None,
        cost: Callable[[Any], int] | None = None,
    ) -> None:
        access = Access.parse(access)
        if access is Access.WHITE_BOX:
            raise ConfigError(
                "access: a BlackBoxView cannot grant white-box access; use WhiteBoxView(module)"
            )
        if not callable(fn):
            raise ConfigError(f"fn: a black-box view needs a callable, got {type(fn).__name__}")
        if access is Access.BLACK_BOX_TOPK:
            if k is None or not isinstance(k, int) or k < 1:
                raise ConfigError(f"k: top-k access needs a positive integer k, got {k!r}")
            if info is not None and info.num_classes is not None and k > info.num_classes:
                raise ConfigError(
                    f"k: {k} is larger than the number of classes ({info.num_classes}); "
                    f"choose 1 <= k <= {info.num_classes}"
                )
        if counter is not None and budget is not None:
            raise ConfigError("budget: give either a shared counter or a budget, not both")
        super().__init__(info or TargetInfo(), counter or QueryCounter(budget))
        self.access = access
        self.k = k
        if isinstance(fn, nn.Module):
            fn = _closure(fn)  # keep the module out of the view's attributes
        self.__scores = fn
        self.__post = _resolve_postprocess(postprocess)
        self.__labels = labels_fn
        self.__cost = cost or batch_len

    # the raw, uncounted path: used by restrict / map_outputs, never returned to attacks
    def _scores_raw(self, x: Any) -> Any:
        with torch.no_grad():
            return self.__post(_detach(self.__scores(_detach_input(x))))

    def _labels_raw(self, x: Any) -> Any:
        if self.__labels is not None:
            with torch.no_grad():
                return _detach(self.__labels(_detach_input(x)))
        return argmax_labels(self._scores_raw(x))

    def _raw(self, x: Any) -> Any:
        if self.access is Access.LABEL_ONLY:
            return self._labels_raw(x)
        out = self._scores_raw(x)
        if self.access is Access.BLACK_BOX_TOPK:
            assert self.k is not None
            out = topk_dense(out, self.k)
        return out

    def __call__(self, x: Any) -> Any:
        """Query the target: charges one query per item, returns detached outputs."""
        self._counter.charge(self.__cost(x))
        out = _detach(self._raw(x))
        check_finite(out)
        return out

    def labels(self, x: Any) -> Any:
        """Predicted labels; available at every black-box access (charged like a query)."""
        self._counter.charge(self.__cost(x))
        return _detach(self._labels_raw(x))

    def restrict(self, access: Access | str, *, k: int | None = None) -> TargetView:
        access = Access.parse(access)
        if not self.access.covers(access):
            raise AccessError(
                f"cannot widen a {self.access.value} view to {access.value}: views only narrow"
            )
        if access is self.access and (k is None or k == self.k):
            return self
        if access is Access.BLACK_BOX_TOPK and k is None:
            k = self.k
        return BlackBoxView(
            self._scores_raw,
            access,
            self.info,
            k=k,
            counter=self._counter,
            labels_fn=self._labels_raw,
            cost=self.__cost,
        )

    def map_outputs(
        self,
        transform: Callable[[Any], Any],
        *,
        access: Access | str | None = None,
        k: int | None = None,
        labels_transform: Callable[[Any], Any] | None = None,
        with_inputs: bool = False,
    ) -> BlackBoxView:
        """A view whose outputs are ``transform(outputs)``; shares this view's counter.

        This is how output defenses wrap a target: the attack cannot tell the wrapped view from
        an undefended one except by its outputs. With ``with_inputs=True`` the transform is
        called as ``transform(inputs, outputs)`` (a defense that crafts its answer per query).
        """
        if with_inputs:
            fn: Callable[..., Any] = transform

            def transform_of(inner_fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
                return lambda x: fn(x, inner_fn(x))

        else:

            def transform_of(inner_fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
                return lambda x: transform(inner_fn(x))

        access = Access.parse(access) if access is not None else self.access
        if not self.access.covers(access):
            raise AccessError(
                f"an output transform cannot widen {self.access.value} access to {access.value}"
            )
        inner = self._raw if self.access is not Access.LABEL_ONLY else self._labels_raw
        if access is Access.LABEL_ONLY and self.access is not Access.LABEL_ONLY:
            defended = transform_of(self._raw)

            def labels(x: Any) -> Any:
                return argmax_labels(defended(x))

            return BlackBoxView(
                defended,
                access,
                self.info,
                counter=self._counter,
                labels_fn=labels,
                cost=self.__cost,
            )
        labels_fn = None
        if labels_transform is not None:
            labels_raw = self._labels_raw

            def labels_fn(x: Any) -> Any:
                return labels_transform(labels_raw(x))

        return BlackBoxView(
            transform_of(inner),
            access,
            self.info,
            k=k if k is not None else self.k,
            counter=self._counter,
            labels_fn=labels_fn,
            cost=self.__cost,
        )


def _closure(module: nn.Module) -> Callable[[Any], Any]:
    def call(x: Any) -> Any:
        return module(_on_device(x, module))

    return call


def view_from_module(
    module: nn.Module,
    access: Access | str = Access.WHITE_BOX,
    *,
    budget: int | None = None,
    k: int | None = None,
    postprocess: Postprocess = "softmax",
    info: TargetInfo | None = None,
    cost: Callable[[Any], int] | None = None,
) -> TargetView:
    """View of a torch module. ``postprocess`` turns raw outputs into released scores
    (``"softmax"`` for classifiers returning logits, ``None`` for embedders / regressors).

    The module is put in eval mode: a released model answers deterministically.
    """
    if not isinstance(module, nn.Module):
        raise ConfigError(f"module: expected a torch.nn.Module, got {type(module).__name__}")
    access = Access.parse(access)
    module.eval()
    if access is Access.WHITE_BOX:
        if budget is not None:
            raise ConfigError(
                "budget: a white-box attacker holds the weights; budgets apply to "
                "black-box views only"
            )
        return WhiteBoxView(module, info, postprocess=postprocess)
    return BlackBoxView(
        module, access, info, postprocess=postprocess, k=k, budget=budget, cost=cost
    )


def view_from_callable(
    fn: Callable[[Any], Any],
    access: Access | str = Access.BLACK_BOX_SCORES,
    *,
    budget: int | None = None,
    k: int | None = None,
    postprocess: Postprocess = None,
    labels_fn: Callable[[Any], Any] | None = None,
    info: TargetInfo | None = None,
    cost: Callable[[Any], int] | None = None,
) -> BlackBoxView:
    """View of a plain function (e.g. a remote prediction API). Never white-box."""
    access = Access.parse(access)
    if access is Access.WHITE_BOX:
        raise AccessError(
            "a plain callable has no weights to hand out: white-box needs an nn.Module"
        )
    return BlackBoxView(
        fn,
        access,
        info,
        postprocess=postprocess,
        k=k,
        budget=budget,
        labels_fn=labels_fn,
        cost=cost,
    )


def view_from_sklearn(
    estimator: Any,
    access: Access | str = Access.BLACK_BOX_SCORES,
    *,
    budget: int | None = None,
    k: int | None = None,
    info: TargetInfo | None = None,
) -> TargetView:
    """View of an sklearn estimator: scores are ``predict_proba`` (classifiers) or ``predict``
    (regressors); labels are ``predict``. White-box hands out the estimator itself."""
    access = Access.parse(access)
    if not hasattr(estimator, "predict"):
        raise ConfigError(
            f"estimator: {type(estimator).__name__} has no predict(); pass a fitted sklearn "
            "estimator"
        )
    if access is Access.WHITE_BOX:
        return EstimatorWhiteBoxView(estimator, info)
    is_classifier = hasattr(estimator, "predict_proba") and hasattr(estimator, "classes_")
    if (
        access in (Access.BLACK_BOX_SCORES, Access.BLACK_BOX_TOPK)
        and not hasattr(estimator, "predict_proba")
        and _sklearn_is_classifier(estimator)
    ):
        raise ConfigError(
            f"estimator: {type(estimator).__name__} has no predict_proba(), so it cannot "
            "release scores; use access='label-only'"
        )
    if info is None and is_classifier:
        info = TargetInfo(num_classes=len(estimator.classes_))
    scores_fn = estimator.predict_proba if is_classifier else estimator.predict
    return BlackBoxView(scores_fn, access, info, k=k, budget=budget, labels_fn=estimator.predict)


def _sklearn_is_classifier(estimator: Any) -> bool:
    try:
        from sklearn.base import is_classifier
    except ImportError:  # not an sklearn estimator after all
        return hasattr(estimator, "classes_")
    return bool(is_classifier(estimator)) or hasattr(estimator, "classes_")


class EstimatorWhiteBoxView(TargetView):
    """White-box view of a non-torch estimator (e.g. a decision tree): hands out the estimator."""

    access = Access.WHITE_BOX

    def __init__(self, estimator: Any, info: TargetInfo | None = None) -> None:
        super().__init__(info or TargetInfo(), QueryCounter(None))
        self.estimator = estimator

    def __call__(self, x: Any) -> Any:
        self._counter.used += batch_len(x)
        if hasattr(self.estimator, "predict_proba"):
            return self.estimator.predict_proba(x)
        return self.estimator.predict(x)

    def restrict(self, access: Access | str, *, k: int | None = None) -> TargetView:
        access = Access.parse(access)
        if access is Access.WHITE_BOX:
            return self
        view = view_from_sklearn(self.estimator, access, k=k, info=self.info)
        assert isinstance(view, BlackBoxView)
        view._counter = self._counter
        return view


def make_view(
    target: Any,
    access: Access | str = Access.WHITE_BOX,
    **kwargs: Any,
) -> TargetView:
    """Build a view of ``target`` (nn.Module, sklearn estimator, or a plain callable)."""
    if isinstance(target, TargetView):
        return require_access(target, access, "make_view")
    if isinstance(target, nn.Module):
        return view_from_module(target, access, **kwargs)
    if hasattr(target, "predict") and hasattr(target, "fit"):
        return view_from_sklearn(target, access, **kwargs)
    if callable(target):
        return view_from_callable(target, access, **kwargs)
    raise ConfigError(
        f"target: cannot build a view of {type(target).__name__}; give an nn.Module, an sklearn "
        "estimator or a callable"
    )
