"""The third slice of image attacks (IF-GMI, LOKT, VMI, SecretGen, C2FMI, BMI-S, DMMIA, P2I-MI,
DeepInversion, the training-based inversion model) on the tiny GMI protocol (digits 0-4 private,
GAN priors trained on digits 5-9), judged by an evaluation model of another architecture.

Each attack stands beside its *own* starting point: unoptimised samples of its own prior (GAN
attacks), the initial noise (DeepInversion), the mean public image (the inversion model), or
the best fit of the corrupted image without the model (SecretGen). The top-1 gain is averaged
over 5 seeds and must exceed a margin well below what was measured (room for another CPU); the
reconstructions must also be no farther from the private class (KNN distance of evaluation
features) than the baseline. The companion test switches the search off (``steps=0`` or an
untrained network: the attack returns its starting point) and the same check must fail.
"""

import statistics

import pytest
import torch

from mi_core import Knowledge, make_view
from mi_core.errors import NotApplicable
from mi_core.metrics import eval_accuracy, knn_distance
from mi_core.registry import get_attack, list_attacks

SEEDS = range(5)


def _corrupted(case, kind):
    from mi_vision.attacks.secretgen import corrupt

    x = torch.stack([case.x_train[case.y_train == c][i] for c in range(5) for i in range(2)])
    return corrupt(x, torch.arange(5).repeat_interleave(2), kind)


def _observed(case):
    with torch.no_grad():
        return torch.softmax(case.model(case.x_train[:100]), 1)


#: attack, prior, access, config, the config with the search off, baseline array, margin.
#: Measured on a loaded 2-core machine (mean top-1 gain over seeds 0-4, searched / off):
#: if-gmi .44/.04, vmi .25/-.04, dmmia .30/.04, bmi-s .52/.04, c2fmi .72/.04, p2i-mi .48/.02,
#: secretgen (mask) .46/0 (blur .26/0), deep-inversion .26/0, inversion-model .40/0, lokt see
#: LOKT_MARGIN. Judged by the calibrated evaluation model (after the evaluation protocol
#: changed) p2i-mi fell to .24 (.6/.4/.3/-.1/0) and secretgen to .20 (.2/.3/.2/.1/.2): their
#: margins are .10. These are AVX2 kernels (the suite caps them, tests/conftest.py): on an
#: AVX-512 machine without the cap, where the target, priors and evaluation model train with
#: other rounding, dmmia scored .08 (.4/.3/-.3/.1/-.1) and bmi-s .18 (.6/.2/-.2/.4/-.1), below
#: their margins: the spread over seeds of one fixture understates the spread over fixtures.
CASES = {
    "if-gmi": (
        "gmi-z",
        "white-box",
        {"steps": (30, 20, 20), "samples_per_class": 2, "augment": "noflip"},
        {"steps": (0, 0, 0)},
        "prior_samples",
        0.2,
    ),
    "vmi": (
        "gmi-z",
        "white-box",
        {"steps": 60, "samples_per_class": 4},
        {"steps": 0},
        "prior_samples",
        0.12,
    ),
    "dmmia": (
        "gmi-z",
        "white-box",
        {"steps": 50, "samples_per_class": 2},
        {"steps": 0},
        "prior_samples",
        0.15,
    ),
    "bmi-s": (
        "gmi",
        "black-box-scores",
        {"steps": 20, "samples_per_class": 2, "candidates": 0},
        {"steps": 0},
        "prior_samples",
        0.25,
    ),
    "c2fmi": (
        "gmi",
        "black-box-scores",
        {"steps": 10, "samples_per_class": 2, "public_samples": 500, "epochs": 10},
        {"steps": 0, "coarse_steps": 0},
        "prior_samples",
        0.3,
    ),
    "p2i-mi": (
        "gmi",
        "black-box-scores",
        {"samples_per_class": 2, "train_samples": 500, "public_samples": 500, "epochs": 5},
        {"epochs": 0},
        "prior_samples",
        0.1,
    ),
    "secretgen": (
        "gmi-z",
        "white-box",
        {"steps": 50, "samples_per_class": 1, "candidates": 8, "inpaint_steps": 50},
        {"steps": 0, "candidates": 1},
        "no_model",
        0.1,
    ),
    "deep-inversion": (
        None,
        "white-box",
        {"steps": 200, "samples_per_class": 2},
        {"steps": 0},
        "initial",
        0.12,
    ),
    "inversion-model": (
        None,
        "black-box-scores",
        {"epochs": 10},
        {"epochs": 0},
        "prior_samples",
        0.2,
    ),
}


