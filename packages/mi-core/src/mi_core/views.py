"""Target views: the only door from an attack to a target model, with access enforced.

* :class:`WhiteBoxView` hands out the module (weights, gradients).
* :class:`BlackBoxView` is a callable that returns detached outputs computed under
  ``torch.no_grad``: full scores, top-k scores or labels only. It takes inputs on any device
  (moved to the device of a module target) and returns outputs on the CPU; a white-box view
  exposes its module's ``device``. It counts the answers it returns (a batch of 32 inputs costs
  32) and raises :class:`~mi_core.errors.QueryBudgetExceeded` before a call that would overspend
  the budget.

Views are built from an ``nn.Module`` (:func:`view_from_module`), a plain Python callable such as
a remote API client (:func:`view_from_callable`), or an sklearn estimator
(:func:`view_from_sklearn`); :func:`make_view` picks the right one. A view of a stronger access
narrows to a weaker one with :meth:`TargetView.restrict` (sharing its query counter); output
defenses wrap a black-box view with :meth:`BlackBoxView.map_outputs`.

**One door.** A black-box view has no method or attribute that answers without counting: the
target, its scorer and the uncounted path live in closures that only the view's own calls,
``restrict`` and ``map_outputs`` reach. Before the target sees a query, the input is copied into
plain data, recursively: a ``torch.Tensor`` subclass becomes a plain tensor (its
``__torch_function__`` never sees the model's parameters), arrays are copied, dicts / lists /
tuples rebuilt, and any other object refused unless the target declares its type
(``accepts=`` or a ``mi_query_types`` attribute, e.g. a graph target's query dataclasses).
A query costs the number of answers it returns: the rows of the input, checked against the
declared input shape (:attr:`TargetInfo.input_shape`) when known, and the rows of the output
when the target answers more. Inputs whose item count cannot be told (generators, iterators)
are refused. Copies of a view share its counter, pickling a view raises, and a lock makes
charging atomic.

What this guarantees: honest and buggy attack code cannot spend more than its budget or see
more than its access releases. Malicious code in the same process can still walk closures, the
garbage collector or the interpreter's frames; run untrusted attacks with the isolated executor
(:mod:`mi_core.isolation`), where the model never enters the attack's process.

torch is imported lazily: views of plain callables work without it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np

from mi_core.errors import (
    AccessError,
    ConfigError,
    NonFiniteOutputError,
    QueryBudgetExceeded,
    QueryInputError,
    ViewPicklingError,
)
from mi_core.threat import Access

if TYPE_CHECKING:
    import torch
    from torch import nn

Postprocess = str | Callable[[Any], Any] | None


# lazy third-party modules: an object can only be a tensor / a frame if its library is loaded --
def _torch() -> Any:
    return sys.modules.get("torch")


def _pandas() -> Any:
    return sys.modules.get("pandas")


def _is_tensor(x: Any) -> bool:
    torch = _torch()
    return torch is not None and isinstance(x, torch.Tensor)


def _is_module(x: Any) -> bool:
    torch = _torch()
    return torch is not None and isinstance(x, torch.nn.Module)


def _is_frame(x: Any) -> bool:
    pd = _pandas()
    return pd is not None and isinstance(x, pd.DataFrame | pd.Series)


def _no_grad() -> Any:
    torch = _torch()
    return torch.no_grad() if torch is not None else contextlib.nullcontext()


def batch_len(x: Any) -> int:
    """Number of items in a query batch (tensor / array rows, frame rows, list items)."""
    if _is_tensor(x) or isinstance(x, np.ndarray):
        return 1 if x.ndim == 0 else int(x.shape[0])
    if isinstance(x, Mapping):
        if not x:
            raise QueryInputError("query: an empty mapping has no items")
        return batch_len(next(iter(x.values())))
    if hasattr(x, "shape") and len(getattr(x, "shape", ())) >= 1:  # pandas, scipy
        return int(x.shape[0])
    if isinstance(x, list | tuple):
        return len(x)
    return 1


class QueryCounter:
    """Counts queried items and enforces an optional budget; charging is atomic (a lock)."""

    def __init__(self, budget: int | None = None) -> None:
        if budget is not None and (
            not isinstance(budget, int) or isinstance(budget, bool) or budget < 0
        ):
            raise ConfigError(f"budget: must be a non-negative integer or None, got {budget!r}")
        self._budget = budget
        self._used = 0
        self._calls = 0
        self._lock = threading.Lock()

    @property
    def budget(self) -> int | None:
        return self._budget

    @property
    def used(self) -> int:
        return self._used

    @property
    def calls(self) -> int:
        return self._calls

    @property
    def remaining(self) -> int | None:
        return None if self._budget is None else self._budget - self._used

    def charge(self, n: int, *, calls: int = 1, what: str = "this call asks for") -> None:
        """Spend ``n`` items, or raise :class:`QueryBudgetExceeded` and spend nothing."""
        with self._lock:
            if self._budget is not None and self._used + n > self._budget:
                raise QueryBudgetExceeded(
                    f"query budget spent: {self._used} of {self._budget} items used, {what} "
                    f"{n} more ({self._used + n - self._budget} over). Raise the budget "
                    f"(knowledge.query_budget / the view's budget=) or query fewer items."
                )
            self._used += n
            self._calls += calls

    def count(self, n: int) -> None:
        """Record ``n`` items without a budget (white-box forward passes)."""
        with self._lock:
            self._used += n
            self._calls += 1

    def __copy__(self) -> QueryCounter:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> QueryCounter:
        return self

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise ViewPicklingError(
            "a query counter cannot be pickled: a copy would restart the count. Share the view "
            "(copies of a view share its counter) or serve it with mi_core.isolation."
        )


# ---------------------------------------------------------------------------------------------
# inputs: plain data only


_SCALARS = (bool, int, float, complex, str, bytes)


def _plain_scalar(x: Any) -> Any:
    """An exact builtin copy of a scalar (subclasses lose their methods)."""
    if x is None or type(x) in (bool, int, float, complex, str, bytes):
        return x
    if isinstance(x, bool):
        return bool(x)
    if isinstance(x, int):
        return int.__int__(x)
    if isinstance(x, float):
        return float.__float__(x)
    if isinstance(x, complex):
        return complex(float.__float__(x.real), float.__float__(x.imag))
    if isinstance(x, str):
        return str.__str__(x)
    if isinstance(x, bytes):
        return bytes.__getitem__(x, slice(None))
    if isinstance(x, np.generic) and type(x).__module__ == "numpy":
        return x.copy()
    raise QueryInputError(f"query: {type(x).__name__} is not a plain scalar")


def _plain_tensor(x: Any) -> Any:
    """A plain ``torch.Tensor`` copy of ``x`` (any subclass): no ``__torch_function__`` or
    ``__torch_dispatch__`` of the caller's runs inside the model."""
    torch = _torch()
    with torch._C.DisableTorchFunctionSubclass():
        t = torch.Tensor.as_subclass(x, torch.Tensor).detach().clone()
    if type(t) is not torch.Tensor or torch._C._dispatch_keys(t).has(torch._C.DispatchKey.Python):
        raise QueryInputError(
            f"query: a {type(x).__name__} with a Python dispatch hook cannot be sent to the "
            "target; send a plain torch.Tensor"
        )
    return t


