"""The backward pass's public functions: ``backward``, ``gradients`` and ``grad`` check what they
are given and run the chain rule of ``graph.py`` (the walk and one term per edge; nothing recurses,
so a graph a million nodes deep works).
"""

from __future__ import annotations

from collections.abc import Iterable

from . import graph
from .errors import NotTraceable
from .graph import last_backward_root, topological_order
from .mode import enable_grad
from .value import Traced, Value

__all__ = ["backward", "grad", "gradients", "last_backward_root", "topological_order", "zero_grad"]


def gradients(root: Value) -> dict[Value, float]:
    """d root / d node for every node ``root`` depends on, in a dict; every ``.grad`` is left as it was."""
    _check_root("gradients", root)
    return graph.gradients(topological_order(root), 1.0)


def backward(root: Value) -> None:
    """Set ``node.grad`` = d root / d node for every node root depends on (see ``Value.backward``)."""
    _check_root("backward", root)
    graph.backward(root)


def grad(output: Value, inputs: Iterable[Value] | Value, create_graph: bool = False) -> list[Value]:
    """d output / d input for each input, in order, without touching any ``.grad``.

    With ``create_graph=True`` the results are Values in a new graph built from the same
    primitives, so they can be differentiated again (second derivatives, Hessians, Newton's method).
    """
    _check_root("grad", output)
    inputs = [inputs] if isinstance(inputs, Value) else list(inputs)
    for i, x in enumerate(inputs):
        if not isinstance(x, Value):
            raise TypeError(f"grad(): inputs[{i}] must be a Value, got {type(x).__name__} {x!r}")
    order = topological_order(output)
    if not create_graph:
        floats = graph.gradients(order, 1.0)
        return [Value(floats.get(x, 0.0)) for x in inputs]
    with enable_grad():
        values = graph.gradients(order, Value(1.0))
    return [values.get(x) or Value(0.0) for x in inputs]


def _check_root(where: str, x: object) -> None:
    """A Value to differentiate, else a TypeError; a traced node (no numbers) is NotTraceable."""
    if type(x) is Traced:
        raise NotTraceable(
            f"{where}() of {x!r}: a node built while the batch tape traces has no numbers to "
            "differentiate; the tape runs backward for the whole batch (Tape.backward)"
        )
    if not isinstance(x, Value):
        message = f"{where}(): expected a Value, got {type(x).__name__}"
        if isinstance(x, list | tuple):
            message += "; for several outputs, backpropagate from their sum: autograd.sum(outputs)"
        raise TypeError(message)


def zero_grad(values: Iterable[Value]) -> None:
    """Reset ``.grad`` to 0 for each Value (leaf gradients accumulate otherwise)."""
    for v in values:
        v.grad = 0.0
