"""MI-Face: gradient descent on pixels against a face classifier.

Fredrikson, Jha, Ristenpart, "Model inversion attacks that exploit confidence information and
basic countermeasures", CCS 2015 (survey Sec. III, [11]), Algorithm 1::

    c(x) = 1 - f_label(x) + AuxTerm(x)
    x_0 = 0
    for i = 1..alpha:
        x_i = Process(x_{i-1} - lambda * grad c(x_{i-1}))
        if c(x_i) >= max(c(x_{i-1}), ..., c(x_{i-beta})): break     # no progress in beta steps
        if c(x_i) <= gamma: break                                   # confident enough
    return argmin_i c(x_i)

The stopping rules are applied per target class while all classes descend in one batch, and the
best iterate (not the last) is returned. The descent runs on the shared machinery
(:class:`~mi_vision.optimizers.GradientOptimizer` on the pixels, the per-row
:class:`~mi_vision.optimizers.StoppingRule`, :func:`~mi_vision.optimizers.run_search`).
(A widely used implementation inverts both rules: it keeps descending the samples that should
stop and freezes the ones that make progress, and returns the last iterate.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from mi_core import device as devices
from mi_core.attack import BaseAttack
from mi_core.config import check_choice, check_positive
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetView, frozen
from mi_vision.losses import one_minus_confidence, total_variation
from mi_vision.optimizers import GradientOptimizer, SearchProblem, StoppingRule, run_search
from mi_vision.targets import input_spec, target_classes


@dataclass
class MIFaceConfig:
    """Hyper-parameters (paper names in brackets).

    Attributes:
        max_iter: iteration cap [alpha].
        patience: stop a class when its cost is no lower than the worst of the last ``patience``
            costs [beta].
        gamma: stop a class once its cost ``1 - p + aux`` is at most ``gamma`` [gamma].
        lr: gradient step [lambda].
        tv_weight: weight of a total-variation AuxTerm (0 = the paper's softmax / MLP setting).
        process: ``clip`` to the input range after each step, or ``none``.
        init: start from ``zeros`` (the paper), the mid-grey ``mid`` image, or ``uniform`` noise.
        checkpoint: file to checkpoint to / resume from (optional).
        device: where the search runs: ``auto`` (the white-box target's device), ``cpu``,
            ``cuda``, ``cuda:N``; results come back on the CPU.
        precision: ``fp32``, or ``bf16`` / ``fp16``: the search's forward passes under
            ``torch.autocast``.
    """

    max_iter: int = 5000
    patience: int = 100
    gamma: float = 0.01
    lr: float = 0.1
    tv_weight: float = 0.0
    process: Literal["clip", "none"] = "clip"
    init: Literal["zeros", "mid", "uniform"] = "zeros"
    checkpoint: str | None = None
    checkpoint_every: int = 500
    progress: bool = True
    device: str = "auto"
    precision: str = "fp32"

    def __post_init__(self) -> None:
        devices.check_device(self.device)
        devices.check_precision(self.precision)
        check_positive("max_iter", self.max_iter)
        check_positive("patience", self.patience)
        check_positive("gamma", self.gamma, allow_zero=True)
        check_positive("lr", self.lr)
        check_positive("tv_weight", self.tv_weight, allow_zero=True)
        check_choice("process", self.process, ("clip", "none"))
        check_choice("init", self.init, ("zeros", "mid", "uniform"))
        check_positive("checkpoint_every", self.checkpoint_every)


class MIFace(BaseAttack):
    """Pixel-space gradient descent on ``1 - p_label`` (Fredrikson et al. 2015)."""

    name = "mi-face"
    modality = "image"
    access = Access.WHITE_BOX
    paper = "Fredrikson et al., CCS 2015"
    summary = "gradient descent on pixels with the paper's stopping rules"
    Config = MIFaceConfig

    def _run(self, view: TargetView, knowledge: Knowledge, seed: int) -> AttackResult:
        # gradients flow to the pixels only; the user's model gets its flags back afterwards
        with frozen(view.module):
            return self._invert(view, knowledge, seed)

    def _invert(self, view: TargetView, knowledge: Knowledge, seed: int) -> AttackResult:
        cfg: MIFaceConfig = self.config
        shape, (lo, hi) = input_spec(view, knowledge)
        dev = devices.attack_device(cfg.device, view)
        classes = target_classes(view, knowledge, dev)
        n = classes.shape[0]

        g = torch.Generator().manual_seed(seed)
        if cfg.init == "zeros":
            x = torch.full((n, *shape), float(lo), device=dev)
        elif cfg.init == "mid":
            x = torch.full((n, *shape), (lo + hi) / 2.0, device=dev)
        else:
            x = lo + (hi - lo) * devices.rand((n, *shape), generator=g, device=dev)

        def cost(xb: torch.Tensor, cls: torch.Tensor) -> torch.Tensor:
            c = one_minus_confidence(view(xb), cls)
            if cfg.tv_weight > 0:
                c = c + cfg.tv_weight * total_variation(xb)
            return c

        def process(xb: torch.Tensor) -> torch.Tensor:
            return xb.clamp(lo, hi)

        # Algorithm 1 with the shared machinery: plain gradient steps on the pixels, Process =
        # clipping, the per-class stopping rules, the best iterate kept
        search = run_search(
            GradientOptimizer(
                x, "sgd", cfg.lr, momentum=0.0, project=process if cfg.process == "clip" else None
            ),
            SearchProblem(classes, g, loss=cost, precision=cfg.precision),
            cfg.max_iter,
            stopping=StoppingRule(n, cfg.patience, cfg.gamma, device=dev),
            checkpoint=cfg.checkpoint,
            checkpoint_every=cfg.checkpoint_every,
            meta={"attack": self.name, "config": self.config, "classes": classes, "seed": seed},
            desc="MI-Face",
            progress=cfg.progress,
        )
        best_x = search.best
        with torch.no_grad():
            probs = torch.softmax(view(best_x), dim=1).gather(1, classes[:, None]).squeeze(1)
        return self._result(
            best_x,
            targets=classes,
            scores=probs,
            info={
                "iterations": search.stop_step.tolist(),
                "final_cost": search.best_loss.tolist(),
            },
        )
