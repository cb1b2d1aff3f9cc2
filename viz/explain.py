"""``explain(v)``: the chain-rule sum behind ``v.grad``, written out with its numbers.

Each use of ``v`` (each edge to a child) gives one term; the terms are summed. A term is a product
of factors between *named* nodes (nodes with a label, and the root): unlabelled intermediate
nodes are folded into the factor, so for w5 of the worked example one reads
``dE/do1 · do1/dnet_o1 · dnet_o1/dw5``. A node is named as the drawing names it, with its place in
the model (``Graph.place``: ``layer 0 › neuron 2 › Σ``; an unlabelled node by its expression,
``w1[0][0]·x1``, or its op), in parentheses when the name has spaces or signs. The first factor is
the gradient of the highest node reached (``levels`` factors at most, or up to a node used several
times, or the root).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from autograd import Value, last_backward_root

from .graph import Edge, Graph, gradients, place_title, trace
from .style import fmt

WRAP = 120  # a sum of several terms longer than this is written one term per line


@dataclass(frozen=True)
class Factor:
    top: str  # d top / d bottom
    bottom: str
    value: float


@dataclass(frozen=True)
class Term:
    factors: list[Factor]

    @property
    def product(self) -> float:
        return math.prod(f.value for f in self.factors)


@dataclass(frozen=True)
class Explanation:
    """The chain rule for d root / d value: ``terms`` summed give ``grad``."""

    name: str
    root: str
    grad: float
    terms: list[Term]
    precision: int = 4
    note: str = ""  # said under the sum, e.g. that value.grad holds more than one backward's gradients

    @property
    def total(self) -> float:
        return math.fsum(t.product for t in self.terms) if self.terms else 1.0  # no term: the root

    @property
    def lhs(self) -> str:
        """``dE_total/dh1``: what the sum is the value of."""
        return f"d{_d(self.root)}/d{_d(self.name)}"

    def value_first(self) -> list[str]:
        """The lines a learner reads first: the value, then the sum with its numbers, then the
        symbolic form, every ``=`` aligned (a long sum one term per line); the note last."""
        n = lambda x: fmt(x, self.precision)  # noqa: E731
        lhs, pad = self.lhs, " " * len(self.lhs)
        if not self.terms:
            return [f"{lhs} = 1 (the root itself)"]
        symbolic = [" · ".join(f"d{_d(f.top)}/d{_d(f.bottom)}" for f in t.factors) for t in self.terms]
        numeric = [" × ".join(n(f.value) for f in t.factors) for t in self.terms]
        products = [n(t.product) for t in self.terms]
        lines = [f"{lhs} = {n(self.total)}"]
        for row in (products if len(self.terms) > 1 else None, numeric, symbolic):
            if row is None:
                continue
            if len(lhs) + sum(len(t) + 3 for t in row) > WRAP:  # one term per line
                lines += [f"{pad} = {row[0]}", *(f"{pad} + {t}" for t in row[1:])]
            else:
                lines.append(f"{pad} = {' + '.join(row)}")
        return lines + ([self.note] if self.note else [])

    def __str__(self) -> str:
        n = lambda x: fmt(x, self.precision)  # noqa: E731
        lhs = self.lhs
        if not self.terms:
            return f"{lhs} = 1 (the root itself)"
        pad = " " * len(lhs)
        symbolic = [" · ".join(f"d{_d(f.top)}/d{_d(f.bottom)}" for f in t.factors) for t in self.terms]
        numeric = [" × ".join(n(f.value) for f in t.factors) for t in self.terms]
        if len(lhs) + 3 + sum(len(t) + 3 for t in symbolic) > WRAP:  # one term per line
            lines = [f"{lhs} = {symbolic[0]}", *(f"{pad} + {t}" for t in symbolic[1:])]
            lines += [f"{pad} = {numeric[0]}", *(f"{pad} + {t}" for t in numeric[1:])]
        else:
            lines = [f"{lhs} = {' + '.join(symbolic)}", f"{pad} = {' + '.join(numeric)}"]
        if len(self.terms) > 1 and any(len(t.factors) > 1 for t in self.terms):
            lines.append(f"{pad} = {' + '.join(n(t.product) for t in self.terms)}")
        lines.append(f"{pad} = {n(self.total)}")
        return "\n".join(lines + ([self.note] if self.note else []))

    def __repr__(self) -> str:
        return str(self)

    def _repr_latex_(self) -> str:
        n = lambda x: fmt(x, self.precision)  # noqa: E731

        def d(top: str, bottom: str) -> str:
            return rf"\frac{{\partial {_tex(top)}}}{{\partial {_tex(bottom)}}}"

        lhs = d(self.root, self.name)
        if not self.terms:
            return f"$${lhs} = 1$$"
        symbolic = " + ".join(r" \cdot ".join(d(f.top, f.bottom) for f in t.factors) for t in self.terms)
        numeric = " + ".join(r" \times ".join(n(f.value) for f in t.factors) for t in self.terms)
        return (
            rf"$$\begin{{aligned}}{lhs} &= {symbolic} \\ &= {numeric} \\ &= {n(self.total)}\end{{aligned}}$$"
        )


def _d(name: str) -> str:
    """A name after "d": in parentheses when it has spaces or signs (``d(layer 0 › neuron 2 › Σ)``)."""
    return f"({name})" if any(c in name for c in " ·/+×-›()²") else name


def _tex(name: str) -> str:
    """A node name as upright LaTeX text with TeX's special characters escaped."""
    special = {
        "\\": r"\backslash{}",
        "{": r"\{",
        "}": r"\}",
        "_": r"\_",
        "#": r"\#",
        "$": r"\$",
        "%": r"\%",
        "&": r"\&",
        "^": r"\hat{}",
        "~": r"\sim{}",
    }
    return r"\mathrm{" + "".join(special.get(c, c) for c in name) + "}"