def _knowledge(case, attack, prior):
    extra = {"corrupted": _corrupted(case, "mask")} if attack == "secretgen" else {}
    return Knowledge(
        target_labels=list(range(5)),
        prior=case.priors[prior] if prior else None,
        auxiliary=case.public,
        extra=extra,
    )


def _judge(case, result, baseline):
    """(top-1 gain, KNN-distance change) of the reconstructions over the baseline images."""
    x, y = result.reconstructions, torch.as_tensor(result.targets)
    base = baseline[: x.shape[0]]
    ev, feats = case.eval_model, case.eval_model.features
    top1 = eval_accuracy(ev, x, y, (1,))["top1"] - eval_accuracy(ev, base, y, (1,))["top1"]
    knn = knn_distance(feats, x, y, case.x_train, case.y_train) - knn_distance(
        feats, base, y, case.x_train, case.y_train
    )
    return top1, knn


def _over_seeds(case, attack, prior, access, config, which, knowledge=None):
    gains, knns = [], []
    for seed in SEEDS:
        view = make_view(case.target(), access, info=case.target_info())
        k = knowledge if knowledge is not None else _knowledge(case, attack, prior)
        result = get_attack(attack)({**config, "progress": False}).run(view, k, seed=seed)
        assert result.reconstructions.min() >= 0 and result.reconstructions.max() <= 1
        assert sorted(set(torch.as_tensor(result.targets).tolist())) == [0, 1, 2, 3, 4]
        assert result.queries == view.queries
        g, d = _judge(case, result, result.arrays[which])
        gains.append(g)
        knns.append(d)
    return statistics.mean(gains), statistics.mean(knns), gains


@pytest.mark.parametrize("attack", list(CASES))
def test_attack_beats_its_own_starting_point(gan_case, attack):
    prior, access, config, _, which, margin = CASES[attack]
    gain, knn, gains = _over_seeds(gan_case, attack, prior, access, config, which)
    assert gain >= margin, (attack, gains)
    assert knn < 0, (attack, knn)  # recognised *and* nearer the private class, not noise


@pytest.mark.parametrize("attack", list(CASES))
def test_the_same_check_fails_with_the_search_off(gan_case, attack):
    prior, access, config, off, which, margin = CASES[attack]
    gain, _, gains = _over_seeds(gan_case, attack, prior, access, {**config, **off}, which)
    assert gain < margin, (attack, gains)


# ---------------------------------------------------------------------------------------------
# LOKT: its T-ACGAN is trained through the label-only view (the queries are counted)
# ---------------------------------------------------------------------------------------------

LOKT_PRIOR = {
    "kind": "lokt",
    "steps": 150,
    "batch_size": 32,
    "lr": 1e-3,
    "g_width": 16,
    "d_width": 16,
    "latent_dim": 16,
    "progress": False,
}
#: one CNN surrogate (LOKT uses three DenseNets) on 3000 target-labelled generated images;
#: measured over seeds 0-4 with the calibrated evaluation model: top-1 gain .15
#: (.25/.20/.15/.15/.00, KNN -1.8) searched, -.02 with the search off; with 1500 images and 100
#: steps the gain was .06: the surrogate's fidelity bounds what the white-box search transfers.
#: On AVX-512 kernels (no cap) .06 (.30/.05/-.10/.10/-.05): see the comment on CASES.
LOKT = {
    "steps": 300,
    "samples_per_class": 4,
    "surrogates": 1,
    "students": ("cnn",),
    "surrogate_samples": 3000,
    "surrogate_epochs": 12,
    "augment": "none",
    "n_aug": 1,
}
LOKT_MARGIN = 0.07


@pytest.fixture(scope="module")
def lokt_prior(gan_case):
    from mi_vision.priors import train_prior

    view = make_view(gan_case.target(), "label-only", info=gan_case.target_info())
    prior = train_prior(gan_case.public, LOKT_PRIOR, target=view, seed=0)
    # the public images once, then every generated batch of the discriminator's steps
    assert view.queries == len(gan_case.public) + LOKT_PRIOR["steps"] * LOKT_PRIOR["batch_size"]
    return prior


@pytest.mark.slow
def test_lokt_beats_its_own_prior_and_fails_with_the_search_off(gan_case, lokt_prior):
    k = Knowledge(target_labels=list(range(5)), prior=lokt_prior)
    gain, knn, gains = _over_seeds(gan_case, "lokt", None, "label-only", LOKT, "prior_samples", k)
    assert gain >= LOKT_MARGIN and knn < 0, gains
    off, _, off_gains = _over_seeds(
        gan_case, "lokt", None, "label-only", {**LOKT, "steps": 0}, "prior_samples", k
    )
    assert off < LOKT_MARGIN, off_gains


