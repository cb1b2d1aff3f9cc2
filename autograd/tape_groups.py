"""The kinds of tape group: each runs one operation for all its members and all examples at once.

- ``Elementwise``: k nodes of one primitive at one level, one NumPy call on (k, batch) arrays (an
  n-ary op such as sum or max gets its inputs as one (n, k, batch) block and reduces the first axis);
- ``MatMul``: a layer's neurons, k nodes ``Σ_i W[j, i]·a_i + Σ c_j`` that read the same batch rows
  a: one ``W @ A`` forward and two products backward.

A group is built whole, from its members, a ``where`` function (node -> ``Place``) and its own
rows, and is not changed after. ``bind`` gives its forward and backward steps as closures over views
of the tape's buffers for one batch size (made once per batch size, so a step costs only its NumPy
calls), writing gradients as the write plan's ``Writes`` for it say (``tape_layout``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from itertools import chain
from operator import attrgetter
from typing import Any, NamedTuple

import numpy as np

from .ops import OPS, Op
from .tape_rows import Index, Place, Rows, grid_view
from .value import Value

__all__ = ["BY_ROWS_FROM", "Elementwise", "Group", "Linear", "MatMul", "Steps", "Writes", "by_rows"]

Steps = tuple[Callable[[], None], Callable[[], None]]
BY_ROWS_FROM = 2048  # examples in a block from which elementwise groups run member by member (by_rows)
Where = Callable[[Value], Place]


class Linear(NamedTuple):
    """A sum node ``Σ w_i·a_i + Σ c_j`` folded into a matrix product: static weights w, the batch
    nodes a they multiply (in the order of the node's parents), and the static terms c (a bias)."""

    weights: list[Value]
    inputs: list[Value]
    constants: list[Value]


class Writes(NamedTuple):
    """The write plan's word for one group's backward: for each of its writes, in order, whether it
    stores into its rows (their only writer, or a wide block's first) or adds to them. The writes
    are ``gradient_rows()`` for a grouped step; for a wide block's member-by-member step
    (``scratch``, a row of the block's width shared by its groups), each member's edges
    (``Elementwise.member_writes``)."""

    stores: Sequence[bool]
    scratch: np.ndarray | None = None


_scope = attrgetter("scope")


class Group:
    """One operation for all members, built whole: ``is_static`` and ``out`` (a slice of rows) say
    where the members' values go; ``on_loss_path`` is False when backward can skip it; ``scopes``
    which module made each member (``Value.scope``), for error messages."""

    name = "group"
    op: Op

    def __init__(self, members: Sequence[Value], is_static: bool, out: slice, on_loss_path: bool):
        self.is_static, self.out, self.on_loss_path = is_static, out, on_loss_path
        self.scopes: list[str | None] = list(map(_scope, members))

    def bind(self, V: np.ndarray, S: np.ndarray, GV: np.ndarray, GS: np.ndarray, writes: Writes) -> Steps:
        """The group's forward and backward steps, reading and writing views of these buffers; with a
        ``writes.scratch``, member by member (``by_rows``: only when ``runs_by_rows``)."""
        raise NotImplementedError

    def runs_by_rows(self) -> bool:
        """Whether a wide block runs this group member by member (``by_rows``)."""
        return False

    def gradient_rows(self) -> list[tuple[bool, list[int], bool]]:
        """The rows backward writes gradients into, write by write: (in the static buffer?, the
        rows, whether some row repeats)."""
        raise NotImplementedError

    def member_inputs(self, V: np.ndarray, S: np.ndarray, member: int, column: int) -> list[float]:
        """The inputs of one member for one example (its column of V), as the eager op sees them:
        ``self.op.forward(*inputs)`` is what the eager engine computes there."""
        raise NotImplementedError

    def non_finite_local(self, V: np.ndarray, S: np.ndarray) -> tuple[int, int] | None:
        """The first (member, example column) whose local derivative is NaN or infinite while its
        inputs and output are finite, or None. (A matrix product's derivatives are its inputs.)"""
        return None


def _column(block: np.ndarray, row: int, column: int) -> float:
    """One entry of a block of rows read from V (one column per example) or S (one column)."""
    return float(block[row, column if block.shape[1] > 1 else 0])


def _listed(targets: list[tuple[bool, Index]]) -> list[tuple[bool, list[int], bool]]:
    """``gradient_rows`` from (in the static buffer?, its Index) pairs."""
    return [(static, index.listed, index.repeats) for static, index in targets]


def _times(d: Any, g: np.ndarray) -> np.ndarray:
    """The chain rule's product local x upstream, skipping a multiplication by 1."""
    return g if isinstance(d, float) and d == 1.0 else d * g


class Elementwise(Group):
    """k nodes of one op with the same number of inputs: one NumPy call on (k, batch) arrays.
    An n-ary op (sum, max) gets its inputs as one (n, k, batch) block and reduces the first axis."""

    def __init__(
        self,
        members: Sequence[Value],
        parents: Callable[[Value], tuple[Value, ...]],
        where: Where,
        wants_grad: dict[Value, bool],
        *placed: Any,
    ) -> None:
        """``parents``: a node's parents (``Value.parents``, as the layout read them once)."""
        super().__init__(members, *placed)
        op = members[0]._prim
        self.op, self.name = op, op.name
        self.nary = op.arity == -1
        self.k = len(members)
        wants = wants_grad.__getitem__
        # Where each input of each member lives, as one list: edge i * k + m is input i of member m.
        # Only places here: the Rows that read them (``inputs``) are made when a grouped step is
        # first bound; a group run member by member, as most of a big irregular graph's are, never
        # needs them.
        self.edges: list[Place]
        if self.k == 1:  # most groups of an irregular graph: no transposing of the parents
            ps = parents(members[0])
            self.n = len(ps)
            self.edges = list(map(where, ps))
            self.wants = list(map(wants, ps))
            return
        columns = list(zip(*map(parents, members)))  # column i: input i of each member
        self.n = len(columns)
        self.edges = list(map(where, chain.from_iterable(columns)))
        self.wants = [any(map(wants, column)) for column in columns]

    def _columns(self) -> list[list[Place]]:
        """Each input's places, one per member."""
        k = self.k
        return [self.edges[i * k : (i + 1) * k] for i in range(self.n)]

    @functools.cached_property
    def inputs(self) -> list[Rows]:
        """Each input's rows, as the grouped step reads and writes them (an n-ary op's: one Rows of
        all its edges)."""
        return [Rows(self.edges)] if self.nary else list(map(Rows, self._columns()))

    def gradient_rows(self) -> list[tuple[bool, list[int], bool]]:
        wants = [True] if self.nary else self.wants  # an n-ary op's one input: all its edges count
        return _listed([t for x, w in zip(self.inputs, wants) if w for t in x.targets()])

    def member_inputs(self, V: np.ndarray, S: np.ndarray, member: int, column: int) -> list[float]:
        blocks = [x.reader(V, S)() for x in self.inputs]
        if self.nary:  # edge i * k + m is input i of member m
            return [_column(blocks[0], i * self.k + member, column) for i in range(self.n)]
        return [_column(b, member, column) for b in blocks]

    def non_finite_local(self, V: np.ndarray, S: np.ndarray) -> tuple[int, int] | None:
        if self.nary:  # sum's derivatives are 1, max's one-hot
            return None
        out = (S if self.is_static else V)[self.out]
        xs = [np.broadcast_to(x.reader(V, S)(), out.shape) for x in self.inputs]
        with np.errstate(all="ignore"):
            local = self.op.local(*xs, out)
        fine = np.isfinite(out) & np.logical_and.reduce([np.isfinite(x) for x in xs])
        bad = np.logical_or.reduce([~np.isfinite(np.broadcast_to(d, out.shape)) for d in local]) & fine
        sites = np.argwhere(bad.T)  # (column, member), by example first
        return (int(sites[0][1]), int(sites[0][0])) if len(sites) else None

    def runs_by_rows(self) -> bool:
        """Member by member when it can (a ufunc or a fold, in the batch buffer) and one call would
        not do better: it has one member, or some input would be gathered (not a view)."""
        if self.is_static or (self.op.ufunc() is None and self.op.fold is None):
            return False
        return self.k == 1 or not all(x.is_view() for x in self.inputs)

    def member_places(self) -> list[list[Place]]:
        """Each member's inputs, where they live."""
        edges, k = self.edges, self.k
        return [edges[m::k] for m in range(k)]

    def member_writes(self, places: list[list[Place]] | None = None) -> list[list[tuple[int, Place]]]:
        """Each member's gradient edges in backward: (which input, where it lives), for the inputs
        that want a gradient (all of an n-ary op's, as ``gradient_rows`` counts them); from
        ``member_places()``, or those given."""
        wants = [True] * self.n if self.nary else self.wants
        members = self.member_places() if places is None else places
        return [[(i, p) for i, (p, w) in enumerate(zip(ps, wants)) if w] for ps in members]

    def bind(self, V: np.ndarray, S: np.ndarray, GV: np.ndarray, GS: np.ndarray, writes: Writes) -> Steps:
        if writes.scratch is not None:
            return by_rows(self, V, S, GV, GS, writes)
        out = (S if self.is_static else V)[self.out]
        g = (GS if self.is_static else GV)[self.out]
        stores = iter(writes.stores)
        if self.nary:
            return self._bind_nary(V, S, GV, GS, out, g, [next(stores) for _ in self.inputs[0].targets()])
        f, local = self.op.forward_on_arrays(), self.op.local
        wanted = [
            (i, x, [next(stores) for _ in x.targets()])
            for i, (x, w) in enumerate(zip(self.inputs, self.wants))
            if w
        ]
        write = [(i, x.target(GV, st), x.adder(GV, GS, st)) for i, x, st in wanted]
        views = [x.view(V, S) for x in self.inputs]
        saved: list[np.ndarray] = []  # the inputs of the last forward, for the local derivatives
        ufunc = self.op.ufunc()
        forward: Callable[[], None]
        if all(v is not None for v in views):  # nothing to gather: the inputs are views, saved once
            saved[:] = [v for v in views if v is not None]
            if ufunc is not None:
                args = (*saved, out)

                def forward() -> None:
                    ufunc(*args)

            else:

                def forward() -> None:
                    out[...] = f(*saved)

        else:
            reads = [x.reader(V, S) for x in self.inputs]

            def forward() -> None:
                saved[:] = [r() for r in reads]
                out[...] = f(*saved)

        def backward() -> None:
            d = local(*saved, out)
            for i, target, add in write:
                if target is not None and getattr(d[i], "ndim", 0) <= 2:  # d broadcasts to g's shape
                    np.multiply(d[i], g, out=target)
                else:
                    add(_times(d[i], g))

        return forward, backward

    def _bind_nary(
        self,
        V: np.ndarray,
        S: np.ndarray,
        GV: np.ndarray,
        GS: np.ndarray,
        out: np.ndarray,
        g: np.ndarray,
        stores: list[bool],
    ) -> Steps:
        n, k = self.n, self.k
        f = self.op.forward_on_arrays()
        read, array_local, add = (
            self.inputs[0].reader(V, S),
            self.op.array_local,
            self.inputs[0].adder(GV, GS, stores),
        )
        assert array_local is not None
        saved: list[np.ndarray] = []

        def forward() -> None:
            saved[:] = [read().reshape(n, k, -1)]
            out[...] = f(saved[0])

        def backward() -> None:
            d = array_local(saved[0], out)  # (n, k, batch), or one number for all inputs
            parts = d * g if isinstance(d, np.ndarray) else _times(d, g)[None].repeat(n, axis=0)
            add(parts.reshape(n * k, -1))

        return forward, backward


def by_rows(
    group: Elementwise, V: np.ndarray, S: np.ndarray, GV: np.ndarray, GS: np.ndarray, writes: Writes
) -> Steps:
    """An elementwise group's steps member by member, each a NumPy call on views of its own rows
    that writes into its output row (``Op.ufunc``; a sum as ``Op.fold`` left to right, the order
    the grouped step reduces in): no gather, no temporary. For a wide batch, where a gather copies
    more than a NumPy call costs."""
    start, stores, scratch = group.out.start, iter(writes.stores), writes.scratch
    assert scratch is not None
    forward: list[tuple[Callable[..., Any], tuple]] = []
    backward: list[Callable[[], None]] = []
    members = group.member_places()
    for m, (places, edges) in enumerate(zip(members, group.member_writes(members))):
        xs = [(S if p.static else V)[p.row] for p in places]
        out = V[start + m]
        forward += _calls(group.op, xs, out)
        edge_writes = [(i, (GS if p.static else GV)[p.row], p.static, next(stores)) for i, p in edges]
        backward.append(_member_backward(group.op, xs, out, GV[start + m], edge_writes, scratch))

    def run_forward() -> None:
        for f, args in forward:
            f(*args)

    def run_backward() -> None:
        for step in backward:
            step()

    return run_forward, run_backward


def _calls(op: Op, xs: list[np.ndarray], out: np.ndarray) -> list[tuple[Callable[..., Any], tuple]]:
    """The NumPy calls computing one member into ``out``."""
    if op.fold is None:
        f = op.ufunc()
        assert f is not None  # runs_by_rows
        return [(f, (*xs, out))]
    if len(xs) == 1:
        return [(np.copyto, (out, xs[0]))]
    return [(op.fold, (xs[0], xs[1], out))] + [(op.fold, (out, x, out)) for x in xs[2:]]


def _member_backward(
    op: Op,
    xs: list[np.ndarray],
    out: np.ndarray,
    g: np.ndarray,
    writes: list[tuple[int, np.ndarray, bool, bool]],
    scratch: np.ndarray,
) -> Callable[[], None]:
    """One member's backward: each input's local derivative times g, stored into its gradient row
    (when the write plan says this is the row's first writer) or added to it; a static input's row
    gets the sum over the batch."""
    local, n = op.local, len(xs)

    def backward() -> None:
        d = (1.0,) * n if op.fold is not None else local(*xs, out)
        for i, target, static, assign in writes:
            di = d[i]
            if static:
                total = np.add.reduce(
                    g if isinstance(di, float) and di == 1.0 else np.multiply(di, g, scratch)
                )
                target[0] = total if assign else target[0] + total
            elif isinstance(di, float) and di == 1.0:
                np.copyto(target, g) if assign else np.add(target, g, target)
            elif assign:
                np.multiply(di, g, target)
            else:
                np.add(target, np.multiply(di, g, scratch), target)

    return backward


class MatMul(Group):
    """A layer's neurons: k nodes ``Σ_i W[j, i]·a_i + Σ c_j`` that read the same rows a: W @ A."""

    name = "matmul"
    op = OPS["sum"]  # what each member is to the eager engine: the sum of its products and terms

    def __init__(
        self,
        members: Sequence[Value],
        terms: Sequence[Linear],
        where: Where,
        wants_grad: dict[Value, bool],
        *placed: Any,
    ) -> None:
        super().__init__(members, *placed)
        ws, xs, consts = zip(*terms)
        self.wants_a = any(wants_grad[x] for x in xs[0])
        self.k, self.n = len(ws), len(xs[0])
        self.weights = Index([where(w).row for row in ws for w in row])  # static rows, row-major (k, n)
        self.a = Index([where(x).row for x in xs[0]])  # batch rows
        self.nb = len(consts[0])
        self.bias = Index([where(c).row for row in consts for c in row]) if self.nb else None

    def gradient_rows(self) -> list[tuple[bool, list[int], bool]]:
        targets = [(True, self.weights)] + ([(True, self.bias)] if self.bias is not None else [])
        return _listed(targets + ([(False, self.a)] if self.wants_a else []))

    def member_inputs(self, V: np.ndarray, S: np.ndarray, member: int, column: int) -> list[float]:
        W = self.weights.reader(S[:, 0])().reshape(self.k, self.n)
        A = self.a.reader(V)()
        terms = [float(W[member, i]) * _column(A, i, column) for i in range(self.n)]
        if self.bias is not None:
            terms += self.bias.reader(S)()[member * self.nb : (member + 1) * self.nb, 0].tolist()
        return terms

    def _weights(
        self, S: np.ndarray, GS: np.ndarray, store: bool
    ) -> tuple[Callable[[], np.ndarray], Callable[[np.ndarray], None], np.ndarray | None]:
        """How the k x n weight matrix is read (a view when its rows form a grid, else gathered), how
        its gradient is added, and a view to write the gradient into when this is its only writer."""
        k, n = self.k, self.n
        grid = self.weights.grid(k, n)
        W = None if grid is None else grid_view(S, *grid, k, n)
        G = None if grid is None else grid_view(GS, *grid, k, n)
        if W is not None and G is not None:
            view, gview = W, G

            def add_view(grad: np.ndarray) -> None:
                np.add(gview, grad, out=gview)

            return (lambda: view), add_view, (gview if store else None)
        gather, add = self.weights.reader(S), self.weights.adder(GS, store)
        target = self.weights.target(GS, store)

        def add_flat(grad: np.ndarray) -> None:
            add(grad.reshape(-1))

        return (lambda: gather().reshape(k, n)), add_flat, (None if target is None else target.reshape(k, n))

    def bind(self, V: np.ndarray, S: np.ndarray, GV: np.ndarray, GS: np.ndarray, writes: Writes) -> Steps:
        k, nb, bias = self.k, self.nb, self.bias
        out, g = V[self.out], GV[self.out]
        read_a = self.a.reader(V)
        read_b = bias.reader(S) if bias is not None else None
        stores = iter(writes.stores)  # in the order of gradient_rows: weights, bias, a
        store_w = next(stores)
        store_b = next(stores) if bias is not None else False
        store_a = next(stores) if self.wants_a else False
        read_w, add_w, w_out = self._weights(S[:, 0], GS[:, 0], store_w)
        add_b = bias.adder(GS[:, 0], store_b) if bias is not None else None
        add_a = self.a.adder(GV, store_a) if self.wants_a else None
        a_out = self.a.target(GV, store_a) if self.wants_a else None
        saved: list[np.ndarray] = []

        def forward() -> None:
            W, A = read_w(), read_a()
            saved[:] = [W, A]
            np.matmul(W, A, out=out)
            if read_b is not None:
                b = read_b()
                np.add(out, b if nb == 1 else b.reshape(k, nb).sum(axis=1, keepdims=True), out=out)

        def backward() -> None:
            W, A = saved
            if w_out is not None:
                np.matmul(g, A.T, out=w_out)
            else:
                add_w(g @ A.T)
            if add_b is not None:
                gb = np.add.reduce(g, axis=1)
                add_b(gb if nb == 1 else np.repeat(gb, nb))
            if a_out is not None:
                np.matmul(W.T, g, out=a_out)
            elif add_a is not None:
                add_a(W.T @ g)

        return forward, backward
