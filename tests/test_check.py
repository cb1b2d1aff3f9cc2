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


def test_tolerances_and_step_are_checked_by_name():
    f = lambda a: a * a  # noqa: E731
    for bad, error, message in [
        (dict(eps=0.0), ValueError, "eps must be > 0"),
        (dict(eps=math.nan), ValueError, "eps must be a finite number"),
        (dict(atol=-1e-6), ValueError, "atol must be >= 0"),
        (dict(rtol=math.inf), ValueError, "rtol must be a finite number"),
        (dict(eps=True), TypeError, r"eps must be a real number, got True \(bool\)"),
    ]:
        with pytest.raises(error, match=message):
            gradcheck(f, [Value(1.0)], **bad)
    with pytest.raises(ValueError, match="eps must be > 0"):
        numerical_grad(f, [Value(1.0)], eps=-1e-6)
    with pytest.raises(TypeError, match=r"inputs\[0\] must be a Value, got float"):
        numerical_grad(f, [1.0])
    import numpy as np

    assert numerical_grad(f, [Value(3.0)], eps=np.float32(1e-3)) == pytest.approx([6.0], rel=1e-6)
