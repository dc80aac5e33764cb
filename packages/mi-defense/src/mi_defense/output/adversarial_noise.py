"""Adversarial noise on released scores, crafted per query against an inversion model, with the
label kept.

Wen, Yiu, Hui, "Defending against model inversion attack by adversarial examples", IEEE CSR 2021
(survey [24], Sec. VI-A 1): the defender trains its own inversion model ``M`` (scores ->
input) and, for each query ``x`` with scores ``s``, releases ``s + delta`` where ``delta``
maximises the inversion error ``||M(s + delta) - x||^2`` (a few signed-gradient steps inside an
L-infinity ball of radius ``epsilon``), subject to the predicted label staying the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from mi_core.config import check_positive
from mi_core.errors import ConfigError
from mi_core.views import BlackBoxView, TargetView
from mi_defense import inversion as _inversion
from mi_defense._util import as_float_tensor, check_scores_2d, keep_argmax, renormalize
from mi_defense.output._learned import LearnedScoreDefense


@dataclass
class AdversarialNoiseConfig:
    """Attributes:
    epsilon: L-infinity radius of the noise on each score.
    steps: signed-gradient steps per query.
    weights: directory of a fitted defense (``fit`` then ``save``).
    epochs: epochs of the defender's inversion model (``fit``).
    seed: seed of training and of the random start.
    """

    epsilon: float = 0.2
    steps: int = 10
    weights: str | None = None
    epochs: int = 60
    seed: int = 0

    def __post_init__(self) -> None:
        check_positive("epsilon", self.epsilon)
        check_positive("steps", self.steps)
        check_positive("epochs", self.epochs)
        check_positive("seed", self.seed, allow_zero=True)


class AdversarialNoise(LearnedScoreDefense):
    """Per-query adversarial noise against the defender's inversion model (Wen et al. 2021)."""

    name = "adversarial-noise"
    paper = "Wen et al., IEEE CSR 2021 (survey [24])"
    summary = "noise crafted per query to mislead an inversion model, label kept"
    Config = AdversarialNoiseConfig

    def build(self, meta: dict[str, Any]) -> dict[str, Any]:
        return {
            "inversion": _inversion.InversionNet(
                meta["num_classes"], tuple(meta["input_shape"]), input_range=meta["input_range"]
            )
        }

    def fit(
        self,
        target: Any,
        x: torch.Tensor,
        *,
        input_range: tuple[float, float] = (0.0, 1.0),
        progress: bool = False,
    ) -> AdversarialNoise:
        """Train the defender's inversion model on ``(scores(x), x)``; ``target`` is the
        defender's model (logits) or a function releasing scores."""
        x = torch.as_tensor(x).float()
        s = _inversion.batched(_inversion.scores_of(target), x)
        net = _inversion.train_inversion(
            s,
            x,
            epochs=self.config.epochs,
            seed=self.config.seed,
            input_range=input_range,
            progress=progress,
        )
        self.meta = {
            "num_classes": int(s.shape[1]),
            "input_shape": list(x.shape[1:]),
            "input_range": list(input_range),
        }
        self.nets = {"inversion": self._freeze(net)}
        return self

    def wrap(self, view: TargetView) -> BlackBoxView:
        base = super().wrap(view)  # checks (fitted, black-box, modality); per-query below
        del base
        assert isinstance(view, BlackBoxView)
        return view.map_outputs(self.transform_query, with_inputs=True)

    def transform(self, outputs: Any) -> Any:
        raise ConfigError(
            f"{self.name}: crafts noise against the query itself; use defense.wrap(view) (or "
            "transform_query(x, outputs))"
        )

    def transform_query(self, x: Any, outputs: Any) -> Any:
        """The released scores for query ``x`` whose clean scores are ``outputs``."""
        s, back = as_float_tensor(outputs, f"{self.name}: released outputs")
        check_scores_2d(s, f"{self.name}: released outputs")
        xt = torch.as_tensor(x).float()
        shape = tuple(self.meta["input_shape"])
        if tuple(xt.shape[1:]) != shape:
            raise ConfigError(
                f"{self.name}: queries of shape {tuple(xt.shape[1:])}, but the inversion model "
                f"was fitted for inputs of shape {shape}"
            )
        return back(self.craft(xt, s))

    def craft(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        net = self.nets["inversion"]
        s32 = s.float()
        eps = cfg.epsilon
        delta = (torch.rand(s32.shape, generator=self.generator) * 2 - 1) * eps
        step = 2.5 * eps / cfg.steps
        with torch.enable_grad():  # views answer under no_grad; the crafting needs gradients
            for _ in range(cfg.steps):
                d = delta.clone().requires_grad_(True)
                rec = net(renormalize(s32 + d))
                loss = ((rec - x) ** 2).sum()
                (grad,) = torch.autograd.grad(loss, d)
                delta = (delta + step * grad.sign()).clamp(-eps, eps)
        out = renormalize(s32 + delta).double()
        return keep_argmax(out, s)
