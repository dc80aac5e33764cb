"""What the score-processing output defenses share: seeded noise across queries, the checks on
the view (scores, not labels; class count), and the tensor / array round trip."""

from __future__ import annotations

from typing import Any

import torch

from mi_core.defense import OutputDefense
from mi_core.errors import ConfigError
from mi_core.views import BlackBoxView
from mi_defense._util import as_float_tensor, check_scores_2d, torch_generator


class ScoreDefense(OutputDefense):
    """Base of defenses that map a batch of score vectors ``(N, classes)`` to released vectors.

    Subclasses implement ``process(scores) -> scores`` on float64 tensors; ``transform`` handles
    tensors and numpy arrays alike (a view of an sklearn model releases arrays).
    """

    modalities = ("image", "text", "graph", "tabular")

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.generator = torch_generator(getattr(self.config, "seed", 0))

    def reset(self, seed: int | None = None) -> None:
        """Restart the noise stream (same seed, same answers)."""
        self.generator = torch_generator(
            seed if seed is not None else getattr(self.config, "seed", 0)
        )

    def transform(self, outputs: Any) -> Any:
        t, back = as_float_tensor(outputs, f"{self.name}: released outputs")
        check_scores_2d(t, f"{self.name}: released outputs")
        return back(self.process(t))

    def process(self, scores: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def noise(self, shape: torch.Size, kind: str, scale: float) -> torch.Tensor:
        """Seeded Gaussian or Laplace noise (a fresh draw per query, one stream per defense)."""
        if kind == "gaussian":
            return torch.randn(shape, generator=self.generator, dtype=torch.float64) * scale
        u = torch.rand(shape, generator=self.generator, dtype=torch.float64) - 0.5
        return -scale * torch.sign(u) * torch.log1p(-2 * u.abs())


def check_k(defense: str, k: int, view: BlackBoxView) -> None:
    """``k`` must not exceed the target's number of classes."""
    n = view.num_classes
    if n is not None and k > n:
        raise ConfigError(
            f"{defense}.config.k: {k} is larger than the number of classes ({n}); choose "
            f"1 <= k <= {n} (k = {n} releases every score, no defense)"
        )
