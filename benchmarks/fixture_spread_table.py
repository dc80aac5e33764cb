"""Markdown table of ``benchmarks/results/fixture_spread.json`` for mi-vision's README, rendered by
``benchmarks/render.py`` (``TABLES``): each image test's check on digits-gan fixtures other than
the one the test runs on."""

from __future__ import annotations

from typing import Any


def checks(doc: dict[str, Any]) -> str:
    recs = doc["records"]
    if not recs:
        raise SystemExit("fixture_spread.json holds no records")
    fixtures = recs[0]["seed"]
    head = " | ".join(f"fixture {f}: on / off" for f in fixtures)
    lines = [
        f"Each test's check (its config, its margin, the same config with the search off) on "
        "its fixture (the digits-gan case; `test_diffusion`'s `Digits`) prepared from seeds "
        f"{', '.join(map(str, fixtures))} (the tests use seed 0, where every check holds). "
        "*on* / *off*: the gain over the attack's own "
        "starting point, mean over the test's attack seeds; the check holds when *on* reaches "
        "the margin and *off* does not.",
        "",
        f"| test | attack | figure | margin | {head} | holds on |",
        "|---|---|---|---|" + "---|" * len(fixtures) + "---|",
    ]
    for r in recs:
        cells = " | ".join(
            f"{a:+.2f} / {b:+.2f}"
            for a, b in zip(r["per_fixture_on"], r["per_fixture_off"], strict=True)
        )
        held = round(r["value"] * len(fixtures))
        figure = r["metric"].split("(")[-1].rstrip(")").replace(" gain", "")
        lines.append(
            f"| {r['test']} | {r['method']} | {figure} | {r['margin']} | {cells} | "
            f"{held} of {len(fixtures)} |"
        )
    return "\n".join(lines) + "\n"


TABLES = {"checks": ("fixture_spread.json", checks)}
