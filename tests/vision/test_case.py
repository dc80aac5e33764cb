"""The `digits-gan` audit case: its default cells (one white-box, one label-only, one black-box
attack) run through the audit runner and beat their own unoptimised prior samples."""

from dataclasses import asdict

from mi_core.audit import runner
from mi_core.audit.runner import CellSpec
from mi_core.registry import case_entries


def test_digits_gan_default_cells_run_and_beat_the_baseline(gan_case, tmp_path):
    assert "digits-gan" in case_entries()
    runner._CASE_CACHE[("digits-gan", str(tmp_path), 0)] = gan_case  # reuse the session's case
    for cell in gan_case.default_cells:
        spec = CellSpec("digits-gan", cell.attack, cell.access, {**cell.config, "progress": False})
        rec = runner.run_cell(asdict(spec), str(tmp_path))
        assert rec["status"] == "ok", rec.get("message")
        top1 = next(f for f in rec["figures"] if f["metric"] == "eval_top1")
        # beside the attack's own unoptimised start, the general prior's samples in the details
        assert top1["baseline"]["name"] == "own prior samples (unoptimised)"
        assert top1["details"]["general"]["name"] == "general prior samples"
        assert top1["value"] > top1["baseline"]["value"], (cell.attack, top1)
        if cell.access != "white-box":
            assert rec["queries"] > 0
    assert gan_case.utility()["test_accuracy"] > 0.9


def test_digits_gan_gives_target_trained_priors_to_white_box_cells_only():
    # KEDMI's and PLG-MI's priors distil the target through a white-box view, uncounted: a
    # label-only or black-box cell must not get them for free (it may train its own through
    # its counted view from the public images)
    from types import SimpleNamespace

    import torch

    from mi_core.threat import Access
    from mi_vision.cases import DigitsGANCase

    case = DigitsGANCase()
    case.public = torch.zeros(2, 1, 8, 8)
    case.x_train, case.y_train = torch.zeros(5, 1, 8, 8), torch.arange(5)
    case.priors = {k: SimpleNamespace(kind=k) for k in ("gmi", "gmi-z", "kedmi", "plg-mi")}
    for access in ("label-only", "black-box-topk", "black-box-scores"):
        k = case.knowledge(Access.parse(access))
        assert sorted(k.extra["priors"]) == ["gmi", "gmi-z"], access
        assert k.prior.kind == "gmi-z"
    white = case.knowledge(Access.WHITE_BOX)
    assert sorted(white.extra["priors"]) == ["gmi", "gmi-z", "kedmi", "plg-mi"]
