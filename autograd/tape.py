"""The batch tape: trace one example's graph once, then run it for a whole batch with NumPy.

    tape = Tape.trace(lambda x, y: loss(model(x), y), model.parameters(), X[0], Y[0])
    losses = tape.forward(X, Y)          # (batch, outputs): every example's outputs
    tape.backward(scale=1 / len(X))      # adds d(mean loss)/dp to each parameter's .grad

A training loop that keeps the parameters as arrays (in ``tape.params`` order) skips the Values:
``tape.forward(X, Y, params=theta)`` reads them from ``theta`` and ``tape.backward(s, out=grad)``
writes the gradient into ``grad`` (``nn.fit`` does this, with ``Optimizer.step_arrays``). Moving
thousands of parameters through Python one by one costs more than NumPy's whole step.

How it works, in three phases, one module each:

1. **trace** (here): call the function once on placeholder Values (one example's inputs and
   targets) and keep the graph it builds: the given parameters stay themselves, any other leaf is
   a constant.
2. **lay out** (``tape_layout.py``): give every node a row in one of two buffers, ``V`` (rows x
   batch: the placeholders and every node computed from them, one column per example) or ``S``
   (rows x 1: parameters, constants and nodes computed from those alone, such as an L2 penalty,
   computed once per batch); gather the nodes of one op at one depth into a group; fold each
   layer's neuron sums ``Σ w·a + b`` into one matrix product; plan which gradient rows backward
   may overwrite.
3. **run** (``tape_groups.py``, over the rows of ``tape_rows.py``): each group is one NumPy call
   forward and one or two backward, bound once per batch size to views of the buffers; ``forward``
   runs the groups by level, ``backward`` runs those on the loss's path in reverse.

Forward rules and derivatives come from the table of primitives (``Op.forward_on_arrays`` and
``Op.local``), the same rules as the eager engine, so both give the same numbers to rounding.

**How far from the eager engine.** Given the same inputs, each node's value on the tape differs
from the eager engine's by at most (u = 2**-53, float64's unit roundoff):

- an n-ary sum of x_1..x_n: ``(n + 2)·u·Σ|x_i|``. The eager engine adds with ``math.fsum`` (the
  exact sum, rounded once); the tape adds one input after another, and a layer's neuron sums
  ``Σ w·a + b`` are one BLAS matrix product (any order, perhaps fused multiply-adds). Under
  cancellation this is all of the result: ``sum([exp(40), 1, -exp(40)])`` is 1.0 eagerly, 0.0 on
  the tape. Summing exactly on the tape was measured at +23-47% on the moons step, so it is not done;
- any other primitive: ``8·u·|v|`` (+ - * / are rounded alike; NumPy's exp, log, tanh and pow
  differ from the C library's by up to 3 units in the last place);
- a gradient: each node's m contributions are added in another order, ``(m + 1)·u·Σ|contribution|``.

Through a whole program these add up as in any running error analysis: each node's bound carried
forward by the local derivatives (and, for gradients, backward by the adjoints).
``tests/test_tape_fuzz.py`` computes that bound on thousands of random programs with cancellation
and holds the tape to it. A relu, abs or max whose input lies within the bound of its kink may take
the other branch on the tape: its value stays within the bound, the gradient through it need not.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import itertools
import math
import os
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from operator import attrgetter
from typing import Any, NamedTuple, cast

import numpy as np

from . import tape_kernel
from .arguments import positive_int
from .backward import topological_order
from .errors import NumericError
from .mode import enable_grad, tracing
from .tape_groups import BY_ROWS_FROM, Elementwise, MatMul, Steps, Writes
from .tape_layout import WritePlan, lay_out, plan_wide_writes
from .tape_rows import Index
from .tape_threads import BLAS_THREADED_FROM, blocks, in_threads, one_blas_thread
from .value import Value, traced_leaf

__all__ = ["NonFiniteError", "Tape"]

_data = attrgetter("data")


def _trace(
    fn: Callable[..., Any],
    params: Sequence[Value],
    x: Sequence[float],
    y: Sequence[float] | None = None,
    signed: bool = False,
) -> Tape:
    """Record the graph ``fn`` builds for one example and flatten it into a ``Tape``.

    ``fn(xs)`` (or ``fn(xs, ys)`` when targets ``y`` are given) receives lists of traced Values
    (one per number of ``x`` and ``y``, which give only their count) and returns a Value or a
    sequence of Values; the first one is what ``Tape.backward`` differentiates. The contract is
    JAX's for ``jit``: Python numbers and state that ``fn`` reads are baked in as they are now, and
    every node built inside is ``Traced``: it has no number, so code that reads one (``.data``,
    ``float()``), branches on one or indexes with one raises ``NotTraceable`` naming the line.
    ``params`` are read afresh from their Values (or ``forward(params=)``) on every run.
    ``signed=True`` also keeps the graph's ``signature``, to compare two traces (it costs about a
    quarter of the trace, so it is not made otherwise).
    """
    xs = [traced_leaf(f"the input x[{i}]", f"x{i}") for i in range(len(_numbers(x)))]
    ys = None if y is None else [traced_leaf(f"the target t[{i}]", f"t{i}") for i in range(len(_numbers(y)))]
    with _no_collections():
        with enable_grad(), tracing():
            out = fn(xs) if ys is None else fn(xs, ys)
        roots = [out] if isinstance(out, Value) else list(out) if isinstance(out, (list, tuple)) else []
        if not roots or not all(isinstance(r, Value) for r in roots):
            raise TypeError(f"Tape.trace(): fn must return a Value or a sequence of Values, got {out!r:.80}")
        tape = Tape(roots, xs, ys or [], params, signed)
        # Let go of the traced graph while the collector is still paused: the collection that comes
        # when it resumes then walks the tape's objects only, not every traced node as well.
        del out, roots, xs, ys
    return tape


@contextlib.contextmanager
def _no_collections() -> Iterator[None]:
    """Python's cyclic collector paused: a trace makes a node per op, all kept, and each full
    collection would walk them all again (tracing MLP(784, [128, 10]) spent 0.1 s of 0.17 in it)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _signature(roots: Sequence[Value], leaves: Sequence[Value], params: Sequence[Value]) -> tuple:
    """The graph's ops, wiring, parameters and constants (by value), with no example's numbers:
    two traces with equal signatures replay alike."""
    names: dict[Value, tuple[str, int]] = {v: ("x", i) for i, v in enumerate(leaves)}
    names.update({p: ("p", i) for i, p in enumerate(params)})
    order = topological_order(list(roots))
    index = {v: i for i, v in enumerate(order)}
    nodes = tuple(
        (v.op, *(index[p] for p in v.parents)) if v.parents else names.get(v) or ("c", repr(v.data))
        for v in order
    )
    return nodes, tuple(index[r] for r in roots)


