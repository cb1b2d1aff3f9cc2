"""The tape's compiled kernel (autograd/tape_kernel.py, with numba): a wide block's member-by-member
groups run as one compiled loop. Its exp and log (autograd/kernel_math.py) are held to the C
library's; its numbers to the NumPy path's and the eager engine's, threads on and off; and what it
runs, and what it leaves to NumPy, is said."""

import math

import numpy as np
import pytest
from required import required
from test_west import west

import autograd.tape_kernel
import nn
from autograd import NonFiniteError, Tape, Value, kernel_math
from autograd.tape_groups import BY_ROWS_FROM
from autograd.tape_threads import BLOCK

numba = required("numba", "dev")


def ulps(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """|got - want| in units in the last place of want."""
    return np.abs(got - want) / np.spacing(np.abs(want))


@pytest.fixture(scope="module")
def compiled():
    """kernel_math's exp and log compiled as the kernel compiles them, each run over an array."""
    jit = numba.njit(error_model="numpy")
    f_exp, f_log = jit(kernel_math.exp), jit(kernel_math.log)

    @jit
    def on_array(which, x):
        out = np.empty_like(x)
        for j in range(x.shape[0]):
            out[j] = f_exp(x[j]) if which == 0 else f_log(x[j])
        return out

    return lambda which, x: on_array(0 if which == "exp" else 1, np.asarray(x, dtype=float))


def test_exp_and_log_are_within_one_unit_in_the_last_place_of_the_c_library(compiled):
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-745, 709.7, 400_000), rng.uniform(-1, 1, 200_000)])
    assert ulps(compiled("exp", x), np.array([math.exp(v) for v in x])).max() <= 1.0
    y = np.concatenate(
        [
            np.exp(rng.uniform(-745, 709, 400_000)),  # every exponent, subnormals included
            rng.uniform(0.5, 2.0, 200_000),  # near 1, where log cancels
            rng.uniform(0, 1, 50_000) * 2.2250738585072014e-308,  # subnormal inputs
        ]
    )
    y = y[y > 0]
    assert ulps(compiled("log", y), np.array([math.log(v) for v in y])).max() <= 1.0


def test_exp_and_log_keep_the_special_values_compiled_and_as_plain_python(compiled):
    inf, nan = math.inf, math.nan
    exp_cases = [(0.0, 1.0), (-0.0, 1.0), (709.79, inf), (1e308, inf), (inf, inf), (-745.2, 0.0)]
    exp_cases += [(-1e308, 0.0), (-inf, 0.0), (-745.0, 5e-324)]  # the smallest subnormal, rounded once
    log_cases = [(1.0, 0.0), (0.0, -inf), (-0.0, -inf), (-1.0, nan), (-inf, nan), (inf, inf)]
    log_cases += [(5e-324, math.log(5e-324))]
    for name, cases in (("exp", exp_cases), ("log", log_cases)):
        plain = getattr(kernel_math, name)
        got = compiled(name, [x for x, _ in cases])
        for (x, want), g in zip(cases, got):
            with np.errstate(all="ignore"):
                p = plain(x)
            assert (math.isnan(g) and math.isnan(want)) or g == want, (name, x, g, want)
            assert (math.isnan(p) and math.isnan(want)) or p == want, (name, x, p, want)
        assert math.isnan(compiled(name, [nan])[0]) and math.isnan(plain(nan))


def test_the_kernel_compiles_the_tables_rules_and_names_those_it_cannot():
    ops = autograd.tape_kernel.kernel_ops()
    assert {"+", "-", "*", "/", "neg", "exp", "log", "tanh", "sum"} <= set(ops)
    left = autograd.tape_kernel.not_compiled()
    assert set(left) == {"abs", "**"}  # their rules check types (sign(), isinstance), as numba cannot
    assert all(why for why in left.values())


def west_tape(n_ops: int) -> Tape:
    return west.trace_tape(west.make_graph(n_ops, seed=2))


def run(tape: Tape, X: np.ndarray, kernel: str, threads: int) -> tuple[np.ndarray, np.ndarray]:
    tape.kernel, tape.threads = kernel, threads
    out, grad = west.run_tape(tape, X)
    return out, grad


