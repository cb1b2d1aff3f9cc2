"""engine="auto" is never silently wrong: where the eager engine passes the inputs and targets as
plain floats, the tape traces them as Values, so code that compares them, tests their truth, turns
them into ints, or draws random numbers must not run on the tape. auto runs it eagerly and says why
(FallbackWarning); engine="tape" raises NotTraceable. Each case trained on the tape before."""

import itertools
import random
import re
import warnings

import numpy as np
import pytest

import autograd
from nn import MLP, SGD, Module, datasets, evaluate, fit, predict
from nn.engines import FallbackWarning, NotTraceable
from nn.tracecheck import MAX_TARGET_ROWS, SPREAD_ROWS, UsedAsNumber, placeholders, reference_rows

X, Y = datasets.moons(n=100, noise=0.1, seed=0)  # targets t[0] are 0.0 or 1.0 for a custom loss
HERE = r"at test_auto_engine\.py:\d+"


def train(loss, engine, model=None):
    """Three epochs of mini-batches; the History and the trained weights."""
    model = model if model is not None else MLP(2, [8, 1], seed=0)
    h = fit(
        model,
        X,
        Y,
        loss=loss,
        optimizer=SGD(model.parameters(), lr=0.1),
        epochs=3,
        batch_size=20,
        progress=False,
        engine=engine,
    )
    return h, [p.data for p in model.parameters()]


def falls_back(loss, cause, make_model=lambda: MLP(2, [8, 1], seed=0), same_as_eager=True):
    """auto runs eagerly with one FallbackWarning whose message matches ``cause`` (and trains to
    exactly eager's weights); engine="tape" raises NotTraceable with the same cause."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        h, auto_weights = train(loss, "auto", make_model())
    assert h.engine == "eager"
    assert [w.category for w in caught] == [FallbackWarning]
    assert re.search(cause, str(caught[0].message)), caught[0].message
    assert re.search(cause, h.engine_reason)
    if same_as_eager:
        assert auto_weights == train(loss, "eager", make_model())[1]
    with pytest.raises(NotTraceable, match="engine='tape': .*" + cause):
        train(loss, "tape", make_model())


# --- a target or input used as a number -------------------------------------------------------------


def sides(o, choose_first):
    return (1 - o).relu() if choose_first else (1 + o).relu()


@pytest.mark.parametrize(
    ("loss", "cause"),
    [
        (lambda o, t: sides(o, t[0] == 1), r"compares the target t\[0\] with == \(or in\) " + HERE),
        (lambda o, t: sides(o, t[0] != 0), r"compares the target t\[0\] with != " + HERE),
        (
            lambda o, t: (1 - o).relu() if t[0] else (1 + o).relu(),
            r"tests the truth of the target t\[0\] " + HERE,
        ),
        (lambda o, t: sides(o, t[0] in (1, 1.0)), r"compares the target t\[0\] with == \(or in\) " + HERE),
        (lambda o, t: sides(o, t[0] > 0.5), r"compares the target t\[0\] with > " + HERE),
        (lambda o, t: sides(o, max(t[0], 0.5) == 1), r"compares the target t\[0\] with [<>] " + HERE),
        (
            lambda o, t: [(1 + o).relu(), (1 - o).relu()][int(t[0])],
            r"makes an int of the target t\[0\] " + HERE,
        ),
        (
            lambda o, t: {0.0: (1 + o).relu(), 1.0: (1 - o).relu()}[t[0]],
            r"hashes the target t\[0\] \(a dict key or set member\) " + HERE,
        ),
        (lambda o, t: sides(o, round(t[0])), r"rounds the target t\[0\] " + HERE),
    ],
    ids=["==", "!=", "truth", "in", ">", "max", "int", "dict key", "round"],
)
def test_a_target_used_as_a_number_runs_eagerly_or_is_refused(loss, cause):
    falls_back(loss, cause)


def test_the_tape_would_have_trained_the_target_comparison_wrongly():
    """The figure behind the cases above: on the tape `t[0] == 1` is always False (the traced
    target is a Value), so every example is pushed the same way."""
    loss = lambda o, t: sides(o, t[0] == 1)  # noqa: E731
    eager = MLP(2, [8, 1], seed=0)
    train(loss, "eager", eager)
    with pytest.warns(FallbackWarning):
        _, auto_weights = train(loss, "auto")
    assert auto_weights == [p.data for p in eager.parameters()]
    assert evaluate(eager, X, Y, "hinge", engine="eager")["acc"] >= 0.8


class Switch(Module):
    """Two sub-models; the first example's own input picks the first one."""

    def __init__(self, derived=False):
        self.a, self.b, self.derived = MLP(2, [8, 1], seed=0), MLP(2, [8, 1], seed=1), derived

    def own_parameters(self):
        return []

    def children(self):
        return [("a", self.a), ("b", self.b)]

    def __call__(self, x):
        first = x[0] + 0 == X[0][0] if self.derived else x[0] == X[0][0]
        return self.a(x) if first else self.b(x)


