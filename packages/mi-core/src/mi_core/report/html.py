"""A self-contained HTML report (images inlined, no scripts, readable offline).

Sections: a risk summary (per target and attack: figure, baseline, gap), then per cell the
evidence a person wants to see. Evidence renderers are chosen by the result's modality; modality
specific renderers register with :func:`register_evidence`.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from mi_core.io import atomic_write_json, atomic_write_text
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
    if not isinstance(rec, torch.Tensor) or rec.ndim != 4:
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
"""


def _risk(gap: float | None) -> tuple[str, str]:
    if gap is None:
        return "–", ""
    if gap > 0.1:
        return "high", "bad"
    if gap > 0.02:
        return "some", "warn"
    return "none found", "ok"


def _summary_rows(records: list[dict[str, Any]]) -> str:
    rows = []
    for rec in records:
        spec = rec["spec"]
        status = rec.get("status")
        base = (
            f"<td>{esc(spec['case'])}</td><td>{esc(spec['attack'])}</td>"
            f"<td>{esc(spec['access'])}</td><td>{esc(spec.get('defense') or 'none')}</td>"
        )
        if status != "ok":
            cls = "warn" if status == "not-applicable" else "bad"
            rows.append(
                f"<tr>{base}<td colspan=5 class={cls}>{esc(status)}: "
                f"{esc(rec.get('message', ''))}</td></tr>"
            )
            continue
        for fig in rec.get("figures", [])[:3]:
            bl = fig.get("baseline") or {}
            risk, cls = _risk(fig.get("gap"))
            rows.append(
                f"<tr>{base}<td>{esc(fig['metric'])}</td><td class=num>{fmt(fig['value'])}</td>"
                f"<td class=num>{fmt(bl.get('value'))} <span class=small>"
                f"{esc(bl.get('name') or '')}</span></td><td class=num>{fmt(fig.get('gap'))}</td>"
                f"<td class={cls}>{esc(risk)}</td></tr>"
            )
    return "\n".join(rows)


def render_report(
    records: list[dict[str, Any]], workdir: str | Path, *, title: str = "Model inversion audit"
) -> Path:
    """Write ``workdir/report/index.html`` and ``workdir/report/results.json``; return the HTML
    path."""
    root = Path(workdir)
    out = root / "report"
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        "<p class=small>Each figure is the attack's, beside the baseline an attacker gets "
        "without the model's help; the gap is the model's leakage (positive = the attack does "
        "better than the baseline).</p>",
        "<h2 id=summary>Risk summary</h2><table><thead><tr><th>target</th><th>attack</th>"
        "<th>access</th><th>defense</th><th>metric</th><th>value</th><th>baseline</th>"
        "<th>gap</th><th>leakage</th></tr></thead><tbody>",
        _summary_rows(records),
        "</tbody></table>",
        "<h2 id=evidence>Evidence</h2>",
    ]
    for rec in records:
        spec = rec["spec"]
        head = f"{spec['case']} · {spec['attack']} · {spec['access']}"
        if spec.get("defense"):
            head += f" · defense {spec['defense']}"
        parts.append(f"<section class=cell id='{esc(rec['id'])}'><h3>{esc(head)}</h3>")
        if rec.get("status") != "ok":
            parts.append(f"<p>{esc(rec.get('status'))}: {esc(rec.get('message', ''))}</p>")
            parts.append("</section>")
            continue
        parts.append(
            f"<p class=small>queries: {fmt(rec.get('queries'))} · seconds: "
            f"{fmt(rec.get('seconds'))}</p>"
        )
        result = AttackResult.load(root / "cells" / rec["id"])
        renderer = _EVIDENCE.get(result.modality)
        if renderer is not None:
            parts.append(renderer(result))
        parts.append("<table><tr><th>metric</th><th>value</th><th>baseline</th><th>gap</th></tr>")
        for fig in rec.get("figures", []):
            bl = fig.get("baseline") or {}
            parts.append(
                f"<tr><td>{esc(fig['metric'])}</td><td class=num>{fmt(fig['value'])}</td>"
                f"<td class=num>{fmt(bl.get('value'))} {esc(bl.get('name') or '')}</td>"
                f"<td class=num>{fmt(fig.get('gap'))}</td></tr>"
            )
        parts.append("</table></section>")
    parts.append("</body></html>")
    path = atomic_write_text(out / "index.html", "\n".join(parts))
    atomic_write_json(out / "results.json", {"title": title, "cells": records})
    return path
