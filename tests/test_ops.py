"""Every primitive: its value and its derivative against closed forms and central differences,
at ordinary points and at edge points; and its errors outside its domain."""

import math

import numpy as np
import pytest

from autograd import OPS, Value, grad, numerical_grad
from autograd import sum as vsum


def derivative(f, x0):
    x = Value(x0)
    (g,) = grad(f(x), [x])
    return f(Value(x0)).data, g.data


UNARY = [
    # name, f on a Value, closed-form value, closed-form derivative, points
    ("neg", lambda v: -v, lambda x: -x, lambda x: -1.0, [-2.0, 0.0, 3.5]),
    ("exp", lambda v: v.exp(), math.exp, math.exp, [-30.0, -1.0, 0.0, 2.0, 700.0]),
    ("log", lambda v: v.log(), math.log, lambda x: 1 / x, [1e-8, 0.5, 1.0, 1e6]),
    ("tanh", lambda v: v.tanh(), math.tanh, lambda x: 1 - math.tanh(x) ** 2, [-3.0, 0.0, 0.7, 25.0, -400.0]),
    (
        "relu",
        lambda v: v.relu(),
        lambda x: max(x, 0.0),
        lambda x: 1.0 if x > 0 else 0.0,
        [-2.0, 0.0, 1e-12, 3.0],
    ),
    ("abs", lambda v: abs(v), abs, lambda x: math.copysign(1.0, x) if x else 0.0, [-2.0, 0.0, 3.0]),
    ("**2", lambda v: v**2, lambda x: x * x, lambda x: 2 * x, [-3.0, 0.0, 1.5]),
    ("**3", lambda v: v**3, lambda x: x**3, lambda x: 3 * x * x, [-2.0, 0.0, 2.0]),
    ("**-1", lambda v: v**-1, lambda x: 1 / x, lambda x: -1 / x**2, [-4.0, 0.25, 8.0]),
    ("**0.5", lambda v: v**0.5, math.sqrt, lambda x: 0.5 / math.sqrt(x), [1e-6, 2.0, 9.0]),
]


def sigmoid_exact(x):
    return 1 / (1 + math.exp(-x)) if x > -700 else 0.0


@pytest.mark.parametrize("name,f,value,deriv,points", UNARY, ids=[u[0] for u in UNARY])
def test_unary_value_and_derivative_closed_form(name, f, value, deriv, points):
    for x0 in points:
        out, g = derivative(f, x0)
        assert out == pytest.approx(value(x0), rel=1e-14, abs=1e-300)
        assert g == pytest.approx(deriv(x0), rel=1e-12, abs=1e-300)
        assert f(Value(x0)).op == name


@pytest.mark.parametrize("name,f,value,deriv,points", UNARY, ids=[u[0] for u in UNARY])
def test_unary_derivative_matches_central_differences(name, f, value, deriv, points):
    for x0 in points:
        if name in ("relu", "abs") and x0 == 0.0:
            continue  # a kink: the two one-sided slopes differ (the convention is tested above)
        if name == "exp" and x0 == 700.0:
            continue  # exp(700 +- eps) differences lose all digits; checked by closed form
        x = Value(x0)
        eps = abs(x0) * 1e-4 if 0 < abs(x0) < 1e-2 else 1e-6 * max(1.0, abs(x0))  # stay clear of kinks
        (num,) = numerical_grad(f, [x], eps=eps)
        _, g = derivative(f, x0)
        assert g == pytest.approx(num, rel=1e-5, abs=1e-8)


@pytest.mark.parametrize("x0", [-1000.0, -50.0, -1.0, 0.0, 1.0, 50.0, 1000.0])
def test_sigmoid_is_stable_for_large_inputs(x0):
    out, g = derivative(lambda v: v.sigmoid(), x0)
    exact = sigmoid_exact(x0)
    assert out == pytest.approx(exact, rel=1e-14, abs=1e-300)
    assert g == pytest.approx(exact * (1 - exact), rel=1e-12, abs=1e-300)
    assert math.isfinite(out) and math.isfinite(g)
    assert 0.0 <= out <= 1.0


