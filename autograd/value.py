"""``Value``: one scalar in a computation graph.

A Value made by an operation remembers its parents and, for each parent, the local derivative
d self / d parent, computed at forward time from the op's entry in ``ops.OPS``. ``backward()``
then only has to multiply and add (see ``backward.py``).

Memory layout, for speed: a node keeps up to two parents in the slots ``_a`` and ``_b``, and the
local derivatives d self / d a and d self / d b in ``_local_a`` and ``_local_b`` (not in tuples or
closures), so each Value is a single object for Python's garbage collector and dropping a graph frees
it by reference counting alone. An n-ary node (``autograd.sum``) keeps a tuple of parents in ``_a``
and one of local derivatives in ``_local_a``. ``_init`` fills the slots, except on the two hot paths
(one- and two-input ops), which write the same slots inline for speed (tests/test_value.py builds a
node through every path and checks every slot). The public views are ``parents``, ``local_grads``
and ``op``; ``_prev``, ``_op`` and ``_backward()`` are micrograd's names, for code written for it.
"""

from __future__ import annotations

import copy
import functools
import math
import numbers
import os
import sys
import types
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .errors import AnomalyError, NotTraceable, NumericOverflow
from .graph import backward as _backward
from .graph import raise_nan, topological_order
from .mode import ANOMALY, GRAD_SLOTS, NO_GRAD, TRACING, mode
from .ops import LEAF, OPS, Op, custom, known_names, op_for, power, weighted_sum_op

_get_mode = mode.get
_new = object.__new__

# --- building nodes -------------------------------------------------------------------------------


def _init(
    v: Value, data: float, op: Op, a: Any, local_a: Any, b: Value | None, local_b: Any, label: str = ""
) -> Value:
    """Fill every slot of ``v`` (a leaf has ``op=LEAF`` and no parents); return ``v``."""
    v.data = data
    v.grad = 0.0
    v._label = label
    v.scope = None  # which module made it, e.g. "layers.0.neurons.1" (set by nn, drawn by viz)
    v._prim, v._a, v._local_a, v._b, v._local_b = op, a, local_a, b, local_b
    return v


def _edges(op: Op, parents: tuple[Value, ...], local_grads: Iterable[Any]) -> tuple[Any, Any, Any, Any]:
    """What a computed node keeps in ``_a, _local_a, _b, _local_b`` for these parents."""
    grads = tuple(local_grads)
    if op.arity == -1:
        return parents, grads, None, None
    if len(parents) == 2:
        return parents[0], grads[0], parents[1], grads[1]
    return parents[0], grads[0], None, None


def _as_float(x: Any, where: str) -> float:
    """The number x as a float, or a TypeError saying what x is and where it was given."""
    # float and int first: the common case, without the slow ABC check
    if (
        type(x) is float
        or type(x) is int
        or isinstance(x, numbers.Real)
        or type(x).__name__ in ("bool_", "bool")
    ):
        try:
            f = float(x)
        except OverflowError:
            digits = int(x.bit_length() * math.log10(2)) if isinstance(x, int) else None
            size = f"an integer of about 10**{digits}" if digits else repr(x)
            raise NumericOverflow(
                f"{where}: {size} is too large for a float (at most about 1.8e308)"
            ) from None
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
    return _init(_new(Value), _as_float(x, f"operator {op.name!r}"), LEAF, None, None, None, None)


def _refuse_nan(op: Op, inputs: Iterable[float]) -> None:
    """``op`` gave NaN: pass it on if an input was NaN already, else raise naming the op and inputs
    (a NaNError; inside ``detect_anomaly()`` its AnomalyError)."""
    inputs = list(inputs)
    if any(x != x for x in inputs):
        return
    raise_nan(f"{op.name}: inputs {inputs} give NaN (an undefined result, such as 0 * inf or inf - inf)")


