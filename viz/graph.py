"""The graph walk: a root Value becomes plain node and edge records, apart from any drawing.

Node ids are positions in the forward order (inputs first, the root last), computed from the
graph's structure alone, so two graphs of the same shape (successive training steps) get the same
ids. The walk visits a node's inputs in their order, so o1's subgraph gets lower ids than o2's and
neuron i's than neuron i+1's. There is one edge per use: ``a + a`` gives two edges from ``a`` to the sum.

``node_name`` is the one name of a node that ``explain``, the drawing and the step captions share.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import autograd
from autograd import Value

OP_WORDS = {"+": "add", "-": "sub", "*": "mul", "/": "div", "**": "pow"}
ACCUMULATED = (
    "note: the leaves' .grad hold more than one backward's gradients (accumulated); the edges show "
    "one backward's: call zero_grad() before backward()"
)
SURROGATE = re.compile(r"[\ud800-\udfff]")  # lone surrogates: unencodable
RESET = "note: the leaves' .grad were reset (zero_grad) after backward(); the edges show that backward's"


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
    _into: list[list[Edge]] | None = field(repr=False, default=None, compare=False)
    _stale: dict[int, float] | None = field(repr=False, default=None, compare=False)

    def stale(self) -> dict[int, float]:
        """Leaves whose ``.grad`` is not what their edges carry back (id -> their ``.grad``): after a
        second ``backward()`` without ``zero_grad()`` (accumulated), or a ``zero_grad()`` after it.
        Checked only when the root is the output ``backward()`` was last called on."""
        if self._stale is None:
            self._stale = {}
            last = autograd.last_backward_root()
            if self.grads_computed and self.values and self.values[self.root] is last:
                carried: list[list[float]] = [[] for _ in self.nodes]
                for e in self.edges:
                    carried[e.parent].append(e.carried)
                for node in self.nodes:
                    own, parts = self.values[node.id].grad, carried[node.id]
                    tol = 1e-9 * math.fsum(abs(c) for c in parts) + 1e-300
                    if node.is_leaf and parts and abs(own - math.fsum(parts)) > tol:
                        self._stale[node.id] = own
        return self._stale

    def grad_note(self, ids: object = None) -> str:
        """What the drawing or ``explain`` must say when some leaf ``.grad`` (of ``ids``, or any)
        contradicts the edges, naming the cause; else ""."""
        stale = {i: g for i, g in self.stale().items() if ids is None or i in ids}  # type: ignore[operator]
        if not stale:
            return ""
        return RESET if all(g == 0 for g in stale.values()) else ACCUMULATED

    def is_constant(self, i: int) -> bool:
        """A leaf that is neither labelled nor made by a module: a target, a literal factor."""
        node = self.nodes[i]
        return node.is_leaf and not node.label and not node.scope

    def name(self, i: int) -> str:
        """The node's label; else "root" for the root; else its op and id (``mul12``), as drawn."""
        node = self.nodes[i]
        if node.label:
            return printable(node.label)
        if i == self.root:
            return "root"
        if node.is_leaf:
            return f"const{i}" if self.is_constant(i) else f"leaf{i}"
        return f"{op_word(node.op)}{i}"

    def place(self, i: int) -> str:
        """The name with the module it belongs to: ``layer 1 · neuron 2 · w0``."""
        node = self.nodes[i]
        return " · ".join([*scope_titles(node.scope), self.name(i)])

    def edges_into(self, i: int) -> list[Edge]:
        """The edges into node ``i``, in slot order."""
        if self._into is None:
            self._into = [[] for _ in self.nodes]
            for e in self.edges:
                self._into[e.child].append(e)
        return self._into[i]

    def uses(self) -> list[list[Edge]]:
        """For each node id, the edges leaving it (one per use by a child)."""
        out: list[list[Edge]] = [[] for _ in self.nodes]
        for e in self.edges:
            out[e.parent].append(e)
        return out


def printable(text: str) -> str:
    """``text`` with each lone surrogate (which no file or renderer can encode) written as its
    escape, ``\\ud800``: a label with one is drawn and captioned, shown as Python writes it."""
    return SURROGATE.sub(lambda m: f"\\u{ord(m[0]):04x}", text)


def module_rank(scope: str | None) -> tuple[int, int]:
    """A sort key that puts a later module first: ``layers.2...`` before ``layers.1...``, and
    nodes made by no module (inputs, the loss) after those made by one."""
    if not scope:
        return (1, 0)
    index = next((int(p) for p in scope.split(".") if p.isdigit()), 0)
    return (0, -index)


def op_word(op: str) -> str:
    """An op as a word that can start a name: ``*`` -> mul, ``**2`` -> pow."""
    return OP_WORDS.get(op) or ("pow" if op.startswith("**") else op)


def scope_titles(scope: str | None) -> list[str]:
    """ "layers.1.neurons.2" -> ["layer 1", "neuron 2"] (one title per name.index pair)."""
    parts = printable(scope).split(".") if scope else []
    titles = []
    for k in range(0, len(parts) - 1, 2):
        name, idx = parts[k], parts[k + 1]
        titles.append(f"{name[:-1] if name.endswith('s') else name} {idx}")
    if len(parts) % 2:
        titles.append(parts[-1])
    return titles


def forward_order(root: Value) -> list[Value]:
    """Every node below ``root``, each after its inputs, inputs visited in slot order (no recursion)."""
    seen = {root}
    order: list[Value] = []
    stack = [(root, iter(root.parents))]
    while stack:
        node, parents = stack[-1]
        for p in parents:
            if p not in seen:
                seen.add(p)
                stack.append((p, iter(p.parents)))
                break
        else:
            stack.pop()
            order.append(node)
    return order


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
    order = forward_order(root)  # inputs first, root last: ids read in the direction of the computation
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
