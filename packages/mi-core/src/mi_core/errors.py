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


class QueryInputError(ConfigError):
    """A query a view cannot take: a shape that does not match the target's input, an object
    whose item count cannot be told (a generator), or a type the target does not declare."""


class ViewPicklingError(MIError, TypeError):
    """A target view was pickled: it holds a live model and a shared query counter, neither of
    which may leave the process (the isolated executor serves views over a query channel)."""


class IsolationError(MIError, RuntimeError):
    """An attack cannot run isolated, or its child process broke the query protocol."""
