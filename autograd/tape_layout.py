"""The tape's layout: from a traced graph to groups of NumPy operations over rows of two buffers.

``lay_out`` runs the phases below in order; each is a small function of what the earlier ones found.

1. **analyse** the graph (``Graph``): which nodes are *static* (parameters, constants and nodes
   computed from those alone: the same for every example) and which are *batch* nodes (the
   placeholders and everything computed from them); how many users each node has; which sums are
   *linear* (``Σ w·a + b``: static weights times batch rows, each product used only there: they
   are folded into one matrix product per layer); which nodes *want a gradient* (they depend on a
   parameter); which are on the *loss path* (the first output depends on them: backward skips the rest).
2. **group** the nodes that get a row: a node's *level* is one more than its inputs' highest, and
   nodes with the same ``GroupKey`` (level, and the same op on the same buffer, or a matrix product
   over the same rows) become one group.
3. **rows**: ``V`` gets the placeholders, then each batch group's members; ``S`` gets the parameters
   (ordered so that each layer's weight matrix and bias are slices), the constants, then each static
   group's members. A group's members are ordered so the next group usually reads a slice.
4. **write plan**: which gradient rows backward may overwrite (one writer) and which it must zero
   and add into (several writers).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import accumulate, chain
from operator import itemgetter
from typing import NamedTuple, overload

import numpy as np

from .backward import topological_order
from .errors import NotTraceable
from .ops import OPS, Op
from .tape_groups import Elementwise, Group, Linear, MatMul, Writes
from .tape_rows import Index, Place
from .tape_targets import gradient_targets
from .value import Value

__all__ = [
    "ElementwiseKey",
    "Graph",
    "GroupKey",
    "Layout",
    "MatMulKey",
    "WritePlan",
    "analyse",
    "lay_out",
    "plan_wide_writes",
]

_SUM, _MUL = OPS["sum"], OPS["*"]


@dataclass
class Graph:
    """What the tape needs to know about each node of a traced graph (phase 1)."""

    nodes: list[Value]  # each after its parents
    leaves: set[Value]  # the nodes without parents: placeholders, parameters, constants
    parents: dict[Value, tuple[Value, ...]]  # the other nodes' parents, in the order of ``nodes``
    static: dict[Value, bool]  # the same for every example (lives in S), else one value per example (V)
    linear: dict[Value, Linear]  # sums folded into a matrix product
    wants_grad: dict[Value, bool]  # depends on a parameter
    on_loss_path: set[Value] | None  # the first output depends on it (None: every node does)


class ElementwiseKey(NamedTuple):
    """Nodes of one op, with the same number of inputs, at one level, in one buffer. (A named
    tuple: hashed in C, and a trace hashes one key per node; four fields, so it never equals a
    ``MatMulKey``.)"""

    level: int
    static: bool
    op: Op
    n_inputs: int


class MatMulKey(NamedTuple):
    """Linear sums at one level that read the same batch rows with the same number of static
    terms: the rows of one ``W @ A``."""

    level: int
    reads: tuple[Value, ...]
    n_constants: int


GroupKey = ElementwiseKey | MatMulKey
_elementwise_key = partial(tuple.__new__, ElementwiseKey)  # ElementwiseKey(*fields), made in C: one per node
_level = itemgetter(0)  # a GroupKey's level


@dataclass
class Layout:
    """Where everything lives and what runs, in order (phases 2-4)."""

    n_nodes: int
    groups: list[Group]  # by level: each reads only rows written before it
    params_by_row: list[Value]  # the parameters in the order of their rows of S (rows 0, 1, ...)
    param_rows: np.ndarray  # the row of S of each parameter, in the order they were given
    constants: list[Value]  # the constant leaves, in the rows of S after the parameters
    roots: list[Place]  # where each output lives
    n_batch_rows: int
    n_static_rows: int
    plan: WritePlan  # how backward writes each gradient row (phase 4)


def lay_out(roots: list[Value], placeholders: list[Value], params: list[Value]) -> Layout:
    """The whole layout of a traced graph: the phases of the module doc, in order."""
    graph = analyse(roots, placeholders, params)
    by_key = group_by_level(graph)
    params_by_row = order_parameters(by_key, graph.linear, params)
    param_set = set(params)
    constants = [v for v in graph.nodes if v in graph.leaves and graph.static[v] and v not in param_set]
    # Each node's place (its buffer, V or S as graph.static says, and its row there), filled in as
    # the groups are made.
    place = {v: Place(False, i) for i, v in enumerate(placeholders)}
    place.update({v: Place(True, i) for i, v in enumerate(params_by_row + constants)})
    n_rows = {False: len(placeholders), True: len(params_by_row) + len(constants)}
    groups = [make_group(key, members, graph, place, n_rows) for key, members in by_key.items()]
    root_places = [place[r] for r in roots]
    return Layout(
        n_nodes=len(graph.nodes),
        groups=groups,
        params_by_row=params_by_row,
        param_rows=np.array([place[p].row for p in params], dtype=np.intp),
        constants=constants,
        roots=root_places,
        n_batch_rows=n_rows[False],
        n_static_rows=n_rows[True],
        plan=plan_gradient_writes(groups, root_places[0], n_rows),
    )


# --- phase 1: what each node is ------------------------------------------------------------------


def analyse(roots: list[Value], placeholders: list[Value], params: list[Value]) -> Graph:
    """Phase 1: leaves, static or batch, folded sums, wants-grad, the loss path. One pass over the
    nodes (each after its parents) finds what each node is from its parents: a leaf is static unless
    it is a placeholder, a computed node when all its inputs are; a node wants a gradient when it
    is a parameter or depends on one. The pass also counts each node's readers (an output counts
    as read, so it is never folded away)."""
    nodes, on_loss_path = _nodes_and_loss_path(roots)
    # The given leaves first, in C: a big model's graph is mostly its parameters.
    static: dict[Value, bool] = dict.fromkeys(params, True) | dict.fromkeys(placeholders, False)
    wants_grad: dict[Value, bool] = dict.fromkeys(params, True) | dict.fromkeys(placeholders, False)
    leaves: set[Value] = set(static)
    sums = []  # the batch sums, which may be folded into matrix products
    parents: dict[Value, tuple[Value, ...]] = {}  # read once here (a property), counted at the end
    static_of, wants_of = static.__getitem__, wants_grad.__getitem__
    for v in nodes:
        if v in leaves:
            continue
        ps = v.parents
        if not ps:  # a constant
            leaves.add(v)
            static[v], wants_grad[v] = True, False
            continue
        op = v._prim
        if op.custom:
            raise NotTraceable(
                f"the batch tape cannot replay the custom {v.op!r} node (an op written micrograd's way, "
                "whose derivative is a _backward closure): the tape runs each op's array rules for the "
                "whole batch and a closure works on one example's numbers; build the op from primitives, "
                "or train with engine='eager'"
            )
        is_static = static[v] = all(map(static_of, ps))
        wants_grad[v] = any(map(wants_of, ps))
        parents[v] = ps
        if (op is _SUM or op.pairs) and not is_static:
            sums.append(v)
    users = Counter(chain.from_iterable(parents.values()))
    users.update(roots)
    linear = fold_linear(sums, static, users)
    return Graph(nodes, leaves, parents, static, linear, wants_grad, on_loss_path)


def _nodes_and_loss_path(roots: list[Value]) -> tuple[list[Value], set[Value] | None]:
    """Every node the roots depend on, each after its parents, and the nodes the first output depends
    on (None: all of them, as when the other outputs are among them, as a model's outputs are among
    its loss's inputs)."""
    first = topological_order(roots[0])
    if len(roots) == 1:
        return first[::-1], None
    on_path = set(first)
    if all(r in on_path for r in roots[1:]):
        return first[::-1], None
    return topological_order(roots)[::-1], on_path


def fold_linear(sums: list[Value], static: dict[Value, bool], users: dict[Value, int]) -> dict[Value, Linear]:
    """The batch sums that are ``Σ w·a + Σ c`` (see ``linear_terms``), with their terms."""
    linear = {}
    for v in sums:
        if (terms := linear_terms(v, static, users)) is not None:
            linear[v] = terms
    return linear


def linear_terms(v: Value, static: dict[Value, bool], users: dict[Value, int]) -> Linear | None:
    """For ``v = Σ w_i·a_i + Σ c_j`` (w, c static, a batch rows, each product used only here): its
    weights, rows a and static terms, the products in the order of v's parents; else None."""
    op = v._prim
    if op.pairs:  # a traced weighted sum: x_0..x_{n-1}, w_0..w_{n-1}, then the terms
        n, ps = op.pairs, v.parents
        xs, ws, terms = ps[:n], ps[n : 2 * n], ps[2 * n :]
        if all(map(static.__getitem__, (*ws, *terms))) and not any(map(static.__getitem__, xs)):
            return Linear(list(ws), list(xs), list(terms))
        return None
    if op is not _SUM:
        return None
    products, constants = [], []
    for p in v.parents:
        if static[p]:
            constants.append(p)
            continue
        if p._prim is not _MUL or users[p] != 1:
            return None
        a, b = p.parents
        if static[a] == static[b]:
            return None
        products.append((b, a) if static[a] else (a, b))  # (batch row, weight)
    if not products:
        return None
    return Linear([w for _, w in products], [a for a, _ in products], constants)


# --- phase 2: levels and groups ------------------------------------------------------------------


def group_by_level(graph: Graph) -> dict[GroupKey, list[Value]]:
    """The nodes that get a row (not leaves, not products folded into a sum), by group, the groups
    in order of level (ties in the order first seen). Levels count only the nodes that get rows."""
    static, linear = graph.static, graph.linear
    folded = {p for v in linear if v._prim is _SUM for p in graph.parents[v] if not static[p]}  # the products
    level: dict[Value, int] = dict.fromkeys(graph.leaves, 0)
    level_of = level.__getitem__
    by_key: dict[GroupKey, list[Value]] = defaultdict(list)
    for v, ps in graph.parents.items():
        if v in folded:
            continue
        key: GroupKey
        if v in linear:
            ws, xs, bias = linear[v]
            lv = level[v] = 1 + max(map(level_of, (*ws, *xs, *bias)))
            key = MatMulKey(lv, tuple(xs), len(bias))
        else:
            lv = level[v] = 1 + max(map(level_of, ps))
            key = _elementwise_key((lv, static[v], v._prim, len(ps)))
        by_key[key].append(v)
    return {key: by_key[key] for key in sorted(by_key, key=_level)}


# --- phase 3: rows -------------------------------------------------------------------------------


def order_parameters(
    by_key: dict[GroupKey, list[Value]], linear: dict[Value, Linear], params: list[Value]
) -> list[Value]:
    """The parameters in row order. Sorts each matrix product's members (neurons) in the order of
    their weights among the parameters (layer by layer, neuron by neuron), which is how the next
    layer reads their outputs: then it reads a slice. Keeps the parameters in the order given when
    each layer's weights already form a grid there (each neuron's weights together, the neurons
    evenly spaced, as ``nn`` gives them: neuron by neuron, its weights then its bias), so each weight
    matrix is a strided view and a step copies the parameters in and the gradients out as one slice
    each. Else: each layer's weights (row-major) then its biases, layer by layer, then the others."""
    param_order = {p: i for i, p in enumerate(params)}
    layers = []
    for key, members in by_key.items():
        if isinstance(key, MatMulKey):
            members.sort(key=lambda v: param_order.get(linear[v].weights[0], len(param_order)))
            layers.append([linear[v] for v in members])
    if all(_a_grid(terms, param_order) for terms in layers):
        return list(params)
    laid_out = [
        x
        for terms in layers
        for x in [w for t in terms for w in t.weights] + [c for t in terms for c in t.constants]
    ]
    return list(dict.fromkeys([v for v in laid_out if v in param_order] + params))


def _a_grid(terms: list[Linear], param_order: dict[Value, int]) -> bool:
    """Whether a layer's weights, row by row, are a grid of the given parameter order (``Index.grid``)."""
    rows = [param_order.get(w, -1) for t in terms for w in t.weights]
    return -1 not in rows and Index(rows).grid(len(terms), len(terms[0].weights)) is not None


def make_group(
    key: GroupKey, members: list[Value], graph: Graph, place: dict[Value, Place], n_rows: dict[bool, int]
) -> Group:
    """The group running these members, given the next free rows of its buffer (``n_rows``, which
    it advances), recording its members' places in ``place``."""
    where = place.__getitem__
    is_static = isinstance(key, ElementwiseKey) and key.static
    start, k = n_rows[is_static], len(members)
    n_rows[is_static] = start + k
    on_path, wants = graph.on_loss_path, graph.wants_grad
    wanted = any(map(wants.__getitem__, members)) and (on_path is None or not on_path.isdisjoint(members))
    out = slice(start, start + k)
    group: Group
    if isinstance(key, MatMulKey):
        group = MatMul(members, [graph.linear[v] for v in members], where, wants, is_static, out, wanted)
    else:
        parents = graph.parents
        if k > 1:  # sorted by where their first input lives: chains of groups read slices
            members.sort(key=lambda v: where(parents[v][0]))  # (static, row): batch rows first, in order
        group = Elementwise(members, parents.__getitem__, where, wants, is_static, out, wanted)
    for i, v in enumerate(members):
        place[v] = Place(is_static, start + i)
    return group


# --- phase 4: the write plan ---------------------------------------------------------------------


class WritePlan(NamedTuple):
    """How backward writes gradients: each group's ``Writes`` (in the order of the groups), the
    gradient rows to zero first in the batch and the static buffers (a slice, index array or None),
    and which groups run member by member (a wide block's plan: they get the block's scratch row)."""

    writes: Sequence[Writes]
    zero_batch: slice | np.ndarray | None
    zero_static: slice | np.ndarray | None
    by_rows: frozenset[int] = frozenset()


def plan_gradient_writes(groups: Sequence[Group], root: Place, n_rows: dict[bool, int]) -> WritePlan:
    """Which gradient rows backward overwrites, and which rows it must zero before adding into them.

    A row that one group input alone writes (and that is not the loss's seed) is overwritten:
    no zeroing, no read-add-write pass, and matmul or multiply can write their result straight
    into it. Rows with several writers are added into, so they are zeroed first. Rows nobody
    writes stay at the zeros they were allocated with. A group off the loss path is bound for its
    forward, its backward never runs: its targets are not counted, and never store."""
    group, static, lengths, repeats, rows = gradient_targets(groups)
    # One pass of NumPy over every target's rows (numbering the static rows after the batch rows).
    n_batch = n_rows[False]
    rows = rows + np.repeat(static * n_batch, lengths)
    counted = np.fromiter((g.on_loss_path for g in groups), bool, len(groups))[group]
    counted_rows = np.repeat(counted, lengths)
    counts = np.bincount(rows[counted_rows], minlength=n_batch + n_rows[True])
    counts[n_batch * root.static + root.row] += 1
    shared = np.concatenate(([0], np.cumsum(counts[rows] != 1)))  # how many rows so far have other writers
    ends = np.cumsum(lengths)
    alone = (shared[ends] == shared[ends - lengths]) & ~repeats
    stores = counted & alone
    zero = np.unique(rows[counted_rows & np.repeat(~stores, lengths)])
    sizes = np.bincount(group, minlength=len(groups)).tolist()  # each group's targets
    writes = EachGroup(stores.tolist(), [0, *accumulate(sizes)])
    return WritePlan(writes, *_zero_keys(zero[zero < n_batch], zero[zero >= n_batch] - n_batch))


class EachGroup(Sequence[Writes]):
    """Each group's ``Writes``, made from one list of all their flags when asked: a trace of 20,000
    groups would make 20,000 of them, and a wide block, which makes its own, never asks."""

    def __init__(self, flags: list[bool], bounds: list[int]):
        self._flags, self._bounds = flags, bounds  # group i's flags: flags[bounds[i] : bounds[i + 1]]

    def __len__(self) -> int:
        return len(self._bounds) - 1

    @overload
    def __getitem__(self, i: int) -> Writes: ...
    @overload
    def __getitem__(self, i: slice) -> list[Writes]: ...
    def __getitem__(self, i: int | slice) -> Writes | list[Writes]:
        if isinstance(i, slice):
            return [self[j] for j in range(len(self))[i]]
        i = range(len(self))[i]  # an IndexError past the end, as a list's
        return Writes(self._flags[self._bounds[i] : self._bounds[i + 1]])


def _zero_keys(
    batch: Sequence[int] | np.ndarray, static: Sequence[int] | np.ndarray
) -> tuple[slice | np.ndarray | None, slice | np.ndarray | None]:
    """The rows to zero first in each buffer (sorted), as keys; None for none."""
    return (Index(batch).key if len(batch) else None), (Index(static).key if len(static) else None)


def plan_wide_writes(
    groups: Sequence[Group],
    root: Place,
    plan: WritePlan,
    member_by_member: Callable[[Group], bool] = lambda g: isinstance(g, Elementwise) and g.runs_by_rows(),
) -> WritePlan:
    """The write plan of a wide block, where the groups that can run member by member do
    (``Group.runs_by_rows``, or as ``member_by_member`` says): walking the writes in backward's order, each
    member's write into a gradient row stores when it is the row's first (as a hand-written reverse
    pass keeps its first contribution) and adds after; a grouped step stores as ``plan`` says (its
    rows' only writer), else its rows are zeroed unless written before it."""
    written: dict[bool, set[int]] = {False: set(), True: set()}
    written[root.static].add(root.row)
    zero: dict[bool, set[int]] = {False: set(), True: set()}
    writes = list(plan.writes)
    by_rows: set[int] = set()
    on_path = [i for i, g in enumerate(groups) if g.on_loss_path]
    in_order = [i for i in on_path if not groups[i].is_static][::-1] + [
        i for i in on_path if groups[i].is_static
    ][::-1]
    for i in in_order:
        g = groups[i]
        if member_by_member(g):
            assert isinstance(g, Elementwise)
            flags = []
            for edges in g.member_writes():
                for _, p in edges:
                    seen = written[p.static]
                    flags.append(p.row not in seen)
                    seen.add(p.row)
            writes[i] = Writes(flags)
            by_rows.add(i)
            continue
        for (is_static, rows, _), store in zip(g.gradient_rows(), plan.writes[i].stores):
            seen = written[is_static]
            if not store:
                zero[is_static].update(r for r in rows if r not in seen)
            seen.update(rows)
    return WritePlan(writes, *_zero_keys(sorted(zero[False]), sorted(zero[True])), frozenset(by_rows))