BINARY = [
    ("+", lambda a, b: a + b, lambda a, b: (1.0, 1.0)),
    ("-", lambda a, b: a - b, lambda a, b: (1.0, -1.0)),
    ("*", lambda a, b: a * b, lambda a, b: (b, a)),
    ("/", lambda a, b: a / b, lambda a, b: (1 / b, -a / b**2)),
    ("**", lambda a, b: a**b, lambda a, b: (b * a ** (b - 1), a**b * math.log(a))),
]


@pytest.mark.parametrize("name,f,deriv", BINARY, ids=[b[0] for b in BINARY])
@pytest.mark.parametrize("a0,b0", [(1.5, 2.0), (0.3, -1.7), (4.0, 0.5), (2.0, 3.0)])
def test_binary_value_and_derivatives(name, f, deriv, a0, b0):
    a, b = Value(a0), Value(b0)
    out = f(a, b)
    assert out.op == name
    assert out.data == pytest.approx(f(a0, b0), rel=1e-15)
    ga, gb = grad(out, [a, b])
    da, db = deriv(a0, b0)
    assert (ga.data, gb.data) == pytest.approx((da, db), rel=1e-12)
    assert out.local_grads == pytest.approx((da, db), rel=1e-12)
    assert [g.data for g in (ga, gb)] == pytest.approx(numerical_grad(f, [a, b]), rel=1e-6, abs=1e-8)


def test_numbers_on_either_side():
    v = Value(3.0)
    assert (2 * v).data == 6.0 and (v * 2).data == 6.0
    assert (1 - v).data == -2.0 and (v - 1).data == 2.0
    assert (6 / v).data == 2.0 and (v / 6).data == 0.5
    assert (2**v).data == 8.0 and (v**2).data == 9.0
    assert (1 + v).data == 4.0 and (v + 1).data == 4.0
    (g,) = grad(2**v, [v])
    assert g.data == pytest.approx(8 * math.log(2), rel=1e-15)
    (g,) = grad(6 / v, [v])
    assert g.data == pytest.approx(-6 / 9, rel=1e-15)
    (g,) = grad(1 - v, [v])
    assert g.data == -1.0


def test_numpy_scalars_work_on_either_side():
    v = Value(np.float32(2.0))
    assert type(v.data) is float
    out = np.float64(3.0) * v
    assert isinstance(out, Value) and out.data == 6.0
    assert (v + np.int64(1)).data == 3.0
    assert Value(np.bool_(True)).data == 1.0


def test_negative_base_with_integer_exponent():
    x = Value(-3.0)
    y = x**2
    assert y.data == 9.0
    (g,) = grad(y, [x])
    assert g.data == -6.0
    assert (x**3).data == -27.0


def test_sum_is_one_nary_node():
    xs = [Value(float(i)) for i in range(1, 6)]
    s = vsum(xs + [2])
    assert s.op == "sum" and len(s.parents) == 6 and s.data == 17.0
    grads = grad(s, xs)
    assert [g.data for g in grads] == [1.0] * 5
    same = vsum([xs[0], xs[0], xs[0]])
    assert grad(same, [xs[0]])[0].data == 3.0


@pytest.mark.parametrize(
    "make,error,message",
    [
        (lambda: Value(-1.0).log(), ValueError, "log() of -1.0 is undefined"),
        (lambda: Value(0.0).log(), ValueError, "log() of 0.0 is undefined"),
        (lambda: Value(-8.0) ** 0.5, ValueError, "negative base"),
        (lambda: Value(1.0) / 0, ZeroDivisionError, "division by zero: 1.0 / 0.0"),
        (lambda: 1 / Value(0.0), ZeroDivisionError, "division by zero"),
        (lambda: Value(0.0) ** -1, ZeroDivisionError, "0.0 ** -1.0"),
        (lambda: Value(1000.0).exp(), OverflowError, "exp() of 1000.0 overflows"),
        (lambda: Value(10.0) ** 400, OverflowError, "overflows"),
        (lambda: Value(-2.0) ** Value(3.0), ValueError, "exponent is undefined"),
        (lambda: Value(0.0) ** 0.5, ZeroDivisionError, "derivative of 0.0 ** 0.5 is infinite"),
    ],
)
def test_errors_name_the_op_and_the_value(make, error, message):
    with pytest.raises(error) as info:
        make()
    assert message in str(info.value)


