"""The benchmark suite: one table of ratios, every figure measured in this one process over repeated,
interleaved rounds, with Python's garbage collector on (as users run).

    python tests/benchmarks/run.py            # the full suite (a few minutes; micrograd is slow)
    python tests/benchmarks/run.py --quick    # fewer repeats and a partial eager digits epoch

Rows: (1) ns per op forward and backward on a 100,000-op expression, against micrograd 0.1.0;
(2) a 100,000-deep chain; (3) micrograd's moons demo step (100 points, MLP(2, [16, 16, 1]), hinge
loss + 1e-4 L2, SGD update): eager, tape (parameters as arrays, as fit runs it; and through the
Values), micrograd and hand-written NumPy; a whole fit epoch on moons; ``fit(..., epochs=20)``
called repeatedly, per epoch; (4) one epoch of the digits classifier (MLP(64, [32, 32, 10]),
batches of 32, Adam), eager vs tape; MLP(64, [32, 32, 10]) softmax cross-entropy over 256
samples, tape vs NumPy; (5) peak memory per Value (tracemalloc) against micrograd; (6)
MLP(784, [128, 10]) through fit on 2,048 x 784 in batches of 128: the first call's wait, and an
epoch against a hand-written NumPy epoch (with BLAS as NumPy leaves it, and on one thread as the
tape runs it). The "Fastest Autograd in the West" workload is ``tests/benchmarks/west.py``. Run as
a script. Each figure is printed as its median and interquartile range over interleaved rounds,
and a target's verdict is given only when that whole range is on one side of it.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable

import numpy as np

import autograd
import nn
from autograd import Tape, Value

try:
    import micrograd.engine
    import micrograd.nn
except ImportError:  # the dev extra installs it; without it the micrograd rows say so
    micrograd = None


# --- timing ------------------------------------------------------------------------------------------
# Every figure is a list of samples, one per round; the functions compared take turns within each
# round, so a ratio is taken round by round between samples that saw the same machine load. A row
# prints the median and the interquartile range over the rounds (the middle half: one round slowed by
# another process does not move it), and its verdict says "yes" or "NO" only when that whole range is
# on one side of the target: otherwise "unclear", and a longer run (--repeats) decides.


def interleaved(
    fns: dict[str, Callable[[], object]], repeats: int, min_time: float = 0.05, collect: bool = False
) -> dict[str, list[float]]:
    """Seconds per call of each function, one sample per round, the functions taking turns in every
    round so that all see the same machine load. A fast function is called in a loop long enough to
    time it.

    With ``collect`` each sample is taken in a steady state of its own: a full collection, one
    untimed call, then the timed call, which (as in a training loop) also pays for collecting the
    garbage its previous call left (micrograd leaves reference cycles), and never another's."""
    loops = {}
    for name, fn in fns.items():
        n, t = 1, _time(fn, 1)
        while t < min_time:
            n *= 10 if t < min_time / 10 else 2
            t = _time(fn, n)
        loops[name] = n
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            if collect:
                gc.collect()
                fn()
            samples[name].append(_time(fn, loops[name]) / loops[name])
    return samples


