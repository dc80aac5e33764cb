"""A self-contained HTML report (images and charts inlined, readable offline).

Sections: a risk summary per target (each attack's figure, its baseline and the gap), the
privacy-utility comparison of defenses, then per cell the evidence a person wants to see.

Evidence comes from the saved :class:`~mi_core.result.AttackResult` by these conventions, which
evaluators follow:

* images: ``reconstructions`` (N, C, H, W) and ``arrays["class_means"]``: shown as a grid,
  reconstructions above the private class means;
* text: ``reconstructions`` a list of strings and ``info["secrets"]`` the private strings (PII,
  canaries) to highlight where they were recovered;
* scores against ground truth (edges, attributes): ``arrays["eval_scores"]`` and
  ``arrays["eval_labels"]`` (binary) give ROC and precision-recall curves;
* attribute inference: ``arrays["confusion"]`` (K x K, rows true) and ``info["classes"]`` give a
  confusion matrix.

Modality packages may add renderers with :func:`register_evidence`.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from mi_core.io import atomic_write_json, atomic_write_text, is_tensor
from mi_core.leakage import assess_figure
from mi_core.report.svg import line_chart, scatter_chart
from mi_core.result import AttackResult

EvidenceRenderer = Callable[[AttackResult], str]
_EVIDENCE: dict[str, EvidenceRenderer] = {}


def register_evidence(modality: str) -> Callable[[EvidenceRenderer], EvidenceRenderer]:
    def deco(fn: EvidenceRenderer) -> EvidenceRenderer:
        _EVIDENCE[modality] = fn
        return fn

    return deco


def esc(x: Any) -> str:
    return html.escape(str(x), quote=True)


def img_tag(png: bytes, alt: str, width: int | None = None) -> str:
    data = base64.b64encode(png).decode("ascii")
    w = f' width="{width}"' if width else ""
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{data}"{w}>'


def fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.3f}"
    return esc(v)


@register_evidence("image")
def image_evidence(result: AttackResult) -> str:
    """Reconstructions (top row) beside the private class means (bottom row), one column per
    target class."""
    from mi_core.report.images import grid_image, png_bytes

    rec = result.reconstructions
    if not is_tensor(rec) or rec.ndim != 4:
        return "<p>No image reconstructions.</p>"
    rows = [rec[:20]]
    caption = "Top: reconstructions"
    means = result.arrays.get("class_means")
    if means is not None and len(means) >= min(len(rec), 20):
        rows.append(means[: min(len(rec), 20)])
        caption += "; bottom: mean private image of the same class (never seen by the attack)"
    scale = max(1, 64 // rec.shape[-1])
    png = png_bytes(grid_image(rows, scale=scale))
    targets = result.targets
    labels = ""
    if targets is not None:
        t = targets.tolist() if hasattr(targets, "tolist") else list(targets)
        labels = f"<p class=small>Target classes: {esc(t[:20])}</p>"
    return (
        f"<figure>{img_tag(png, 'reconstructions')}<figcaption>{esc(caption)}</figcaption>"
        f"</figure>{labels}"
    )


@register_evidence("text")
def text_evidence(result: AttackResult) -> str:
    """Recovered strings, private strings highlighted where they were recovered."""
    rec = result.reconstructions
    if not isinstance(rec, list) or not rec or not all(isinstance(r, str) for r in rec):
        return ""
    secrets = [s for s in result.info.get("secrets", []) if isinstance(s, str) and s]
    items = []
    for text in rec[:12]:
        body = esc(text)
        for sec in sorted(secrets, key=len, reverse=True):
            body = body.replace(esc(sec), f"<mark>{esc(sec)}</mark>")
        items.append(f"<li><code>{body}</code></li>")
    more = f"<p class=small>{len(rec) - 12} more not shown.</p>" if len(rec) > 12 else ""
    note = (
        "<p class=small>Highlighted: private strings of the training data found in the "
        "recovered text.</p>"
        if secrets
        else ""
    )
    return f"<ol class=texts>{''.join(items)}</ol>{more}{note}"


def curves_evidence(result: AttackResult) -> str:
    """ROC and precision-recall curves of scores against ground truth."""
    from mi_core.errors import MetricError
    from mi_core.metrics.ranking import average_precision, roc_auc, roc_curve

    s, y = result.arrays.get("eval_scores"), result.arrays.get("eval_labels")
    if s is None or y is None:
        return ""
    s_np = np.asarray(s, dtype=np.float64).reshape(-1)
    y_np = np.asarray(y).reshape(-1).astype(int)
    try:
        fpr, tpr = roc_curve(s_np, y_np)
        auc, ap = roc_auc(s_np, y_np), average_precision(s_np, y_np)
    except MetricError as exc:
        return f"<p class=small>No curves: {esc(exc)}</p>"
    order = np.argsort(-s_np, kind="mergesort")
    tp = np.cumsum(y_np[order])
    precision = tp / np.arange(1, len(tp) + 1)
    recall = tp / max(1, y_np.sum())
    roc = line_chart(
        [(f"AUC {auc:.3f}", fpr.tolist(), tpr.tolist())],
        title="ROC",
        xlabel="false positive rate",
        ylabel="true positive rate",
        diagonal=True,
    )
    base = float(y_np.mean())
    pr = line_chart(
        [
            (f"AP {ap:.3f}", recall.tolist(), precision.tolist()),
            (f"chance {base:.3f}", [0.0, 1.0], [base, base]),
        ],
        title="Precision-recall",
        xlabel="recall",
        ylabel="precision",
    )
    return f"<div class=charts>{roc}{pr}</div>"


def confusion_evidence(result: AttackResult) -> str:
    """A confusion matrix of inferred vs true attribute values."""
    cm = result.arrays.get("confusion")
    if cm is None:
        return ""
    m = np.asarray(cm, dtype=np.float64)
    classes = result.info.get("classes") or [str(i) for i in range(m.shape[0])]
    top = m.max() or 1.0
    head = "".join(f"<th>{esc(c)}</th>" for c in classes)
    rows = []
    for i, c in enumerate(classes):
        cells = "".join(
            f"<td class=num style='background:rgba(31,119,180,{m[i, j] / top:.2f})'>"
            f"{int(m[i, j])}</td>"
            for j in range(m.shape[1])
        )
        rows.append(f"<tr><th>{esc(c)}</th>{cells}</tr>")
    return (
        "<table class=confusion><caption>Confusion matrix (rows: true value, columns: "
        f"inferred)</caption><tr><th></th>{head}</tr>{''.join(rows)}</table>"
    )


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:1100px;padding:0 1rem;color:#1d1d1f;line-height:1.45}
h1{font-size:1.7rem;margin-bottom:.2rem} h2{margin-top:2.2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;width:100%;font-size:.92rem;margin:.8rem 0}
th,td{border:1px solid #ddd;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f5f5f7} td.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#0a7d32}.warn{color:#b25000}.bad{color:#b00020}.small{font-size:.85rem;color:#555}
figure{margin:.8rem 0} figcaption{font-size:.85rem;color:#555} img{image-rendering:pixelated}
section.cell{border:1px solid #e5e5e5;border-radius:8px;padding:.4rem 1rem;margin:1rem 0}
.charts svg{margin-right:1rem} mark{background:#ffd54f} table.confusion{width:auto}
table.confusion caption{caption-side:top;text-align:left;
white-space:nowrap;font-size:.85rem;color:#555}
ol.texts code{white-space:pre-wrap}
"""