def explain(
    value: Value, root: Value | None = None, levels: int | None = 3, precision: int = 4
) -> Explanation:
    """The chain-rule sum behind ``value.grad`` (d root / d value), with numbers.

    ``root`` defaults to the output ``backward()`` was last called on (``autograd.last_backward_root``);
    pass it to explain a gradient in another graph.
    ``levels``: at most this many factors per term (None: up to a shared node or the root).
    """
    if not isinstance(value, Value):
        raise TypeError(f"explain(): expected a Value, got {type(value).__name__}")
    given = root is not None
    root = root if given else last_backward_root()
    if root is None:
        raise ValueError(
            "explain(): call backward() on the output first, or say which output with "
            "explain(value, root=...)"
        )
    graph = trace(root, gradients(root))
    index = {v: i for i, v in enumerate(graph.values)}
    if value not in index:
        hint = "" if given else " (the output backward() was last called on); pass root=... to name another"
        raise ValueError(f"explain(): {value!r} is not part of the graph of {root!r}{hint}")
    return explain_node(graph, index[value], levels, precision)


def explain_node(
    graph: Graph,
    start: int,
    levels: int | None = 3,
    precision: int = 4,
    uses: list[list[Edge]] | None = None,
    name: Callable[[int], str] | None = None,
) -> Explanation:
    """``explain`` for node ``start`` of a traced graph (its gradients filled in), named as drawn
    (``name``: id -> name; by default ``graph.place``)."""
    uses = uses if uses is not None else graph.uses()
    name = name or graph.place

    def labelled(i: int) -> bool:
        return bool(graph.nodes[i].label) or i == graph.root or len(uses[i]) != 1

    terms = _chain_rule(graph, uses, start, labelled, levels, name)
    if all(len(t.factors) == 1 for t in terms) and any(e.child != graph.root for e in uses[start]):
        # Folding the unlabelled nodes left d root / d value = d root / d value: say more by
        # naming every node as drawn (its expression, a·b, or its op, mul5).
        terms = _chain_rule(graph, uses, start, lambda i: True, levels, name)
    if len(terms) == 1 and len(terms[0].factors) == 1:
        # a direct input of the root: what its one use carried back, d root/d root x the local one
        terms = [Term([Factor(name(graph.root), name(graph.root), 1.0), *terms[0].factors])]
    note = graph.grad_note({start})
    return Explanation(name(start), name(graph.root), graph.nodes[start].grad, terms, precision, note)


def _chain_rule(
    graph: Graph,
    uses: list[list[Edge]],
    start: int,
    named: Callable[[int], bool],
    levels: int | None,
    name: Callable[[int], str],
) -> list[Term]:
    """One term per use of ``start``: the factors between named nodes up to the root."""

    def hop(edge: Edge) -> tuple[int, float]:
        """Follow one use up through unnamed single-use nodes: (first named node, d it / d start)."""
        node, factor = edge.child, edge.local
        while not named(node):
            nxt = uses[node][0]
            node, factor = nxt.child, factor * nxt.local
        return node, factor

    terms = []
    for edge in uses[start]:
        chain = [(start, *hop(edge))]  # (bottom, top, d top / d bottom)
        while (
            chain[-1][1] != graph.root
            and len(uses[chain[-1][1]]) == 1
            and (levels is None or len(chain) < levels - 1)
        ):
            top = chain[-1][1]
            chain.append((top, *hop(uses[top][0])))
        factors = [Factor(name(top), name(bottom), f) for bottom, top, f in reversed(chain)]
        top = chain[-1][1]
        if top != graph.root:
            factors.insert(0, Factor(name(graph.root), name(top), graph.nodes[top].grad))
        terms.append(Term(factors))
    return sorted(terms, key=lambda t: [(f.top, f.bottom) for f in t.factors])


def collapsed_view(graph: Graph, group: dict[int, int]) -> tuple[Graph, Callable[[int], str]]:
    """The graph as the collapsed drawing shows it, and the names it shows: each neuron is its
    output node, named by its place (``layer 0 › neuron 2``); an input has one edge per neuron
    using it, whose local derivative d output / d input runs through the neuron's hidden nodes."""
    inner: dict[int, float] = {}  # hidden node h -> d (its neuron's output) / d h
    for i in reversed(range(len(graph.nodes))):  # consumers before their inputs
        if group.get(i) == i:
            inner[i] = 1.0
        for e in graph.edges_into(i) if i in inner else []:
            if group.get(e.parent) == group[i]:
                inner[e.parent] = inner.get(e.parent, 0.0) + inner[i] * e.local
    local: dict[tuple[int, int], float] = {}
    for e in graph.edges:
        p, c = e.parent, group.get(e.child, e.child)
        if group.get(p, p) != p or group.get(p) == c:
            continue  # inside a neuron
        local[p, c] = local.get((p, c), 0.0) + e.local * inner.get(e.child, 1.0)
    edges = [Edge(p, c, d, graph.nodes[c].grad * d, k) for k, ((p, c), d) in enumerate(sorted(local.items()))]
    view = Graph(graph.nodes, edges, graph.root, graph.grads_computed, graph.values)

    def name(i: int) -> str:
        neuron = group.get(i) == i
        return place_title(graph.nodes[i].scope) if neuron else graph.place(i)

    return view, name
