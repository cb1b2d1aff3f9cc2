"""numerical_grad and gradcheck."""

import math

import pytest

from autograd import GradcheckError, Value, gradcheck, numerical_grad


def test_numerical_grad_matches_closed_form_and_restores_inputs():
    x, y = Value(1.3), Value(-0.4)
    num = numerical_grad(lambda a, b: a * b + a.exp(), [x, y])
    assert num == pytest.approx([-0.4 + math.exp(1.3), 1.3], rel=1e-8)
    assert (x.data, y.data) == (1.3, -0.4)


def test_gradcheck_passes_on_a_correct_gradient():
    assert gradcheck(lambda a, b: (a / b).tanh() + a**3, [Value(0.7), Value(1.9)])


def test_gradcheck_names_the_input_that_disagrees():
    # A function whose "gradient" is wrong on purpose: relu at its kink has slope 0 by
    # convention while central differences see 0.5.
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda a, b: a * b + b.relu(), [Value(2.0, label="a"), Value(0.0, label="b")])
    message = str(info.value)
    assert "input 1 (b)" in message and "backward 2.0" in message and "input 0" not in message


def test_numerical_grad_needs_a_value():
    with pytest.raises(TypeError, match="must return a Value"):
        numerical_grad(lambda a: 3.0, [Value(1.0)])
