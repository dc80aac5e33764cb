"""Output defenses: what each releases, and the errors for bad input."""

import numpy as np
import pytest
import torch

from mi_core import AccessError, ConfigError, TargetInfo, make_view
from mi_core.errors import NotApplicable
from mi_defense.output.dp_exponential import DPExponential, exponential_mechanism_scores
from mi_defense.output.feature_noise import FeatureNoise
from mi_defense.output.graph_topk import GraphTopK
from mi_defense.output.label_only import LabelOnly
from mi_defense.output.purifier import Purifier
from mi_defense.output.rounding import Rounding
from mi_defense.output.score_noise import GaussianNoise, LaplaceNoise
from mi_defense.output.topk import TopK


@pytest.fixture()
def view():
    torch.manual_seed(0)
    model = torch.nn.Linear(6, 5)
    info = TargetInfo(modality="image", num_classes=5)
    return make_view(model, "black-box-scores", info=info, budget=1000)


X = torch.randn(8, 6, generator=torch.Generator().manual_seed(1))


def test_topk_keeps_k_scores_and_the_label(view):
    clean = view(X)
    out = TopK(k=2).wrap(view)(X)
    assert ((out > 0).sum(1) == 2).all()
    assert torch.equal(out.argmax(1), clean.argmax(1))
    top2 = clean.topk(2, dim=1).values
    assert torch.allclose(out.topk(2, dim=1).values, top2)


def test_defended_view_shares_the_budget(view):
    wrapped = Rounding(step=0.1).wrap(view)
    wrapped(X)
    view(X)
    assert view.queries == 16 and wrapped.queries == 16


def test_rounding_releases_multiples_of_the_step(view):
    out = Rounding(step=0.1).wrap(view)(X)
    assert torch.allclose(out * 10, torch.round(out * 10), atol=1e-5)


def test_label_only_one_hot_and_labels(view):
    clean = view(X)
    one_hot = LabelOnly(release="one-hot").wrap(view)(X)
    assert torch.equal(one_hot.argmax(1), clean.argmax(1)) and (one_hot.sum(1) == 1).all()
    labels_view = LabelOnly(release="labels").wrap(view)
    assert labels_view.access.value == "label-only"
    assert torch.equal(labels_view(X), clean.argmax(1))


def test_noise_is_seeded_and_renormalised(view):
    a = GaussianNoise(sigma=0.2, seed=3).wrap(view)(X)
    b = GaussianNoise(sigma=0.2, seed=3).wrap(view)(X)
    assert torch.equal(a, b)
    assert torch.allclose(a.sum(1), torch.ones(8)) and (a >= 0).all()
    lap = LaplaceNoise(epsilon=1.0, keep_label=True).wrap(view)(X)
    assert torch.equal(lap.argmax(1), view(X).argmax(1))
    assert LaplaceNoise(epsilon=4.0).config.b == pytest.approx(0.5)


def test_numpy_scores_stay_numpy():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    xs = rng.normal(size=(60, 3))
    clf = LogisticRegression().fit(xs, (xs[:, 0] > 0).astype(int))
    v = make_view(clf, "black-box-scores")
    out = GaussianNoise(sigma=0.1).wrap(v)(xs[:5])
    assert isinstance(out, np.ndarray) and out.shape == (5, 2)


def test_dp_exponential_stays_in_the_sub_range_and_concentrates_with_epsilon():
    g = torch.Generator().manual_seed(0)
    s = torch.full((2000, 1), 0.437, dtype=torch.float64)
    low = exponential_mechanism_scores(s, 0.1, 10, 16, g)
    high = exponential_mechanism_scores(s, 50.0, 10, 16, g)
    assert ((low >= 0.4) & (low < 0.5)).all() and ((high >= 0.4) & (high < 0.5)).all()
    assert (high - 0.437).abs().mean() < (low - 0.437).abs().mean() / 3


def test_dp_exponential_keeps_the_label(view):
    out = DPExponential(epsilon=0.5).wrap(view)(X)
    assert torch.equal(out.argmax(1), view(X).argmax(1))
    assert torch.allclose(out.sum(1), torch.ones(8, dtype=out.dtype))


def test_feature_noise_scale_from_epsilon_and_clipping():
    assert FeatureNoise(epsilon=2.0, sensitivity=1.0).config.b == pytest.approx(0.5)
    assert FeatureNoise(epsilon=2.0, clip_norm=1.0).config.b == pytest.approx(1.0)
    enc = torch.nn.Linear(4, 16)
    v = make_view(enc, "black-box-scores", postprocess=None, info=TargetInfo(modality="text"))
    xs = torch.randn(500, 4)
    noisy = FeatureNoise(scale=0.5).wrap(v)(xs)
    diff = noisy - v(xs)
    assert diff.abs().mean().item() == pytest.approx(0.5, rel=0.1)  # E|Lap(b)| = b


# -- bad input ---------------------------------------------------------------------------------
def test_k_larger_than_the_number_of_classes(view):
    with pytest.raises(ConfigError, match=r"k: 7 is larger than the number of classes \(5\)"):
        TopK(k=7).wrap(view)


def test_output_defense_on_a_white_box_view():
    wb = make_view(torch.nn.Linear(6, 5), "white-box", info=TargetInfo(modality="image"))
    with pytest.raises(AccessError, match="restrict"):
        Rounding().wrap(wb)


def test_output_defense_on_the_wrong_modality(view):
    with pytest.raises(ConfigError, match="applies to graph, not image"):
        GraphTopK(k=1).wrap(view)


def test_score_defense_on_a_label_only_view(view):
    with pytest.raises(AccessError, match="labels only"):
        GaussianNoise().wrap(view.restrict("label-only"))


@pytest.mark.parametrize(
    ("cls", "kwargs", "match"),
    [
        (LaplaceNoise, {"epsilon": 0.0}, "epsilon must be > 0"),
        (LaplaceNoise, {"epsilon": -1.0}, "epsilon must be > 0"),
        (DPExponential, {"epsilon": 0.0}, "epsilon must be > 0"),
        (FeatureNoise, {"epsilon": 1.0}, "sensitivity"),
        (TopK, {"k": 0}, "k: must be > 0"),
        (Rounding, {"step": 0.0}, "step"),
        (LabelOnly, {"release": "scores"}, "allowed values"),
    ],
)
def test_bad_configs_name_the_field(cls, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        cls(**kwargs)


def test_learned_defense_must_be_fitted_first(view):
    with pytest.raises(NotApplicable, match=r"fit\(model, x_defender\)"):
        Purifier().wrap(view)
    with pytest.raises(ConfigError, match=r"meta\.json"):
        Purifier(weights="/nonexistent/purifier")
