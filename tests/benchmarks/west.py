"""The "Fastest Autograd in the West" workload: chainrule's batch tape against the NumPy floor and
PyTorch, in one process, interleaved.

The workload is A. Rogozhnikov's benchmark from "Fastest Autograd in the West" (2023): a graph of
scalar operations over 100 input variables, built from softplus, 4-term sums, products and 4-way
softmaxes (the ops take turns in that order), run forward and backward many times. Here it is
built deterministically from a seed: each new node picks random earlier nodes as its operands,
among the last 30 and two random inputs, taking unused ones first (so nearly every node reaches the
output); sums and products pick softmax outputs or inputs (once there are enough), so every value
stays bounded (a sum is at most 4, a product at most 1) and 10,000 ops neither overflow nor vanish.
(The article reads fixed offsets, ``nodes[-10]``, ``nodes[-30:-10:5]``, ...; random ones keep the
shape and make a family of graphs.) The output is the last node; the gradient is taken
with respect to the inputs, for every one of N rows of inputs.

Three ways to run it over N rows at once:

- **the tape** (``autograd.Tape``): the graph of ``Value``s is traced once (timed apart), then
  ``forward`` and ``backward`` run over a batch of rows: with NumPy (``Tape.kernel = "numpy"``) on
  one thread, and, when numba is installed, with the compiled kernel (``"numba"``) on one thread
  and on every core (``Tape.threads``); and in one call, ``Tape.forward_backward``, which with the
  compiled kernel runs both in one pass over tiles of examples and keeps no values. The tape differentiates
  parameters, so the variables are ``v_i = w_i * x_i`` with parameters ``w_i = 1``: its gradient of
  ``w_i`` is ``Σ_rows x_i · d out / d x_i``, which needs every row's backward pass;
- **the NumPy floor**: the same graph as plain NumPy arrays (each node an array of N float64s),
  with a minimal hand-written reverse pass: a list of records and one loop, no layout, no checks;
- **PyTorch batched** (when torch imports): each node a tensor of N float64s, ``torch.autograd``,
  on one thread like the floor.

The three are checked to agree before anything is timed: outputs and input gradients of every row
(floor against torch), the tape's gradients of ``w`` against the floor's, to ``TOLERANCE`` relative,
normwise (see ``check``). Then each is timed in interleaved rounds, and the median and the range (min-max)
over the rounds are printed, with the ratios to the floor taken round by round. The eager engine
is far too slow at full size: it is timed on a few rows and carried to N rows, labelled an
estimate.

    python tests/benchmarks/west.py              # 10,000 ops x 10,000 rows (about 20 GB of memory)
    python tests/benchmarks/west.py --quick      # 1,000 ops x 1,000 rows
    python tests/benchmarks/west.py --ops 2000 --rows 5000 --repeats 7
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

import autograd
from autograd import Tape, Value, tape_kernel

N_VARS = 100
WINDOW = 30  # operands come from the last WINDOW nodes
KINDS = ("softplus", "sum", "prod", "softmax")
ARITY = {"softplus": 1, "sum": 4, "prod": 2, "softmax": 4}
TOLERANCE = 1e-9  # relative; the engines round differently (fsum, running sums, NumPy's and libm's exp)


class Step(NamedTuple):
    """One op of the graph: its kind and the indices of its operands among the nodes so far (the
    inputs are nodes 0..99; a softmax adds 4 nodes, any other op 1)."""

    kind: str
    args: tuple[int, ...]


# --- the graph -------------------------------------------------------------------------------------


def make_graph(n_ops: int, seed: int = 0) -> list[Step]:
    """The workload's graph of n_ops ops over N_VARS inputs, the same for the same seed.

    An op's candidates are the last WINDOW nodes (for a sum or a product, the softmax outputs among
    them, once there are enough) and two random inputs; it takes the candidates no op has used yet
    first, so nearly every node reaches the output and every input is read."""
    rng = np.random.default_rng(seed)
    n, is_softmax, graph = N_VARS, [False] * N_VARS, []
    used: set[int] = set()
    for k in range(n_ops):
        kind = KINDS[k % 4]
        recent = range(max(0, n - WINDOW), n)
        inputs = [int(i) for i in rng.integers(0, N_VARS, size=2)]
        pool = [i for i in recent if is_softmax[i]] if kind in ("sum", "prod") else list(recent)
        pool = list(dict.fromkeys(pool + inputs))
        if len(pool) < ARITY[kind]:  # the first ops, before any softmax
            pool = list(recent)
        fresh = [i for i in pool if i not in used]
        rest = [i for i in pool if i in used]
        rng.shuffle(fresh)
        rng.shuffle(rest)
        args = tuple(int(i) for i in (fresh + rest)[: ARITY[kind]])
        used.update(args)
        graph.append(Step(kind, args))
        width = 4 if kind == "softmax" else 1
        is_softmax += [kind == "softmax"] * width
        n += width
    return graph


def make_inputs(rows: int, seed: int = 1) -> np.ndarray:
    """N rows of the 100 inputs, uniform in [-1, 1]: an array (rows, N_VARS)."""
    return np.random.default_rng(seed).uniform(-1.0, 1.0, size=(rows, N_VARS))


def build_values(graph: Sequence[Step], variables: Sequence[Value]) -> Value:
    """The graph on chainrule Values (softplus as log(exp(x) + 1), softmax as exp(z_i) / Σ exp(z_j):
    values stay bounded, so neither needs its stable form); returns the output, the last node."""
    nodes = list(variables)
    for kind, args in graph:
        a = [nodes[i] for i in args]
        if kind == "softplus":
            nodes.append((a[0].exp() + 1.0).log())
        elif kind == "sum":
            nodes.append(autograd.sum(a))
        elif kind == "prod":
            nodes.append(a[0] * a[1])
        else:
            e = [z.exp() for z in a]
            total = autograd.sum(e)
            nodes += [ei / total for ei in e]
    return nodes[-1]


# --- (a) the tape ------------------------------------------------------------------------------------


def trace_tape(graph: Sequence[Step]) -> Tape:
    """The tape of the graph on v_i = w_i * x_i, with the parameters w_i = 1 (``tape.params``)."""
    weights = [Value(1.0, label=f"w{i}") for i in range(N_VARS)]

    def example(x: list[Value]) -> Value:
        return build_values(graph, [xi * wi for xi, wi in zip(x, weights)])

    return Tape.trace(example, weights, [0.0] * N_VARS)


def run_tape(
    tape: Tape, X: np.ndarray, threads: int | None = None, kernel: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Forward and backward over the rows of X (on ``threads`` threads and with ``Tape.kernel``
    ``kernel``, if given): every row's output, and Σ_rows d out / d w."""
    if threads is not None:
        tape.threads = threads
    if kernel is not None:
        tape.kernel = kernel
    out = tape.forward(X)[:, 0]
    grad_w = np.empty(len(tape.params))
    tape.backward(out=grad_w)
    return out, grad_w


