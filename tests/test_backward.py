"""backward(), grad() and higher-order derivatives, no_grad, detect_anomaly, deep graphs,
and random expression graphs against finite differences (hypothesis)."""

import importlib
import math
import threading

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from programs import EXACT, Program, near_a_kink, steps_strategy

import autograd
from autograd import (
    AnomalyError,
    Value,
    detect_anomaly,
    enable_grad,
    grad,
    is_grad_enabled,
    no_grad,
    numerical_grad,
    topological_order,
    zero_grad,
)
from autograd import sum as vsum

graph_module = importlib.import_module("autograd.graph")  # the walk and the chain rule

# --- backward semantics -------------------------------------------------------------------------


def test_every_node_holds_d_output_d_node():
    x = Value(2.0)
    y = x * x  # dy/dx = 2x = 4
    z = y * 3 + y.exp()  # dz/dy = 3 + e^4
    z.backward()
    assert z.grad == 1.0
    assert y.grad == pytest.approx(3 + math.exp(4), rel=1e-15)
    assert x.grad == pytest.approx((3 + math.exp(4)) * 4, rel=1e-15)


def test_a_value_used_twice_by_one_op_gets_both_contributions():
    a = Value(3.0)
    (a + a).backward()
    assert a.grad == 2.0
    b = Value(3.0)
    (b * b).backward()
    assert b.grad == 6.0


def test_backward_twice_gives_exactly_twice_the_leaf_gradients():
    x, w = Value(0.7), Value(-1.3)
    h = (x * w).tanh()
    out = h * h + h
    out.backward()
    first_x, first_w, first_h = x.grad, w.grad, h.grad
    out.backward()
    assert (x.grad, w.grad) == (2 * first_x, 2 * first_w)
    assert h.grad == first_h  # computed nodes are recomputed, not compounded


def test_zero_grad_resets():
    x = Value(1.0)
    (x * 5).backward()
    zero_grad([x])
    (x * 5).backward()
    assert x.grad == 5.0


def test_backward_of_a_leaf_seeds_its_gradient():
    x = Value(4.0)
    x.backward()
    assert x.grad == 1.0


def test_million_node_chain_forward_and_backward():
    x = Value(1.0)
    v = x
    for _ in range(1_000_000):
        v = v + 1e-6
    assert v.data == pytest.approx(2.0, rel=1e-9)
    v.backward()
    assert x.grad == 1.0
    order = topological_order(v)
    assert len(order) == 2_000_001 and order[0] is v


# --- grad() and higher order --------------------------------------------------------------------


def test_grad_does_not_touch_dot_grad_and_keeps_input_order():
    a, b, c = Value(2.0), Value(3.0), Value(9.0)
    out = a * b
    gb, ga, gc = grad(out, [b, a, c])
    assert (ga.data, gb.data, gc.data) == (3.0, 2.0, 0.0)
    assert a.grad == b.grad == out.grad == 0.0


def test_grad_checks_its_arguments():
    with pytest.raises(TypeError, match=r"grad\(\): expected a Value"):
        grad(3.0, [Value(1.0)])
    with pytest.raises(TypeError, match=r"inputs\[1\]"):
        grad(Value(1.0), [Value(1.0), 2.0])


def test_second_derivative_of_x_cubed_at_2_is_12():
    x = Value(2.0)
    (dx,) = grad(x**3, [x], create_graph=True)
    assert dx.data == 12.0
    (ddx,) = grad(dx, [x], create_graph=True)
    assert ddx.data == 12.0
    (dddx,) = grad(ddx, [x])
    assert dddx.data == 6.0


def f3(x, y, z):
    return (x * y).tanh() + (y / z).exp() * x**2 + (z * x).sigmoid() * y.log()


def test_hessian_equals_finite_differences_of_the_gradient():
    point = [0.3, 1.2, -0.8]
    xs = [Value(p) for p in point]
    first = grad(f3(*xs), xs, create_graph=True)
    hessian = [[h.data for h in grad(g, xs)] for g in first]
    for i in range(3):
        for j in range(3):
            assert hessian[i][j] == pytest.approx(hessian[j][i], rel=1e-10, abs=1e-12)
    eps = 1e-6
    for j in range(3):
        up, down = list(point), list(point)
        up[j] += eps
        down[j] -= eps
        xu, xd = [Value(p) for p in up], [Value(p) for p in down]
        g_up = [g.data for g in grad(f3(*xu), xu)]
        g_down = [g.data for g in grad(f3(*xd), xd)]
        for i in range(3):
            assert hessian[i][j] == pytest.approx((g_up[i] - g_down[i]) / (2 * eps), rel=1e-5, abs=1e-7)


