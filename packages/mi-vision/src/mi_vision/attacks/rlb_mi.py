"""RLB-MI: reinforcement-learning-based black-box model inversion (Han et al., CVPR 2023).

Per target class a Soft Actor-Critic agent searches the prior's latent space from the target's
confidence scores only (a black-box view; each image is a counted query). An episode: state
``s ~ N(0, I)``, action ``a = pi(s)``, next state ``s' = alpha s + (1 - alpha) a`` (alpha is
the diversity factor, 0 in the authors' runs), reward

    r = w1 log p_c(G(s')) + w2 log p_c(G(a))
        + w3 log max(1e-7, p_c(G(s')) - max_{j != c} p_j(G(s')))

(state, action and distinguishability rewards; weights 2, 2, 8 in the authors' code). The agents
of all classes are batched (:class:`mi_vision.optimizers.SoftActorCritic`). The reconstruction
of a class is the most confident of its best next state seen during training and the
deterministic actions of the trained actor on ``final_candidates`` random states.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mi_core import device as devices
from mi_core.config import check_positive, check_range
from mi_core.threat import Access
from mi_vision.inversion import Context, GANAttackConfig, GANInversion, ScoreObjective
from mi_vision.optimizers import LatentOptimizer, SearchProblem, SearchResult, SoftActorCritic
from mi_vision.targets import scores_fn


@dataclass
class RLBMIConfig(GANAttackConfig):
    """Hyper-parameters of RLB-MI (the authors' code in brackets).

    Attributes:
        steps: episodes per class [40000; far fewer here, see the README].
        alpha: diversity factor of the state transition [0].
        reward_weights: weights of the state, action and distinguishability rewards [2, 2, 8].
        hidden, lr, batch_size, warmup, capacity: SAC networks, Adam step, replay batch, episodes
            before learning starts, replay-buffer size.
        final_candidates: actor outputs scored per class at the end.
    """

    steps: int = 2000
    alpha: float = 0.0
    reward_weights: tuple[float, float, float] = (2.0, 2.0, 8.0)
    hidden: int = 256
    lr: float = 5e-4
    batch_size: int = 64
    warmup: int = 64
    capacity: int = 10000
    final_candidates: int = 32

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("steps", "hidden", "lr", "batch_size", "capacity", "final_candidates"):
            check_positive(name, getattr(self, name))
        check_positive("warmup", self.warmup, allow_zero=True)
        check_range("alpha", self.alpha, 0.0, 1.0)


class RLBMI(GANInversion):
    """Batched Soft Actor-Critic agents searching the latent space from black-box scores."""

    name = "rlb-mi"
    modality = "image"
    access = Access.BLACK_BOX_SCORES
    paper = "Han et al., CVPR 2023"
    summary = "black-box: one SAC agent per class, rewarded by the target's confidence"
    Config = RLBMIConfig
    default_prior = (("kind", "gmi"),)

    def _initial(self, ctx: Context) -> tuple[torch.Tensor, torch.Tensor]:
        rows = ctx.classes.clone()
        return rows, torch.zeros(rows.shape[0], ctx.prior.latent_dim, device=ctx.device)

    def _problem(self, ctx: Context, rows: torch.Tensor, plugin: object) -> SearchProblem:
        ctx.scratch["objective"] = ScoreObjective(
            ctx.prior, ctx.to_input, scores_fn(ctx.view, ctx.device)
        )
        return SearchProblem(rows, ctx.rng, remaining=lambda: ctx.view.remaining)

    def _reward(self, ctx: Context):  # type: ignore[no-untyped-def]
        w1, w2, w3 = self.config.reward_weights
        objective: ScoreObjective = ctx.scratch["objective"]
        same = self.config.alpha == 0.0

        def reward(s2, a, classes, active):  # type: ignore[no-untyped-def]
            p_s = objective.scores(s2, classes)
            p_a = p_s if same else objective.scores(a, classes)
            pc_s = p_s.gather(1, classes[:, None]).squeeze(1)
            pc_a = p_a.gather(1, classes[:, None]).squeeze(1)
            other = p_s.scatter(1, classes[:, None], float("-inf")).max(1).values
            r = (
                w1 * pc_s.clamp_min(1e-12).log()
                + w2 * pc_a.clamp_min(1e-12).log()
                + w3 * (pc_s - other).clamp_min(1e-7).log()
            )
            return r, pc_s

        return reward

    def _optimizer(
        self, ctx: Context, rows: torch.Tensor, latents: torch.Tensor
    ) -> LatentOptimizer:
        cfg: RLBMIConfig = self.config
        return SoftActorCritic(
            rows.shape[0],
            latents.shape[1],
            self._reward(ctx),
            hidden=cfg.hidden,
            lr=cfg.lr,
            alpha=cfg.alpha,
            batch_size=cfg.batch_size,
            capacity=min(cfg.capacity, cfg.steps),
            warmup=cfg.warmup,
            generator=ctx.rng,
            device=ctx.device,
        )

    def _final(
        self, ctx: Context, optimizer: LatentOptimizer, search: SearchResult, rows: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        assert isinstance(optimizer, SoftActorCritic)
        cfg: RLBMIConfig = self.config
        n, m = rows.shape[0], cfg.final_candidates
        cands = [search.best[:, None]]
        conf = [-search.best_loss[:, None]]  # best_loss is -p_c of the best next state
        remaining = ctx.view.remaining
        if remaining is None or remaining >= n * m:
            s = devices.randn(n, m, optimizer.dim, generator=ctx.rng, device=ctx.device)
            a = optimizer.act(s)
            lat = cfg.alpha * s + (1 - cfg.alpha) * a
            objective: ScoreObjective = ctx.scratch["objective"]
            p = objective.scores(lat.flatten(0, 1), rows.repeat_interleave(m))
            pc = p.gather(1, rows.repeat_interleave(m)[:, None]).view(n, m)
            cands.append(lat)
            conf.append(pc)
        allc, allp = torch.cat(cands, 1), torch.cat(conf, 1)
        k = min(cfg.samples_per_class, allc.shape[1])
        top = allp.topk(k, dim=1).indices
        pick = allc[torch.arange(n, device=top.device)[:, None], top]
        return rows.repeat_interleave(k), pick.flatten(0, 1)
