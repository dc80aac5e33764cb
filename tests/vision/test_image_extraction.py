"""Training-data extraction from generative image models at digit scale: a tiny DDPM and a tiny
WGAN are trained on private 8x8 digits, some repeated (x1, x10, x50). Each extraction attack
flags images whose nearest private image lies within the evaluation threshold more often than
an unfiltered random sample does, and finds more distinct private images than as many random
samples; with its filter (and guidance) switched off, the same check fails.

Margins were measured over seeds 0-4 (the table at CASES); extraction runs take a fraction of
a second, so each test averages the five seeds.
"""

import pytest
import torch

from mi_core import Knowledge, make_view
from mi_core.errors import NotApplicable, QueryBudgetExceeded
from mi_core.registry import get_attack, list_attacks
from mi_vision.extraction import (
    ExtractionEvaluator,
    find_cliques,
    generator_view,
    l2_distances,
    pairwise,
    suppress_near_duplicates,
    tiled_l2,
)

THRESHOLD = 0.1  # normalised l2 on [0, 1] images; distinct digits here lie 0.10-0.18 apart


def private_set(levels, offset=0):
    """Distinct digits (``n`` of them repeated ``copies`` times per level), their copy counts
    and the training set with the repetitions."""
    from mi_vision.data import load_digits

    x, _ = load_digits()
    perm = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(0))[offset:]
    uniq, copies, data, i = [], [], [], 0
    for n, c in levels:
        imgs = x[perm[i : i + n]]
        i += n
        uniq.append(imgs)
        copies += [c] * n
        data.append(imgs.repeat(c, 1, 1, 1))
    return torch.cat(uniq), torch.tensor(copies), torch.cat(data)


@pytest.fixture(scope="module")
def generators():
    """A DDPM on 52 distinct digits (40 x1, 8 x10, 4 x50) and a WGAN-GP on 10 (5 x1, 3 x10,
    2 x50); each memorises its x50 images."""
    from mi_vision.priors import train_prior
    from mi_vision.priors.diffusion import train_diffusion_prior

    torch.set_num_threads(1)
    u1, c1, d1 = private_set([(40, 1), (8, 10), (4, 50)])
    ddpm = train_diffusion_prior(
        d1,
        {
            "conditional": False,
            "channels": (16, 32),
            "attention": False,
            "batch_size": 32,
            "steps": 300,
            "lr": 2e-3,
            "warmup": 20,
            "sampler": "ddim",
            "sample_steps": 10,
            "progress": False,
        },
    )
    u2, c2, d2 = private_set([(5, 1), (3, 10), (2, 50)], offset=60)
    gan = train_prior(
        d2,
        {
            "kind": "gmi",
            "steps": 400,
            "g_width": 32,
            "d_width": 16,
            "latent_dim": 8,
            "n_critic": 2,
            "lr": 2e-3,
            "betas": (0.5, 0.9),
            "progress": False,
        },
    )
    return {
        "ddpm": (ddpm, ExtractionEvaluator(u1, THRESHOLD, c1)),
        "gan": (gan, ExtractionEvaluator(u2, THRESHOLD, c2)),
    }


def _run(generators, attack, which, access, config, seed=0):
    prior, ev = generators[which]
    view = generator_view(prior, access)
    result = get_attack(attack)({**config, "progress": False}).run(view, Knowledge(), seed=seed)
    return view, result, {f.metric: f for f in ev.evaluate(result)}


#: attack, generator, access, config, the filter switched off, margins (flagged precision,
#: distinct images extracted) on the mean gain over seeds 0-4. Gains measured on seeds 0-4
#: (on | off):
#:   diffusion-extraction  precision +0.50..+0.60 | -0.29..-0.30; distinct +2..+3 | 0
#:   gan-extraction        precision +0.10..+0.62 (mean +0.31) | -0.20..-0.39; distinct 0 | 0
#:                         (random sampling already finds both memorised images: only the
#:                         precision can improve)
#:   side                  precision +0.17..+0.63 | -0.30..-0.35; distinct +2..+4 | 0..+2
#:                         (off: no guidance, so no classifier is trained, and no filter;
#:                         distinct mean +1.0: unguided sampling alone covers a little more;
#:                         with the guidance off and the filter kept: precision +0.34..+0.58,
#:                         mean +0.48 against +0.56, distinct +2.6 as with it: the margin comes
#:                         from the filter, see the mi-vision README)
#: With the filter off, the success check fails: on precision for every attack (each test
#: below asserts that), and on the distinct count too where a margin is set, except SIDE's.
SEEDS = (0, 1, 2, 3, 4)
CASES = [
    (
        "diffusion-extraction",
        "ddpm",
        "black-box-scores",
        {"n_samples": 200, "tiles": 1, "min_size": 10, "threshold": THRESHOLD},
        {"min_size": 1},
        (0.25, 1.0),
    ),
    (
        "gan-extraction",
        "gan",
        "black-box-scores",
        {"n_samples": 300, "tiles": 1, "min_size": 5, "threshold": THRESHOLD, "crowd": 0.7},
        {"min_size": 1},
        (0.15, None),
    ),
    (
        "side",
        "ddpm",
        "white-box",
        {
            "n_samples": 200,
            "tiles": 1,
            "min_size": 5,
            "threshold": THRESHOLD,
            "n_cluster_samples": 200,
            "clusters": 10,
            "classifier_steps": 100,
            "sample_steps": 10,
        },
        {"min_size": 1, "guidance": 0.0},
        (0.25, 1.0),
    ),
]
IDS = [c[0] for c in CASES]
ARGS = ("attack", "which", "access", "config", "off", "margins")


