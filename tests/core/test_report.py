"""The audit report: a verdict per target by the one leakage rule (seeds aggregated), a
recommendation from the defense cells, one headline row per attack, a line per metric, clamped
chart axes, prior-training time apart, and files others can read. Built from synthetic records
(no attack runs)."""

import json
import os
import re
import stat

import pytest

from mi_core import AttackResult
from mi_core.audit.runner import CellSpec, save_cell
from mi_core.leakage import EXPLAIN, assess_seeds
from mi_core.report import glossary
from mi_core.report.html import render_report, verdicts
from mi_core.report.svg import axis_range, nice_ticks, scatter_chart


def _fig(metric, value, base, higher=True, **extra):
    return {
        "metric": metric,
        "value": value,
        "higher_is_better_for_attacker": higher,
        "baseline": {"name": "prior samples", "value": base},
        "gap": None,
        "details": {},
        **extra,
    }


def _rec(workdir, spec, figures, utility=None, seconds=2.0, info=None, save=True):
    rec = {
        "id": spec.id,
        "spec": spec.__dict__ | {},
        "target": spec.target_name,
        "status": "ok",
        "figures": figures,
        "queries": 5,
        "seconds": seconds,
        "utility": utility or {},
    }
    if save:
        result = AttackResult(spec.attack, "tabular", spec.access, [0, 1], info=info or {})
        save_cell(workdir, rec, result)
    return rec


ATTACK = [(0.80, 0.10), (0.84, 0.12), (0.78, 0.11)]


@pytest.fixture
def records(tmp_path):
    recs = []
    for seed, (v, b) in enumerate(ATTACK):
        recs.append(
            _rec(
                tmp_path,
                CellSpec("m", "gmi", "white-box", seed=seed),
                [_fig("eval_top1", v, b), _fig("knn_distance", 50.0, 60.0, higher=False)],
                {"test_accuracy": 0.95},
                seconds=50.0,
                info={"prior_seconds": 40.0},
            )
        )
    for defense, acc, util in [(None, 0.6, 0.95), ("top-k", 0.59, 0.95), ("label-only", 0.1, 0.93)]:
        for seed in range(3):
            spec = CellSpec("m", "probe", "black-box-scores", defense=defense, seed=seed)
            val = acc + 0.01 * (seed - 1)
            recs.append(
                _rec(tmp_path, spec, [_fig("eval_top1", val, 0.1)], {"test_accuracy": util})
            )
    # a gap inside the seed spread on another target: not shown
    for seed, v in enumerate([0.70, 0.50, 0.66]):
        spec = CellSpec("t", "map", "black-box-scores", seed=seed)
        recs.append(_rec(tmp_path, spec, [_fig("attribute_accuracy", v, 0.6)]))
    return recs


def test_seeds_are_aggregated_and_judged_by_the_one_rule(records, tmp_path):
    by = {v.target: v for v in verdicts(records)}
    m = by["m"]
    lk, st, _ = assess_seeds([v for v, _ in ATTACK], [b for _, b in ATTACK], higher_is_better=True)
    assert m.level == lk.level == "high" and m.group.attack == "gmi"
    assert m.row.stats.n == 3 and m.row.stats.mean == pytest.approx(st.mean)
    assert m.row.leak.spread == pytest.approx(lk.spread)
    assert "gmi (white-box access)" in m.sentence() and "over 3 seeds" in m.sentence()
    # a gap inside the spread is "not shown", never "high" off one lucky seed
    assert by["t"].level == "not shown"
    html = render_report(records, tmp_path).read_text()
    summary = html[html.index("id=summary") : html.index("id=privacy-utility")]
    assert summary.count("<tr class=head>") == 1 + 3 + 1  # one headline row per attack x defense
    assert "1 more figure of gmi" in html


def test_recommendation_from_the_defense_cells(records):
    m = {v.target: v for v in verdicts(records)}["m"]
    text = " ".join(m.recommendation)
    assert "top-k left probe's leakage high (eval_top1 0.600" in text
    assert "label-only lowered probe's leakage from high to not shown" in text
    assert "at test_accuracy 0.950 ± 0.000 → 0.930 ± 0.000" in text
    assert m.advice.startswith("label-only:")
    assert "not tried against gmi (white-box, high)" in m.advice


def test_adversarial_and_invalid_baseline_are_shown_apart_and_explained(tmp_path):
    recs = [
        _rec(
            tmp_path,
            CellSpec("img", "ppa", "white-box"),
            [_fig("eval_top1", 0.9, 0.2, on_manifold=False)],
        ),
        _rec(
            tmp_path,
            CellSpec("lm", "extract", "black-box-scores"),
            [_fig("extraction_precision@20", 0.4, 0.5, baseline_uses_target=True)],
        ),
    ]
    by = {v.target: v for v in verdicts(recs)}
    assert by["img"].level == "adversarial" and by["lm"].level == "invalid baseline"
    html = render_report(recs, tmp_path).read_text()
    assert "lv-adv" in html and "lv-invalid" in html
    assert "No reconstruction" in html and "No verdict: the baselines used the target" in html
    for level in ("adversarial", "invalid baseline"):
        assert EXPLAIN[level].replace("'", "&#x27;") in html
    assert "(used the target)" in html
    # the report never claims a baseline is free of the model when it may not be
    assert "without the model's help" not in html