def _plain(x: Any, accepts: tuple[type, ...], depth: int = 0) -> Any:
    """Copy a query into plain tensors / arrays / builtins, recursively; refuse anything else
    (except objects of exactly a type in ``accepts``, declared by the target)."""
    if depth > 32:
        raise QueryInputError("query: nested more than 32 levels deep")
    if _is_tensor(x):
        return _plain_tensor(x)
    if isinstance(x, np.ndarray):
        if x.dtype == object:
            flat = [_plain(v, accepts, depth + 1) for v in x.reshape(-1).tolist()]
            out = np.empty(len(flat), dtype=object)
            out[:] = flat
            return out.reshape(x.shape)
        return np.array(x, copy=True, subok=False)
    if x is None or isinstance(x, (*_SCALARS, np.generic)):
        return _plain_scalar(x)
    if type(x) in accepts:
        if dataclasses.is_dataclass(x):
            fields = {
                f.name: _plain(getattr(x, f.name), accepts, depth + 1)
                for f in dataclasses.fields(x)
                if f.init
            }
            maker: Any = type(x)
            return maker(**fields)
        return x
    if _is_frame(x):
        pd = _pandas()
        if type(x) not in (pd.DataFrame, pd.Series):
            raise QueryInputError(
                f"query: {type(x).__name__} is a pandas subclass; send a plain pandas.DataFrame"
            )
        out = x.copy(deep=True)
        cols = [out] if isinstance(out, pd.Series) else [out[c] for c in out.columns]
        if any(c.dtype == object for c in cols):
            if isinstance(out, pd.Series):
                out = out.map(_plain_scalar)
            else:
                for c in out.columns:
                    if out[c].dtype == object:
                        out[c] = out[c].map(_plain_scalar)
        return out
    if isinstance(x, Mapping):
        return {
            _plain(k, accepts, depth + 1): _plain(v, accepts, depth + 1) for k, v in dict(x).items()
        }
    if isinstance(x, list):
        return [_plain(v, accepts, depth + 1) for v in list.__iter__(x)]
    if isinstance(x, tuple):
        return tuple(_plain(v, accepts, depth + 1) for v in tuple.__iter__(x))
    if isinstance(x, Iterator) or hasattr(x, "__next__"):
        raise QueryInputError(
            f"query: a {type(x).__name__} (an iterator or generator) has no item count to "
            "charge; send a list, a tuple, a tensor or an array"
        )
    declared = ", ".join(t.__name__ for t in accepts) or "none"
    raise QueryInputError(
        f"query: a {type(x).__name__} cannot be sent to this target: views take tensors, numpy "
        f"arrays, pandas frames, dicts / lists / tuples of them and plain scalars or strings "
        f"(types the target declares: {declared}). Convert it, or declare the type with "
        "make_view(..., accepts=(YourType,))"
    )


