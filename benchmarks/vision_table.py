"""Markdown tables of ``benchmarks/results/vision.json`` for the READMEs, rendered by
``benchmarks/render.py`` (``TABLES``); ``uv run python benchmarks/vision_table.py [--quick]``
prints them all."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CASE_TITLES = {
    "fashion-mnist": "Fashion-MNIST, 5 private classes",
    "att-faces": "AT&T faces, 20 private identities",
}


def _f(v: float | None, nd: int = 3) -> str:
    return "-" if v is None else f"{v:.{nd}f}"


def _ms(rec: dict | None, nd: int = 3) -> str:
    """``mean ± sd`` of a record over its seeds."""
    if rec is None:
        return "-"
    sd = rec.get("spread")
    n = len(rec.get("per_seed") or [])
    if sd is None or n < 2:
        return _f(rec["value"], nd)
    return f"{rec['value']:.{nd}f} ± {sd:.{nd}f}"


def _base(rec: dict | None, nd: int = 3) -> str:
    if rec is None or not rec.get("baseline"):
        return "-"
    return _f(rec["baseline"]["value"], nd)


def _gen(rec: dict | None, nd: int = 3) -> str:
    if rec is None or not rec.get("general_baseline"):
        return "-"
    return _f(rec["general_baseline"]["value"], nd)


def _verdict(rec: dict | None) -> str:
    if rec is None:
        return "-"
    level = rec.get("leakage") or "-"
    if rec.get("on_manifold") is False:
        level = "adversarial, not a reconstruction"
    return level


def _by(doc: dict) -> dict[str, dict[str, dict[str, dict]]]:
    out: dict[str, dict[str, dict[str, dict]]] = {}
    for r in doc["records"]:
        out.setdefault(r["case"], {}).setdefault(r["method"], {})[r["metric"]] = r
    return out


def _attacks(methods: dict[str, dict[str, dict]]) -> list[str]:
    return [m for m, recs in methods.items() if "eval_top1" in recs]


def headline(doc: dict) -> str:
    """Root README: leak rate and top-1 per attack and case, beside the attack's own prior."""
    by = _by(doc)
    cases = [c for c in CASE_TITLES if c in by]
    seeds = next((r.get("seed") for r in doc["records"] if r["metric"] == "leak_rate"), None)
    head = "| attack | access | " + " | ".join(
        f"{CASE_TITLES[c]}: leak rate (own prior) · search adds · top-1 (own / general prior) · "
        "verdict"
        for c in cases
    )
    out = [
        f"Mean ± sd over attack seeds {seeds}. *Leak rate*: share of reconstructions that an "
        "independent, calibrated evaluation model recognises AND that are no farther from the "
        "private class (KNN distance in its features) than the attack's own unoptimised prior "
        "samples; *own prior*: the same figure for those samples (the attack's starting point); "
        "*search adds*: the difference. Verdicts by `mi_core.leakage` (a gap inside the seed "
        "spread is 'not shown'; top-1 up while KNN or FID worsen is 'adversarial').",
        "",
        head + " |",
        "|---|---|" + "---|" * len(cases),
    ]
    methods = list(dict.fromkeys(m for c in cases for m in _attacks(by[c])))
    for m in methods:
        cells = []
        access = "-"
        for c in cases:
            recs = by[c].get(m, {})
            lr, t1 = recs.get("leak_rate"), recs.get("eval_top1")
            if t1 is None:
                cells.append("-")
                continue
            access = t1.get("access") or access
            adds = lr.get("search_adds") if lr else None
            cells.append(
                f"{_ms(lr, 2)} ({_base(lr, 2)}) · {'-' if adds is None else f'{adds:+.2f}'} · "
                f"{_ms(t1, 2)} ({_base(t1, 2)} / {_gen(t1, 2)}) · {_verdict(lr or t1)}"
            )
        out.append(f"| {m} | {access} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def case_table(doc: dict, case: str) -> str:
    """Package README: every figure of every attack on ``case``, each beside its own prior."""
    by = _by(doc).get(case)
    if not by:
        return f"No `{case}` records in this file (its data was missing when the suite ran)."
    out = []
    tgt = by.get("target", {}).get("test_accuracy")
    if tgt:
        cal = tgt.get("eval_calibration") or {}
        out.append(
            f"Target (SmallCNN) test accuracy {tgt['value']:.3f}, ECE "
            f"{_f(tgt.get('target_ece'))}; evaluation model (ResNetSmall, augmented, "
            f"temperature {_f(cal.get('temperature'), 2)} fitted on "
            f"{cal.get('heldout_size', '?')} held-out private images) test accuracy "
            f"{_f(tgt.get('eval_accuracy'))}, ECE {_f(tgt.get('eval_ece'))}.\n"
        )
    out.append(
        "Each cell: attack mean ± sd over seeds (own prior samples' mean). Distances: lower is "
        "closer to the private class.\n"
    )
    out.append(
        "| attack | access | leak rate | top-1 | top-5 | KNN dist | feature dist | FID eval-feat "
        "| PSNR | verdict | s / class | queries / class |"
    )
    out.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for m in _attacks(by):
        r = by[m]
        t1 = r["eval_top1"]
        q = t1.get("queries_per_class") if t1.get("access") != "white-box" else None

        def cell(metric: str, nd: int = 2, r: dict = r) -> str:
            rec = r.get(metric)
            return "-" if rec is None else f"{_ms(rec, nd)} ({_base(rec, nd)})"

        out.append(
            f"| {m} | {t1.get('access')} | {cell('leak_rate')} | {cell('eval_top1')} "
            f"| {cell('eval_top5')} | {cell('knn_distance', 0)} | {cell('feature_distance', 0)} "
            f"| {cell('fid_eval_features', 0)} | {cell('psnr', 1)} "
            f"| {_verdict(r.get('leak_rate') or t1)} "
            f"| {_f(t1.get('seconds_per_class'), 1)} | {'-' if q is None else f'{q:.0f}'} |"
        )
    out.append("")
    general = next(
        (r.get("general_baseline") for m in _attacks(by) for r in [by[m].get("leak_rate")] if r),
        None,
    )
    if general:
        out.append(
            f"General prior samples (the same for every attack): leak rate "
            f"{_f(general['value'], 2)}.\n"
        )
    for m in by.values():
        if "seconds_per_class" in m:
            s = m["seconds_per_class"]
            out.append(
                f"Batching ({s['notes']}): {s['value']:.2f} s per class in one batch vs "
                f"{s['anchor']['value']:.2f} s one class at a time.\n"
            )
    priors = [
        f"{method.split(':', 1)[1]} {m['train_seconds']['value']:.0f} s"
        for method, m in by.items()
        if method.startswith("prior:")
    ]
    if priors:
        out.append("Prior training (cached afterwards): " + ", ".join(priors) + ".")
    return "\n".join(out)


def mi_face(doc: dict) -> str:
    """Root README, Quick start: MI-Face on the digits demo target."""
    recs = {r["metric"]: r for r in doc["records"] if r["case"] == "digits"}
    if not recs:
        return "No digits records in this file."
    first = recs["eval_top1"]
    out = [
        f"MI-Face, 3000 steps, on the demo target (softmax regression on sklearn's 8x8 digits, "
        f"test accuracy {first['target_test_accuracy']:.2f}), retrained with seeds "
        f"{first['seed']}; a calibrated CNN judges the reconstructions; mean ± sd:",
        "",
        "| figure | MI-Face | baseline (uniform noise) | verdict |",
        "|---|---|---|---|",
    ]
    names = {
        "leak_rate": "leak rate (recognised and on the manifold)",
        "eval_top1": "evaluation top-1",
        "eval_top5": "evaluation top-5",
        "knn_distance": "KNN distance to the private class",
    }
    for metric, label in names.items():
        r = recs.get(metric)
        if r is None:
            continue
        nd = 1 if metric == "knn_distance" else 2
        out.append(f"| {label} | {_ms(r, nd)} | {_base(r, nd)} | {_verdict(r)} |")
    return "\n".join(out)


def _case(name: str) -> Any:
    return lambda doc: case_table(doc, name)


def _settings(doc: dict) -> str:
    """What run the figures come from (a quick run says so, with its limits)."""
    if not doc.get("quick"):
        return ""
    return (
        "*Quick settings* (`benchmarks/run.py vision --quick --seeds 3`): Fashion-MNIST only, "
        "priors of 50-60 steps (blurry samples), searches of 15% of the full steps; the full "
        "run (AT&T faces, priors of 600-2,000 steps) writes `vision.json`.\n\n"
    )


def _with_settings(fn: Any) -> Any:
    return lambda doc: _settings(doc) + fn(doc)


def diffusion(doc: dict) -> str:
    """mi-vision README: the diffusion attacks beside the best GAN attack of each access level
    (``benchmarks/run.py vision --preset diffusion``)."""
    by = _by(doc).get("fashion-mnist")
    if not by:
        return "No Fashion-MNIST records in this file."
    seeds = next((r.get("seed") for r in doc["records"] if r["metric"] == "leak_rate"), None)
    out = [
        f"Fashion-MNIST (private classes 0-4, public 5-9), mean ± sd over attack seeds {seeds}; "
        "each cell: the attack (its own prior's unoptimised samples). The diffusion prior and "
        "the GAN priors are those of the same run (GAN priors: the quick vision run's).\n",
        "| attack | prior | access | leak rate | search adds | top-1 | KNN dist | FID eval-feat "
        "| verdict | s / run | queries |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in _attacks(by):
        r = by[m]
        lr, t1 = r.get("leak_rate"), r["eval_top1"]
        adds = lr.get("search_adds") if lr else None

        def cell(metric: str, nd: int = 2, r: dict = r) -> str:
            rec = r.get(metric)
            return "-" if rec is None else f"{_ms(rec, nd)} ({_base(rec, nd)})"

        q = t1.get("queries")
        out.append(
            f"| {m} | {t1.get('family', '-')} | {t1.get('access')} | {cell('leak_rate')} "
            f"| {'-' if adds is None else f'{adds:+.2f}'} | {cell('eval_top1')} "
            f"| {cell('knn_distance', 0)} | {cell('fid_eval_features', 0)} "
            f"| {_verdict(lr or t1)} | {_f(t1.get('seconds'), 0)} "
            f"| {'-' if q is None else q} |"
        )
    p = by.get("prior:diffusion", {}).get("train_seconds")
    if p:
        out.append(
            f"\nDiffusion prior: {p['notes']}; {p['value']:.0f} s, {p.get('queries')} label "
            "queries."
        )
    return "\n".join(out)


def extraction(doc: dict) -> str:
    """mi-vision README: extraction from a DDPM and a GAN trained on repeated private images."""
    by = _by(doc).get("fashion-mnist-extraction")
    if not by:
        return "No extraction records in this file."
    out = [
        "Generators trained on private Fashion-MNIST images of which some are repeated; each "
        "cell: the attack (as many unfiltered random samples of the same generator), mean over "
        "seeds. *Precision*: share of flagged images whose nearest training image lies within "
        "the threshold; *distinct*: training images so extracted; per level: share of that "
        "level's images extracted.\n",
    ]
    levels: list[str] = []
    for m in by.values():
        d = m.get("distinct_extracted")
        if d and d.get("per_level"):
            levels = list(d["per_level"])
            break
    out.append(
        "| attack | generator | access | precision | distinct extracted | "
        + " | ".join(f"{lv}" for lv in levels)
        + " | flagged |"
    )
    out.append("|---|---|---|---|---|" + "---|" * len(levels) + "---|")
    for name, m in by.items():
        if name.startswith("prior:"):
            continue
        p, d = m.get("flagged_precision"), m.get("distinct_extracted")
        if d is None:
            continue
        pl, bl = d.get("per_level") or {}, d.get("baseline_per_level") or {}
        prec = "- (nothing flagged)" if p is None else f"{_ms(p, 2)} ({_base(p, 2)})"
        out.append(
            f"| {name} | {d.get('family')} | {d.get('access')} | {prec} "
            f"| {_ms(d, 1)} ({_base(d, 1)}) | "
            + " | ".join(f"{pl.get(lv, 0):.2f} ({bl.get(lv, 0):.2f})" for lv in levels)
            + f" | {d.get('flagged')} |"
        )
    first = next(
        (m.get("distinct_extracted") for m in by.values() if "distinct_extracted" in m), None
    )
    if first:
        out.append(f"\n{first['notes']}.")
    trained = [
        f"{n.split(':', 1)[1]}: {m['train_seconds']['notes']}, "
        f"{_f(m['train_seconds']['value'], 0)} s"
        for n, m in by.items()
        if n.startswith("prior:")
    ]
    if trained:
        out.append("\n" + "; ".join(trained) + ".")
    return "\n".join(out)


#: README blocks read the quick run (3 seeds): the full run takes hours on 2 cores and was last
#: made before the evaluation protocol (own-prior baselines, calibrated judge, leak rate)
TABLES = {
    "headline": ("vision-quick.json", _with_settings(headline)),
    "mi-face": ("vision-quick.json", mi_face),
    "fashion-mnist": ("vision-quick.json", _with_settings(_case("fashion-mnist"))),
    "att-faces": ("vision.json", _case("att-faces")),
    "diffusion": ("vision-diffusion-quick.json", diffusion),
    "extraction": ("vision-diffusion-quick.json", extraction),
}


if __name__ == "__main__":
    name = "vision-quick.json" if "--quick" in sys.argv else "vision.json"
    doc = json.loads((HERE / "results" / name).read_text())
    print(headline(doc))
    for c in CASE_TITLES:
        print(f"\n### {c}\n")
        print(case_table(doc, c))
