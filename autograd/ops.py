"""The table of primitives: each op's forward rule and its local-derivative rule, side by side.

``forward`` computes the output from plain floats and raises a clear error outside the op's
domain. ``local`` gives d output / d input for each input, from the inputs and the output. It is
written with the generic helpers below (``exp``, ``log``, ``step``, ``sign``) and ordinary
arithmetic, so the same rule runs on floats (at forward time, the fast path), on Values (for
``grad(..., create_graph=True)``, giving higher-order derivatives) and on NumPy arrays (the batch
tape). Adding a primitive means adding one entry to ``OPS``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

# --- helpers that work on floats, Values and NumPy arrays alike -------------------------------


def exp(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return np.exp(x)
    return x.exp() if hasattr(x, "exp") else math.exp(x)


def log(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return np.log(x)
    return x.log() if hasattr(x, "log") else math.log(x)


def step(x: Any) -> Any:
    """1 where x > 0, else 0: the derivative of relu (0 at x == 0, as PyTorch does)."""
    if isinstance(x, np.ndarray):
        return (x > 0).astype(float)
    return 1.0 if float(x) > 0 else 0.0


def sign(x: Any) -> Any:
    """-1, 0 or 1: the derivative of abs (0 at x == 0)."""
    if isinstance(x, np.ndarray):
        return np.sign(x)
    x = float(x)
    return 1.0 if x > 0 else (-1.0 if x < 0 else 0.0)


# --- scalar forward rules with their domain checks ----------------------------------------------


def _div(a: float, b: float) -> float:
    if b == 0:
        raise ZeroDivisionError(f"division by zero: {a!r} / {b!r}")
    return a / b


def _pow(a: float, b: float) -> float:
    if a < 0 and b != int(b):
        raise ValueError(f"pow(): {_power_str(a, b)} is undefined (negative base, non-integer exponent)")
    if a == 0 and b < 0:
        raise ZeroDivisionError(f"pow(): {_power_str(a, b)} divides by zero")
    try:
        return a**b
    except OverflowError:
        raise OverflowError(f"pow(): {_power_str(a, b)} overflows a float") from None


def _power_str(a: float, b: float) -> str:
    return f"({a!r}) ** {b!r}" if a < 0 else f"{a!r} ** {b!r}"


def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        raise OverflowError(f"exp() of {x!r} overflows a float") from None


def _log(x: float) -> float:
    if x <= 0:
        raise ValueError(f"log() of {x!r} is undefined")
    return math.log(x)


def _sigmoid(x: float) -> float:
    # Two branches so that exp never overflows: stable for any |x|.
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _relu_array(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def _sum_array(xs: np.ndarray) -> np.ndarray:
    return xs.sum(axis=0)


def _max_array(xs: np.ndarray) -> np.ndarray:
    return xs.max(axis=0)


def _sigmoid_array(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))  # the same two branches as _sigmoid, so the same numbers
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


# --- local-derivative rules that need a domain check of their own -------------------------------


def _pow_local(a: Any, b: Any, out: Any) -> tuple:
    """d(a**b)/da = b * a**(b-1); d(a**b)/db = a**b * log(a) (0 when a == 0)."""
    if isinstance(out, np.ndarray):
        return _pow_local_array(a, b, out)
    fa = float(a)
    if fa < 0:
        raise ValueError(
            f"pow(): the derivative of {_power_str(fa, float(b))} with respect to the exponent is undefined "
            "(log of a negative base); use a plain number as the exponent"
        )
    d_base = b * a ** (b - 1) if fa != 0 or float(b) >= 1 else _infinite_slope(fa, float(b))
    d_exp = out * log(a) if fa != 0 else 0.0
    return d_base, d_exp


def _pow_local_array(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> tuple:
    """The same rule on arrays (the batch tape), without raising: where the scalar rule would raise
    (negative base, infinite slope) the result is NaN or infinity, and the tape reports it."""
    with np.errstate(all="ignore"):
        d_base = np.where(b == 0, 0.0, b * a ** (b - 1))
        d_exp = np.where(a > 0, out * np.log(np.where(a > 0, a, 1.0)), np.where(a == 0, 0.0, np.nan))
    return d_base, d_exp


def _max_local(*xs_out: Any) -> tuple:
    """d max / d x_i: 1 for the first largest input, 0 for the others."""
    *xs, out = xs_out
    first = next(i for i, x in enumerate(xs) if float(x) == float(out))
    return tuple(1.0 if i == first else 0.0 for i in range(len(xs)))


def _max_local_array(xs: np.ndarray, out: np.ndarray) -> np.ndarray:
    """The same rule on inputs stacked along axis 0: a one-hot of the first largest."""
    return (np.arange(len(xs)).reshape((-1,) + (1,) * (xs.ndim - 1)) == xs.argmax(axis=0)).astype(float)


def _infinite_slope(a: float, b: float) -> float:
    if b == 0:
        return 0.0
    raise ZeroDivisionError(f"pow(): the derivative of {a!r} ** {b!r} is infinite")


@dataclass(frozen=True)
class Op:
    """A primitive: its name, how many inputs it takes (-1: any number), and its two rules.

    ``array_forward`` is the forward rule on NumPy arrays, for the batch tape, when ``forward``
    only takes floats (it checks domains with ``if``); ``local`` serves floats, Values and arrays
    alike. An n-ary op's array rules take its inputs stacked along axis 0 (``array_forward``
    reduces that axis; ``array_local`` gives the stacked derivatives, or a number for all of them).
    """

    name: str
    arity: int
    forward: Callable[..., float]
    local: Callable[..., tuple]
    array_forward: Callable[..., Any] | None = None
    array_local: Callable[..., Any] | None = None

    def forward_on_arrays(self) -> Callable[..., Any]:
        return self.array_forward or self.forward

    def __repr__(self) -> str:
        return f"Op({self.name!r})"


OPS: dict[str, Op] = {
    op.name: op
    for op in [
        #  name       arity  forward (floats)              local derivatives d out / d inputs   on arrays
        Op("+",       2, lambda a, b: a + b,            lambda a, b, out: (1.0, 1.0)),
        Op("-",       2, lambda a, b: a - b,            lambda a, b, out: (1.0, -1.0)),
        Op("*",       2, lambda a, b: a * b,            lambda a, b, out: (b, a)),
        Op("/",       2, _div,                          lambda a, b, out: (1.0 / b, -out / b), np.divide),
        Op("**",      2, _pow,                          _pow_local,                          np.power),
        Op("neg",     1, lambda x: -x,                  lambda x, out: (-1.0,)),
        Op("exp",     1, _exp,                          lambda x, out: (out,),               np.exp),
        Op("log",     1, _log,                          lambda x, out: (1.0 / x,),           np.log),
        Op("tanh",    1, math.tanh,                     lambda x, out: (1.0 - out * out,),   np.tanh),
        Op("sigmoid", 1, _sigmoid,                      lambda x, out: (out * (1.0 - out),), _sigmoid_array),
        Op("relu",    1, lambda x: x if x > 0 else 0.0, lambda x, out: (step(x),),           _relu_array),
        Op("abs",     1, abs,                           lambda x, out: (sign(x),)),
        Op("sum",    -1, lambda *xs: math.fsum(xs),     lambda *xs_out: (1.0,) * (len(xs_out) - 1),
           array_forward=_sum_array, array_local=lambda xs, out: 1.0),
        Op("max",    -1, max,                           _max_local,
           array_forward=_max_array, array_local=_max_local_array),
    ]
}  # fmt: skip


_POWERS: dict[float, Op] = {}


def power(n: float) -> Op:
    """The unary op ``x ** n`` for a constant exponent n (one Op per exponent, cached).

    Kept apart from ``**`` with a Value exponent because that one needs log(base) for the
    exponent's derivative, which does not exist for a negative base such as ``(-3) ** 2``.
    """
    op = _POWERS.get(n)
    if op is None:

        def local(x: Any, out: Any) -> tuple:
            if not isinstance(x, np.ndarray) and float(x) == 0 and 0 < n < 1:
                raise ZeroDivisionError(f"pow(): the derivative of {float(x)!r} ** {n!r} is infinite")
            return (n * x ** (n - 1),)

        op = _POWERS[n] = Op(f"**{n:g}", 1, lambda x: _pow(x, n), local, lambda x: np.power(x, n))
    return op