def _time(fn: Callable[[], object], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return time.perf_counter() - start


def ratios(a: list[float], b: list[float]) -> list[float]:
    """a / b round by round (the samples of one interleaved run)."""
    assert len(a) == len(b), (len(a), len(b))
    return [x / y for x, y in zip(a, b)]


def quartiles(samples: list[float]) -> tuple[float, float, float]:
    """The first quartile, the median and the third quartile (one sample: itself three times)."""
    if len(samples) == 1:
        return samples[0], samples[0], samples[0]
    q1, q2, q3 = statistics.quantiles(samples, n=4, method="inclusive")
    return q1, q2, q3


def spread(samples: list[float], scale: float = 1.0, digits: int = 2, unit: str = "") -> str:
    """'median [q1-q3]' of the samples, times ``scale``."""
    q1, q2, q3 = (scale * q for q in quartiles(samples))
    return f"{q2:,.{digits}f}{unit} [{q1:,.{digits}f}-{q3:,.{digits}f}]"


def verdict(samples: list[float], bound: float, at_most: bool = True) -> str:
    """'yes' when the whole interquartile range meets the bound, 'NO' when none of it does, else
    'unclear'."""
    q1, _, q3 = quartiles(samples)
    met = [q <= bound if at_most else q >= bound for q in (q1, q3)]
    return "yes" if all(met) else "NO" if not any(met) else "unclear (its range straddles the target)"


# --- (1) and (2): the eager engine per op ------------------------------------------------------------


def expression(value_cls, terms: int, seed: int = 0):
    """Σ relu(a_i * b_i + c_i), reduced as a balanced tree: 4 * terms - 1 ops, wide and shallow
    (micrograd's recursive topological sort cannot take a deep graph)."""
    rng = random.Random(seed)
    leaves = [value_cls(rng.uniform(-1, 1)) for _ in range(3 * terms)]
    start = time.perf_counter()
    level = [(leaves[3 * i] * leaves[3 * i + 1] + leaves[3 * i + 2]).relu() for i in range(terms)]
    while len(level) > 1:
        pairs = [level[i] + level[i + 1] for i in range(0, len(level) - 1, 2)]
        level = pairs + level[len(pairs) * 2 :]
    return level[0], time.perf_counter() - start


def per_op(value_cls, terms: int) -> tuple[float, float]:
    """ns per op, forward and backward, on the expression."""
    root, forward = expression(value_cls, terms)
    start = time.perf_counter()
    root.backward()
    backward = time.perf_counter() - start
    del root
    gc.collect()
    ops = 4 * terms - 1
    return forward / ops * 1e9, backward / ops * 1e9


def chain(n: int) -> tuple[float, float]:
    """ns per op forward and backward on a chain n ops deep: x * a + b, again and again."""
    a, b = Value(0.999), Value(0.001)
    v = Value(1.0)
    start = time.perf_counter()
    for _i in range(n // 2):
        v = v * a + b
    forward = time.perf_counter() - start
    start = time.perf_counter()
    v.backward()
    backward = time.perf_counter() - start
    del v
    gc.collect()
    return forward / n * 1e9, backward / n * 1e9


def micrograd_on_a_chain(n: int) -> str:
    """What micrograd's backward does on the chain n ops deep (its topological sort is recursive)."""
    a, b = micrograd.engine.Value(0.999), micrograd.engine.Value(0.001)
    v = micrograd.engine.Value(1.0)
    for _i in range(n // 2):
        v = v * a + b
    try:
        v.backward()
    except RecursionError:
        return "its backward raised RecursionError"
    return "its backward ran"


def memory_per_value(value_cls, terms: int) -> float:
    """Peak bytes traced while building the expression (leaves included), per Value made."""
    gc.collect()
    tracemalloc.start()
    root, _ = expression(value_cls, terms)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del root
    gc.collect()
    return peak / (3 * terms + 4 * terms - 1)


def memory_after_exponents(n: int = 200_000) -> float:
    """Bytes still allocated after raising one Value to n distinct constant powers, the result dropped
    each time: what the per-exponent op cache keeps (bounded, so it stays small)."""
    x = Value(1.5)
    gc.collect()
    tracemalloc.start()
    for i in range(n):
        x ** (1 + i / n / 7)
    gc.collect()
    left = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return left


# --- (3): micrograd's moons demo step -----------------------------------------------------------------

ALPHA, LR = 1e-4, 1e-3


def moons_steps(X: np.ndarray, y: np.ndarray) -> dict[str, Callable[[], object]]:
    """One training step of micrograd's demo (zero grads, forward, backward, SGD update) four ways."""
    signs = 2.0 * y - 1.0
    model = nn.MLP(2, [16, 16, 1], seed=1337)
    params = model.parameters()
    rows = X.tolist()

    def eager() -> None:
        for p in params:
            p.grad = 0.0
        losses = [(1 + -s * model(x)).relu() for x, s in zip(rows, signs.tolist())]
        total = autograd.sum(losses) * (1.0 / len(losses)) + ALPHA * autograd.sum([p * p for p in params])
        total.backward()
        for p in params:
            p.data -= LR * p.grad

    def example(x: list[Value], t: list[Value]) -> Value:  # mean over the batch = data loss + penalty
        return (1 + -t[0] * model(x)).relu() + ALPHA * autograd.sum([p * p for p in params])

    tape = Tape.trace(example, params, X[0], signs[:1])
    T = signs[:, None]

    def through_values() -> None:  # the tape, reading and writing each parameter's Value
        for p in params:
            p.grad = 0.0
        tape.forward(X, T)
        tape.backward(1.0 / len(X))
        for p in params:
            p.data -= LR * p.grad

    theta, grad = np.array([p.data for p in params]), np.zeros(len(params))
    sgd = nn.SGD(params, lr=LR)

    def on_tape() -> None:  # as fit runs it: the parameters as arrays, nn.SGD's update on them
        tape.forward(X, T, params=theta)
        tape.backward(1.0 / len(X), out=grad)
        sgd.step_arrays(theta, grad)

    weights = numpy_weights(model)

    def numpy() -> None:
        grads = numpy_moons_gradients(weights, X, signs)
        for (W, b), (gW, gb) in zip(weights, grads):
            W -= LR * gW
            b -= LR * gb

    steps = {"eager": eager, "tape": on_tape, "tape via Values": through_values, "numpy": numpy}
    if micrograd is not None:
        random.seed(1337)
        mg = micrograd.nn.MLP(2, [16, 16, 1])
        mg_rows = X.tolist()

        def micrograd_step() -> None:
            inputs = [list(map(micrograd.engine.Value, row)) for row in mg_rows]
            scores = list(map(mg, inputs))
            losses = [(1 + -s * score).relu() for s, score in zip(signs.tolist(), scores)]
            total = sum(losses) * (1.0 / len(losses)) + ALPHA * sum(p * p for p in mg.parameters())
            mg.zero_grad()
            total.backward()
            for p in mg.parameters():
                p.data -= LR * p.grad

        steps["micrograd"] = micrograd_step
    return steps


def numpy_weights(model: nn.MLP) -> list[tuple[np.ndarray, np.ndarray]]:
    """The model's layers as (W, b) arrays: W[j] holds neuron j's weights."""
    return [
        (
            np.array([[w.data for w in n.w] for n in layer.neurons]),
            np.array([n.b.data for n in layer.neurons]),
        )
        for layer in model.layers
    ]


def numpy_moons_gradients(weights, X: np.ndarray, s: np.ndarray):
    """Hand-written forward and backward of mean relu(1 - s * f(x)) + alpha * Σ p², f = MLP with ReLUs."""
    (W1, b1), (W2, b2), (W3, b3) = weights
    z1 = X @ W1.T + b1
    a1 = np.maximum(z1, 0.0)
    z2 = a1 @ W2.T + b2
    a2 = np.maximum(z2, 0.0)
    score = a2 @ W3.T + b3
    margin = 1.0 - s[:, None] * score
    dscore = np.where(margin > 0.0, -s[:, None], 0.0) / len(X)
    dz2 = (dscore @ W3) * (z2 > 0.0)
    dz1 = (dz2 @ W2) * (z1 > 0.0)
    grads = [(dz1.T @ X, dz1.sum(0)), (dz2.T @ a1, dz2.sum(0)), (dscore.T @ a2, dscore.sum(0))]
    return [(gW + 2 * ALPHA * W, gb + 2 * ALPHA * b) for (gW, gb), (W, b) in zip(grads, weights)]


def fit_epoch_vs_numpy(
    X: np.ndarray, y: np.ndarray, numpy_step: Callable[[], object], repeats: int
) -> tuple[list[float], list[float]]:
    """Per round: the median wall time of an epoch of nn.fit (10 epochs, full batch, hinge, metrics;
    on the tape), and the bare NumPy step, timed in the same round."""
    model = nn.MLP(2, [16, 16, 1], seed=1337)
    epochs, steps = [], []
    for _ in range(repeats):
        h = nn.fit(
            model, X, y, loss="hinge", optimizer=nn.SGD(model.parameters(), lr=LR), epochs=10, progress=False
        )
        assert h.engine == "tape", h.engine
        epochs.append(statistics.median(h.seconds))
        steps += interleaved({"numpy": numpy_step}, 1)["numpy"]
    return epochs, steps


def fit_calls_vs_numpy(
    X: np.ndarray, y: np.ndarray, numpy_step: Callable[[], object], repeats: int
) -> tuple[list[float], list[float]]:
    """Wall time per epoch of ``nn.fit(..., epochs=20)`` called again and again on one model (the
    traced tape is kept with the model and reused), everything included; and the bare NumPy step."""
    model = nn.MLP(2, [16, 16, 1], seed=1337)
    opt = nn.SGD(model.parameters(), lr=LR)

    def call() -> None:
        h = nn.fit(model, X, y, loss="hinge", optimizer=opt, epochs=20, progress=False)
        assert h.engine == "tape", h.engine

    call()  # the first call traces
    t = interleaved({"fit20": call, "numpy": numpy_step}, repeats * 3)
    return [x / 20 for x in t["fit20"]], t["numpy"]


# --- (4): digits, and MLP(64, [32, 32, 10]) against NumPy ---------------------------------------------

TRACE_SECONDS: list[float] = []


def digits_epoch(engine: str, limit: int | None, epochs: int) -> tuple[list[float], str]:
    """Seconds for each epoch of fit on the digits training split (batches of 32, Adam); with a
    limit, each epoch over the first ``limit`` examples, scaled up to the whole split."""
    X, y = nn.datasets.digits(normalize=True)
    (Xtr, ytr), _, _ = nn.datasets.split(X, y, seed=0)
    n = len(Xtr)
    if limit is not None:
        Xtr, ytr = Xtr[:limit], ytr[:limit]
    model = nn.MLP(64, [32, 32, 10], seed=0, init="he")
    opt = nn.Adam(model.parameters(), lr=0.01)
    h = nn.fit(
        model,
        Xtr,
        ytr,
        loss="cross_entropy",
        optimizer=opt,
        epochs=epochs,
        batch_size=32,
        progress=False,
        engine=engine,
    )
    return [t * n / len(Xtr) for t in h.seconds], h.engine


def mlp64_gradients(batch: int = 256) -> dict[str, Callable[[], object]]:
    """Forward and backward of mean softmax cross-entropy of MLP(64, [32, 32, 10]): tape and NumPy."""
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, size=(batch, 64))
    labels = rng.integers(0, 10, size=batch)
    T = np.eye(10)[labels]
    model = nn.MLP(64, [32, 32, 10], seed=0, init="he")
    params = model.parameters()
    start = time.perf_counter()
    tape = Tape.trace(lambda x, t: nn.cross_entropy(model(x), t), params, X[0], T[0])
    TRACE_SECONDS.append(time.perf_counter() - start)

    theta, grad = np.array([p.data for p in params]), np.zeros(len(params))

    def on_tape() -> None:  # parameters read from and gradients left in arrays, as NumPy's are (and fit's)
        tape.forward(X, T, params=theta)
        tape.backward(1.0 / batch, out=grad)

    def through_values() -> None:  # gradients added to each .grad (zeroing them is the optimizer's part)
        tape.forward(X, T)
        tape.backward(1.0 / batch)

    weights = numpy_weights(model)

    def numpy() -> None:
        (W1, b1), (W2, b2), (W3, b3) = weights
        z1 = X @ W1.T + b1
        a1 = np.maximum(z1, 0.0)
        z2 = a1 @ W2.T + b2
        a2 = np.maximum(z2, 0.0)
        z = a2 @ W3.T + b3
        e = np.exp(z - z.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        dz = (p - T) / batch
        dz2 = (dz @ W3) * (z2 > 0.0)
        dz1 = (dz2 @ W2) * (z1 > 0.0)
        return [(dz1.T @ X, dz1.sum(0)), (dz2.T @ a1, dz2.sum(0)), (dz.T @ a2, dz.sum(0))]

    return {"tape": on_tape, "tape via Values": through_values, "numpy": numpy}


# --- (6): a bigger model through fit: MLP(784, [128, 10]) ---------------------------------------------


def mlp784_fit(repeats: int) -> tuple[float, dict[str, list[float]]]:
    """The first fit call's wait before training (its time less its one epoch), and per round one
    fit epoch (2,048 x 784, batches of 128, SGD) beside a hand-written NumPy epoch of the same
    steps, with BLAS as NumPy leaves it and with BLAS on one thread (as the tape runs it)."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, size=(2048, 784))
    y = rng.integers(0, 10, size=2048)
    model = nn.MLP(784, [128, 10], seed=0)
    opt = nn.SGD(model.parameters(), lr=0.01)

    def fit_epoch() -> float:
        h = nn.fit(model, X, y, loss="cross_entropy", optimizer=opt, epochs=1, batch_size=128, progress=False)
        assert h.engine == "tape", h.engine
        return h.seconds[0]

    start = time.perf_counter()
    first_epoch = fit_epoch()
    wait = time.perf_counter() - start - first_epoch
    (W1, b1), (W2, b2) = numpy_weights(model)
    T = np.eye(10)[y]

    def numpy_epoch() -> None:
        for i in range(0, 2048, 128):
            x, t = X[i : i + 128], T[i : i + 128]
            z1 = x @ W1.T + b1
            a1 = np.maximum(z1, 0.0)
            z = a1 @ W2.T + b2
            e = np.exp(z - z.max(axis=1, keepdims=True))
            dz = (e / e.sum(axis=1, keepdims=True) - t) / 128
            dz1 = (dz @ W2) * (z1 > 0.0)
            np.subtract(W2, 0.01 * (dz.T @ a1), out=W2)  # in place: the arrays the next step reads
            np.subtract(b2, 0.01 * dz.sum(0), out=b2)
            np.subtract(W1, 0.01 * (dz1.T @ x), out=W1)
            np.subtract(b1, 0.01 * dz1.sum(0), out=b1)

    def numpy_one_thread() -> None:
        with threadpool_limits(1, user_api="blas"):
            numpy_epoch()

    samples: dict[str, list[float]] = {"fit": [], "numpy": [], "numpy, one BLAS thread": []}
    for _ in range(repeats):
        samples["fit"].append(fit_epoch())
        for name, fn in (("numpy", numpy_epoch), ("numpy, one BLAS thread", numpy_one_thread)):
            t0 = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - t0)
    return wait, samples


# --- the table -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="chainrule benchmark suite: a table of ratios (module doc)")
    parser.add_argument("--quick", action="store_true", help="fewer rounds, a partial eager digits epoch")
    parser.add_argument("--repeats", type=int, default=None, help="rounds per figure (default 7; 5 quick)")
    args = parser.parse_args(argv)
    repeats = args.repeats or (5 if args.quick else 7)
    rows: list[tuple[str, str, str, str]] = []  # (what, figures, target, verdict)

    def row(what: str, figures: str, target: str = "", met: str = "") -> None:
        rows.append((what, figures, target, met))
        print(f"  {what}: {figures}" + (f"  target {target}: {met}" if target else ""), file=sys.stderr)

    def judged(
        what: str, samples: list[float], unit: str, target: str, bound: float, digits: int = 2
    ) -> None:
        """A row of samples with a target: "<= 2x" (at most) or ">= 10x" (at least)."""
        row(what, spread(samples, digits=digits, unit=unit), target, verdict(samples, bound, "<" in target))

    print(
        f"chainrule benchmarks: {repeats} interleaved rounds per figure, GC on, one process", file=sys.stderr
    )

    # (1) per op on a 100,000-op expression, chainrule and micrograd taking turns
    terms = 25_000
    ours: list[tuple[float, float]] = []
    theirs: list[tuple[float, float]] = []
    for _ in range(repeats):
        ours.append(per_op(Value, terms))
        if micrograd is not None:
            theirs.append(per_op(micrograd.engine.Value, terms))
    fwd, bwd = [f for f, _ in ours], [b for _, b in ours]
    row(
        "expression 100k ops, chainrule ns/op fwd / bwd", f"{spread(fwd, digits=0)} / {spread(bwd, digits=0)}"
    )
    if micrograd is not None:
        mfwd, mbwd = [f for f, _ in theirs], [b for _, b in theirs]
        row(
            "expression 100k ops, micrograd ns/op fwd / bwd",
            f"{spread(mfwd, digits=0)} / {spread(mbwd, digits=0)}",
        )
        faster = ratios(mfwd, fwd)
        judged("eager forward per op vs micrograd", faster, "x faster", ">= 10x", 10, digits=1)
        as_fast = ratios(mbwd, bwd)
        judged("eager backward per op vs micrograd", as_fast, "x as fast", ">= 1x", 1)

    # (2) a 100,000-deep chain
    deep = [chain(100_000) for _ in range(repeats)]
    other = "micrograd not installed" if micrograd is None else "micrograd: " + micrograd_on_a_chain(100_000)
    row(
        "chain 100k deep, chainrule ns/op fwd / bwd",
        f"{spread([f for f, _ in deep], digits=0)} / {spread([b for _, b in deep], digits=0)} ({other})",
    )

    # (3) the moons demo step
    X, y = nn.datasets.moons(100, noise=0.1, seed=0)
    steps = moons_steps(X, y)
    fast = interleaved(
        {k: v for k, v in steps.items() if k in ("tape", "tape via Values", "numpy")}, repeats * 3
    )
    slow_steps = {k: v for k, v in steps.items() if k in ("eager", "micrograd")}
    slow = interleaved(slow_steps, max(1, repeats - 2), 0.0, collect=True)
    row("moons step: eager (ms)", spread(slow["eager"], 1e3, 1))
    row("moons step: tape / numpy (ms)", f"{spread(fast['tape'], 1e3, 3)} / {spread(fast['numpy'], 1e3, 3)}")
    tape_numpy = ratios(fast["tape"], fast["numpy"])
    judged("moons step: tape vs numpy", tape_numpy, "x the time", "<= 2x (aim 1.5x)", 2)
    via = ratios(fast["tape via Values"], fast["numpy"])
    row(
        "moons step: tape through the Values (.data/.grad per parameter) vs numpy",
        spread(via, unit="x the time"),
    )
    if "micrograd" in slow:
        row("moons step: micrograd (ms)", spread(slow["micrograd"], 1e3, 0))
        tape_mg = [m / statistics.median(fast["tape"]) for m in slow["micrograd"]]  # not one interleaving
        judged(
            "moons step: tape vs micrograd (its rounds over the tape's median)",
            tape_mg,
            "x faster",
            ">= 5,000x",
            5000,
            0,
        )
        eager_mg = ratios(slow["micrograd"], slow["eager"])
        judged("moons step: eager vs micrograd", eager_mg, "x faster", ">= 20x", 20, digits=1)
    epoch, numpy_again = fit_epoch_vs_numpy(X, y, steps["numpy"], repeats)
    per = ratios(epoch, numpy_again)
    judged("moons fit epoch (full batch, metrics, tape) vs numpy step", per, "x", "<= 3x", 3)
    per_epoch, numpy_step = fit_calls_vs_numpy(X, y, steps["numpy"], repeats)
    per = ratios(per_epoch, numpy_step)
    judged(
        "moons fit(epochs=20) called repeatedly, per epoch (whole call / 20) vs numpy step",
        per,
        "x",
        "<= 2.5x",
        2.5,
    )

    # (4) digits; MLP(64, [32, 32, 10]) against NumPy
    tape_epochs, engine = digits_epoch("tape", None, 1 + repeats)
    eager_epochs, _ = digits_epoch("eager", 160 if args.quick else None, 1)
    assert engine == "tape", engine
    row("digits: fit's first epoch on the tape (tracing included)", f"{tape_epochs[0]:.3f} s")
    later = tape_epochs[1:]
    judged(
        "digits epoch (1,257 examples, batches of 32) on the tape, later epochs", later, " s", "<= 1 s", 1, 3
    )
    row(
        "digits epoch: eager, one epoch" + (" (from 160 examples, scaled)" if args.quick else ""),
        f"{eager_epochs[0]:.1f} s = {eager_epochs[0] / statistics.median(later):.0f}x the tape's",
    )
    t = interleaved(mlp64_gradients(), repeats * 3)
    row(
        "MLP(64,[32,32,10]) softmax CE, 256 samples, fwd+bwd: tape / numpy (ms)",
        f"{spread(t['tape'], 1e3, 3)} / {spread(t['numpy'], 1e3, 3)}",
    )
    per = ratios(t["tape"], t["numpy"])
    judged("MLP(64,[32,32,10]) fwd+bwd: tape vs numpy", per, "x the time", "<= 2x", 2)
    per = ratios(t["tape via Values"], t["numpy"])
    row("MLP(64,[32,32,10]) fwd+bwd, tape through the Values vs numpy", spread(per, unit="x the time"))
    row("tracing MLP(64,[32,32,10]) + cross-entropy once (7,106 nodes)", f"{TRACE_SECONDS[-1] * 1e3:.0f} ms")

    # (6) MLP(784, [128, 10]) through fit
    wait, t = mlp784_fit(repeats)
    met = "yes" if wait <= 0.5 else "NO"  # one call: a single figure
    row(
        "MLP(784,[128,10]) fit: the first call's wait before training (trace, checks)",
        f"{wait:.2f} s",
        "<= 0.5 s",
        met,
    )
    row(
        "MLP(784,[128,10]) fit epoch (2,048 x 784, batches of 128, SGD) / numpy / numpy, 1 BLAS thread (ms)",
        " / ".join(spread(t[k], 1e3, 1) for k in ("fit", "numpy", "numpy, one BLAS thread")),
    )
    judged("MLP(784,[128,10]) fit epoch vs numpy", ratios(t["fit"], t["numpy"]), "x the time", "<= 1.5x", 1.5)
    judged(
        "MLP(784,[128,10]) fit epoch vs numpy on one BLAS thread",
        ratios(t["fit"], t["numpy, one BLAS thread"]),
        "x the time",
        "<= 1.5x",
        1.5,
    )

    # (5) memory per Value (tracemalloc counts bytes: one run is exact, not a sample)
    ours_b = memory_per_value(Value, terms)
    if micrograd is not None:
        theirs_b = memory_per_value(micrograd.engine.Value, terms)
        met = "yes" if ours_b <= theirs_b else "NO"
        row(
            "peak memory per Value: chainrule / micrograd (bytes)",
            f"{ours_b:.0f} / {theirs_b:.0f}",
            "<= micrograd",
            met,
        )
    else:
        row("peak memory per Value: chainrule (bytes)", f"{ours_b:.0f}")
    row("memory left by 200,000 distinct constant exponents", f"{memory_after_exponents() / 1e6:.2f} MB")

    print()
    command = "python tests/benchmarks/run.py" + (" --quick" if args.quick else "")
    print(f"`{command}`: median [first-third quartile] over {repeats} or more interleaved rounds;")
    print("a verdict only when that whole range is on one side of the target.\n")
    print("| benchmark | result | target | met |")
    print("|---|---|---|---|")
    for what, figures, target, met in rows:
        print(f"| {what} | {figures} | {target} | {met} |")
    if micrograd is None:
        print("\nmicrograd is not installed (pip install -e '.[dev]'): no micrograd rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
