"""README tables of the text benchmark (``benchmarks/results/text[-quick].json``), rendered by
``benchmarks/render.py``: training-data extraction from the canary LM, counted on distinct
secrets, each attack beside the base model that never saw the canaries (the baseline, judged by
:mod:`mi_core.leakage`) and beside its own search switched off; every canary's exposure; the
canary LM's held-out perplexity beside the uniform guess.

    uv run python benchmarks/text_table.py [--quick]     # print the tables
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CASE = "smollm2-canaries"
NOT_RUN = (
    "*This results file predates the distinct-secret evaluation: run "
    "`uv run python benchmarks/run.py text [--quick]`, then `benchmarks/render.py`.*\n"
)


def _f(v: float | None, nd: int = 3) -> str:
    return "-" if v is None else f"{v:.{nd}f}"


def _ms(rec: dict[str, Any], nd: int = 3) -> str:
    """``mean ± spread`` of a record over seeds."""
    s = rec.get("spread")
    return _f(rec["value"], nd) if not s else f"{rec['value']:.{nd}f} ± {s:.{nd}f}"


def _leakage(rec: dict[str, Any]) -> Any:
    """The verdict of mi_core.leakage on a record (over its seeds where it has them)."""
    from mi_core.leakage import assess, assess_seeds

    base = rec.get("baseline") or {}
    if rec.get("values") and rec.get("baseline_values"):
        lk, _, _ = assess_seeds(
            rec["values"],
            rec["baseline_values"],
            higher_is_better=rec.get("higher_is_better_for_attacker", True),
            unit_interval=rec.get("unit_interval"),
            baseline_uses_target=bool(rec.get("baseline_uses_target")),
        )
    else:
        lk = assess(
            rec["value"],
            base.get("value"),
            higher_is_better=rec.get("higher_is_better_for_attacker", True),
            spread=rec.get("spread"),
            unit_interval=rec.get("unit_interval"),
            baseline_uses_target=bool(rec.get("baseline_uses_target")),
        )
    return lk


def _ranks(rec: dict[str, Any]) -> str:
    """Canaries found anywhere in the first seed's output and their ranks among its distinct
    outputs."""
    ranks = (rec.get("canary_ranks") or [{}])[0]
    outputs = (rec.get("outputs") or [None])[0]
    found = sorted(r for r in ranks.values() if r is not None)
    if not ranks:
        return "-"
    at = ", ".join(str(r) for r in found) or "none"
    return f"{len(found)}/{len(ranks)} at {at} (of {outputs})"


def _by(doc: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    by: dict[str, dict[str, dict[str, Any]]] = {}
    for r in doc["records"]:
        if r["case"] == CASE:
            by.setdefault(r["method"], {})[r["metric"]] = r
    return by


def extraction(doc: dict[str, Any]) -> str:
    """Distinct secrets in the top N per attack, beside the base model and the search off."""
    by = _by(doc)
    ppl = by.get("canary LM (fine-tuned target)", {}).get("heldout_perplexity")
    out = []
    if ppl:
        out.append(
            f"Canary LM: held-out perplexity **{ppl['value']:.1f}** (base SmolLM2 "
            f"{ppl['base_perplexity']:.1f}; uniform guess over the vocabulary "
            f"{ppl['baseline']['value']:,.0f}). {ppl['notes'].split('; held-out')[0]}.\n"
        )
    metric = next(
        (m for m in next(iter(by.values()), {}) if m.startswith("secret_recall@") and " " not in m),
        None,
    )
    if metric is None:
        return "\n".join(out) + NOT_RUN
    n = metric.split("@", 1)[1]
    prec = f"extraction_precision@{n}"
    reps = sorted(
        {m.split(" x", 1)[1] for m in next(iter(by.values())) if m.startswith(f"{metric} x")},
        key=int,
    )
    out.append(
        f"| attack | recall of the canaries in the top {n} (base model) | search off "
        f"| precision of {n} distinct samples (base model) | leakage | canaries anywhere in the "
        "output: found at ranks | "
        + " | ".join(f"recall x{r}" for r in reps)
        + " | s / run | queries |"
    )
    out.append("|---|---|---|---|---|---|" + "---|" * len(reps) + "---|---|")
    for method, m in by.items():
        if metric not in m:
            continue
        r, p = m[metric], m[prec]
        off = (r.get("search_off") or {}).get("value")
        same = method.startswith("random generation")
        out.append(
            f"| {method} | {_ms(r)} ({_f(r['baseline']['value'])}) "
            f"| {'-' if same else _f(off)} | {_ms(p)} ({_f(p['baseline']['value'])}) "
            f"| {_leakage(r).level} | {_ranks(m.get('canaries_in_output', {}))} | "
            + " | ".join(_ms(m[f"{metric} x{x}"], 2) for x in reps)
            + f" | {_f(r.get('seconds'), 0)} | {r.get('queries') or '-'} |"
        )
    seeds = next(iter(by.values()))[metric].get("seeds") or []
    out.append(
        f"\nMean ± spread over seeds {', '.join(map(str, seeds))}; each secret counts once and "
        "near-identical samples are dropped before ranking (Carlini et al. 2021's trigram "
        "rule). The baseline is the base model, which never saw the canaries; *search off* is "
        "the attack's own starting point (its ranking or search switched off: samples of the "
        "target, so not a baseline). *Random generation* is unranked sampling of the target: "
        "the secrets it finds are leakage. Ranks are the first seed's, among its distinct "
        "outputs. The difference beam search is deterministic (one run).\n"
    )
    return "\n".join(out)


def exposure(doc: dict[str, Any]) -> str:
    """Mean canary exposure per repetition count, fine-tuned target vs the base model."""
    by = _by(doc)
    rows = {
        k: v
        for k, v in by.items()
        if k.startswith("canary exposure") and all("per_canary" in r for r in v.values())
    }
    if not rows:
        return NOT_RUN
    metrics = list(next(iter(rows.values())))
    out = [
        "| estimator | "
        + " | ".join(f"{m} (base model)" for m in metrics)
        + " | leakage | per canary (target) |",
        "|---|" + "---|" * len(metrics) + "---|---|",
    ]
    for method, m in rows.items():
        per = " / ".join(
            ", ".join(
                f"{c['exposure_bits' if 'sample' in method else 'exposure_normal_bits']:.1f}"
                for c in m[x].get("per_canary", [])
            )
            for x in metrics
        )
        from mi_core.leakage import worst

        found = worst((x, _leakage(m[x])) for x in metrics)
        level = found[1].level if found else "-"
        out.append(
            f"| {method.split('(', 1)[1].rstrip(')')} | "
            + " | ".join(f"{_ms(m[x], 1)} ({_f(m[x]['baseline']['value'], 1)})" for x in metrics)
            + f" | {level} | {per} |"
        )
    first = next(iter(rows.values()))[metrics[0]]
    out.append(
        "\nExposure (Carlini et al. 2019) = log2 |R| - log2 rank of the canary among all "
        f"secrets of its format; {first['notes'].split(';')[0]}; spread over canaries.\n"
    )
    return "\n".join(out)


def other_cases(doc: dict[str, Any]) -> str:
    """Every record outside the canary LM (prompt inversion, embedding inversion, ...): one row
    per figure beside its baseline, with the verdict of mi_core.leakage."""
    recs = [r for r in doc["records"] if r["case"] != CASE]
    if not recs:
        return "*No records outside the canary LM in this file.*\n"
    out = [
        "| case | method | access | metric | value | baseline | leakage | queries | seconds |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in recs:
        base = r.get("baseline") or {}
        level = _leakage(r).level if base.get("value") is not None else "no baseline"
        name = f" ({base['name']})" if base.get("name") else ""
        out.append(
            f"| {r['case']} | {r['method']} | {r.get('access') or '-'} | {r['metric']} "
            f"| {_ms(r)} | {_f(base.get('value'))}{name} | {level} "
            f"| {r.get('queries') if r.get('queries') is not None else '-'} "
            f"| {_f(r.get('seconds'), 1)} |"
        )
    if not any(r.get("spread") for r in recs):
        out.append(
            "\nOne run each (no seed spread): the verdicts use the leakage rule's margin alone, so "
            "read a 'some' or 'high' on a small gap (e.g. BLEU) with care."
        )
    return "\n".join(out)


def slice2(doc: dict[str, Any]) -> str:
    """The second slice (``--preset slice2``): PII prompting, soft-prompt extraction and the
    divergence attack on the canary LM, each beside the base model that never saw the canaries
    (the baseline, judged by mi_core.leakage), its own starting point and no-model guesses."""
    target = ("heldout_perplexity", "dev_accuracy")  # the target's own record: its note below
    recs = [r for r in doc["records"] if r["metric"] not in target]
    out = [
        "| method | metric | target (mean ± spread) | model without the secrets (baseline) "
        "| other references "
        "| leakage | queries | seconds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in recs:
        base = r.get("baseline") or {}
        others = "; ".join(f"{k}: {_f(v)}" for k, v in (r.get("other_baseline") or {}).items())
        level = _leakage(r).level
        start = r.get("start_values")
        if start and r["value"] < sum(start) / len(start):  # the search lowers its own start
            level += ", below its own start"
        out.append(
            f"| {r['method']} | {r['metric']} | {_ms(r)} | {_f(base.get('value'))} "
            f"| {others or '-'} | {level} "
            f"| {r.get('queries') if r.get('queries') is not None else '-'} "
            f"| {_f(r.get('seconds'), 1)} |"
        )
    lm = [r for r in doc["records"] if r["metric"] in target]
    if lm:
        out.append(f"\nTarget: {lm[0]['notes']}.")
    return "\n".join(out)


TABLES = {
    "slice2-quick": ("text-slice2-quick.json", slice2),
    "relaxed-quick": ("text-relaxed-quick.json", slice2),
    "other": ("text.json", other_cases),
    "other-quick": ("text-quick.json", other_cases),
    "extraction": ("text.json", extraction),
    "extraction-quick": ("text-quick.json", extraction),
    "exposure": ("text.json", exposure),
    "exposure-quick": ("text-quick.json", exposure),
}


if __name__ == "__main__":
    name = "text-quick.json" if "--quick" in sys.argv else "text.json"
    doc = json.loads((HERE / "results" / name).read_text())
    print(extraction(doc))
    print(exposure(doc))