def _gains(generators, attack, which, access, config):
    prec, dist, last = [], [], None
    for seed in SEEDS:
        view, result, figs = _run(generators, attack, which, access, config, seed)
        if "flagged_precision" in figs:
            f = figs["flagged_precision"]
            prec.append(f.value - f.baseline)
        f = figs["distinct_extracted"]
        dist.append(f.value - f.baseline)
        last = (view, result, figs)
    mean = lambda v: sum(v) / len(v) if v else float("-inf")  # noqa: E731
    return mean(prec), mean(dist), (prec, dist), last


@pytest.mark.parametrize(ARGS, CASES, ids=IDS)
def test_extraction_beats_random_sampling(generators, attack, which, access, config, off, margins):
    prec, dist, gains, (view, result, figs) = _gains(generators, attack, which, access, config)
    assert prec >= margins[0], (attack, gains)
    if margins[1] is not None:
        assert dist >= margins[1], (attack, gains)
    assert result.queries == view.queries > 0
    assert result.reconstructions.shape[1:] == (1, 8, 8)
    # the x50 images are the ones extracted first
    assert figs["distinct_extracted"].details["per_level"]["x50"] >= 0.5


@pytest.mark.parametrize(ARGS, CASES, ids=IDS)
def test_the_check_fails_with_the_filter_switched_off(
    generators, attack, which, access, config, off, margins
):
    prec, _, gains, _ = _gains(generators, attack, which, access, {**config, **off})
    assert prec < margins[0], (attack, gains)  # the success check above fails


def test_extraction_attacks_do_not_apply_to_classifiers():
    from mi_vision.models import SmallCNN

    view = make_view(SmallCNN(1, 5, width=8, feature_dim=32), "white-box")
    for name in ("diffusion-extraction", "gan-extraction", "side"):
        with pytest.raises(NotApplicable, match="generative model"):
            get_attack(name)(progress=False).run(view, Knowledge())


def test_side_needs_the_score_network(generators):
    gan, _ = generators["gan"]
    with pytest.raises(NotApplicable, match="guides a diffusion model"):
        get_attack("side")(progress=False).run(generator_view(gan, "white-box"), Knowledge())


def test_black_box_extraction_counts_images_and_respects_the_budget(generators):
    ddpm, _ = generators["ddpm"]
    view = generator_view(ddpm, "black-box-scores", budget=50)
    with pytest.raises(QueryBudgetExceeded):
        get_attack("diffusion-extraction")(n_samples=60, batch=20, progress=False).run(
            view, Knowledge()
        )
    assert view.queries == 40  # two batches of 20 went through, the third was refused
    view = generator_view(ddpm, "black-box-scores")
    out = view(torch.tensor([1, 2, 3]))
    assert out.shape == (3, 1, 8, 8) and not out.requires_grad
    # a seed is an image (up to the float rounding of a different batch size)
    assert torch.allclose(out[1], view(torch.tensor([2]))[0], atol=1e-5)


def test_distances_and_cliques():
    a = torch.zeros(3, 1, 4, 4)
    a[1] += 0.05
    a[2, :, :2, :2] = 1.0  # differs in one tile only
    d = l2_distances(a, a)
    assert torch.allclose(d[0, 1], torch.tensor(0.05)) and float(d[0, 2]) == pytest.approx(0.5)
    t = tiled_l2(a, a, tiles=2)
    assert float(t[0, 2]) == pytest.approx(1.0)  # the tiled distance sees the one bad tile
    assert torch.allclose(t[0, 1], torch.tensor(0.05))
    dist = pairwise(torch.cat([a[:2], a[:2] + 0.01, a[2:]]), tiles=2)
    cliques = find_cliques(dist, 0.1, 3)
    assert len(cliques) == 1 and sorted(cliques[0]) == [0, 1, 2, 3]
    assert suppress_near_duplicates(dist, [0, 1, 2, 3, 4], 0.1) == [0, 4]


def test_extraction_attacks_are_registered():
    rows = {r["name"]: r for r in list_attacks()}
    assert rows["diffusion-extraction"]["access"] == "black-box-scores"
    assert rows["gan-extraction"]["access"] == "black-box-scores"
    assert rows["side"]["access"] == "white-box"
