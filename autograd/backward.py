"""The backward pass: a topological order of the graph, then the chain rule once per edge.

Nothing here recurses, so a graph a million nodes deep works.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Iterable
from contextvars import ContextVar

from .mode import ANOMALY, AnomalyError, enable_grad, mode
from .value import Value


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
    stack: list[Value | None] = [root] if isinstance(root, Value) else list(root)
    pop, push, expand, emit = stack.pop, stack.append, expanded.add, post.append
    while stack:
        v = pop()
        if v is None:
            emit(pop())
            continue
        if v in expanded:
            continue
        expand(v)
        push(v)
        push(None)
        a = v._a
        if a is None:
            continue
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
    """Set ``node.grad`` = d root / d node for every node root depends on (see ``Value.backward``)."""
    _last_root.set(weakref.ref(root))
    order = topological_order(root)
    # Leaves accumulate across calls; computed nodes are recomputed. This call's contributions are
    # summed from zero and added to the old leaf gradient at the end, so that two calls give
    # exactly (not just nearly) twice the gradient.
    earlier = [(v, v.grad) for v in order if v._a is None and v.grad]
    for v in order:
        v.grad = 0.0
    root.grad = 1.0
    for v in order:
        a = v._a
        if a is None:
            continue
        g = v.grad
        if type(a) is tuple:
            for p, local in zip(a, v._ga):
                p.grad += local * g
        else:
            a.grad += v._ga * g
            b = v._b
            if b is not None:
                b.grad += v._gb * g
    for v, g in earlier:
        v.grad += g
    if mode.get() & ANOMALY:
        _check_gradients(order, {v: v.grad for v in order})


def grad(output: Value, inputs: Iterable[Value] | Value, create_graph: bool = False) -> list[Value]:
    """d output / d input for each input, in order, without touching any ``.grad``.

    With ``create_graph=True`` the results are Values in a new graph built from the same
    primitives, so they can be differentiated again (second derivatives, Hessians, Newton's method).
    """
    if not isinstance(output, Value):
        raise TypeError(f"grad(): output must be a Value, got {type(output).__name__}")
    inputs = [inputs] if isinstance(inputs, Value) else list(inputs)
    for i, x in enumerate(inputs):
        if not isinstance(x, Value):
            raise TypeError(f"grad(): inputs[{i}] must be a Value, got {type(x).__name__} {x!r}")
    order = topological_order(output)
    if create_graph:
        with enable_grad():
            grads = _accumulate(order, Value(1.0), lambda v: v._op.local(*v.parents, v))
        return [grads.get(x) or Value(0.0) for x in inputs]
    grads = _accumulate(order, 1.0, lambda v: v.local_grads)
    return [Value(grads.get(x, 0.0)) for x in inputs]


def _accumulate(order: list[Value], seed, local_grads) -> dict:
    """The chain rule over ``order`` into a dict (node -> gradient): floats, or Values when the
    local derivatives are Values (create_graph)."""
    grads = {order[0]: seed}
    for v in order:
        g = grads.get(v)
        if g is None or v._a is None:
            continue
        for p, local in zip(v.parents, local_grads(v)):
            term = g if type(local) is float and local == 1.0 else local * g
            grads[p] = grads[p] + term if p in grads else term
    if mode.get() & ANOMALY:
        _check_gradients(order, grads)
    return grads


def _check_gradients(order: list[Value], grads: dict) -> None:
    """Inside detect_anomaly(): raise at the first node (in backward order) whose gradient is not finite."""
    for v in order:
        g = grads.get(v)
        if g is not None and not math.isfinite(float(g)):
            consumers = [c for c in order if v in c.parents]
            made_by = ", ".join(sorted({c.op for c in consumers})) or "the seed"
            raise AnomalyError(
                f"backward: gradient {float(g)!r} of node {v!r}, passed back through {made_by} "
                "(NaN or infinity found by detect_anomaly)"
            )


def zero_grad(values: Iterable[Value]) -> None:
    """Reset ``.grad`` to 0 for each Value (leaf gradients accumulate otherwise)."""
    for v in values:
        v.grad = 0.0
