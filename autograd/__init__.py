"""autograd: a scalar automatic-differentiation engine whose graph you can see.

from autograd import Value
x = Value(2.0, label="x")
y = x * x + 3 * x
y.backward()          # x.grad == 2 * 2 + 3 == 7
"""

from .backward import backward, grad, gradients, last_backward_root, topological_order, zero_grad
from .check import GradcheckError, gradcheck, numerical_grad
from .errors import (
    AnomalyError,
    DivisionByZero,
    DomainError,
    NaNError,
    NotTraceable,
    NumericError,
    NumericOverflow,
)
from .mode import detect_anomaly, enable_grad, is_grad_enabled, no_grad
from .ops import OPS, Op
from .tape import NonFiniteError, Tape
from .value import Traced, Value, max, sum  # noqa: F401 (autograd.sum / autograd.max, kept out of __all__)

__all__ = [  # `sum` and `max` are left out: `from autograd import *` must not hide the builtins
    "Value",
    "backward",
    "last_backward_root",
    "grad",
    "gradients",
    "topological_order",
    "zero_grad",
    "numerical_grad",
    "gradcheck",
    "GradcheckError",
    "no_grad",
    "enable_grad",
    "is_grad_enabled",
    "detect_anomaly",
    "AnomalyError",
    "NumericError",
    "DomainError",
    "DivisionByZero",
    "NumericOverflow",
    "NaNError",
    "NonFiniteError",
    "NotTraceable",
    "Traced",
    "OPS",
    "Op",
    "Tape",
]
