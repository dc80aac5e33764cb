"""Prediction purification: an autoencoder on confidence vectors trained against an adversarial
inversion model.

Yang, Shao, Xuan, Chang, Zhang, "Defending model inversion and membership inference attacks via
prediction purification", arXiv:2005.03915 (survey [27], Sec. VI-A 2, Eq. 11-12). A purifier
``P`` maps the target's scores ``f(x)`` to released scores. Jointly, an inversion model ``M``
learns to invert them:

    L_inv  = ||M(P(f(x))) - x||^2                                      (Eq. 11)
    L_rec  = ||P(f(x)) - f(x)||^2,   L_iden = CE(P(f(x)), argmax f(x))  (Eq. 12)
    L_P    = L_rec + lambda_1 L_iden - lambda_2 L_inv

``M`` minimises ``L_inv`` and ``P`` minimises ``L_P``, alternately per batch. The released
scores are ``P(f(x))``; the predicted label is kept (``keep_label``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from mi_core.config import check_positive
from mi_defense import inversion as _inversion
from mi_defense._util import keep_argmax
from mi_defense.output._learned import LearnedScoreDefense


@dataclass
class PurifierConfig:
    """Attributes:
    lambda_iden: weight of the label-keeping loss [lambda_1].
    lambda_inv: weight of the adversarial inversion loss [lambda_2].
    hidden: width of the purifier's bottleneck.
    epochs, lr, batch_size: joint training of purifier and inversion model.
    keep_label: keep the model's top class on top of the purified vector.
    weights: directory of a fitted purifier (``fit`` then ``save``).
    seed: seed of the training.
    progress: progress bar while fitting.
    """

    lambda_iden: float = 1.0
    lambda_inv: float = 1.0
    hidden: int = 16
    epochs: int = 60
    lr: float = 1e-3
    batch_size: int = 64
    keep_label: bool = True
    weights: str | None = None
    seed: int = 0
    progress: bool = False

    def __post_init__(self) -> None:
        check_positive("lambda_iden", self.lambda_iden, allow_zero=True)
        check_positive("lambda_inv", self.lambda_inv, allow_zero=True)
        check_positive("hidden", self.hidden)
        check_positive("epochs", self.epochs)
        check_positive("lr", self.lr)
        check_positive("batch_size", self.batch_size)
        check_positive("seed", self.seed, allow_zero=True)


class PurifierNet(nn.Module):
    """Autoencoder on score vectors: scores -> bottleneck -> softmax scores."""

    def __init__(self, num_classes: int, hidden: int = 16) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(num_classes, 4 * hidden), nn.ReLU(), nn.Linear(4 * hidden, hidden)
        )
        self.decoder = nn.Sequential(
            nn.ReLU(), nn.Linear(hidden, 4 * hidden), nn.ReLU(), nn.Linear(4 * hidden, num_classes)
        )

    def forward(self, scores: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.decoder(self.encoder(_inversion.score_features(scores))), dim=-1)


class Purifier(LearnedScoreDefense):
    """Autoencoder purifier trained against an adversarial inversion model (Yang et al. 2020)."""

    name = "purifier"
    paper = "Yang et al., arXiv:2005.03915 (survey [27], Eq. 11-12)"
    summary = "autoencoder on scores trained against an adversarial inversion model"
    Config = PurifierConfig

    # -- the networks ------------------------------------------------------------------------
    def build(self, meta: dict[str, Any]) -> dict[str, nn.Module]:
        return {
            "purifier": PurifierNet(meta["num_classes"], self.config.hidden),
            "inversion": _inversion.InversionNet(
                meta["num_classes"], tuple(meta["input_shape"]), input_range=meta["input_range"]
            ),
        }

    def purify(self, scores: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, Any]:
        """``P(scores)`` and any extra loss terms (the CVAE variant adds its KL)."""
        return self.nets["purifier"](scores), None

    def extra_loss(self, extra: Any) -> torch.Tensor:
        return torch.zeros(())

    # -- training ------------------------------------------------------------------------------
    def fit(
        self,
        target: Any,
        x: torch.Tensor,
        *,
        input_range: tuple[float, float] = (0.0, 1.0),
    ) -> Purifier:
        """Train purifier and inversion model on the defender's data ``x`` (Eq. 11-12);
        ``target`` is the defender's model (logits) or a function releasing scores."""
        cfg = self.config
        x = torch.as_tensor(x).float()
        s = _inversion.batched(_inversion.scores_of(target), x).float()
        self.meta = {
            "num_classes": int(s.shape[1]),
            "input_shape": list(x.shape[1:]),
            "input_range": list(input_range),
        }
        torch.manual_seed(cfg.seed)
        g = torch.Generator().manual_seed(cfg.seed)
        self.nets = self.build(self.meta)
        pur, inv = self.nets["purifier"], self.nets["inversion"]
        opt_p = torch.optim.Adam(pur.parameters(), lr=cfg.lr)
        opt_m = torch.optim.Adam(inv.parameters(), lr=cfg.lr)
        labels = s.argmax(1)
        for _ in tqdm(range(cfg.epochs), desc=self.name, disable=not cfg.progress, leave=False):
            perm = torch.randperm(x.shape[0], generator=g)
            for i in range(0, x.shape[0], cfg.batch_size):
                idx = perm[i : i + cfg.batch_size]
                sb, xb, yb = s[idx], x[idx], labels[idx]
                # inversion model: minimise L_inv on the purified scores (Eq. 11)
                with torch.no_grad():
                    pb, _ = self.purify(sb, yb)
                loss_m = F.mse_loss(inv(pb), xb)
                opt_m.zero_grad(set_to_none=True)
                loss_m.backward()
                opt_m.step()
                # purifier: L_rec + lambda_1 L_iden - lambda_2 L_inv (+ KL for the CVAE)
                pb, extra = self.purify(sb, yb)
                l_rec = ((pb - sb) ** 2).sum(1).mean()
                l_iden = F.nll_loss(torch.log(pb.clamp_min(1e-8)), yb)
                l_inv = F.mse_loss(inv(pb), xb)
                loss_p = (
                    l_rec
                    + cfg.lambda_iden * l_iden
                    - cfg.lambda_inv * l_inv
                    + self.extra_loss(extra)
                )
                opt_p.zero_grad(set_to_none=True)
                loss_p.backward()
                opt_p.step()
        for net in self.nets.values():
            self._freeze(net)
        return self

    # -- release -------------------------------------------------------------------------------
    def process(self, scores: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            out, _ = self.purify(scores.float(), scores.argmax(-1))
        out = out.double()
        return keep_argmax(out, scores) if self.config.keep_label else out
