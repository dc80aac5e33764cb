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
best iterate (not the last) is returned. (A widely used implementation inverts both rules: it
keeps descending the samples that should stop and freezes the ones that make progress, and
returns the last iterate.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from mi_core.attack import BaseAttack
from mi_core.config import check_choice, check_positive
from mi_core.errors import NonFiniteOutputError
from mi_core.loop import ResumableLoop, TensorState
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetView
from mi_vision.losses import one_minus_confidence, total_variation
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

    def __post_init__(self) -> None:
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
        cfg: MIFaceConfig = self.config
        shape, (lo, hi) = input_spec(view, knowledge)
        classes = target_classes(view, knowledge)
        n = classes.shape[0]
        module = view.module
        for p in module.parameters():
            p.requires_grad_(False)

        g = torch.Generator().manual_seed(seed)
        if cfg.init == "zeros":
            x = torch.full((n, *shape), float(lo))
        elif cfg.init == "mid":
            x = torch.full((n, *shape), (lo + hi) / 2.0)
        else:
            x = lo + (hi - lo) * torch.rand((n, *shape), generator=g)

        def cost(xb: torch.Tensor, cls: torch.Tensor) -> torch.Tensor:
            c = one_minus_confidence(view(xb), cls)
            if cfg.tv_weight > 0:
                c = c + cfg.tv_weight * total_variation(xb)
            return c

        with torch.no_grad():
            c0 = cost(x, classes)
        best_x, best_c = x.clone(), c0.clone()
        history = torch.full((n, cfg.patience), float("inf"))
        active = torch.ones(n, dtype=torch.bool)
        stop_iter = torch.full((n,), -1, dtype=torch.long)
        state = TensorState(
            x=x, best_x=best_x, best_c=best_c, history=history, active=active, stop_iter=stop_iter
        )
        loop = ResumableLoop(
            cfg.max_iter,
            state={"attack": state},
            checkpoint=cfg.checkpoint,
            every=cfg.checkpoint_every,
            meta={"attack": self.name, "config": self.config, "classes": classes, "seed": seed},
            desc="MI-Face",
            progress=cfg.progress,
        )
        for i in loop:
            xa = x[active].clone().requires_grad_(True)
            ca = cost(xa, classes[active])
            (grad,) = torch.autograd.grad(ca.sum(), xa)
            with torch.no_grad():
                xa_new = xa - cfg.lr * grad
                if cfg.process == "clip":
                    xa_new = xa_new.clamp(lo, hi)
                x[active] = xa_new
                c_new = cost(xa_new, classes[active])
                if not bool(torch.isfinite(c_new).all()):
                    raise NonFiniteOutputError(
                        f"MI-Face: the cost became NaN/inf at iteration {i}; lower lr "
                        f"({cfg.lr}) or check the target"
                    )
                idx = torch.nonzero(active).flatten()
                better = c_new < best_c[idx]
                best_c[idx[better]] = c_new[better]
                best_x[idx[better]] = xa_new[better]
                # rule 1: no progress against the last `patience` costs (only once they exist)
                full = i >= cfg.patience
                worst = history[idx].max(1).values
                stalled = (c_new >= worst) & full
                # rule 2: cost low enough
                done = c_new <= cfg.gamma
                history[idx, i % cfg.patience] = c_new
                finished = idx[stalled | done]
                stop_iter[finished] = i + 1
                active[finished] = False
            if not bool(active.any()):
                loop.finish()
                break
        stop_iter[stop_iter < 0] = cfg.max_iter
        with torch.no_grad():
            probs = torch.softmax(view(best_x), dim=1).gather(1, classes[:, None]).squeeze(1)
        return self._result(
            best_x,
            targets=classes,
            scores=probs,
            info={"iterations": stop_iter.tolist(), "final_cost": best_c.tolist()},
        )
