"""Errors of the toolbox. Each message names the field or value at fault and the fix."""

from __future__ import annotations


class MIError(Exception):
    """Base class of every error raised on purpose by the toolbox."""


class ConfigError(MIError, ValueError):
    """A configuration field or argument has a bad value."""


class DeviceUnavailable(ConfigError):
    """A device was asked for (``cuda``, ``cuda:N``) that this machine does not have."""


class AccessError(MIError, PermissionError):
    """An attack asked for more access than the target view grants."""


class QueryBudgetExceeded(MIError, RuntimeError):
    """The attacker's query budget is spent."""


class NonFiniteOutputError(MIError, FloatingPointError):
    """A target or an optimisation produced NaN or infinite values."""


class NotApplicable(MIError):
    """A cell of an audit does not apply (e.g. a case that cannot retrain under a defense)."""


class MetricError(MIError, ValueError):
    """A metric cannot be computed from the inputs given (never silently 0)."""


class PluginAPIError(MIError, ImportError):
    """An installed plugin package (mi-vision, mi-text, ...) supports no plugin API version that
    this mi-core offers, or declares none: it is refused rather than loaded half-working."""
