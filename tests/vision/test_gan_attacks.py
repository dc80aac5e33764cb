"""Every GAN-prior attack beats its own starting point on a tiny target (digits 0-4 private, GAN
priors trained on digits 5-9), judged by an independent, calibrated evaluation model; and the
same check fails when the attack's search is switched off.

The figure is ``leak_rate`` (recognised by the evaluation model AND no farther from the private
class than the attack's own unoptimised prior samples, mi_vision.evaluate) against the same
figure for those prior samples: the search's contribution. Margins were measured over seeds
0-4 with the search on and off (the table below: min gap with the search on / max gap off); each
margin sits between the two with room of at least 0.1 on either side for another CPU's rounding
(another CPU moves an attack like another seed does).
"""

import pytest
import torch

from mi_core import AccessError, ConfigError, Knowledge, make_view
from mi_core.registry import get_attack, list_attacks

#: attack, prior, access, config, the search switched off, figure, margin, seeds the test
#: averages. Gains over the own prior samples measured on seeds 0-4 (search on | search off;
#: the off side re-measured on 2026-12-02):
#:   gmi        leak +0.30..+0.40 | -0.10..+0.10
#:   kedmi      leak +0.35..+0.70 | -0.10..+0.05
#:   plg-mi     KNN  -20%..-28%   | -9%..+9%   (its conditional prior, trained through the
#:              target, already gives leak 0.50 and top-1 1.00 at digit scale: the search adds
#:              closeness to the private class, not hits; see the mi-vision README)
#:   ppa        leak +0.60..+0.75 | -0.08..+0.08 (off: no candidate or final selection either)
#:   mirror-w   leak +0.80..+0.90 |  0.00..+0.10 (off: no candidate selection)
#:   mirror-b   leak +0.60..+0.85 | +0.05..+0.30 (off: one generation of 4, no selection)
#:   brep-mi    leak mean over the 5 seeds +0.40 (single seeds +0.10..+0.65) | mean +0.05
#:              (single seeds -0.10..+0.30): one in-class starting point per class makes a
#:              single run coarse, so the test averages five seeds. Off: no label-guided search
#:              for the starting points, no repulsion (with the initial search kept, the
#:              repulsion alone does not move the figure at digit scale: mean 0.56 vs 0.55).
#:   rlb-mi     leak +0.30..+0.50 | -0.15..+0.15 (off: SAC and the best-of-N final selection off)
#: attack seeds the checks average (one run takes 1-10 s at digit scale; brep-mi needed them
#: first, see above)
SEEDS = (0, 1, 2, 3, 4)
CASES = [
    (
        "gmi",
        "gmi-z",
        "white-box",
        {"steps": 300, "samples_per_class": 4},
        {"steps": 1, "lr": 1e-9},
        "leak_rate",
        0.20,
        SEEDS,
    ),
    (
        "kedmi",
        "kedmi",
        "white-box",
        {"steps": 300, "samples_per_class": 4},
        {"steps": 1, "lr": 1e-9},
        "leak_rate",
        0.20,
        SEEDS,
    ),
    (
        "plg-mi",
        "plg-mi",
        "white-box",
        {"steps": 150, "samples_per_class": 4, "augment": "noflip"},
        {"steps": 1, "lr": 1e-9},
        "knn_distance",
        0.13,
        SEEDS,
    ),
    (
        "ppa",
        "gmi",
        "white-box",
        {"steps": 60, "samples_per_class": 8, "keep": 4, "candidates": 400, "augment": "noflip"},
        {"steps": 1, "lr": 1e-9, "candidates": 8, "keep": 8},
        "leak_rate",
        0.30,
        SEEDS,
    ),
    (
        "mirror-w",
        "gmi",
        "white-box",
        {"steps": 60, "samples_per_class": 4, "candidates": 400},
        {"steps": 1, "lr": 1e-9, "candidates": 4},
        "leak_rate",
        0.30,
        SEEDS,
    ),
    (
        "mirror-b",
        "gmi",
        "black-box-scores",
        {"steps": 20, "samples_per_class": 4, "candidates": 400, "population": 16},
        {"steps": 1, "candidates": 4, "population": 4, "elite": 1},
        "leak_rate",
        0.40,
        SEEDS,
    ),
    (
        "brep-mi",
        "gmi-z",
        "label-only",
        {"steps": 400, "samples_per_class": 4, "patience": 50},
        {"steps": 1, "init_batch": 1, "init_rounds": 1},
        "leak_rate",
        0.20,
        SEEDS,
    ),
    (
        "rlb-mi",
        "gmi-z",
        "black-box-scores",
        {"steps": 1000, "samples_per_class": 4, "hidden": 64},
        {"steps": 1, "lr": 1e-9, "final_candidates": 3},
        "leak_rate",
        0.225,
        SEEDS,
    ),
]
IDS = [c[0] for c in CASES]


