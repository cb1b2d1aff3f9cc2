"""``Tape.forward_backward``: forward and backward in one call. With the compiled kernel and a graph
of elementwise ops (West's), a batch of any size runs as one pass over tiles of examples that keeps no
values (``tape_kernel.run_tiled``); it is held to the two-call path's numbers, to the eager
engine's bound on the fuzz programs, to identical bits on any number of threads, and it says what
it ran. Anything else runs ``forward`` then ``backward`` and says why."""

import numpy as np
import pytest
from required import required
from test_west import west

import nn
from autograd import NonFiniteError, Tape, Value, tape_kernel
from autograd.tape_groups import BY_ROWS_FROM
from autograd.tape_threads import BLOCK

required("numba", "dev")
TILED = f"numba: compiled (tape_kernel), forward and backward in one pass over tiles of {tape_kernel.TILE}"


def two_calls(tape: Tape, X: np.ndarray, Y=None, scale=1.0) -> tuple[np.ndarray, np.ndarray]:
    out = tape.forward(X, Y)
    grad = np.empty(len(tape.params))
    tape.backward(scale, out=grad)
    return out, grad


def one_call(tape: Tape, X: np.ndarray, Y=None, scale=1.0) -> tuple[np.ndarray, np.ndarray]:
    grad = np.empty(len(tape.params))
    return tape.forward_backward(X, Y, scale=scale, out=grad), grad


