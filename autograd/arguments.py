"""Checks for the arguments users pass (sizes, counts, rates, tolerances), in one place.

Each check returns the value as a plain Python int or float, so NumPy scalars are accepted wherever
Python numbers are, and raises a ``TypeError`` (wrong kind) or ``ValueError`` (wrong value) whose
message names the argument. ``bool`` is never taken for a number: ``epochs=True`` is a mistake.
"""

from __future__ import annotations

import math
import numbers
from typing import Any


def _what(x: Any) -> str:
    return f"{x!r} ({type(x).__name__})"


def integer(name: str, x: Any, minimum: int | None = None) -> int:
    """``x`` as an int (Python or NumPy integer, not bool), at least ``minimum`` when one is given."""
    if isinstance(x, bool) or not isinstance(x, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {_what(x)}")
    n = int(x)
    if minimum is not None and n < minimum:
        bound = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {bound}, got {n}")
    return n


def positive_int(name: str, x: Any) -> int:
    """``x`` as an int >= 1."""
    return integer(name, x, minimum=1)


def real(
    name: str,
    x: Any,
    minimum: float | None = None,
    maximum: float | None = None,
    *,
    strict_min: bool = False,
    strict_max: bool = False,
) -> float:
    """``x`` as a finite float (Python or NumPy real, not bool) within the given bounds.

    NaN and infinity are always refused: a NaN hyperparameter would silently turn every weight into NaN.
    """
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {_what(x)}")
    f = float(x)
    if not math.isfinite(f):
        raise ValueError(f"{name} must be a finite number, got {f!r}")
    if minimum is not None and (f <= minimum if strict_min else f < minimum):
        raise ValueError(f"{name} must be {'>' if strict_min else '>='} {minimum}, got {f!r}")
    if maximum is not None and (f >= maximum if strict_max else f > maximum):
        raise ValueError(f"{name} must be {'<' if strict_max else '<='} {maximum}, got {f!r}")
    return f


def choice(name: str, x: Any, choices: tuple[str, ...] | list[str]) -> str:
    """``x`` as one of the strings in ``choices``."""
    if not isinstance(x, str) or x not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {x!r}")
    return x
