"""The batch tape against the eager engine: same outputs, losses and parameter gradients (1e-12
relative) on MLPs and losses of every kind; same training history; clear errors for bad batches;
and a digits classifier trained on the tape. Random programs with cancellation, held to the tape's
stated bound: test_tape_fuzz.py."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

import autograd
from autograd import Tape, Value
from autograd.tape import NonFiniteError
from nn import (
    MLP,
    SGD,
    Adam,
    FallbackWarning,
    NotTraceable,
    datasets,
    encode_targets,
    evaluate,
    fit,
    get_loss,
)

RTOL = 1e-12


def close(got, want, scale=1.0) -> None:
    """Equal to 1e-12 relative (absolute 1e-12 of the typical size, for values that cancel to ~0)."""
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=RTOL * scale)


def eager_batch(fn, params, X, Y=None, scale=1.0):
    """The eager engine's answer: every example's outputs, and scale * Σ d output0 / d p."""
    for p in params:
        p.grad = 0.0
    outs = []
    for i, x in enumerate(X):
        args = [[Value(v) for v in x]] + ([] if Y is None else [[Value(v) for v in Y[i]]])
        out = fn(*args)
        outs.append(out if isinstance(out, list) else [out])
    total = autograd.sum([o[0] for o in outs]) * scale
    total.backward()
    grads = [p.grad for p in params]
    for p in params:
        p.grad = 0.0
    return np.array([[v.data for v in o] for o in outs]), np.array(grads)


def tape_batch(tape, params, X, Y=None, scale=1.0):
    for p in params:
        p.grad = 0.0
    out = tape.forward(X, Y)
    tape.backward(scale)
    grads = np.array([p.grad for p in params])
    for p in params:
        p.grad = 0.0
    return out, grads


def assert_tape_matches_eager(fn, params, X, Y=None, scale=1.0):
    tape = Tape.trace(fn, params, X[0], None if Y is None else Y[0])
    want_out, want_grad = eager_batch(fn, params, X, Y, scale)
    got_out, got_grad = tape_batch(tape, params, X, Y, scale)
    close(got_out, want_out, scale=np.abs(want_out).max())
    close(got_grad, want_grad, scale=np.abs(want_grad).max() + 1e-300)
    return tape


# --- MLPs and losses ---------------------------------------------------------------------------------

LOSS_CASES = [  # (loss, output activation, number of outputs)
    ("mse", "linear", 3),
    ("sse", "tanh", 2),
    ("bce", "sigmoid", 1),
    ("bce_logits", "linear", 1),
    ("cross_entropy", "linear", 4),
    ("hinge", "linear", 1),
    ("hinge", "linear", 3),
    ("mse", "softmax", 3),
]


def model_and_loss(nin, hidden, activation, loss, output_activation, nout, seed=0):
    model = MLP(nin, [*hidden, nout], activation=activation, output_activation=output_activation, seed=seed)
    loss_fn = get_loss(loss)

    def example(x, t):
        out = model(x)
        outs = out if isinstance(out, list) else [out]
        return [loss_fn(out, t), *outs]

    return model, example


def data(n, nin, nout, loss, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, nin))
    labels = rng.integers(0, max(nout, 2), size=n)
    return X, encode_targets(labels, "signs" if loss == "hinge" else "labels", nout)  # mse: one-hot


@pytest.mark.parametrize("loss, output_activation, nout", LOSS_CASES)
@pytest.mark.parametrize(
    "hidden, activation", [([5], "relu"), ([4, 3], "tanh"), ([6, 5], "sigmoid"), ([], "relu")]
)
def test_mlp_and_loss_match_eager(loss, output_activation, nout, hidden, activation):
    model, example = model_and_loss(3, hidden, activation, loss, output_activation, nout)
    X, T = data(20, 3, nout, loss)
    assert_tape_matches_eager(example, model.parameters(), X, T, scale=1 / 20)


def test_a_batch_of_one_and_a_ragged_last_batch():
    model, example = model_and_loss(2, [8, 8], "relu", "cross_entropy", "linear", 3)
    X, T = data(23, 2, 3, "cross_entropy")
    tape = Tape.trace(example, model.parameters(), X[0], T[0])
    for batch in (slice(0, 1), slice(0, 10), slice(10, 20), slice(20, 23), slice(5, 6)):
        want_out, want_grad = eager_batch(example, model.parameters(), X[batch], T[batch], 0.1)
        got_out, got_grad = tape_batch(tape, model.parameters(), X[batch], T[batch], 0.1)
        close(got_out, want_out, np.abs(want_out).max())
        close(got_grad, want_grad, np.abs(want_grad).max())


def test_the_micrograd_demo_loss_with_l2_on_parameters_only():
    """hinge + alpha * Σ p²: the penalty reads only parameters, so it is computed once per batch."""
    model = MLP(2, [16, 16, 1], seed=1)
    params = model.parameters()

    def example(x, t):
        return (1 + -t[0] * model(x)).relu() + 1e-4 * autograd.sum([p * p for p in params])

    X, y = datasets.moons(40)
    T = (2.0 * y - 1.0)[:, None]
    tape = assert_tape_matches_eager(example, params, X, T, scale=1 / 40)
    assert "matmul" in repr(tape)


def test_backward_accumulates_into_grad_like_eager():
    model, example = model_and_loss(2, [3], "relu", "mse", "linear", 1)
    X, T = data(5, 2, 1, "mse")
    tape = Tape.trace(example, model.parameters(), X[0], T[0])
    tape.forward(X, T)
    tape.backward()
    once = [p.grad for p in model.parameters()]
    tape.backward()
    assert [p.grad for p in model.parameters()] == [2 * g for g in once]


def test_constants_parameter_exponents_and_shared_weights():
    w, c = Value(0.7), Value(1.3)

    def example(x):
        a = x[0] * w + x[1] * w  # the same weight twice
        b = autograd.sum([x[0] * w, x[1] * c, w])  # a matmul row with a bias that is also a weight
        return [(a.sigmoid() + 0.5) ** c + b * 2.0 - x[0] ** 3 + 2 ** x[1] + abs(b) / (1 + c * c), a, b]

    X = np.random.default_rng(3).normal(size=(9, 2))
    assert_tape_matches_eager(example, [w, c], X)


def test_a_neuron_that_reads_one_input_twice_and_neurons_that_read_inputs_in_other_orders():
    ws = [Value(v) for v in (0.5, -1.5, 2.0, 0.25, 1.0)]

    def example(x):
        a = autograd.sum([x[0] * ws[0], x[0] * ws[1], ws[2] * x[1], ws[4]])
        b = autograd.sum([x[1] * ws[3], x[0] * ws[2]])
        return [(a * b).tanh(), a, b]

    tape = assert_tape_matches_eager(example, ws, np.random.default_rng(5).normal(size=(7, 2)))
    assert "matmul" in repr(tape)
    with pytest.raises(TypeError, match="fn must return a Value"):
        Tape.trace(lambda x: 3.0, ws, [1.0, 2.0])


def test_outputs_that_are_placeholders_or_parameters():
    w = Value(2.0)
    X = np.arange(6.0).reshape(3, 2)
    tape = Tape.trace(lambda x: [x[0] * w, x[1], w], [w], X[0])
    close(tape.forward(X), [[0.0, 1.0, 2.0], [4.0, 3.0, 2.0], [8.0, 5.0, 2.0]])
    tape.backward()
    assert w.grad == 0.0 + 2.0 + 4.0


# --- training ------------------------------------------------------------------------------------


@pytest.mark.parametrize("loss, nout, optimizer", [("hinge", 1, "sgd"), ("cross_entropy", 2, "adam")])
def test_training_on_the_tape_gives_the_eager_history(loss, nout, optimizer):
    X, y = datasets.moons(60, seed=2)
    histories, weights = [], []
    for engine in ("eager", "tape"):
        model = MLP(2, [8, 8, nout], seed=4)
        params = model.parameters()
        opt = SGD(params, lr=0.1, momentum=0.9) if optimizer == "sgd" else Adam(params, 0.02)
        h = fit(
            model,
            X,
            y,
            loss=loss,
            optimizer=opt,
            epochs=4,
            batch_size=16,
            seed=5,
            progress=False,
            engine=engine,
        )
        assert h.engine == engine
        histories.append(h.epochs)
        weights.append([p.data for p in model.parameters()])
    for eager, tape in zip(*histories):
        assert tape.keys() == eager.keys()
        for key in eager:
            assert tape[key] == pytest.approx(eager[key], rel=1e-9, abs=1e-12)
    close(weights[1], weights[0], 1.0)


def test_parameters_as_arrays_give_the_values_path_numbers():
    model = MLP(3, [5, 2], seed=1)
    params = model.parameters()
    tape = Tape.trace(lambda x, t: get_loss("cross_entropy")(model(x), t), params, [0.0] * 3, [1.0, 0.0])
    X, T = np.random.default_rng(0).normal(size=(7, 3)), np.eye(2)[[0, 1, 1, 0, 1, 0, 0]]
    theta, grad = np.array([p.data for p in params]), np.full(len(params), np.nan)
    for p in params:
        p.grad = 0.0
    via_values = tape.forward(X, T)
    tape.backward(1 / 7)
    assert np.array_equal(tape.forward(X, T, params=theta), via_values)
    tape.backward(1 / 7, out=grad)
    assert grad.tolist() == [p.grad for p in params]


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01),
        lambda ps: Adam(ps, 0.02, weight_decay=0.1),
    ],
)
def test_fit_on_arrays_leaves_the_values_as_the_per_value_path_does(make):
    # The optimizer over the parameters in another order cannot share the tape's arrays: that fit
    # takes the per-Value path (step() on .data/.grad), and both must end bit for bit the same.
    X, y = datasets.moons(50, seed=3)
    runs = []
    for reorder in (False, True):
        model = MLP(2, [6, 6, 2], seed=7)
        params = model.parameters()
        opt = make(params[::-1] if reorder else params)
        h = fit(
            model,
            X,
            y,
            loss="cross_entropy",
            optimizer=opt,
            epochs=3,
            batch_size=16,
            seed=1,
            validation=(X[:10], y[:10]),
            progress=False,
        )
        assert h.engine == "tape" and opt.steps == 3 * 4
        runs.append((h.epochs, [p.data for p in params], [p.grad for p in params]))
    assert runs[0] == runs[1]
    assert any(g != 0.0 for g in runs[0][2])  # .grad holds the last batch's gradient


def test_a_custom_optimizer_step_works_on_the_tape():
    class HalfStep(SGD):
        calls = 0

        def step(self):
            HalfStep.calls += 1
            for p in self.params:
                p.data -= 0.5 * self.current_lr() * p.grad

    X, y = datasets.moons(30, seed=0)
    model = MLP(2, [4, 1], seed=0)
    before = [p.data for p in model.parameters()]
    h = fit(
        model,
        X,
        y,
        loss="hinge",
        optimizer=HalfStep(model.parameters(), lr=0.1),
        epochs=2,
        batch_size=10,
        progress=False,
    )
    assert h.engine == "tape" and HalfStep.calls == 6
    assert [p.data for p in model.parameters()] != before


def test_fit_takes_the_tape_by_default_and_eager_when_the_graph_depends_on_the_data():
    X, y = datasets.moons(20)
    assert fit(MLP(2, [4, 1], seed=0), X, y, loss="hinge", epochs=1, progress=False).engine == "tape"

    def branching(out, t):  # a Python `if` on the data: each example builds a different graph
        return out * 2.0 if out.data > 0 else out * 3.0

    with pytest.warns(FallbackWarning, match=r"the loss 'branching' is a function of your own"):
        history = fit(MLP(2, [4, 1], seed=0), X, y, loss=branching, epochs=1, progress=False)
    assert history.engine == "eager"
    with pytest.raises(
        NotTraceable, match=r"reading \.data of the traced .* at test_tape\.py:\d+ \(branching\)"
    ):
        fit(MLP(2, [4, 1], seed=0), X, y, loss=branching, epochs=1, progress=False, engine="tape")


# --- errors ----------------------------------------------------------------------------------------


def test_bad_batches_raise_clear_errors():
    model, example = model_and_loss(3, [4], "relu", "mse", "linear", 2)
    X, T = data(5, 3, 2, "mse")
    tape = Tape.trace(example, model.parameters(), X[0], T[0])
    with pytest.raises(ValueError, match=r"inputs must have shape \(batch, 3\) .* got \(5, 4\)"):
        tape.forward(np.ones((5, 4)), T)
    with pytest.raises(ValueError, match=r"inputs must be a 2-D batch of numbers, one row of 3 per example"):
        tape.forward([[1.0, 2.0, 3.0], [1.0, 2.0]], T[:2])
    with pytest.raises(ValueError, match=r"targets must have shape \(5, 2\) .* got \(4, 2\)"):
        tape.forward(X, T[:4])
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"row 3 of the inputs holds NaN"):
        tape.forward(bad, T)
    with pytest.raises(RuntimeError, match="needs a forward"):
        Tape.trace(example, model.parameters(), X[0], T[0]).backward()


def test_a_domain_error_names_the_op_and_the_example_with_the_eager_error_chained():
    tape = Tape.trace(lambda x: x[0].log() + x[1].exp(), [], [1.0, 1.0])
    with pytest.raises(
        NonFiniteError, match=r"log\(\) of -2.0 is undefined \(on the tape: log, example 1 "
    ) as e:
        tape.forward([[1.0, 0.0], [-2.0, 0.0]])
    assert (e.value.op, e.value.row, e.value.inputs) == ("log", 1, [-2.0])
    assert isinstance(e.value.__cause__, ValueError) and math.isnan(e.value.value)
    with pytest.raises(NonFiniteError, match=r"exp\(\) of 1000.0 overflows") as e:
        tape.forward([[1.0, 1.0], [1.0, 2.0], [1.0, 3.0], [1.0, 1000.0]])  # the last row, too
    assert (e.value.op, e.value.row, e.value.value) == ("exp", 3, math.inf)
    assert isinstance(e.value.__cause__, OverflowError)


def test_a_neuron_sum_that_makes_nan_names_its_module_and_the_example():
    model = MLP(2, [1], output_activation="linear", seed=0)
    tape = Tape.trace(lambda x: model(x), model.parameters(), [0.3, 0.2])
    theta = np.array(
        [1e300, -1e300, 0.0]
    )  # parameters as fit passes them: 1e310 - 1e310 for the last example
    # inf + -inf: autograd.sum gives NaN as + does (not fsum's error), which the tape reports
    message = r"sum of \[inf, -inf, 0.0\] made NaN .*on the tape: sum in layers.0.neurons.0, example 2"
    with pytest.raises(NonFiniteError, match=message) as e:
        tape.forward([[1.0, 1.0], [1.0, 2.0], [1e10, 1e10]], params=theta)
    assert (e.value.op, e.value.scope, e.value.row) == ("sum", "layers.0.neurons.0", 2)
    assert e.value.inputs == [math.inf, -math.inf, 0.0]


def test_an_infinite_local_derivative_names_the_op_and_the_example_and_leaves_grad_alone():
    """Eagerly (w·x) ** 0.5 at x = 0 raises at once (its slope is infinite); the tape's forward is
    fine (0.0) and its backward raises the same error, naming the example, before touching .grad."""
    w = Value(1.0)
    tape = Tape.trace(lambda x: (x[0] * w) ** 0.5, [w], [1.0])
    assert tape.forward([[4.0], [0.0]]).tolist() == [[2.0], [0.0]]
    with pytest.raises(NonFiniteError, match=r"derivative of 0.0 \*\* 0.5 is infinite .* example 1 ") as e:
        tape.backward()
    assert (e.value.op, e.value.row) == ("**0.5", 1) and isinstance(e.value.__cause__, ZeroDivisionError)
    assert w.grad == 0.0
    with pytest.raises(ZeroDivisionError, match=r"derivative of 0.0 \*\* 0.5 is infinite"):
        (Value(0.0) * w) ** 0.5


def test_nan_and_infinity_that_only_pass_through_are_no_error():
    """NaN in a parameter passes through relu and max as NaN (relu(NaN) is NaN, max with NaN is NaN);
    an infinite constant times a positive number is infinity; each is what it is, not an error. The
    first op that makes NaN from numbers that were not (0 x inf) is the error, with its example."""
    w = Value(1.0)
    tape = Tape.trace(lambda x: [(x[0] * w).relu(), autograd.max([x[0] * w, x[1]]), x[1]], [w], [1.0, 2.0])
    out = tape.forward([[1.0, 2.0], [-1.0, 5.0]], params=np.array([np.nan]))
    assert np.isnan(out[:, :2]).all() and out[:, 2].tolist() == [2.0, 5.0]
    tape = Tape.trace(lambda x: x[0] * math.inf, [], [1.0])
    assert tape.forward([[2.0], [3.0]]).tolist() == [[math.inf], [math.inf]]
    with pytest.raises(NonFiniteError, match=r"\* of \[0.0, inf\] made NaN .* example 1 of the batch") as e:
        tape.forward([[2.0], [0.0]])
    assert (e.value.op, e.value.row) == ("*", 1)


# --- the digits classifier ---------------------------------------------------------------------------


def test_digits_reach_95_percent_test_accuracy_on_the_tape():
    X, y = datasets.digits(normalize=True)
    (Xtr, ytr), (Xva, yva), (Xte, yte) = datasets.split(X, y, seed=0)
    model = MLP(64, [32, 32, 10], seed=0, init="he")
    h = fit(
        model,
        Xtr,
        ytr,
        loss="cross_entropy",
        optimizer=Adam(model.parameters(), lr=0.01),
        epochs=20,
        batch_size=32,
        seed=0,
        progress=False,
    )
    assert h.engine == "tape"
    valid_acc = evaluate(model, Xva, yva, "cross_entropy")["acc"]
    test_acc = evaluate(model, Xte, yte, "cross_entropy")["acc"]
    assert valid_acc >= 0.93 and test_acc >= 0.95, (valid_acc, test_acc, h.last)
    assert math.isfinite(h.last["train_loss"])


# --- traced nodes refuse to give up their number (the tape's guard, where the fact is decided) -------

REFUSALS = [
    ("reading .data", lambda v: v.data),
    ("float\\(\\)", float),
    ("int\\(\\)", int),
    ("testing the truth", bool),
    ("comparing .* with == 1", lambda v: v == 1),
    ("comparing .* with != 1", lambda v: v != 1),
    ("comparing .* with < 0.5", lambda v: v < 0.5),
    ("comparing .* with >= 0", lambda v: v >= 0),
    ("using .* as an index", lambda v: [1, 2][v]),
    ("rounding", round),
    ("the floor", math.floor),
    ("formatting", lambda v: f"{v:.3f}"),
    ("reading .local_grads", lambda v: v.local_grads),
]


@pytest.mark.parametrize(("what", "use"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_a_traced_node_refuses_its_number_naming_the_line(what, use):
    def fn(x):
        h = x[0] * 2 + x[1]
        use(h)  # the line the error names
        return h

    # the line that asked: the lambda's own, or fn's for a builtin such as float
    code = getattr(use, "__code__", None)
    line, name = (code.co_firstlineno, "<lambda>") if code else (fn.__code__.co_firstlineno + 2, "fn")
    with pytest.raises(autograd.NotTraceable, match=rf"{what}.* at test_tape\.py:{line} \({name}\)") as e:
        Tape.trace(fn, [], [1.0, 2.0])
    assert (os.path.basename(e.value.filename), e.value.lineno) == ("test_tape.py", line)


def test_an_input_names_itself_and_a_comparison_of_values_is_identity():
    with pytest.raises(autograd.NotTraceable, match=r"comparing the target t\[0\] with == 1"):
        Tape.trace(lambda x, t: x[0] if t[0] == 1 else -x[0], [], [1.0], [1.0])
    seen = []

    def fn(x):
        h = x[0] + 1
        seen.append((h == h, h != x[0], h in [x[0], h], {h: 1}[h], repr(h), f"{h}"))
        return h

    Tape.trace(fn, [], [3.0])
    assert seen == [(True, True, True, 1, "Traced(the traced '+' node)", "Traced(the traced '+' node)")]


def test_traced_nodes_cannot_be_differentiated_or_leak_numbers_after_the_trace():
    kept = []
    tape = Tape.trace(lambda x: kept.append(x[0].tanh()) or kept[0], [], [0.5])
    assert tape.forward([[0.5]])[0, 0] == pytest.approx(math.tanh(0.5), abs=1e-15)
    with pytest.raises(autograd.NotTraceable, match="backward"):
        kept[0].backward()
    with pytest.raises(autograd.NotTraceable, match="gradients"):
        autograd.gradients(kept[0])
    with pytest.raises(autograd.NotTraceable, match=r"reading \.data"):
        kept[0] * 2  # outside the trace: the node still has no number
    with pytest.raises(autograd.NotTraceable, match=r"_children"):
        Tape.trace(lambda x: autograd.Value(1.0, (x[0],), "tanh"), [], [0.5])


def test_a_parameter_keeps_its_number_and_is_read_afresh_on_every_run():
    w = autograd.Value(2.0)
    seen = []
    tape = Tape.trace(lambda x: seen.append(w.data) or x[0] * w, [w], [1.0])  # baked: 2.0 at trace time
    w.data = 3.0
    assert seen == [2.0] and tape.forward([[1.5]])[0, 0] == 4.5


def test_a_fresh_tape_has_buffers_of_its_own():
    w = autograd.Value(0.5)
    tape = Tape.trace(lambda x: (x[0] * w).tanh(), [w], [1.0])
    twin = tape.fresh()
    tape.forward([[1.0], [2.0]])
    twin.forward([[-3.0]])
    g = np.zeros(1)
    tape.backward(out=g)  # the gradient of tape's own last forward, not twin's
    want = sum(x * (1 - math.tanh(0.5 * x) ** 2) for x in (1.0, 2.0))
    assert g[0] == pytest.approx(want, rel=1e-12)


def test_a_signature_is_kept_only_when_asked_and_tells_two_graphs_apart():
    w = Value(0.5)
    plain = Tape.trace(lambda x: x[0] * w + 1.0, [w], [0.0])
    assert plain.signature is None  # not paid for by every trace
    a, b = (Tape.trace(lambda x: x[0] * w + 1.0, [w], [0.0], signed=True) for _ in range(2))
    other = Tape.trace(lambda x: x[0] * w + 2.0, [w], [0.0], signed=True)  # another constant
    assert a.signature == b.signature != other.signature
