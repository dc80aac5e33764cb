"""What image attacks need to know about a target's interface: input shape and range, classes.

The attacker is assumed to know the interface (shape, value range, number of classes), never the
weights unless the view is white-box. Both come from the view's :class:`~mi_core.TargetInfo` or
from the attacker's knowledge (``knowledge.extra["input_shape"]``, ``knowledge.target_labels``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from mi_core.errors import AccessError, ConfigError
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetView


def input_spec(
    view: TargetView, knowledge: Knowledge
) -> tuple[tuple[int, ...], tuple[float, float]]:
    """``((C, H, W), (low, high))`` of the target's inputs."""
    shape = view.input_shape or knowledge.extra.get("input_shape")
    if shape is None:
        raise ConfigError(
            "input_shape: unknown; build the view with info=TargetInfo(input_shape=(C, H, W)) or "
            "pass knowledge.extra['input_shape']"
        )
    if len(shape) != 3:
        raise ConfigError(f"input_shape: expected (C, H, W), got {tuple(shape)}")
    rng = view.info.input_range or knowledge.extra.get("input_range") or (0.0, 1.0)
    return tuple(int(s) for s in shape), (float(rng[0]), float(rng[1]))


def target_classes(view: TargetView, knowledge: Knowledge, device: Any = "cpu") -> torch.Tensor:
    """The classes to invert (on ``device``): ``knowledge.target_labels`` or every class of the
    target."""
    labels = knowledge.target_labels
    k = view.num_classes
    if labels is None:
        if k is None:
            raise ConfigError(
                "target_labels: give knowledge.target_labels or the view's num_classes"
            )
        return torch.arange(k, device=device)
    t = torch.as_tensor(labels, dtype=torch.long, device=device).reshape(-1)
    if t.numel() == 0:
        raise ConfigError("knowledge.target_labels: empty; name at least one class")
    if k is not None and (int(t.min()) < 0 or int(t.max()) >= k):
        raise ConfigError(
            f"knowledge.target_labels: classes must lie in [0, {k - 1}], got {t.tolist()[:10]}"
        )
    return t


class TargetInput:
    """Maps images in [0, 1] (a generator's output) to the target's input: resize to its
    ``(H, W)``, convert 1 <-> 3 channels, rescale to its value range. Differentiable."""

    def __init__(self, shape: tuple[int, ...], value_range: tuple[float, float]) -> None:
        self.shape = tuple(int(s) for s in shape)
        self.lo, self.hi = float(value_range[0]), float(value_range[1])

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        c, h, w = self.shape
        if x.shape[1] != c:
            if c == 1:
                x = x.mean(1, keepdim=True)
            elif x.shape[1] == 1:
                x = x.expand(-1, c, -1, -1)
            else:
                raise ConfigError(f"input_shape: cannot feed {x.shape[1]}-channel images to {c}")
        if tuple(x.shape[-2:]) != (h, w):
            x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
        if (self.lo, self.hi) != (0.0, 1.0):
            x = self.lo + (self.hi - self.lo) * x
        return x


def scores_fn(view: TargetView, device: Any = None) -> Callable[[torch.Tensor], torch.Tensor]:
    """A function returning the target's class probabilities ``(N, K)`` without gradients:
    softmax of the logits for a white-box view, the released scores for a black-box view
    (counted and budgeted by the view). Label-only views have no scores. The probabilities are
    on ``device`` (default: where a white-box target computes; the CPU for black-box views)."""
    if view.access is Access.WHITE_BOX:

        def white(x: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                p = torch.softmax(view(x).float(), dim=1)
            return p if device is None else p.to(device)

        return white
    if view.access is Access.LABEL_ONLY:
        raise AccessError("this step needs the target's scores; a label-only view releases labels")
    where = device if device is not None else "cpu"

    def black(x: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(view(x), device=where).float()

    return black


def labels_fn(view: TargetView, device: Any = None) -> Callable[[torch.Tensor], torch.Tensor]:
    """A function returning the target's predicted labels (any access; counted), on ``device``
    (default as :func:`scores_fn`)."""
    if view.access is Access.WHITE_BOX:

        def white(x: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                y = view(x).argmax(1)
            return y if device is None else y.to(device)

        return white
    where = device if device is not None else "cpu"
    if view.access is Access.LABEL_ONLY:
        return lambda x: torch.as_tensor(view(x), device=where).long().reshape(-1)
    labels = view.labels  # type: ignore[attr-defined]  # every black-box view has labels()
    return lambda x: torch.as_tensor(labels(x), device=where).long().reshape(-1)
