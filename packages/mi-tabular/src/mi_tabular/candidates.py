"""Candidate records: every record under attack completed with each value of the sensitive
attribute (and each combination of the unknown attributes), queried in large batches.

This is the inner step of survey Eq. 1 and of every attack built on it (Fredrikson 2014 / 2015,
CSMIA, LOMIA): for record ``x_K`` and candidate ``v``, ask the model about ``(x_K, x_t = v, u)``
for each completion ``u`` of the unknown attributes, weighted by ``prod_j p_j(u_j)``. Records are
queried in chunks of whole records (one view call per chunk, counted per row), so a 30k-record
audit is a handful of model calls instead of one per row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from mi_core.errors import ConfigError
from mi_core.views import TargetView
from mi_tabular.knowledge import AttributeKnowledge


@dataclass(frozen=True)
class CandidateGrid:
    """The completions tried for every record.

    Attributes:
        sensitive: ``(V,)`` candidate values of the sensitive attribute.
        unknown: ``(U, k)`` completions of the ``k`` unknown attributes (``U = 1, k = 0`` when
            the attacker knows every other attribute).
        log_weight: ``(U,)`` log of ``prod_j p_j(u_j)`` for each completion.
    """

    sensitive: tuple[Any, ...]
    unknown_columns: tuple[str, ...]
    unknown: tuple[tuple[Any, ...], ...]
    log_weight: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.sensitive), len(self.unknown)

    @property
    def size(self) -> int:
        return len(self.sensitive) * len(self.unknown)


def candidate_grid(ak: AttributeKnowledge, max_candidates: int = 4096) -> CandidateGrid:
    """Sensitive values x the product of the unknown attributes' values (Eq. 1's sum)."""
    combos: list[tuple[Any, ...]] = [()]
    logw = np.zeros(1)
    for m in ak.unknown:
        combos = [(*c, v) for c in combos for v in m.values]
        with np.errstate(divide="ignore"):
            logw = (logw[:, None] + np.log(np.asarray(m.prior))[None, :]).reshape(-1)
    size = len(ak.sensitive.values) * len(combos)
    if size > max_candidates:
        raise ConfigError(
            f"max_candidates: {size} candidate completions per record "
            f"({len(ak.sensitive.values)} sensitive values x {len(combos)} unknown combinations) "
            f"exceed {max_candidates}; declare fewer unknown attributes or raise max_candidates"
        )
    return CandidateGrid(
        tuple(ak.sensitive.values),
        tuple(m.column for m in ak.unknown),
        tuple(combos),
        logw,
    )


def expand(known: pd.DataFrame, ak: AttributeKnowledge, grid: CandidateGrid) -> pd.DataFrame:
    """Rows ``record-major, then sensitive value, then unknown completion``, in model column
    order: ``len(known) * V * U`` rows."""
    n = len(known)
    v_count, u_count = grid.shape
    reps = v_count * u_count
    base = known.loc[:, ak.known_columns].reset_index(drop=True)
    out = base.loc[np.repeat(np.arange(n), reps)].reset_index(drop=True)
    s_vals = np.asarray(grid.sensitive, dtype=object)
    s_col = np.tile(np.repeat(s_vals, u_count), n)
    data: dict[str, Any] = {ak.sensitive.column: _typed(s_col)}
    if grid.unknown_columns:
        combos = np.asarray(grid.unknown, dtype=object).reshape(u_count, -1)
        for j, col in enumerate(grid.unknown_columns):
            data[col] = _typed(np.tile(np.tile(combos[:, j], v_count), n))
    extra = pd.DataFrame(data)
    full = pd.concat([out, extra], axis=1)
    return full[list(ak.columns)]


def _typed(values: np.ndarray) -> np.ndarray:
    """Object arrays of numbers become numeric arrays (models want floats, not objects)."""
    try:
        if all(
            isinstance(v, int | float | np.number | bool) for v in values[: min(50, len(values))]
        ):
            return values.astype(np.float64)
    except (TypeError, ValueError):
        pass
    return values


def to_numpy(out: Any) -> np.ndarray:
    """View outputs (numpy, torch, lists) as a numpy array."""
    if hasattr(out, "detach") and hasattr(out, "cpu"):
        return np.asarray(out.detach().cpu().numpy())
    if isinstance(out, pd.DataFrame | pd.Series):
        return out.to_numpy()
    return np.asarray(out)


def query(view: TargetView, ak: AttributeKnowledge, frame: pd.DataFrame, kind: str) -> np.ndarray:
    """One counted query of ``frame`` through ``view``: ``kind`` is ``"outputs"`` (what the view
    returns: scores, or labels for a label-only view) or ``"labels"``."""
    x = ak.to_model_input(frame)
    out = view.labels(x) if kind == "labels" and hasattr(view, "labels") else view(x)
    arr = to_numpy(out)
    if arr.shape[0] != len(frame):
        raise ConfigError(
            f"target: returned {arr.shape[0]} outputs for {len(frame)} records; the model must "
            "return one output per row"
        )
    return arr


def query_candidates(
    view: TargetView,
    ak: AttributeKnowledge,
    grid: CandidateGrid,
    *,
    records: pd.DataFrame | None = None,
    kind: str = "outputs",
    chunk_rows: int = 200_000,
    progress: bool = True,
    desc: str = "querying candidates",
) -> np.ndarray:
    """Outputs for every record x candidate, shaped ``(n, V, U, ...)``."""
    known = ak.known if records is None else records
    n = len(known)
    per = grid.size
    step = max(1, chunk_rows // per)
    outs = []
    starts = range(0, n, step)
    bar = tqdm(starts, desc=desc, disable=not progress or len(starts) < 3, leave=False)
    for s in bar:
        part = known.iloc[s : s + step]
        outs.append(query(view, ak, expand(part, ak, grid), kind))
    arr = np.concatenate(outs, axis=0)
    v_count, u_count = grid.shape
    return arr.reshape(n, v_count, u_count, *arr.shape[1:])