def _binary(op: Op, reflected: bool = False) -> Callable[[Value, Any], Value]:
    """The method ``x <op> y`` (or ``y <op> x`` when reflected) for a two-input primitive."""
    forward, local = op.forward, op.local

    def apply(x: Value, y: Any) -> Value:
        if type(y) is not Value:
            y = _lift(y, op)
        if reflected:
            x, y = y, x
        if _get_mode():  # before any .data: a traced node has none
            return _record(op, (x, y))
        a, b = x.data, y.data
        out = forward(a, b)
        if out != out:
            _refuse_nan(op, (a, b))
        v = _new(Value)  # the hot path: _init's slot writes inlined (a call costs ~10% here)
        v.data = out
        v.grad = 0.0
        v._label = ""
        v.scope = None
        v._prim, v._a, v._b = op, x, y
        v._local_a, v._local_b = local(a, b, out)
        return v

    apply.__name__ = apply.__qualname__ = (
        f"Value {op.name} other" if not reflected else f"other {op.name} Value"
    )
    return apply


def _unary(op: Op) -> Callable[[Value], Value]:
    """The method ``x.<op>()`` for a one-input primitive."""
    forward, local = op.forward, op.local

    def apply(x: Value) -> Value:
        if _get_mode():  # before any .data: a traced node has none
            return _record(op, (x,))
        a = x.data
        out = forward(a)
        if out != out:
            _refuse_nan(op, (a,))
        v = _new(Value)  # the hot path: _init's slot writes inlined (a call costs ~10% here)
        v.data = out
        v.grad = 0.0
        v._label = ""
        v.scope = v._b = v._local_b = None
        v._prim, v._a = op, x
        (v._local_a,) = local(a, out)
        return v

    apply.__name__ = apply.__qualname__ = op.name
    apply.__doc__ = f"The primitive {op.name!r} applied to this Value (see autograd.ops.OPS)."
    return apply


@functools.lru_cache(maxsize=512)  # "**2" is built once however often v ** 2 is used; bounded
def _power_method(n: float) -> Callable[[Value], Value]:
    return _unary(power(n))


def _record(op: Op, parents: tuple[Value, ...]) -> Value:
    """The path taken when a mode is on: tracing builds a traced node (no numbers); no_grad
    records no parents; detect_anomaly checks."""
    m = _get_mode()
    if m & TRACING and not (m & NO_GRAD and not any(type(p) is Traced for p in parents)):
        return _traced(op, parents)
    inputs = [p.data for p in parents]  # (under no_grad, a traced parent refuses here)
    out = op.forward(*inputs)
    if out != out:
        _refuse_nan(op, inputs)
    if m & NO_GRAD:
        return _init(_new(Value), out, LEAF, None, None, None, None)
    grads = tuple(op.local(*inputs, out))
    if m & ANOMALY:
        check_finite(op.name, [x.data for x in parents], out, grads)
    return _init(_new(Value), out, op, *_edges(op, parents, grads))


def check_finite(op: str, inputs: list[float], out: float, grads: Iterable[float]) -> None:
    """Inside detect_anomaly(): raise AnomalyError if the output or a local derivative is NaN or inf."""
    grads = list(grads)
    if not math.isfinite(out) or not all(math.isfinite(g) for g in grads):
        raise AnomalyError(
            f"{op}: inputs {inputs} gave output {out!r} and local derivatives {grads} "
            "(NaN or infinity found by detect_anomaly)"
        )


_ADD_A_PRIMITIVE = (
    "To define an op, build it from existing primitives (x * x * x for x ** 3), or add an entry "
    "Op(name, arity, forward, local) to OPS with its forward rule and its local derivatives "
    "(docs/engine.md, 'Adding a primitive'); Value(data, _children, _op) then finds it by name."
)


def _checked_label(label: Any, where: str) -> str:
    """A label is a string ('' for none; None is taken as ''), else a TypeError."""
    if type(label) is str:
        return label
    if label is None:
        return ""
    if isinstance(label, str):
        return str(label)
    raise TypeError(f"{where}: label must be a string, got {type(label).__name__} {label!r}")


