"""Markdown tables of the graph benchmark (for the READMEs), rendered from its JSON.

    uv run python benchmarks/graph_table.py [benchmarks/results/graph.json]

``TABLES`` lists the renderers ``benchmarks/render.py`` uses for README blocks
``<!-- table: graph/NAME -->``; nothing is computed here but means, ratios and formatting. Each
attack row is set beside the no-model baseline recorded with it (``record["baseline"]``: the
baseline built from the same knowledge, e.g. features + labels for GraphMI and MC-GRA, feature
cosine for the label-only RL-GraphMI), and carries its leakage verdict (``mi_core.leakage``).
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
BASELINE_NAMES = {
    "feature-cosine": "feature cosine",
    "feature-cosine+label": "features + labels",
    "embedding-cosine": "embedding cosine (H_A, no optimisation)",
    "graphmi+features": "GraphMI + features",
    "label-agreement": "features + queried labels (its start)",
    "graphmi (white-box)": "GraphMI (white-box)",
}
MISSING = "_(not in this result file: rerun `uv run python benchmarks/run.py graph`)_"


def _f(v: Any, d: int = 3) -> str:
    return "-" if v is None else f"{v:.{d}f}"


def _get(recs: list[dict], case: str, method: str, metric: str) -> dict | None:
    return next(
        (r for r in recs if r["case"] == case and r["method"] == method and r["metric"] == metric),
        None,
    )


def _cases(recs: list[dict], method: str) -> list[str]:
    """Graphs with rows of ``method`` at 10% targets (not the scaling rows)."""
    return list(
        dict.fromkeys(
            r["case"]
            for r in recs
            if r["method"] == method
            and "pairs" not in r
            and not r.get("notes", "").startswith("synthetic")
        )
    )


def _spread(r: dict) -> str:
    """``mean ± std (min-max)`` over seeds, or the value alone for one seed."""
    ps = r.get("per_seed") or []
    if len(ps) < 2:
        return _f(r["value"])
    std = (r.get("stats") or {}).get("std")
    sd = f" ± {std:.3f}" if std is not None else ""
    return f"{_f(r['value'])}{sd} ({min(ps):.3f}-{max(ps):.3f})"


def _level(r: dict | None) -> str:
    lk = (r or {}).get("leakage") or {}
    return lk.get("level", "-")


def _base(r: dict | None) -> str:
    b = (r or {}).get("baseline") or {}
    return _f(b.get("value"))


def _seeds_note(r: dict) -> str:
    n = len(r.get("per_seed") or []) or 1
    return f"{n} seed{'s' if n > 1 else ''}"


# ----------------------------------------------------------------------------- headline


def headline(doc: dict) -> str:
    """The optimising attacks per graph, each beside its no-model baseline (root README)."""
    recs = doc["records"]
    cases = _cases(recs, "graphmi")
    if not cases:
        return MISSING
    out = [
        "| graph | attack (access) | seeds | AUC | AP, all pairs | precision at density | "
        "no-model baseline (AUC / AP / precision) | leakage (AP) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    methods = (
        ("graphmi", "GraphMI (white-box)"),
        ("graphmi+features", "GraphMI + features"),
        ("mc-gra", "MC-GRA, K={X,H_A,Y_A,Y} (white-box)"),
        ("rl-graphmi", "RL-GraphMI (label-only)"),
    )
    for case in cases:
        for method, label in methods:
            r = {m: _get(recs, case, method, m) for m in ("auc", "ap", "precision_at_density")}
            if r["auc"] is None:
                continue
            bname = BASELINE_NAMES.get(r["auc"]["baseline"]["name"], r["auc"]["baseline"]["name"])
            base = " / ".join(_base(r[m]) for m in ("auc", "ap", "precision_at_density"))
            out.append(
                f"| {case} | {label} | {len(r['auc'].get('per_seed') or []) or 1} | "
                f"{_f(r['auc']['value'])} | {_f(r['ap']['value'] if r['ap'] else None)} | "
                f"{_f(r['precision_at_density']['value'] if r['precision_at_density'] else None)}"
                f" | {bname}: {base} | {_level(r['ap'])} |"
            )
    return "\n".join(out)


# ----------------------------------------------------------------------------- GraphMI


def graphmi_tables(doc: dict) -> str:
    recs = doc["records"]
    parts = [graphmi_case(recs, case) for case in _cases(recs, "graphmi")]
    parts = [p for p in parts if p]
    return "\n\n".join(parts) if parts else MISSING


def graphmi_case(recs: list[dict], case: str) -> str:
    first = _get(recs, case, "graphmi", "auc")
    if first is None:
        return ""
    base = first["baseline"]["name"]
    other = next(iter(first.get("other_baseline") or {"-": None}))
    anchor = first["anchor"]["name"] if first.get("anchor") else "none"
    notes = first["notes"]
    victim = notes.split("victim ")[1].split(";")[0] if "victim " in notes else "-"
    out = [
        f"**GraphMI on {case}** ({notes.split(';')[0]}; victim {victim}). Anchor: {anchor}.",
        "",
        f"| metric | GraphMI (paper read-out) | GraphMI + features | "
        f"{BASELINE_NAMES.get(base, base)} (no-model baseline) | "
        f"{BASELINE_NAMES.get(other, other)} | reference GraphMI | leakage |",
        "|---|---|---|---|---|---|---|",
    ]
    for metric in ("auc", "auc_balanced", "ap_balanced", "ap", "precision_at_density"):
        a = _get(recs, case, "graphmi", metric)
        b = _get(recs, case, "graphmi+features", metric)
        if a is None or b is None:
            continue
        anc = a["anchor"]["value"] if a.get("anchor") else None
        oth = (a.get("other_baseline") or {}).get(other)
        out.append(
            f"| {NAMES[metric]} | {_spread(a)} | {_spread(b)} | {_base(a)} | {_f(oth)} | "
            f"{_f(anc)} | {_level(a)} / {_level(b)} |"
        )
    return "\n".join(out)


def graphmi_cost(doc: dict) -> str:
    recs = doc["records"]
    out = [
        "| case | our process, s | reference, s | reference / ours | our attack alone, s "
        "| our peak RSS, MB | reference, MB | reference / ours | our working MB | reference "
        "working MB | reference / ours |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    rows = 0
    for case in _cases(recs, "graphmi"):
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

        rows += 1
        out.append(
            f"| {case} | {_f(s['value'], 1)} | {_f(anc(s), 1)} | {ratio(s)} | "
            f"{_f(a['value'] if a else None, 1)} | {_f(m['value'] if m else None, 0)} | "
            f"{_f(anc(m), 0)} | {ratio(m)} | {_f(w['value'] if w else None, 0)} | "
            f"{_f(anc(w), 0)} | {ratio(w)} |"
        )
    return "\n".join(out) if rows else MISSING


# ----------------------------------------------------------------------------- MC-GRA


def mc_gra(doc: dict) -> str:
    recs = doc["records"]
    parts = []
    for case in _cases(recs, "mc-gra"):
        first = _get(recs, case, "mc-gra", "auc")
        if first is None:
            continue
        anchor = first.get("anchor")
        anc = (
            f" Reference MC-GRA code run here: AUC {_f(anchor['value'])} in "
            f"{_f(anchor.get('seconds'), 0)} s ({anchor['name']})."
            if anchor
            else ""
        )
        out = [
            f"**MC-GRA on {case}** ({first['notes'].split(';')[0]}; {_seeds_note(first)}; "
            f"K = {{X, H_A, Y_A, Y}}).{anc}",
            "",
            "| metric | MC-GRA (relaxed + features + labels) | relaxed adjacency alone | "
            "features + labels (no-model baseline) | feature cosine | embedding cosine "
            "(H_A, no optimisation) | GraphMI + features | leakage |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for metric in ("auc", "ap", "precision_at_density", "auc_balanced", "ap_balanced"):
            a = _get(recs, case, "mc-gra", metric)
            b = _get(recs, case, "mc-gra/relaxed", metric)
            if a is None:
                continue
            ob = a.get("other_baseline") or {}
            out.append(
                f"| {NAMES[metric]} | {_spread(a)} | {_spread(b) if b else '-'} | {_base(a)} | "
                f"{_f(ob.get('feature-cosine'))} | {_f(ob.get('embedding-cosine'))} | "
                f"{_f(ob.get('graphmi+features'))} | {_level(a)} |"
            )
        beats = _every_seed(a := _get(recs, case, "mc-gra", "ap")) if a else None
        pd = _get(recs, case, "mc-gra", "precision_at_density")
        if beats is not None and pd is not None:
            out.append("")
            out.append(
                f"Seeds where MC-GRA beats features + labels: all-pairs AP {beats}, precision "
                f"at the true density {_every_seed(pd)}."
            )
        parts.append("\n".join(out))
    return "\n\n".join(parts) if parts else MISSING


def _every_seed(r: dict) -> str:
    ps, bs = r.get("per_seed") or [], r.get("baseline_per_seed") or []
    if not ps or len(ps) != len(bs):
        return "-"
    return f"{sum(p > b for p, b in zip(ps, bs, strict=True))} of {len(ps)}"


# ----------------------------------------------------------------------------- RL-GraphMI


def rl_graphmi(doc: dict) -> str:
    recs = doc["records"]
    parts = []
    for case in _cases(recs, "rl-graphmi"):
        first = _get(recs, case, "rl-graphmi", "auc")
        if first is None:
            continue
        out = [
            f"**RL-GraphMI on {case}** (label-only; {first['notes'].split(';')[0]}; "
            f"{_seeds_note(first)}; {first.get('queries') or '-'} queries per run, one per node "
            "label returned).",
            "",
            "| metric | RL-GraphMI (edge probabilities) | RL-GraphMI fused | feature cosine "
            "(no-model baseline) | features + queried labels (its start) | GraphMI (white-box, "
            "labels known) | leakage |",
            "|---|---|---|---|---|---|---|",
        ]
        for metric in ("auc", "ap", "precision_at_density", "ap_balanced"):
            a = _get(recs, case, "rl-graphmi", metric)
            b = _get(recs, case, "rl-graphmi+knowledge", metric)
            if a is None:
                continue
            ob = a.get("other_baseline") or {}
            out.append(
                f"| {NAMES[metric]} | {_spread(a)} | {_spread(b) if b else '-'} | {_base(a)} | "
                f"{_f(ob.get('label-agreement'))} | {_f(ob.get('graphmi (white-box)'))} | "
                f"{_level(a)} / {_level(b)} |"
            )
        parts.append("\n".join(out))
    return "\n\n".join(parts) if parts else MISSING


# ----------------------------------------------------------------------------- defenses


def defenses(doc: dict) -> str:
    recs = [r for r in doc["records"] if r.get("attack") in ("mc-gra", "graphmi")]
    if not recs:
        return MISSING
    out = [
        "| graph | defense | strength | node accuracy | MC-GRA AUC | MC-GRA AP | GraphMI AUC | "
        "GraphMI AP | features + labels AUC / AP |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    keys = list(
        dict.fromkeys(
            (r["case"], r["method"], json.dumps(r.get("strength"), sort_keys=True)) for r in recs
        )
    )
    for case, defense, strength in keys:
        rows = [
            r
            for r in recs
            if r["case"] == case
            and r["method"] == defense
            and json.dumps(r.get("strength"), sort_keys=True) == strength
        ]
        get = {(r["attack"], r["metric"]): r for r in rows}
        anyr = rows[0]
        s = ", ".join(f"{k} {v}" for k, v in json.loads(strength).items()) or "-"
        auc = get.get(("mc-gra", "auc")) or anyr
        out.append(
            f"| {case} | {defense} | {s} | {_f(anyr['utility']['value'])} | "
            + " | ".join(
                _f(get[(a, m)]["value"]) if (a, m) in get else "-"
                for a in ("mc-gra", "graphmi")
                for m in ("auc", "ap")
            )
            + f" | {_base(auc)} / {_base(get.get(('mc-gra', 'ap')))} |"
        )
    return "\n".join(out)


# ----------------------------------------------------------------------------- scaling


def scaling(doc: dict) -> str:
    recs = doc["records"]
    rows = [r for r in recs if r["metric"] == "auc" and r.get("pairs") is not None]
    if not rows:
        old = _scaling_sbm(recs)
        return old or MISSING
    out = [
        "| graph | attack | target nodes | pairs | AUC | AP, all pairs | attack, s | process, s "
        "| peak RSS, MB | working MB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    ref = None
    for r in rows:
        cells = [_get(recs, r["case"], r["method"], m) for m in ("ap",)]
        t = [_get(recs, r["case"], r["method"], m) for m in ("attack_seconds", "process_seconds")]
        mem = [_get(recs, r["case"], r["method"], m) for m in ("peak_rss_mb", "working_rss_mb")]
        out.append(
            f"| {r['case']} | {r['method']} | {r['targets']} | {r['pairs']:,} | "
            f"{_f(r['value'])} | {_f(cells[0]['value'] if cells[0] else None)} | "
            + " | ".join(_f(x["value"] if x else None, 1) for x in t)
            + " | "
            + " | ".join(_f(x["value"] if x else None, 0) for x in mem)
            + " |"
        )
        ref = ref or r.get("anchor")
    if ref:
        out.append(
            f"| all nodes | reference MC-GRA | all | all N^2 (dense) | {_f(ref['value'])} | - | "
            f"- | {_f(ref.get('seconds'), 1)} | {_f(ref.get('peak_rss_mb'), 0)} | - |"
        )
    return "\n".join(out)


def _scaling_sbm(recs: list[dict]) -> str:
    cases = sorted({r["case"] for r in recs if r["case"].startswith("sbm-")}, key=len)
    if not cases:
        return ""
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
    return "\n".join(out)


# ----------------------------------------------------------------------------- black-box


def link_stealing(doc: dict) -> str:
    recs = doc["records"]
    rows = [r for r in recs if r["method"].startswith("link-stealing-0/")]
    if not rows:
        return MISSING
    out = [
        "| graph | distance (Attack-0) | AUC, all pairs | AP, balanced | feature cosine AUC / AP "
        "| s |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["metric"] != "auc":
            continue
        d = r["method"].split("/")[1]
        ap = _get(recs, r["case"], r["method"], "ap_balanced")
        bap = ap["baseline"]["value"] if ap else None
        label = f"**best: {r['notes'].split('(')[1].split(')')[0]}**" if d == "best" else d
        out.append(
            f"| {r['case']} | {label} | {_f(r['value'])} | {_f(ap['value'] if ap else None)} | "
            f"{_f(r['baseline']['value'])} / {_f(bap)} | {_f(r['seconds'], 1)} |"
        )
    return "\n".join(out)


def link_stealing_settings(doc: dict) -> str:
    recs = doc["records"]
    rows = [r for r in recs if r["case"].endswith("-half") and r["metric"] == "auc"]
    if not rows:
        return MISSING
    out = [
        "| graph | setting | knowledge | AUC | AP, balanced | feature cosine AUC / AP | s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ap = _get(recs, r["case"], r["method"], "ap_balanced")
        kn = r["notes"].split(";")[0].replace("knowledge: ", "")
        out.append(
            f"| {r['case']} | {r['method'].rsplit('-', 1)[1]} | {kn} | {_f(r['value'])} | "
            f"{_f(ap['value'] if ap else None)} | {_f(r['baseline']['value'])} / "
            f"{_f(ap['baseline']['value'] if ap else None)} | {_f(r['seconds'], 1)} |"
        )
    return "\n".join(out)


def linkteller(doc: dict) -> str:
    rows = [r for r in doc["records"] if r["method"] == "linkteller"]
    if not rows:
        return MISSING
    others = list(rows[0]["other_baseline"])
    out = [
        "| graph | metric | LinkTeller | LSA2-post | " + " | ".join(others) + " |",
        "|---" * (4 + len(others)) + "|",
    ]
    for r in rows:
        vals = " | ".join(_f(r["other_baseline"][o]) for o in others)
        out.append(
            f"| {r['case']} | {NAMES[r['metric']]} | {_f(r['value'])} | "
            f"{_f(r['baseline']['value'])} | {vals} |"
        )
    return "\n".join(out)


def inverse_mapping(doc: dict) -> str:
    rows = [r for r in doc["records"] if r["method"].startswith("inverse-mapping/")]
    if not rows:
        return MISSING
    other = next(iter(rows[0]["other_baseline"]))
    out = [
        f"| graph | mode | metric | inverse mapping | feature cosine | {other} | s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r['case']} | {r['method'].split('/')[1]} | {NAMES[r['metric']]} | "
            f"{_f(r['value'])} | {_f(r['baseline']['value'])} | "
            f"{_f(r['other_baseline'][other])} | {_f(r['seconds'], 1)} |"
        )
    return "\n".join(out)


def _quick_note(doc: dict) -> str:
    if not doc.get("quick"):
        return ""
    n = max([int((r.get("stats") or {}).get("n", 1)) for r in doc["records"]] + [1])
    return (
        f"*Quick run* (`benchmarks/run.py graph --quick --seeds {n}`): {n} target draws, smaller "
        "node samples for link stealing / LinkTeller / inverse mapping; the full run (10 draws, "
        "the reference codes side by side, the scaling rows) writes `graph.json`.\n\n"
    )


def _q(fn: Any) -> Any:
    return lambda doc: _quick_note(doc) + fn(doc)


def mcgra_reference(doc: dict) -> str:
    """The reference MC-GRA code's own run (``graph --preset reference``), beside our MC-GRA with
    every node as a target (the scaling rows of ``graph.json``, the reference's setting)."""
    by: dict[str, dict[str, dict]] = {}
    for r in doc["records"]:
        by.setdefault(r["case"], {})[r["metric"]] = r
    if not by:
        return "*No reference run in this file.*\n"
    ours_file = HERE / "results" / "graph.json"
    ours: dict[str, dict[str, float]] = {}
    provenance = ""
    if ours_file.exists():
        full = json.loads(ours_file.read_text())
        provenance = f"`graph.json` (commit {str(full.get('commit'))[:10]})"
        for r in full["records"]:
            if r["case"].endswith("-100%") and r["method"] == "mc-gra":
                mine = ours.setdefault(r["case"][: -len("-100%")], {})
                mine[r["metric"]] = r["value"]
                if r["metric"] == "auc" and r.get("baseline"):
                    mine["no_model_auc"] = r["baseline"]["value"]
    out = [
        "| graph | reference: AUC (all node pairs) | reference: process, s "
        "| reference: peak RSS, MB | ours, all nodes: AUC | ours: process, s "
        "| ours: peak RSS, MB | features + labels (no model), all nodes: AUC |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, m in by.items():
        o = ours.get(name, {})

        def f(key: str, fmt: str, o: dict[str, float] = o) -> str:
            return format(o[key], fmt) if key in o else "-"

        out.append(
            f"| {name} | {m['auc']['value']:.3f} | {m['process_seconds']['value']:.1f} "
            f"| {m['peak_rss_mb']['value']:.0f} | {f('auc', '.3f')} "
            f"| {f('process_seconds', '.1f')} | {f('peak_rss_mb', '.0f')} "
            f"| {f('no_model_auc', '.3f')} |"
        )
    notes = "; ".join(f"{name}: {m['auc'].get('notes', '')}" for name, m in by.items())
    out.append(f"\nReference runs: {notes}.")
    if provenance:
        out.append(
            f"Ours: the 100% scaling row (seed 0, all nodes as targets) of {provenance}: the "
            "library's read-out, the relaxed adjacency fused with the attacker's features and "
            "labels; beside it the features + labels alone (no model) on the same targets. The "
            "reference scores its relaxed adjacency on its own victim GCN."
        )
    return "\n".join(out)


#: README blocks read the full run (10 target draws, the reference codes, the scaling rows)
_NAMES = {
    "headline": _q(headline),
    "graphmi": graphmi_tables,
    "graphmi-cost": graphmi_cost,
    "mc-gra": mc_gra,
    "rl-graphmi": rl_graphmi,
    "defenses": defenses,
    "scaling": scaling,
    "link-stealing": link_stealing,
    "link-stealing-settings": link_stealing_settings,
    "linkteller": linkteller,
    "inverse-mapping": inverse_mapping,
}
TABLES = {name: ("graph.json", fn) for name, fn in _NAMES.items()}
TABLES["mcgra-reference"] = ("graph-reference.json", mcgra_reference)


def main(path: str | None = None) -> None:
    doc = json.loads(Path(path or HERE / "results" / "graph.json").read_text())
    print(f"<!-- from {Path(path or 'benchmarks/results/graph.json').name}, {doc['created']} -->")
    for name, (_, fn) in TABLES.items():
        print(f"### {name}\n")
        print(fn(doc))
        print()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