def test_a_model_comparing_its_input_runs_eagerly_or_is_refused():
    falls_back("hinge", r"compares the input x\[0\] with == \(or in\) " + HERE, Switch)
    model = Switch()
    with pytest.warns(FallbackWarning, match=r"input x\[0\]"):
        assert predict(model, X) == predict(model, X, engine="eager")
    with pytest.raises(NotTraceable):
        predict(model, X, engine="tape")


# --- what only the eager engine's numbers show ------------------------------------------------------

ON_EXAMPLE = r"on example \d+ the tape gives \[.*\], the eager engine \[.*\]: the graph depends on the data"


@pytest.mark.parametrize(
    "loss",
    [
        lambda o, t: sides(o, t[0] + 0 == 1),  # a Value made from the target: compared by identity
        lambda o, t: sides(o, isinstance(t[0], float) and t[0] == 1),
    ],
    ids=["derived ==", "isinstance"],
)
def test_a_path_chosen_on_a_number_made_from_a_target_shows_in_the_eager_numbers(loss):
    falls_back(loss, ON_EXAMPLE)


def test_a_model_choosing_on_a_number_made_from_its_input_shows_in_the_eager_numbers():
    falls_back("hinge", ON_EXAMPLE, lambda: Switch(derived=True))


def test_a_difference_only_in_the_gradient_is_caught():
    """With every weight 0 the output is 0 for every example, so (1 - o).relu() and (1 + o).relu()
    are both 1: the losses agree, the slopes (-1 and +1) do not."""
    zero = lambda: MLP(2, [8, 1], weights=[[[0.0, 0.0, 0.0]] * 8, [[0.0] * 9]])  # noqa: E731
    falls_back(
        lambda o, t: sides(o, t[0] + 0 == 1),
        r"the tape's gradient for parameter \d+ is -?[0-9.]+, the eager engine's -?[0-9.]+",
        zero,
    )


def test_an_error_only_the_placeholders_cause_runs_eagerly_and_a_real_error_propagates():
    """np.sign takes a float but refuses a Value: eager trains, the trace cannot run."""
    falls_back(lambda o, t: (np.sign(t[0] - 0.5) - o).relu(), r"placeholder Values raised TypeError")
    bad = lambda o, t: o + "a"  # noqa: E731 (as wrong eagerly as on the tape)
    for engine in ("auto", "eager", "tape"):
        with pytest.raises(TypeError, match="expected a real number"):
            train(bad, engine)


# --- random draws and counters ------------------------------------------------------------------------

GENERATOR = np.random.default_rng(0)
DRAW = np.random.default_rng(1).random
COUNTER = itertools.count()


@pytest.mark.parametrize(
    ("loss", "cause"),
    [
        (lambda o, t: sides(o, random.random() < 0.5), "global random generator"),
        (lambda o, t: sides(o, np.random.random() < 0.5), "global random generator"),
        (lambda o, t: sides(o, GENERATOR.random() < 0.5), "changed state"),
        (lambda o, t: sides(o, DRAW() < 0.5), "changed state"),
        (lambda o, t: sides(o, next(COUNTER) % 2), "changed state"),
    ],
    ids=["random", "np.random", "Generator", "bound draw", "itertools.count"],
)
def test_a_loss_drawing_random_numbers_or_counting_is_caught_every_time(loss, cause):
    """The state check sees the draw itself, whatever it drew: 5 runs from 5 seeds, 5 fallbacks."""
    for seed in range(5):
        random.seed(seed)
        np.random.seed(seed)
        falls_back(loss, cause, same_as_eager=False)


