"""The batch tape: trace one example's graph once, then run it for a whole batch with NumPy.

    tape = Tape.trace(lambda x, y: loss(model(x), y), model.parameters(), X[0], Y[0])
    losses = tape.forward(X, Y)          # (batch, outputs): every example's outputs
    tape.backward(scale=1 / len(X))      # adds d(mean loss)/dp to each parameter's .grad

A training loop that keeps the parameters as arrays (in ``tape.params`` order) skips the Values:
``tape.forward(X, Y, params=theta)`` reads them from ``theta`` and ``tape.backward(s, out=grad)``
writes the gradient into ``grad`` (``nn.fit`` does this, with ``Optimizer.step_arrays``). Moving
thousands of parameters through Python one by one costs more than NumPy's whole step.

Tracing calls the function once on placeholder Values (one example's inputs and targets) and keeps
the graph it builds: the given parameters stay themselves, any other leaf is a constant. The graph
is then flattened. Every node gets a row in one of two buffers:

- ``V`` (rows x batch): the placeholders and every node computed from them, one column per example;
- ``S`` (rows x 1): parameters, constants and nodes computed from those alone (an L2 penalty, say),
  computed once per batch and broadcast against ``V``.

Nodes of the same op at the same depth form a group, run as one NumPy operation, with rows
ordered so that a group's inputs are usually a slice of the buffer. A neuron's ``Σ w·a`` (an n-ary
sum of products of a static weight with a batch row, plus static terms such as the bias) is not
expanded into its products: the sums of a layer that read the same rows are one matrix product
(one ``@`` forward, two backward). Forward rules and derivatives come from the table of
primitives (``Op.forward_on_arrays`` and ``Op.local``), the same rules as the eager engine, so
both give the same numbers to rounding.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import Any, NamedTuple

import numpy as np

from .backward import topological_order
from .mode import enable_grad, no_grad
from .ops import OPS, Op
from .value import Value

__all__ = ["Tape"]

_SUM, _MUL = OPS["sum"], OPS["*"]
_data = attrgetter("data")


def _trace(
    fn: Callable[..., Any], params: Sequence[Value], x: Sequence[float], y: Sequence[float] | None = None
) -> Tape:
    """Record the graph ``fn`` builds for one example and flatten it into a ``Tape``.

    ``fn(xs)`` (or ``fn(xs, ys)`` when targets ``y`` are given) receives lists of Values holding
    this example's numbers and returns a Value or a sequence of Values; the first one is what
    ``Tape.backward`` differentiates. The graph must not depend on the numbers (no Python ``if``
    on ``.data``): the tape replays it for every other example.
    """
    xs = [Value(v, label=f"x{i}") for i, v in enumerate(_numbers(x))]
    ys = None if y is None else [Value(v, label=f"y{i}") for i, v in enumerate(_numbers(y))]
    with enable_grad():
        out = fn(xs) if ys is None else fn(xs, ys)
    roots = [out] if isinstance(out, Value) else list(out) if isinstance(out, (list, tuple)) else []
    if not roots or not all(isinstance(r, Value) for r in roots):
        raise TypeError(f"Tape.trace(): fn must return a Value or a sequence of Values, got {out!r:.80}")
    return Tape(roots, xs, ys or [], params, replay=fn)


def _numbers(x: Any) -> list[float]:
    return np.asarray(x, dtype=float).reshape(-1).tolist()


class Tape:
    """A traced graph, flattened into groups of NumPy operations over a batch (see the module doc).
    Make one with ``Tape.trace(fn, params, x, y=None)``."""

    trace = staticmethod(_trace)

    def __init__(
        self,
        roots: list[Value],
        inputs: list[Value],
        targets: list[Value],
        params: Sequence[Value],
        replay: Callable[..., Any] | None = None,
    ):
        self._replay = replay  # the traced function, to rerun one example eagerly when it goes wrong
        self.params = list(dict.fromkeys(params))  # each parameter once, in order
        self.n_inputs, self.n_targets, self.n_outputs = len(inputs), len(targets), len(roots)
        nodes = topological_order(roots)[::-1]  # each node after its parents
        placeholders = inputs + targets
        self.n_nodes = len(nodes)

        # Which buffer each node lives in; which need a gradient; which products are folded into sums.
        is_placeholder = set(placeholders)
        static = {}
        for v in nodes:
            static[v] = v not in is_placeholder if v._a is None else all(static[p] for p in v.parents)
        users: dict[Value, int] = defaultdict(int)
        for v in nodes:
            for p in v.parents:
                users[p] += 1
        for r in roots:
            users[r] += 1  # an output is read, so it is never folded away
        linear = {v: terms for v in nodes if not static[v] and (terms := _linear_terms(v, static, users))}
        folded = {p for v in linear for p in v.parents if not static[p]}
        param_set = set(self.params)
        wants_grad = {}
        for v in nodes:
            wants_grad[v] = v in param_set or any(wants_grad[p] for p in v.parents)
        on_loss_path = set(topological_order(roots[0]))

        # Groups: same level, same kind of operation; levels count only the nodes that get rows.
        level: dict[Value, int] = {v: 0 for v in nodes if v._a is None}
        by_key: dict[tuple, list[Value]] = defaultdict(list)
        for v in nodes:
            if v._a is None or v in folded:
                continue
            if v in linear:
                ws, xs, bias = linear[v]
                level[v] = 1 + max(level[u] for u in (*ws, *xs, *bias))
                key = (level[v], "matmul", tuple(map(id, xs)), len(bias))
            else:
                level[v] = 1 + max(level[p] for p in v.parents)
                key = (level[v], static[v], id(v._op), len(v.parents))
            by_key[key].append(v)

        # Rows: V holds the placeholders first; S the parameters, then the constants. Parameters
        # are laid out so that each layer's weight matrix (row-major) and bias vector are slices of S.
        rows: dict[Value, int] = {}
        for i, v in enumerate(placeholders):
            rows[v] = i
        laid_out: list[Value] = []
        param_order = {p: i for i, p in enumerate(self.params)}
        for key in sorted(by_key, key=lambda k: k[0]):
            if key[1] == "matmul":
                # Neurons in the order of their weights among the parameters (layer by layer, neuron
                # by neuron), which is how the next layer reads their outputs: then it reads a slice.
                by_key[key].sort(key=lambda v: param_order.get(linear[v][0][0], len(param_order)))
                terms = [linear[v] for v in by_key[key]]
                laid_out += [w for ws, _, _ in terms for w in ws] + [c for _, _, cs in terms for c in cs]
        laid_out = [v for v in dict.fromkeys(laid_out) if v in param_set] + self.params
        self._by_row = list(dict.fromkeys(laid_out))  # the parameters in row order
        constants = [v for v in nodes if v._a is None and static[v] and v not in param_set]
        for i, v in enumerate(self._by_row + constants):
            rows[v] = i
        n_rows = {False: len(placeholders), True: len(self.params) + len(constants)}

        def where(v: Value) -> tuple[bool, int]:
            return static[v], rows[v]

        self.groups: list[_Group] = []
        for key in sorted(by_key, key=lambda k: k[0]):  # by level; ties in the order first seen
            members = by_key[key]
            if key[1] == "matmul":
                group: _Group = _MatMul([linear[v] for v in members], where, wants_grad)
            else:
                # Members sorted by where their first input lives, so chains of groups line up as slices.
                members.sort(key=lambda v: where(v.parents[0]))
                group = _Elementwise(members, where, wants_grad)
            is_static = key[1] is True
            start = n_rows[is_static]
            for i, v in enumerate(members):
                rows[v] = start + i
            n_rows[is_static] = start + len(members)
            group.place(is_static, slice(start, start + len(members)))
            group.on_loss_path = any(v in on_loss_path for v in members) and any(map(wants_grad.get, members))
            self.groups.append(group)
        self._roots = [where(r) for r in roots]
        self._n_batch_rows, self._n_static_rows = n_rows[False], n_rows[True]
        self._zero_batch, self._zero_static = _plan_gradient_writes(self.groups, self._roots[0], n_rows)
        self._S = np.zeros((self._n_static_rows, 1))
        self._GS = np.zeros_like(self._S)
        self._S[len(self.params) : len(self.params) + len(constants), 0] = [v.data for v in constants]
        self._param_rows = np.array([rows[p] for p in self.params], dtype=np.intp)  # params[i] is in row [i]
        self._runs: dict[int, _Run] = {}
        self._last: _Run | None = None

    def __repr__(self) -> str:
        kinds = defaultdict(int)
        for g in self.groups:
            kinds[g.name] += 1
        what = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
        return (
            f"Tape({self.n_nodes} nodes in {len(self.groups)} groups ({what}); {self.n_inputs} inputs, "
            f"{self.n_targets} targets, {self.n_outputs} outputs, {len(self.params)} parameters)"
        )

    # --- running it ----------------------------------------------------------------------------

    def forward(self, X: Any, Y: Any = None, params: np.ndarray | None = None) -> np.ndarray:
        """Every output for every example: an array (batch, outputs). X is (batch, inputs), Y
        (batch, targets); a 1-D X is one example per entry when the tape has one input. The
        parameters' values are read from their Values, or from ``params`` (one float per entry of
        ``self.params``, in that order) when given."""
        X = self._batch(X, self.n_inputs, "inputs")
        Y = self._batch(Y, self.n_targets, "targets", len(X)) if self.n_targets else None
        B = len(X)
        run = self._runs.get(B) or self._bind(B)
        V, S = run.V, self._S
        V[: self.n_inputs] = X.T
        if Y is not None:
            V[self.n_inputs : self.n_inputs + self.n_targets] = Y.T
        if params is None:
            S[: len(self.params), 0] = np.fromiter(map(_data, self._by_row), float, len(self.params))
        else:
            S[self._param_rows, 0] = params
        with np.errstate(all="ignore"):  # a NaN or infinity is reported below, naming the example
            for step in run.forward:
                step()
        out = np.empty((B, self.n_outputs))
        for j, (is_static, row) in enumerate(self._roots):
            out[:, j] = (S if is_static else V)[row]
        self._last = run
        if not np.isfinite(out).all():
            self._explain(int(np.argmax(~np.isfinite(out).all(axis=1))), X, Y, out)
        return out

    def _explain(self, i: int, X: np.ndarray, Y: np.ndarray | None, out: np.ndarray) -> None:
        """Example i gave a NaN or infinity: rerun it on the eager engine, which raises the error
        naming the op (exp overflow, log of a negative, ...). NumPy only says "nan"."""
        if self._replay is None:
            raise FloatingPointError(f"tape forward: example {i} of the batch gave {out[i].tolist()}")
        xs = [Value(v) for v in X[i].tolist()]
        with no_grad():
            if Y is None:
                self._replay(xs)
            else:
                self._replay(xs, [Value(v) for v in Y[i].tolist()])
        # The eager engine took it: an infinity that is the true value (say, a constant inf).

    def backward(self, scale: float = 1.0, out: np.ndarray | None = None) -> None:
        """Add ``scale`` x (sum over the last forward's examples of d output0 / d p) to each
        parameter's ``.grad``. With ``scale = 1 / batch`` that is the gradient of the mean loss.
        With ``out`` (a float array, one entry per ``self.params``), write it there instead and
        leave the Values alone."""
        run = self._last
        if run is None:
            raise RuntimeError("Tape.backward() needs a forward() first")
        GV, GS = run.GV, self._GS
        if self._zero_batch is not None:
            GV[self._zero_batch] = 0.0
        if self._zero_static is not None:
            GS[self._zero_static] = 0.0
        is_static, row = self._roots[0]
        if is_static:
            GS[row] = scale * GV.shape[1]
        else:
            GV[row] = scale
        with np.errstate(all="ignore"):
            for step in run.backward:
                step()
        if out is not None:
            np.take(GS[:, 0], self._param_rows, out=out)
            return
        grads = GS[: len(self.params), 0]
        for p, g in zip(self._by_row, grads.tolist()):
            p.grad += g

    def _bind(self, B: int) -> _Run:
        """Buffers for batches of B examples, and every group's steps bound to views of them."""
        if len(self._runs) >= 4:  # a few batch sizes (say the full one and a ragged last) are kept
            self._runs.clear()
        V, GV = np.zeros((self._n_batch_rows, B)), np.zeros((self._n_batch_rows, B))
        steps = [g.bind(V, self._S, GV, self._GS) for g in self.groups]
        backward = [b for (_, b), g in zip(steps, self.groups) if g.on_loss_path][::-1]
        run = self._runs[B] = _Run(V, GV, [f for f, _ in steps], backward)
        return run

    def _batch(self, X: Any, width: int, name: str, length: int | None = None) -> np.ndarray:
        try:
            X = np.asarray(X, dtype=float)
        except (TypeError, ValueError) as e:
            raise ValueError(
                f"tape: {name} must be a 2-D batch of numbers, one row of {width} per example ({e})"
            ) from None
        if X.ndim == 1 and width == 1:
            X = X[:, None]
        if X.ndim != 2 or X.shape[1] != width or (length is not None and len(X) != length):
            want = f"({length if length is not None else 'batch'}, {width})"
            raise ValueError(
                f"tape: {name} must have shape {want} (traced with {width} {name}); got {X.shape}"
            )
        if len(X) == 0:
            raise ValueError(f"tape: the batch of {name} is empty")
        if not np.isfinite(X).all():
            i = int(np.argmax(~np.isfinite(X).all(axis=1)))
            raise ValueError(f"tape: row {i} of the {name} holds NaN or infinity: {X[i].tolist()}")
        return X


def _plan_gradient_writes(groups: list[_Group], root: tuple[bool, int], n_rows: dict) -> tuple:
    """Which gradient rows backward overwrites, and which rows it must zero before adding into them.

    A row that one group input alone writes (and that is not the loss's seed) is overwritten:
    no zeroing, no read-add-write pass, and matmul or multiply can write their result straight
    into it. Rows with several writers are added into, so they are zeroed first. Rows nobody
    writes stay at the zeros they were allocated with. Returns the rows to zero in the batch and
    the static gradient buffers (a slice, an index array, or None)."""
    writes = [w for g in groups if g.on_loss_path for w in g.gradient_targets()]
    counts = {False: np.zeros(n_rows[False], dtype=np.intp), True: np.zeros(n_rows[True], dtype=np.intp)}
    counts[root[0]][root[1]] += 1
    for is_static, index in writes:
        np.add.at(counts[is_static], index.rows, 1)
    zero: dict[bool, list[np.ndarray]] = {False: [], True: []}
    for is_static, index in writes:
        index.assign = not index.repeats and bool((counts[is_static][index.rows] == 1).all())
        if not index.assign:
            zero[is_static].append(index.rows)
    return tuple(_Index(np.unique(np.concatenate(zero[k]))).key if zero[k] else None for k in (False, True))


def _linear_terms(v: Value, static: dict, users: dict) -> tuple | None:
    """For ``v = Σ w_i·a_i + Σ c_j`` (w, c static, a batch rows, each product used only here):
    (weights, rows a, static terms), the products in the order of v's parents; else None."""
    if v._op is not _SUM:
        return None
    products, constants = [], []
    for p in v.parents:
        if static[p]:
            constants.append(p)
            continue
        if p._op is not _MUL or users[p] != 1:
            return None
        a, b = p.parents
        if static[a] == static[b]:
            return None
        products.append((b, a) if static[a] else (a, b))  # (batch row, weight)
    if not products:
        return None
    return [w for _, w in products], [a for a, _ in products], constants


# --- groups: each runs one kind of operation for all its members --------------------------------


class _Run(NamedTuple):
    """A tape bound to one batch size: its batch buffers and the steps that read and write them."""

    V: np.ndarray
    GV: np.ndarray
    forward: list[Callable[[], None]]
    backward: list[Callable[[], None]]


class _Index:
    """Some rows of a buffer: a slice when they are consecutive, else an index array. Adding into
    repeated rows sums the repeats with a sorted ``np.add.reduceat`` plan (``np.add.at`` is slow),
    or, when they are all one row (every member reads the same node, as a softmax's max and sum
    are read), with one ``np.add.reduce`` (3x faster than reduceat along the first axis)."""

    def __init__(self, rows: Sequence[int]):
        self.rows = rows = np.asarray(rows, dtype=np.intp)
        self.assign = False  # as a gradient target: the only writer of its rows (_plan_gradient_writes)
        consecutive = len(rows) > 0 and bool((np.diff(rows) == 1).all())
        self.key: slice | np.ndarray = slice(int(rows[0]), int(rows[-1]) + 1) if consecutive else rows
        self.repeats = len(np.unique(rows)) < len(rows)
        if self.repeats:
            self.order = np.argsort(rows, kind="stable")
            self.targets, self.starts = np.unique(rows[self.order], return_index=True)
            self.one_row = len(self.targets) == 1

    def reader(self, buffer: np.ndarray) -> Callable[[], np.ndarray]:
        """A function giving these rows of buffer: a view made once, or a fresh gather."""
        if isinstance(self.key, slice):
            view = buffer[self.key]
            return lambda: view
        key = self.key
        return lambda: buffer[key]

    def target(self, buffer: np.ndarray) -> np.ndarray | None:
        """These rows of buffer as a view to write a result into (``out=``), when this is their
        only writer and they are consecutive; else None."""
        return buffer[self.key] if self.assign and isinstance(self.key, slice) else None

    def adder(self, buffer: np.ndarray) -> Callable[[np.ndarray], None]:
        """A function adding values (one per row) into these rows of buffer (or, when this is their
        only writer, storing them: the rows were not zeroed)."""
        if self.assign:
            key = self.key

            def add(values: np.ndarray) -> None:
                buffer[key] = values

        elif self.repeats and self.one_row:
            row = buffer[int(self.targets[0]) : int(self.targets[0]) + 1]

            def add(values: np.ndarray) -> None:
                np.add(row, np.add.reduce(values, axis=0, keepdims=True), out=row)

        elif self.repeats:
            targets, order, starts = self.targets, self.order, self.starts

            def add(values: np.ndarray) -> None:
                buffer[targets] += np.add.reduceat(values[order], starts, axis=0)

        elif isinstance(self.key, slice):
            view = buffer[self.key]

            def add(values: np.ndarray) -> None:
                np.add(view, values, out=view)

        else:
            key = self.key

            def add(values: np.ndarray) -> None:
                buffer[key] += values

        return add


class _Rows:
    """One input of a group, for each member: a row of V (batch), of S (static), or a mix."""

    def __init__(self, places: Sequence[tuple[bool, int]]):
        static = np.array([s for s, _ in places], dtype=bool)
        rows = np.array([r for _, r in places], dtype=np.intp)
        self.n = len(places)
        self.batch = _Index(rows[~static]) if not static.all() else None
        self.static = _Index(rows[static]) if static.any() else None
        if self.batch is not None and self.static is not None:
            self.batch_at, self.static_at = np.flatnonzero(~static), np.flatnonzero(static)

    def reader(self, V: np.ndarray, S: np.ndarray) -> Callable[[], np.ndarray]:
        if self.static is None:
            return self.batch.reader(V)
        if self.batch is None:
            return self.static.reader(S)
        from_batch, from_static = self.batch.reader(V), self.static.reader(S)
        out, batch_at, static_at = np.empty((self.n, V.shape[1])), self.batch_at, self.static_at

        def read() -> np.ndarray:
            out[batch_at] = from_batch()
            out[static_at] = from_static()
            return out

        return read

    def targets(self) -> list[tuple[bool, _Index]]:
        """The gradient rows this input writes in backward: (in the static buffer?, rows)."""
        return [(s, x) for s, x in ((False, self.batch), (True, self.static)) if x is not None]

    def target(self, GV: np.ndarray) -> np.ndarray | None:
        """A view to write the gradient into directly (see ``_Index.target``): batch rows only."""
        return self.batch.target(GV) if self.static is None else None

    def adder(self, GV: np.ndarray, GS: np.ndarray) -> Callable[[np.ndarray], None]:
        """A function adding each member's gradient contribution to its input's gradient row
        (summed over the batch for static inputs)."""
        if self.static is None:
            return self.batch.adder(GV)
        to_static = self.static.adder(GS)
        if self.batch is None:
            return lambda grad: to_static(_batch_sum(grad))
        to_batch, batch_at, static_at = self.batch.adder(GV), self.batch_at, self.static_at

        def add(grad: np.ndarray) -> None:
            to_batch(grad[batch_at])
            to_static(_batch_sum(grad[static_at]))

        return add


def _batch_sum(grad: np.ndarray) -> np.ndarray:
    return grad if grad.shape[1] == 1 else np.add.reduce(grad, axis=1, keepdims=True)


def _times(d: Any, g: np.ndarray) -> np.ndarray:
    """The chain rule's product local x upstream, skipping a multiplication by 1."""
    return g if isinstance(d, float) and d == 1.0 else d * g


Steps = tuple[Callable[[], None], Callable[[], None]]


class _Group:
    name = "group"
    on_loss_path = True

    def place(self, is_static: bool, out: slice) -> None:
        self.is_static, self.out = is_static, out

    def bind(self, V: np.ndarray, S: np.ndarray, GV: np.ndarray, GS: np.ndarray) -> Steps:
        """The group's forward and backward steps, reading and writing views of these buffers."""
        raise NotImplementedError

    def gradient_targets(self) -> list[tuple[bool, _Index]]:
        """The rows backward writes gradients into: (in the static buffer?, rows)."""
        raise NotImplementedError


class _Elementwise(_Group):
    """k nodes of one op with the same number of inputs: one NumPy call on (k, batch) arrays.
    An n-ary op (sum, max) gets its inputs as one (n, k, batch) block and reduces the first axis."""

    def __init__(self, members: list[Value], where: Callable, wants_grad: dict):
        op: Op = members[0]._op
        self.op, self.name = op, op.name
        self.nary = op.arity == -1
        self.n = len(members[0].parents)
        self.k = len(members)
        if self.nary:  # edge i * k + m is input i of member m
            self.inputs = [_Rows([where(v.parents[i]) for i in range(self.n) for v in members])]
        else:
            self.inputs = [_Rows([where(v.parents[i]) for v in members]) for i in range(self.n)]
        self.wants = [any(wants_grad[v.parents[i]] for v in members) for i in range(self.n)]

    def gradient_targets(self) -> list[tuple[bool, _Index]]:
        wanted = self.inputs if self.nary else [x for x, w in zip(self.inputs, self.wants) if w]
        return [t for x in wanted for t in x.targets()]

    def bind(self, V: np.ndarray, S: np.ndarray, GV: np.ndarray, GS: np.ndarray) -> Steps:
        out = (S if self.is_static else V)[self.out]
        g = (GS if self.is_static else GV)[self.out]
        f, local, n, k = self.op.forward_on_arrays(), self.op.local, self.n, self.k
        reads = [x.reader(V, S) for x in self.inputs]
        saved: list[np.ndarray] = []  # the inputs of the last forward, for the local derivatives

        if self.nary:
            read, array_local, add = reads[0], self.op.array_local, self.inputs[0].adder(GV, GS)

            def forward() -> None:
                saved[:] = [read().reshape(n, k, -1)]
                out[...] = f(saved[0])

            def backward() -> None:
                d = array_local(saved[0], out)  # (n, k, batch), or one number for all inputs
                parts = d * g if isinstance(d, np.ndarray) else _times(d, g)[None].repeat(n, axis=0)
                add(parts.reshape(n * k, -1))

            return forward, backward

        writes = [
            (i, x.target(GV), x.adder(GV, GS)) for i, (x, w) in enumerate(zip(self.inputs, self.wants)) if w
        ]

        def forward() -> None:
            saved[:] = [r() for r in reads]
            out[...] = f(*saved)

        def backward() -> None:
            d = local(*saved, out)
            for i, target, add in writes:
                if target is not None and np.ndim(d[i]) <= 2:  # d broadcasts to g's shape
                    np.multiply(d[i], g, out=target)
                else:
                    add(_times(d[i], g))

        return forward, backward


class _MatMul(_Group):
    """A layer's neurons: k nodes ``Σ_i W[j, i]·a_i + Σ c_j`` that read the same rows a: W @ A."""

    name = "matmul"

    def __init__(self, terms: list[tuple], where: Callable, wants_grad: dict):
        ws, xs, consts = zip(*terms)
        self.wants_a = any(wants_grad[x] for x in xs[0])
        self.k, self.n = len(ws), len(xs[0])
        self.weights = _Index([where(w)[1] for row in ws for w in row])  # static rows, row-major (k, n)
        self.a = _Index([where(x)[1] for x in xs[0]])  # batch rows
        self.nb = len(consts[0])
        self.bias = _Index([where(c)[1] for row in consts for c in row]) if self.nb else None

    def gradient_targets(self) -> list[tuple[bool, _Index]]:
        return (
            [(True, self.weights)]
            + ([(True, self.bias)] if self.nb else [])
            + ([(False, self.a)] if self.wants_a else [])
        )

    def bind(self, V: np.ndarray, S: np.ndarray, GV: np.ndarray, GS: np.ndarray) -> Steps:
        k, n, nb = self.k, self.n, self.nb
        out, g = V[self.out], GV[self.out]
        read_w, read_a = self.weights.reader(S[:, 0]), self.a.reader(V)
        read_b = self.bias.reader(S) if nb else None
        add_w = self.weights.adder(GS[:, 0])
        add_b = self.bias.adder(GS[:, 0]) if nb else None
        add_a = self.a.adder(GV) if self.wants_a else None
        w_out = self.weights.target(GS[:, 0])  # views to write the products into, when sole writers
        w_out = None if w_out is None else w_out.reshape(k, n)
        a_out = self.a.target(GV) if self.wants_a else None
        saved: list[np.ndarray] = []

        def forward() -> None:
            W, A = read_w().reshape(k, n), read_a()
            saved[:] = [W, A]
            np.matmul(W, A, out=out)
            if nb:
                b = read_b()
                np.add(out, b if nb == 1 else b.reshape(k, nb).sum(axis=1, keepdims=True), out=out)

        def backward() -> None:
            W, A = saved
            if w_out is not None:
                np.matmul(g, A.T, out=w_out)
            else:
                add_w((g @ A.T).reshape(-1))
            if nb:
                gb = np.add.reduce(g, axis=1)
                add_b(gb if nb == 1 else np.repeat(gb, nb))
            if a_out is not None:
                np.matmul(W.T, g, out=a_out)
            elif add_a is not None:
                add_a(W.T @ g)

        return forward, backward
