"""Benchmark runner: ``uv run python benchmarks/run.py SUITE [--quick] [--out DIR]``.

Each suite is a module ``benchmarks/<suite>.py`` with ``run(quick: bool) -> list[dict]``
(or ``run(quick, argv)`` for a suite with options of its own, such as ``--graph PATH``)
returning records in the shape of ../shared/BENCHMARKS.md; this runner prints a table and writes
``<out>/<suite>[-quick].json`` atomically, stamped with the git commit it ran on. README tables
are rendered from these files by ``benchmarks/render.py``, never typed by hand.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SUITES = ("tabular", "vision", "text", "graph", "defense", "audit", "fixture_spread")
SHARED = HERE.parent.parent / "shared" / "data"


def machine() -> dict:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        # the kernels torch picked (AVX2 / AVX512 ...): figures of small trainings move with them
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "python": platform.python_version(),
    }


def git_state() -> dict:
    """The commit the suite ran on, and whether the working tree had uncommitted changes to
    tracked files (results of a dirty tree name the commit they started from). Results files
    (``benchmarks/results/``, written by earlier suites of the same session) do not count."""
    import subprocess

    def git(*args: str) -> str:
        try:
            out = subprocess.run(
                ["git", *args], cwd=HERE.parent, capture_output=True, text=True, timeout=30
            )
        except (OSError, subprocess.TimeoutExpired):
            return ""
        return out.stdout if out.returncode == 0 else ""

    commit = git("rev-parse", "HEAD").strip() or None
    changed = git("status", "--porcelain", "--untracked-files=no").splitlines()
    dirty = any(not line[3:].startswith("benchmarks/results/") for line in changed)
    return {"commit": commit, "dirty": dirty}


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def print_table(records: list[dict]) -> None:
    cols = [
        "case",
        "method",
        "access",
        "metric",
        "value",
        "baseline",
        "anchor",
        "seconds",
        "queries",
    ]
    rows = []
    for r in records:
        bl, an = r.get("baseline") or {}, r.get("anchor") or {}
        rows.append(
            {
                "case": r["case"],
                "method": r["method"],
                "access": r.get("access") or "-",
                "metric": r["metric"],
                "value": _fmt(r["value"]),
                "baseline": f"{_fmt(bl.get('value'))} ({bl.get('name', '-')})" if bl else "-",
                "anchor": f"{_fmt(an.get('value'))} ({an.get('name', '-')})" if an else "-",
                "seconds": _fmt(r.get("seconds")),
                "queries": _fmt(r.get("queries")),
            }
        )
    widths = {c: max(len(c), *(len(row[c]) for row in rows)) if rows else len(c) for c in cols}
    print("  ".join(c.ljust(widths[c]) for c in cols))
    print("  ".join("-" * widths[c] for c in cols))
    for row in rows:
        print("  ".join(row[c].ljust(widths[c]) for c in cols))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("suite", choices=SUITES)
    parser.add_argument("--quick", action="store_true", help="finish in under 10 minutes")
    parser.add_argument("--out", default=str(HERE / "results"))
    args, rest = parser.parse_known_args(argv)
    state = git_state()  # before the suite's imports (seconds), so later edits do not count
    sys.path.insert(0, str(HERE))
    try:
        module = importlib.import_module(args.suite)
    except ModuleNotFoundError as exc:
        if exc.name == args.suite:
            print(f"suite {args.suite!r} is not implemented yet", file=sys.stderr)
            return 2
        raise
    from mi_core.io import atomic_write_json

    t0 = time.time()
    import inspect

    if "argv" in inspect.signature(module.run).parameters:
        records = module.run(quick=args.quick, argv=rest)  # suite options (e.g. --graph PATH)
    elif rest:
        parser.error(f"suite {args.suite!r} takes no options: {' '.join(rest)}")
    else:
        records = module.run(quick=args.quick)
    doc = {
        "suite": args.suite,
        "quick": args.quick,
        "commit": state["commit"],
        "dirty": state["dirty"],
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "total_seconds": round(time.time() - t0, 1),
        "records": records,
    }
    name = f"{args.suite}-quick.json" if args.quick else f"{args.suite}.json"
    named = getattr(module, "result_name", None)  # a preset writes its own file
    if rest and callable(named) and named(rest):
        name = named(rest)
    path = atomic_write_json(Path(args.out) / name, doc)
    print_table(records)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
