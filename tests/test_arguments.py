"""The shared argument checks: NumPy scalars accepted like Python ones, bools and NaN refused by name."""

import math

import numpy as np
import pytest

from autograd import arguments as args


def test_integers_accept_numpy_and_refuse_bools_floats_and_small_values():
    assert (
        args.positive_int("epochs", np.int64(3)) == 3
        and type(args.positive_int("epochs", np.int32(3))) is int
    )
    assert args.integer("seed", 0, minimum=0) == 0
    with pytest.raises(TypeError, match=r"epochs must be an integer, got True \(bool\)"):
        args.positive_int("epochs", True)
    with pytest.raises(TypeError, match="epochs must be an integer, got 2.0"):
        args.positive_int("epochs", 2.0)
    with pytest.raises(ValueError, match="epochs must be a positive integer, got 0"):
        args.positive_int("epochs", 0)
    with pytest.raises(ValueError, match="seed must be an integer >= 0, got -5"):
        args.integer("seed", -5, minimum=0)


def test_reals_accept_numpy_and_refuse_nan_inf_and_out_of_range():
    assert (
        args.real("lr", np.float32(0.5), minimum=0) == 0.5 and type(args.real("lr", np.float64(1))) is float
    )
    assert args.real("momentum", 0, minimum=0, maximum=1, strict_max=True) == 0.0
    for bad in (math.nan, math.inf, -math.inf, np.float64("nan")):
        with pytest.raises(ValueError, match="lr must be a finite number"):
            args.real("lr", bad)
    with pytest.raises(ValueError, match="momentum must be < 1"):
        args.real("momentum", 1.0, maximum=1, strict_max=True)
    with pytest.raises(ValueError, match="eps must be > 0"):
        args.real("eps", 0.0, minimum=0, strict_min=True)
    with pytest.raises(TypeError, match="lr must be a real number, got '0.1' \\(str\\)"):
        args.real("lr", "0.1")


def test_choice_names_the_options():
    assert args.choice("engine", "tape", ("auto", "tape", "eager")) == "tape"
    with pytest.raises(ValueError, match="engine must be one of 'auto', 'tape', 'eager'; got 'fast'"):
        args.choice("engine", "fast", ("auto", "tape", "eager"))
