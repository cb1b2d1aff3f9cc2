"""Optimizers: SGD (with momentum and weight decay) and Adam, with PyTorch's update rules.

``lr`` is a number or a schedule: a plain callable ``lr(step) -> float`` of the 0-based step
number, e.g. ``lambda t: 1.0 - 0.9 * t / 100`` (micrograd's demo).

Each rule is written once, on NumPy arrays (``update(data, grad, lr)``), with its state (momentum,
Adam's m and v) held as arrays over the parameter list. ``step()`` gathers every Value's ``.data``
and ``.grad`` into arrays, runs the rule and writes ``.data`` back; a training loop that already
holds the parameters as arrays (``fit`` on the batch tape) calls ``step_arrays`` and skips the
per-Value Python loops. Elementwise float64 arithmetic in the same order as scalar Python gives the
same bits, so both paths (and torch.optim) agree exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from operator import attrgetter
from typing import Any

import numpy as np

from autograd import Value
from autograd.arguments import real

LearningRate = float | Callable[[int], float]
_data, _grad = attrgetter("data"), attrgetter("grad")


class Optimizer:
    """Holds the parameters and the step count; subclasses define ``update``, the rule on arrays.
    A custom optimizer may instead override ``step()`` and work on the Values directly."""

    def __init__(self, params: Iterable[Value], lr: LearningRate) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        for i, p in enumerate(self.params):
            if not isinstance(p, Value):
                raise TypeError(f"{type(self).__name__}: params[{i}] is a {type(p).__name__}, not a Value")
        self.lr = lr
        self.steps = 0  # how many steps have been taken

    @property
    def lr(self) -> LearningRate:
        """The learning rate: a number, or a schedule ``lr(step) -> float`` (checked at each step)."""
        return self._lr

    @lr.setter
    def lr(self, lr: LearningRate) -> None:
        self._lr = lr
        self._constant = None if callable(lr) else _check_lr(lr)  # checked once, where it is set

    def current_lr(self) -> float:
        """The learning rate the next step will use."""
        if self._constant is not None:
            return self._constant
        schedule = self._lr
        assert callable(schedule)  # a number is _constant
        return _check_lr(schedule(self.steps))

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to 0 (backward accumulates into leaves)."""
        for p in self.params:
            p.grad = 0.0

    def step(self) -> None:
        """Move every parameter once, using the gradients in ``.grad``."""
        n = len(self.params)
        data = np.fromiter(map(_data, self.params), float, n)
        grad = np.fromiter(map(_grad, self.params), float, n)
        self.step_arrays(data, grad)
        for p, d in zip(self.params, data.tolist()):
            p.data = d

    def step_arrays(self, data: np.ndarray, grad: np.ndarray) -> None:
        """One step on arrays instead of Values: ``data[i]`` and ``grad[i]`` are ``params[i]``'s
        value and gradient (float64); ``data`` is updated in place, the Values are not touched."""
        lr = self.current_lr()
        self.steps += 1
        with np.errstate(over="ignore", invalid="ignore"):  # as float steps do: inf, no warning;
            self.update(data, grad, lr)  # fit finds a non-finite parameter and reports it

    def update(self, data: np.ndarray, grad: np.ndarray, lr: float) -> None:
        """The update rule: move ``data`` in place, given ``grad`` and this step's ``lr``."""
        raise NotImplementedError


def _check_lr(lr: Any) -> float:
    try:
        return real("learning rate", lr, minimum=0.0)
    except (TypeError, ValueError):
        raise ValueError(f"learning rate must be a finite number >= 0, got {lr!r}") from None


def _fraction(name: str, x: Any) -> float:
    """x as a float in [0, 1) (momentum, a beta); NaN and infinity refused."""
    try:
        return real(name, x, 0.0, 1.0, strict_max=True)
    except ValueError:
        raise ValueError(f"{name} must be in [0, 1), got {x!r}") from None


def _betas(betas: Any) -> tuple[float, float]:
    """Adam's (beta1, beta2): exactly two numbers, each in [0, 1)."""
    if isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__") or len(betas) != 2:
        raise ValueError(f"betas must be a pair (beta1, beta2) of numbers in [0, 1), got {betas!r}")
    return _fraction("betas", betas[0]), _fraction("betas", betas[1])


class SGD(Optimizer):
    """Stochastic gradient descent, as torch.optim.SGD (dampening 0, no Nesterov):

    g = grad + weight_decay * p
    v = g on the first step, then v = momentum * v + g      (only when momentum > 0)
    p = p - lr * v
    """

    def __init__(
        self, params: Iterable[Value], lr: LearningRate, momentum: float = 0.0, weight_decay: float = 0.0
    ) -> None:
        super().__init__(params, lr)
        self.momentum = _fraction("momentum", momentum)
        self.weight_decay = real("weight_decay", weight_decay, minimum=0.0)
        self.velocity: np.ndarray | None = None  # one entry per parameter, after the first step

    def update(self, data: np.ndarray, grad: np.ndarray, lr: float) -> None:
        mu, wd = self.momentum, self.weight_decay
        g = grad + wd * data if wd else grad
        if mu:
            if self.velocity is None:
                self.velocity = g.copy()  # a copy: grad may be the caller's buffer, reused next step
            else:
                self.velocity = mu * self.velocity + g
            g = self.velocity
        data -= lr * g


class Adam(Optimizer):
    """Adam with bias correction, as torch.optim.Adam (weight_decay adds wd * p to the gradient):

    m = b1 * m + (1 - b1) * g          v = b2 * v + (1 - b2) * g^2
    p = p - (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
    """

    def __init__(
        self,
        params: Iterable[Value],
        lr: LearningRate = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        self.betas = _betas(betas)
        self.eps = real("eps", eps, minimum=0.0)
        self.weight_decay = real("weight_decay", weight_decay, minimum=0.0)
        self.m = np.zeros(len(self.params))  # one entry per parameter
        self.v = np.zeros(len(self.params))

    def update(self, data: np.ndarray, grad: np.ndarray, lr: float) -> None:
        (b1, b2), eps, wd, t = self.betas, self.eps, self.weight_decay, self.steps
        step_size = lr / (1 - b1**t)
        sqrt_bc2 = math.sqrt(1 - b2**t)
        g = grad + wd * data if wd else grad
        self.m = m = b1 * self.m + (1 - b1) * g
        self.v = v = b2 * self.v + (1 - b2) * g * g
        data -= step_size * m / (np.sqrt(v) / sqrt_bc2 + eps)
