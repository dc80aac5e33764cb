"""Identity / prior losses (survey Eq. 3-5) and the latent optimizers on toy problems whose
answers are known."""

import math

import pytest
import torch

from mi_core import ConfigError
from mi_vision.losses import (
    cross_entropy,
    discriminator_realism,
    get_identity_loss,
    kl_standard_normal,
    logit_loss,
    max_margin,
    poincare,
)
from mi_vision.optimizers import (
    BoundaryRepulsion,
    DistributionOptimizer,
    GeneticOptimizer,
    GradientOptimizer,
    SearchProblem,
    SoftActorCritic,
    StoppingRule,
    run_search,
)

LOGITS = torch.tensor([[2.0, 1.0, -1.0], [0.0, 3.0, 0.5]])
TARGETS = torch.tensor([0, 2])


def test_max_margin_is_eq_5():
    # -l_c + max_{j != c} l_j
    assert torch.allclose(max_margin(LOGITS, TARGETS), torch.tensor([-2.0 + 1.0, -0.5 + 3.0]))


def test_logit_loss_is_minus_the_target_logit():
    assert torch.allclose(logit_loss(LOGITS, TARGETS), torch.tensor([-2.0, -0.5]))


def test_poincare_is_eq_4():
    u = LOGITS / LOGITS.abs().sum(1, keepdim=True)
    v = torch.nn.functional.one_hot(TARGETS, 3).float() * 0.9999
    expected = torch.acosh(
        1 + 2 * ((u - v) ** 2).sum(1) / ((1 - (u * u).sum(1)) * (1 - (v * v).sum(1)))
    )
    assert torch.allclose(poincare(LOGITS, TARGETS), expected)
    # the loss keeps a useful gradient where cross-entropy has saturated
    confident = torch.tensor([[30.0, 1.0, -2.0]], requires_grad=True)
    (g_ce,) = torch.autograd.grad(cross_entropy(confident, torch.tensor([0])).sum(), confident)
    (g_p,) = torch.autograd.grad(poincare(confident, torch.tensor([0])).sum(), confident)
    assert g_ce.abs().max() < 1e-10 < g_p.abs().max()


def test_realism_and_kl():
    d = torch.tensor([0.5, -2.0])
    assert torch.allclose(discriminator_realism(d, "gmi"), -d)
    assert torch.allclose(discriminator_realism(d, "dcgan"), torch.nn.functional.softplus(-d))
    k_way = torch.tensor([[0.0, 0.0], [5.0, 5.0]])
    lse = torch.logsumexp(k_way, 1)
    real = torch.exp(lse) / (torch.exp(lse) + 1)  # D_real = Z / (Z + 1)
    assert torch.allclose(discriminator_realism(k_way, "kedmi"), -torch.log(real))
    assert torch.allclose(kl_standard_normal(torch.zeros(2, 3), torch.zeros(2, 3)), torch.zeros(2))
    assert kl_standard_normal(torch.ones(1, 3), torch.zeros(1, 3)).item() == pytest.approx(1.5)
    with pytest.raises(ConfigError, match="identity_loss: unknown identity loss"):
        get_identity_loss("hinge")


# a toy search: rows must reach the point (c, -c) for their class c
def _toy_loss(z, classes):
    goal = torch.stack([classes.float(), -classes.float()], 1)
    return ((z - goal) ** 2).sum(1)


def _problem(**kw):
    return SearchProblem(torch.tensor([0, 1, 2]), torch.Generator().manual_seed(0), **kw)


@pytest.mark.parametrize("kind", ["adam", "sgd"])
def test_gradient_optimizer_solves_the_toy(kind):
    opt = GradientOptimizer(torch.zeros(3, 2), kind, lr=0.1, momentum=0.5)
    res = run_search(opt, _problem(loss=_toy_loss), 300, progress=False)
    assert res.best_loss.max() < 1e-3 and res.steps == 300


def test_frozen_rows_do_not_move_even_with_adam_momentum():
    opt = GradientOptimizer(torch.zeros(3, 2), "adam", lr=0.1)
    problem = _problem(loss=_toy_loss)
    opt.step(problem, torch.tensor([True, True, True]))
    frozen = opt.candidates()[1].clone()
    for _ in range(5):
        opt.step(problem, torch.tensor([True, False, True]))
    assert torch.equal(opt.candidates()[1], frozen)