def test_every_primitive_in_the_table_is_tested():
    tested = {u[0] for u in UNARY} | {b[0] for b in BINARY} | {"sigmoid", "sum", "max"}
    table = {name for name in OPS}
    assert table <= tested | {"**"}, table - tested


def test_max_is_one_nary_node_with_a_one_hot_derivative():
    import autograd

    xs = [Value(1.0), Value(3.0), Value(-2.0), Value(3.0)]
    m = autograd.max(xs)
    assert m.op == "max" and m.data == 3.0 and m.local_grads == (0.0, 1.0, 0.0, 0.0)
    assert [g.data for g in grad(m, xs)] == [0.0, 1.0, 0.0, 0.0]
    # the stable log-sum-exp: the gradient through the shift cancels, leaving the softmax
    z = [Value(1000.0), Value(999.0), Value(998.0)]
    shift = autograd.max(z)
    lse = shift + autograd.sum((zi - shift).exp() for zi in z).log()
    e = [math.exp(-k) for k in range(3)]
    assert lse.data == pytest.approx(1000 + math.log(sum(e)), rel=1e-15)
    assert [g.data for g in grad(lse, z)] == pytest.approx([x / sum(e) for x in e], rel=1e-12)
    with pytest.raises(ValueError, match="max\\(\\) of no values"):
        autograd.max([])


# --- no silent NaN; x ** 0; (-2) ** inf; overflowing sums; the bounded power cache ----------------

INF = math.inf
MAKES_NAN = [
    ("*", lambda: Value(0.0) * INF, r"\*: inputs \[0.0, inf\] give NaN"),
    ("-", lambda: Value(INF) - INF, r"-: inputs \[inf, inf\] give NaN"),
    ("/", lambda: Value(INF) / Value(INF), r"/: inputs \[inf, inf\] give NaN"),
    ("+", lambda: INF + Value(-INF), r"\+: inputs \[inf, -inf\] give NaN"),
    ("sum", lambda: vsum([Value(INF), 1.0, -INF]), r"sum: inputs \[inf, 1.0, -inf\] give NaN"),
]


@pytest.mark.parametrize("name,make,message", MAKES_NAN, ids=[m[0] for m in MAKES_NAN])
def test_an_op_that_makes_nan_raises_in_every_mode(name, make, message):
    from autograd import AnomalyError, detect_anomaly, no_grad

    with pytest.raises(ValueError, match=message):
        make()
    with no_grad(), pytest.raises(ValueError, match=message):
        make()
    with detect_anomaly(), pytest.raises(AnomalyError, match=message + ".*detect_anomaly"):
        make()


def test_nan_in_gives_nan_out_as_on_the_tape():
    import numpy as np

    import autograd

    x = Value(1.0)
    x.data = math.nan  # how a NaN gets in: written to .data (say, by a diverging optimizer)
    relu = OPS["relu"].forward_on_arrays()(np.array([math.nan]))[0]  # the tape's rule
    assert math.isnan(x.relu().data) and math.isnan(relu)
    for xs in ([x, Value(1.0)], [Value(1.0), x], [Value(2.0), x, Value(3.0)]):
        m = autograd.max(xs)  # no StopIteration: the derivative goes to the NaN, as argmax does
        tape = OPS["max"].forward_on_arrays()(np.array([[v.data] for v in xs]))[0]
        assert math.isnan(m.data) and math.isnan(tape)
        assert m.local_grads == tuple(1.0 if v is x else 0.0 for v in xs)
    assert math.isnan((x * 2.0).data)  # NaN in: passed on, not reported as made by *


