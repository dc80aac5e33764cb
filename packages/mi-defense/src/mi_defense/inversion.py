"""The training-based inversion model (Yang et al. 2019) the learned output defenses train
against (Wen et al. 2021 [24]; Yang et al. 2020 [27]; Yang et al. 2023 [119]) and the black-box
attack the benchmark and tests measure defenses with.

There is one implementation, in mi-vision (:mod:`mi_vision.attacks.inversion_model`, the
``inversion-model`` attack); this module re-exports it lazily, so that mi-defense imports (and
``mi list``) without mi-vision and only the defenses that need the inversion model ask for it:
``pip install "mi-defense[vision]"``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names, for readers and type checkers; imported lazily below
    from mi_vision.attacks.inversion_model import (
        InversionNet,
        batched,
        inversion_attack,
        score_features,
        scores_of,
        train_aligned_inversion,
        train_inversion,
        truncate_topk,
    )

__all__ = [
    "InversionNet",
    "batched",
    "inversion_attack",
    "score_features",
    "scores_of",
    "train_aligned_inversion",
    "train_inversion",
    "truncate_topk",
]


def _impl() -> Any:
    try:
        from mi_vision.attacks import inversion_model
    except ImportError as exc:
        raise ImportError(
            "mi_defense.inversion: the inversion model lives in mi-vision, which is not "
            'installed; install it with `pip install "mi-defense[vision]"` (or `pip install '
            "mi-vision`)"
        ) from exc
    return inversion_model


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(_impl(), name)
    raise AttributeError(f"module 'mi_defense.inversion' has no attribute {name!r}")