def test_a_generator_in_a_closure_is_state_too():
    rng = np.random.default_rng(0)
    falls_back(lambda o, t: sides(o, rng.random() < 0.5), "changed state", same_as_eager=False)


# --- what still runs on the tape ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "loss",
    ["hinge", "mse", "bce_logits", lambda o, t: (1 - (2 * t[0] - 1) * o).relu() + 0.01 * abs(t[0] - o)],
    ids=["hinge", "mse", "bce_logits", "custom"],
)
def test_losses_that_use_the_targets_only_in_arithmetic_stay_on_the_tape(loss):
    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)
        h, weights = train(loss, "auto")
    assert h.engine == "tape" and "checks of nn.tracecheck passed" in h.engine_reason
    assert weights == pytest.approx(train(loss, "eager")[1], rel=1e-9, abs=1e-12)


def test_digits_cross_entropy_stays_on_the_tape_checked_on_every_class():
    Xd, yd = datasets.digits(normalize=True)
    model = MLP(64, [16, 10], seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)
        h = fit(model, Xd[:300], yd[:300], loss="cross_entropy", epochs=1, batch_size=50, progress=False)
    assert h.engine == "tape"
    T = np.eye(10)[yd[:300]]
    picked = reference_rows(0, list(range(300)), T)
    assert sorted(set(yd[picked].tolist())) == list(range(10))
    assert len(picked) <= 1 + MAX_TARGET_ROWS + SPREAD_ROWS


def test_reference_rows_span_many_distinct_targets_and_the_data():
    T = np.linspace(-3.0, 5.0, 200)[np.random.default_rng(0).permutation(200)][:, None]
    rows = list(range(200))
    picked = reference_rows(7, rows, T)
    assert picked[0] == 7 and len(picked) == len(set(picked)) <= 1 + MAX_TARGET_ROWS + SPREAD_ROWS
    assert T[picked].min() == -3.0 and T[picked].max() == 5.0  # the smallest and largest targets
    assert {0, 100, 199} <= set(picked)  # the first, middle and last rows
    assert reference_rows(3, rows[3:], None) == [3, 52, 101, 150, 199]


def test_the_checks_leave_every_gradient_as_it_was():
    model = MLP(2, [8, 1], seed=0)
    for i, p in enumerate(model.parameters()):
        p.grad = 0.25 * i
    evaluate(model, X, Y, "hinge")
    predict(model, X)
    assert [p.grad for p in model.parameters()] == [0.25 * i for i in range(len(model.parameters()))]


def test_a_placeholder_says_where_user_code_used_it_and_is_a_value_to_the_library():
    x = placeholders([1.0, 2.0], "x", "input")
    with pytest.raises(UsedAsNumber, match=r"compares the input x\[1\] with < " + HERE):
        x[1] < 3  # noqa: B015
    total = autograd.sum([x[0] * x[1], x[0]])  # the library's own code: Value's behaviour
    assert total.data == 3.0 and autograd.grad(total, x)[0].data == 3.0


def test_under_a_profiler_the_weaker_check_says_so_and_still_reads_the_loss_itself():
    """With a profiler running, only the model's and loss's own code is looked at: a warning says so,
    and a loss that reads .data in its own body still goes eager."""
    import sys

    def branching(o, t):
        return (1 - o).relu() if o.data > 0 else (1 + o).relu()

    previous = sys.getprofile()
    sys.setprofile(lambda frame, event, arg: None)
    try:
        with (
            pytest.warns(RuntimeWarning, match="a profiler is running"),
            pytest.warns(FallbackWarning, match=r"reads \.data"),
        ):
            h = fit(MLP(2, [4, 1], seed=0), X, Y, loss=branching, epochs=1, progress=False)
    finally:
        sys.setprofile(previous)
    assert h.engine == "eager"
