"""What image attacks need to know about a target's interface: input shape and range, classes.

The attacker is assumed to know the interface (shape, value range, number of classes), never the
weights unless the view is white-box. Both come from the view's :class:`~mi_core.TargetInfo` or
from the attacker's knowledge (``knowledge.extra["input_shape"]``, ``knowledge.target_labels``).
"""

from __future__ import annotations

import torch

from mi_core.errors import ConfigError
from mi_core.threat import Knowledge
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


def target_classes(view: TargetView, knowledge: Knowledge) -> torch.Tensor:
    """The classes to invert: ``knowledge.target_labels`` or every class of the target."""
    labels = knowledge.target_labels
    k = view.num_classes
    if labels is None:
        if k is None:
            raise ConfigError(
                "target_labels: give knowledge.target_labels or the view's num_classes"
            )
        return torch.arange(k)
    t = torch.as_tensor(labels, dtype=torch.long).reshape(-1)
    if t.numel() == 0:
        raise ConfigError("knowledge.target_labels: empty; name at least one class")
    if k is not None and (int(t.min()) < 0 or int(t.max()) >= k):
        raise ConfigError(
            f"knowledge.target_labels: classes must lie in [0, {k - 1}], got {t.tolist()[:10]}"
        )
    return t
