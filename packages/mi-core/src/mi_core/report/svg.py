"""Small inline SVG charts for the HTML report (no plotting library needed): line charts (ROC and
precision-recall curves) and labelled scatter plots (privacy-utility)."""

from __future__ import annotations

import html
from collections.abc import Sequence

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2")
W, H, PAD = 320, 260, 44


def _sx(x: float, lo: float, hi: float) -> float:
    return PAD + (x - lo) / (hi - lo or 1.0) * (W - PAD - 12)


def _sy(y: float, lo: float, hi: float) -> float:
    return H - PAD + 10 - (y - lo) / (hi - lo or 1.0) * (H - PAD - 16)


def _axes(
    title: str, xlabel: str, ylabel: str, xr: tuple[float, float], yr: tuple[float, float]
) -> list[str]:
    e = html.escape
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
        f'viewBox="0 0 {W} {H}" role="img" aria-label="{e(title)}">',
        f'<rect x="0" y="0" width="{W}" height="{H}" fill="white"/>',
        f'<text x="{W / 2}" y="14" text-anchor="middle" font-size="12">{e(title)}</text>',
    ]
    x0, x1 = _sx(xr[0], *xr), _sx(xr[1], *xr)
    y0, y1 = _sy(yr[0], *yr), _sy(yr[1], *yr)
    out.append(
        f'<rect x="{x0}" y="{y1}" width="{x1 - x0}" height="{y0 - y1}" fill="none" stroke="#999"/>'
    )
    for t in (0.0, 0.5, 1.0):
        xv = xr[0] + t * (xr[1] - xr[0])
        yv = yr[0] + t * (yr[1] - yr[0])
        out.append(
            f'<text x="{_sx(xv, *xr)}" y="{y0 + 14}" text-anchor="middle" '
            f'font-size="10">{xv:.2g}</text>'
        )
        out.append(
            f'<text x="{x0 - 4}" y="{_sy(yv, *yr) + 3}" text-anchor="end" '
            f'font-size="10">{yv:.2g}</text>'
        )
    out.append(
        f'<text x="{(x0 + x1) / 2}" y="{H - 6}" text-anchor="middle" '
        f'font-size="11">{e(xlabel)}</text>'
    )
    out.append(
        f'<text x="12" y="{(y0 + y1) / 2}" text-anchor="middle" font-size="11" '
        f'transform="rotate(-90 12 {(y0 + y1) / 2})">{e(ylabel)}</text>'
    )
    return out


def line_chart(
    series: Sequence[tuple[str, Sequence[float], Sequence[float]]],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    diagonal: bool = False,
    xr: tuple[float, float] = (0.0, 1.0),
    yr: tuple[float, float] = (0.0, 1.0),
) -> str:
    """Curves ``(label, xs, ys)``; ``diagonal`` adds the chance line of a ROC plot."""
    out = _axes(title, xlabel, ylabel, xr, yr)
    if diagonal:
        out.append(
            f'<line x1="{_sx(xr[0], *xr)}" y1="{_sy(yr[0], *yr)}" x2="{_sx(xr[1], *xr)}" '
            f'y2="{_sy(yr[1], *yr)}" stroke="#bbb" stroke-dasharray="4 3"/>'
        )
    for i, (label, xs, ys) in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        step = max(1, len(xs) // 400)  # keep the SVG small
        pts = " ".join(
            f"{_sx(x, *xr):.1f},{_sy(y, *yr):.1f}"
            for x, y in [*list(zip(xs, ys))[::step], (xs[-1], ys[-1])]
        )
        out.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.8" points="{pts}"/>')
        out.append(
            f'<text x="{W - 14}" y="{_sy(yr[0], *yr) - 8 - 13 * i}" text-anchor="end" '
            f'font-size="10" fill="{color}">{html.escape(label)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def scatter_chart(
    points: Sequence[tuple[str, float, float]], *, title: str, xlabel: str, ylabel: str
) -> str:
    """Labelled points ``(label, x, y)`` (e.g. utility vs attack figure per defense)."""
    xs = [p[1] for p in points]
    ys = [p[2] for p in points]
    pad_x = (max(xs) - min(xs)) * 0.1 or 0.05
    pad_y = (max(ys) - min(ys)) * 0.1 or 0.05
    xr = (min(xs) - pad_x, max(xs) + pad_x)
    yr = (min(ys) - pad_y, max(ys) + pad_y)
    out = _axes(title, xlabel, ylabel, xr, yr)
    for i, (label, x, y) in enumerate(points):
        color = PALETTE[i % len(PALETTE)]
        cx, cy = _sx(x, *xr), _sy(y, *yr)
        out.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="4" fill="{color}"/>')
        right = cx > W * 0.6  # keep labels inside the plot
        out.append(
            f'<text x="{cx - 6 if right else cx + 6:.1f}" y="{cy - 5:.1f}" font-size="10" '
            f'fill="{color}" text-anchor="{"end" if right else "start"}">'
            f"{html.escape(label)}</text>"
        )
    out.append("</svg>")
    return "".join(out)
