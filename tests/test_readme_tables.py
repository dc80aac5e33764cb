"""README benchmark tables are rendered from the result JSON files (benchmarks/render.py), never
typed by hand: a table that differs from what its JSON renders fails here."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _render_module():
    spec = importlib.util.spec_from_file_location("render", ROOT / "benchmarks" / "render.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_readme_table_matches_its_json():
    render = _render_module()
    stale = render.check()
    assert not stale, f"stale README tables (run `uv run python benchmarks/render.py`): {stale}"


def test_blocks_are_found_and_rerendered(tmp_path):
    render = _render_module()
    text = "intro\n<!-- table: nosuch/table -->\nold\n<!-- /table -->\n"
    m = render.BLOCK.search(text)
    assert m is not None and m.group("name") == "nosuch/table" and m.group("body") == "old\n"
