"""Neuron, Layer and MLP, made of autograd Values so every forward pass can be drawn.

A neuron computes act(Σ x_i·w_i + b) as ONE n-ary sum node, and names what it builds for the
renderer: weights ``w0, w1, ...``, bias ``b``, products ``x·w``, the sum ``Σ`` and the activation
(``relu``, ``tanh``, ``sigmoid``), all with ``scope`` = the neuron's dotted name such as
``layers.0.neurons.1``.

Weights are drawn by a seeded initializer or given explicitly, one *row* per neuron: its weights
in input order, then its bias (the order of ``parameters()``, and of micrograd).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

import autograd
from autograd import Value

from .module import Module, _one_number

ACTIVATIONS = ("linear", "relu", "tanh", "sigmoid")  # per neuron
OUTPUT_ACTIVATIONS = ACTIVATIONS + ("softmax",)  # softmax acts on a whole layer: output layers only
INITS = ("uniform", "xavier", "glorot", "he")

Seed = int | random.Random | None


def _check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def _check_size(name: str, n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{name} must be a positive int, got {n!r}")
    return n


def _rng(seed: Seed) -> random.Random:
    return seed if isinstance(seed, random.Random) else random.Random(seed)


def initial_row(init: str, nin: int, nout: int, rng: random.Random, bias: bool) -> list[float]:
    """One neuron's starting parameters (weights, then a zero bias) from a named initializer.

    ``uniform``: U(-1, 1) as in micrograd; ``xavier``/``glorot``: U(-a, a) with
    a = sqrt(6 / (nin + nout)); ``he``: N(0, sqrt(2 / nin)), for ReLU layers.
    """
    _check_choice("init", init, INITS)
    if init == "uniform":
        w = [rng.uniform(-1.0, 1.0) for _ in range(nin)]
    elif init in ("xavier", "glorot"):
        a = math.sqrt(6.0 / (nin + nout))
        w = [rng.uniform(-a, a) for _ in range(nin)]
    else:
        w = [rng.gauss(0.0, math.sqrt(2.0 / nin)) for _ in range(nin)]
    return w + [0.0] if bias else w


def as_inputs(x: Any, nin: int, who: object) -> list[Value]:
    """The model's input as a list of nin Values: numbers become leaves labelled x0, x1, ..."""
    if isinstance(x, Value) or not hasattr(x, "__len__"):
        x = [x]  # one number or Value for a one-input model
    if len(x) != nin:
        raise ValueError(f"{who!r} expects {nin} inputs, got {len(x)}")
    return [xi if isinstance(xi, Value) else Value(xi, label=f"x{i}") for i, xi in enumerate(x)]


