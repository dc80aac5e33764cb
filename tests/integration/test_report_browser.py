"""The HTML report renders in headless Chromium without console errors and shows every section
(images, ROC / PR curves, confusion matrices, highlighted text, privacy-utility plots)."""

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


def _record(spec, figures, result, workdir, utility=None):
    rec = {
        "id": spec.id,
        "spec": spec.__dict__ | {},
        "target": spec.target_name,
        "status": "ok",
        "figures": figures,
        "queries": 10,
        "seconds": 1.0,
        "utility": utility or {},
    }
    save_cell(workdir, rec, result)
    return rec


def _fig(metric, value, base):
    return {
        "metric": metric,
        "value": value,
        "higher_is_better_for_attacker": True,
        "baseline": {"name": "baseline", "value": base},
        "gap": value - base,
        "details": {},
    }


@pytest.fixture
def report(tmp_path):
    rng = np.random.default_rng(0)
    recs = []
    img = AttackResult(
        "mi-face",
        "image",
        "white-box",
        torch.rand(4, 1, 8, 8),
        targets=torch.arange(4),
        arrays={"class_means": torch.rand(4, 1, 8, 8)},
    )
    recs.append(
        _record(
            CellSpec("faces", "mi-face", "white-box"), [_fig("eval_top1", 0.8, 0.1)], img, tmp_path
        )
    )
    for defense, acc, util in [(None, 0.7, 0.95), ("top-k", 0.5, 0.95), ("noise", 0.3, 0.9)]:
        res = AttackResult(
            "guess", "image", "black-box-scores", torch.rand(2, 1, 8, 8), targets=torch.arange(2)
        )
        spec = CellSpec("faces", "guess", "black-box-scores", defense=defense)
        recs.append(
            _record(spec, [_fig("eval_top1", acc, 0.1)], res, tmp_path, {"test_accuracy": util})
        )
    text = AttackResult(
        "extract",
        "text",
        "black-box-scores",
        ["call John Doe at 555-0100 <b>now</b>", "nothing here"],
        info={"secrets": ["555-0100"]},
    )
    recs.append(
        _record(
            CellSpec("lm", "extract", "black-box-scores"),
            [_fig("precision_at_100", 0.4, 0.0)],
            text,
            tmp_path,
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
        _record(CellSpec("cora", "graphmi", "white-box"), [_fig("auc", 0.8, 0.7)], graph, tmp_path)
    )
    tab = AttackResult(
        "map",
        "tabular",
        "black-box-scores",
        np.array([0, 1, 1]),
        arrays={"confusion": np.array([[30, 5], [8, 20]])},
        info={"classes": ["A/A", "A/G"]},
    )
    recs.append(
        _record(
            CellSpec("iwpc", "map", "black-box-scores"),
            [_fig("attribute_accuracy", 0.79, 0.6)],
            tab,
            tmp_path,
        )
    )
    recs.append(
        {
            "id": "x__na",
            "spec": CellSpec("faces", "brep", "label-only").__dict__,
            "status": "not-applicable",
            "message": "needs label-only access",
        }
    )
    return render_report(recs, tmp_path, title="Browser test"), recs


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
    for section in ("summary", "privacy-utility", "evidence"):
        assert f'id="{section}"' in dom
    for rec in recs:
        assert f'id="{rec["id"]}"' in dom
    assert dom.count("<svg") == 3  # ROC and PR curves of the graph cell, one privacy-utility plot
    assert 'aria-label="faces: guess"' in dom and 'aria-label="ROC"' in dom
    assert "<mark>555-0100</mark>" in dom and "&lt;b&gt;now&lt;/b&gt;" in dom
    assert "Confusion matrix" in dom and "A/G" in dom
    assert "not-applicable" in dom
    shot = tmp_path / "report.png"
    _chromium(path.as_uri(), tmp_path / "ud2", f"--screenshot={shot}", "--window-size=1200,2400")
    assert shot.exists() and shot.stat().st_size > 10_000