def test_west_on_the_kernel_is_the_numpy_paths_to_the_bound_and_the_same_on_any_threads():
    """Two wide blocks: + - * / and the sums give NumPy's bits; exp and log are within an ulp of the
    C library's; the gradient of a static row adds left to right (NumPy adds pairwise). Threads
    never change a bit: each block's numbers come from the same compiled loop whichever runs it."""
    tape = west_tape(300)
    X = west.make_inputs(2 * BLOCK + 9, seed=5)
    floor = west.run_floor(west.make_graph(300, seed=2), X)
    numpy_out, numpy_grad = run(tape, X, "numpy", 1)
    assert tape.kernel_used == "numpy: Tape.kernel is 'numpy'"
    results = [run(tape, X, "numba", threads) for threads in (1, 2, 3)]
    assert tape.kernel_used == "numba: compiled (tape_kernel)"
    assert len(tape._last) == 2 and tape.serial is None  # on the kernel a wide batch is several blocks
    for out, grad in results[1:]:
        assert np.array_equal(out, results[0][0]) and np.array_equal(grad, results[0][1])
    out, grad = results[0]
    np.testing.assert_allclose(out, numpy_out, rtol=1e-13, atol=0)
    scale = np.abs(X * floor[1]).sum(axis=0).max()  # Σ_rows |x · g|: the sums' condition
    assert np.abs(grad - numpy_grad).max() <= 1e-13 * scale
    west.check("kernel vs floor", X, floor, (out, grad))


def test_the_kernel_stores_a_rows_first_gradient_and_adds_the_rest():
    """A node read by many (x0 by every product, w by every v = w * x) gets its gradient from each:
    the write plan's first write stores, the later ones add. A kernel that stored every time, or
    added into rows it never zeroed, would be off by far more than rounding."""
    w = [Value(0.5), Value(-1.5)]

    def fn(x):
        v = [xi * wi for xi, wi in zip(x, w)]
        terms = [(v[0] * v[1]).exp(), v[0] / (v[1] + 3.0), (v[0] + v[1]).log(), v[0] * v[0], -v[1]]
        return autograd.sum([t * v[0] for t in terms]) + autograd.sum(terms)

    rng = np.random.default_rng(7)
    X = np.column_stack([rng.uniform(0.1, 1, BY_ROWS_FROM + 3), rng.uniform(-1, -0.1, BY_ROWS_FROM + 3)])
    tape = Tape.trace(fn, w, X[0])
    tape.kernel = "numba"
    out = tape.forward(X)
    grad = np.zeros(2)
    tape.backward(1.0, out=grad)
    assert tape.kernel_used == "numba: compiled (tape_kernel)"
    want = np.zeros(2)
    for i in rng.choice(len(X), 25, replace=False):
        xs = [Value(float(v)) for v in X[i]]
        for p in w:
            p.grad = 0.0
        y = fn(xs)
        assert out[i, 0] == pytest.approx(y.data, rel=1e-13)
    for p in w:
        p.grad = 0.0
    for x in X:  # the exact gradient, example by example on the eager engine
        fn([Value(float(v)) for v in x]).backward()
    want = np.array([p.grad for p in w])
    np.testing.assert_allclose(grad, want, rtol=1e-11)


def test_ops_left_to_numpy_are_named_and_still_right():
    w = Value(0.7)

    def fn(x):
        return (x[0] * w).__abs__() + (x[1] * w) ** x[0] + x[0] * x[1]

    rng = np.random.default_rng(8)
    X = rng.uniform(0.5, 2.0, size=(BY_ROWS_FROM, 2))
    tape = Tape.trace(fn, [w], X[0])
    out = tape.forward(X)
    assert tape.kernel_used is not None and tape.kernel_used.endswith(
        "but **, abs with NumPy: numba cannot compile their rules"
    )
    tape.kernel = "numpy"
    np.testing.assert_allclose(out, tape.forward(X), rtol=1e-14, atol=0)


def test_errors_on_the_kernel_name_the_op_and_the_example():
    """The kernel computes x / 0 and log(-1) as NumPy does (inf, NaN), and the tape finds and names
    them as on the NumPy path: the eager engine's error, the op and the example's row."""
    w = Value(1.0)
    tape = Tape.trace(lambda x: (x[0] * w).log() + 1.0 / (x[1] * w), [w], [1.0, 1.0])
    X = np.ones((2 * BLOCK + 1, 2))
    X[BLOCK + 17, 0] = -3.0
    tape.kernel = "numba"
    with pytest.raises(NonFiniteError, match=r"log\(\) of -3.0 is undefined") as e:
        tape.forward(X)
    assert e.value.row == BLOCK + 17 and e.value.op == "log"
    X[BLOCK + 17, 0], X[5, 1] = 1.0, 0.0
    with pytest.raises(NonFiniteError, match="division by zero") as e:
        tape.forward(X)
    assert e.value.row == 5 and e.value.op == "/"


