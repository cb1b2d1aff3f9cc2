"""Checking gradients against finite differences."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .arguments import real
from .backward import grad
from .value import Value


class GradcheckError(AssertionError):
    """Backward and finite differences disagree; the message names the input and the numbers."""


def numerical_grad(f: Callable[..., Value], inputs: Sequence[Value], eps: float = 1e-6) -> list[float]:
    """d f / d input for each input by central differences: (f(x + eps) - f(x - eps)) / (2 eps).

    ``f`` is called as ``f(*inputs)`` and must return a Value. The inputs' data is restored after.
    This costs two forward passes per input, where backward costs about one forward pass in all.
    """
    inputs = _values("numerical_grad", inputs)
    eps = real("eps", eps, 0.0, strict_min=True)
    result = []
    for x in inputs:  # not under no_grad(): f may itself call grad() (checking second derivatives)
        original = x.data
        try:
            x.data = original + eps
            up = _evaluate(f, inputs)
            x.data = original - eps
            down = _evaluate(f, inputs)
        finally:
            x.data = original
        result.append((up - down) / (2 * eps))
    return result


def gradcheck(
    f: Callable[..., Value],
    inputs: Sequence[Value],
    atol: float = 1e-6,
    rtol: float = 1e-4,
    eps: float = 1e-6,
) -> bool:
    """True if backward agrees with ``numerical_grad`` for every input, within
    ``atol + rtol * |numerical|``; otherwise raise ``GradcheckError`` naming each input that does not."""
    inputs = _values("gradcheck", inputs)
    atol, rtol = real("atol", atol, 0.0), real("rtol", rtol, 0.0)
    eps = real("eps", eps, 0.0, strict_min=True)
    analytic = [g.data for g in grad(f(*inputs), inputs)]
    numeric = numerical_grad(f, inputs, eps)
    bad = [
        f"input {i}{f' ({x.label})' if x.label else ''} at {x.data!r}: backward {a!r}, "
        f"numerical {n!r}, difference {abs(a - n):.3g} > allowed {atol + rtol * abs(n):.3g}"
        for i, (x, a, n) in enumerate(zip(inputs, analytic, numeric))
        if not abs(a - n) <= atol + rtol * abs(n)
    ]
    if bad:
        raise GradcheckError("gradcheck failed:\n  " + "\n  ".join(bad))
    return True


def _values(where: str, inputs: Sequence[Value]) -> list[Value]:
    inputs = [inputs] if isinstance(inputs, Value) else list(inputs)
    for i, x in enumerate(inputs):
        if not isinstance(x, Value):
            raise TypeError(f"{where}(): inputs[{i}] must be a Value, got {type(x).__name__} {x!r}")
    return inputs


def _evaluate(f: Callable[..., Value], inputs: list[Value]) -> float:
    out = f(*inputs)
    if not isinstance(out, Value):
        raise TypeError(f"the function given to numerical_grad must return a Value, got {type(out).__name__}")
    return out.data
