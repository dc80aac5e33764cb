"""Markdown tables of ``benchmarks/results/defense-quick.json`` for the READMEs, rendered by
``benchmarks/render.py`` (``TABLES``); ``uv run python benchmarks/defense_table.py [JSON]``
prints them all.

A figure with seeds is ``mean ± sd`` over them. Two verdicts of ``mi_core.leakage`` stand beside
it: the defense's *effect* (undefended against defended figure, paired seeds: a change inside the
seed spread is "not shown") and the *leak* that remains (defended figure against the attack's
no-model baseline)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULT = "defense-quick.json"

#: root README rows: (case, attack, defense, strength, label of the row's attack cell)
HEADLINE: tuple[tuple[str, str, str, dict[str, Any], str], ...] = (
    (
        "digits-mlp",
        "training-based inversion (black-box)",
        "label-only",
        {"release": "one-hot"},
        "training-based inversion, leakage",
    ),
    (
        "digits-mlp",
        "training-based inversion (black-box)",
        "top-k",
        {"k": 1},
        "training-based inversion, leakage",
    ),
    (
        "digits-mlp",
        "mi-face",
        "bido",
        {"lambda_x": 0.5, "lambda_y": 5.0},
        "MI-Face, distance to class mean (higher = safer)",
    ),
    (
        "digits-mlp",
        "mi-face",
        "negative-label-smoothing",
        {"alpha": -0.2},
        "MI-Face, distance to class mean (higher = safer)",
    ),
    (
        "digits-mlp",
        "mi-face",
        "dp-sgd",
        {"epsilon": 1.0},
        "MI-Face, distance to class mean (higher = safer)",
    ),
    ("cohort-tree", "csmia", "label-only", {"release": "one-hot"}, "CSMIA, AUC"),
    ("cohort-tree", "lomia", "label-only", {"release": "one-hot"}, "LOMIA, accuracy"),
)
#: digits-gan rows of the root README: (defense, strength)
GAN_HEADLINE: tuple[tuple[str, dict[str, Any]], ...] = (
    ("negative-label-smoothing", {"alpha": -0.2}),
    ("bido", {"lambda_x": 0.5, "lambda_y": 5.0}),
    ("mid", {"beta": 0.1}),
    ("dp-sgd", {"epsilon": 8.0}),
)
GAN_ATTACKS = ("gmi", "kedmi", "plg-mi")
#: graph rows of the root README: (case, attack, defense, strength, label)
GRAPH_HEADLINE: tuple[tuple[str, str, str, dict[str, Any], str], ...] = (
    (
        "cora-gcn",
        "GraphMI (embedding read-out)",
        "dp-gnn",
        {"noise_multiplier": 0.05},
        "GraphMI AUC",
    ),
    ("cora-gcn", "link stealing attack-0", "graph-topk", {"k": 1}, "link stealing AUC"),
)
CASE_LABELS = {
    "digits-mlp": "digits MLP",
    "cohort-tree": "cohort tree",
    "digits-gan": "digits 0-4 CNN, GAN priors",
    "cora-gcn": "Cora GCN",
    "canary-lm": "canary LM",
    "fashion-mnist": "Fashion-MNIST CNN",
}


# ----------------------------------------------------------------------------------- cells
def _f(v: Any, nd: int = 3) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return str(v)


def _pm(v: Any, sd: Any, nd: int = 3) -> str:
    if v is None:
        return "-"
    return _f(v, nd) if sd is None else f"{v:.{nd}f} ± {sd:.{nd}f}"


def _value(r: dict, nd: int = 3) -> str:
    return _pm(r.get("value"), r.get("spread"), nd)


def _undefended(r: dict, nd: int = 3) -> str:
    return _pm(r.get("undefended"), r.get("undefended_spread"), nd)


def _utility(r: dict, key: str = "value") -> str:
    u = r.get("utility") or {}
    sd = u.get("spread" if key == "value" else "undefended_spread")
    return _pm(u.get(key), sd)


def _strength(r: dict) -> str:
    st = r.get("strength") or {}
    return (
        ", ".join(
            f"{k} {v}" for k, v in st.items() if k not in ("release", "measure") and v is not None
        )
        or "-"
    )


def _defense(r: dict) -> str:
    """The defense and its strength (``top-k k 1``; ``label-only``)."""
    st = _strength(r)
    return r["method"] if st == "-" else f"{r['method']} {st}"


def _verdicts(r: dict) -> str:
    """``effect <level>; leak <level>`` of a defended record (what is known)."""
    parts = []
    eff = r.get("defense_effect")
    if eff:
        parts.append(f"effect {eff['level']}")
    if r.get("leakage"):
        parts.append(f"leak {r['leakage']}")
    return "; ".join(parts)


def _seeds(r: dict) -> str:
    s = r.get("seed")
    return f"seeds {s}" if isinstance(s, list) else f"seed {s}"


def _records(doc: dict) -> list[dict]:
    return doc["records"]


def _find(doc: dict, case: str, attack: str, defense: str, strength: dict | None = None):
    for r in _records(doc):
        if (r["case"], r.get("attack"), r["method"]) != (case, attack, defense):
            continue
        if strength is None or (r.get("strength") or {}) == strength:
            return r
    return None


# ---------------------------------------------------------------------------------- tables
def headline(doc: dict) -> str:
    """Root README: one defense per row beside the undefended target, with the verdicts."""
    out = [
        "Mean ± sd over seeds where a row has them (each seed retrains the target and reruns "
        "the attack). *Effect*: the undefended against the defended figure by `mi_core.leakage` "
        "('not shown' = inside the seed spread); *leak*: the defended figure against the "
        "attack's no-model baseline.",
        "",
        "| case | attack | undefended (utility) | defense | defended (utility) | verdicts |",
        "|---|---|---|---|---|---|",
    ]
    for case, attack, defense, strength, label in HEADLINE:
        r = _find(doc, case, attack, defense, strength)
        if r is None:
            continue
        out.append(
            f"| {CASE_LABELS.get(case, case)} | {label} | {_undefended(r)} "
            f"({_utility(r, 'undefended')}) | {_defense(r)} | {_value(r)} "
            f"({_utility(r)}) | {_verdicts(r)} |"
        )
    # the GAN attacks: one row per defense, the three attacks in each cell
    for metric, what in (("leak_rate", "leak rate"), ("eval_top1", "eval top-1")):
        und = [
            next(
                (
                    r
                    for r in _records(doc)
                    if (r["case"], r.get("attack"), r["method"], r["metric"])
                    == ("digits-gan", a, "none", metric)
                ),
                None,
            )
            for a in GAN_ATTACKS
        ]
        if not all(und):
            continue
        own = " / ".join(_f((u.get("baseline") or {}).get("value"), 2) for u in und)
        und_cell = " / ".join(_pm(u["value"], u.get("spread"), 2) for u in und)
        for defense, strength in GAN_HEADLINE:
            rs = [
                next(
                    (
                        r
                        for r in _records(doc)
                        if (r["case"], r.get("attack"), r["method"], r["metric"])
                        == ("digits-gan", a, defense, metric)
                        and (r.get("strength") or {}) == strength
                    ),
                    None,
                )
                for a in GAN_ATTACKS
            ]
            if not all(rs):
                continue
            cell = " / ".join(_pm(r["value"], r.get("spread"), 2) for r in rs)
            verdicts = " / ".join((r.get("defense_effect") or {}).get("level", "-") for r in rs)
            out.append(
                f"| {CASE_LABELS['digits-gan']} | GMI / KEDMI / PLG-MI {what} (own prior "
                f"samples {own}) | {und_cell} ({_utility(und[0], 'value')}) | "
                f"{_defense(rs[0])} | {cell} ({_utility(rs[0])}) | effect {verdicts} |"
            )
    for case, attack, defense, strength, label in GRAPH_HEADLINE:
        r = _find(doc, case, attack, defense, strength)
        if r is None:
            continue
        bl = r.get("baseline") or {}
        out.append(
            f"| {CASE_LABELS.get(case, case)} | {label} ({bl.get('name', 'baseline')} "
            f"{_f(bl.get('value'))}) | {_undefended(r)} ({_utility(r, 'undefended')}) | "
            f"{_defense(r)} | {_value(r)} ({_utility(r)}) | {_verdicts(r)} |"
        )
    # text: the first figure of each attack on the canary LM under each defense
    seen = set()
    for r in _records(doc):
        if r["case"] != "canary-lm" or r["method"] == "none":
            continue
        key = (r.get("attack"), r["method"])
        if key in seen:
            continue
        seen.add(key)
        out.append(
            f"| {CASE_LABELS['canary-lm']} | {r.get('attack')}: {r['metric']} | "
            f"{_undefended(r)} ({r['utility']['metric']} {_utility(r, 'undefended')}) | "
            f"{_defense(r)} | {_value(r)} ({_utility(r)}) | {_verdicts(r)} |"
        )
    dp = dp_summary(doc)
    if dp:
        out += ["", dp]
    return "\n".join(out)


def dp_summary(doc: dict) -> str:
    """One sentence on the DP-SGD anchor (Fashion-MNIST)."""
    rows = [r for r in _records(doc) if r["case"] == "fashion-mnist"]
    dp = [r for r in rows if r["method"] == "dp-sgd"]
    if not dp:
        return ""
    by = {r["method"]: r for r in rows}
    parts = ", ".join(
        f"epsilon {r['strength'].get('epsilon')}: {_f(r['value'])} (opacus' own loop "
        f"{_f((r.get('anchor') or {}).get('value'))})"
        for r in dp
    )
    clips = ", ".join(
        f"{_f(r['value'])} at lr {r['strength'].get('lr')}"
        for r in rows
        if r["method"] == "control: clipping only"
    )
    sgd = by.get("control: sgd")
    return (
        f"DP-SGD on Fashion-MNIST (test accuracy, lr {dp[0].get('lr', '-')}): {parts}; "
        f"clipping without noise {clips or '-'}; the same SGD without clipping "
        f"{_f(sgd['value']) if sgd else '-'}; non-private Adam "
        f"{_f(by['none']['value']) if 'none' in by else '-'}."
    )


def dp_anchor(doc: dict) -> str:
    """Package README: DP-SGD on Fashion-MNIST beside opacus' own loop and the controls."""
    rows = [r for r in _records(doc) if r["case"] == "fashion-mnist"]
    if not rows:
        return "No Fashion-MNIST records in this file (its data was missing when the suite ran)."
    setup = next((r["notes"].split("; ", 1)[-1] for r in rows if "; " in r["notes"]), "")
    out = [
        f"Setup: {setup}.",
        "",
        "| run | lr | epsilon (spent) | noise multiplier | test accuracy | s "
        "| opacus' own loop: accuracy, s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        an = r.get("anchor") or {}
        st = r.get("strength") or {}
        sigma = r.get("noise_multiplier", st.get("noise_multiplier"))
        eps = st.get("epsilon")
        spent = r.get("epsilon_spent")
        eps_cell = "-" if eps is None else f"{eps} ({_f(spent, 2)})"
        if r["method"].startswith("control") and st.get("noise_multiplier") == 0.0:
            eps_cell = "∞ (no noise)"
        anchor = f"{_f(an.get('value'))}, {_f(an.get('seconds'), 0)}" if an.get("value") else "-"
        name = r["method"] if r["method"] != "none" else "none (non-private, Adam)"
        lr = st.get("lr", r.get("lr", "1e-3 (Adam)" if r["method"] == "none" else None))
        out.append(
            f"| {name} | {_f(lr)} | {eps_cell} | {_f(sigma, 2)} | {_value(r)} "
            f"| {_f(r.get('seconds'), 0)} | {anchor} |"
        )
    return "\n".join(out)


def modality(doc: dict, which: str) -> str:
    """Package README: per (case, attack, figure, defense) the figure / utility at each
    strength, with the verdicts, beside the undefended target."""
    rows = [r for r in _records(doc) if r.get("modality") == which and r["case"] != "fashion-mnist"]
    if not rows:
        return f"No {which} records in this file."
    out = [
        "| case | attack: figure | baseline | undefended: figure / utility | defense "
        "| strength: figure / utility [verdicts] | seeds |",
        "|---|---|---|---|---|---|---|",
    ]
    groups = dict.fromkeys((r["case"], r.get("attack"), r["metric"], r["method"]) for r in rows)
    for case, attack, metric, method in groups:
        if method == "none":
            continue
        pts = [
            r
            for r in rows
            if (r["case"], r.get("attack"), r["metric"], r["method"])
            == (case, attack, metric, method)
        ]
        # the undefended figure of the point with the most seeds (a --quick sweep runs its
        # non-headline points on seed 0 only; each cell's verdicts pair its own seeds)
        first = max(pts, key=lambda r: len(r["seed"]) if isinstance(r.get("seed"), list) else 1)
        bl = first.get("baseline") or {}
        arrow = "" if first["higher_is_better_for_attacker"] else " (lower = stronger)"
        und = f"{_undefended(first)} / {_utility(first, 'undefended')}"
        cells = []
        for r in pts:
            tags = _verdicts(r)
            cells.append(
                f"{_strength(r)}: {_value(r)} / {_utility(r)}" + (f" [{tags}]" if tags else "")
            )
        seeds = sorted({_seeds(r) for r in pts})
        base = _pm(bl.get("value"), first.get("baseline_spread"))
        out.append(
            f"| {case} | {attack}: {metric}{arrow} | {base} "
            f"| {und} ({first['utility']['metric']}) | {method} | {'; '.join(cells)} "
            f"| {', '.join(seeds)} |"
        )
    return "\n".join(out)


def _modality(which: str) -> Any:
    return lambda doc: modality(doc, which)


TABLES = {
    "headline": (RESULT, headline),
    "image": (RESULT, _modality("image")),
    "tabular": (RESULT, _modality("tabular")),
    "graph": (RESULT, _modality("graph")),
    "text": (RESULT, _modality("text")),
    "dp-anchor": (RESULT, dp_anchor),
}


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    path = Path(args[0]) if args else HERE / "results" / RESULT
    doc = json.loads(path.read_text())
    for table, (_, fn) in TABLES.items():
        print(f"\n### {table}\n")
        print(fn(doc))