def test_distribution_optimizer_learns_mean_and_shrinks_variance():
    opt = DistributionOptimizer(torch.zeros(3, 2), lr=0.05, samples=8)
    run_search(opt, _problem(loss=_toy_loss), 400, progress=False)
    goal = torch.tensor([[0.0, 0.0], [1.0, -1.0], [2.0, -2.0]])
    assert torch.allclose(opt.candidates(), goal, atol=0.15)
    assert (opt.logvar.exp() < 0.2).all()
    assert opt.draw(4, torch.Generator().manual_seed(1)).shape == (12, 2)


def test_genetic_optimizer_improves_without_gradients():
    calls = {"grad": False}

    def loss(z, classes):
        calls["grad"] |= torch.is_grad_enabled()
        return _toy_loss(z, classes)

    pop = torch.randn(3, 20, 2, generator=torch.Generator().manual_seed(0)) * 3
    opt = GeneticOptimizer(pop, elite=2, mutation_prob=0.5, mutation_std=0.3)
    start = _toy_loss(pop.flatten(0, 1), torch.tensor([0, 1, 2]).repeat_interleave(20)).min()
    res = run_search(opt, _problem(loss=loss), 60, progress=False)
    assert res.best_loss.max() < 0.05 < start and not calls["grad"]


def test_boundary_repulsion_moves_away_from_the_boundary():
    """Label-only oracle: class c is the half-plane x > 0 for every row. Starting just inside,
    the latent is pushed deeper into the class and the radius grows."""
    oracle_calls = []

    def in_class(z, classes):
        oracle_calls.append(z.shape[0])
        return z[:, 0] > 0

    opt = BoundaryRepulsion(torch.tensor([[0.1, 0.0]] * 3), points=16, radius=0.5, clip=None)
    res = run_search(opt, _problem(in_class=in_class), 50, progress=False)
    assert (opt.candidates()[:, 0] > 1.0).all()
    assert (opt.radius > 0.5).all()
    assert sum(oracle_calls) <= 50 * 3 * (16 + 1) and res.steps <= 50


def test_soft_actor_critic_learns_a_rewarding_action():
    """Reward = -|a - goal_c|^2: the agents' best actions approach each row's goal."""
    goals = torch.tensor([[0.5, -0.5], [-0.5, 0.5], [0.0, 0.8]])

    def reward(s2, a, classes, active):
        r = -((s2 - goals[classes]) ** 2).sum(1)
        return r, r

    sac = SoftActorCritic(
        3,
        2,
        reward,
        hidden=32,
        lr=3e-3,
        batch_size=32,
        warmup=32,
        generator=torch.Generator().manual_seed(0),
    )
    run_search(sac, _problem(), 400, progress=False)
    acted = sac.act(torch.zeros(3, 1, 2))[:, 0]
    assert ((acted - goals) ** 2).sum(1).max() < 0.1


def test_stopping_rule_and_budget():
    rule = StoppingRule(3, patience=2, threshold=0.5)
    rows = torch.arange(3)
    assert rule(rows, torch.tensor([3.0, 3.0, 0.4])).tolist() == [False, False, True]
    budget = {"left": 10}

    def loss(z, classes):
        budget["left"] -= z.shape[0]
        return _toy_loss(z, classes)

    pop = torch.zeros(3, 4, 2)
    opt = GeneticOptimizer(pop, elite=1)
    res = run_search(
        opt, _problem(loss=loss, remaining=lambda: budget["left"]), 100, progress=False
    )
    assert res.stopped == "budget" and budget["left"] >= 0


def test_search_resumes_from_a_checkpoint(tmp_path):
    """A search interrupted after its step-20 checkpoint resumes to the same latents as an
    uninterrupted one (optimizer state, best tracking and random generator are restored)."""
    ck = str(tmp_path / "s.ckpt")

    def fresh():
        return DistributionOptimizer(torch.zeros(3, 2), lr=0.05, samples=2)

    full = run_search(fresh(), _problem(loss=_toy_loss), 40, progress=False)
    calls = {"n": 0}

    def crashing(z, classes):
        calls["n"] += 1
        if calls["n"] == 25:
            raise KeyboardInterrupt
        return _toy_loss(z, classes)

    with pytest.raises(KeyboardInterrupt):
        run_search(
            fresh(), _problem(loss=crashing), 40, checkpoint=ck, checkpoint_every=10, progress=False
        )
    resumed = run_search(
        fresh(), _problem(loss=_toy_loss), 40, checkpoint=ck, checkpoint_every=10, progress=False
    )
    assert torch.equal(resumed.latents, full.latents)
    assert torch.equal(resumed.best_loss, full.best_loss)
    assert math.isfinite(float(resumed.best_loss.max()))