def test_lokt_queries_only_to_label_its_surrogates_data(gan_case, lokt_prior):
    spy = _Spy(gan_case.target())
    view = make_view(spy, "label-only", info=gan_case.target_info())
    k = Knowledge(target_labels=[0, 3], prior=lokt_prior)
    cfg = {**LOKT, "steps": 5, "surrogate_samples": 300, "surrogate_epochs": 1, "progress": False}
    result = get_attack("lokt")(cfg).run(view, k, seed=0)
    assert not spy.grad_seen
    assert result.queries == view.queries == cfg["surrogate_samples"]
    assert result.info["search_queries"] == 0  # the search is white-box on the surrogates
    assert result.scores is None  # a label-only view releases no confidence


# ---------------------------------------------------------------------------------------------
# black-box attacks only see their views
# ---------------------------------------------------------------------------------------------


class _Spy:
    """A remote 'API': records whether any call could carry gradients."""

    def __init__(self, model):
        self.model, self.grad_seen, self.calls = model, False, 0

    def __call__(self, x):
        self.calls += 1
        self.grad_seen |= torch.is_grad_enabled() or bool(getattr(x, "requires_grad", False))
        with torch.no_grad():
            return torch.softmax(self.model(x), 1)


BLACK_BOX = {
    "bmi-s": {"steps": 3, "samples_per_class": 2, "candidates": 50},
    "c2fmi": {"steps": 3, "samples_per_class": 2, "public_samples": 200, "epochs": 2},
    "p2i-mi": {"samples_per_class": 1, "train_samples": 100, "public_samples": 100, "epochs": 1},
    "inversion-model": {"epochs": 1, "aux_samples": 200},
}


@pytest.mark.parametrize("attack", list(BLACK_BOX))
def test_black_box_attacks_only_query_the_view(gan_case, attack):
    spy = _Spy(gan_case.target())
    view = make_view(spy, "black-box-scores", info=gan_case.target_info())
    with pytest.raises(Exception, match="white-box"):
        _ = view.module
    prior = CASES[attack][0]
    k = Knowledge(
        target_labels=[0, 3],
        prior=gan_case.priors[prior] if prior else None,
        auxiliary=gan_case.public,
    )
    result = get_attack(attack)({**BLACK_BOX[attack], "progress": False}).run(view, k, seed=0)
    assert spy.calls > 0 and not spy.grad_seen
    assert result.queries == view.queries > 0


@pytest.mark.parametrize("attack", ["bmi-s", "c2fmi"])
def test_black_box_searches_respect_the_query_budget(gan_case, attack):
    cfg = {**CASES[attack][2], "steps": 10**5, "progress": False}
    view = make_view(
        gan_case.target(), "black-box-scores", info=gan_case.target_info(), budget=3000
    )
    k = _knowledge(gan_case, attack, CASES[attack][0])
    result = get_attack(attack)(cfg).run(view, k, seed=0)
    assert view.queries <= 3000 and result.queries == view.queries
    assert result.info["stopped"] == "budget"


# ---------------------------------------------------------------------------------------------
# pieces
# ---------------------------------------------------------------------------------------------


def test_every_prior_splits_into_blocks_that_compose_to_the_generator(gan_case):
    """IF-GMI's split (survey Eq. 7) works on the mapping generator searched in Z (the mapping
    network is block 0), in W, and on the conditional generator (class input is block 0)."""
    for name, prior in gan_case.priors.items():
        labels = torch.arange(4) % 5 if prior.num_classes else None
        z = prior.to_search(prior.sample_z(4, torch.Generator().manual_seed(0)), labels)
        h = z
        for block in prior.stages(labels):
            h = block(h)
        assert torch.allclose(h, prior.generate(z, labels), atol=1e-6), name
    assert len(gan_case.priors["gmi-z"].stages()) == len(gan_case.priors["gmi"].stages()) + 1


def test_l1_ball_projection():
    from mi_vision.optimizers import l1_ball

    g = torch.Generator().manual_seed(0)
    c = torch.randn(4, 12, generator=g)
    x = c + 3 * torch.randn(4, 12, generator=g)
    radius = torch.tensor([0.5, 2.0, 1e3, 0.0])
    d = (l1_ball(c, radius)(x) - c).abs().sum(1)
    assert torch.allclose(d[[0, 1, 3]], radius[[0, 1, 3]], atol=1e-5)
    assert torch.allclose(d[2], (x - c).abs().sum(1)[2])  # inside the ball: unchanged