def _all_finite(a: np.ndarray) -> bool:
    """Whether every entry is finite. A finite sum says so in one pass without a temporary (a NaN
    or an infinity makes the sum NaN or infinite); only a sum that is not finite (perhaps an
    overflow of finite numbers) is looked at entry by entry."""
    return math.isfinite(np.add.reduce(a, axis=None)) or bool(np.isfinite(a).all())


def _numbers(x: Any) -> list[float]:
    return np.asarray(x, dtype=float).reshape(-1).tolist()


class Tape:
    """A traced graph, flattened into groups of NumPy operations over a batch (see the module doc).
    Make one with ``Tape.trace(fn, params, x, y=None)``.

    NaN and infinity: ``forward`` gives the eager engine's answer. NaN passes through as it does
    eagerly (relu of NaN is NaN, a max with a NaN input is NaN), and so does an infinity the eager
    engine also gives (an infinite constant, an overflowing ``*``). Where the eager engine raises
    for an example (log of a negative, exp overflowing, NaN made from numbers that were not),
    ``forward`` raises ``NonFiniteError``: ``.op`` (the primitive), ``.scope`` (the module that
    made the node), ``.row`` (the example's index in this batch, so ``X[row]``), ``.inputs``,
    ``.value``, and the eager error as ``__cause__``. A training loop adds its batch's offset to
    ``.row`` to name the caller's row. ``backward`` does the same for a local derivative that is
    NaN or infinite at finite inputs (the slope of ``x ** 0.5`` at 0, where the eager engine raises
    at forward time), before any ``.grad`` or ``out`` is written.

    Only the outputs (and the parameters' gradients) are checked, one ``isfinite`` each; checking
    every row would cost 3-4% of a step. So an infinity that a later op turns finite again, as in
    ``1 / exp(1000)``, gives 0.0 where the eager engine raises at the exp."""

    trace = staticmethod(_trace)

    def __init__(
        self,
        roots: Sequence[Value],
        inputs: Sequence[Value],
        targets: Sequence[Value],
        params: Sequence[Value],
        signed: bool = False,
    ):
        self.params = list(dict.fromkeys(params))  # each parameter once, in order
        self.n_inputs, self.n_targets, self.n_outputs = len(inputs), len(targets), len(roots)
        layout = lay_out(list(roots), [*inputs, *targets], self.params)
        self.signature = _signature(roots, [*inputs, *targets], self.params) if signed else None
        self.n_nodes = layout.n_nodes
        self.groups = layout.groups
        self._by_row = layout.params_by_row  # params[i] is in row param_rows[i] of S
        self._param_key = Index(layout.param_rows).key  # a slice when in order: a step copies once
        self._roots = layout.roots
        self._n_batch_rows, self._n_static_rows = layout.n_batch_rows, layout.n_static_rows
        self._plan = layout.plan
        self._S = np.zeros((self._n_static_rows, 1))
        self._GS = np.zeros_like(self._S)
        self._S[len(self.params) : len(self.params) + len(layout.constants), 0] = [
            v.data for v in layout.constants
        ]
        self.threads = os.cpu_count() or 1
        self.kernel = "auto"
        self._product = max((g.k * g.n for g in self.groups if isinstance(g, MatMul)), default=0)
        self._runs: dict[int, list[_Run]] = {}
        self._last: list[_Run] | None = None
        self._wide: WritePlan | None = None
        self._tiled: tape_kernel.Tiled | None = None
        self._untiled: str | None = None  # why the graph cannot run tiled ("" when it can), once known
        self._fused: str | None = None  # how the last forward_backward ran: "tiled", or why it did not
        self._bind_static()

    @property
    def threads(self) -> int:
        """How many threads a batch of several blocks (see ``blocks``) runs on: the machine's
        cores by default; 1 runs them one after another. The numbers do not depend on it. A batch
        whose groups run mostly member by member is one block whatever this says: see ``serial``."""
        return self._threads

    @threads.setter
    def threads(self, n: int) -> None:
        self._threads = positive_int("Tape.threads", n)

    @property
    def kernel(self) -> str:
        """How a wide block (``BY_ROWS_FROM`` examples or more) runs its member-by-member groups:
        ``"numba"``, compiled (``tape_kernel``: no Python per node, the GIL released, so blocks run on
        every core; needs ``pip install chainrule[fast]``); ``"numpy"``, a NumPy call per node; or
        ``"auto"`` (the default): numba when it is installed. ``kernel_used`` says which one the last
        batch ran, and why. Both give the numbers to the tape's stated bound."""
        return self._kernel

    @kernel.setter
    def kernel(self, how: str) -> None:
        if how not in ("auto", "numba", "numpy"):
            raise ValueError(f"Tape.kernel must be 'auto', 'numba' or 'numpy', got {how!r}")
        if how == "numba" and not tape_kernel.available():
            raise ModuleNotFoundError(f"Tape.kernel = 'numba': {tape_kernel.KERNEL_WHY_NOT}")
        if how != getattr(self, "_kernel", None):
            self._kernel = how
            self._runs = {}  # bound for the other kernel

    def _kernel_on(self) -> bool:
        return self._kernel == "numba" or (self._kernel == "auto" and tape_kernel.available())

    @property
    def kernel_used(self) -> str | None:
        """What ran the last batch's member-by-member groups, and why: None when it had none (no
        wide block, or none of its groups run member by member). After ``forward_backward``: that
        it ran in one tiled pass, or why it ran ``forward()`` then ``backward()``."""
        if self._fused == "tiled":
            tiles = f"forward and backward in one pass over tiles of {tape_kernel.TILE}"
            return f"numba: compiled (tape_kernel), {tiles}"
        runs = self._last
        if self._fused is not None:
            ran = self._kernel_used(runs)
            why = f"forward_backward ran forward() then backward(): {self._fused}"
            return why if ran is None else f"{ran}; {why}"
        return self._kernel_used(runs)

    def _kernel_used(self, runs: list[_Run] | None) -> str | None:
        if runs is None or runs[0].V.shape[1] < BY_ROWS_FROM or not self._wide_plan().by_rows:
            return None
        kernel, compiled = self._last_kernel
        if kernel == "numpy":
            return "numpy: Tape.kernel is 'numpy'"
        if not compiled:
            return f"numpy: {tape_kernel.KERNEL_WHY_NOT}"
        left = sorted(
            {self.groups[i].op.name for i in self._wide_plan().by_rows} & set(tape_kernel.not_compiled())
        )
        if left:
            why = "numba cannot compile their rules"
            return f"numba: compiled (tape_kernel), but {', '.join(left)} with NumPy: {why}"
        return "numba: compiled (tape_kernel)"

    @property
    def serial(self) -> str | None:
        """Why the last batch ran as one block on one thread although it is big enough for several
        (``blocks``), or None. A wide block whose groups run mostly member by member makes one short
        NumPy call per node; threads would hand the GIL to each other at every call (two ran West's
        graph slower than one, ``tests/benchmarks/west.py``), and one block makes each call once
        instead of once per block. It depends on the graph, the batch size and ``kernel`` (the
        compiled kernel holds no GIL, so its batches run in blocks), never on ``threads``."""
        runs = self._last
        if runs is None or len(runs) > 1 or len(blocks(runs[0].V.shape[1])) < 2:
            return None
        return (
            "its groups run mostly member by member (a NumPy call per node): threads would hand the GIL "
            "to each other at every call, so it runs as one block, on one thread (the compiled kernel, "
            "Tape.kernel, would run it in blocks)"
        )

    def _blas_for(self, B: int) -> contextlib.AbstractContextManager:
        """BLAS on one thread while this batch runs, when it runs in several blocks (the blocks are
        then the parallel work, see ``tape_threads``) and its biggest matrix product is big enough for
        BLAS to use threads at all; else nothing to do (and no cost): one block leaves BLAS its threads."""
        if self._product * B >= BLAS_THREADED_FROM and len(blocks(B)) > 1:  # the cheap test first
            return one_blas_thread()
        return contextlib.nullcontext()

    def session(self, batch_size: int) -> contextlib.AbstractContextManager:
        """A context for many runs of batches of up to ``batch_size`` examples: what each run would
        set up and undo (BLAS kept to one thread, for batches of several blocks) is done once, around
        all of them. Telling BLAS its threads costs more than a small step: ``nn.fit`` holds one
        session for its epochs."""
        return self._blas_for(positive_int("batch_size", batch_size))

    def fresh(self) -> Tape:
        """The same traced graph with buffers of its own: two callers (say ``fit`` and an
        ``evaluate`` from another thread) never share a run's numbers."""
        twin = copy.copy(self)  # the groups and layout are read-only once built: shared
        twin._S, twin._GS = self._S.copy(), np.zeros_like(self._GS)
        twin._runs, twin._last, twin._fused = {}, None, None
        twin._bind_static()
        return twin

    def _bind_static(self) -> None:
        """The steps of the static groups (computed once per batch, from parameters and constants
        alone: they read and write S and GS only), bound to this tape's S and GS."""
        no_batch = np.zeros((self._n_batch_rows, 0))
        static = [(g, self._plan.writes[i]) for i, g in enumerate(self.groups) if g.is_static]
        steps = [g.bind(no_batch, self._S, no_batch, self._GS, w) for g, w in static]
        self._static_forward = [f for f, _ in steps]
        self._static_backward = [b for (_, b), (g, _) in zip(steps, static) if g.on_loss_path][::-1]

    def __repr__(self) -> str:
        kinds = Counter(g.name for g in self.groups)
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
        ``self.params``, in that order) when given. A big batch runs in blocks, on ``threads``."""
        X = self._batch(X, self.n_inputs, "inputs")
        Y = self._batch(Y, self.n_targets, "targets", len(X)) if self.n_targets else None
        return self._forward(X, Y, params)

    def _forward(self, X: np.ndarray, Y: np.ndarray | None, params: np.ndarray | None) -> np.ndarray:
        B = len(X)
        runs = self._runs.get(B) or self._bind(B)
        S = self._S
        self._load_params(params)
        self._fused = None
        out = np.empty((B, self.n_outputs))

        def run_block(run: _Run) -> None:
            V, cols = run.V, slice(run.start, run.start + run.V.shape[1])
            V[: self.n_inputs] = X[cols].T
            if Y is not None:
                V[self.n_inputs : self.n_inputs + self.n_targets] = Y[cols].T
            for step in run.forward:  # NumPy's errors off (below; the threads take it): a NaN or
                step()  # infinity is reported after, naming the example
            for j, (is_static, row) in enumerate(self._roots):
                out[cols, j] = (S if is_static else V)[row]

        with np.errstate(all="ignore"):  # no matrix products here (tape_kernel.tiles): no BLAS
            for step in self._static_forward:
                step()
            in_threads(run_block, runs, self.threads)
        self._last_kernel = self._kernel, self._kernel_on()  # kernel_used reports it, if it changes
        self._last = runs
        if not _all_finite(out):
            for run in runs:  # the first example's block first: its error names that example
                self._find_non_finite(run)
        return out

    def _load_params(self, params: np.ndarray | None) -> None:
        if params is None:
            self._S[: len(self.params), 0] = np.fromiter(map(_data, self._by_row), float, len(self.params))
        else:
            self._S[self._param_key, 0] = params

    def forward_backward(
        self,
        X: Any,
        Y: Any = None,
        scale: float = 1.0,
        params: np.ndarray | None = None,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """``forward(X, Y, params)`` then ``backward(scale, out)``, in one call, giving forward's
        outputs. When the compiled kernel runs every batch group of the graph (``tape_kernel.tiles``:
        elementwise ops it compiles, no matrix products), both run in one pass over tiles of
        ``tape_kernel.TILE`` examples (a batch of any size, in blocks on ``threads``), which
        keeps no values: megabytes instead of a row per node and example, and no trip to memory.
        ``kernel_used`` says whether it did, or why not. The numbers are the kernel's, but for a
        static input's gradient, summed tile by tile (within the tape's stated bound). A NaN or an
        infinity in the outputs or the gradients runs it again as ``forward`` and ``backward``,
        which raise or give what they give. ``backward()`` after it needs a ``forward()`` first."""
        X = self._batch(X, self.n_inputs, "inputs")
        Y = self._batch(Y, self.n_targets, "targets", len(X)) if self.n_targets else None
        why = self._why_not_tiled()
        if why is None:
            outputs = self._run_tiled(X, Y, scale, params, out)
            if outputs is not None:
                return outputs
            why = (
                "a NaN or an infinity came out, so it ran again as forward() and backward(), which say where"
            )
        outputs = self._forward(X, Y, params)
        self.backward(scale, out)
        self._fused = why
        return outputs

    def _why_not_tiled(self) -> str | None:
        """Why ``forward_backward`` cannot run as one tiled pass, or None."""
        if not self._kernel_on():
            return "Tape.kernel is 'numpy'" if self._kernel == "numpy" else tape_kernel.KERNEL_WHY_NOT
        if self._untiled is None:  # the graph's part, found once
            self._untiled = self._why_graph_not_tiled()
        return self._untiled or None

    def _why_graph_not_tiled(self) -> str:
        """Why this graph cannot run tiled, or "". Matrix products and ops the kernel has no loop for
        are found before the kernel is asked (which compiles it, or loads it: 0.4 s)."""
        if self._roots[0][0]:
            return "the first output is computed once per batch, from parameters and constants alone"
        batch = [g for g in self.groups if not g.is_static]
        for ask in (tape_kernel.could_tile, tape_kernel.tiles):
            left = sorted({g.name for g in batch if not ask(g)})
            if left:
                return f"the compiled kernel does not run its {', '.join(left)} groups"
        return ""

    def _run_tiled(
        self,
        X: np.ndarray,
        Y: np.ndarray | None,
        scale: float,
        params: np.ndarray | None,
        out: np.ndarray | None,
    ) -> np.ndarray | None:
        """``forward_backward`` as one tiled pass per block, on ``threads``; None (and nothing
        written) when an output or a gradient is NaN or infinite."""
        if self._tiled is None:
            batch = [cast(Elementwise, g) for g in self.groups if not g.is_static]  # all tiles()
            plan = plan_wide_writes(self.groups, self._roots[0], self._plan, tape_kernel.tiles)
            writes = [w for g, w in zip(self.groups, plan.writes) if not g.is_static]
            self._tiled = tape_kernel.tiled_programs(batch, writes, self._n_batch_rows, self._roots[0][1])
        program, B, S = self._tiled, len(X), self._S
        self._load_params(params)
        XY = X if Y is None else np.hstack([X, Y])
        batch_roots = [j for j, (is_static, _) in enumerate(self._roots) if not is_static]
        rows = np.array([self._roots[j][1] for j in batch_roots], dtype=np.int64)
        parts = blocks(B)
        shares = [np.zeros_like(self._GS) for _ in parts]
        outputs = np.empty((B, self.n_outputs))

        def run_block(i: int) -> None:
            start, stop = parts[i]
            block = np.empty((stop - start, len(rows)))
            tape_kernel.run_tiled(
                program, np.ascontiguousarray(XY[start:stop].T), S, block, rows, scale, shares[i]
            )
            outputs[start:stop, batch_roots] = block

        with np.errstate(all="ignore"):  # no matrix products here (tape_kernel.tiles): no BLAS
            for step in self._static_forward:
                step()
            for j, (is_static, row) in enumerate(self._roots):
                if is_static:
                    outputs[:, j] = S[row, 0]
            in_threads(run_block, range(len(parts)), self.threads)
            grads = self._static_gradients(shares, B, scale)
        if not (_all_finite(outputs) and _all_finite(grads)):
            return None
        self._last, self._fused = None, "tiled"
        self._hand_out(grads, out)
        return outputs

    def _find_non_finite(self, run: _Run) -> None:
        """Some output is NaN or infinite: find the first op that made that from inputs that were not
        (NaN from non-NaN, infinity from finite) and raise what the eager engine raises there, as a
        ``NonFiniteError`` naming the op and the example. NaN or infinity that only passed through
        (from a NaN or infinite parameter or constant, or an overflow eager allows too) is no error."""
        for g in self.groups:
            block = (self._S if g.is_static else run.V)[g.out]
            bad = ~np.isfinite(block)
            if not bad.any():
                continue
            for column, member in zip(*np.nonzero(bad.T)):
                inputs = g.member_inputs(run.V, self._S, int(member), int(column))
                value = float(block[member, column])
                if any(map(math.isnan, inputs)):
                    continue  # passed on, as the eager engine passes it on
                example = None if g.is_static else run.start + int(column)
                where = (g.op.name, g.scopes[member], example, inputs, value)
                try:  # the eager rule on these inputs decides, not NumPy's kernel (a fused
                    again = g.op.forward(*inputs)  # multiply-add may give inf where eager gives NaN)
                except (ArithmeticError, ValueError) as e:
                    raise NonFiniteError(*where, str(e)) from e
                if math.isnan(again):
                    raise NonFiniteError(
                        *where, f"{g.op.name} of {inputs} made NaN from inputs that were not"
                    )

    def _find_non_finite_derivative(self, run: _Run) -> None:
        """Some parameter's gradient is NaN or infinite: find the first op whose local derivative is,
        at finite inputs (the slope of x ** 0.5 at 0, say), and raise ``NonFiniteError`` naming it,
        with the eager engine's error chained when its rule raises there. A gradient that overflows
        while adding up, or comes from a NaN parameter, is left as the eager engine leaves it."""
        for g in self.groups:
            site = g.non_finite_local(run.V, self._S) if g.on_loss_path else None
            if site is None:
                continue
            member, column = site
            inputs = g.member_inputs(run.V, self._S, member, column)
            value = float((self._S if g.is_static else run.V)[g.out][member, column])
            example = None if g.is_static else run.start + column
            where = (g.op.name, g.scopes[member], example, inputs, value)
            try:
                local = g.op.local(*inputs, value)
            except (ArithmeticError, ValueError) as e:
                raise NonFiniteError(*where, str(e)) from e
            raise NonFiniteError(*where, f"the derivative of {g.op.name} at {inputs} is {list(local)}")

    def backward(self, scale: float = 1.0, out: np.ndarray | None = None) -> None:
        """Add ``scale`` x (sum over the last forward's examples of d output0 / d p) to each
        parameter's ``.grad``. With ``scale = 1 / batch`` that is the gradient of the mean loss.
        With ``out`` (a float array, one entry per ``self.params``), write it there instead and
        leave the Values alone."""
        runs = self._last
        if runs is None:
            after = " (forward_backward() kept no values to differentiate)" if self._fused == "tiled" else ""
            raise RuntimeError(f"Tape.backward() needs a forward() first{after}")
        is_static, row = self._roots[0]
        B = runs[-1].start + runs[-1].V.shape[1]

        def run_block(run: _Run) -> None:
            GV = run.GV
            if run.zero_batch is not None:
                GV[run.zero_batch] = 0.0
            if run.zero_static is not None:
                run.GS[run.zero_static] = 0.0
            if not is_static:
                GV[row] = scale
            for step in run.backward:
                step()

        with self._blas_for(B), np.errstate(all="ignore"):
            in_threads(run_block, runs, self.threads)
            grads = self._static_gradients([run.GS for run in runs], B, scale)
        if not _all_finite(grads):
            for run in runs:
                self._find_non_finite_derivative(run)
        self._hand_out(grads, out)

    def _static_gradients(self, shares: list[np.ndarray], B: int, scale: float) -> np.ndarray:
        """The parameters' gradients (in row order), from each block's share of the static
        gradients, added in block order, through the static groups' backward."""
        GS = self._GS
        if len(shares) > 1 or shares[0] is not GS:
            np.copyto(GS, shares[0])
            for share in shares[1:]:
                np.add(GS, share, out=GS)
        is_static, row = self._roots[0]
        if is_static:
            GS[row] = scale * B
        for step in self._static_backward:
            step()
        return GS[: len(self.params), 0]

    def _hand_out(self, grads: np.ndarray, out: np.ndarray | None) -> None:
        """Write the gradients into ``out`` (``params`` order) or add them to each ``.grad``."""
        if out is not None:
            np.copyto(out, self._GS[self._param_key, 0])
            return
        for p, g in zip(self._by_row, grads.tolist()):
            p.grad += g

    def _bind(self, B: int) -> list[_Run]:
        """Buffers for batches of B examples, one set per block, and every batch group's steps bound
        to views of them (a block's static gradients go to a buffer of its own when there are several).
        A block of ``BY_ROWS_FROM`` examples or more runs its elementwise groups member by member,
        with the write plan made for that (``plan_wide_writes``, made once)."""
        if len(self._runs) >= 4:  # a few batch sizes (say the full one and a ragged last) are kept
            self._runs.clear()
        parts = blocks(B)
        if len(parts) > 1 and self._member_by_member() and not self._kernel_on():  # see serial
            parts = [(0, B)]
        runs = []
        for start, stop in parts:
            V, GV = np.zeros((self._n_batch_rows, stop - start)), np.zeros((self._n_batch_rows, stop - start))
            GS = self._GS if len(parts) == 1 else np.zeros_like(self._GS)
            wide = stop - start >= BY_ROWS_FROM
            plan = self._wide_plan() if wide else self._plan
            steps, on_path = self._bind_block(plan, V, GV, GS, wide and self._kernel_on())
            backward = [b for (_, b), p in zip(steps, on_path) if p][::-1]
            runs.append(
                _Run(V, GV, GS, start, [f for f, _ in steps], backward, plan.zero_batch, plan.zero_static)
            )
        self._runs[B] = runs
        return runs

    def _bind_block(
        self, plan: WritePlan, V: np.ndarray, GV: np.ndarray, GS: np.ndarray, compiled: bool
    ) -> tuple[list[Steps], list[bool]]:
        """One block's batch groups bound to its buffers, with whether each step is on the loss's
        path. Member-by-member groups (``plan.by_rows``) run with NumPy on a scratch row, or, when
        ``compiled``, each run of consecutive ones as one step of the compiled kernel."""
        width = V.shape[1]
        scratch = np.empty((4, width)) if compiled else np.empty((1, width))
        steps: list[Steps] = []
        on_path: list[bool] = []
        batch = [(i, g, w) for i, (g, w) in enumerate(zip(self.groups, plan.writes)) if not g.is_static]
        for by_kernel, run in itertools.groupby(
            batch, lambda t: compiled and t[0] in plan.by_rows and tape_kernel.runs(cast(Elementwise, t[1]))
        ):
            if by_kernel:
                _, gs, ws = zip(*run)
                steps.append(tape_kernel.bind_segment(gs, ws, V, self._S, GV, GS, scratch))
                on_path.append(True)
                continue
            for i, g, w in run:
                by_rows = i in plan.by_rows
                steps.append(g.bind(V, self._S, GV, GS, Writes(w.stores, scratch[0]) if by_rows else w))
                on_path.append(g.on_loss_path)
        return steps, on_path

    def _member_by_member(self) -> bool:
        """Whether a wide block runs most of its groups member by member (see ``serial``)."""
        plan = self._wide_plan()
        return 2 * len(plan.by_rows) >= sum(not g.is_static for g in self.groups)

    def _wide_plan(self) -> WritePlan:
        if self._wide is None:
            self._wide = plan_wide_writes(self.groups, self._roots[0], self._plan)
        return self._wide

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
        if not _all_finite(X):
            i = int(np.argmax(~np.isfinite(X).all(axis=1)))
            raise ValueError(f"tape: row {i} of the {name} holds NaN or infinity: {X[i].tolist()}")
        return X


class NonFiniteError(NumericError, FloatingPointError):
    """A value went NaN or infinite on the tape where the eager engine raises: ``op`` names the
    primitive (``"sum"`` for a layer's neuron sums, run as a matrix product), ``scope`` the module
    that made it (``Value.scope``, or None), ``row`` the example's index in the batch given to
    ``forward`` (None for a node computed once per batch from parameters and constants), ``inputs``
    the op's inputs there and ``value`` what the tape got. The eager engine's own error for those
    inputs, when it raises one, is chained as ``__cause__`` and its message is this one's start."""

    def __init__(
        self, op: str, scope: str | None, row: int | None, inputs: list[float], value: float, why: str
    ):
        self.op, self.scope, self.row, self.inputs, self.value = op, scope, row, inputs, value
        where = "computed once per batch" if row is None else f"example {row} of the batch"
        made = f"{self.op}" + (f" in {self.scope}" if self.scope else "")
        super().__init__(f"{why} (on the tape: {made}, {where}, gave {value!r})")


class _Run(NamedTuple):
    """One block of a batch: its buffers (``GS``: its share of the static gradients, or the tape's
    own when the batch is one block), its first example's index, and the steps of the batch groups
    bound to them."""

    V: np.ndarray
    GV: np.ndarray
    GS: np.ndarray
    start: int
    forward: list[Callable[[], None]]
    backward: list[Callable[[], None]]
    zero_batch: slice | np.ndarray | None  # the gradient rows backward zeroes first (the write plan)
    zero_static: slice | np.ndarray | None
