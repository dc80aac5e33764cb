"""Isolated attacks: the attack runs in a child process that holds a query channel, not the model.

In process, a view stops honest and buggy attack code from spending more than its budget or
seeing more than its access releases; it cannot stop malicious code, which may walk closures,
the garbage collector or the interpreter's frames to the model, the runner's case cache, the
private data and the evaluation model. :func:`run_isolated` (and ``mi audit --executor
isolated``) closes that gap with a process boundary:

* the attack runs in a child that never shared this process's memory (forked from a
  ``multiprocessing`` forkserver, itself a fresh interpreter, or spawned where there is none)
  and receives the attack's name and config, the attacker's
  :class:`~mi_core.threat.Knowledge` and a :class:`ProxyView`;
* the parent keeps the model and the view: it answers each query through the view (counted,
  budgeted, access-checked, inputs copied into plain data) and never sends the target, the
  private data or the evaluation model; the knowledge is pickled with a guard that refuses the
  target, the case and any view;
* nothing from the child is unpickled: queries and the result come back as JSON plus
  safetensors, and only the query types the target declares are rebuilt. The result is an
  :class:`~mi_core.result.AttackResult` whose ``queries`` is the parent's count.

The boundary is a process, not a sandbox: the child runs as the same user, so files (the
audit's cached models under ``out/cases``), the network and other processes stay reachable;
run the audit in a container or as another user to close those. White-box cells cannot be
isolated (the view hands out the module itself): they raise :class:`IsolationError`. Numbers
match an in-process run whenever the view draws no random numbers of its own (a noise defense
draws them in the parent).
"""

from __future__ import annotations

import base64
import builtins
import contextlib
import dataclasses
import importlib
import io
import json
import multiprocessing
import os
import pickle
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from mi_core import errors
from mi_core.errors import (
    AccessError,
    ConfigError,
    IsolationError,
    MIError,
    NotApplicable,
    QueryInputError,
)
from mi_core.threat import Access, Knowledge
from mi_core.views import QueryCounter, TargetInfo, TargetView

_MAX_DEPTH = 64


# ---------------------------------------------------------------------------------------------
# the wire format: a JSON header and a safetensors blob (nothing is ever unpickled from a child)


def _pack(header: dict[str, Any], tensors: dict[str, Any]) -> bytes:
    from safetensors.torch import save

    head = json.dumps(header).encode("utf-8")
    blob = save(tensors) if tensors else b""
    return len(head).to_bytes(8, "little") + head + blob