def test_newton_converges_on_a_1d_function():
    # minimise f(x) = x^4 - 3x^2 + x near x = 1: f'(x) = 4x^3 - 6x + 1
    x = 1.0
    for _ in range(8):
        v = Value(x)
        (d1,) = grad(v**4 - 3 * v**2 + v, [v], create_graph=True)
        (d2,) = grad(d1, [v])
        x = x - d1.data / d2.data
    assert abs(4 * x**3 - 6 * x + 1) < 1e-12
    assert x == pytest.approx(1.1309, abs=1e-4)


def test_create_graph_through_every_primitive_matches_finite_differences():
    def g(x):
        return (x.relu() * x.sigmoid() + (x**2).exp().log() - abs(x) / (1 + x.tanh()) + 2**x) ** 2

    for x0 in (0.3, 1.7, -0.6):
        x = Value(x0)
        (d1,) = grad(g(x), [x], create_graph=True)
        (d2,) = grad(d1, [x])
        num = numerical_grad(lambda v: grad(g(v), [v], create_graph=True)[0], [Value(x0)])
        assert d2.data == pytest.approx(num[0], rel=1e-6)


# --- no_grad and detect_anomaly ----------------------------------------------------------------


def test_no_grad_records_nothing_and_is_per_thread():
    x = Value(2.0)
    with no_grad():
        assert not is_grad_enabled()
        y = x * x + 1
        with enable_grad():
            assert (x * x).parents == (x, x)
    assert y.data == 5.0 and y.parents == () and y.is_leaf
    assert is_grad_enabled()

    seen = {}
    inside, release = threading.Event(), threading.Event()

    def worker():
        with no_grad():
            inside.set()
            release.wait(5)
            seen["worker"] = (x * x).parents

    t = threading.Thread(target=worker)
    t.start()
    inside.wait(5)
    seen["main"] = (x * x).parents  # the other thread is inside no_grad(); this one is not
    release.set()
    t.join()
    assert seen == {"main": (x, x), "worker": ()}


def test_detect_anomaly_names_the_op():
    big = Value(1e200)
    assert (big * big).data == math.inf  # outside the context: plain float arithmetic
    with (
        detect_anomaly(),
        pytest.raises(AnomalyError, match=r"\*: inputs \[1e\+200, 1e\+200\] gave output inf"),
    ):
        big * big
    with (
        detect_anomaly(),
        pytest.raises(AnomalyError, match=r"log: inputs \[1e-320\] .* local derivatives \[inf\]"),
    ):
        Value(1e-320).log()
    x = Value(1e-100, label="x")
    with detect_anomaly():
        z = (x * 1e200) * 1e200  # every value and local derivative is finite; dz/dx = 1e400 is not
        with pytest.raises(AnomalyError, match=r"backward: gradient inf of node .*label='x'.* through \*"):
            z.backward()


# --- random expression graphs (property-based) -------------------------------------------------

# tests/programs.py: ops applied to earlier results (so nodes are reused), layers of several neurons
# among them; cancel is left out (fsum makes it exact eagerly, which differences of floats do not see).


@st.composite
def expressions(draw):
    """A random program over 1 to 4 inputs: its steps and the point."""
    n_inputs = draw(st.integers(1, 4))
    steps = draw(steps_strategy(EXACT, max_size=14))
    point = draw(
        st.lists(st.floats(-2, 2).filter(lambda f: abs(f) > 0.05), min_size=n_inputs, max_size=n_inputs)
    )
    return steps, point


def run(program, inputs):
    nodes = program(inputs)
    return vsum(nodes[len(inputs) :]).tanh()  # every step counts; tanh keeps the output bounded