def test_the_kernel_knob_checks_what_it_is_given(monkeypatch):
    w = Value(1.0)
    tape = Tape.trace(lambda x: (x[0] * w).exp(), [w], [0.0])
    assert tape.kernel == "auto"
    with pytest.raises(ValueError, match="Tape.kernel must be 'auto', 'numba' or 'numpy', got 'fast'"):
        tape.kernel = "fast"
    monkeypatch.setattr(autograd.tape_kernel, "available", lambda: False)
    with pytest.raises(
        ModuleNotFoundError, match=r"numba is not installed \(pip install chainrule\[fast\]\)"
    ):
        tape.kernel = "numba"
    tape.forward(np.zeros((BY_ROWS_FROM, 1)))  # auto without numba: NumPy, and it says why
    assert tape.kernel_used == "numpy: numba is not installed (pip install chainrule[fast])"
    tape.forward(np.zeros((3, 1)))  # a narrow batch runs no group member by member
    assert tape.kernel_used is None


def test_training_steps_on_a_wide_batch_go_alike_on_the_kernel_and_on_numpy():
    X, y = nn.datasets.moons(n=2 * BLOCK, noise=0.1, seed=0)
    losses = {}
    for kernel in ("numpy", "numba"):
        model = nn.MLP(2, [4, 1], seed=0)
        tape = Tape.trace(lambda x, t, m=model: nn.bce_logits(m(x), t), model.parameters(), X[0], y[:1])
        tape.kernel = kernel
        history = []
        for _ in range(3):
            history.append(float(tape.forward(X, y[:, None]).mean()))
            grad = np.zeros(len(model.parameters()))
            tape.backward(1 / len(X), out=grad)
            for p, g in zip(model.parameters(), grad):
                p.data -= 0.5 * g
        losses[kernel] = history
    np.testing.assert_allclose(losses["numba"], losses["numpy"], rtol=1e-12)


def test_the_compiled_kernel_is_cached_and_a_later_process_loads_it(tmp_path):
    """The kernel's generated source goes to $CHAINRULE_CACHE under a name made from what it is made
    from; numba's cache beside it keeps the machine code, and a second process loads it (numba counts
    a cache hit) instead of compiling. A cache directory that cannot be written costs only the cache."""
    import os
    import subprocess
    import sys

    probe = (
        "from autograd import tape_kernel as k; k.compile(); f = k._kernel()['forward'];"
        "print(sum(f.stats.cache_hits.values()), sum(f.stats.cache_misses.values()))"
    )

    def run(cache) -> tuple[list[int], str]:
        env = {**os.environ, "CHAINRULE_CACHE": str(cache)}
        done = subprocess.run(
            [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
        )
        return [int(n) for n in done.stdout.split()], done.stderr

    assert run(tmp_path) == ([0, 1], "")  # compiled, and stored
    (source,) = tmp_path.glob("chainrule_kernel_*.py")
    assert "CODES = " in source.read_text() and list((tmp_path / "__pycache__").glob("*.nbi"))
    assert run(tmp_path) == ([1, 0], "")  # loaded
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    counts, said = run(blocked / "cache")  # not a directory: compiled in a temporary one, and said
    assert counts == [0, 1] and "cache" in said and "cannot be written" in said and "CHAINRULE_CACHE" in said


def test_kernel_used_names_what_ran_the_last_batch_not_what_is_set_now():
    w = Value(1.0)
    tape = Tape.trace(lambda x: (x[0] * w).exp() * x[0], [w], [0.0])
    tape.kernel = "numba"
    tape.forward(np.zeros((BY_ROWS_FROM, 1)))
    tape.kernel = "numpy"  # set after the batch ran
    assert tape.kernel_used == "numba: compiled (tape_kernel)"
    tape.forward(np.zeros((BY_ROWS_FROM, 1)))
    assert tape.kernel_used == "numpy: Tape.kernel is 'numpy'"