class Value:
    """A scalar with a gradient. ``Value(2.0, label="x")``; combine with + - * / ** and methods.

    micrograd's constructor shape is accepted too: ``Value(data, _children=(), _op='', label='')``,
    where ``_op`` names a primitive ('+', '*', 'tanh', '**2', ...) whose rule gives the local
    derivatives with respect to ``_children``.
    """

    __slots__ = (
        "data", "grad", "_label", "scope", "_prim", "_a", "_local_a", "_b", "_local_b",
        "__dict__", "__weakref__",
    )  # fmt: skip
    # __dict__: extra attributes work (an optimizer's ``p.m = 0.0``), made only when first set
    data: float
    grad: float
    _label: str  # read and set through ``label``, which checks the type
    scope: str | None
    _prim: Op  # the primitive that made this node; LEAF ('') for a leaf
    _a: Any  # first parent, or the tuple of parents of an n-ary node, or None for a leaf
    _local_a: Any  # d self / d _a (a tuple for an n-ary node)
    _b: Value | None  # second parent of a binary node
    _local_b: Any  # d self / d _b

    __array_ufunc__ = None  # so `numpy_number * value` defers to Value.__rmul__

    def __init__(self, data: Any, _children: Iterable[Value] = (), _op: str = "", label: str = "") -> None:
        data = _as_float(data, "Value()")
        label = _checked_label(label, "Value()")
        if not _children and not _op:  # a leaf: the common case
            _init(self, data, LEAF, None, None, None, None, label)
            return
        op, parents = _micrograd_op(_children, _op)
        if any(type(p) is Traced for p in parents):
            what = f"Value(data, _children, {_op!r}) of traced nodes"
            _refuse_at(1, what, "a node built from numbers read from them")
        if _get_mode() & NO_GRAD:
            _init(self, data, LEAF, None, None, None, None, label)
        elif op.custom:  # its derivative is the _backward closure its code assigns next
            _init(self, data, op, parents, NoDerivative(op), None, None, label)
        else:
            local_grads = op.local(*[p.data for p in parents], data)
            _init(self, data, op, *_edges(op, parents, local_grads), label)

    # --- what the node recorded ---------------------------------------------------------------

    @property
    def label(self) -> str:
        """The name drawings show; '' (micrograd's default) for an unlabelled Value."""
        return self._label

    @label.setter
    def label(self, label: str) -> None:
        self._label = _checked_label(label, "Value.label")

    @property
    def op(self) -> str:
        """The primitive's name ('+', 'tanh', '**2', ...), or '' for a leaf."""
        return self._prim.name

    @property
    def primitive(self) -> Op:
        """The primitive that made this node (its entry of ``autograd.ops.OPS``, with its rules;
        ``ops.LEAF`` for a leaf; ``.custom`` for an op written micrograd's way)."""
        return self._prim

    @property
    def _op(self) -> Op:
        """micrograd's name: the op as micrograd spells it ('+', '*', '**2', 'ReLU', ...; '' for a leaf)."""
        return self._prim

    @_op.setter
    def _op(self, value: object) -> None:
        raise AttributeError(
            f"a Value's _op is fixed when it is made (got {value!r}): chainrule takes each node's "
            f"derivatives from the primitive that made it. {_ADD_A_PRIMITIVE}"
        )

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
    def local_grads(self) -> tuple[Any, ...]:
        """d self / d parent for each parent, in the order of ``parents`` (for an op written micrograd's
        way, as its ``_backward`` closure gives them now: see ``measured_local_grads``)."""
        a, b = self._a, self._b
        if a is None:
            return ()
        if type(a) is tuple:
            if self._prim.custom:
                return measured_local_grads(self)
            return self._local_a
        return (self._local_a,) if b is None else (self._local_a, self._local_b)

    @property
    def _prev(self) -> frozenset[Value]:
        """micrograd's name: the set of parents (read-only)."""
        return frozenset(self.parents)

    @property
    def _backward(self) -> Callable[[], None]:
        """micrograd's name for this node's step of the chain rule, to call: each parent's ``grad`` +=
        local derivative * this node's ``grad`` (``backward()`` does it for every node, in order)."""
        return self._local_a if self._prim.custom else self._chain_rule_step

    @_backward.setter
    def _backward(self, fn: Callable[[], None]) -> None:
        """An op written micrograd's way: ``out = Value(t, (x,), 'tanh')``, then ``out._backward =
        closure``. From then on this node's derivative is the closure: ``backward()`` runs it in its turn
        (it adds to the parents' ``.grad``, as in micrograd), drawings show the local derivatives it
        gives, and the batch tape refuses the node (it cannot replay Python code for a whole batch)."""
        if not callable(fn):
            raise TypeError(f"Value._backward must be a function of no arguments, got {type(fn).__name__}")
        if self._a is None:
            if _get_mode() & NO_GRAD:
                return  # under no_grad no graph is recorded: there is nothing for the closure to do
            raise ValueError(
                f"Value._backward of a leaf ({self!r}): a leaf has no _children to pass a gradient to; "
                "build the node as Value(data, _children, _op) first"
            )
        parents = self.parents
        self._prim = self._prim if self._prim.custom else custom(str(self._prim), len(parents))
        self._a, self._local_a, self._b, self._local_b = parents, fn, None, None

    def _chain_rule_step(self) -> None:
        g = self.grad
        for p, local in zip(self.parents, self.local_grads):
            p.grad += local * g

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in (("op", self.op), ("label", self.label)) if v)
        return f"Value(data={self.data!r}, grad={self.grad!r}{extra})"

    def __float__(self) -> float:
        return self.data

    # --- arithmetic: each operator applies one entry of the table of primitives (ops.OPS) ------
    # (_binary and _unary, above the class, build these methods; "r" forms put a plain number
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
        return _power_method(_as_float(other, "**"))(self)

    __neg__ = _unary(OPS["neg"])
    __abs__ = abs = _unary(OPS["abs"])
    exp = _unary(OPS["exp"])
    log = _unary(OPS["log"])
    tanh = _unary(OPS["tanh"])
    sigmoid = _unary(OPS["sigmoid"])
    relu = _unary(OPS["relu"])

    # --- copies and pickles: a Value comes with the graph it was computed from ---------------------

    def __copy__(self) -> Value:
        """A new node with the same number, gradient and parents (the parents are shared; a
        ``_backward`` closure is rebound to the new node, so it reads the copy's gradient)."""
        new = _new(type(self))
        for slot in _SLOTS:
            setattr(new, slot, getattr(self, slot))
        new.__dict__.update(self.__dict__)
        if self._prim.custom:
            memo: dict[int, Any] = {id(p): p for p in self._a}
            memo[id(self)], memo[id(memo)] = new, []
            new._local_a = _copy_closure(self._local_a, memo)
        return new

    def __deepcopy__(self, memo: dict[int, Any]) -> Value:
        """A copy of this Value and of the whole graph below it (without recursion, so a deep graph
        works); nodes shared with what was already copied in the same ``deepcopy`` stay shared, and a
        ``_backward`` closure is copied with its captured nodes mapped to their copies."""
        keep = memo.setdefault(id(memo), [])  # copy.deepcopy's keep-alive list
        for v in reversed(topological_order(self)):  # each node after its parents
            if id(v) not in memo:
                _copy_node(v, memo)
                keep.append(v)
        return memo[id(self)]

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        """Pickled with its graph. Pickle recurses into a node's parents; so that a graph deeper than
        Python's recursion limit pickles too, the first node pickled lists its ancestors first, parents
        before children, and each of them is then pickled with its parents already stored."""
        if self in _ORDERED:  # an ancestor in such a list: its parents are stored already
            _ORDERED.discard(self)
            _refuse_to_pickle(self)
            prelude: tuple[Value, ...] = ()
        else:
            order = topological_order(self)
            for v in order:  # before anything is marked: a refusal leaves no marks behind
                _refuse_to_pickle(v)
            prelude = tuple(v for v in reversed(order[1:]) if v._a is not None)
            _ORDERED.update(prelude)
        state = tuple(getattr(self, slot) for slot in _SLOTS)
        return (_unpickle, (prelude, type(self), state, self.__dict__ or None, _Unmark(prelude)))

    # --- gradients ------------------------------------------------------------------------------

    def backward(self) -> None:
        """Fill ``.grad`` of every node this Value depends on with d self / d node.

        Gradients of leaves (Values with no parents, such as weights) accumulate across calls,
        as in PyTorch: call ``zero_grad`` between steps. Gradients of computed nodes are
        recomputed by each call, so two calls give exactly twice the leaf gradients.
        """
        _backward(self)