def _rows(x: Any) -> int | None:
    """Rows of a batch-like value (None for a single item)."""
    if _is_tensor(x) or isinstance(x, np.ndarray):
        return None if x.ndim == 0 else int(x.shape[0])
    if _is_frame(x) or isinstance(x, list | tuple):
        return len(x)
    return None


def _mapping_rows(x: Mapping[Any, Any], what: str) -> int | None:
    rows = {str(k): r for k, v in x.items() if (r := _rows(v)) is not None}
    if len(set(rows.values())) > 1:
        listed = ", ".join(f"{k}: {r}" for k, r in rows.items())
        raise QueryInputError(
            f"{what}: the mapping's values hold different numbers of items ({listed}); give "
            "every value one row per item"
        )
    return next(iter(rows.values()), None)


def _check_shape(x: Any, shape: tuple[int, ...]) -> None:
    want = tuple(int(s) for s in shape)
    got = tuple(int(s) for s in x.shape)
    if got[1:] != want:
        hint = " (add the batch dimension: x[None])" if got == want else ""
        raise QueryInputError(
            f"query: input of shape {got} does not match the target's input (N, "
            f"{', '.join(map(str, want))}){hint}; TargetInfo.input_shape is {want}"
        )


def _items(x: Any, shape: tuple[int, ...] | None) -> tuple[int, bool]:
    """``(items, batched)`` of a plain query; checks tensors / arrays against ``shape``."""
    if _is_tensor(x) or isinstance(x, np.ndarray):
        if shape is not None:
            _check_shape(x, shape)
        return (1, False) if x.ndim == 0 else (int(x.shape[0]), True)
    if isinstance(x, dict):
        if not x:
            raise QueryInputError("query: an empty mapping has no items")
        n = _mapping_rows(x, "query")
        return (1, False) if n is None else (n, True)
    if _is_frame(x) or isinstance(x, list | tuple):
        return len(x), True
    if x is None or isinstance(x, (*_SCALARS, np.generic)):
        return 1, False
    if hasattr(type(x), "__len__"):  # a declared query type with its own item count
        return len(x), True
    return 1, False


def _answers(out: Any) -> int:
    """Rows of a released answer: the number of items it answers."""
    if isinstance(out, dict):
        rows = [r for v in out.values() if (r := _rows(v)) is not None]
        return max(rows, default=1)
    r = _rows(out)
    return 1 if r is None else r


# ---------------------------------------------------------------------------------------------
# outputs