@settings(max_examples=150, deadline=None, derandomize=True)  # the same examples on every run
@given(expressions())
def test_random_graphs_backward_matches_numerical(program):
    steps, point = program
    random_program = Program(steps)
    xs = [Value(p) for p in point]
    out = run(random_program, xs)
    # Central differences straddle a kink (relu or abs of an input near 0, say x0 - x1 at x0 == x1)
    # and average the two slopes, where backward takes one side by convention: not comparable.
    assume(not near_a_kink(out, margin=1e-4))
    out.backward()
    numeric = numerical_grad(lambda *v: run(random_program, v), xs, eps=1e-6)
    for x, n in zip(xs, numeric):
        assert x.grad == pytest.approx(n, rel=1e-4, abs=1e-6)
    first = [x.grad for x in xs]
    out.backward()
    assert [x.grad for x in xs] == [2 * g for g in first]


@settings(max_examples=50, deadline=None, derandomize=True)
@given(st.floats(-3, 3), st.integers(2, 300))
def test_a_node_reused_many_times(x0, uses):
    x = Value(x0)
    y = x.tanh()
    out = vsum([y * y for _ in range(uses)])
    out.backward()
    assert y.grad == pytest.approx(2 * uses * y.data, rel=1e-12, abs=1e-300)
    assert x.grad == pytest.approx(2 * uses * y.data * (1 - y.data**2), rel=1e-12, abs=1e-300)


# --- one accumulation: backward, grad, gradients and viz agree; clear errors -------------------------


def test_gradients_is_the_one_accumulation_behind_backward_grad_and_viz():
    from viz.graph import gradients as viz_gradients

    x, w = Value(0.7), Value(-1.3)
    h = (x * w).tanh()
    out = vsum([h * h, h, autograd.max([x, w])]) / 3.0
    x.grad = 5.0  # an old leaf gradient: gradients() and grad() must leave it as it is
    grads = autograd.gradients(out)
    assert viz_gradients(out) == grads and x.grad == 5.0 and h.grad == 0.0
    assert [g.data for g in grad(out, [x, w])] == [grads[x], grads[w]] and x.grad == 5.0
    dh = (2 * h.data + 1) / 3
    assert grads[h] == pytest.approx(dh, rel=1e-15)
    assert grads[w] == pytest.approx(dh * (1 - h.data**2) * x.data, rel=1e-15)
    x.grad = 0.0
    out.backward()
    assert all(v.grad == g for v, g in grads.items())


def test_gradients_checks_for_anomalies_for_every_caller():
    from viz.graph import gradients as viz_gradients

    x = Value(1e-100, label="x")
    z = (x * 1e200) * 1e200
    for compute in (autograd.gradients, viz_gradients, lambda z: grad(z, [x])):
        with detect_anomaly(), pytest.raises(AnomalyError, match=r"gradient inf of node .*label='x'"):
            compute(z)
        assert x.grad == 0.0
    assert autograd.gradients(z)[x] == math.inf  # outside the context: plain float arithmetic


def test_backward_of_a_list_is_a_clear_type_error():
    a, b = Value(1.0), Value(2.0)
    with pytest.raises(TypeError, match=r"backward\(\): expected a Value, got list; .*autograd.sum"):
        autograd.backward([a, b])
    with pytest.raises(TypeError, match=r"gradients\(\): expected a Value, got float"):
        autograd.gradients(3.0)
    vsum([a * 2, b * 3]).backward()  # what the message suggests
    assert (a.grad, b.grad) == (2.0, 3.0)


def test_second_derivative_at_zero_through_x_to_the_first_and_zeroth_power():
    x = Value(0.0)
    (g,) = grad(x**3 + x**2, [x], create_graph=True)
    (h,) = grad(g, [x], create_graph=True)
    (t,) = grad(h, [x])
    assert (g.data, h.data, t.data) == (0.0, 2.0, 6.0)


def test_threads_computing_gradients_of_one_graph_do_not_mix(monkeypatch):
    """The accumulation sums in the nodes' own .grad slots, under a lock, and puts the old values back.
    Forced here: thread f has summed its gradients into the slots of x and w and waits before reading
    them; thread g, sharing x and w, would zero those slots now and sum its own. With the lock, g
    waits until f is done; without it, f reads zeros and g sums onto f's restored 7.0 and 8.0."""
    x, w = Value(0.3), Value(-0.8)
    roots = {"f": x * w, "g": x + w * w}
    x.grad, w.grad = 7.0, 8.0
    f_summed, g_zeroed, f_done = threading.Event(), threading.Event(), threading.Event()
    chain_rule = graph_module.chain_rule

    def interleaved(order, seed):
        if threading.current_thread().name == "g":
            g_zeroed.set()  # g has zeroed the slots
            f_done.wait(0.5)
        chain_rule(order, seed)
        if threading.current_thread().name == "f":
            f_summed.set()
            g_zeroed.wait(0.5)  # give g the chance to zero the slots before f reads them

    monkeypatch.setattr(graph_module, "chain_rule", interleaved)
    results = {}

    def work(name):
        results[name] = [d.data for d in grad(roots[name], [x, w])]
        if name == "f":
            f_done.set()

    f, g = (threading.Thread(target=work, args=(n,), name=n) for n in ("f", "g"))
    f.start()
    assert f_summed.wait(5)
    g.start()
    f.join()
    g.join()
    assert results == {"f": [-0.8, 0.3], "g": [1.0, -1.6]}  # d(xw) = (w, x); d(x + w²) = (1, 2w)
    assert (x.grad, w.grad) == (7.0, 8.0)


