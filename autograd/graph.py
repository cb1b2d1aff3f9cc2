"""The graph walk and the chain rule: a topological order of the graph, then one term per edge.

This module reads a node through its slots (``_a``, ``_b``: the parents; ``_local_a``, ``_local_b``:
the local derivatives recorded at forward time, a tuple in ``_a`` and ``_local_a`` for an n-ary op)
and imports nothing of ``value.py``, which builds the nodes and imports this to differentiate them;
``backward.py`` holds the public functions (``backward``, ``grad``, ``gradients``) and their checks.
Nothing here recurses, so a graph a million nodes deep works.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Iterable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from .errors import AnomalyError, NaNError
from .mode import ANOMALY, GRAD_SLOTS, mode

if TYPE_CHECKING:
    from .value import Value


def raise_nan(message: str) -> None:
    """Raise the error for a NaN made from numbers that were not NaN (forward or backward): a
    NaNError (a ValueError), or inside ``detect_anomaly()`` its AnomalyError (a NaNError too)."""
    if mode.get() & ANOMALY:
        raise AnomalyError(message + " (found by detect_anomaly)")
    raise NaNError(message)


def topological_order(root: Value | Iterable[Value]) -> list[Value]:
    """Every node ``root`` depends on, root first, each node after all of its consumers.
    (Several roots may be given: every node any of them depends on, in the same kind of order.)

    This is the order in which gradients become final. It is a depth-first search with an
    explicit stack (no recursion): a node is pushed, then a ``None`` marker, then its parents;
    when the marker comes back off the stack, all of the node's ancestors are done and the node
    is emitted. Reversed, that post-order puts every node after its consumers.
    """
    expanded: set[Value] = set()
    post: list[Value] = []
    stack: list[Any] = list(root) if isinstance(root, Iterable) else [root]  # Values, None markers
    pop, push, expand, emit = stack.pop, stack.append, expanded.add, post.append
    while stack:
        v = pop()
        if v is None:
            emit(pop())
            continue
        if v in expanded:
            continue
        expand(v)
        a = v._a
        if a is None:  # a leaf has no ancestors: it is done at once
            emit(v)
            continue
        push(v)
        push(None)
        if type(a) is tuple:
            for p in a:
                if p not in expanded:
                    push(p)
        else:
            if a not in expanded:
                push(a)
            b = v._b
            if b is not None and b not in expanded:
                push(b)
    post.reverse()
    return post


_last_root: ContextVar[weakref.ref | None] = ContextVar("chainrule_last_backward_root", default=None)


def last_backward_root() -> Value | None:
    """The Value that ``backward()`` was last called on in this thread, while it is alive (the
    output that ``viz.explain`` explains gradients of, unless told otherwise)."""
    ref = _last_root.get()
    return None if ref is None else ref()


def backward(root: Value) -> None:
    """Set ``node.grad`` = d root / d node for every node root depends on (see ``Value.backward``;
    ``root`` is a Value, as ``backward.backward`` checks)."""
    _last_root.set(weakref.ref(root))
    order = topological_order(root)
    # Leaves accumulate across calls; computed nodes are recomputed. This call's contributions are
    # summed from zero and added to a leaf's old gradient at the end, so that two calls give
    # exactly (not just nearly) twice the gradient.
    with GRAD_SLOTS:
        earlier = []
        for v in order:  # one pass: note the old leaf gradients, and zero every gradient
            if v._a is None and v.grad:
                earlier.append((v, v.grad))
            v.grad = 0.0
        met = []
        try:
            chain_rule(order, 1.0)
        finally:
            for v, g in earlier:
                new = v.grad
                v.grad = new + g
                if v.grad != v.grad and new == new and g == g:  # inf + -inf: this call's met the earlier
                    met.append((v, new, g))
        for v, new, g in met:
            raise_nan(
                f"backward: the gradient of {describe(v)} is NaN: this call's {new!r} added to the "
                f"earlier {g!r} (leaf gradients accumulate: call zero_grad between steps)"
            )


def gradients(order: list[Value], seed: Any) -> dict[Value, Any]:
    """The chain rule's results as a dict, leaving every ``.grad`` as it was."""
    zero: Any = 0.0 if type(seed) is float else None  # None: no Value term yet (no 0.0 + term nodes)
    with GRAD_SLOTS:
        saved = [v.grad for v in order]
        for v in order:
            v.grad = zero
        try:
            chain_rule(order, seed)
            return {v: v.grad for v in order}
        finally:
            for v, g in zip(order, saved):
                v.grad = g