def test_an_invalid_headline_does_not_hide_a_valid_high_figure(tmp_path):
    """Extraction scored against samples of the target cannot be judged; the canaries' exposure
    against a reference model can, and it decides the verdict."""
    rec = _rec(
        tmp_path,
        CellSpec("lm", "extract", "black-box-scores"),
        [
            _fig("extraction_precision@20", 0.0, 0.5, baseline_uses_target=True),
            _fig("exposure", 12.0, 2.0),
        ],
    )
    (v,) = verdicts([rec])
    assert v.level == "high" and v.row.metric == "exposure"
    html = render_report([rec], tmp_path).read_text()
    assert "the verdict reads its exposure instead" in html


def test_prior_training_time_is_shown_apart(records, tmp_path):
    html = render_report(records, tmp_path).read_text()
    row = re.search(r"<tr class=head><td><a[^>]*>gmi</a>.*?</tr>", html).group(0)
    assert "10.0" in row and "+ prior 40.0" in row  # 50 s in all, 40 of them the prior
    assert "prior training s: 40.0" in html and "attack s: 10.0" in html


def test_every_metric_gets_a_line_and_a_direction():
    glossary.load_metric_modules()
    named = [
        "psnr",
        "ssim",
        "knn_distance",
        "feature_distance",
        "fid_eval_features",
        "prdc_precision",
        "prdc_recall",
        "prdc_density",
        "prdc_coverage",
        "eval_top1",
        "eval_top5",
        "leak_rate",
        "token_f1",
        "exposure",
        "link_auc",
        "extraction_precision@20",
        "canaries_recovered_x10",
        "edge_precision",
        "accuracy_in_training",
    ]
    for name in named:
        line = glossary.metric_line(name)
        assert line.source == "glossary", name
        assert len(line.meaning) > 20, name
    assert "top 20" in glossary.metric_line("extraction_precision@20").meaning
    assert glossary.metric_line("knn_distance").direction == "lower favours the attacker"
    assert glossary.metric_line("psnr").direction == "higher favours the attacker"
    from mi_core.metrics.base import list_metrics

    for spec in list_metrics():
        line = glossary.metric_line(spec.name)
        assert line.source != "none" and line.higher_is_better == spec.higher_is_better


def test_report_lists_each_metric_shown_with_its_direction(records, tmp_path):
    html = render_report(records, tmp_path).read_text()
    section = html[html.index("id=how-to-read") :]
    for metric in ("eval_top1", "knn_distance", "attribute_accuracy", "test_accuracy"):
        assert f"<code>{metric}</code>" in section
    assert "lower favours the attacker" in section and "higher favours the attacker" in section


def test_chart_axes_are_clamped_and_labelled_in_range():
    assert axis_range([0.9, 0.97, 1.0]) == (pytest.approx(0.9 - 0.008), 1.0)
    assert axis_range([0.0, 0.02])[0] == 0.0
    assert axis_range([10.0, 90.0])[1] > 90.0  # unbounded metrics are not clamped
    ticks, _ = nice_ticks(0.0, 1.0)
    assert ticks == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    svg = scatter_chart(
        [("undefended", 0.97, 0.99), ("top-k k=1", 0.96, 0.98), ("label-only", 1.0, 0.5)],
        title="t",
        xlabel="test_accuracy",
        ylabel="eval_top1",
        errors=[(0.01, 0.03), (None, None), (0.02, 0.1)],
    )
    labels = [float(x) for x in re.findall(r'font-size="10">(-?[\d.]+)</text>', svg)]
    assert labels and max(labels) <= 1.0 and min(labels) >= 0.0
    # a legend names the points; no label is printed beside a point
    assert svg.count("<li>") == 3 and "top-k k=1</li>" in svg


def test_report_tolerates_sparse_records(tmp_path):
    """Records with keys missing (no utility, seconds, result directory) still render."""
    recs = [
        {"id": "a", "spec": {"attack": "x", "access": "white-box"}, "status": "ok", "figures": []},
        {
            "id": "b",
            "spec": {"case": "c", "attack": "y", "access": "label-only"},
            "status": "ok",
            "figures": [{"metric": "auc", "value": 0.7, "baseline": None}],
        },
        {"id": "c", "spec": {"case": "c", "attack": "z"}, "status": "error", "message": "boom"},
    ]
    html = render_report(recs, tmp_path).read_text()
    assert "No verdict: no baseline" in html and "boom" in html


def test_report_files_are_readable_by_others(records, tmp_path):
    old = os.umask(0o022)
    try:
        path = render_report(records, tmp_path)
    finally:
        os.umask(old)
    for f in (path, path.with_name("results.json")):
        assert stat.S_IMODE(f.stat().st_mode) == 0o644
    data = json.loads(path.with_name("results.json").read_text())
    assert {v["target"]: v["level"] for v in data["verdicts"]} == {"m": "high", "t": "not shown"}
