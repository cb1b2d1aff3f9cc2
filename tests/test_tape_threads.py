"""A big batch runs on the tape in blocks of examples, on several threads: the blocks depend on the
batch size alone, so any number of threads gives the numbers one thread gives, and every example
and every gradient agrees with the eager engine to the tape's bound."""

import math

import numpy as np
import pytest

import nn
from autograd import NonFiniteError, Tape, Value
from autograd import max as vmax
from autograd import sum as vsum
from autograd.tape_threads import BLOCK, blocks


def test_blocks_cover_the_batch_and_depend_on_its_size_alone():
    assert blocks(1) == [(0, 1)] and blocks(2 * BLOCK - 1) == [(0, 2 * BLOCK - 1)]
    for B in (2 * BLOCK, 5 * BLOCK + 3, 10_000, 1_000_000):
        parts = blocks(B)
        sizes = [b - a for a, b in parts]
        assert parts[0][0] == 0 and parts[-1][1] == B
        assert all(a == prev for (a, _), (_, prev) in zip(parts[1:], parts))  # contiguous
        assert len(parts) % 2 == 0 and max(sizes) - min(sizes) <= 1 and min(sizes) >= BLOCK


def softplus_net(x: list[Value]) -> Value:
    """An elementwise graph (no matrix product): softplus, products, 4-way softmax, sums."""
    h = [(1 + (x[i] * x[(i + 1) % 4]).exp()).log() for i in range(4)]
    m = vmax(h)
    e = [(v - m).exp() for v in h]
    z = vsum(e)
    return vsum([(v / z) * w for v, w in zip(e, x)]) + h[0] * h[2]