_SLOTS = ("data", "grad", "_label", "scope", "_prim", "_a", "_local_a", "_b", "_local_b")
_ORDERED: weakref.WeakSet[Value] = weakref.WeakSet()  # see Value.__reduce_ex__ (either way, same result)


def _refuse_to_pickle(v: Value) -> None:
    if v._prim.custom and not isinstance(v._local_a, NoDerivative):
        raise TypeError(
            f"cannot pickle the custom {v.op!r} node: its derivative is a _backward closure, and pickle "
            "stores a function by its name only (copy.deepcopy copies it, closure included); to pickle "
            "the graph, build the op from primitives"
        )


class _Unmark:
    """Pickled last with a node: by then its listed ancestors are all stored (or were already, when
    another node listed them first), so their marks go; it unpickles as ``()``."""

    def __init__(self, nodes: tuple[Value, ...]) -> None:
        self.nodes = nodes

    def __reduce__(self) -> tuple[Any, ...]:
        _ORDERED.difference_update(self.nodes)
        return (tuple, ())


def _unpickle(
    prelude: tuple[Value, ...], cls: type[Value], state: tuple, extra: dict | None, _done: tuple = ()
) -> Value:
    v = _new(cls)
    for slot, x in zip(_SLOTS, state):
        setattr(v, slot, x)
    if extra:
        v.__dict__.update(extra)
    return v