def test_x_to_the_zero_is_one_with_derivative_zero_everywhere():
    for x0 in (0.0, -2.0, 3.5, INF):
        x = Value(x0)
        y = x**0
        assert y.data == 1.0 and y.local_grads == (0.0,) and grad(y, [x])[0].data == 0.0
    x = Value(0.0)
    (d1,) = grad(x**2, [x], create_graph=True)  # 2 * x ** 1
    (d2,) = grad(d1, [x], create_graph=True)  # 2 * 1 * x ** 0: needed x ** 0 at 0
    assert (d1.data, d2.data) == (0.0, 2.0)
    assert grad(d2, [x])[0].data == 0.0
    (one,) = grad(x**1, [x], create_graph=True)
    assert one.data == 1.0 and grad(one, [x])[0].data == 0.0


def test_negative_base_to_an_infinite_power_is_a_clear_error():
    for make in (lambda: Value(-2.0) ** INF, lambda: Value(-2.0) ** Value(INF), lambda: (-2.0) ** Value(INF)):
        with pytest.raises(ValueError, match=r"\(-2.0\) \*\* inf is undefined .*exponent not an integer"):
            make()
    assert (Value(2.0) ** INF).data == INF and (Value(0.5) ** INF).data == 0.0


def test_an_overflowing_sum_behaves_like_plus():
    big = [Value(1e308), Value(1e308)]
    assert vsum(big).data == (big[0] + big[1]).data == INF  # not "intermediate overflow in fsum"
    assert vsum([1e308, 1e308, -1e308]).data == (Value(1e308) + 1e308 - 1e308).data == INF
    assert [g.data for g in grad(vsum(big), big)] == [1.0, 1.0]
    assert vsum([1e308, -1e308, 1.0]).data == 1.0  # no overflow: still the exactly rounded sum
    from autograd import AnomalyError, detect_anomaly

    with detect_anomaly(), pytest.raises(AnomalyError, match="sum: inputs .* gave output inf"):
        vsum(big)


def test_many_distinct_exponents_leave_bounded_memory():
    import gc
    import tracemalloc

    x = Value(1.5)
    x**2.5  # warm up what any first use allocates
    gc.collect()
    tracemalloc.start()
    for i in range(20_000):
        x ** (1 + i / 20_000 / 7)  # 20,000 distinct constant exponents
    gc.collect()
    left = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert left < 3_000_000, f"{left:,} bytes left behind by 20,000 exponents"
    assert (x**2).op == "**2" and (x**2).data == 2.25  # still correct after the cache turned over


def test_numeric_failures_have_the_engines_own_types_and_keep_the_builtin_ones():
    from autograd import DivisionByZero, DomainError, NaNError, NumericError, NumericOverflow

    cases = [
        (lambda: Value(-1.0).log(), DomainError, ValueError, r"log\(\) of -1.0 is undefined"),
        (lambda: Value(-8.0) ** 0.5, DomainError, ValueError, "negative base"),
        (lambda: Value(1.0) / 0, DivisionByZero, ZeroDivisionError, "division by zero"),
        (lambda: Value(1000.0).exp(), NumericOverflow, OverflowError, "overflows"),
        (lambda: Value(10**400), NumericOverflow, OverflowError, r"about 10\*\*400 is too large"),
        (lambda: 10**400 * Value(1.0), NumericOverflow, OverflowError, r"operator '\*'"),
        (lambda: Value(math.inf) - math.inf, NaNError, ValueError, "give NaN"),
    ]
    for make, engine_type, builtin, message in cases:
        with pytest.raises(engine_type, match=message) as e:
            make()
        assert isinstance(e.value, NumericError) and isinstance(e.value, builtin)
