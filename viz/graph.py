"""The graph walk: a root Value becomes plain node and edge records, apart from any drawing.

Node ids are positions in the forward order (inputs first, the root last), computed from the
graph's structure alone, so two graphs of the same shape (successive training steps) get the same
ids. The walk visits a node's inputs in their order, so o1's subgraph gets lower ids than o2's and
neuron i's than neuron i+1's. There is one edge per use: ``a + a`` gives two edges from ``a`` to the sum.

``Graph.name`` is the one name of a node that ``explain``, the drawing and the step captions share:
its label; else, for a node an ``nn`` module made, its role there (``w2``, ``b``); else its
expression when its inputs are named and it is short (``w1[0][0]·x1``, ``(0.4 - o1)²``); else its
op when that is unique in its place (``layer 1 › neuron 3 › mul``); else its op and id (``mul12``).
``Graph.place`` puts the module path before it, parts joined by ``PLACE`` (`` › ``): a separator that
is no operator, so ``·`` only ever means multiplication. Places come from ``nn``'s ``Scope`` record
(kinds and indices); a plain string scope set by hand is shown as it is, never parsed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import autograd
from autograd import Value
from nn.module import Part, Scope

OP_WORDS = {"+": "add", "-": "sub", "*": "mul", "/": "div", "**": "pow"}
ACCUMULATED = (
    "note: the leaves' .grad hold more than one backward's gradients (accumulated); the edges show "
    "one backward's: call zero_grad() before backward()"
)
SURROGATE = re.compile(r"[\ud800-\udfff]")  # lone surrogates: unencodable
RESET = "note: the leaves' .grad were reset (zero_grad) after backward(); the edges show that backward's"
PLACE = " › "  # between the parts of a place: "layer 1 › neuron 3 › w2"
SHORT = 20  # an expression name longer than this is not a name: the op and place name the node
INFIX = {"+": " + ", "-": " - ", "*": "·", "/": " / ", "sum": " + "}
CALLS = {
    "exp": "exp",
    "log": "log",
    "tanh": "tanh",
    "sigmoid": "σ",
    "relu": "relu",
    "abs": "abs",
    "max": "max",
}
SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
Operand = tuple[str, bool]  # how a node reads inside another's expression: (text, needs no parentheses)


@dataclass(frozen=True, slots=True)
class Node:
    id: int
    label: str | None
    op: str  # '' for a leaf
    data: float
    grad: float
    scope: str | None  # which module made it: nn's Scope record (reads "layers.0.neurons.1"), or None
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
    _names: list[str] | None = field(repr=False, default=None, compare=False)

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
        """The node's name as drawn (see the module's docstring): ``w1[0][0]·x1``, ``mul12``."""
        if self._names is None:
            self._names = self._make_names()
        return self._names[i]

    def place(self, i: int) -> str:
        """The name with the module it belongs to: ``layer 1 › neuron 2 › w0``."""
        return PLACE.join([*scope_titles(self.nodes[i].scope), self.name(i)])

    def _make_names(self) -> list[str]:
        """Every node's name, in forward order (so a node's inputs are named before it), unique in
        its place: a name already given there falls back to the op and id."""
        titles: dict[int, tuple[str, ...]] = {}  # id(scope) -> its titles (nodes share scopes)
        for n in self.nodes:
            if id(n.scope) not in titles:
                titles[id(n.scope)] = tuple(scope_titles(n.scope))
        where = [titles[id(n.scope)] for n in self.nodes]
        taken = {(where[n.id], printable(n.label)) for n in self.nodes if n.label}
        names: list[str] = []
        operand: list[Operand | None] = []  # how a node reads in another's expression (None: it cannot)
        for node in self.nodes:
            i = node.id
            inner: Operand | None
            if node.label:
                name = printable(node.label)
                names.append(name)
                operand.append((name, " " not in name))
                continue
            if i == self.root:
                name, inner = "root", None
            elif self.is_constant(i):  # a constant reads as its number: 0.4 - o1
                name, inner = f"const{i}", (f"{node.data:.4g}", node.data >= 0)
            else:
                # an input from another module would read as a name it does not have here
                args = [
                    operand[e.parent] if where[e.parent] in ((), where[i]) else None
                    for e in self.edges_into(i)
                ]
                found, inner = self._candidate(node, args, bool(where[i]))
                if found is None or (where[i], found) in taken:
                    found, inner = (f"leaf{i}" if node.is_leaf else f"{op_word(node.op)}{i}"), None
                name = found
                taken.add((where[i], name))
            names.append(name)
            operand.append(inner)
        return names

    def _candidate(
        self, node: Node, args: list[Operand | None], placed: bool
    ) -> tuple[str | None, Operand | None]:
        """(name, how it reads as an operand) for an unlabelled node: its role in an ``nn`` module,
        else its short expression of ``args`` (its inputs, as they read), else (with a place to tell
        it apart) its op; (None, None): none of these."""
        record = node.scope if isinstance(node.scope, Scope) else None
        if record is not None and record.role is not None:
            kind, k = record.role
            role = {"weight": f"w{k}", "bias": "b", "input": f"w{k}·x{k}", "sum": "Σ"}.get(kind)
            if role:
                return role, (role, kind != "input")
        named = [a for a in args if a is not None]
        if not node.is_leaf and args and len(named) == len(args):
            text = expression(node.op, named)
            if text is not None and len(text) <= SHORT:
                return text, (text, node.op in CALLS or node.op.startswith("**"))
        return (op_word(node.op), None) if placed and not node.is_leaf else (None, None)

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
    """A sort key that puts a later module first: layer 2's nodes before layer 1's (the first
    numbered part of the scope record), and nodes made by no module (inputs, the loss) last."""
    if not scope:
        return (1, 0)
    parts = scope.parts if isinstance(scope, Scope) else ()
    return (0, -next((k for _, k in parts if k is not None), 0))


def op_word(op: str) -> str:
    """An op as a word that can start a name: ``*`` -> mul, ``**2`` -> pow."""
    return OP_WORDS.get(op) or ("pow" if op.startswith("**") else op)


def expression(op: str, args: list[Operand]) -> str | None:
    """The node written out from its inputs (each: its text, and whether it needs no parentheses
    inside an operator): ``w1·x1``, ``(0.4 - o1)²``, ``exp(a·b)``; None for an op with no such form."""
    wrapped = [text if atomic else f"({text})" for text, atomic in args]
    if op in INFIX and (len(args) == 2 or op == "sum"):
        return INFIX[op].join(wrapped)
    if op in CALLS:
        return f"{CALLS[op]}({', '.join(text for text, _ in args)})"
    if op == "neg":
        return f"-{wrapped[0]}"
    if op.startswith("**") and len(args) == 1:
        power = op[2:]
        return wrapped[0] + (power.translate(SUPERSCRIPT) if power.lstrip("-").isdigit() else f"**{power}")
    if op == "**":
        return "**".join(wrapped)
    return None


def part_title(part: Part) -> str:
    """("layer", 1) -> "layer 1"; a part with no index is its name."""
    kind, index = part
    return printable(kind) if index is None else f"{printable(kind)} {index}"


def scope_titles(scope: str | None) -> list[str]:
    """A scope record's path as titles, ``["layer 1", "neuron 2"]``; a plain string scope (set by
    hand) is one title, shown as it is."""
    if isinstance(scope, Scope):
        return [part_title(p) for p in scope.parts]
    return [printable(scope)] if scope else []


def place_title(scope: str | None) -> str:
    """The place a scope names, ``layer 1 › neuron 2`` ("" for none)."""
    return PLACE.join(scope_titles(scope))


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