def test_vmi_trades_accuracy_for_diversity(gan_case):
    """The KL term keeps q near the latent prior (a larger weight, a smaller KL and a higher
    coverage of the private class); precision / recall / density / coverage are reported."""
    from mi_vision.metrics import prdc_per_class

    k = _knowledge(gan_case, "vmi", "gmi-z")
    view = make_view(gan_case.target(), "white-box", info=gan_case.target_info())
    kl, div = {}, {}
    for w in (0.0, 1.0):
        cfg = {"steps": 60, "samples_per_class": 8, "kl_weight": w, "progress": False}
        res = get_attack("vmi")(cfg).run(view, k, seed=0)
        kl[w] = res.info["kl_to_prior"]
        div[w] = prdc_per_class(
            gan_case.eval_model.features,
            res.reconstructions,
            res.targets,
            gan_case.x_train,
            gan_case.y_train,
        )
        assert all(0 <= v <= 1 for key, v in div[w].items() if key != "density"), div
    assert kl[1.0] < kl[0.0], (kl, div)


def test_secretgen_on_blurred_images_beats_the_model_free_fit(gan_case):
    k = _knowledge(gan_case, "secretgen", "gmi-z")
    k.extra["corrupted"] = _corrupted(gan_case, "blur")
    cfg = CASES["secretgen"][2]
    gain, _, gains = _over_seeds(gan_case, "secretgen", None, "white-box", cfg, "no_model", k)
    assert gain >= 0.1, gains


def test_secretgen_and_deep_inversion_say_when_they_do_not_apply(gan_case):
    view = make_view(gan_case.target(), "white-box", info=gan_case.target_info())
    with pytest.raises(NotApplicable, match="corrupted"):
        get_attack("secretgen")(progress=False).run(view, Knowledge(prior=gan_case.priors["gmi-z"]))
    softmax_regression = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 5))
    no_bn = make_view(softmax_regression, "white-box", info=gan_case.target_info())
    with pytest.raises(NotApplicable, match="BatchNorm2d"):
        get_attack("deep-inversion")(progress=False).run(no_bn, Knowledge(target_labels=[0]))


@pytest.mark.parametrize("variant", [{}, {"amplification": True}, {"domain_alignment": True}])
def test_inversion_model_reconstructs_released_private_vectors(gan_case, variant):
    """Yang et al.'s setting: the vectors the target released for private images are known, and
    the attacker's background data come from the same distribution (held-out images of the
    private classes, never the training members); each reconstruction is nearer its own private
    image than the mean background image is (measured: MSE .045 / .046 / .045 for the base,
    amplified and aligned decoders against .076; with the disjoint public classes 5-9 as
    background the decoders do *not* beat the mean image: .090 against .086)."""
    k = Knowledge(auxiliary=gan_case.x_test, extra={"observed_outputs": _observed(gan_case)})
    view = make_view(gan_case.target(), "black-box-scores", info=gan_case.target_info())
    mse = {}
    for epochs in (30, 0):
        cfg = {"epochs": epochs, "truncate": 3, **variant, "progress": False}
        res = get_attack("inversion-model")(cfg).run(view, k, seed=0)
        private = gan_case.x_train[:100]
        mse[epochs] = float((res.reconstructions - private).pow(2).mean())
        base = float((res.arrays["prior_samples"] - private).pow(2).mean())
    assert mse[30] < 0.8 * base, (mse, base)
    assert mse[0] > 0.8 * base, (mse, base)


def test_mi_defense_uses_the_one_inversion_model():
    from mi_defense import inversion
    from mi_vision.attacks import inversion_model

    assert inversion.InversionNet is inversion_model.InversionNet
    assert inversion.inversion_attack is inversion_model.inversion_attack


def test_every_attack_of_the_slice_is_registered_and_in_the_audit_plan():
    from mi_core.audit.config import AuditConfig, TargetSpec
    from mi_core.audit.plan import plan_cells

    rows = {r["name"]: r for r in list_attacks()}
    expected = {
        "if-gmi": "white-box",
        "lokt": "label-only",
        "vmi": "white-box",
        "secretgen": "white-box",
        "c2fmi": "black-box-scores",
        "bmi-s": "black-box-scores",
        "dmmia": "white-box",
        "p2i-mi": "black-box-scores",
        "deep-inversion": "white-box",
        "inversion-model": "black-box-scores",
    }
    for name, access in expected.items():
        assert rows[name]["access"] == access and rows[name]["modality"] == "image", name
    access = ("white-box", "black-box-scores", "label-only")
    target = TargetSpec(name="digits", case="digits-gan", access=access)
    audit = AuditConfig("t", "out", 0, 1, (target,), None, {}, ())
    cells = plan_cells(audit)
    planned = {c.attack: c.access for c in cells}
    for name, access in expected.items():
        assert planned[name] == access, name
