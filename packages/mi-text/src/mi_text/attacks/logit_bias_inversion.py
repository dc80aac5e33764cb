"""Prompt extraction through an API that returns only the argmax token but accepts a logit
bias (Morris et al., ICLR 2024, [40], Sec. "logit bias"; survey Sec. V-A-2).

For each token s of a subset S the attacker finds, by binary search, the smallest bias b_s that
makes s the argmax: ``b_s = max_v logit_v - logit_s``, which is the log-probability gap the
inverter of :mod:`mi_text.attacks.logit_inversion` reads. Gaps above ``bias_bound`` are
clipped. Queries per hidden prompt: 1 (the unbiased argmax) + |S| (is the gap within the bound?)
+ |S| * ceil(log2(bias_bound / tolerance)) (the search), all counted by the label-only view.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from mi_core.attack import BaseAttack
from mi_core.config import check_positive
from mi_core.errors import ConfigError
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetView
from mi_text.prompt_inversion import (
    PromptInversionConfig,
    fit_prompt_inverter,
    knowledge_parts,
)


@dataclass
class LogitBiasInversionConfig(PromptInversionConfig):
    """Settings of :class:`PromptInversionConfig` plus the search ``tolerance``; the token
    subset defaults to 64 tokens (the search costs queries per token).

    Attributes:
        tolerance: precision of the bisection on each token's logit gap.
    """

    token_subset: int = 64
    tolerance: float = 0.05

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive("tolerance", self.tolerance)
        if self.token_subset == 0:
            raise ConfigError(
                "token_subset: the logit-bias search needs a finite subset of tokens (> 0)"
            )


def estimate_gaps(
    view: TargetView, target: int, subset: torch.Tensor, bound: float, tol: float
) -> torch.Tensor:
    """Binary search, for every token of ``subset`` at once, of the smallest bias in
    [0, bound] that makes it the argmax; returns the gaps (``bound`` where none does)."""
    top = int(torch.as_tensor(view([{"target": target}]), device="cpu").reshape(-1)[0])
    toks = subset.tolist()
    gaps = torch.full((len(toks),), float(bound), device="cpu")
    ask = [i for i, s in enumerate(toks) if s != top]
    for i, s in enumerate(toks):
        if s == top:
            gaps[i] = 0.0
    if not ask:
        return gaps
    res = torch.as_tensor(
        view([{"target": target, "logit_bias": {toks[i]: bound}} for i in ask]), device="cpu"
    ).reshape(-1)
    within = [i for i, r in zip(ask, res.tolist(), strict=True) if r == toks[i]]
    lo = torch.zeros(len(within), device="cpu")
    hi = torch.full((len(within),), float(bound), device="cpu")
    for _ in range(max(1, math.ceil(math.log2(bound / tol)))):
        if not within:
            break
        mid = (lo + hi) / 2
        res = torch.as_tensor(
            view(
                [
                    {"target": target, "logit_bias": {toks[i]: float(m)}}
                    for i, m in zip(within, mid.tolist(), strict=True)
                ]
            ),
            device="cpu",
        ).reshape(-1)
        flipped = torch.tensor(
            [r == toks[i] for i, r in zip(within, res.tolist(), strict=True)], device="cpu"
        )
        hi = torch.where(flipped, mid, hi)
        lo = torch.where(flipped, lo, mid)
    for k, i in enumerate(within):
        gaps[i] = float(hi[k])
    return gaps


class LogitBiasInversion(BaseAttack):
    """Prompt inversion from argmax answers under a logit bias (probabilities by search)."""

    name = "logit-bias-inversion"
    modality = "text"
    access = Access.LABEL_ONLY
    paper = "Morris et al., ICLR 2024"
    summary = "estimate next-token probabilities from argmax + logit bias, then invert them"
    Config = LogitBiasInversionConfig
    requires = ("prior:prompted-lm", "auxiliary:text", "target_labels")

    def _run(self, view: TargetView, knowledge: Knowledge, seed: int) -> AttackResult:
        cfg: LogitBiasInversionConfig = self.config
        local, aux, targets = knowledge_parts(knowledge)
        dec, subset, losses = fit_prompt_inverter(local, aux, cfg, seed)
        if subset is None:
            subset = torch.arange(local.vocab_size, device="cpu")
        feats = []
        for t in targets:
            gaps = estimate_gaps(view, t, subset, cfg.bias_bound, cfg.tolerance)
            feats.append(1.0 - gaps / cfg.bias_bound)
        x = torch.stack(feats)
        out = dec.generate(x, beams=cfg.beams)
        return self._result(
            out,
            targets=targets,
            arrays={"estimated_features": x},
            info={"train_loss": losses, "subset": subset.tolist()},
        )
