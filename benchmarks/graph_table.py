"""Markdown tables of the graph benchmark (for ``packages/mi-graph/README.md``).

    uv run python benchmarks/graph_table.py [benchmarks/results/graph.json]

Reads the JSON that ``benchmarks/run.py graph`` wrote and prints the tables; nothing is computed
here but ratios and formatting.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
NAMES = {
    "auc": "AUC, all pairs",
    "auc_balanced": "AUC, balanced",
    "ap_balanced": "AP, balanced",
    "ap": "AP, all pairs",
    "precision_at_density": "precision = recall at the true density",
    "edge_precision": "precision of the predicted edge set",
    "edge_recall": "recall of the predicted edge set",
}


def _f(v: Any, d: int = 3) -> str:
    return "-" if v is None else f"{v:.{d}f}"


def _get(recs: list[dict], case: str, method: str, metric: str) -> dict | None:
    return next(
        (r for r in recs if r["case"] == case and r["method"] == method and r["metric"] == metric),
        None,
    )


def graphmi(recs: list[dict], case: str) -> list[str]:
    first = _get(recs, case, "graphmi", "auc")
    if first is None:
        return []
    base = first["baseline"]["name"]
    other = next(iter(first["other_baseline"]))
    anchor = first["anchor"]["name"] if first.get("anchor") else "reference"
    out = [
        f"**GraphMI on {case}** ({first['notes'].split(';')[0]}; victim "
        f"{first['notes'].split('victim ')[1].split(';')[0]}). Anchor: {anchor}.",
        "",
        f"| metric | GraphMI (paper read-out) | GraphMI + features | {base} | {other} | "
        "reference GraphMI |",
        "|---|---|---|---|---|---|",
    ]
    for metric in ("auc", "auc_balanced", "ap_balanced", "ap", "precision_at_density"):
        a = _get(recs, case, "graphmi", metric)
        b = _get(recs, case, "graphmi+features", metric)
        if a is None or b is None:
            continue
        anc = a["anchor"]["value"] if a.get("anchor") else None
        spread = ""
        if a.get("per_seed") and len(a["per_seed"]) > 1:
            spread = f" ({min(a['per_seed']):.3f}-{max(a['per_seed']):.3f})"
        out.append(
            f"| {NAMES[metric]} | {_f(a['value'])}{spread} | {_f(b['value'])} | "
            f"{_f(a['baseline']['value'])} | {_f(a['other_baseline'][other])} | {_f(anc)} |"
        )
    return out


def graphmi_cost(recs: list[dict]) -> list[str]:
    out = [
        "| case | our process, s | reference, s | reference / ours | our attack alone, s "
        "| our peak RSS, MB | reference, MB | reference / ours | our working MB | reference "
        "working MB | reference / ours |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for case in ("cora", "polblogs"):
        s = _get(recs, case, "graphmi", "process_seconds")
        if s is None:
            continue
        m = _get(recs, case, "graphmi", "peak_rss_mb")
        w = _get(recs, case, "graphmi", "working_rss_mb")
        a = _get(recs, case, "graphmi", "attack_seconds")

        def anc(r: dict | None) -> float | None:
            return r["anchor"]["value"] if r and r.get("anchor") else None

        def ratio(r: dict | None) -> str:
            v = anc(r)
            return "-" if v is None or r is None else f"{v / r['value']:.1f}x"

        out.append(
            f"| {case} | {_f(s['value'], 1)} | {_f(anc(s), 1)} | {ratio(s)} | "
            f"{_f(a['value'] if a else None, 1)} | {_f(m['value'], 0)} | {_f(anc(m), 0)} | "
            f"{ratio(m)} | {_f(w['value'] if w else None, 0)} | {_f(anc(w), 0)} | {ratio(w)} |"
        )
    return out


def link_stealing(recs: list[dict]) -> list[str]:
    rows = [r for r in recs if r["method"].startswith("link-stealing-0/") and r["case"] == "cora"]
    if not rows:
        return []
    out = [
        "| distance (Attack-0) | AUC, all pairs | AP, balanced | feature cosine AUC / AP | s |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        if r["metric"] != "auc":
            continue
        d = r["method"].split("/")[1]
        ap = _get(recs, "cora", r["method"], "ap_balanced")
        bap = ap["baseline"]["value"] if ap else None
        label = f"**best: {r['notes'].split('(')[1].split(')')[0]}**" if d == "best" else d
        out.append(
            f"| {label} | {_f(r['value'])} | {_f(ap['value'] if ap else None)} | "
            f"{_f(r['baseline']['value'])} / {_f(bap)} | {_f(r['seconds'], 1)} |"
        )
    return out


def link_stealing_settings(recs: list[dict]) -> list[str]:
    rows = [r for r in recs if r["case"] == "cora-half" and r["metric"] == "auc"]
    if not rows:
        return []
    out = [
        "| setting | knowledge | AUC | AP, balanced | feature cosine AUC / AP | s |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        ap = _get(recs, "cora-half", r["method"], "ap_balanced")
        kn = r["notes"].split(";")[0].replace("knowledge: ", "")
        out.append(
            f"| {r['method'].rsplit('-', 1)[1]} | {kn} | {_f(r['value'])} | "
            f"{_f(ap['value'] if ap else None)} | {_f(r['baseline']['value'])} / "
            f"{_f(ap['baseline']['value'] if ap else None)} | {_f(r['seconds'], 1)} |"
        )
    return out


def linkteller(recs: list[dict]) -> list[str]:
    rows = [r for r in recs if r["method"] == "linkteller"]
    if not rows:
        return []
    others = list(rows[0]["other_baseline"])
    out = [
        "| metric | LinkTeller | LSA2-post | " + " | ".join(others) + " |",
        "|---" * (3 + len(others)) + "|",
    ]
    for r in rows:
        vals = " | ".join(_f(r["other_baseline"][o]) for o in others)
        out.append(
            f"| {NAMES[r['metric']]} | {_f(r['value'])} | {_f(r['baseline']['value'])} | {vals} |"
        )
    return out


def inverse_mapping(recs: list[dict]) -> list[str]:
    rows = [r for r in recs if r["method"].startswith("inverse-mapping/")]
    if not rows:
        return []
    other = next(iter(rows[0]["other_baseline"]))
    out = [
        f"| mode | metric | inverse mapping | feature cosine | {other} | s |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r['method'].split('/')[1]} | {NAMES[r['metric']]} | {_f(r['value'])} | "
            f"{_f(r['baseline']['value'])} | {_f(r['other_baseline'][other])} | "
            f"{_f(r['seconds'], 1)} |"
        )
    return out


def scaling(recs: list[dict]) -> list[str]:
    cases = sorted({r["case"] for r in recs if r["case"].startswith("sbm-")}, key=len)
    if not cases:
        return []
    out = [
        "| graph | target pairs | AUC | feature cosine AUC | attack, s | process, s | "
        "peak RSS, MB | working MB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in cases:
        auc = _get(recs, c, "graphmi", "auc")
        if auc is None:
            continue
        pairs = auc["notes"].split("(")[1].split(" relaxed")[0]
        cells = [_get(recs, c, "graphmi", m) for m in ("attack_seconds", "process_seconds")]
        mem = [_get(recs, c, "graphmi", m) for m in ("peak_rss_mb", "working_rss_mb")]
        out.append(
            f"| {c} | {pairs} | {_f(auc['value'])} | {_f(auc['baseline']['value'])} | "
            + " | ".join(_f(x["value"] if x else None, 1) for x in cells)
            + " | "
            + " | ".join(_f(x["value"] if x else None, 0) for x in mem)
            + " |"
        )
    return out


def main(path: str | None = None) -> None:
    data = json.loads(Path(path or HERE / "results" / "graph.json").read_text())
    recs = data["records"]
    sections = [
        graphmi(recs, "cora"),
        graphmi(recs, "polblogs"),
        graphmi_cost(recs),
        link_stealing(recs),
        link_stealing_settings(recs),
        linkteller(recs),
        inverse_mapping(recs),
        scaling(recs),
    ]
    print(f"<!-- from {Path(path or 'benchmarks/results/graph.json').name}, {data['created']} -->")
    for s in sections:
        if s:
            print("\n".join(s))
            print()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