def _run(case, attack, prior, access, config, seed=0, **kw):
    view = make_view(case.target(), access, info=case.target_info(), **kw)
    knowledge = Knowledge(
        target_labels=list(range(5)), prior=case.priors[prior], auxiliary=case.public
    )
    result = get_attack(attack)({**config, "progress": False}).run(view, knowledge, seed=seed)
    return view, result


def search_gain(fig) -> float:
    """What the search adds over the attack's own prior samples: the leak-rate difference, or
    the relative drop of the KNN distance to the private class."""
    assert fig.baseline_name == "own prior samples (unoptimised)", fig.baseline_name
    if fig.metric == "knn_distance":
        return 1.0 - fig.value / fig.baseline
    return fig.value - fig.baseline


ARGS = ("attack", "prior", "access", "config", "off", "metric", "margin", "seeds")


def _mean_gain(case, attack, prior, access, config, metric, seeds):
    gains, last = [], None
    for seed in seeds:
        view, result = _run(case, attack, prior, access, config, seed=seed)
        figs = {f.metric: f for f in case.evaluate(result)}
        gains.append(search_gain(figs[metric]))
        last = (view, result, figs)
    return sum(gains) / len(gains), gains, last


@pytest.mark.parametrize(ARGS, CASES, ids=IDS)
def test_attack_beats_its_own_prior_samples(
    gan_case, attack, prior, access, config, off, metric, margin, seeds
):
    gain, gains, (view, result, figs) = _mean_gain(
        gan_case, attack, prior, access, config, metric, seeds
    )
    assert gain >= margin, (attack, metric, gains)
    assert figs["eval_top1"].on_manifold is True  # not adversarial noise
    # and beyond the general prior that every attack could start from
    lr = figs["leak_rate"]
    assert lr.value > lr.details["general"]["value"], (attack, lr.value, lr.details["general"])
    # one batch holds every target class
    assert sorted(set(result.targets.tolist())) == [0, 1, 2, 3, 4]
    assert result.reconstructions.min() >= 0 and result.reconstructions.max() <= 1
    assert result.queries == view.queries > 0


@pytest.mark.parametrize(ARGS, CASES, ids=IDS)
def test_the_check_fails_with_the_search_switched_off(
    gan_case, attack, prior, access, config, off, metric, margin, seeds
):
    gain, gains, _ = _mean_gain(gan_case, attack, prior, access, {**config, **off}, metric, seeds)
    assert gain < margin, (attack, metric, gains)


#: LOMMA's gain in leak rate over its base attack's own prior samples, seeds 0-4: on GMI
#: +0.25..+0.60 with the search on; with the base search off +0.10 / -0.05 / +0.10 / +0.10 /
#: 0.00 on GMI and -0.05 on every seed on KEDMI. One image moves the leak rate by 0.05, so seed
#: 0's +0.10 off GMI is one image below the margin: the off check averages seeds 0-2 (+0.05,
#: two images of room; an off run takes seconds).
LOMMA_MARGIN = 0.15
LOMMA_OFF_SEEDS = (0, 1, 2)


def _lomma(case, base, base_config, seed=0):
    prior = "gmi-z" if base == "gmi" else "kedmi"
    cfg = {"base": base, "base_config": base_config, "distill_epochs": 3, "augmented_models": 2}
    return _run(case, "lomma", prior, "white-box", cfg, seed=seed)[1]


@pytest.mark.parametrize("base", ["gmi", "kedmi"])
def test_lomma_plugs_into_gmi_and_kedmi(gan_case, base):
    result = _lomma(gan_case, base, {"steps": 300, "samples_per_class": 4})
    assert result.attack == "lomma" and result.info["base"] == base
    assert len(result.info["lomma"]["student_agreement"]) == 2
    assert min(result.info["lomma"]["student_agreement"]) > 0.5  # the students learnt the target
    leak = {f.metric: f for f in gan_case.evaluate(result)}["leak_rate"]
    assert search_gain(leak) >= LOMMA_MARGIN, (leak.value, leak.baseline)


@pytest.mark.parametrize("base", ["gmi", "kedmi"])
def test_lomma_check_fails_with_the_base_search_off(gan_case, base):
    gains = []
    for seed in LOMMA_OFF_SEEDS:
        result = _lomma(gan_case, base, {"steps": 1, "lr": 1e-9, "samples_per_class": 4}, seed)
        gains.append(search_gain({f.metric: f for f in gan_case.evaluate(result)}["leak_rate"]))
    assert sum(gains) / len(gains) < LOMMA_MARGIN, gains


class _Spy:
    """A remote 'API': records whether any call could carry gradients."""

    def __init__(self, model):
        self.model, self.grad_seen, self.calls = model, False, 0

    def __call__(self, x):
        self.calls += 1
        self.grad_seen |= torch.is_grad_enabled() or bool(getattr(x, "requires_grad", False))
        with torch.no_grad():
            return torch.softmax(self.model(x), 1)


