"""`mi audit --demo` end to end: MI-Face on the digits target, a report, and resume."""

import json

import pytest

from mi_core.cli import main

pytestmark = pytest.mark.slow


def test_demo_audit_writes_report_and_resumes(tmp_path, capsys):
    out = tmp_path / "audit"
    assert main(["audit", "--demo", "--out", str(out)]) == 0
    report = out / "report" / "index.html"
    html = report.read_text()
    assert "Risk summary" in html and "mi-face" in html and "data:image/png;base64" in html
    results = json.loads((out / "report" / "results.json").read_text())
    cell = next(c for c in results["cells"] if c["spec"]["attack"] == "mi-face")
    assert cell["status"] == "ok"
    top1 = next(f for f in cell["figures"] if f["metric"] == "eval_top1")
    assert top1["value"] >= top1["baseline"]["value"] + 0.4
    # a rerun finds every cell done and does not recompute it
    stamp = (out / "cells" / cell["id"] / "cell.json").stat().st_mtime_ns
    capsys.readouterr()
    assert main(["audit", "--demo", "--out", str(out)]) == 0
    assert (out / "cells" / cell["id"] / "cell.json").stat().st_mtime_ns == stamp
    assert "report:" in capsys.readouterr().out
