"""Render the README benchmark tables from the result JSON files: never copied by hand.

    uv run python benchmarks/render.py           # rewrite every marked table in the READMEs
    uv run python benchmarks/render.py --check   # exit 1 naming each table that differs

A table in a README is a block between two markers::

    <!-- table: vision/headline -->
    ...generated markdown...
    <!-- /table -->

``vision/headline`` names a renderer: the function ``headline`` listed in ``TABLES`` of the
module ``benchmarks/vision_table.py``, which declares the result file it reads. Each rendered
block ends with a line naming the JSON file and the commit it ran on, so a stale table shows.
``tests/test_readme_tables.py`` fails when a README block differs from what its JSON renders.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
BLOCK = re.compile(
    r"(?P<open><!-- table: (?P<name>[a-z0-9_-]+/[a-z0-9_-]+) -->\n)(?P<body>.*?)"
    r"(?P<close><!-- /table -->)",
    re.DOTALL,
)


def readmes() -> list[Path]:
    """The README files that may hold rendered tables."""
    return [ROOT / "README.md", *sorted(ROOT.glob("packages/*/README.md"))]


def renderer(name: str) -> tuple[str, Callable[[dict[str, Any]], str]]:
    """``(result file name, render function)`` of the renderer ``suite/table``."""
    suite, table = name.split("/", 1)
    sys.path.insert(0, str(HERE))
    try:
        module = importlib.import_module(f"{suite}_table")
    except ModuleNotFoundError as exc:
        raise SystemExit(f"table {name!r}: no module benchmarks/{suite}_table.py") from exc
    tables: dict[str, tuple[str, Callable[[dict[str, Any]], str]]] = getattr(module, "TABLES", {})
    if table not in tables:
        known = ", ".join(f"{suite}/{t}" for t in tables) or "none"
        raise SystemExit(f"table {name!r}: unknown; benchmarks/{suite}_table.py renders {known}")
    return tables[table]


def render_block(name: str) -> str:
    """The markdown of table ``name``, with its provenance line."""
    file, fn = renderer(name)
    path = RESULTS / file
    if not path.exists():
        raise SystemExit(f"table {name!r}: {path} is missing; run the benchmark suite first")
    doc = json.loads(path.read_text())
    if not doc.get("commit"):
        # made before results recorded their commit (and before the evaluation protocol they
        # are rendered under): withdrawn rather than shown under today's labels
        suite = file.split(".")[0].split("-")[0]
        quick = " --quick" if doc.get("quick") else ""
        body = (
            f"*`benchmarks/results/{file}` predates the current evaluation (it records no "
            f"commit); its figures are withdrawn until `uv run python benchmarks/run.py "
            f"{suite}{quick}` remakes it.*"
        )
    else:
        body = fn(doc).rstrip("\n")
    commit = (doc.get("commit") or "")[:10] or "unknown commit"
    dirty = " (with uncommitted changes)" if doc.get("dirty") else ""
    return (
        f"{body}\n\n<sub>Rendered from `benchmarks/results/{file}` (commit {commit}{dirty}, "
        f"{doc.get('created', '?')}) by `benchmarks/render.py`.</sub>\n"
    )


def render_text(text: str) -> str:
    """``text`` with every marked block re-rendered."""

    def sub(m: re.Match[str]) -> str:
        return m.group("open") + render_block(m.group("name")) + m.group("close")

    return BLOCK.sub(sub, text)


def check() -> list[str]:
    """Names (``README: table``) of blocks that differ from what their JSON renders."""
    stale = []
    for path in readmes():
        text = path.read_text()
        for m in BLOCK.finditer(text):
            fresh = render_block(m.group("name"))
            if m.group("body") != fresh:
                stale.append(f"{path.relative_to(ROOT)}: {m.group('name')}")
    return stale


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--check" in argv:
        stale = check()
        for s in stale:
            print(f"stale table: {s} (run `uv run python benchmarks/render.py`)")
        return 1 if stale else 0
    for path in readmes():
        text = path.read_text()
        new = render_text(text)
        if new != text:
            path.write_text(new)
            print(f"rendered {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