@pytest.fixture
def passes(monkeypatch) -> list:
    """How each forward_backward call ran ("tiled", or why not), in order."""
    ran: list = []
    original = Tape.forward_backward

    def spy(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        ran.append(self._fused)
        return result

    monkeypatch.setattr(Tape, "forward_backward", spy)
    return ran


def relative(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.abs(got - want).max() / np.abs(want).max())


@pytest.mark.parametrize("rows", [BY_ROWS_FROM + 7, 2 * BLOCK + 101])  # one block; two blocks
def test_west_in_one_tiled_pass_gives_the_two_calls_numbers(rows):
    """The two calls run some groups as whole NumPy calls (NumPy's exp, within a few ulps of the
    kernel's) and add gradients in another order (the tiled pass: tile by tile): 1e-13, normwise,
    and 1e-12 to the hand-written NumPy floor."""
    tape = west.trace_tape(west.make_graph(400))
    X = west.make_inputs(rows)
    tape.threads = 1
    want_out, want_grad = two_calls(tape, X)
    got_out, got_grad = one_call(tape, X)
    assert tape.kernel_used == TILED
    assert relative(got_out, want_out) < 1e-13
    assert relative(got_grad, want_grad) < 1e-13
    floor_out, floor_grad, _ = west.run_floor(west.make_graph(400), X)
    assert relative(got_out[:, 0], floor_out) < 1e-12
    assert relative(got_grad, (floor_grad * X).sum(axis=0)) < 1e-12  # d out / d w_i = x_i d out / d v_i


def test_threads_give_one_threads_bits_and_the_tile_keeps_no_values():
    tape = west.trace_tape(west.make_graph(300, seed=3))
    X = west.make_inputs(2 * BLOCK + 33, seed=5)
    results = []
    for threads in (1, 2, 3):
        tape.threads = threads
        results.append(one_call(tape, X, scale=0.25))
    for out, grad in results[1:]:
        assert np.array_equal(out, results[0][0]) and np.array_equal(grad, results[0][1])
    assert tape._runs == {}  # no buffers of a row per node were ever made
    program = tape._tiled
    assert program.n_grad_rows < tape._n_batch_rows // 4  # gradient rows are reused
    with pytest.raises(RuntimeError, match="forward_backward\\(\\) kept no values"):
        tape.backward()


def test_the_fuzz_programs_stay_within_the_bound_in_one_tiled_pass(monkeypatch, passes):
    """Every batch is wide (BY_ROWS_FROM patched to 1) and, where the kernel runs every op, one tiled
    pass, held to the eager engine's bound; blocks of one example run on three threads for half."""
    from programs import NAMES, random_steps
    from test_tape_fuzz import check_program

    import autograd.tape
    import autograd.tape_threads

    monkeypatch.setattr(autograd.tape, "BY_ROWS_FROM", 1)
    rng = np.random.default_rng(20261208)
    compared = 0
    for i in range(400):
        if i == 200:
            monkeypatch.setattr(autograd.tape_threads, "BLOCK", 1)
            monkeypatch.setattr(autograd.tape.os, "cpu_count", lambda: 3)
        steps = random_steps(rng, int(rng.integers(1, 11)), NAMES)
        X = rng.normal(size=(4, 2)) * rng.choice([0.1, 1.0, 10.0])
        compared += check_program(steps, rng.uniform(-1, 1, size=3).tolist(), X, fused=True)[0]
    tiled = passes.count("tiled")
    assert compared >= 340 and tiled >= 50, (compared, tiled)


def test_a_second_output_off_the_loss_path_and_a_static_one_and_targets():
    """The loss reads x and the target; a second output is off the loss's path, a third is computed
    once per batch (from the parameter alone): all come out, and .grad gets the gradient."""
    w = Value(0.7)

    def fn(x, y):
        loss = ((x[0] * w).exp() + x[1] - y[0]) * (x[1] - y[0])
        return [loss, (x[1] * 3.0).log(), w * 2.0]

    rng = np.random.default_rng(1)
    X, Y = rng.uniform(0.5, 1.5, size=(BY_ROWS_FROM + 5, 2)), rng.normal(size=(BY_ROWS_FROM + 5, 1))
    tape = Tape.trace(fn, [w], X[0], Y[0])
    want_out, want_grad = two_calls(tape, X, Y, scale=0.5)
    w.grad = 0.0
    got = tape.forward_backward(X, Y, scale=0.5)
    assert tape.kernel_used == TILED
    assert relative(got, want_out) < 1e-13 and (got[:, 2] == 1.4).all()
    assert w.grad == pytest.approx(want_grad[0], rel=1e-13)


def test_what_cannot_run_tiled_runs_in_two_calls_and_says_why():
    X = np.random.default_rng(2).normal(size=(BY_ROWS_FROM + 1, 4))
    model = nn.MLP(4, [8, 1], seed=0)
    tape = Tape.trace(lambda x: model(x), model.parameters(), X[0])
    want = two_calls(tape, X)
    got = one_call(tape, X)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    why = "forward_backward ran forward() then backward(): the compiled kernel does not run its"
    assert why in tape.kernel_used
    assert "matmul" in tape.kernel_used
    west_tape = west.trace_tape(west.make_graph(400))
    one_call(west_tape, west.make_inputs(100))  # a narrow batch too: one tile and a part
    assert west_tape.kernel_used == TILED
    west_tape.kernel = "numpy"
    one_call(west_tape, west.make_inputs(BY_ROWS_FROM))
    assert west_tape.kernel_used.endswith("forward() then backward(): Tape.kernel is 'numpy'")


def test_a_nan_runs_again_in_two_calls_which_name_the_example():
    """log of a negative number in example 2,500: the tiled pass sees a NaN come out and runs the two
    calls, whose forward raises the eager engine's error naming that example."""
    w = Value(1.0)
    tape = Tape.trace(lambda x: (x[0] * w).log() + x[1], [w], [1.0, 1.0])
    X = np.ones((BY_ROWS_FROM + 1000, 2))
    X[2500, 0] = -1.0
    with pytest.raises(NonFiniteError) as e:
        tape.forward_backward(X)
    assert e.value.row == 2500 and e.value.op == "log"
    X[2500, 0] = 2.0
    tape.forward_backward(X)
    assert tape.kernel_used == TILED


class Softplus(nn.Module):
    """An elementwise model (no matrix product): softplus(a x0) * tanh(b x1) + c."""

    nin, nout = 2, 1

    def __init__(self):
        self.a, self.b, self.c = Value(0.5), Value(-0.3), Value(0.1)

    def own_parameters(self):
        return [("a", self.a), ("b", self.b), ("c", self.c)]

    def children(self):
        return []

    def __call__(self, x):
        return [((x[0] * self.a).exp() + 1.0).log() * (x[1] * self.b).tanh() + self.c]


def squared(o, t):
    """A squared error the kernel compiles (``mse`` uses ``**``, which stays with NumPy)."""
    return (o[0] - t[0]) * (o[0] - t[0])


def test_fit_steps_through_the_one_pass_and_trains_as_the_eager_engine(passes):
    """fit's tape steps call forward_backward: an elementwise model with a loss the kernel compiles
    runs tiled, and two epochs leave the parameters where the eager engine leaves them, to 1e-10."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(600, 2))
    y = np.tanh(X[:, 0] - X[:, 1])
    trained = []
    for engine in ("tape", "eager"):
        model = Softplus()
        nn.fit(model, X, y, loss=squared, epochs=2, batch_size=200, engine=engine, progress=False)
        trained.append([p.data for p in model.parameters()])
    assert passes and set(passes) == {"tiled"}
    assert trained[0] == pytest.approx(trained[1], rel=1e-10)