def _unpack(data: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    from safetensors.torch import load

    try:
        n = int.from_bytes(data[:8], "little")
        header = json.loads(data[8 : 8 + n].decode("utf-8"))
        blob = data[8 + n :]
        tensors = dict(load(blob)) if blob else {}
    except Exception as exc:
        raise IsolationError(
            f"isolated attack: malformed message from its process ({exc})"
        ) from None
    if not isinstance(header, dict):
        raise IsolationError("isolated attack: malformed message from its process (no header)")
    return header, tensors


def _type_ref(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


class _Packer:
    """Encodes plain data as JSON with tensors / numeric arrays set aside for safetensors."""

    def __init__(self) -> None:
        self.tensors: dict[str, Any] = {}

    def _add(self, t: Any) -> str:
        key = f"t{len(self.tensors)}"
        self.tensors[key] = t
        return key

    def enc(self, v: Any, depth: int = 0) -> Any:
        from mi_core.views import _plain_scalar, _plain_tensor

        if depth > _MAX_DEPTH:
            raise QueryInputError(f"value: nested more than {_MAX_DEPTH} levels deep")
        torch = sys.modules.get("torch")
        if v is None or type(v) in (bool, int, str):
            return v
        if type(v) is float:
            return v if np.isfinite(v) else {"$float": repr(v)}
        if torch is not None and isinstance(v, torch.Tensor):
            return {"$t": self._add(_plain_tensor(v).cpu().contiguous())}
        if isinstance(v, np.ndarray):
            if v.dtype.kind in "biuf" and v.dtype.byteorder in "=|<":
                import torch as _t

                t = _t.from_numpy(np.array(v, copy=True, subok=False, order="C"))
                return {"$a": self._add(t)}
            if v.dtype.kind in "US":
                flat = v.reshape(-1).tolist()
                if v.dtype.kind == "S":
                    flat = [b.decode("latin-1") for b in flat]
                return {"$np": flat, "shape": list(v.shape), "dtype": v.dtype.str}
            if v.dtype.kind == "O":
                items = [self.enc(x, depth + 1) for x in v.reshape(-1).tolist()]
                return {"$np": items, "shape": list(v.shape), "dtype": "object"}
            raise QueryInputError(f"value: numpy arrays of dtype {v.dtype} cannot be sent")
        if isinstance(v, np.generic):
            if v.dtype.kind not in "biuf":
                return self.enc(v.item(), depth + 1)
            return {"$ns": v.item(), "dtype": v.dtype.str}
        if isinstance(v, bool | int | float | str):
            return self.enc(_plain_scalar(v), depth)
        if isinstance(v, bytes):
            return {"$b": base64.b64encode(_plain_scalar(v)).decode("ascii")}
        if isinstance(v, complex):
            return {"$c": [float(v.real), float(v.imag)]}
        if isinstance(v, list):
            return [self.enc(x, depth + 1) for x in list.__iter__(v)]
        if isinstance(v, tuple):
            return {"$tuple": [self.enc(x, depth + 1) for x in tuple.__iter__(v)]}
        pd = sys.modules.get("pandas")
        if pd is not None and isinstance(v, pd.DataFrame):
            return {
                "$df": {
                    "columns": self.enc(list(v.columns), depth + 1),
                    "index": self.enc(v.index.to_numpy(), depth + 1),
                    "data": [self.enc(v[c].to_numpy(), depth + 1) for c in v.columns],
                    "dtypes": [str(d) for d in v.dtypes],
                }
            }
        if pd is not None and isinstance(v, pd.Series):
            return {
                "$series": {
                    "name": self.enc(v.name, depth + 1),
                    "index": self.enc(v.index.to_numpy(), depth + 1),
                    "data": self.enc(v.to_numpy(), depth + 1),
                    "dtype": str(v.dtype),
                }
            }
        if isinstance(v, Mapping):
            return {
                "$dict": [[self.enc(k, depth + 1), self.enc(x, depth + 1)] for k, x in v.items()]
            }
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            fields = {
                f.name: self.enc(getattr(v, f.name), depth + 1)
                for f in dataclasses.fields(v)
                if f.init
            }
            return {"$dc": _type_ref(type(v)), "fields": fields}
        raise QueryInputError(
            f"value: a {type(v).__name__} cannot cross the isolation channel; send tensors, "
            "numpy arrays, pandas frames, dicts / lists / tuples of them, plain scalars or "
            "strings (or a query type the target declares)"
        )


def _bad(why: str) -> NoReturn:
    raise IsolationError(f"isolated attack: malformed value from its process ({why})")


def _decode(j: Any, tensors: dict[str, Any], types: tuple[type, ...] = (), depth: int = 0) -> Any:
    """The parent's strict decoder: JSON values, tensors by key, and nothing else (dataclasses
    only of the ``types`` the target declares)."""
    if depth > _MAX_DEPTH:
        _bad("nested too deep")
    if j is None or type(j) in (bool, int, float, str):
        return j
    if type(j) is list:
        return [_decode(x, tensors, types, depth + 1) for x in j]
    if type(j) is not dict or len(j) == 0:
        _bad(f"unexpected {type(j).__name__}")
    key = next(iter(j))
    if key == "$t" or key == "$a":
        name = j[key]
        if not isinstance(name, str) or name not in tensors:
            _bad("unknown tensor")
        t = tensors[name]
        return t if key == "$t" else t.numpy()
    if key == "$float":
        if j[key] not in ("nan", "inf", "-inf"):
            _bad("bad float")
        return float(j[key])
    if key == "$np":
        dtype = j.get("dtype")
        shape = j.get("shape")
        if not isinstance(shape, list) or not all(type(s) is int and s >= 0 for s in shape):
            _bad("bad shape")
        if dtype == "object":
            items = [_decode(x, tensors, types, depth + 1) for x in j["$np"]]
            arr = np.empty(len(items), dtype=object)
            arr[:] = items
            return arr.reshape(shape)
        if not isinstance(dtype, str) or dtype[1:2] not in ("U", "S") or not dtype[2:].isdigit():
            _bad("bad dtype")
        values = j["$np"]
        if not isinstance(values, list) or not all(type(v) is str for v in values):
            _bad("bad string array")
        if dtype[1] == "S":
            values = [v.encode("latin-1") for v in values]
        return np.array(values, dtype=np.dtype(dtype)).reshape(shape)
    if key == "$ns":
        dt = np.dtype(j["dtype"]) if isinstance(j.get("dtype"), str) else None
        if dt is None or dt.kind not in "biuf" or type(j["$ns"]) not in (bool, int, float):
            _bad("bad numpy scalar")
        return np.array(j["$ns"], dtype=dt)[()]
    if key == "$b":
        return base64.b64decode(j[key], validate=True)
    if key == "$c":
        re, im = j[key]
        return complex(float(re), float(im))
    if key == "$tuple":
        return tuple(_decode(x, tensors, types, depth + 1) for x in j[key])
    if key == "$dict":
        out = {}
        for pair in j[key]:
            if type(pair) is not list or len(pair) != 2:
                _bad("bad mapping")
            k = _decode(pair[0], tensors, types, depth + 1)
            try:
                out[k] = _decode(pair[1], tensors, types, depth + 1)
            except TypeError:
                _bad("unhashable key")
        return out
    if key in ("$df", "$series"):
        import pandas as pd

        d = j[key]
        index = _decode(d["index"], tensors, (), depth + 1)
        if key == "$series":
            data = _decode(d["data"], tensors, (), depth + 1)
            s = pd.Series(data, index=index, name=_decode(d["name"], tensors, (), depth + 1))
            return s.astype(pd.api.types.pandas_dtype(d["dtype"]))
        cols = _decode(d["columns"], tensors, (), depth + 1)
        data = [_decode(c, tensors, (), depth + 1) for c in d["data"]]
        if len(cols) != len(data) or len(d["dtypes"]) != len(cols):
            _bad("bad frame")
        frame = pd.DataFrame(dict(zip(cols, data, strict=True)), index=index)
        for c, dt in zip(cols, d["dtypes"], strict=True):
            frame[c] = frame[c].astype(pd.api.types.pandas_dtype(dt))
        return frame
    if key == "$dc":
        known = {_type_ref(t): t for t in types}
        cls = known.get(j[key])
        if cls is None:
            _bad(f"{j[key]!r} is not a query type the target declares")
        fields = j.get("fields")
        if type(fields) is not dict:
            _bad("bad fields")
        return cls(**{str(k): _decode(v, tensors, types, depth + 1) for k, v in fields.items()})
    _bad(f"unknown marker {key!r}")


# ---------------------------------------------------------------------------------------------
# the child's side


_ERRORS: dict[str, type[BaseException]] = {
    name: obj
    for name, obj in vars(errors).items()
    if isinstance(obj, type) and issubclass(obj, MIError)
}
for _name in ("ValueError", "TypeError", "RuntimeError", "KeyError", "IndexError"):
    _ERRORS[_name] = getattr(builtins, _name)


class _Channel:
    """The child's end: sends encoded queries, receives the parent's answers."""

    def __init__(self, conn: Any, used: int, budget: int | None) -> None:
        self._conn = conn
        self.used = used
        self.budget = budget

    def ask(self, op: str, **fields: Any) -> Any:
        packer = _Packer()
        header = {"op": op, **{k: packer.enc(v) for k, v in fields.items()}}
        self._conn.send_bytes(_pack(header, packer.tensors))
        reply = self._conn.recv()  # from the parent (trusted)
        self.used = reply["used"]
        if "error" in reply:
            raise _ERRORS.get(reply["error"], RuntimeError)(reply["message"])
        return reply["value"]


class ProxyView(TargetView):
    """A black-box view served over a query channel by the parent process: the same API as
    :class:`~mi_core.views.BlackBoxView` (``__call__``, ``labels``, ``restrict``, ``queries``,
    ``budget``, ``remaining``, ``access``, ``k``, ``info``); the parent counts and enforces."""

    def __init__(
        self, channel: _Channel, vid: int, access: Access, k: int | None, info: TargetInfo
    ) -> None:
        super().__init__(info, QueryCounter(None))
        self._channel = channel
        self._vid = vid
        self.access = access
        self.k = k

    @property
    def queries(self) -> int:
        return self._channel.used

    @property
    def budget(self) -> int | None:
        return self._channel.budget

    @property
    def remaining(self) -> int | None:
        b = self._channel.budget
        return None if b is None else b - self._channel.used

    def __call__(self, x: Any) -> Any:
        return self._channel.ask("call", view=self._vid, x=x)

    def labels(self, x: Any) -> Any:
        return self._channel.ask("labels", view=self._vid, x=x)

    def restrict(self, access: Access | str, *, k: int | None = None) -> TargetView:
        access = Access.parse(access)
        if access is self.access and (k is None or k == self.k):
            return self
        got = self._channel.ask("restrict", view=self._vid, access=access.value, k=k)
        return ProxyView(
            self._channel, got["view"], Access.parse(got["access"]), got["k"], self.info
        )

    def map_outputs(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AccessError(
            "map_outputs: output transforms are the target owner's (defenses); an isolated "
            "attack queries the view it was given"
        )


def _import_ref(ref: str) -> Any:
    module, _, attr = ref.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _encode_result(result: Any, packer: _Packer) -> dict[str, Any]:
    from mi_core.io import to_jsonable

    return {
        "attack": str(result.attack),
        "modality": str(result.modality),
        "access": str(result.access),
        "reconstructions": packer.enc(result.reconstructions),
        "targets": packer.enc(result.targets),
        "scores": packer.enc(result.scores),
        "seconds": float(result.seconds),
        "seed": result.seed,
        "config": to_jsonable(result.config),
        "arrays": {str(k): packer.enc(v) for k, v in result.arrays.items()},
        "info": to_jsonable(result.info),
        "metrics": to_jsonable(result.metrics),
        "created": str(result.created),
    }


def _child_main(conn: Any, payload: bytes) -> None:
    """Entry point of the isolated process: run the attack against a :class:`ProxyView`."""
    try:
        job = pickle.loads(payload)  # from the parent (trusted)
        if job["threads"]:
            import torch

            torch.set_num_threads(job["threads"])
        channel = _Channel(conn, job["used"], job["budget"])
        view = ProxyView(channel, 0, Access.parse(job["access"]), job["k"], job["info"])
        attack = _import_ref(job["attack_ref"])(job["config"])
        result = attack.run(view, job["knowledge"], seed=job["seed"])
        packer = _Packer()
        header = {"op": "result", "result": _encode_result(result, packer)}
        conn.send_bytes(_pack(header, packer.tensors))
    except BaseException as exc:
        header = {
            "op": "error",
            "type": type(exc).__name__,
            "message": str(exc),
            "traceback": traceback.format_exc(),
        }
        conn.send_bytes(_pack(header, {}))
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------------
# the parent's side


class _GuardedPickler(pickle.Pickler):
    """Pickles the child's job, refusing views and the objects the owner keeps."""

    def __init__(self, file: Any, forbidden: set[int]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._forbidden = forbidden

    def persistent_id(self, obj: Any) -> None:
        if isinstance(obj, TargetView):
            raise IsolationError(
                "knowledge: holds a target view; an isolated attack gets its view over the "
                "query channel only"
            )
        if id(obj) in self._forbidden:
            raise IsolationError(
                f"knowledge: holds a {type(obj).__name__} that stays with the owner (the target, "
                "its case, or their parameters); it cannot be sent to an isolated attack"
            )
        return None


def _forbidden_ids(objects: Iterable[Any]) -> set[int]:
    ids: set[int] = set()
    torch = sys.modules.get("torch")
    for obj in objects:
        if obj is None:
            continue
        ids.add(id(obj))
        if torch is not None and isinstance(obj, torch.nn.Module):
            ids.update(id(m) for m in obj.modules())
            ids.update(id(p) for p in obj.parameters())
            ids.update(id(b) for b in obj.buffers())
    return ids


def _attack_ref(attack: str | type) -> tuple[str, str]:
    """``(name, "module:attr")`` of an attack, without importing an entry point's module here."""
    if isinstance(attack, type):
        return str(getattr(attack, "name", attack.__name__)), _class_ref(attack)
    from mi_core.registry import attack_entries

    entries = attack_entries()
    if attack not in entries:
        known = ", ".join(entries) or "none installed"
        raise ConfigError(f"attack: unknown attack {attack!r}; installed attacks: {known}")
    entry = entries[attack]
    if entry.target != "<local>":
        return attack, entry.target
    return attack, _class_ref(entry.load())


def _class_ref(cls: type) -> str:
    if cls.__module__ == "__main__" or "<locals>" in cls.__qualname__:
        raise IsolationError(
            f"attack: {cls.__qualname__} is defined in {cls.__module__} (a script, a notebook or "
            "a function), which the isolated process cannot import; move it into a module"
        )
    return _type_ref(cls)


def _child_error(name: str, header: dict[str, Any]) -> BaseException:
    kind = str(header.get("type", "Exception"))
    message = str(header.get("message", ""))
    cls = _ERRORS.get(kind)
    if cls is not None and issubclass(cls, MIError):
        return cls(message)
    tb = str(header.get("traceback", ""))
    return IsolationError(
        f"attack {name!r} raised {kind}: {message}\n--- traceback in the isolated process ---\n{tb}"
    )


def _serve(
    conn: Any, proc: Any, view: TargetView, name: str, timeout: float | None
) -> dict[str, Any]:
    """Answer the child's queries through ``view`` until it sends its result."""
    views: dict[int, TargetView] = {0: view}
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        if deadline is not None and time.monotonic() > deadline:
            raise IsolationError(f"attack {name!r} ran past its timeout of {timeout} s")
        if not conn.poll(0.05):
            if not proc.is_alive() and not conn.poll(0):
                raise IsolationError(
                    f"attack {name!r}: its process exited (code {proc.exitcode}) without a result"
                )
            continue
        try:
            header, tensors = _unpack(conn.recv_bytes())
        except EOFError:
            raise IsolationError(
                f"attack {name!r}: its process closed the channel without a result"
            ) from None
        op = header.get("op")
        if op == "result":
            return {"result": header.get("result"), "tensors": tensors}
        if op == "error":
            raise _child_error(name, header)
        reply: dict[str, Any]
        try:
            vid = header.get("view")
            if type(vid) is not int or vid not in views:
                _bad("unknown view")
            v = views[vid]
            if op in ("call", "labels"):
                x = _decode(header.get("x"), tensors, tuple(getattr(v, "query_types", ())))
                call: Callable[[Any], Any] = getattr(v, "labels" if op == "labels" else "__call__")
                reply = {"value": call(x)}
            elif op == "restrict":
                k = header.get("k")
                if k is not None and type(k) is not int:
                    _bad("bad k")
                new = v.restrict(Access.parse(str(header.get("access"))), k=k)
                views[len(views)] = new
                reply = {
                    "value": {
                        "view": len(views) - 1,
                        "access": new.access.value,
                        "k": getattr(new, "k", None),
                    }
                }
            else:
                _bad(f"unknown operation {op!r}")
        except IsolationError:
            raise
        except Exception as exc:  # the view refused or the target failed: the attack sees it
            reply = {"error": type(exc).__name__, "message": str(exc)}
        reply["used"] = view.queries
        conn.send(reply)


def _json_dict(value: Any) -> dict[str, Any]:
    return value if type(value) is dict else {}


def _result_from(payload: dict[str, Any], name: str, view: TargetView, queries: int) -> Any:
    from mi_core.result import AttackResult

    r, tensors = payload["result"], payload["tensors"]
    if type(r) is not dict:
        _bad("no result")
    arrays = r.get("arrays") or {}
    if type(arrays) is not dict:
        _bad("bad arrays")
    seed = r.get("seed")
    return AttackResult(
        attack=name,
        modality=str(r.get("modality")),
        access=view.access.value,
        reconstructions=_decode(r.get("reconstructions"), tensors),
        targets=_decode(r.get("targets"), tensors),
        scores=_decode(r.get("scores"), tensors),
        queries=queries,
        seconds=float(r.get("seconds") or 0.0),
        seed=seed if type(seed) is int else None,
        config=_json_dict(r.get("config")),
        arrays={str(k): _decode(v, tensors) for k, v in arrays.items()},
        info={
            **_json_dict(r.get("info")),
            "executor": "isolated",
        },
        metrics=_json_dict(r.get("metrics")),
        created=str(r.get("created")),
    )


#: libraries the forkserver imports up front when this process has loaded them (trusted code
#: only: the toolbox's own packages and the heavy libraries they use, never attack plugins)
_PRELOAD_ROOTS = frozenset(
    {
        "torch",
        "numpy",
        "scipy",
        "pandas",
        "sklearn",
        "transformers",
        "tokenizers",
        "torch_geometric",
        "mi_core",
        "mi_vision",
        "mi_text",
        "mi_graph",
        "mi_tabular",
        "mi_defense",
    }
)
_PRELOAD_ENV = "MI_ISOLATION_PRELOAD"


def _preload_in_server() -> None:
    """In the forkserver: import the trusted modules the parent named (errors ignored), so
    that each forked attack starts with them loaded instead of importing them again."""
    pid, _, names = os.environ.get(_PRELOAD_ENV, "").partition(":")
    if not names or pid == str(os.getpid()):
        return
    for name in names.split(","):
        if name.split(".")[0] in _PRELOAD_ROOTS:
            # a module that does not import on its own is left to the child
            with contextlib.suppress(Exception):
                importlib.import_module(name)


def _context() -> Any:
    """A fresh-interpreter start method: ``forkserver`` where the platform has it (a clean
    server process, started once, that imports torch, this module and the trusted libraries
    this process has loaded, then forks one child per attack: no memory of this process
    reaches it, and each attack starts without re-importing them), else ``spawn``."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    loaded = sorted(
        name
        for name in list(sys.modules)
        if name.split(".")[0] in _PRELOAD_ROOTS and not name.split(".")[-1].startswith("__")
    )
    # read by the server if this call starts it; removed once the attack's process started
    os.environ[_PRELOAD_ENV] = f"{os.getpid()}:" + ",".join(loaded)
    ctx.set_forkserver_preload(["torch", "mi_core.isolation"])
    return ctx


def run_isolated(
    attack: str | type,
    config: Mapping[str, Any] | None,
    view: TargetView,
    knowledge: Knowledge | None = None,
    seed: int = 0,
    *,
    timeout: float | None = None,
    forbid: Iterable[Any] = (),
) -> Any:
    """Run ``attack`` (a registered name or an attack class in an importable module) against
    ``view`` in a child process that reaches the target through a query channel only.

    Args:
        config: the attack's configuration (a dict, validated in the child).
        view: a black-box view (scores, top-k or label-only), kept in this process.
        knowledge: what the attacker holds (public data only); pickled for the child.
        timeout: seconds before the child is stopped (None: no limit).
        forbid: objects that must not reach the child (e.g. the target, the case); the
            knowledge is refused if it holds one of them.

    Returns:
        the attack's :class:`~mi_core.result.AttackResult`, with ``queries`` counted here.

    Raises:
        IsolationError: for a white-box view, an attack class the child cannot import, or a
            child that breaks the protocol; the attack's own errors come back by name.
    """
    name, ref = _attack_ref(attack)
    if not isinstance(view, TargetView):
        raise ConfigError(f"view: expected a target view, got {type(view).__name__}")
    if view.access is Access.WHITE_BOX:
        raise IsolationError(
            f"attack {name!r}: a white-box view hands out the model itself, so it cannot be "
            "isolated. Run white-box attacks in process (executor 'local': trust their code), "
            "or restrict the view: view.restrict('black-box-scores')"
        )
    knowledge = knowledge if knowledge is not None else Knowledge()
    if not isinstance(knowledge, Knowledge):
        raise ConfigError(f"knowledge: expected mi_core.Knowledge, got {type(knowledge).__name__}")
    if timeout is not None and not timeout > 0:
        raise ConfigError(f"timeout: must be a positive number of seconds or None, got {timeout!r}")
    torch = sys.modules.get("torch")
    job = {
        "attack_ref": ref,
        "config": dict(config or {}),
        "knowledge": knowledge,
        "seed": int(seed),
        "access": view.access.value,
        "k": getattr(view, "k", None),
        "info": view.info,
        "used": view.queries,
        "budget": view.budget,
        "threads": torch.get_num_threads() if torch is not None else 0,
    }
    buf = io.BytesIO()
    _GuardedPickler(buf, _forbidden_ids(forbid)).dump(job)
    ctx = _context()
    parent_conn, child_conn = ctx.Pipe(duplex=True)
    proc = ctx.Process(
        target=_child_main, args=(child_conn, buf.getvalue()), name=f"mi-isolated-{name}"
    )
    q0 = view.queries
    try:
        proc.start()
    finally:
        os.environ.pop(_PRELOAD_ENV, None)
    child_conn.close()
    try:
        payload = _serve(parent_conn, proc, view, name, timeout)
        proc.join(timeout=30)
    finally:
        if proc.is_alive():
            proc.terminate()
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join()
        parent_conn.close()
    try:
        return _result_from(payload, name, view, view.queries - q0)
    except IsolationError:
        raise
    except Exception as exc:
        raise IsolationError(
            f"attack {name!r}: malformed result from its process ({type(exc).__name__}: {exc})"
        ) from None


# ---------------------------------------------------------------------------------------------
# the audit executor


def run_shard_isolated(spec_dict: dict[str, Any], index: int, workdir: str) -> dict[str, Any]:
    """:func:`mi_core.audit.runner.run_shard` with the attack in an isolated process."""
    from mi_core.audit.runner import (
        CellSpec,
        _case_for,
        _shard_labels,
        _view_for,
        effective_shards,
    )
    from mi_core.result import AttackResult

    spec = CellSpec(**spec_dict)
    root = Path(workdir)
    n = effective_shards(spec)
    shard_dir = root / "cells" / spec.id / "shards" / str(index)
    if (shard_dir / "result.json").exists():
        return {"status": "ok", "result": AttackResult.load(shard_dir)}
    try:
        access = Access.parse(spec.access, "cell.access")
        if access is Access.WHITE_BOX:
            raise IsolationError(
                f"cell {spec.id}: white-box cells cannot run isolated (the attack gets the "
                "model itself); run them with --executor local, trusting the attack's code"
            )
        case = _case_for(spec, root)
        view = _view_for(case, spec, budget=spec.budget)
        knowledge = _shard_labels(case.knowledge(access), index, n)
        forbid = [case, case.target(), getattr(case, "eval_model", None)]
        result = run_isolated(spec.attack, spec.config, view, knowledge, spec.seed, forbid=forbid)
        if n > 1:
            result.save(shard_dir)
        return {"status": "ok", "result": result}
    except (AccessError, NotApplicable) as exc:
        return {"status": "not-applicable", "message": str(exc)}
    except Exception as exc:
        return {
            "status": "error",
            "message": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(),
        }


def run_cell_isolated(spec_dict: dict[str, Any], workdir: str) -> dict[str, Any]:
    """Run one cell with its attack isolated (all its shards), save it, return its record."""
    from mi_core.audit.runner import run_cell

    return run_cell(spec_dict, workdir, shard=run_shard_isolated, executor="isolated")


def isolated_executor(specs: list[dict[str, Any]], workdir: str) -> Iterable[dict[str, Any]]:
    """Run cells one after another, each attack in its own isolated process."""
    for spec in specs:
        yield run_cell_isolated(spec, workdir)


__all__ = ["ProxyView", "isolated_executor", "run_isolated"]

_preload_in_server()
