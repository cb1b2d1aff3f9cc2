"""The engine's own exceptions: a number it cannot compute, and a traced node asked for its number.

Every numeric failure is a ``NumericError`` (an ``ArithmeticError``), and also the built-in kind
it has always been, so ``except ValueError`` keeps working:

- ``DomainError`` (a ValueError): an input outside an op's domain (log of 0, ``(-8) ** 0.5``).
- ``DivisionByZero`` (a ZeroDivisionError): ``x / 0``, ``0 ** -1``, an infinite slope.
- ``NumericOverflow`` (an OverflowError): ``exp(1000)``, a number too large for a float.
- ``NaNError`` (a ValueError): NaN made from numbers that were not NaN (``0 * inf``, ``inf - inf``).
- ``AnomalyError``: what ``detect_anomaly()`` raises at the first NaN or infinity.

``nn.fit`` decides by these types, never by where an error was raised: a ``NumericError`` while
training is ``TrainingDiverged``; anything else is a mistake in the code and is raised as it is.
"""

from __future__ import annotations

__all__ = [
    "AnomalyError",
    "DivisionByZero",
    "DomainError",
    "NaNError",
    "NotTraceable",
    "NumericError",
    "NumericOverflow",
]


class NumericError(ArithmeticError):
    """A number the engine cannot compute (the subclasses say which kind), or a NaN or infinite
    loss or gradient found while training."""


class DomainError(NumericError, ValueError):
    """An input outside an op's domain: log of a number <= 0, a negative base to a fractional power."""


class DivisionByZero(NumericError, ZeroDivisionError):
    """A division by zero, or a derivative that is infinite (the slope of x ** 0.5 at 0)."""


class NumericOverflow(NumericError, OverflowError):
    """A result, or a number given, too large for a float (beyond about 1.8e308)."""


class NaNError(NumericError, ValueError):
    """NaN made from numbers that were not NaN (0 * inf, inf - inf), forward or backward."""


class AnomalyError(NaNError, FloatingPointError):
    """Raised inside ``detect_anomaly()`` at the first NaN or infinity, naming the op. It is a
    ValueError too: the error an op that makes NaN raises outside ``detect_anomaly()``."""


class NotTraceable(ValueError):
    """The batch tape cannot replay this graph. Raised where a node built while tracing is asked for
    its number (``.data``, ``float()``, ``bool()``, a comparison with a number, ``int()``, an index):
    such a node stands for every example at once, so it has none. ``filename`` and ``lineno`` say
    where the code asked (None when the reason is not one line of code)."""

    def __init__(self, message: str, filename: str | None = None, lineno: int | None = None) -> None:
        super().__init__(message)
        self.filename, self.lineno = filename, lineno