def test_threads_give_the_numbers_one_thread_gives_bit_for_bit():
    """No BLAS call in this graph: every number is NumPy elementwise work, the same for each block
    whichever thread runs it, and the blocks' gradients are added in one order."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(5 * BLOCK + 7, 4))
    w = [Value(0.3), Value(-0.2)]
    tape = Tape.trace(lambda x: softplus_net(x) * w[0] + w[1] * x[0], w, X[0])
    assert len(tape._bind(len(X))) > 1  # this batch is several blocks
    results = []
    for threads in (1, 2, 3):
        tape.threads = threads
        out = tape.forward(X)
        grad = np.zeros(2)
        tape.backward(1.0, out=grad)
        results.append((out, grad))
    for out, grad in results[1:]:
        assert np.array_equal(out, results[0][0]) and np.array_equal(grad, results[0][1])


def test_a_big_batch_in_blocks_agrees_with_the_eager_engine():
    rng = np.random.default_rng(1)
    model = nn.MLP(3, [5, 4, 2], activation="tanh", seed=0)
    params = model.parameters()
    X = rng.normal(size=(2 * BLOCK + 11, 3))
    T = rng.normal(size=(len(X), 2))
    tape = Tape.trace(lambda x, t: nn.mse(model(x), t), params, X[0], T[0])
    tape.threads = 2
    out = tape.forward(X, T)
    grad = np.zeros(len(params))
    tape.backward(1.0, out=grad)
    eager_grads = np.zeros((len(X), len(params)))  # each example's gradient, summed exactly below
    for i in range(len(X)):
        loss = nn.mse(model(X[i].tolist()), T[i].tolist())
        for p in params:
            p.grad = 0.0
        loss.backward()
        assert abs(out[i, 0] - loss.data) <= 1e-12 * max(1.0, abs(loss.data))
        eager_grads[i] = [p.grad for p in params]
    exact = np.array([math.fsum(col) for col in eager_grads.T])
    scale = np.abs(eager_grads).sum(axis=0)  # the sum's condition: (m + 1) u sum |contribution|
    assert (np.abs(grad - exact) <= 1e-12 * scale + 1e-300).all()


def test_an_error_in_a_later_block_names_its_example_in_the_whole_batch():
    x = Value(1.0)
    tape = Tape.trace(lambda xs: (xs[0] * x).log(), [x], [1.0])
    X = np.ones((3 * BLOCK, 1))
    X[2 * BLOCK + 5, 0] = -1.0  # log of a negative number, in the second of two blocks
    assert len(blocks(len(X))) == 2
    with pytest.raises(NonFiniteError, match="log") as e:
        tape.forward(X)
    assert e.value.row == 2 * BLOCK + 5


def test_threads_must_be_a_positive_whole_number():
    tape = Tape.trace(lambda xs: xs[0] * 2, [], [1.0])
    assert tape.threads >= 1
    with pytest.raises(ValueError, match="Tape.threads must be a positive integer, got 0"):
        tape.threads = 0
    with pytest.raises(TypeError, match="Tape.threads must be an integer"):
        tape.threads = 1.5


def test_fit_takes_a_threads_knob_and_trains_the_same_with_any():
    X, y = nn.datasets.moons(n=2 * BLOCK + 100, noise=0.1, seed=0)
    histories = []
    for threads in (1, 2):
        model = nn.MLP(2, [8, 1], seed=0)
        opt = nn.SGD(model.parameters(), lr=0.5)
        h = nn.fit(model, X, y, loss="bce_logits", optimizer=opt, epochs=5, engine="tape", threads=threads)
        assert h.engine == "tape"
        histories.append([e["train_loss"] for e in h.epochs])
    # matrix products are BLAS calls on the same blocks either way; only the bound is asserted
    assert np.allclose(histories[0], histories[1], rtol=1e-12, atol=0)
    assert histories[0][-1] < histories[0][0]
    with pytest.raises(ValueError, match="threads must be a positive integer, got 0"):
        nn.fit(nn.MLP(2, [1], seed=0), X[:4], y[:4], loss="bce_logits", threads=0)


def test_the_fuzz_programs_stay_within_the_bound_when_every_example_is_a_block_on_threads(monkeypatch):
    """tests/test_tape_fuzz.py's programs and bound, with blocks of one example on three threads:
    the blocked, threaded path is held to what the one-block path is held to."""
    from programs import NAMES, random_steps
    from test_tape_fuzz import check_program

    import autograd.tape
    import autograd.tape_threads

    monkeypatch.setattr(autograd.tape_threads, "BLOCK", 1)  # 4 examples: 4 blocks
    monkeypatch.setattr(autograd.tape.os, "cpu_count", lambda: 3)  # each tape's default threads
    assert len(blocks(4)) == 4
    rng = np.random.default_rng(20261206)
    compared = 0
    for _ in range(400):
        steps = random_steps(rng, int(rng.integers(1, 11)), NAMES)
        X = rng.normal(size=(4, 2)) * rng.choice([0.1, 1.0, 10.0])
        compared += check_program(steps, rng.uniform(-1, 1, size=3).tolist(), X)[0]
    assert compared >= 350, compared


@pytest.mark.parametrize("kernel", ["numpy", "numba"])
def test_the_fuzz_programs_stay_within_the_bound_when_blocks_run_member_by_member(monkeypatch, kernel):
    """A wide block runs its elementwise groups member by member (``tape_groups.by_rows``, or the
    compiled kernel, ``tape_kernel``) with a write plan of its own (``plan_wide_writes``: a row's
    first writer stores, the later ones add). Here every block is wide: the fuzz programs and bound
    hold that path to what the grouped path is held to, on one block and on blocks of one example on
    three threads (with NumPy, only programs that run mostly whole groups: see ``Tape.serial``)."""
    from programs import NAMES, random_steps
    from required import required
    from test_tape_fuzz import check_program

    import autograd.tape
    import autograd.tape_kernel
    import autograd.tape_threads

    if kernel == "numba":
        required("numba", "dev")
    else:  # what "auto" takes without numba
        monkeypatch.setattr(autograd.tape_kernel, "available", lambda: False)
    monkeypatch.setattr(autograd.tape, "BY_ROWS_FROM", 1)
    rng = np.random.default_rng(20261207)
    compared = 0
    for i in range(600):
        if i == 300:
            monkeypatch.setattr(autograd.tape_threads, "BLOCK", 1)  # 4 examples: 4 blocks
            monkeypatch.setattr(autograd.tape.os, "cpu_count", lambda: 3)
        steps = random_steps(rng, int(rng.integers(1, 11)), NAMES)
        X = rng.normal(size=(4, 2)) * rng.choice([0.1, 1.0, 10.0])
        compared += check_program(steps, rng.uniform(-1, 1, size=3).tolist(), X)[0]
    assert compared >= 520, compared


def test_a_wide_batch_runs_member_by_member_and_agrees_with_the_eager_engine():
    """The batch of 2 x 2,048 examples is two wide blocks: the elementwise groups run by rows (their
    steps are the per-member ones), and every output and gradient is the eager engine's to 1e-12."""
    from autograd.tape_groups import BY_ROWS_FROM

    rng = np.random.default_rng(3)
    X = rng.normal(size=(2 * max(BY_ROWS_FROM, BLOCK) + 5, 4))
    w = [Value(0.3), Value(-0.2)]
    tape = Tape.trace(lambda x: softplus_net(x) * w[0] + w[1] * x[0], w, X[0])
    out = tape.forward(X)
    grad = np.zeros(2)
    tape.backward(1.0, out=grad)
    assert tape._wide is not None and tape._wide.by_rows  # the wide plan was made and used
    want_grad = np.zeros(2)
    for i in rng.choice(len(X), size=40, replace=False):
        xs = [Value(float(v)) for v in X[i]]
        y = softplus_net(xs) * Value(0.3) + Value(-0.2) * xs[0]
        assert out[i, 0] == pytest.approx(y.data, rel=1e-12, abs=1e-12)
    for i in range(len(X)):  # the gradient of w0 is Σ softplus_net(x), of w1 Σ x0
        want_grad[1] += X[i, 0]
    assert grad[1] == pytest.approx(want_grad[1], rel=1e-12)
    assert grad[0] == pytest.approx(float(np.sum((out[:, 0] + 0.2 * X[:, 0]) / 0.3)), rel=1e-9)


