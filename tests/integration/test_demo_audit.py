"""`mi audit --demo` end to end: the plan covers every installed built-in case; three of them
(one per modality that runs in seconds) run through the CLI to a report, and a rerun resumes.

The other cases' default cells run in their own modality's tests (`tests/vision/test_case.py`,
`tests/text/test_case_and_models.py`): running them here again cost the suite two minutes.
"""

import json

import pytest

from mi_core.audit.plan import demo_cells
from mi_core.cli import main
from mi_core.errors import ConfigError
from mi_core.registry import case_entries

pytestmark = pytest.mark.slow

FAST_CASES = ("digits-softmax", "cohort-tree", "sbm-gcn")


def test_demo_plan_holds_every_installed_case_with_its_default_defenses():
    cells = demo_cells(0)
    demo = {n for n, e in case_entries().items() if getattr(e.load(), "default_cells", ())}
    assert {"canary-lm", "cohort-tree", "digits-gan", "digits-softmax", "sbm-gcn"} <= demo
    assert {c.case for c in cells} == demo
    for name in demo:
        case_cls = case_entries()[name].load()
        mine = [c for c in cells if c.case == name]
        assert {c.attack for c in mine} == {c.attack for c in case_cls.default_cells}
        assert {c.defense for c in mine if c.defense} == {d for d, _ in case_cls.default_defenses}
    assert [c.case for c in demo_cells(0, cases=["sbm-gcn"])] == ["sbm-gcn"] * sum(
        c.case == "sbm-gcn" for c in cells
    )
    with pytest.raises(ConfigError, match=r"unknown case 'nope'.*digits-softmax"):
        demo_cells(0, cases=["nope"])


def test_demo_audit_writes_report_and_resumes(tmp_path, capsys):
    out = tmp_path / "audit"
    args = ["audit", "--demo", "--out", str(out)]
    for case in FAST_CASES:
        args += ["--case", case]
    assert main(args) == 0
    report = out / "report" / "index.html"
    html = report.read_text()
    assert "Risk summary" in html and "data:image/png;base64" in html
    assert all(name in html for name in ("mi-face", "csmia", "linkteller"))
    results = json.loads((out / "report" / "results.json").read_text())
    assert {c["spec"]["case"] for c in results["cells"]} == set(FAST_CASES)
    assert {c["status"] for c in results["cells"]} <= {"ok", "not-applicable"}
    assert any(c["spec"].get("defense") for c in results["cells"])  # the default defenses ran
    cell = next(
        c
        for c in results["cells"]
        if c["spec"]["attack"] == "mi-face" and not c["spec"].get("defense")
    )
    assert cell["status"] == "ok"
    top1 = next(f for f in cell["figures"] if f["metric"] == "eval_top1")
    assert top1["value"] >= top1["baseline"]["value"] + 0.4
    # a rerun finds every cell done and does not recompute it
    stamp = (out / "cells" / cell["id"] / "cell.json").stat().st_mtime_ns
    capsys.readouterr()
    assert main(args) == 0
    assert (out / "cells" / cell["id"] / "cell.json").stat().st_mtime_ns == stamp
    assert "report:" in capsys.readouterr().out