# --- no silent NaN in backward: the op where a gradient became NaN is named --------------------------


def test_backward_names_the_op_where_a_gradient_becomes_nan():
    x = Value(1e308, label="x")
    yv = x * 10  # inf: the forward pass overflows, which is not an error by itself
    w = yv.tanh() * yv  # tanh's local derivative at inf is 0.0; the gradient reaching yv through it is inf
    message = (
        r"backward: the gradient of the '\*' node \(data=inf\) through tanh is NaN: "
        r"local derivative 0.0 × gradient inf"
    )
    x.grad = 5.0
    with pytest.raises(ValueError, match=message) as raised:
        w.backward()
    assert type(raised.value) is autograd.NaNError  # a ValueError, not an AnomalyError
    assert (x.grad, yv.grad) == (5.0, 0.0)  # a failed call adds nothing: no NaN is left behind
    for compute, expected in (
        (lambda: grad(w, [x]), message),
        (lambda: autograd.gradients(w), message),
        # on Values the chain rule's own product is an op, refused as every op making NaN is
        (
            lambda: grad(w, [x], create_graph=True),
            r"the gradient of the '\*' node \(data=inf\) through tanh: \*: inputs \[0.0, inf\] give NaN",
        ),
    ):
        with pytest.raises(ValueError, match=expected):
            compute()
        assert x.grad == 5.0


def test_a_nan_gradient_under_detect_anomaly_is_its_anomaly_error():
    x = Value(-2.0, label="x")
    with detect_anomaly():
        out = (x.relu() * 1e200) * 1e200  # every value and local derivative finite; d out / d relu = inf
        with pytest.raises(
            AnomalyError,
            match=r"of a leaf \('x', data=-2.0\) through relu is NaN: local derivative 0.0 × gradient inf",
        ):
            out.backward()
    with pytest.raises(
        ValueError, match=r"through relu is NaN: local derivative 0.0 × gradient inf"
    ) as raised:
        out.backward()  # the same, outside the context, as a plain ValueError
    assert type(raised.value) is autograd.NaNError and x.grad == 0.0


def test_infinite_gradients_of_opposite_signs_meeting_are_named():
    p = Value(1e-300, label="p")
    out = (p * 1e200) * 1e200 - (p * 1e200) * 1e200  # 1e100 - 1e100 = 0; d out / d p = inf - inf
    with pytest.raises(
        ValueError,
        match=r"leaf \('p', data=1e-300\) through \* is NaN: -?inf added to the -?inf it had from another",
    ):
        out.backward()
    q = Value(1e-300)
    q.grad = math.inf  # from an earlier call
    with pytest.raises(ValueError, match=r"this call's -inf added to the earlier inf .*zero_grad"):
        ((q * -1e200) * 1e200).backward()


def test_a_nan_local_derivative_from_numbers_is_named_and_nan_data_is_passed_on():
    base, exponent = Value(math.inf), Value(-1.0, label="e")
    y = base**exponent  # inf ** -1 = 0; d/d exponent = 0 * log(inf) is NaN at forward time
    assert y.data == 0.0 and math.isnan(y.local_grads[1])
    with pytest.raises(
        ValueError,
        match=r"leaf \('e', data=-1.0\) through \*\* is NaN: \*\*'s local derivative at inputs \[inf, -1.0\]",
    ):
        y.backward()
    x, z = Value(1.0), Value(3.0)
    x.data = math.nan  # NaN in .data (say, from a diverging optimizer) is passed on, as forward does
    (x * z + z).backward()
    assert math.isnan(z.grad) and x.grad == 3.0