def test_a_batch_that_runs_member_by_member_is_one_block_and_says_why():
    """An irregular graph (West's: groups of one or two nodes reading rows here and there) in a wide
    batch runs member by member, where threads would trade the GIL at every NumPy call: its batch is
    one block, on one thread, and ``serial`` says why. A layered model's wide blocks run whole groups
    (their inputs are slices), in several blocks on the threads."""
    from test_west import west

    rng = np.random.default_rng(4)
    tape = west.trace_tape(west.make_graph(200))
    tape.threads, tape.kernel = 2, "numpy"
    tape.forward(west.make_inputs(2 * BLOCK + 3))
    assert len(tape._last) == 1 and tape.serial is not None and "member by member" in tape.serial
    assert tape.kernel_used == "numpy: Tape.kernel is 'numpy'"
    X = rng.normal(size=(2 * BLOCK + 3, 4))
    model = nn.MLP(4, [16, 16, 1], seed=0)
    layered = Tape.trace(lambda x: model(x), model.parameters(), X[0])
    layered.threads = 2
    layered.forward(X)
    assert layered.serial is None and len(layered._last) == 2


def test_a_session_holds_blas_to_one_thread_around_many_runs_of_several_blocks():
    """fit holds one session for its epochs: BLAS is told its threads once, not at every step (that
    telling cost more than a small step), and is as it was once the session ends. Only batches of
    several blocks hold it to one thread (the blocks are then the parallel work); one block leaves
    BLAS its own threads."""
    from threadpoolctl import threadpool_info

    def blas_threads() -> list[int]:
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    before = blas_threads()
    model = nn.MLP(64, [64, 2], seed=0)
    tape = Tape.trace(lambda x: model(x)[0], model.parameters(), np.zeros(64))
    with tape.session(2 * BLOCK):  # two blocks of 64 x 64 products: big enough for BLAS threads
        inside = blas_threads()
        tape.forward(np.ones((2 * BLOCK, 64)))
        assert blas_threads() == inside  # a run inside the session leaves it as it is
    assert all(n == 1 for n in inside)
    assert blas_threads() == before
    with tape.session(128):  # one block: BLAS keeps its threads
        tape.forward(np.ones((128, 64)))
        assert blas_threads() == before
    with tape.session(2):  # too small for BLAS to thread: nothing is touched
        assert blas_threads() == before
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        tape.session(0)