def chain_rule(order: list[Value], seed: Any) -> None:
    """The chain rule, one term per edge: set ``node.grad`` = d root / d node for every node in
    ``order`` (root first, each node before its parents), every ``.grad`` being zero on entry (0.0,
    or None for a Value seed). With a float seed, from the local derivatives recorded at forward
    time; with a Value seed (``create_graph``), from each op's rule run on Values, so the results
    form a graph of their own."""
    create_graph = type(seed) is not float  # a Value seed
    order[0].grad = seed
    for v in order:
        a = v._a
        if a is None:
            g = v.grad
            if g != g:  # NaN reaches every leaf below where it was made: only leaves need a look
                _search_nan(order, seed)  # (a Value gradient is never != itself)
                break
            continue
        g = v.grad
        if create_graph:
            if v._prim.custom:
                raise TypeError(
                    f"grad(create_graph=True) through the custom {v.op!r} node: its derivative is a "
                    "_backward closure that works on numbers, so it cannot build the graph of a "
                    "derivative; write the op with primitives (or as an entry of autograd.ops.OPS)"
                )
            for p, local in zip(v.parents, v._prim.local(*v.parents, v)):
                try:
                    term = local * g if local != 1.0 else g  # a Value local is never == 1.0: no 1 * g nodes
                    p.grad = term if p.grad is None else p.grad + term
                except ValueError as e:  # NaN refused by the op: say which gradient it was making
                    raise type(e)(f"backward: the gradient of {describe(p)} through {v.op}: {e}") from e
        elif type(a) is tuple:
            local_a = v._local_a
            if type(local_a) is tuple:
                for p, local in zip(a, local_a):
                    p.grad += local * g
            else:  # an op written micrograd's way: its _backward closure adds to its parents' .grad
                local_a()
        else:
            a.grad += v._local_a * g
            b = v._b
            if b is not None:
                b.grad += v._local_b * g
    if mode.get() & ANOMALY:
        check_gradients(order)


def _search_nan(order: list[Value], seed: float) -> None:
    """A leaf's gradient came out NaN: run the chain rule again, term by term, and raise at the first
    term that makes NaN from numbers that are not NaN, naming the op. A NaN that was there already (a
    NaN in ``.data``) is passed on, as the forward pass does; the gradients are then the chain rule's."""
    for v in order:
        v.grad = 0.0
    order[0].grad = seed
    for v in order:
        g = v.grad
        for p, local in zip(v.parents, v.local_grads):
            term = local * g
            total = p.grad + term
            if total != total and g == g and p.grad == p.grad:
                message = _nan_message(v, p, local, g, term)
                if message:
                    for u in order:  # a failed call leaves no partial gradients behind
                        u.grad = 0.0
                    raise_nan(message)
            p.grad = total


def _nan_message(v: Value, p: Value, local: float, g: float, term: float) -> str | None:
    """Why the edge v -> p made NaN, or None if it only passed on a NaN that v's inputs held."""
    where = f"backward: the gradient of {describe(p)} through {v.op}"
    if local != local:
        inputs = [x.data for x in v.parents]
        if any(x != x for x in inputs) or v.data != v.data:
            return None
        return (
            f"{where} is NaN: {v.op}'s local derivative at inputs {inputs} is NaN (recorded at forward time)"
        )
    if term != term:
        return f"{where} is NaN: local derivative {local!r} × gradient {g!r} (undefined; a value overflowed)"
    return (
        f"{where} is NaN: {term!r} added to the {p.grad!r} it had from another path "
        "(infinite gradients of opposite signs)"
    )


def describe(v: Value) -> str:
    name = f"{v.label!r}, " if v.label else ""
    return f"a leaf ({name}data={v.data!r})" if v.is_leaf else f"the {v.op!r} node ({name}data={v.data!r})"


def check_gradients(order: list[Value]) -> None:
    """Inside detect_anomaly(): raise at the first node (in backward order) whose gradient is not finite."""
    for v in order:
        g = v.grad
        if g is not None and not math.isfinite(float(g)):
            consumers = [c for c in order if v in c.parents]
            made_by = ", ".join(sorted({c.op for c in consumers})) or "the output's own gradient"
            raise AnomalyError(
                f"backward: gradient {float(g)!r} of node {v!r}, passed back through {made_by} "
                "(NaN or infinity found by detect_anomaly)"
            )
