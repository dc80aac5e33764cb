"""Helpers shared by benchmark suites: record construction, shared-data paths, timing."""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def shared_file(rel: str) -> Path | None:
    """Path of a file under ../shared/data, or None with a message saying how to get it."""
    p = SHARED / rel
    if not p.exists():
        print(f"[skip] {p} is missing: see ../shared/data/README.md for how to get it")
        return None
    return p


def record(
    case: str,
    method: str,
    metric: str,
    value: float,
    *,
    access: str | None = None,
    higher: bool = True,
    seconds: float | None = None,
    queries: int | None = None,
    baseline: tuple[str, float] | None = None,
    anchor: dict[str, Any] | None = None,
    seed: int | list[int] = 0,
    notes: str = "",
    **extra: Any,
) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "case": case,
        "method": method,
        "access": access,
        "metric": metric,
        "value": value,
        "higher_is_better_for_attacker": higher,
        "seconds": None if seconds is None else round(seconds, 2),
        "queries": queries,
        "baseline": None if baseline is None else {"name": baseline[0], "value": baseline[1]},
        "anchor": anchor,
        "seed": seed,
        "notes": notes,
    }
    rec.update(extra)
    return rec


def seeded_record(
    case: str,
    method: str,
    metric: str,
    values: list[float],
    base: tuple[str, list[float]],
    start: tuple[str, list[float]],
    others: dict[str, float] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One record of a figure over seeds beside its baseline (a model that never saw the
    secrets) and the attack's own starting point, with the per-seed values of all three for
    the renderer; ``others``: further references (e.g. a random guess) by name."""
    import statistics

    return record(
        case,
        method,
        metric,
        statistics.mean(values),
        baseline=(base[0], statistics.mean(base[1])),
        other_baseline={start[0]: statistics.mean(start[1]), **(others or {})},
        spread=statistics.stdev(values) if len(values) > 1 else None,
        values=values,
        baseline_values=base[1],
        start_values=start[1],
        baseline_uses_target=False,
        **extra,
    )


@contextmanager
def timer():
    box = {"seconds": 0.0}
    t0 = time.perf_counter()
    try:
        yield box
    finally:
        box["seconds"] = time.perf_counter() - t0