def run_one_pass(tape: Tape, X: np.ndarray, threads: int) -> tuple[np.ndarray, np.ndarray]:
    """As ``run_tape``, in one call (``Tape.forward_backward``): with the compiled kernel, one pass
    over tiles of examples that keeps no values."""
    tape.threads = threads
    grad_w = np.empty(len(tape.params))
    out = tape.forward_backward(X, out=grad_w)[:, 0]
    return out, grad_w


# --- (b) the NumPy floor -----------------------------------------------------------------------------


def run_floor(graph: Sequence[Step], X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The graph on plain arrays with a minimal reverse pass: every row's output, d out / d x
    (rows, N_VARS), and Σ_rows d out / d w for v = w * x with w = 1. Backward adds in place into
    gradients it owns and drops each record's arrays once done (no later record reads them), so
    memory stays near one forward's."""
    x = np.ascontiguousarray(X.T)  # one array of N numbers per input
    w = np.ones(N_VARS)
    nodes: list[Any] = [x[i] * w[i] for i in range(N_VARS)]
    records: list[tuple[str, tuple[int, ...], int, Any]] = []  # kind, operands, first output, saved
    for kind, args in graph:
        a = [nodes[i] for i in args]
        first = len(nodes)
        if kind == "softplus":
            e = np.exp(a[0])
            nodes.append(np.log1p(e))
            records.append((kind, args, first, e))
        elif kind == "sum":
            nodes.append(a[0] + a[1] + a[2] + a[3])
            records.append((kind, args, first, None))
        elif kind == "prod":
            nodes.append(a[0] * a[1])
            records.append((kind, args, first, None))
        else:
            E = np.exp(np.stack(a))
            Y = E / E.sum(axis=0)
            nodes += list(Y)
            records.append((kind, args, first, Y))
    out = nodes[-1]

    grads: list[Any] = [None] * len(nodes)
    owned = [False] * len(nodes)  # grads[i] is an array of its own, free to add into
    grads[-1] = np.ones(x.shape[1])

    def add(i: int, g: np.ndarray, own: bool) -> None:
        old = grads[i]
        if old is None:
            grads[i], owned[i] = g, own
        elif owned[i]:
            old += g
        else:
            grads[i], owned[i] = old + g, True

    while records:
        kind, args, first, saved = records.pop()
        width = 4 if kind == "softmax" else 1
        outs = grads[first : first + width]
        grads[first : first + width] = nodes[first : first + width] = [None] * width
        if all(g is None for g in outs):
            continue
        if kind == "softmax":
            G = np.stack([np.zeros_like(saved[0]) if g is None else g for g in outs])
            gz = saved * (G - (G * saved).sum(axis=0))
            for i, g in zip(args, gz):
                add(i, g, True)
            continue
        (g,) = outs
        if kind == "softplus":
            add(args[0], g * saved / (1.0 + saved), True)
        elif kind == "sum":
            for i in args:
                add(i, g, False)  # one array for all four
        else:
            add(args[0], g * nodes[args[1]], True)
            add(args[1], g * nodes[args[0]], True)
    zero = np.zeros(x.shape[1])
    gv = np.stack([zero if g is None else g for g in grads[:N_VARS]])
    return out, (gv * w[:, None]).T, (gv * x).sum(axis=1)


# --- (c) PyTorch batched -----------------------------------------------------------------------------


def run_torch(torch: Any, graph: Sequence[Step], X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The graph on tensors of N float64s with ``torch.autograd``: as ``run_floor`` returns."""
    x = torch.tensor(np.ascontiguousarray(X.T), dtype=torch.float64, requires_grad=True)
    w = torch.ones(N_VARS, dtype=torch.float64, requires_grad=True)
    nodes = list((x * w[:, None]).unbind(0))
    for kind, args in graph:
        a = [nodes[i] for i in args]
        if kind == "softplus":
            nodes.append(torch.log1p(torch.exp(a[0])))
        elif kind == "sum":
            nodes.append(a[0] + a[1] + a[2] + a[3])
        elif kind == "prod":
            nodes.append(a[0] * a[1])
        else:
            nodes += list(torch.softmax(torch.stack(a), dim=0).unbind(0))
    nodes[-1].sum().backward()
    return nodes[-1].detach().numpy(), x.grad.numpy().T, w.grad.numpy()


# --- the eager engine ----------------------------------------------------------------------------------


def run_eager(graph: Sequence[Step], X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The graph on Values, row by row (``backward`` on each): as ``run_floor`` returns."""
    weights = [Value(1.0) for _ in range(N_VARS)]
    out, grad_x = np.empty(len(X)), np.empty(X.shape)
    for r, row in enumerate(X.tolist()):
        xs = [Value(v) for v in row]
        y = build_values(graph, [xi * wi for xi, wi in zip(xs, weights)])
        y.backward()
        out[r], grad_x[r] = y.data, [xi.grad for xi in xs]
    return out, grad_x, np.array([wi.grad for wi in weights])


# --- checking and timing -------------------------------------------------------------------------------


def check(
    what: str,
    X: np.ndarray,
    want: tuple[np.ndarray, ...],
    got: tuple[np.ndarray, ...],
    tol: float = TOLERANCE,
) -> None:
    """Raise unless ``got`` (out, [d out/d x,] Σ_rows d out/d w) agrees with ``want`` to ``tol``,
    normwise: each output relative to its size, each row's d out/d x relative to that row's largest
    entry, d/dw relative to the largest Σ_rows |x · d out/d x|. (Gradients pass through softmaxes,
    whose backward cancels, and shrink with depth: a tiny entry carries the rounding of larger ones.)"""
    out, grad_w = got[0], got[-1]
    if not np.all(np.abs(out - want[0]) <= tol * np.abs(want[0])):
        raise AssertionError(f"{what}: outputs differ by up to {np.max(np.abs(out - want[0])):.3g}")
    if len(got) == 3 and len(want) == 3:
        err = np.abs(got[1] - want[1]).max(axis=1)
        if not np.all(err <= tol * np.abs(want[1]).max(axis=1)):
            raise AssertionError(f"{what}: d out/d x differs by up to {err.max():.3g}")
    scale = np.abs(X * want[1]).sum(axis=0).max()
    if not np.all(np.abs(grad_w - want[-1]) <= tol * scale):
        raise AssertionError(f"{what}: d/dw differs by up to {np.max(np.abs(grad_w - want[-1])):.3g}")


def interleaved(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Seconds per call of each function, one sample per round, taking turns within each round, after
    one untimed round (the first calls pay for growing the heap); a full garbage collection before
    each call, so that none pays for another's garbage."""
    for fn in fns.values():
        fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            gc.collect()
            start = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - start)
    return samples


def spread(samples: Sequence[float], unit: str = " s") -> str:
    """The median and the range of the samples."""
    return f"{statistics.median(samples):.3g}{unit} [{min(samples):.3g}-{max(samples):.3g}]"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 ops x 1,000 rows")
    parser.add_argument("--ops", type=int, help="ops in the graph (default 10,000; --quick 1,000)")
    parser.add_argument("--rows", type=int, help="rows of inputs (default 10,000; --quick 1,000)")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--eager-rows", type=int, default=3, help="rows timed eagerly for the estimate")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    n_ops = args.ops or (1_000 if args.quick else 10_000)
    rows = args.rows or (1_000 if args.quick else 10_000)

    graph, X = make_graph(n_ops, args.seed), make_inputs(rows, args.seed + 1)
    eager_rows = X[: args.eager_rows]
    start = time.perf_counter()  # first, while no other engine's objects are alive for gc to walk
    eager = run_eager(graph, eager_rows)
    eager_per_row = (time.perf_counter() - start) / len(eager_rows)
    torch: Any
    try:
        import torch

        # One thread, as the floor: its elementwise ops on N numbers are below its grain for threads
        # anyway, and its idle OpenMP threads spinning beside other work made rounds 60x slower.
        torch.set_num_threads(1)
    except ImportError:
        torch = None
    start = time.perf_counter()
    tape = trace_tape(graph)
    cores = os.cpu_count() or 1
    print(f"West workload: {n_ops:,} ops over {N_VARS} variables x {rows:,} rows (seed {args.seed})")
    print(f"  {tape!r}")
    print(f"  first trace {time.perf_counter() - start:.3g} s")

    compiled = tape_kernel.available()
    if compiled:
        start = time.perf_counter()
        tape_kernel.compile()
        print(f"  compiled kernel (numba, once per process): {time.perf_counter() - start:.3g} s")
    else:
        print(f"  compiled kernel: not run, {tape_kernel.KERNEL_WHY_NOT}")

    # Two tapes of the one trace, each with buffers of its own, so that no timed run switches a
    # tape's kernel (which rebinds its buffers): twice the tape's memory, a third of it for V and GV.
    fast = tape.fresh()
    floor = run_floor(graph, X)  # the checks (each engine's first run, untimed)
    check("tape (NumPy) vs floor", X, floor, run_tape(tape, X, 1, "numpy"))
    print(f"  NumPy tape: {len(tape._last)} block(s); {tape.kernel_used}; {tape.serial or 'threaded'}")
    if compiled:
        check("tape (compiled) vs floor", X, floor, run_tape(fast, X, 1, "numba"))
        if cores > 1:
            check(f"tape (compiled) on {cores} threads vs floor", X, floor, run_tape(fast, X, cores, "numba"))
        print(f"  compiled tape: {len(fast._last)} block(s); {fast.kernel_used}; {fast.serial or 'threaded'}")
        tiled = tape.fresh()  # keeps no buffers of a row per node: its pass holds tiles only
        tiled.kernel = "numba"
        check("tape (one pass) vs floor", X, floor, run_one_pass(tiled, X, 1))
        check(f"tape (one pass) on {cores} threads vs floor", X, floor, run_one_pass(tiled, X, cores))
        print(f"  one-pass tape: {tiled.kernel_used}")
    if torch is not None:
        check("floor vs torch", X, run_torch(torch, graph, X), floor)
    check("eager vs floor", eager_rows, run_floor(graph, eager_rows), eager)
    print(
        f"  agree: tape, floor{', torch' if torch is not None else ''} and eager (on {len(eager_rows)} "
        f"rows), relative {TOLERANCE:g}"
    )

    fns: dict[str, Callable[[], object]] = {
        "trace": lambda: trace_tape(graph),
        "tape": lambda: run_tape(tape, X, 1, "numpy"),
        "floor": lambda: run_floor(graph, X),
    }
    if compiled:
        fns["tape compiled"] = lambda: run_tape(fast, X, 1, "numba")
        if cores > 1:
            fns["tape threads"] = lambda: run_tape(fast, X, cores, "numba")
        fns["one pass"] = lambda: run_one_pass(tiled, X, 1)
        if cores > 1:
            fns["one pass threads"] = lambda: run_one_pass(tiled, X, cores)
    if torch is not None:
        fns["torch"] = lambda: run_torch(torch, graph, X)
    t = interleaved(fns, args.repeats)

    def row(what: str, name: str, ratio: str = "") -> None:
        per_round = [a / b for a, b in zip(t[name], t["floor"])]
        versus = f"{ratio:<12}{spread(per_round, 'x')}" if ratio else ""
        print(f"  {what:<34}{spread(t[name]):<28}{versus}")

    print(f"\nforward + backward over {rows:,} rows, median [min-max] of {args.repeats} interleaved rounds:")
    row("tape, NumPy, 1 thread", "tape", "tape/floor")
    if compiled:
        row("tape, compiled, 1 thread", "tape compiled", "tape/floor")
        if cores > 1:
            row(f"tape, compiled, {cores} threads", "tape threads", "tape/floor")
        row("tape, one pass, 1 thread", "one pass", "tape/floor")
        if cores > 1:
            row(f"tape, one pass, {cores} threads", "one pass threads", "tape/floor")
    else:
        print(f"  {'tape, compiled':<34}not run: {tape_kernel.KERNEL_WHY_NOT}")
    row("NumPy floor (1 thread)", "floor")
    if torch is not None:
        row("PyTorch batched (1 thread)", "torch", "torch/floor")
    else:
        print(f"  {'PyTorch batched':<34}not installed")
    print(f"  {'tape trace (once per graph)':<34}{spread(t['trace'])}")
    print(
        f"  {'eager chainrule (estimate)':<34}~{eager_per_row * rows:.3g} s "
        f"({eager_per_row * 1e3:.3g} ms per row on {len(eager_rows)} rows, x {rows:,})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