def _detach(obj: Any) -> Any:
    """Copy outputs so that nothing returned shares memory or autograd history with the model;
    tensors come back on the CPU (wherever the target runs)."""
    if _is_tensor(obj):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, np.ndarray):
        return obj.copy()
    if isinstance(obj, Mapping):
        return {k: _detach(v) for k, v in obj.items()}
    if isinstance(obj, tuple):
        return tuple(_detach(v) for v in obj)
    if isinstance(obj, list):
        return [_detach(v) for v in obj]
    if hasattr(obj, "logits") and _is_tensor(obj.logits):  # HF ModelOutput
        return obj.logits.detach().clone()
    return obj


def _on_device(x: Any, module: Any) -> Any:
    """Input tensors (nested in dicts, lists, tuples) moved to the device the module's weights
    live on: attackers may hand CPU tensors to a target on a GPU."""
    from mi_core.device import module_device, to_device

    dev = module_device(module)
    return x if dev is None else to_device(x, dev)


def check_finite(out: Any, what: str = "target output") -> None:
    """Raise :class:`NonFiniteOutputError` if a tensor / array holds NaN or inf."""
    if _is_tensor(out) and out.is_floating_point():
        finite = _torch().isfinite(out)
        if not bool(finite.all()):
            bad = int((~finite).sum())
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
    if _is_tensor(out):
        return _torch().softmax(out.float(), dim=-1)
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
    if _is_tensor(scores):
        if k >= scores.shape[-1]:
            return scores
        vals, idx = scores.topk(k, dim=-1)
        return _torch().zeros_like(scores).scatter(-1, idx, vals)
    arr = np.asarray(scores)
    if k >= arr.shape[-1]:
        return arr
    top = np.argpartition(-arr, k - 1, axis=-1)[..., :k]
    out = np.zeros_like(arr)
    np.put_along_axis(out, top, np.take_along_axis(arr, top, axis=-1), axis=-1)
    return out


def argmax_labels(scores: Any) -> Any:
    if _is_tensor(scores):
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
    """Base class of all views. Subclasses define ``access``.

    Copies (``copy.copy`` / ``copy.deepcopy``) are the view itself, so they share its counter;
    pickling a view raises :class:`~mi_core.errors.ViewPicklingError`."""

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

    # a view is a door, not a value: copies share it, pickles refuse it ---------------------
    def __copy__(self) -> TargetView:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> TargetView:
        return self

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise ViewPicklingError(
            f"a {self.access.value} view cannot be pickled: it holds the live target and the "
            "query counter. To run an attack in another process, use the isolated executor "
            "(mi audit --executor isolated, or mi_core.isolation.run_isolated), which serves "
            "the view over a query channel."
        )

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


