"""The HTML report renders in headless Chromium without console errors, shows every section
(verdicts, images, ROC / PR curves, confusion matrices, highlighted text, privacy-utility plots)
and fits the screen: at 1400 px and at a phone's 390 px no element overflows its container or
the viewport (tables scroll inside their wrapper), and no chart label is clipped.

The report is built from synthetic records (no attack runs): a few seconds."""

import html as html_lib
import json
import re
import shutil
import subprocess

import numpy as np
import pytest
import torch

from mi_core import AttackResult
from mi_core.audit.runner import CellSpec, save_cell
from mi_core.report.html import render_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed")


def _chromium(url, user_dir, *extra):
    args = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        f"--user-data-dir={user_dir}",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=5000",
        *extra,
        url,
    ]
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


def _console(stderr):
    return [ln for ln in stderr.splitlines() if ":CONSOLE" in ln]


def _record(spec, figures, result, workdir, utility=None, seconds=1.0):
    rec = {
        "id": spec.id,
        "spec": spec.__dict__ | {},
        "target": spec.target_name,
        "status": "ok",
        "modality": result.modality,
        "figures": figures,
        "queries": 10,
        "seconds": seconds,
        "utility": utility or {},
    }
    save_cell(workdir, rec, result)
    return rec


def _fig(metric, value, base, higher=True, **extra):
    return {
        "metric": metric,
        "value": value,
        "higher_is_better_for_attacker": higher,
        "baseline": {"name": "unoptimised samples of the attack's own prior", "value": base},
        "gap": (value - base) if higher else (base - value),
        "details": {},
        **extra,
    }


IMAGE_METRICS = [
    ("eval_top5", 0.95, 0.5, True),
    ("feature_distance", 40.0, 80.0, False),
    ("knn_distance", 30.0, 70.0, False),
    ("psnr", 14.0, 11.0, True),
    ("ssim", 0.4, 0.2, True),
    ("prdc_precision", 0.7, 0.3, True),
    ("prdc_recall", 0.5, 0.4, True),
    ("prdc_density", 1.2, 0.6, True),
    ("prdc_coverage", 0.6, 0.3, True),
    ("fid_eval_features", 35.0, 90.0, False),
]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("audit")
    rng = np.random.default_rng(0)
    recs = []
    n_img = 40  # more than a row of tiles: they must wrap
    for seed in range(3):
        y = torch.arange(n_img) % 10
        img = AttackResult(
            "mi-face",
            "image",
            "white-box",
            torch.rand(n_img, 1, 8, 8),
            targets=y,
            arrays={
                "class_means": torch.rand(n_img, 1, 8, 8),
                "eval_pred": torch.where(torch.rand(n_img) < 0.8, y, (y + 1) % 10),
                "leaked": (torch.rand(n_img) < 0.5).to(torch.uint8),
            },
        )
        figs = [_fig("eval_top1", 0.8 + 0.02 * seed, 0.1, unit_interval=True)]
        figs += [_fig(m, v + 0.01 * seed, b, h) for m, v, b, h in IMAGE_METRICS]
        spec = CellSpec("faces", "mi-face", "white-box", seed=seed)
        recs.append(_record(spec, figs, img, tmp_path, {"test_accuracy": 0.95}))
    # an attack that fools the evaluation model off the image manifold: adversarial
    gmi = AttackResult(
        "gmi",
        "image",
        "white-box",
        torch.rand(5, 1, 8, 8),
        targets=torch.arange(5),
        info={"prior_seconds": 40.0},
    )
    recs.append(
        _record(
            CellSpec("faces", "gmi", "white-box"),
            [_fig("eval_top1", 0.9, 0.2, on_manifold=False), _fig("knn_distance", 90, 70, False)],
            gmi,
            tmp_path,
            seconds=52.0,
        )
    )
    defenses = [
        (None, {}, 0.70, 0.95),
        ("top-k", {"k": 1}, 0.68, 0.95),
        ("label-only", {}, 0.15, 0.95),
        ("gaussian-noise", {"sigma": 0.5, "renormalise": True, "seed_offset": 12345}, 0.3, 0.81),
    ]
    for defense, cfg, acc, util in defenses:
        for seed in range(3):
            res = AttackResult(
                "guess",
                "image",
                "black-box-scores",
                torch.rand(2, 1, 8, 8),
                targets=torch.arange(2),
            )
            spec = CellSpec(
                "faces",
                "guess",
                "black-box-scores",
                defense=defense,
                defense_config=cfg,
                seed=seed,
            )
            val = acc + 0.02 * (seed - 1)
            figs = [_fig("eval_top1", val, 0.1 + 0.01 * seed, unit_interval=True)]
            recs.append(_record(spec, figs, res, tmp_path, {"test_accuracy": util - 0.005 * seed}))
    text = AttackResult(
        "extract",
        "text",
        "black-box-scores",
        [
            "call John Doe at 555-0100 <b>now</b>",
            "nothing here",
            "x" * 300,
            "words that wrap on a phone, " * 6,
        ],
        info={"secrets": ["555-0100"], "canary_ranks": {"555-0100": 3, "SSN 078-05-1120": 41}},
    )
    recs.append(
        _record(
            CellSpec("lm", "extract", "black-box-scores"),
            [
                _fig(
                    "extraction_precision@20",
                    0.4,
                    0.5,
                    baseline_uses_target=True,
                    unit_interval=True,
                ),
                _fig("exposure", 12.0, 2.0),
            ],
            text,
            tmp_path,
            {"heldout_perplexity": 45.0},
        )
    )
    labels = rng.integers(0, 2, 500)
    graph = AttackResult(
        "graphmi",
        "graph",
        "white-box",
        None,
        arrays={"eval_scores": labels + rng.normal(0, 0.8, 500), "eval_labels": labels},
    )
    recs.append(
        _record(
            CellSpec("cora", "graphmi", "white-box"),
            [_fig("link_auc", 0.8, 0.7), _fig("link_ap", 0.6, 0.5)],
            graph,
            tmp_path,
        )
    )
    tab = AttackResult(
        "map",
        "tabular",
        "black-box-scores",
        np.array([0, 1, 1]),
        arrays={"confusion": np.array([[30, 5], [8, 20]])},
        info={"classes": ["A/A", "A/G"]},
    )
    for seed, (v, b) in enumerate([(0.62, 0.6), (0.55, 0.6), (0.66, 0.6)]):
        recs.append(
            _record(
                CellSpec("iwpc", "map", "black-box-scores", seed=seed),
                [_fig("attribute_accuracy", v, b, unit_interval=True)],
                tab,
                tmp_path,
            )
        )
    recs.append(
        {
            "id": "x__na",
            "spec": CellSpec("faces", "brep", "label-only").__dict__,
            "target": "faces",
            "status": "not-applicable",
            "message": "needs label-only access",
        }
    )
    recs.append(
        {
            "id": "x__err",
            "spec": CellSpec("faces", "kedmi", "white-box").__dict__,
            "target": "faces",
            "status": "error",
            "message": "RuntimeError: boom",
            "traceback": "Traceback (most recent call last):\n" + "  File 'x.py' " * 40,
        }
    )
    return render_report(recs, tmp_path, title="Browser test: " + "a long title " * 6), recs


