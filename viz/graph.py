"""The graph walk: a root Value becomes plain node and edge records, apart from any drawing.

Node ids are positions in the forward order (inputs first, the root last), computed from the
graph's structure alone, so two graphs of the same shape (successive training steps) get the same
ids. There is one edge per use: ``a + a`` gives two edges from ``a`` to the sum.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import autograd
from autograd import Value, topological_order


@dataclass(frozen=True, slots=True)
class Node:
    id: int
    label: str | None
    op: str  # '' for a leaf
    data: float
    grad: float
    scope: str | None  # which module made it, e.g. "layers.0.neurons.1"
    is_leaf: bool


@dataclass(frozen=True, slots=True)
class Edge:
    parent: int
    child: int
    local: float  # d child / d parent, recorded at forward time
    carried: float  # the gradient this edge carries back: child.grad * local
    slot: int  # which input of the child this is (0, 1, ...)


@dataclass
class Graph:
    nodes: list[Node]
    edges: list[Edge]
    root: int  # id of the root node
    grads_computed: bool  # False before backward(): then every grad is a placeholder 0
    values: list[Value] = field(repr=False, default_factory=list)  # values[i] is node i

    def uses(self) -> list[list[Edge]]:
        """For each node id, the edges leaving it (one per use by a child)."""
        out: list[list[Edge]] = [[] for _ in self.nodes]
        for e in self.edges:
            out[e.parent].append(e)
        return out


def gradients(root: Value) -> dict[Value, float]:
    """d root / d node for every node, computed afresh into a dict (no ``.grad`` is touched)."""
    return autograd.gradients(root)


def trace(root: Value, grads: Mapping[Value, float] | None = None) -> Graph:
    """Walk the graph below ``root`` (iteratively) into node and edge records.

    Gradients come from each Value's ``.grad``, or from ``grads`` when given. They count as
    computed when ``root.grad`` is not 0: ``backward()`` sets it to 1 (documented rule).
    """
    if not isinstance(root, Value):
        raise TypeError(f"trace(): root must be a Value, got {type(root).__name__}")
    order = topological_order(root)
    order.reverse()  # inputs first, root last: ids read in the direction of the computation
    index = {v: i for i, v in enumerate(order)}
    grad_of = grads.get if grads is not None else None
    nodes, edges = [], []
    for i, v in enumerate(order):
        g = float(grad_of(v, 0.0)) if grad_of else v.grad
        nodes.append(Node(i, v.label, v.op, v.data, g, v.scope, v.is_leaf))
        for slot, (p, local) in enumerate(zip(v.parents, v.local_grads)):
            edges.append(Edge(index[p], i, float(local), g * float(local), slot))
    computed = grads is not None or root.grad != 0
    return Graph(nodes, edges, len(order) - 1, computed, order)