class Neuron(Module):
    """act(Σ x_i·w_i + b). ``Neuron(2, activation="tanh")``; ``weights=[w0, w1, b]`` to set them."""

    def __init__(
        self,
        nin: int,
        activation: str = "relu",
        bias: bool = True,
        init: str = "uniform",
        seed: Seed = None,
        weights: Sequence[float] | None = None,
    ) -> None:
        self.nin = _check_size("nin", nin)
        if activation == "softmax":
            raise ValueError("softmax acts on a whole layer: use Layer(..., activation='softmax')")
        self.activation = _check_choice("activation", activation, ACTIVATIONS)
        self.bias = bool(bias)
        if weights is None:
            weights = initial_row(init, nin, 1, _rng(seed), self.bias)
        n = nin + self.bias
        if isinstance(weights, (str, bytes)) or not hasattr(weights, "__len__") or len(weights) != n:
            what = f"{nin} weights then the bias" if self.bias else f"{nin} weights (no bias)"
            raise ValueError(f"Neuron({nin}) takes {n} numbers ({what}); got {weights!r:.80}")
        row = [_one_number(v, f"Neuron weights[{i}]") for i, v in enumerate(weights)]
        self.w = [Value(v, label=f"w{i}") for i, v in enumerate(row[:nin])]
        self.b = Value(row[nin], label="b") if self.bias else None
        self._set_scope("")

    def own_parameters(self) -> list[tuple[str, Value]]:
        named = [(f"w.{i}", w) for i, w in enumerate(self.w)]
        return named + [("b", self.b)] if self.b is not None else named

    def __call__(self, x: Any) -> Value:
        x = as_inputs(x, self.nin, self)
        scope = self._scope
        terms = []
        for xi, wi in zip(x, self.w):
            p = xi * wi
            p.label, p.scope = "x·w", scope
            terms.append(p)
        if self.b is not None:
            terms.append(self.b)
        s = autograd.sum(terms)
        s.label, s.scope = "Σ", scope
        if self.activation == "linear":
            return s
        out = getattr(s, self.activation)()
        out.label, out.scope = self.activation, scope
        return out

    def config(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this architecture (weights aside)."""
        return {"nin": self.nin, "activation": self.activation, "bias": self.bias}

    def __repr__(self) -> str:
        return f"Neuron({self.nin} -> {self.activation}{'' if self.bias else ', no bias'})"


class Layer(Module):
    """``nout`` neurons reading the same inputs. ``weights``: one row per neuron (see Neuron)."""

    def __init__(
        self,
        nin: int,
        nout: int,
        activation: str = "relu",
        bias: bool = True,
        init: str = "uniform",
        seed: Seed = None,
        weights: Sequence[Sequence[float]] | None = None,
    ) -> None:
        self.nin, self.nout = _check_size("nin", nin), _check_size("nout", nout)
        self.activation = _check_choice("activation", activation, OUTPUT_ACTIVATIONS)
        self.bias = bool(bias)
        if weights is None:
            rng = _rng(seed)
            weights = [initial_row(init, nin, nout, rng, self.bias) for _ in range(nout)]
        elif not hasattr(weights, "__len__") or len(weights) != nout:
            raise ValueError(
                f"Layer({nin}, {nout}) takes {nout} weight rows (one per neuron); got {weights!r:.80}"
            )
        per_neuron = "linear" if activation == "softmax" else activation
        self.neurons = [Neuron(nin, per_neuron, bias, weights=row) for row in weights]
        self._set_scope("")

    def children(self) -> list[tuple[str, Module]]:
        return [(f"neurons.{j}", n) for j, n in enumerate(self.neurons)]

    def forward(self, x: Any) -> list[Value]:
        """The layer's outputs, always as a list."""
        x = as_inputs(x, self.nin, self)
        outs = [n(x) for n in self.neurons]
        return _softmax(outs, self._scope) if self.activation == "softmax" else outs

    def __call__(self, x: Any) -> list[Value] | Value:
        outs = self.forward(x)
        return outs[0] if len(outs) == 1 else outs

    def config(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this architecture (weights aside)."""
        return {"nin": self.nin, "nout": self.nout, "activation": self.activation, "bias": self.bias}

    def __repr__(self) -> str:
        act = "" if self.activation == "linear" else f" {self.activation}"
        return f"Layer({self.nin} -> {self.nout}{act}{'' if self.bias else ', no bias'})"


def _softmax(z: list[Value], scope: str) -> list[Value]:
    """exp(z_k - m) / Σ exp(z_j - m) with m = max(z): stable, and shaped the same for any data."""
    m = autograd.max(z)
    e = [(zk - m).exp() for zk in z]
    total = autograd.sum(e)
    m.label, total.label = "max", "Σexp"
    out = [ek / total for ek in e]
    for v in [m, total, *out]:
        v.scope = scope
    for ek, p in zip(e, out):
        ek.label, ek.scope, p.label = "exp", scope, "softmax"
    return out


class MLP(Module):
    """A multi-layer perceptron: ``MLP(2, [16, 16, 1])`` has two hidden ReLU layers of 16 and one output.

    ``activation`` is for the hidden layers, ``output_activation`` for the last one (``softmax``
    allowed there). ``weights``: one list of neuron rows per layer (see Neuron), e.g. the seed
    example's ``[[[0.3, 0.25], [0.4, 0.35]], [[0.45, 0.4], [0.7, 0.6]]]`` with ``bias=False``.
    """

    def __init__(
        self,
        nin: int,
        sizes: Sequence[int],
        activation: str = "relu",
        output_activation: str = "linear",
        bias: bool = True,
        init: str = "uniform",
        seed: Seed = None,
        weights: Sequence[Sequence[Sequence[float]]] | None = None,
    ) -> None:
        self.nin = _check_size("nin", nin)
        if isinstance(sizes, int) or not sizes:
            raise ValueError(f"sizes must be a non-empty list of layer widths, got {sizes!r}")
        self.sizes = [_check_size(f"sizes[{i}]", n) for i, n in enumerate(sizes)]
        if activation == "softmax":
            raise ValueError("softmax is only for the output layer: use output_activation='softmax'")
        self.activation = _check_choice("activation", activation, ACTIVATIONS)
        self.output_activation = _check_choice("output_activation", output_activation, OUTPUT_ACTIVATIONS)
        self.bias = bool(bias)
        _check_choice("init", init, INITS)
        if weights is not None and (not hasattr(weights, "__len__") or len(weights) != len(self.sizes)):
            raise ValueError(
                f"MLP weights must hold {len(self.sizes)} layers of neuron rows; got {weights!r:.80}"
            )
        rng = _rng(seed)
        widths = [nin, *self.sizes]
        self.layers = []
        for i, nout in enumerate(self.sizes):
            act = self.output_activation if i == len(self.sizes) - 1 else self.activation
            rows = None if weights is None else weights[i]
            self.layers.append(Layer(widths[i], nout, act, bias, init, rng, weights=rows))
        self._set_scope("")

    @property
    def nout(self) -> int:
        return self.sizes[-1]

    def children(self) -> list[tuple[str, Module]]:
        return [(f"layers.{i}", layer) for i, layer in enumerate(self.layers)]

    def __call__(self, x: Any) -> list[Value] | Value:
        x = as_inputs(x, self.nin, self)
        for layer in self.layers:
            x = layer.forward(x)
        return x[0] if len(x) == 1 else x

    def config(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this architecture (weights aside)."""
        return {
            "nin": self.nin,
            "sizes": list(self.sizes),
            "activation": self.activation,
            "output_activation": self.output_activation,
            "bias": self.bias,
        }

    def __repr__(self) -> str:
        parts = [str(self.nin)]
        for layer in self.layers:
            act = "" if layer.activation == "linear" else f" {layer.activation}"
            parts.append(f"{layer.nout}{act}")
        return f"MLP({' -> '.join(parts)}{'' if self.bias else ', no bias'})"
