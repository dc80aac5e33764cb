"""DP-SGD through opacus, with its privacy accountant.

Abadi et al. 2016; the survey (Sec. VI-B, [128]) reports that DP training improves MI robustness
at a utility cost. Nothing here clips or adds noise by hand: ``wrap`` hands the user's module,
optimizer and loader to ``opacus.PrivacyEngine`` (per-sample clipping to ``max_grad_norm``,
Gaussian noise, Poisson sampling) and ``epsilon`` reads the RDP accountant. Give a target
``epsilon`` (opacus then finds the noise multiplier for the planned epochs) or a
``noise_multiplier``. Needs the ``dp`` extra: ``pip install 'mi-defense[dp]'``.

opacus computes per-sample gradients, so layers that mix samples of a batch (BatchNorm) cannot
be trained privately; ``wrap`` refuses them with the fix (``fix_module=True`` swaps them for
GroupNorm through ``opacus.validators.ModuleValidator.fix``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from mi_core import device as devices
from mi_core.config import check_positive
from mi_core.errors import ConfigError
from mi_defense._util import check_epsilon
from mi_defense.training._common import ClassifierTrainingDefense


def _opacus() -> Any:
    try:
        import opacus
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConfigError("dp-sgd needs opacus: pip install 'mi-defense[dp]'") from exc
    return opacus


@dataclass
class DPSGDConfig:
    """Attributes:
    epsilon: target privacy budget (opacus picks the noise multiplier); or None.
    noise_multiplier: noise std / max_grad_norm, when no target epsilon is given; ``0`` clips
        per-sample gradients without noise (no privacy: an ablation separating clipping from
        noise; ``epsilon()`` is then infinite).
    max_grad_norm: per-sample gradient clipping bound C.
    delta: the delta of (epsilon, delta)-DP; default 1 / (10 n) for n training records.
    epochs: epochs the budget is planned for (``fit`` sets it to its own epochs).
    fix_module: replace layers opacus cannot handle (BatchNorm -> GroupNorm) instead of refusing.
    secure_mode: opacus' cryptographically secure noise (slower; for deployment, not benchmarks).
    device: where to train: ``auto`` (CUDA when present, else the CPU), ``cpu``, ``cuda`` or
        ``cuda:N``; the module is moved there and stays there.
    """

    epsilon: float | None = 8.0
    noise_multiplier: float | None = None
    max_grad_norm: float = 1.0
    delta: float | None = None
    epochs: int = 10
    fix_module: bool = False
    secure_mode: bool = False
    device: str = "auto"

    def __post_init__(self) -> None:
        devices.check_device(self.device)
        check_epsilon("epsilon", self.epsilon)
        if self.epsilon is None and self.noise_multiplier is None:
            raise ConfigError(
                "epsilon: give a target epsilon (e.g. 8.0) or a noise_multiplier (e.g. 1.1)"
            )
        if self.epsilon is not None and self.noise_multiplier is not None:
            raise ConfigError("noise_multiplier: give either epsilon or noise_multiplier, not both")
        if self.noise_multiplier is not None:
            check_positive("noise_multiplier", self.noise_multiplier, allow_zero=True)
        check_positive("max_grad_norm", self.max_grad_norm)
        if self.delta is not None and not 0 < self.delta < 1:
            raise ConfigError(f"delta: must lie in (0, 1), got {self.delta!r}")
        check_positive("epochs", self.epochs)


def check_module(module: nn.Module, fix: bool) -> nn.Module:
    """Validate ``module`` for opacus; raise naming the layers and the fix, or fix it."""
    from opacus.validators import ModuleValidator

    errors = ModuleValidator.validate(module, strict=False)
    if not errors:
        return module
    if fix:
        return ModuleValidator.fix(module)
    bad = sorted({type(e).__name__ + ": " + str(e).split(".")[0] for e in errors})
    norm = any("BatchNorm" in str(e) for e in errors)
    hint = (
        "BatchNorm mixes the samples of a batch, so per-sample gradients (and DP) are undefined "
        "for it. Replace it with GroupNorm / LayerNorm: "
        "model = opacus.validators.ModuleValidator.fix(model), or DPSGD(fix_module=True)"
        if norm
        else "fix the module with opacus.validators.ModuleValidator.fix(model), or "
        "DPSGD(fix_module=True)"
    )
    raise ConfigError(
        f"module: opacus cannot train {type(module).__name__} privately "
        f"({'; '.join(bad)[:300]}). {hint}"
    )


class DPSGD(ClassifierTrainingDefense):
    """DP-SGD via opacus' PrivacyEngine; ``epsilon()`` reports the spent budget."""

    name = "dp-sgd"
    paper = "Abadi et al., CCS 2016, via opacus (survey Sec. VI-B, [128])"
    summary = "per-sample clipping + Gaussian noise (opacus), epsilon from its RDP accountant"
    Config = DPSGDConfig

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.engine: Any = None
        self._n: int | None = None
        self._epochs = self.config.epochs

    def before_fit(self, module: nn.Module, n: int, epochs: int) -> None:
        self._n, self._epochs = n, epochs

    def prepare_module(self, module: nn.Module) -> nn.Module:
        """``module`` validated (or fixed, with ``fix_module``) for opacus; call before building
        the optimizer when fixing, since fixing creates new layers."""
        _opacus()
        with torch.device(devices.module_device(module) or "cpu"):  # new layers beside the old
            return check_module(module, self.config.fix_module)

    @property
    def delta(self) -> float:
        if self.config.delta is not None:
            return float(self.config.delta)
        if self._n is None:
            raise ConfigError("delta: unknown training-set size; give delta= explicitly")
        return 1.0 / (10 * self._n)

    def wrap(self, module: nn.Module, optimizer: Any, data_loader: Any) -> tuple[Any, Any, Any]:
        """``PrivacyEngine.make_private[_with_epsilon]`` on the user's objects."""
        opacus = _opacus()
        fixed = check_module(module, self.config.fix_module)
        if fixed is not module:
            raise ConfigError(
                "module: fix_module replaced layers, so the optimizer holds stale parameters; "
                "call module = defense.prepare_module(module) before building the optimizer"
            )
        if self._n is None:
            self._n = len(data_loader.dataset)
        cfg = self.config
        self.engine = opacus.PrivacyEngine(accountant="rdp", secure_mode=cfg.secure_mode)
        if cfg.epsilon is not None:
            return self.engine.make_private_with_epsilon(
                module=module,
                optimizer=optimizer,
                data_loader=data_loader,
                target_epsilon=cfg.epsilon,
                target_delta=self.delta,
                epochs=self._epochs,
                max_grad_norm=cfg.max_grad_norm,
            )
        return self.engine.make_private(
            module=module,
            optimizer=optimizer,
            data_loader=data_loader,
            noise_multiplier=cfg.noise_multiplier,
            max_grad_norm=cfg.max_grad_norm,
        )

    def fit(self, module: nn.Module, x: Any, y: Any, **kwargs: Any) -> nn.Module:
        """As :meth:`ClassifierTrainingDefense.fit`; with ``fix_module`` the fixed module is
        trained and returned. Read the budget spent with :meth:`epsilon` afterwards."""
        module = self.prepare_module(module)
        return super().fit(module, x, y, **kwargs)

    def unwrap(self, module: nn.Module) -> nn.Module:
        """The user's module, with opacus' per-sample-gradient hooks removed (so that it can be
        attacked or fine-tuned like any module)."""
        close = getattr(module, "_close", None)
        if callable(close):
            close()
        return getattr(module, "_module", module)

    def epsilon(self) -> float:
        """The epsilon spent so far (RDP accountant) at ``delta``."""
        if self.engine is None:
            raise ConfigError("dp-sgd: nothing trained yet; call wrap(...) / fit(...) first")
        return float(self.engine.accountant.get_epsilon(delta=self.delta))