@contextlib.contextmanager
def frozen(module: Any, *, freeze: bool = True) -> Iterator[Any]:
    """Freeze ``module`` for the duration (parameters ``requires_grad=False``, eval mode) and
    restore every parameter's ``requires_grad`` and every submodule's ``training`` flag on exit,
    even on error. ``freeze=False`` only restores (a safety net around code that may change
    them). White-box attacks use it so that the user's model comes back as it was given."""
    if not _is_module(module):
        yield module
        return
    params = list(module.parameters())
    grads = [p.requires_grad for p in params]
    modes = [(m, m.training) for m in module.modules()]
    if freeze:
        for p in params:
            p.requires_grad_(False)
        module.eval()
    try:
        yield module
    finally:
        for p, flag in zip(params, grads, strict=True):
            if p.requires_grad != flag:
                p.requires_grad_(flag)
        for m, mode in modes:  # parents first: each submodule ends with its own flag
            if m.training != mode:
                m.train(mode)


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
        if not _is_module(module):
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
        inputs are moved to :attr:`device`; counted, never budgeted. Tensors are checked against
        the declared input shape (a named error, not a traceback from inside the model)."""
        if self.info.input_shape is not None and (_is_tensor(x) or isinstance(x, np.ndarray)):
            _check_shape(x, self.info.input_shape)
        self._counter.count(batch_len(x))
        out = self._module(_on_device(x, self._module))
        check_finite(out if _is_tensor(out) else _detach(out))
        return out

    def restrict(self, access: Access | str, *, k: int | None = None) -> TargetView:
        access = Access.parse(access)
        if access is Access.WHITE_BOX:
            return self
        return BlackBoxView(
            _closure(self._module),
            access,
            self.info,
            postprocess=self._postprocess,
            k=k,
            counter=self._counter,
            accepts=getattr(self._module, "mi_query_types", ()),
        )


def _release_path(
    scores: Callable[[Any], Any],
    post: Callable[[Any], Any],
    labels_fn: Callable[[Any], Any] | None,
    access: Access,
    k: int | None,
) -> tuple[Callable[[Any], Any], Callable[[Any], Any], Callable[[Any], Any]]:
    """``(scores, labels, released)``: the uncounted functions, held only in closures."""

    def scores_raw(x: Any) -> Any:
        with _no_grad():
            return post(_detach(scores(x)))

    def labels_raw(x: Any) -> Any:
        if labels_fn is not None:
            with _no_grad():
                return _detach(labels_fn(x))
        return argmax_labels(scores_raw(x))

    def released(x: Any) -> Any:
        if access is Access.LABEL_ONLY:
            return labels_raw(x)
        out = scores_raw(x)
        if access is Access.BLACK_BOX_TOPK:
            assert k is not None
            out = topk_dense(out, k)
        return out

    return scores_raw, labels_raw, released


class BlackBoxView(TargetView):
    """Scores, top-k scores or labels only; detached, counted, budgeted.

    Args:
        fn: the target (a callable; an ``nn.Module`` is kept in a closure, never an attribute).
        access: ``black-box-scores``, ``black-box-topk`` or ``label-only``.
        postprocess: turns raw outputs into released scores (``"softmax"``, None, a callable).
        k: scores released per row at top-k access.
        counter / budget: a shared counter, or a budget for a new one.
        labels_fn: the target's own label function (default: argmax of the scores).
        cost: the owner's price of a query (default: the answers it returns; see the module
            doc). A custom cost replaces the count of answers, e.g. ``lambda q: 1`` per call.
        accepts: query types the target takes besides plain data (exact types; dataclass
            fields are copied into plain data too).
    """

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
        accepts: tuple[type, ...] | list[type] | None = None,
    ) -> None:
        access = Access.parse(access)
        if access is Access.WHITE_BOX:
            raise ConfigError(
                "access: a BlackBoxView cannot grant white-box access; use WhiteBoxView(module)"
            )
        if isinstance(fn, TargetView):
            raise ConfigError(
                "fn: this is already a target view; narrow it with view.restrict(access) or "
                "wrap its outputs with view.map_outputs(...) (both share its query counter)"
            )
        if not callable(fn):
            raise ConfigError(f"fn: a black-box view needs a callable, got {type(fn).__name__}")
        if access is Access.BLACK_BOX_TOPK:
            if k is None or not isinstance(k, int) or isinstance(k, bool) or k < 1:
                raise ConfigError(f"k: top-k access needs a positive integer k, got {k!r}")
            if info is not None and info.num_classes is not None and k > info.num_classes:
                raise ConfigError(
                    f"k: {k} is larger than the number of classes ({info.num_classes}); "
                    f"choose 1 <= k <= {info.num_classes}"
                )
        if counter is not None and budget is not None:
            raise ConfigError("budget: give either a shared counter or a budget, not both")
        if cost is not None and not callable(cost):
            raise ConfigError(f"cost: expected a function of the query, got {cost!r}")
        accepted = tuple(accepts or ())
        if not all(isinstance(t, type) for t in accepted):
            raise ConfigError(f"accepts: expected a tuple of types, got {accepts!r}")
        super().__init__(info or TargetInfo(), counter or QueryCounter(budget))
        self.access = access
        self.k = k
        #: query types the target declares besides plain data (public: part of its interface)
        self.query_types = accepted
        if _is_module(fn):
            fn = _closure(fn)  # keep the module out of the view's attributes
        self._door = _make_door(
            fn,
            access,
            k,
            _resolve_postprocess(postprocess),
            labels_fn,
            self._counter,
            self.info,
            cost,
            accepted,
        )

    def __call__(self, x: Any) -> Any:
        """Query the target: charges one query per answer, returns detached outputs."""
        return self._door("call", x)

    def labels(self, x: Any) -> Any:
        """Predicted labels; available at every black-box access (charged like a query)."""
        return self._door("labels", x)

    def restrict(self, access: Access | str, *, k: int | None = None) -> TargetView:
        access = Access.parse(access)
        if access is self.access and (k is None or k == self.k):
            return self
        out: BlackBoxView = self._door("restrict", access, k)
        return out

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
        access = Access.parse(access) if access is not None else self.access
        out: BlackBoxView = self._door(
            "map", transform, access, k, labels_transform, bool(with_inputs)
        )
        return out


def _make_door(
    fn: Callable[[Any], Any],
    access: Access,
    k: int | None,
    post: Callable[[Any], Any],
    labels_fn: Callable[[Any], Any] | None,
    counter: QueryCounter,
    info: TargetInfo,
    cost: Callable[[Any], int] | None,
    accepts: tuple[type, ...],
) -> Callable[..., Any]:
    """The view's only door: counted calls, and views derived with the same checks. The raw
    functions live in this closure, not in any attribute."""
    scores_raw, labels_raw, released = _release_path(fn, post, labels_fn, access, k)

    def ask(x: Any, path: Callable[[Any], Any], finite: bool) -> Any:
        x = _plain(x, accepts)
        n, batched = _items(x, info.input_shape)
        if cost is not None:
            n = cost(x)
            if not isinstance(n, int | np.integer) or isinstance(n, bool) or n < 0:
                raise ConfigError(f"cost: the view's cost function returned {n!r}, not a count")
            n, batched = int(n), False
        counter.charge(n)
        out = _detach(path(x))
        if batched:
            extra = _answers(out) - n
            if extra > 0:
                counter.charge(
                    extra, calls=0, what=f"the target answered {n + extra} items, charging"
                )
        if finite:
            check_finite(out)
        return out

    def derive(
        new_access: Access,
        new_k: int | None,
        fn2: Callable[[Any], Any],
        labels2: Callable[[Any], Any] | None,
    ) -> BlackBoxView:
        return BlackBoxView(
            fn2,
            new_access,
            info,
            k=new_k,
            counter=counter,
            labels_fn=labels2,
            cost=cost,
            accepts=accepts,
        )

    def restrict(new_access: Access, new_k: int | None) -> BlackBoxView:
        if not access.covers(new_access):
            raise AccessError(
                f"cannot widen a {access.value} view to {new_access.value}: views only narrow"
            )
        if new_access is Access.BLACK_BOX_TOPK and new_k is None:
            new_k = k
        return derive(new_access, new_k, scores_raw, labels_raw)

    def map_outputs(
        transform: Callable[..., Any],
        new_access: Access,
        new_k: int | None,
        labels_transform: Callable[[Any], Any] | None,
        with_inputs: bool,
    ) -> BlackBoxView:
        if not access.covers(new_access):
            raise AccessError(
                f"an output transform cannot widen {access.value} access to {new_access.value}"
            )

        def transformed(inner: Callable[[Any], Any]) -> Callable[[Any], Any]:
            if with_inputs:
                return lambda x: transform(x, inner(x))
            return lambda x: transform(inner(x))

        if new_access is Access.LABEL_ONLY and access is not Access.LABEL_ONLY:
            defended = transformed(released)
            return derive(new_access, None, defended, lambda x: argmax_labels(defended(x)))
        inner = labels_raw if access is Access.LABEL_ONLY else released
        labels2 = None if labels_transform is None else _compose(labels_transform, labels_raw)
        return derive(new_access, new_k if new_k is not None else k, transformed(inner), labels2)

    def door(op: str, *args: Any) -> Any:
        if op == "call":
            return ask(args[0], released, True)
        if op == "labels":
            return ask(args[0], labels_raw, False)
        if op == "restrict":
            return restrict(*args)
        if op == "map":
            return map_outputs(*args)
        raise AccessError(f"view: unknown operation {op!r}")

    return door


def _compose(outer: Callable[[Any], Any], inner: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def call(x: Any) -> Any:
        return outer(inner(x))

    return call


def _closure(module: Any) -> Callable[[Any], Any]:
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
    accepts: tuple[type, ...] | None = None,
) -> TargetView:
    """View of a torch module. ``postprocess`` turns raw outputs into released scores
    (``"softmax"`` for classifiers returning logits, ``None`` for embedders / regressors).
    ``accepts`` defaults to the module's ``mi_query_types`` (query types it declares).

    The module is put in eval mode: a released model answers deterministically.
    """
    if not _is_module(module):
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
        module,
        access,
        info,
        postprocess=postprocess,
        k=k,
        budget=budget,
        cost=cost,
        accepts=accepts if accepts is not None else getattr(module, "mi_query_types", ()),
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
    accepts: tuple[type, ...] | None = None,
) -> BlackBoxView:
    """View of a plain function (e.g. a remote prediction API). Never white-box. ``accepts``
    (default: the callable's ``mi_query_types``) declares query types besides plain data;
    ``labels_fn`` defaults to the callable's ``mi_labels_fn`` (a service whose answers are
    already labels or text, such as a chat API, declares it so that its label-only view does
    not take an argmax of them)."""
    access = Access.parse(access)
    if labels_fn is None:
        labels_fn = getattr(fn, "mi_labels_fn", None)
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
        accepts=accepts if accepts is not None else getattr(fn, "mi_query_types", ()),
    )


def _check_estimator(estimator: Any) -> None:
    """Named errors for an estimator class instead of an instance, or an unfitted one."""
    if isinstance(estimator, type):
        raise ConfigError(
            f"estimator: got the class {estimator.__name__}, not a fitted instance; build and "
            f"fit one first: {estimator.__name__}(...).fit(X, y)"
        )
    if not hasattr(estimator, "predict"):
        raise ConfigError(
            f"estimator: {type(estimator).__name__} has no predict(); pass a fitted sklearn "
            "estimator"
        )
    if "sklearn" not in sys.modules:
        return
    from sklearn.base import BaseEstimator
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    if isinstance(estimator, BaseEstimator):
        try:
            check_is_fitted(estimator)
        except NotFittedError:
            raise ConfigError(
                f"estimator: this {type(estimator).__name__} is not fitted; call "
                ".fit(X, y) before building a view of it"
            ) from None


def view_from_sklearn(
    estimator: Any,
    access: Access | str = Access.BLACK_BOX_SCORES,
    *,
    budget: int | None = None,
    k: int | None = None,
    info: TargetInfo | None = None,
    counter: QueryCounter | None = None,
) -> TargetView:
    """View of an sklearn estimator: scores are ``predict_proba`` (classifiers) or ``predict``
    (regressors); labels are ``predict``. White-box hands out the estimator itself.

    Raises:
        ConfigError: for an estimator class (not an instance) or an unfitted estimator.
    """
    access = Access.parse(access)
    _check_estimator(estimator)
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
    return BlackBoxView(
        scores_fn,
        access,
        info,
        k=k,
        budget=budget,
        counter=counter,
        labels_fn=estimator.predict,
    )


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
        self._counter.count(batch_len(x))
        if hasattr(self.estimator, "predict_proba"):
            return self.estimator.predict_proba(x)
        return self.estimator.predict(x)

    def restrict(self, access: Access | str, *, k: int | None = None) -> TargetView:
        access = Access.parse(access)
        if access is Access.WHITE_BOX:
            return self
        return view_from_sklearn(self.estimator, access, k=k, info=self.info, counter=self._counter)


def make_view(
    target: Any,
    access: Access | str = Access.WHITE_BOX,
    **kwargs: Any,
) -> TargetView:
    """Build a view of ``target`` (nn.Module, sklearn estimator, or a plain callable)."""
    if isinstance(target, TargetView):
        return require_access(target, access, "make_view")
    if isinstance(target, type):
        raise ConfigError(
            f"target: got the class {target.__name__}, not an instance; give a trained model "
            f"(e.g. {target.__name__}(...) after training / .fit(X, y))"
        )
    if _is_module(target):
        return view_from_module(target, access, **kwargs)
    if hasattr(target, "predict") and hasattr(target, "fit"):
        return view_from_sklearn(target, access, **kwargs)
    if callable(target):
        return view_from_callable(target, access, **kwargs)
    raise ConfigError(
        f"target: cannot build a view of {type(target).__name__}; give an nn.Module, an sklearn "
        "estimator or a callable"
    )