# After load, report broken images on the console and count them on <body> (tests read it).
_CHECK_IMAGES = (
    "<script>window.addEventListener('load',function(){var bad=0;for(const i of "
    "document.images){if(!(i.complete&&i.naturalWidth>0)){bad++;"
    "console.error('image failed to load: '+i.alt)}}"
    "document.body.setAttribute('data-broken-images',String(bad))});</script>"
)


def _risk(fig: dict[str, Any]) -> tuple[str, str]:
    """The leakage level of a figure (the one rule of :mod:`mi_core.leakage`) and its CSS class."""
    lk = assess_figure(fig)
    return lk.level, lk.css


def _target(rec: dict[str, Any]) -> str:
    return str(rec.get("target") or rec["spec"].get("target") or rec["spec"]["case"])


def _summary(records: list[dict[str, Any]]) -> str:
    """One table per target: each cell's first figures beside baselines and the gap."""
    parts = []
    targets = list(dict.fromkeys(_target(r) for r in records))
    for t in targets:
        rows = []
        for rec in (r for r in records if _target(r) == t):
            spec = rec["spec"]
            status = rec.get("status")
            base = (
                f"<td><a href='#{esc(rec['id'])}'>{esc(spec['attack'])}</a></td>"
                f"<td>{esc(spec['access'])}</td><td>{esc(spec.get('defense') or 'none')}</td>"
            )
            if status != "ok":
                cls = "warn" if status == "not-applicable" else "bad"
                rows.append(
                    f"<tr>{base}<td colspan=5 class={cls}>{esc(status)}: "
                    f"{esc(rec.get('message', ''))}</td></tr>"
                )
                continue
            for fig in rec.get("figures", [])[:2]:
                bl = fig.get("baseline") or {}
                risk, cls = _risk(fig)
                rows.append(
                    f"<tr>{base}<td>{esc(fig['metric'])}</td>"
                    f"<td class=num>{fmt(fig['value'])}</td>"
                    f"<td class=num>{fmt(bl.get('value'))} <span class=small>"
                    f"{esc(bl.get('name') or '')}</span></td>"
                    f"<td class=num>{fmt(fig.get('gap'))}</td><td class={cls}>{esc(risk)}</td></tr>"
                )
        parts.append(
            f"<h3>Target: {esc(t)}</h3><table><thead><tr><th>attack</th><th>access</th>"
            "<th>defense</th><th>metric</th><th>value</th><th>baseline</th><th>gap</th>"
            f"<th>leakage</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        )
    return "".join(parts)


def _privacy_utility(records: list[dict[str, Any]]) -> str:
    """Per (target, attack): attack figure vs utility, undefended and under each defense."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for rec in records:
        if rec.get("status") == "ok" and rec.get("figures") and rec.get("utility"):
            groups.setdefault((_target(rec), rec["spec"]["attack"]), []).append(rec)
    charts, rows = [], []
    for (target, attack), recs in groups.items():
        if not any(r["spec"].get("defense") for r in recs):
            continue
        metric = recs[0]["figures"][0]["metric"]
        umetric = next(iter(recs[0]["utility"]))
        points = []
        for r in recs:
            fig = next((f for f in r["figures"] if f["metric"] == metric), None)
            if fig is None or umetric not in r["utility"]:
                continue
            label = r["spec"].get("defense") or "undefended"
            cfg = r["spec"].get("defense_config") or {}
            if cfg:
                label += " " + ",".join(f"{k}={v}" for k, v in cfg.items())
            points.append((label, float(r["utility"][umetric]), float(fig["value"])))
            rows.append(
                f"<tr><td>{esc(target)}</td><td>{esc(attack)}</td><td>{esc(label)}</td>"
                f"<td>{esc(umetric)}</td><td class=num>{fmt(points[-1][1])}</td>"
                f"<td>{esc(metric)}</td><td class=num>{fmt(points[-1][2])}</td></tr>"
            )
        if len(points) >= 2:
            charts.append(
                scatter_chart(points, title=f"{target}: {attack}", xlabel=umetric, ylabel=metric)
            )
    if not rows:
        return "<p>No defenses were compared in this audit.</p>"
    return (
        f"<div class=charts>{''.join(charts)}</div><table><tr><th>target</th><th>attack</th>"
        "<th>defense</th><th>utility</th><th>value</th><th>attack figure</th><th>value</th>"
        f"</tr>{''.join(rows)}</table>"
    )


def render_report(
    records: list[dict[str, Any]], workdir: str | Path, *, title: str = "Model inversion audit"
) -> Path:
    """Write ``workdir/report/index.html`` and ``workdir/report/results.json``; return the HTML
    path."""
    root = Path(workdir)
    out = root / "report"
    n_ok = sum(r.get("status") == "ok" for r in records)
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        "<meta name=viewport content='width=device-width, initial-scale=1'>",
        f"<title>{esc(title)}</title><style>{_CSS}</style>{_CHECK_IMAGES}</head><body>",
        f"<h1>{esc(title)}</h1>",
        f"<p class=small>{len(records)} cells, {n_ok} ran. Each figure is the attack's, beside "
        "the baseline an attacker gets without the model's help; the gap is the model's leakage "
        "(positive: the attack does better than the baseline).</p>",
        "<nav class=small><a href='#summary'>Risk summary</a> · "
        "<a href='#privacy-utility'>Privacy-utility</a> · <a href='#evidence'>Evidence</a></nav>",
        "<section id=summary><h2>Risk summary</h2>",
        _summary(records),
        "</section><section id=privacy-utility><h2>Privacy-utility</h2>",
        _privacy_utility(records),
        "</section><section id=evidence><h2>Evidence</h2>",
    ]
    for rec in records:
        spec = rec["spec"]
        head = f"{_target(rec)} · {spec['attack']} · {spec['access']}"
        if spec.get("defense"):
            head += f" · defense {spec['defense']}"
        parts.append(f"<section class=cell id='{esc(rec['id'])}'><h3>{esc(head)}</h3>")
        if rec.get("status") != "ok":
            parts.append(f"<p>{esc(rec.get('status'))}: {esc(rec.get('message', ''))}</p>")
            parts.append("</section>")
            continue
        parts.append(
            f"<p class=small>queries: {fmt(rec.get('queries'))} · seconds: "
            f"{fmt(rec.get('seconds'))}"
            + (
                " · utility: " + ", ".join(f"{esc(k)} {fmt(v)}" for k, v in rec["utility"].items())
                if rec.get("utility")
                else ""
            )
            + "</p>"
        )
        result = AttackResult.load(root / "cells" / rec["id"])
        renderer = _EVIDENCE.get(result.modality)
        if renderer is not None:
            parts.append(renderer(result))
        parts.append(curves_evidence(result))
        parts.append(confusion_evidence(result))
        parts.append("<table><tr><th>metric</th><th>value</th><th>baseline</th><th>gap</th></tr>")
        for fig in rec.get("figures", []):
            bl = fig.get("baseline") or {}
            parts.append(
                f"<tr><td>{esc(fig['metric'])}</td><td class=num>{fmt(fig['value'])}</td>"
                f"<td class=num>{fmt(bl.get('value'))} {esc(bl.get('name') or '')}</td>"
                f"<td class=num>{fmt(fig.get('gap'))}</td></tr>"
            )
        parts.append("</table></section>")
    parts.append("</section></body></html>")
    path = atomic_write_text(out / "index.html", "\n".join(parts))
    atomic_write_json(out / "results.json", {"title": title, "cells": records})
    return path
