"""Markdown tables of ``benchmarks/results/tabular.json`` for the READMEs, rendered by
``benchmarks/render.py`` (``TABLES``); ``uv run python benchmarks/tabular_table.py [--quick]``
prints them all.

Every figure is the mean ± sd over the seeds the record ran on (each seed re-splits the data and
retrains the target); verdicts are the record's ``leakage`` (``mi_core.leakage.assess_seeds``: a
gap to the baseline inside the spread of the per-seed gaps is "not shown")."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

#: root README rows: (case, method, label)
HEADLINE = (
    (
        "iwpc-vkorc1",
        "fredrikson-map (learned prior)",
        "IWPC VKORC1, linear dose model, MAP (learned prior)",
    ),
    (
        "iwpc-vkorc1-poisoning",
        "poisoning-inversion",
        "IWPC VKORC1, poisoning, attacker knows no attribute",
    ),
    ("adult-married-tree", "fredrikson-tree-wb", "Adult married, decision tree, white-box (paper)"),
    (
        "adult-married-tree",
        "bb-attribute-inference",
        "Adult married, decision tree, learned attack",
    ),
    ("adult-married-mlp", "bb-attribute-inference", "Adult married, MLP, learned attack"),
)
IWPC_CASES = {
    "iwpc-vkorc1": "VKORC1",
    "iwpc-cyp2c9": "CYP2C9",
    "iwpc-vkorc1-poisoning": "VKORC1, attacker knows no attribute",
}
ADULT_CASES = {"adult-married-tree": "tree", "adult-married-mlp": "MLP"}


def _f(v: float | None, nd: int = 3) -> str:
    return "-" if v is None else f"{v:.{nd}f}"


def _pm(v: float | None, sd: float | None, nd: int = 3) -> str:
    """``mean ± sd`` (the mean alone without a spread)."""
    if v is None:
        return "-"
    return _f(v, nd) if sd is None else f"{v:.{nd}f} ± {sd:.{nd}f}"


def _signed(v: float | None, sd: float | None = None) -> str:
    if v is None:
        return "-"
    s = f"{v:+.3f}".replace("-", "−")
    return s if sd is None else f"{s} ± {sd:.3f}"


def _ms(rec: dict) -> str:
    return _pm(rec.get("value"), rec.get("spread"))


def _base(rec: dict) -> str:
    bl = rec.get("baseline") or {}
    return _pm(bl.get("value"), rec.get("baseline_spread"))


def _seeds(doc: dict) -> str:
    seeds = sorted({s for r in doc["records"] for s in _as_list(r.get("seed"))})
    art = sorted(
        {s for r in doc["records"] if r["method"].startswith("ART") for s in _as_list(r["seed"])}
    )
    out = f"Mean ± sd over seeds {seeds} (each re-splits the data and retrains the target)"
    if art and art != seeds:
        out += f"; ART's attacks ran on seeds {art}"
    return out + "."


def _as_list(v: Any) -> list:
    return v if isinstance(v, list) else [] if v is None else [v]


def _by(doc: dict) -> dict[tuple[str, str], dict]:
    return {(r["case"], r["method"]): r for r in doc["records"]}


def _art(rec: dict) -> tuple[str, str]:
    """``(ART's figure, speed-up)`` cells of a record's ART anchor."""
    an = rec.get("anchor") or {}
    if not an.get("name", "").startswith("ART"):
        return "-", "-"
    sp = an.get("speedup")
    return _pm(an.get("value"), an.get("spread")), "-" if sp is None else f"{sp:.0f}×"


def headline(doc: dict) -> str:
    """Root README: the headline attacks beside the no-model imputation and ART."""
    by = _by(doc)
    out = [
        f"{_seeds(doc)} Attribute accuracy; *no-model*: a predictor of the sensitive attribute "
        "from the attacker's knowledge alone (the model's leakage is the gap); verdict by "
        "`mi_core.leakage` (a gap inside the seed spread is 'not shown').",
        "",
        "| case | ours | baseline | gap → verdict | ART (same fitted model) | speed-up vs ART |",
        "|---|---|---|---|---|---|",
    ]
    for case, method, label in HEADLINE:
        r = by.get((case, method))
        if r is None:
            continue
        bl = r.get("baseline") or {}
        base = f"{_base(r)} ({bl.get('name', '-')})"
        an = r.get("anchor") or {}
        if an.get("name", "").startswith("same inversion before poisoning"):
            base += f"; before poisoning {_pm(an.get('value'), an.get('spread'))}"
        art, speed = _art(r)
        if art == "-" and case.startswith("iwpc"):
            art = "no MAP / poisoning attack"
        verdict = f"{_signed(r.get('gap'), r.get('gap_spread'))} → {r.get('leakage', '-')}"
        out.append(f"| {label} | {_ms(r)} | {base} | {verdict} | {art} | {speed} |")
    return "\n".join(out)


def iwpc(doc: dict) -> str:
    """Package README: every IWPC row."""
    rows = [r for r in doc["records"] if r["case"] in IWPC_CASES]
    if not rows:
        return "No IWPC records in this file (its data was missing when the suite ran)."
    out = [
        f"{_seeds(doc)} *gap* = attack − baseline (no-model imputation; prior for the "
        "poisoning row) ± sd of the per-seed gaps.",
        "",
        "| case | method | accuracy | prior | no-model | ideal | gap | verdict | s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        nm = "-" if r.get("no_model") is None else _base(r)
        ideal = r.get("ideal")
        if r["case"] == "iwpc-vkorc1-poisoning":
            an = r.get("anchor") or {}
            ideal = None
            nm = f"– (before poisoning {_pm(an.get('value'), an.get('spread'))})"
        out.append(
            f"| {IWPC_CASES[r['case']]} | {r['method']} | {_ms(r)} | {_f(r.get('prior_only'))} "
            f"| {nm} | {_f(ideal)} | {_signed(r.get('gap'), r.get('gap_spread'))} "
            f"| {r.get('leakage', '-')} | {_f(r.get('seconds'), 2)} |"
        )
    p = next((r for r in rows if r["method"] == "poisoning-inversion"), None)
    if p is not None and p.get("poison_records") is not None:
        out.append("")
        out.append(
            f"Poisoning (means over seeds): {p['poison_records']:.0f} contributed records "
            f"({p.get('poison_share', 0):.0%} of training), training size estimated "
            f"{p.get('estimated_train_size', 0):.0f} (true {p.get('train_size', 0):.0f}); "
            f"service RMSE {_f(p.get('service_rmse_before'), 2)} → "
            f"{_f(p.get('service_rmse_after'), 2)} on held-out patients."
        )
    return "\n".join(out)


def adult(doc: dict) -> str:
    """Package README: every Adult row, ours beside ART's attacks on the same fitted models."""
    rows = [r for r in doc["records"] if r["case"] in ADULT_CASES]
    if not rows:
        return "No Adult records in this file (its data was missing when the suite ran)."
    out = [
        f"{_seeds(doc)} *gap* = attack − no-model imputation ± sd of the per-seed gaps; "
        "*in training*: the same gap on the attacked training records only.",
        "",
        "| case | method | accuracy | no-model | gap | verdict | in training: gap → verdict "
        "| AUC | s | ART anchor (acc) | speed-up |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        tr = r.get("in_training") or {}
        inside = (
            f"{_signed(tr.get('gap'), tr.get('gap_spread'))} → {tr.get('leakage')}"
            if tr.get("leakage")
            else "-"
        )
        art, speed = _art(r)
        out.append(
            f"| {ADULT_CASES[r['case']]} | {r['method']} | {_ms(r)} | {_base(r)} "
            f"| {_signed(r.get('gap'), r.get('gap_spread'))} | {r.get('leakage', '-')} "
            f"| {inside} | {_f(r.get('auc'))} | {_f(r.get('seconds'), 2)} | {art} | {speed} |"
        )
    prior = next((r.get("prior_only") for r in rows if r.get("prior_only") is not None), None)
    if prior is not None:
        out += ["", f"Prior-only guess (most frequent value): {prior:.3f}."]
    return "\n".join(out)


TABLES = {
    "headline": ("tabular.json", headline),
    "iwpc": ("tabular.json", iwpc),
    "adult": ("tabular.json", adult),
}


if __name__ == "__main__":
    name = "tabular-quick.json" if "--quick" in sys.argv else "tabular.json"
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    path = Path(args[0]) if args else HERE / "results" / name
    doc = json.loads(path.read_text())
    for table, (_, fn) in TABLES.items():
        print(f"\n### {table}\n")
        print(fn(doc))
