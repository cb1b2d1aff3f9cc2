"""``Value``: one scalar in a computation graph.

A Value made by an operation remembers its parents and, for each parent, the local derivative
d self / d parent, computed at forward time from the op's entry in ``ops.OPS``. ``backward()``
then only has to multiply and add (see ``backward.py``).

Memory layout, for speed: a node keeps up to two parents and their two local derivatives in
slots (``_a``, ``_b``, ``_ga``, ``_gb``) instead of in tuples or closures, so each Value is a
single object for Python's garbage collector and dropping a graph frees it by reference counting
alone. An n-ary node (``autograd.sum``) keeps a tuple of parents in ``_a`` and of derivatives in
``_ga``. The public views are the ``parents`` and ``local_grads`` properties.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Callable, Iterable
from typing import Any

from .mode import ANOMALY, NO_GRAD, AnomalyError, mode
from .ops import OPS, Op, power

_get_mode = mode.get


# --- building nodes -------------------------------------------------------------------------------

_new = object.__new__


def _as_float(x: Any, where: str) -> float:
    """The number x as a float, or a TypeError saying what x is and where it was given."""
    # float and int first: the common case, without the slow ABC check
    if (
        type(x) is float
        or type(x) is int
        or isinstance(x, numbers.Real)
        or type(x).__name__ in ("bool_", "bool")
    ):
        f = float(x)
    else:
        raise TypeError(
            f"{where}: expected a real number (int, float, bool or NumPy scalar), "
            f"got {type(x).__name__} {x!r}"
        )
    if f != f:
        raise ValueError(f"{where}: got NaN; a Value must hold a number")
    return f


def _lift(x: Any, op: Op) -> Value:
    """A plain number used beside a Value becomes a constant leaf."""
    if isinstance(x, Value):
        return x
    return Value(_as_float(x, f"operator {op.name!r}"))


def _binary(op: Op, reflected: bool = False) -> Callable[[Value, Any], Value]:
    """The method ``x <op> y`` (or ``y <op> x`` when reflected) for a two-input primitive."""
    forward, local = op.forward, op.local

    def apply(x: Value, y: Any) -> Value:
        if type(y) is not Value:
            y = _lift(y, op)
        if reflected:
            x, y = y, x
        a, b = x.data, y.data
        out = forward(a, b)
        if _get_mode():
            return _record(op, (x, y), out, lambda: local(a, b, out))
        v = _new(Value)
        v.data = out
        v.grad = 0.0
        v.label = v.scope = None
        v._op, v._a, v._b = op, x, y
        v._ga, v._gb = local(a, b, out)
        return v

    apply.__name__ = apply.__qualname__ = (
        f"Value {op.name} other" if not reflected else f"other {op.name} Value"
    )
    return apply


@functools.cache  # one method per op: "**2" is built once, however often v ** 2 is used
def _unary(op: Op) -> Callable[[Value], Value]:
    """The method ``x.<op>()`` for a one-input primitive."""
    forward, local = op.forward, op.local

    def apply(x: Value) -> Value:
        a = x.data
        out = forward(a)
        if _get_mode():
            return _record(op, (x,), out, lambda: local(a, out))
        v = _new(Value)
        v.data = out
        v.grad = 0.0
        v.label = v.scope = v._b = v._gb = None
        v._op, v._a = op, x
        (v._ga,) = local(a, out)
        return v

    apply.__name__ = apply.__qualname__ = op.name
    apply.__doc__ = f"The primitive {op.name!r} applied to this Value (see autograd.ops.OPS)."
    return apply


def _record(op: Op, parents: tuple, out: float, local, nary: bool = False) -> Value:
    """The general (slower) path: honours no_grad and detect_anomaly, and builds n-ary nodes."""
    m = _get_mode()
    v = Value(out)
    if m & NO_GRAD:
        return v
    grads = local()
    if m & ANOMALY:
        check_finite(op.name, [x.data for x in parents], out, grads)
    v._op = op
    if nary:
        v._a, v._ga = parents, tuple(grads)
    else:
        v._a, v._ga = parents[0], grads[0]
        if len(parents) == 2:
            v._b, v._gb = parents[1], grads[1]
    return v


def check_finite(op: str, inputs: list[float], out: float, grads: Iterable[float]) -> None:
    if not math.isfinite(out) or not all(math.isfinite(g) for g in grads):
        raise AnomalyError(
            f"{op}: inputs {inputs} gave output {out!r} and local derivatives {list(grads)} "
            "(NaN or infinity found by detect_anomaly)"
        )


class Value:
    """A scalar with a gradient. ``Value(2.0, label="x")``; combine with + - * / ** and methods."""

    __slots__ = ("data", "grad", "label", "scope", "_op", "_a", "_b", "_ga", "_gb", "__weakref__")
    __array_ufunc__ = None  # so `numpy_number * value` defers to Value.__rmul__

    def __init__(self, data: Any, label: str | None = None) -> None:
        self.data = _as_float(data, "Value()")
        self.grad = 0.0
        self.label = label
        self.scope = None  # which module made it, e.g. "layers.0.neurons.1" (set by nn, drawn by viz)
        self._op = self._a = self._b = self._ga = self._gb = None

    # --- what the node recorded ---------------------------------------------------------------

    @property
    def op(self) -> str:
        """The primitive's name ('+', 'tanh', '**2', ...), or '' for a leaf."""
        return self._op.name if self._op is not None else ""

    @property
    def is_leaf(self) -> bool:
        return self._a is None

    @property
    def parents(self) -> tuple[Value, ...]:
        a, b = self._a, self._b
        if a is None:
            return ()
        if type(a) is tuple:
            return a
        return (a,) if b is None else (a, b)

    @property
    def local_grads(self) -> tuple[float, ...]:
        """d self / d parent for each parent, in the order of ``parents``."""
        a, b = self._a, self._b
        if a is None:
            return ()
        if type(a) is tuple:
            return self._ga
        return (self._ga,) if b is None else (self._ga, self._gb)

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in (("op", self.op), ("label", self.label)) if v)
        return f"Value(data={self.data!r}, grad={self.grad!r}{extra})"

    def __float__(self) -> float:
        return self.data

    # --- arithmetic: each operator applies one entry of the table of primitives (ops.OPS) ------
    # (_binary and _unary, below the class, build these methods; "r" forms put a plain number
    # first, as in 2 * v.)

    __add__, __radd__ = _binary(OPS["+"]), _binary(OPS["+"], reflected=True)
    __sub__, __rsub__ = _binary(OPS["-"]), _binary(OPS["-"], reflected=True)
    __mul__, __rmul__ = _binary(OPS["*"]), _binary(OPS["*"], reflected=True)
    __truediv__, __rtruediv__ = _binary(OPS["/"]), _binary(OPS["/"], reflected=True)
    __rpow__ = _binary(OPS["**"], reflected=True)
    _pow_value = _binary(OPS["**"])

    def __pow__(self, other: Any) -> Value:
        """v ** n with a plain number n is the unary op "**n"; v ** w with a Value w is binary."""
        if isinstance(other, Value):
            return self._pow_value(other)
        return _unary(power(_as_float(other, "**")))(self)

    __neg__ = _unary(OPS["neg"])
    __abs__ = abs = _unary(OPS["abs"])
    exp = _unary(OPS["exp"])
    log = _unary(OPS["log"])
    tanh = _unary(OPS["tanh"])
    sigmoid = _unary(OPS["sigmoid"])
    relu = _unary(OPS["relu"])

    # --- gradients ------------------------------------------------------------------------------

    def backward(self) -> None:
        """Fill ``.grad`` of every node this Value depends on with d self / d node.

        Gradients of leaves (Values with no parents, such as weights) accumulate across calls,
        as in PyTorch: call ``zero_grad`` between steps. Gradients of computed nodes are
        recomputed by each call, so two calls give exactly twice the leaf gradients.
        """
        from .backward import backward

        backward(self)


def sum(values: Iterable[Any]) -> Value:
    """One n-ary node for v1 + v2 + ... + vn: a shallower graph, a clearer drawing, a faster backward."""
    return _nary(OPS["sum"], values)


def max(values: Iterable[Any]) -> Value:
    """The largest of the values, as one node; its derivative is 1 for the (first) largest input, 0 else.
    Use it for a stable log-sum-exp: m + log(sum(exp(z - m))) with m = max(z)."""
    return _nary(OPS["max"], values)


def _nary(op: Op, values: Iterable[Any]) -> Value:
    xs = tuple(values)
    if not all(type(x) is Value for x in xs):
        xs = tuple(x if isinstance(x, Value) else _lift(x, op) for x in xs)
    if not xs:
        raise ValueError(f"{op.name}() of no values: give at least one Value")
    data = [x.data for x in xs]
    out = op.forward(*data)
    if _get_mode():
        return _record(op, xs, out, lambda: op.local(*data, out), nary=True)
    v = _new(Value)  # the fast path, as in _binary: no_grad and detect_anomaly are off
    v.data = out
    v.grad = 0.0
    v.label = v.scope = v._b = v._gb = None
    v._op, v._a, v._ga = op, xs, op.local(*data, out)
    return v