def test_harness_catches_console_errors(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text(
        "<html><body><img alt=x src='data:image/png;base64,AAAA'>"
        "<script>console.error('boom')</script></body></html>"
    )
    proc = _chromium(page.as_uri(), tmp_path / "ud", "--dump-dom")
    assert any("boom" in ln for ln in _console(proc.stderr))


def test_report_renders_without_console_errors_and_shows_every_section(report, tmp_path):
    path, recs = report
    html = path.read_text()
    assert not re.search(r"""(src|href)=["']?https?://""", html), "report must be self-contained"
    proc = _chromium(path.as_uri(), tmp_path / "ud", "--dump-dom")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert _console(proc.stderr) == []
    dom = proc.stdout
    assert 'data-broken-images="0"' in dom
    for section in ("verdict", "summary", "privacy-utility", "evidence", "how-to-read"):
        assert f'id="{section}"' in dom
    for rec in recs:
        assert f'id="{rec["id"]}"' in dom
    # ROC and PR curves of the graph cell, one privacy-utility plot
    assert len(re.findall(r'<svg[^>]*role="img"', dom)) == 3
    assert 'aria-label="faces: guess (black-box-scores)"' in dom and 'aria-label="ROC"' in dom
    assert "<mark>555-0100</mark>" in dom and "&lt;b&gt;now&lt;/b&gt;" in dom
    assert "Confusion matrix" in dom and "A/G" in dom
    assert "not-applicable" in dom and "canary_ranks" in dom
    assert dom.count('class="tile"') == 3 * 40 + 5 + 4 * 3 * 2  # every image cell's tiles


# In the page after load: open every <details>, then list what sticks out horizontally: the page
# past the viewport, an element past the viewport or its parent (unless inside a horizontally
# scrolling wrapper), a card or wrapper whose content is wider than it without scrolling, and
# chart text outside its SVG drawing.
_PROBE = """<script>
window.addEventListener('load', function () {
  document.querySelectorAll('details').forEach(function (d) { d.open = true; });
  var vw = document.documentElement.clientWidth, bad = [];
  function name(el) {
    var c = typeof el.className === 'string' && el.className ? '.' + el.className : '';
    return el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + c;
  }
  function scrolls(el) {
    var ox = getComputedStyle(el).overflowX;
    return ox === 'auto' || ox === 'scroll' || ox === 'hidden';
  }
  function inScroller(el) {
    for (var p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      if (scrolls(p)) return true;
    }
    return false;
  }
  var doc = document.documentElement;
  if (doc.scrollWidth > vw) bad.push('page ' + doc.scrollWidth + ' > ' + vw);
  document.body.querySelectorAll('*').forEach(function (el) {
    if (el.closest('svg') && el.tagName.toLowerCase() !== 'svg') return;
    if (inScroller(el)) return;
    var r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) return;
    if (r.right > vw + 0.5 || r.left < -0.5) bad.push(name(el) + ' ends at ' + r.right);
    var p = el.parentElement;
    if (p && !scrolls(p) && r.right > p.getBoundingClientRect().right + 0.5)
      bad.push(name(el) + ' overflows ' + name(p));
  });
  document.querySelectorAll('section, .tablewrap, figure, .tiles, .charts, td')
    .forEach(function (el) {
      if (!scrolls(el) && !inScroller(el) && el.scrollWidth > el.clientWidth + 1)
        bad.push(name(el) + ' content ' + el.scrollWidth + ' > ' + el.clientWidth);
    });
  document.querySelectorAll('svg[role=img] text').forEach(function (t) {
    var r = t.getBoundingClientRect(), s = t.ownerSVGElement.getBoundingClientRect();
    if (r.left < s.left - 0.5 || r.right > s.right + 0.5 || r.top < s.top - 0.5 ||
        r.bottom > s.bottom + 0.5) bad.push('clipped chart text: ' + t.textContent);
  });
  parent.postMessage(JSON.stringify({vw: vw, bad: bad.slice(0, 40), n: bad.length}), '*');
});
</script>"""

# Headless Chromium's window is at least 500 px wide: narrower viewports are iframes of that
# width; the page inside reports to the frame around it, which --dump-dom prints.
_FRAME = """<!doctype html><html><body style="margin:0">
<iframe src="{src}" style="width:{width}px;height:{height}px;border:0;display:block"></iframe>
<script>window.addEventListener('message', function (e) {{
  var pre = document.createElement('pre'); pre.id = 'overflow-probe'; pre.textContent = e.data;
  document.body.appendChild(pre); }});</script></body></html>"""


def _framed(page, width, height=3000):
    frame = page.with_name(f"frame-{width}-{page.name}")
    frame.write_text(_FRAME.format(src=page.name, width=width, height=height))
    return frame


def _overflow(path, width, tmp_path):
    probe = path.with_name(f"probe-{width}.html")
    probe.write_text(path.read_text().replace("</body>", _PROBE + "</body>"))
    frame = _framed(probe, width, 2000)
    proc = _chromium(
        frame.as_uri(), tmp_path / f"ud-{width}", "--dump-dom", f"--window-size={width + 40},2000"
    )
    m = re.search(r'<pre id="overflow-probe">(.*?)</pre>', proc.stdout, re.S)
    assert m, proc.stderr[-2000:]
    return json.loads(html_lib.unescape(m.group(1)))


@pytest.mark.parametrize("width", [1400, 390])
def test_report_fits_desktop_and_phone_widths(report, tmp_path, width):
    path, _ = report
    out = _overflow(path, width, tmp_path)
    assert out["vw"] <= width and out["vw"] >= width - 20, out  # the viewport took the width
    assert out["n"] == 0, out["bad"]
    shot = tmp_path / f"report-{width}.png"
    _chromium(
        _framed(path, width, 6000).as_uri(),
        tmp_path / f"ud-shot-{width}",
        f"--screenshot={shot}",
        f"--window-size={max(width, 500)},6000",
    )
    assert shot.exists() and shot.stat().st_size > 10_000


def test_overflow_probe_catches_a_wide_element(tmp_path):
    """The probe is not blind: a fixed-width block wider than a phone is reported."""
    page = tmp_path / "index.html"
    page.write_text(
        "<!doctype html><html><body><section><div style='width:900px'>wide</div></section>"
        "</body></html>"
    )
    out = _overflow(page, 390, tmp_path)
    assert out["n"] > 0 and any("div" in b for b in out["bad"])
