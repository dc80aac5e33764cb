"""Small inline SVG charts for the HTML report (no plotting library needed): line charts (ROC and
precision-recall curves) and scatter plots (privacy-utility).

Each chart is a ``<figure class=chart>``: an HTML caption (it wraps, where SVG text would be
clipped), the SVG plot and an HTML legend (points are told apart by colour and marker, never by
labels printed beside them, which collide). Axes are clamped: a metric on [0, 1] never gets an
axis past 1.0 or below 0, and tick labels sit at round values inside the drawing.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

PALETTE = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#7f7f7f",
    "#bcbd22",
)
MARKERS = ("circle", "square", "diamond", "triangle")
W, H = 340, 270
_CHAR = 6.2  # width of one 10 px character, generous
_TOP, _BOTTOM = 10, 42


def _esc(x: object) -> str:
    return html.escape(str(x), quote=True)


def nice_ticks(lo: float, hi: float, n: int = 5) -> tuple[list[float], float]:
    """Round tick values (steps of 1, 2 or 5 times a power of ten) inside ``[lo, hi]``."""
    span = hi - lo
    if not (math.isfinite(span) and span > 0):
        return [lo], 1.0
    raw = span / max(1, n - 1)
    mag = 10 ** math.floor(math.log10(raw))

    def count(step: float) -> int:
        return math.floor(hi / step + 1e-9) - math.ceil(lo / step - 1e-9) + 1

    step = next(m * mag for m in (1, 2, 5, 10) if count(m * mag) <= n + 1)
    k0, k1 = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
    ticks = [round(k * step, 12) + 0.0 for k in range(k0, k1 + 1)]
    return ticks, step


def _tick_label(v: float, step: float) -> str:
    if abs(v) >= 1e5 or (v != 0 and abs(v) < 1e-3):
        return f"{v:.2g}"
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    return f"{v:.{decimals}f}"


def axis_range(
    values: Sequence[float], *, unit: bool | None = None, pad: float = 0.08
) -> tuple[float, float]:
    """A padded axis range for ``values``, clamped to [0, 1] when ``unit`` (a metric on [0, 1])
    or, when ``unit`` is None, when the values stay inside it (so an accuracy axis never runs
    past 1.0); never below 0 for non-negative values."""
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not vals:
        return (0.0, 1.0)
    lo, hi = min(vals), max(vals)
    span = hi - lo
    margin = span * pad if span > 0 else max(abs(hi) * 0.05, 0.05)
    a, b = lo - margin, hi + margin
    if unit or (unit is None and lo >= 0.0 and hi <= 1.0):
        a, b = max(a, 0.0), min(b, 1.0)
    elif lo >= 0.0:
        a = max(a, 0.0)
    if b <= a:
        b = a + 1.0
    return a, b


class _Frame:
    """Plot area and data-to-pixel scales."""

    def __init__(
        self, xr: tuple[float, float], yr: tuple[float, float], ylabels: list[str], xlast: str
    ):
        self.xr, self.yr = xr, yr
        self.left = 22 + _CHAR * max((len(s) for s in ylabels), default=3)
        self.right = W - max(12.0, _CHAR * len(xlast) / 2 + 4)
        self.top, self.bottom = _TOP, H - _BOTTOM

    def sx(self, x: float) -> float:
        lo, hi = self.xr
        return self.left + (x - lo) / ((hi - lo) or 1.0) * (self.right - self.left)

    def sy(self, y: float) -> float:
        lo, hi = self.yr
        return self.bottom - (y - lo) / ((hi - lo) or 1.0) * (self.bottom - self.top)


def _fit(label: str, width: float) -> str:
    n = max(4, int(width / _CHAR))
    return label if len(label) <= n else label[: n - 1] + "…"


def _axes(
    title: str, xlabel: str, ylabel: str, xr: tuple[float, float], yr: tuple[float, float]
) -> tuple[list[str], _Frame]:
    xt, xs = nice_ticks(*xr)
    yt, ys = nice_ticks(*yr)
    xl = [_tick_label(v, xs) for v in xt]
    yl = [_tick_label(v, ys) for v in yt]
    f = _Frame(xr, yr, yl, xl[-1] if xl else "")
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
        f'viewBox="0 0 {W} {H}" role="img" aria-label="{_esc(title)}">',
        f"<title>{_esc(title)}</title>",
        f'<rect x="0" y="0" width="{W}" height="{H}" fill="white"/>',
        f'<rect x="{f.left:.1f}" y="{f.top:.1f}" width="{f.right - f.left:.1f}" '
        f'height="{f.bottom - f.top:.1f}" fill="none" stroke="#999"/>',
    ]
    for v, s in zip(xt, xl, strict=True):
        x = f.sx(v)
        out.append(
            f'<line x1="{x:.1f}" y1="{f.bottom:.1f}" x2="{x:.1f}" y2="{f.bottom + 4:.1f}" '
            'stroke="#999"/>'
            f'<text x="{x:.1f}" y="{f.bottom + 15:.1f}" text-anchor="middle" '
            f'font-size="10">{_esc(s)}</text>'
        )
    for v, s in zip(yt, yl, strict=True):
        y = f.sy(v)
        out.append(
            f'<line x1="{f.left - 4:.1f}" y1="{y:.1f}" x2="{f.left:.1f}" y2="{y:.1f}" '
            'stroke="#999"/>'
            f'<line x1="{f.left:.1f}" y1="{y:.1f}" x2="{f.right:.1f}" y2="{y:.1f}" '
            'stroke="#eee"/>'
            f'<text x="{f.left - 6:.1f}" y="{y + 3.5:.1f}" text-anchor="end" '
            f'font-size="10">{_esc(s)}</text>'
        )
    xmid, ymid = (f.left + f.right) / 2, (f.top + f.bottom) / 2
    out.append(
        f'<text x="{xmid:.1f}" y="{H - 8}" text-anchor="middle" font-size="11">'
        f"{_esc(_fit(xlabel, W - 10))}</text>"
    )
    out.append(
        f'<text x="12" y="{ymid:.1f}" text-anchor="middle" font-size="11" '
        f'transform="rotate(-90 12 {ymid:.1f})">{_esc(_fit(ylabel, f.bottom - f.top))}</text>'
    )
    return out, f


def _marker(kind: str, x: float, y: float, color: str, r: float = 4.5) -> str:
    if kind == "square":
        return (
            f'<rect x="{x - r:.1f}" y="{y - r:.1f}" width="{2 * r:.1f}" height="{2 * r:.1f}" '
            f'fill="{color}"/>'
        )
    if kind == "diamond":
        pts = f"{x:.1f},{y - r - 1:.1f} {x + r + 1:.1f},{y:.1f} {x:.1f},{y + r + 1:.1f} "
        pts += f"{x - r - 1:.1f},{y:.1f}"
        return f'<polygon points="{pts}" fill="{color}"/>'
    if kind == "triangle":
        pts = f"{x:.1f},{y - r - 1:.1f} {x + r + 1:.1f},{y + r:.1f} {x - r - 1:.1f},{y + r:.1f}"
        return f'<polygon points="{pts}" fill="{color}"/>'
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{color}"/>'


def _legend_marker(kind: str, color: str) -> str:
    """A small inline SVG swatch for the HTML legend (``line`` draws a line, ``dash`` a dashed
    one)."""
    if kind in ("line", "dash"):
        dash = ' stroke-dasharray="4 3"' if kind == "dash" else ""
        body = f'<line x1="1" y1="6" x2="17" y2="6" stroke="{color}" stroke-width="2"{dash}/>'
    else:
        body = _marker(kind, 9, 6, color, 4)
    return (
        f'<svg class=swatch width="18" height="12" viewBox="0 0 18 12" aria-hidden="true">'
        f"{body}</svg>"
    )


def legend_html(items: Sequence[tuple[str, str, str]]) -> str:
    """An HTML legend of ``(label, colour, marker)`` items; wraps on narrow screens."""
    lis = "".join(f"<li>{_legend_marker(m, c)}{_esc(label)}</li>" for label, c, m in items)
    return f"<ul class=legend>{lis}</ul>"


def _figure(title: str, svg: list[str], legend: list[tuple[str, str, str]]) -> str:
    return (
        f"<figure class=chart><figcaption>{_esc(title)}</figcaption>{''.join(svg)}"
        f"{legend_html(legend) if legend else ''}</figure>"
    )


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
    out, f = _axes(title, xlabel, ylabel, xr, yr)
    legend = []
    if diagonal:
        out.append(
            f'<line x1="{f.sx(xr[0]):.1f}" y1="{f.sy(yr[0]):.1f}" x2="{f.sx(xr[1]):.1f}" '
            f'y2="{f.sy(yr[1]):.1f}" stroke="#bbb" stroke-dasharray="4 3"/>'
        )
        legend.append(("chance", "#bbb", "dash"))
    for i, (label, xs, ys) in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        xs, ys = list(xs), list(ys)
        if not xs:
            continue
        step = max(1, len(xs) // 400)  # keep the SVG small
        clamp_x = [min(max(x, xr[0]), xr[1]) for x in xs]
        clamp_y = [min(max(y, yr[0]), yr[1]) for y in ys]
        pairs = [*list(zip(clamp_x, clamp_y))[::step], (clamp_x[-1], clamp_y[-1])]
        pts = " ".join(f"{f.sx(x):.1f},{f.sy(y):.1f}" for x, y in pairs)
        out.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.8" points="{pts}"/>')
        legend.append((label, color, "line"))
    out.append("</svg>")
    return _figure(title, out, legend)


def scatter_chart(
    points: Sequence[tuple[str, float, float]],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    errors: Sequence[tuple[float | None, float | None]] | None = None,
    xunit: bool | None = None,
    yunit: bool | None = None,
    hline: tuple[str, float] | None = None,
) -> str:
    """Points ``(label, x, y)`` told apart by colour and marker, named in a legend (e.g. utility
    vs attack figure per defense). ``errors``: per point ``(x_spread, y_spread)`` drawn as error
    bars; ``xunit`` / ``yunit``: the axis is a metric on [0, 1] (None: inferred from the values);
    ``hline``: a dashed reference line ``(label, y)`` (e.g. the attack's baseline)."""
    if not points:
        raise ValueError("scatter_chart: no points")
    errs = list(errors) if errors is not None else [(None, None)] * len(points)
    xs = [p[1] for p in points]
    ys = [p[2] for p in points]
    xext = xs + [x + s * k for x, (s, _) in zip(xs, errs, strict=True) if s for k in (-1, 1)]
    yext = ys + [y + s * k for y, (_, s) in zip(ys, errs, strict=True) if s for k in (-1, 1)]
    if hline is not None:
        yext.append(hline[1])
    # clamp to [0, 1] when the points lie in it (error bars are cut at the edge)
    xr = axis_range(xext, unit=xunit is not False and all(0.0 <= x <= 1.0 for x in xs))
    yr = axis_range(yext, unit=yunit is not False and all(0.0 <= y <= 1.0 for y in ys))
    out, f = _axes(title, xlabel, ylabel, xr, yr)
    legend: list[tuple[str, str, str]] = []
    if hline is not None:
        y = f.sy(min(max(hline[1], yr[0]), yr[1]))
        out.append(
            f'<line x1="{f.left:.1f}" y1="{y:.1f}" x2="{f.right:.1f}" y2="{y:.1f}" '
            'stroke="#555" stroke-dasharray="5 3"/>'
        )
        legend.append((hline[0], "#555", "dash"))

    def clamp(v: float, r: tuple[float, float]) -> float:
        return min(max(v, r[0]), r[1])

    for i, ((label, x, y), (ex, ey)) in enumerate(zip(points, errs, strict=True)):
        color = PALETTE[i % len(PALETTE)]
        kind = MARKERS[(i // len(PALETTE) + i) % len(MARKERS)]
        cx, cy = f.sx(x), f.sy(y)
        if ey:
            y0, y1 = f.sy(clamp(y - ey, yr)), f.sy(clamp(y + ey, yr))
            out.append(
                f'<line x1="{cx:.1f}" y1="{y0:.1f}" x2="{cx:.1f}" y2="{y1:.1f}" '
                f'stroke="{color}" stroke-width="1.2"/>'
            )
        if ex:
            x0, x1 = f.sx(clamp(x - ex, xr)), f.sx(clamp(x + ex, xr))
            out.append(
                f'<line x1="{x0:.1f}" y1="{cy:.1f}" x2="{x1:.1f}" y2="{cy:.1f}" '
                f'stroke="{color}" stroke-width="1.2"/>'
            )
        out.append(_marker(kind, cx, cy, color))
        legend.append((label, color, kind))
    out.append("</svg>")
    return _figure(title, out, legend)