def _copy_node(v: Value, memo: dict[int, Any]) -> None:
    """``v`` copied into ``memo``, its parents being there already."""
    new = memo[id(v)] = _new(type(v))  # first: v's own closure refers to v
    new.data, new.grad, new._label, new._prim = v.data, v.grad, v._label, v._prim
    new.scope = copy.deepcopy(v.scope, memo)
    a, b = v._a, v._b
    new._a = None if a is None else tuple(memo[id(p)] for p in a) if type(a) is tuple else memo[id(a)]
    new._b = None if b is None else memo[id(b)]
    new._local_a = _copy_closure(v._local_a, memo) if v._prim.custom else v._local_a
    new._local_b = v._local_b
    if v.__dict__:
        new.__dict__.update(copy.deepcopy(v.__dict__, memo))


def _copy_closure(fn: Any, memo: dict[int, Any]) -> Any:
    """A ``_backward`` closure for the copied graph: the same code, with every captured object (the
    node, its parents, numbers) replaced by its copy; other callables are deep-copied as usual."""
    if not isinstance(fn, types.FunctionType) or not fn.__closure__:
        return copy.deepcopy(fn, memo)
    cells = []
    for cell in fn.__closure__:
        if id(cell) not in memo:
            try:
                memo[id(cell)] = types.CellType(copy.deepcopy(cell.cell_contents, memo))
            except ValueError:  # an empty cell (a name not yet bound where the closure was made)
                memo[id(cell)] = types.CellType()
            memo[id(memo)].append(cell)
        cells.append(memo[id(cell)])
    new = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, tuple(cells))
    new.__kwdefaults__, new.__qualname__ = fn.__kwdefaults__, fn.__qualname__
    new.__dict__.update(fn.__dict__)
    return new


