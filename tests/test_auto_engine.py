"""Which engine trains, and that it trains right: ``engine="auto"`` takes the batch tape only for the
library's own modules and losses with an optimizer over the model's parameters, and runs anything
else eagerly, saying why; ``engine="tape"`` traces the caller's code under the tape's contract and
either trains as the eager engine does or raises NotTraceable naming the line.

The numbered tests are the six ways the former auto engine trained to other weights than the
eager one without a word (issue 16), and the logging loss it sent eagerly for a wrong reason."""

import logging
import random
import re
import threading
import warnings

import numpy as np
import pytest

import autograd
from autograd import Value
from nn import (
    MLP,
    SGD,
    Adam,
    FallbackWarning,
    Loss,
    NotTraceable,
    datasets,
    evaluate,
    fit,
    l2_penalty,
    mse,
    predict,
)
from nn.engines import MAX_TARGET_ROWS, SPREAD_ROWS, reference_rows

X, Y = datasets.moons(n=100, noise=0.1, seed=0)
HERE = r"test_auto_engine\.py:\d+"


def train(loss, engine, model=None, optimizer=None, epochs=3, **kwargs):
    """Three epochs of mini-batches of 20; the History and the trained weights."""
    model = model if model is not None else MLP(2, [8, 1], seed=0)
    optimizer = optimizer if optimizer is not None else SGD(model.parameters(), lr=0.1)
    h = fit(
        model,
        X,
        Y,
        loss=loss,
        optimizer=optimizer,
        epochs=epochs,
        batch_size=20,
        progress=False,
        engine=engine,
        **kwargs,
    )
    return h, [p.data for p in optimizer.params]