@pytest.mark.parametrize("attack", ["mirror-b", "rlb-mi", "brep-mi"])
def test_black_box_attacks_only_query_the_view(gan_case, attack):
    """A black-box attack gets a callable without a module: it can only query, it never asks
    for gradients, and it reports exactly the items it queried."""
    cfg = next(c for c in CASES if c[0] == attack)[3]
    access = next(c for c in CASES if c[0] == attack)[2]
    spy = _Spy(gan_case.target())
    view = make_view(spy, access, info=gan_case.target_info())
    with pytest.raises(AccessError):
        _ = view.module
    knowledge = Knowledge(
        target_labels=[0, 3], prior=gan_case.priors["gmi" if attack == "mirror-b" else "gmi-z"]
    )
    small = {**cfg, "steps": 5, "progress": False}
    if attack == "mirror-b":
        small["candidates"] = 100
    result = get_attack(attack)(small).run(view, knowledge, seed=0)
    assert spy.calls > 0 and not spy.grad_seen
    assert result.queries == view.queries
    assert result.queries > 0


@pytest.mark.parametrize("attack", ["mirror-b", "rlb-mi", "brep-mi"])
def test_black_box_attacks_respect_the_query_budget(gan_case, attack):
    cfg = next(c for c in CASES if c[0] == attack)
    budget = 3000
    view, result = _run(gan_case, attack, cfg[1], cfg[2], {**cfg[3], "steps": 10**5}, budget=budget)
    assert view.queries <= budget
    assert result.queries == view.queries
    assert result.info["stopped"] == "budget"


def test_white_box_attacks_refuse_black_box_views(gan_case):
    view = make_view(gan_case.target(), "black-box-scores", info=gan_case.target_info())
    for name in ("gmi", "kedmi", "plg-mi", "lomma", "ppa", "mirror-w"):
        with pytest.raises(AccessError, match="needs white-box access"):
            get_attack(name)(progress=False).run(view, Knowledge(target_labels=[0]))


def test_same_seed_same_reconstructions(gan_case):
    cfg = {"steps": 20, "samples_per_class": 2}
    _, a = _run(gan_case, "gmi", "gmi-z", "white-box", cfg, seed=3)
    _, b = _run(gan_case, "gmi", "gmi-z", "white-box", cfg, seed=3)
    _, c = _run(gan_case, "gmi", "gmi-z", "white-box", cfg, seed=4)
    assert torch.equal(a.reconstructions, b.reconstructions)
    assert not torch.equal(a.reconstructions, c.reconstructions)
    # the attack froze the user's model while it ran and gave it back as it was
    assert all(p.requires_grad for p in gan_case.target().parameters())


def test_prior_of_the_wrong_kind_is_named(gan_case):
    view = make_view(gan_case.target(), "white-box", info=gan_case.target_info())
    with pytest.raises(ConfigError, match=r"needs a prior of kind 'kedmi'"):
        get_attack("kedmi")(progress=False).run(
            view, Knowledge(target_labels=[0], prior=gan_case.priors["gmi-z"])
        )
    with pytest.raises(ConfigError, match=r"knowledge.prior: .* needs a generator prior"):
        get_attack("gmi")(progress=False).run(view, Knowledge(target_labels=[0]))


def test_named_priors_serve_attacks_that_need_another_kind(gan_case):
    """An audit gives one knowledge to every attack: KEDMI finds its prior among the named ones."""
    view = make_view(gan_case.target(), "white-box", info=gan_case.target_info())
    k = gan_case.knowledge(view.access)
    result = get_attack("kedmi")(steps=5, progress=False).run(view, k)
    assert "kind=kedmi" in result.info["prior"]


def test_bad_configs_name_the_field():
    with pytest.raises(ConfigError, match=r"gmi\.config\.identity_loss"):
        get_attack("gmi")(identity_loss="hinge")
    with pytest.raises(ConfigError, match=r"ppa\.config\.keep"):
        get_attack("ppa")(keep=9, samples_per_class=4)
    with pytest.raises(ConfigError, match=r"brep-mi\.config\.expansion"):
        get_attack("brep-mi")(expansion=0.5)
    with pytest.raises(ConfigError, match=r"lomma\.config\.base"):
        get_attack("lomma")(base="ppa")
    with pytest.raises(ConfigError, match=r"gmi\.config\.prior.*kind"):
        get_attack("gmi")(prior={"kind": "vae"})


def test_every_attack_of_the_issue_is_registered():
    rows = {r["name"]: r for r in list_attacks()}
    expected = {
        "mi-face": "white-box",
        "gmi": "white-box",
        "kedmi": "white-box",
        "plg-mi": "white-box",
        "lomma": "white-box",
        "ppa": "white-box",
        "mirror-w": "white-box",
        "mirror-b": "black-box-scores",
        "brep-mi": "label-only",
        "rlb-mi": "black-box-scores",
    }
    for name, access in expected.items():
        assert rows[name]["access"] == access and rows[name]["modality"] == "image"