class NoDerivative:
    """The ``_backward`` of a node made as ``Value(data, _children, name)`` with a ``name`` that is
    not a primitive, until its code assigns a closure: calling it says what is missing."""

    def __init__(self, op: Op) -> None:
        self.op = op

    def __call__(self) -> None:
        raise ValueError(
            f"backward: the {self.op.name!r} node has no derivative: {self.op.name!r} is not a primitive "
            f"({known_names()}) and no _backward closure was assigned to it; assign one as micrograd "
            "does (out._backward = _backward), or build the op from primitives"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (NoDerivative, (self.op,))


def measured_local_grads(v: Value) -> tuple[float, ...]:
    """A custom op's local derivatives, as its ``_backward`` closure gives them now: the closure is
    run with this node's ``grad`` 1 and its parents' 0, and what it added to each parent is read (a
    parent listed twice shares its total evenly between its two edges), then every ``grad`` is put
    back. (A closure that reads ``.data`` when it runs measures at today's numbers, as it would
    compute.)"""
    parents: tuple[Value, ...] = v._a
    unique = list(dict.fromkeys(parents))
    with GRAD_SLOTS:
        saved = [(p, p.grad) for p in unique] + [(v, v.grad)]
        try:
            for p in unique:
                p.grad = 0.0
            v.grad = 1.0
            v._local_a()
            totals = {p: float(p.grad) for p in unique}
        finally:
            for node, g in saved:
                node.grad = g
    uses = Counter(parents)
    return tuple(totals[p] / uses[p] for p in parents)


def _micrograd_op(children: Any, op: Any) -> tuple[Op, tuple[Value, ...]]:
    """micrograd's ``Value(data, _children, _op)``: the primitive named ``op`` and the parents, or a
    clear error (never the tuple taken for a label)."""
    hint = "(micrograd's shape: Value(data, _children, _op, label); name a Value with label=)"
    if not isinstance(op, str):
        raise TypeError(f"Value(): _op must be a string such as '+', got {type(op).__name__} {op!r}")
    if isinstance(children, str | bytes) or not isinstance(children, Iterable):
        children = [children]
    parents = tuple(children)
    for i, p in enumerate(parents):
        if not isinstance(p, Value):
            raise TypeError(f"Value(): _children[{i}] must be a Value, got {type(p).__name__} {p!r} {hint}")
    if not parents:
        raise ValueError(f"Value(): _op={op!r} given without the _children it was computed from")
    if not op:
        raise ValueError(
            "Value(): _children given without _op: name the primitive that computed data from them "
            "('+', '*', 'tanh', '**2', ...); to name a Value, use label="
        )
    try:
        return op_for(op, len(parents)), parents
    except ValueError:  # not a primitive: an op written micrograd's way, whose closure comes next
        return custom(op, len(parents)), parents


def sum(values: Iterable[Any]) -> Value:
    """One n-ary node for v1 + v2 + ... + vn: a shallower graph, a clearer drawing, a faster backward."""
    return _nary(OPS["sum"], values)


def weighted_sum(inputs: Sequence[Any], weights: Sequence[Any], terms: Sequence[Any] = ()) -> Value:
    """``Σ inputs[i]·weights[i] + Σ terms``, as a neuron computes it: eagerly the products
    ``inputs[i] * weights[i]`` and one sum node over them and the terms (the graph drawings show).
    While the batch tape traces traced inputs with weights and terms given from outside (parameters,
    numbers), one traced node (``ops.weighted_sum_op``) that the tape runs as a row of a matrix
    product: a layer of n inputs makes one node per neuron, not n + 1. Otherwise the products and
    the sum, as eagerly."""
    if len(inputs) != len(weights):
        raise ValueError(f"weighted_sum(): {len(inputs)} inputs but {len(weights)} weights")
    m = _get_mode()
    traced = m & TRACING and not m & NO_GRAD and inputs and all(type(x) is Traced for x in inputs)
    if traced and not any(type(w) is Traced for w in (*weights, *terms)):  # traced inputs, given weights
        parents = tuple(_lift(x, OPS["*"]) for x in (*inputs, *weights, *terms))
        return _traced(weighted_sum_op(len(inputs)), parents)
    return sum([x * w for x, w in zip(inputs, weights)] + list(terms))


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
    if _get_mode():  # before any .data: a traced node has none
        return _record(op, xs)
    data = [x.data for x in xs]
    out = op.forward(*data)
    if out != out:
        _refuse_nan(op, data)
    return _init(_new(Value), out, op, xs, op.local(*data, out), None, None)


# --- traced nodes: the graph of one example as the batch tape records it -------------------------------

_AUTOGRAD = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _refuse_at(depth: int, what: str, why: str = "") -> None:
    """Raise NotTraceable for ``what``, naming the first line of code outside autograd that led here
    (frames are read for the message only; the refusal itself is decided by the node being traced)."""
    frame = sys._getframe(depth + 1)
    while frame.f_back is not None and os.path.abspath(frame.f_code.co_filename).startswith(_AUTOGRAD):
        frame = frame.f_back
    code, line = frame.f_code, frame.f_lineno
    where = f"{os.path.basename(code.co_filename)}:{line} ({code.co_name})"
    raise NotTraceable(
        f"{what} at {where}{f', {why}' if why else ''}: while the batch tape traces one example's graph, "
        "a node stands for every example at once and has no number, so code cannot read one from it, "
        "branch on it or index with it (the tape would replay that one example's choice for all). "
        "Build the result with the Values' own arithmetic, or train with engine='eager'",
        code.co_filename,
        line,
    )


class Traced(Value):
    """A node built while the batch tape traces (``Tape.trace``): an input, a target, or anything
    computed inside the trace. It stands for every example at once, so it has no number: reading
    one (``.data``, ``float()``, ``int()``, ``round()``, a format), testing its truth, comparing it
    with a number or using it as an index raises ``NotTraceable`` naming the file and line. That is
    how a branch on the data is caught where it happens, as JAX's tracers do. Its arithmetic
    builds more traced nodes; compared with a Value, ``==`` is identity, as for every Value."""

    __slots__ = ()

    def _what(self) -> str:
        role = self.__dict__.get("role")
        if role:
            return role
        return f"the traced {self.op!r} node" + (f" {self.label!r}" if self.label else "")

    @property
    def data(self) -> float:
        _refuse_at(1, f"reading .data of {self._what()}")
        raise AssertionError  # pragma: no cover

    @data.setter
    def data(self, value: float) -> None:
        _refuse_at(1, f"setting .data of {self._what()}")

    @property
    def local_grads(self) -> tuple[Any, ...]:
        _refuse_at(1, f"reading .local_grads of {self._what()}")
        raise AssertionError  # pragma: no cover

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Value):
            return self is other
        _refuse_at(1, f"comparing {self._what()} with == {other!r:.40}")
        raise AssertionError  # pragma: no cover

    def __ne__(self, other: object) -> bool:
        if isinstance(other, Value):
            return self is not other
        _refuse_at(1, f"comparing {self._what()} with != {other!r:.40}")
        raise AssertionError  # pragma: no cover

    __hash__ = Value.__hash__  # identity, as for every Value (the library keys dicts by nodes)

    def __repr__(self) -> str:
        return f"Traced({self._what()})"

    def __format__(self, spec: str) -> str:
        if spec:
            _refuse_at(1, f"formatting {self._what()} as {spec!r}")
        return repr(self)

    def backward(self) -> None:
        _refuse_at(1, f"backward() of {self._what()}", "the tape runs backward for the whole batch")

    def __copy__(self) -> Value:
        _refuse_at(1, f"copying {self._what()}")
        raise AssertionError  # pragma: no cover

    def __deepcopy__(self, memo: dict[int, Any]) -> Value:
        _refuse_at(1, f"copying {self._what()}")
        raise AssertionError  # pragma: no cover

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        _refuse_at(1, f"pickling {self._what()}")
        raise AssertionError  # pragma: no cover