def eager_with_warning(reason, kw):
    """Train on auto: it must run eagerly with one FallbackWarning matching ``reason`` (also in
    engine_reason) and reach the eager engine's weights exactly. Returns those weights."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        h, auto = train(engine="auto", **kw())
    assert h.engine == "eager"
    assert [w.category for w in caught] == [FallbackWarning]
    assert re.search(reason, str(caught[0].message)) and "engine='tape'" in str(caught[0].message)
    assert re.search(reason, h.engine_reason)
    _, eager = train(engine="eager", **kw())
    assert auto == eager
    return eager


def hinge_sides(o, t):
    return (1 - (2 * t[0] - 1) * o).relu()


# --- what auto takes the tape for -----------------------------------------------------------------


@pytest.mark.parametrize("loss", ["hinge", "mse", "bce_logits", "sse"])
def test_the_library_model_and_losses_take_the_tape_and_train_as_eager(loss):
    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)
        h, weights = train(loss, "auto")
    assert h.engine == "tape" and "by construction" in h.engine_reason
    assert weights == pytest.approx(train(loss, "eager")[1], rel=1e-12, abs=1e-13)


def test_a_library_loss_with_another_target_rule_is_still_the_librarys():
    Xd, yd = datasets.digits(normalize=True)
    mse_on_labels = Loss(mse, targets="labels")
    model = MLP(64, [16, 10], seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)
        h = fit(model, Xd[:300], yd[:300], loss=mse_on_labels, epochs=2, batch_size=50, progress=False)
    assert h.engine == "tape" and "train_acc" in h.last
    twin = MLP(64, [16, 10], seed=0)
    fit(
        twin,
        Xd[:300],
        yd[:300],
        loss="mse",
        targets="labels",
        epochs=2,
        batch_size=50,
        progress=False,
        engine="eager",
    )
    assert [p.data for p in model.parameters()] == pytest.approx(
        [p.data for p in twin.parameters()], abs=1e-12
    )


def test_a_model_of_the_librarys_modules_keeps_its_tape_until_its_structure_or_weights_change():
    model = MLP(2, [8, 1], seed=0)
    assert "traced" in train("hinge", "auto", model, epochs=1)[0].engine_reason
    assert "reused" in train("hinge", "auto", model, epochs=1)[0].engine_reason
    model.layers[0].neurons[0].w[0] = Value(0.5)  # a new parameter object: the kept tape is not its
    assert "reused" not in train("hinge", "auto", model, epochs=1)[0].engine_reason
    twin = MLP(2, [8, 1], seed=0)
    twin.layers[0].neurons[0].w[0] = Value(0.5)
    for a, b in zip(twin.parameters(), model.parameters()):
        a.data = b.data
    for m in (model, twin):  # another structure: the first layer's activation
        for n in m.layers[0].neurons:
            n.activation = "tanh"
    h, on_tape = train("hinge", "auto", model, epochs=1)
    assert "reused" not in h.engine_reason
    assert on_tape == pytest.approx(train("hinge", "eager", twin, epochs=1)[1], abs=1e-12)


# --- 1. a learnable Value the optimizer moves but the model does not hold -------------------------


def test_1_an_extra_learnable_value_runs_eagerly_on_auto_and_is_a_tape_parameter_on_tape():
    def setup():
        model, log_scale = MLP(2, [8, 1], seed=0), Value(0.0, label="log_scale")
        loss = lambda o, t: (o * log_scale.exp() - (2 * t[0] - 1)) ** 2 + log_scale  # noqa: E731
        return {"loss": loss, "model": model, "optimizer": SGD([*model.parameters(), log_scale], lr=0.1)}

    eager = eager_with_warning("the loss '<lambda>' is a function of your own", kw=setup)
    assert eager[-1] != 0.0  # the scale moved
    h, tape = train(engine="tape", **setup())
    assert h.engine == "tape" and tape == pytest.approx(eager, abs=1e-12)

    # the library's loss, with a Value the optimizer moves that the model does not hold
    def extra():
        model = MLP(2, [8, 1], seed=0)
        return {"loss": "hinge", "model": model, "optimizer": SGD([*model.parameters(), Value(1.0)], lr=0.1)}

    eager_with_warning(r"the optimizer moves 1 Value\(s\) that are not the model's parameters", kw=extra)


class ScaledMLP(MLP):
    """An MLP subclass with a learnable output scale of its own."""

    def __init__(self):
        self.scale = Value(1.0, label="scale")
        super().__init__(2, [8, 1], seed=0)

    def own_parameters(self):
        return [("scale", self.scale)]

    def __call__(self, x):
        return super().__call__(x) * self.scale


def test_1_an_mlp_subclass_is_not_the_librarys_model():
    kw = lambda: {"loss": "hinge", "model": ScaledMLP()}  # noqa: E731
    eager = eager_with_warning("the model holds a ScaledMLP, not one of MLP, Layer, Neuron", kw=kw)
    _, tape = train(engine="tape", **kw())
    assert tape == pytest.approx(eager, abs=1e-12) and eager[-1] != 1.0


# --- 2. a loss reading state that training changes ------------------------------------------------


def test_2_an_annealed_penalty_runs_eagerly_on_auto_and_is_refused_on_tape():
    def setup():
        model = MLP(2, [8, 1], seed=0)
        opt = SGD(model.parameters(), lr=0.1)
        loss = lambda o, t: hinge_sides(o, t) + min(1, opt.steps / 20) * l2_penalty(model.parameters(), 1e-2)  # noqa: E731
        return {"loss": loss, "model": model, "optimizer": opt}

    eager_with_warning("function of your own", kw=setup)
    with pytest.raises(
        NotTraceable, match="traced again after the first step.*reads state that training changes"
    ):
        train(engine="tape", **setup())


# --- 3. a tape never outlives its loss ------------------------------------------------------------


def test_3_two_lambdas_in_two_cells_each_train_as_themselves():
    for engine in ("auto", "tape"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FallbackWarning)
            first = train(lambda o, t: (o - t[0]) ** 2, engine)[1]
            second = train(lambda o, t: 0.5 * (t[0] - o) ** 2 + 0.1 * o, engine)[1]
        assert first == pytest.approx(train(lambda o, t: (o - t[0]) ** 2, "eager")[1], abs=1e-12)
        assert second == pytest.approx(
            train(lambda o, t: 0.5 * (t[0] - o) ** 2 + 0.1 * o, "eager")[1], abs=1e-12
        )


def test_3_a_helper_redefined_between_fits_is_the_new_one():
    cell = {}
    exec("def helper(d):\n    return d * d", cell)  # a notebook cell defining the helper
    loss = lambda o, t: cell["helper"](o - t[0])  # noqa: E731
    square = train(loss, "tape")[1]
    exec("def helper(d):\n    return abs(d)", cell)  # the cell edited and run again
    assert train(loss, "tape")[1] == pytest.approx(train(loss, "eager")[1], abs=1e-12) != square


# --- 4. state reached through a helper or a class attribute ---------------------------------------


class Curriculum:
    calls = 0  # a class attribute: the former fingerprint did not see it

    def __call__(self, o, t):
        Curriculum.calls += 1
        return hinge_sides(o, t) if Curriculum.calls < 200 else (o - t[0]) ** 2


DROPOUT = random.Random(0)


def dropout_loss(o, t):
    keep = DROPOUT.random() < 0.5  # a draw from a module-level generator, through a helper's global
    return hinge_sides(o, t) * (2.0 if keep else 0.0)


def test_4_state_behind_a_helper_or_class_attribute_runs_eagerly_on_auto():
    def run(engine, loss):
        Curriculum.calls = 0
        DROPOUT.seed(0)
        return train(loss, engine)

    for loss in (Curriculum(), dropout_loss):
        with pytest.warns(FallbackWarning, match="function of your own"):
            h, auto = run("auto", loss)
        assert h.engine == "eager" and auto == run("eager", loss)[1]
    DROPOUT.seed(0)
    with pytest.raises(NotTraceable, match="traced twice, the model or loss built two different graphs"):
        train(dropout_loss, "tape")


def test_4_on_tape_python_code_runs_when_traced_only_as_the_contract_says():
    Curriculum.calls = 0
    h, _ = train(Curriculum(), "tape", epochs=5)  # 25 batches of 20: eagerly 500 calls, a switch at 200
    assert h.engine == "tape"
    # fit's check that the loss reaches a parameter, two traces, the eager reference rows, one after step 1
    assert Curriculum.calls == 4 + len(reference_rows(X, Y[:, None].astype(float))) < 200


# --- 5. a branch on the data ----------------------------------------------------------------------


class Switch(MLP):
    """Its output depends on x[0] + 0 == X[37][0], true for one row of the data."""

    def __init__(self):
        self.other = MLP(2, [8, 1], seed=1)
        super().__init__(2, [8, 1], seed=0)

    def children(self):
        return [*super().children(), ("other", self.other)]

    def __call__(self, x):
        return self.other(x) if x[0] + 0 == float(X[37][0]) else super().__call__(x)


def test_5_a_branch_on_the_data_runs_eagerly_on_auto_and_is_refused_on_tape_naming_the_line():
    eager_with_warning("the model holds a Switch", kw=lambda: {"loss": "hinge", "model": Switch()})
    with pytest.raises(NotTraceable, match=r"comparing the traced '\+' node with == .* at " + HERE) as e:
        train("hinge", "tape", Switch())
    assert e.value.filename.endswith("test_auto_engine.py") and e.value.lineno > 0
    with pytest.raises(NotTraceable):
        predict(Switch(), X, engine="tape")


def test_5_an_input_used_as_a_number_in_the_loss_is_refused_where_it_is_read():
    cases = [
        (lambda o, t: hinge_sides(o, t) if t[0] else o * 0, r"testing the truth of the target t\[0\]"),
        (lambda o, t: [o, -o][int(t[0])], r"int\(\) of the target t\[0\]"),
        (lambda o, t: (o - t[0]) ** 2 * o.data, r"reading \.data of the traced"),
        (lambda o, t: o * float(o), r"float\(\) of the traced"),
    ]
    for loss, what in cases:
        with pytest.raises(NotTraceable, match=what + ".* at " + HERE):
            train(loss, "tape")


def test_5_a_path_chosen_on_the_plain_numbers_shows_in_the_eager_reference():
    loss = lambda o, t: hinge_sides(o, t) if isinstance(t[0], float) else (o - t[0]) ** 2  # noqa: E731
    with pytest.raises(NotTraceable, match=r"on example \d+ the tape gives .*, the eager engine"):
        train(loss, "tape")


def test_reference_rows_cover_every_class_and_spread_over_the_data():
    Xd, yd = datasets.digits(normalize=True)
    picked = reference_rows(Xd[:300], np.eye(10)[yd[:300]])
    assert sorted(set(yd[picked].tolist())) == list(range(10))
    assert len(picked) <= 1 + MAX_TARGET_ROWS + SPREAD_ROWS
    T = np.linspace(-3.0, 5.0, 200)[np.random.default_rng(0).permutation(200)][:, None]
    picked = reference_rows(np.zeros((200, 1)), T)
    assert T[picked].min() == -3.0 and T[picked].max() == 5.0 and {0, 100, 199} <= set(picked)


# --- 6. another thread during fit -----------------------------------------------------------------


def test_6_evaluate_from_another_thread_never_changes_what_fit_computes():
    alone = MLP(2, [16, 16, 1], seed=0)
    fit(
        alone,
        X,
        Y,
        loss="hinge",
        optimizer=Adam(alone.parameters(), lr=0.01),
        epochs=60,
        batch_size=10,
        progress=False,
    )
    model = MLP(2, [16, 16, 1], seed=0)
    done, scored = threading.Event(), []

    def score():
        while not done.is_set():
            scored.append(evaluate(model, X, Y, "hinge")["loss"])  # the same cached tape, auto

    worker = threading.Thread(target=score)
    worker.start()
    try:
        h = fit(
            model,
            X,
            Y,
            loss="hinge",
            optimizer=Adam(model.parameters(), lr=0.01),
            epochs=60,
            batch_size=10,
            progress=False,
        )
    finally:
        done.set()
        worker.join()
    assert h.engine == "tape" and len(scored) >= 1
    assert [p.data for p in model.parameters()] == [p.data for p in alone.parameters()]


# --- a loss that only logs ------------------------------------------------------------------------


def test_a_logging_loss_says_why_it_runs_eagerly_and_trains_exactly_on_tape(caplog):
    log = logging.getLogger("chainrule.test.loss")

    def logged(o, t):
        loss = hinge_sides(o, t)
        log.debug("loss %s", loss)
        return loss

    with caplog.at_level(logging.DEBUG, logger=log.name):
        eager = eager_with_warning("the loss 'logged' is a function of your own", kw=lambda: {"loss": logged})
        h, tape = train(logged, "tape")
    assert h.engine == "tape" and tape == pytest.approx(eager, abs=1e-12)
    assert any("Traced(" in r.getMessage() for r in caplog.records)


# --- a loss with no path to any parameter ---------------------------------------------------------


@pytest.mark.parametrize("engine", ["auto", "eager", "tape"])
def test_a_loss_rebuilt_from_numbers_is_a_type_error_before_the_first_step(engine):
    model = MLP(2, [8, 1], seed=0)
    before = [p.data for p in model.parameters()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FallbackWarning)
        with pytest.raises(TypeError, match="has no path to any parameter the optimizer moves"):
            train(lambda o, t: Value((o.data - t[0]) ** 2), engine, model)
    assert [p.data for p in model.parameters()] == before


def test_the_checks_leave_every_gradient_as_it_was():
    model = MLP(2, [8, 1], seed=0)
    for i, p in enumerate(model.parameters()):
        p.grad = 0.25 * i
    evaluate(model, X, Y, "hinge", engine="tape")
    evaluate(model, X, Y, lambda o, t: hinge_sides(o, t), engine="tape")
    predict(model, X)
    assert [p.grad for p in model.parameters()] == [0.25 * i for i in range(len(model.parameters()))]
    assert autograd.is_grad_enabled()
