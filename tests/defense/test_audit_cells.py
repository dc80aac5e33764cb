"""Defenses in audits: an output defense wraps the cell's view, a training defense asks the case
to retrain (cases that cannot answer not-applicable), utility is measured as users see it."""

import pytest

from mi_core.audit.runner import CellSpec, run_cells


@pytest.mark.slow
def test_output_and_training_defense_cells_on_the_cohort_case(tmp_path):
    specs = [
        CellSpec("cohort-tree", "csmia", "black-box-scores", {"progress": False}),
        CellSpec(
            "cohort-tree",
            "csmia",
            "black-box-scores",
            {"progress": False},
            defense="gaussian-noise",
            defense_config={"sigma": 0.4},
        ),
        CellSpec("cohort-tree", "lomia", "label-only", {"progress": False}, defense="label-only"),
        CellSpec(
            "cohort-tree",
            "csmia",
            "black-box-scores",
            {"progress": False},
            defense="negative-label-smoothing",
        ),
    ]
    plain, noisy, lomia, retrain = run_cells(specs, tmp_path, progress=False)
    assert plain["status"] == noisy["status"] == lomia["status"] == "ok"
    # utility as the defended service answers: noise that flips labels costs accuracy
    assert noisy["utility"]["test_accuracy"] < plain["utility"]["test_accuracy"]
    acc = {f["metric"]: f["value"] for f in plain["figures"]}["accuracy"]
    assert {f["metric"]: f["value"] for f in noisy["figures"]}["accuracy"] < acc
    # a decision tree cannot be retrained under a torch training defense
    assert retrain["status"] == "not-applicable" and "cannot retrain" in retrain["message"]