def _refusal(name: str, what: str) -> Callable[..., Any]:
    def method(self: Traced, *args: Any) -> Any:
        other = f" {args[0]!r:.40}" if args else ""
        _refuse_at(1, f"{what.format(self._what())}{other}")

    method.__name__ = method.__qualname__ = name
    return method


for _name, _what in (
    ("__float__", "float() of {}"),
    ("__int__", "int() of {}"),
    ("__index__", "using {} as an index"),
    ("__complex__", "complex() of {}"),
    ("__bool__", "testing the truth of {} (if, and, or, not)"),
    ("__round__", "rounding {}"),
    ("__trunc__", "truncating {}"),
    ("__floor__", "the floor of {}"),
    ("__ceil__", "the ceiling of {}"),
    ("__lt__", "comparing {} with <"),
    ("__le__", "comparing {} with <="),
    ("__gt__", "comparing {} with >"),
    ("__ge__", "comparing {} with >="),
):
    setattr(Traced, _name, _refusal(_name, _what))


def _traced(op: Op, parents: tuple[Value, ...]) -> Traced:
    """A computed node inside a trace: its op and parents, no number and no local derivatives."""
    v = _new(Traced)
    v.grad = 0.0
    v._label = ""
    v.scope = None
    if op.arity == -1:
        v._prim, v._a, v._local_a, v._b, v._local_b = op, parents, None, None, None
    else:
        v._prim, v._a, v._local_a = op, parents[0], None
        v._b, v._local_b = (parents[1], None) if len(parents) == 2 else (None, None)
    return v


def traced_leaf(role: str, label: str) -> Traced:
    """An input or target of a traced graph: ``role`` says which ("the input x[0]")."""
    v = _new(Traced)
    v.grad, v._label, v.scope = 0.0, label, None
    v._prim, v._a, v._local_a, v._b, v._local_b = LEAF, None, None, None, None
    v.__dict__["role"] = role
    return v
