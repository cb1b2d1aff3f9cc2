"""The table of primitives: each op's forward rule and its local-derivative rule, side by side.

``forward`` computes the output from plain floats and raises a clear error outside the op's
domain. ``local`` gives d output / d input for each input, from the inputs and the output. It is
written with the generic helpers below (``exp``, ``log``, ``step``, ``sign``) and ordinary
arithmetic, so the same rule runs on floats (at forward time, the fast path), on Values (for
``grad(..., create_graph=True)``, giving higher-order derivatives) and on NumPy arrays (the batch
tape). Adding a primitive means adding one entry to ``OPS``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, NoReturn

import numpy as np

from .errors import DivisionByZero, DomainError, NumericOverflow

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
        raise DivisionByZero(f"division by zero: {a!r} / {b!r}")
    return a / b


def _pow(a: float, b: float) -> float:
    if a < 0 and not float(b).is_integer():  # inf is not an integer either: (-2) ** inf is refused too
        raise DomainError(f"pow(): {_power_str(a, b)} is undefined (negative base, exponent not an integer)")
    if a == 0 and b < 0:
        raise DivisionByZero(f"pow(): {_power_str(a, b)} divides by zero")
    try:
        return a**b
    except OverflowError:
        raise NumericOverflow(f"pow(): {_power_str(a, b)} overflows a float") from None


def _power_str(a: float, b: float) -> str:
    return f"({a!r}) ** {b!r}" if a < 0 else f"{a!r} ** {b!r}"


def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        raise NumericOverflow(f"exp() of {x!r} overflows a float") from None


def _log(x: float) -> float:
    if x <= 0:
        raise DomainError(f"log() of {x!r} is undefined")
    return math.log(x)


def _relu(x: float) -> float:
    return 0.0 if x <= 0 else x  # NaN in, NaN out (as on the tape), never a silent 0


def _sum(*xs: float) -> float:
    """The exactly rounded sum; where ``math.fsum`` overflows in between, the left-to-right sum that
    ``+`` gives (inf, or NaN for inf - inf, which the NaN rule then reports)."""
    try:
        return math.fsum(xs)
    except (OverflowError, ValueError):
        total = 0.0
        for x in xs:
            total += x
        return total


def _max(*xs: float) -> float:
    """The largest input, or NaN if any input is NaN (as NumPy's max on the tape)."""
    for x in xs:
        if x != x:
            return x
    return max(xs)


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
        raise DomainError(
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
    """d max / d x_i: 1 for the first largest input (the first NaN, if out is NaN), 0 for the others."""
    *xs, out = xs_out
    o = float(out)
    first = next(i for i, x in enumerate(xs) if float(x) == o or (o != o and float(x) != float(x)))
    return tuple(1.0 if i == first else 0.0 for i in range(len(xs)))


def _max_local_array(xs: np.ndarray, out: np.ndarray) -> np.ndarray:
    """The same rule on inputs stacked along axis 0: a one-hot of the first largest."""
    return (np.arange(len(xs)).reshape((-1,) + (1,) * (xs.ndim - 1)) == xs.argmax(axis=0)).astype(float)


def _infinite_slope(a: float, b: float) -> float:
    if b == 0:
        return 0.0
    raise DivisionByZero(f"pow(): the derivative of {a!r} ** {b!r} is infinite")


class Op(str):
    """A primitive: its name, how many inputs it takes (-1: any number), and its two rules.

    As a string an Op is micrograd's name for it ('+', '*', '**2', 'ReLU', 'tanh', 'exp'; a short
    name for the ops micrograd lacks), so ``v._op`` is what micrograd code prints and compares, while
    ``name`` is chainrule's ('relu'), the ``v.op`` that drawings show.

    ``array_forward`` is the forward rule on NumPy arrays, for the batch tape, when ``forward``
    only takes floats (it checks domains with ``if``); ``local`` serves floats, Values and arrays
    alike. An n-ary op's array rules take its inputs stacked along axis 0 (``array_forward``
    reduces that axis; ``array_local`` gives the stacked derivatives, or a number for all of them).
    ``fold``, for an n-ary op whose every input has derivative 1 (sum), is the binary ufunc it
    applies left to right (``np.add``): the order ``array_forward`` reduces its axis in.
    """

    name: str
    arity: int
    custom: bool = False  # a node's op written micrograd's way: its derivative is a _backward closure
    pairs: int = 0  # a traced weighted sum's number of products (``weighted_sum_op``)
    forward: Callable[..., float]
    local: Callable[..., tuple]
    array_forward: Callable[..., Any] | None
    array_local: Callable[..., Any] | None
    fold: np.ufunc | None

    def __new__(
        cls,
        name: str,
        arity: int,
        forward: Callable[..., float],
        local: Callable[..., tuple],
        array_forward: Callable[..., Any] | None = None,
        array_local: Callable[..., Any] | None = None,
        *,
        micrograd: str | None = None,
        fold: np.ufunc | None = None,
    ) -> Op:
        op = super().__new__(cls, name if micrograd is None else micrograd)
        op.name, op.arity, op.forward, op.local = name, arity, forward, local
        op.array_forward, op.array_local, op.fold = array_forward, array_local, fold
        return op

    def forward_on_arrays(self) -> Callable[..., Any]:
        return self.array_forward or self.forward

    def ufunc(self) -> np.ufunc | None:
        """The NumPy ufunc that is this op's array rule, when there is one: ``f(*inputs, out)``
        writes the result into ``out`` (the tape runs a big batch's rows with it, allocating nothing)."""
        f = self.array_forward
        return f if isinstance(f, np.ufunc) and f.nin == self.arity else None

    def __repr__(self) -> str:
        return f"Op({self.name!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled by name (its rules are functions, which pickle cannot store by value)."""
        return (named, (self.name, self.arity, self.custom))

    def __copy__(self) -> Op:
        return self  # an Op never changes: copies of a graph share their primitives

    def __deepcopy__(self, memo: dict) -> Op:
        return self


def _no_rule(*args: Any) -> NoReturn:
    raise TypeError("a leaf Value has no rule: it was given, not computed")


LEAF = Op("", 0, _no_rule, _no_rule)  # the op of a leaf: '' (false), as in micrograd


OPS: dict[str, Op] = {
    op.name: op
    for op in [
        #  name       arity  forward (floats)              local derivatives d out / d inputs   on arrays
        Op("+",       2, lambda a, b: a + b,            lambda a, b, out: (1.0, 1.0),        np.add),
        Op("-",       2, lambda a, b: a - b,            lambda a, b, out: (1.0, -1.0),       np.subtract),
        Op("*",       2, lambda a, b: a * b,            lambda a, b, out: (b, a),            np.multiply),
        Op("/",       2, _div,                          lambda a, b, out: (1.0 / b, -out / b), np.divide),
        Op("**",      2, _pow,                          _pow_local,                          np.power),
        Op("neg",     1, lambda x: -x,                  lambda x, out: (-1.0,),              np.negative),
        Op("exp",     1, _exp,                          lambda x, out: (out,),               np.exp),
        Op("log",     1, _log,                          lambda x, out: (1.0 / x,),           np.log),
        Op("tanh",    1, math.tanh,                     lambda x, out: (1.0 - out * out,),   np.tanh),
        Op("sigmoid", 1, _sigmoid,                      lambda x, out: (out * (1.0 - out),), _sigmoid_array),
        Op("relu",    1, _relu,                         lambda x, out: (step(x),),           _relu_array,
           micrograd="ReLU"),
        Op("abs",     1, abs,                           lambda x, out: (sign(x),),           np.absolute),
        Op("sum",    -1, _sum,                          lambda *xs_out: (1.0,) * (len(xs_out) - 1),
           array_forward=_sum_array, array_local=lambda xs, out: 1.0, fold=np.add),
        Op("max",    -1, _max,                          _max_local,
           array_forward=_max_array, array_local=_max_local_array),
    ]
}  # fmt: skip


@functools.lru_cache(maxsize=512)  # bounded: a loop over many exponents must not keep them all
def power(n: float) -> Op:
    """The unary op ``x ** n`` for a constant exponent n (one Op per exponent while it is cached).

    Kept apart from ``**`` with a Value exponent because that one needs log(base) for the
    exponent's derivative, which does not exist for a negative base such as ``(-3) ** 2``.
    """

    def local(x: Any, out: Any) -> tuple:
        if n == 0:  # x ** 0 == 1 everywhere, also at 0, where n * x ** -1 would divide by zero
            return (np.zeros_like(x) if isinstance(x, np.ndarray) else 0.0,)
        if not isinstance(x, np.ndarray) and float(x) == 0 and 0 < n < 1:
            raise DivisionByZero(f"pow(): the derivative of {float(x)!r} ** {n!r} is infinite")
        return (n * x ** (n - 1),)

    return Op(_power_name(n), 1, lambda x: _pow(x, n), local, lambda x: np.power(x, n))


@functools.lru_cache(maxsize=512)
def weighted_sum_op(n: int) -> Op:
    """The op of a traced neuron sum ``Σ x_i·w_i + Σ c_j`` of n products (``value.weighted_sum``): its
    inputs are x_0..x_{n-1}, then w_0..w_{n-1}, then the terms c added. Only the batch tape sees it
    (eagerly a weighted sum is the n products and one sum node); the tape runs it as a row of a matrix
    product, or, when it cannot, with the array rules here. Its forward is the eager graph's: the
    exactly rounded sum of the rounded products and the terms."""

    def forward(*xs: float) -> float:
        return _sum(*(xs[i] * xs[n + i] for i in range(n)), *xs[2 * n :])

    def local(*xs_out: Any) -> tuple:
        xs = xs_out[:-1]
        return (*xs[n : 2 * n], *xs[:n], *(1.0,) * (len(xs) - 2 * n))

    def array_forward(xs: np.ndarray) -> np.ndarray:
        return (xs[:n] * xs[n : 2 * n]).sum(axis=0) + xs[2 * n :].sum(axis=0)

    def array_local(xs: np.ndarray, out: np.ndarray) -> np.ndarray:
        return np.concatenate([xs[n : 2 * n], xs[:n], np.ones_like(xs[2 * n :])])

    op = Op("weighted_sum", -1, forward, local, array_forward, array_local)
    op.pairs = n
    return op


def _power_name(n: float) -> str:
    """micrograd's '**k': '**2' for x ** 2, '**0.5', '**-1'."""
    return f"**{int(n)}" if n.is_integer() and abs(n) < 1e15 else f"**{n!r}"


def custom(name: str, arity: int) -> Op:
    """The op of a node written micrograd's way, ``out = Value(t, (x,), name)`` and then
    ``out._backward = closure``: it keeps the name its code gave it and has no rules of its own (the
    closure is the node's derivative, so the batch tape, which needs array rules, cannot replay it)."""

    def no_rule(*args: Any) -> NoReturn:
        raise TypeError(f"{name!r} is a custom op: its node's derivative is its _backward closure")

    op = Op(name, arity, no_rule, no_rule)
    op.custom = True
    return op


def named(name: str, arity: int, is_custom: bool = False) -> Op:
    """The op called ``name`` (chainrule's name), as ``Op.__reduce__`` stored it."""
    if is_custom:
        return custom(name, arity)
    return LEAF if name == LEAF.name and arity == 0 else op_for(name, arity)


def op_for(name: str, arity: int) -> Op:
    """The primitive called ``name`` (micrograd's string or chainrule's name) taking ``arity`` inputs,
    or a ValueError listing the known ones: how ``Value(data, _children, _op)`` finds its rule."""
    if name.startswith("**") and arity == 1:
        try:
            return power(float(name[2:]))
        except ValueError:
            pass
    for op in OPS.values():
        if name in (op, op.name) and op.arity in (arity, -1):
            return op
    raise ValueError(
        f"Value(): no primitive {name!r} with {arity} input(s); chainrule needs the op's rule to know its "
        f"local derivatives (known: {known_names()})"
    )


def known_names() -> str:
    """The primitives' names as micrograd code spells them, for error messages."""
    return ", ".join(sorted({str(op) for op in OPS.values()} | {"**k"}))
