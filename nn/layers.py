"""Neuron, Layer and MLP, made of autograd Values so every forward pass can be drawn.

A neuron computes act(Σ w_i·x_i + b) as ONE n-ary sum node, and names what it builds for the
renderer: weights ``w0, w1, ...``, bias ``b``, products ``w0·x0, w1·x1, ...`` (x_i: the neuron's
input i), the sum ``Σ`` and the activation (``relu``, ``tanh``, ``sigmoid``). Each carries a
``Scope`` (``module.Scope``): the neuron's dotted name such as ``layers.0.neurons.1``, its path
``(("layer", 0), ("neuron", 1))`` and its role there (``("weight", 0)``, ``("bias", None)``,
``("input", 0)`` for w0·x0, ``("sum", None)``, ``("activation", None)``). A softmax layer's own
nodes carry the layer's scope, those of output k with the part ``("output", k)`` added.

Weights are drawn by an initializer or given explicitly, one *row* per neuron: its weights in
input order, then its bias (the order of ``parameters()``, and of micrograd). With ``seed=None`` the
initializer draws from Python's global ``random`` in micrograd's order (``random.uniform(-1, 1)`` per
weight, neuron by neuron, biases 0), so code that calls ``random.seed(1337)`` first gets micrograd's
model bit for bit; ``seed=<int>`` draws from a private generator and leaves the global one alone.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

import autograd
from autograd import Traced, Value
from autograd.arguments import choice, integer, positive_int
from autograd.value import weighted_sum

from .module import Module, Scope, _one_number

ACTIVATIONS = ("linear", "relu", "tanh", "sigmoid")  # per neuron
OUTPUT_ACTIVATIONS = ACTIVATIONS + ("softmax",)  # softmax acts on a whole layer: output layers only
INITS = ("uniform", "xavier", "glorot", "he")

Seed = int | random.Random | None


def _rng(seed: Seed) -> random.Random | None:
    """The generator weights are drawn from: None (Python's global one) stays None."""
    if seed is None or isinstance(seed, random.Random):
        return seed
    return random.Random(integer("seed", seed))


def initial_row(init: str, nin: int, nout: int, rng: random.Random | None, bias: bool) -> list[float]:
    """One neuron's starting parameters (weights, then a zero bias) from a named initializer.

    ``uniform``: U(-1, 1) as in micrograd; ``xavier``/``glorot``: U(-a, a) with
    a = sqrt(6 / (nin + nout)); ``he``: N(0, sqrt(2 / nin)), for ReLU layers.
    ``rng=None`` draws from Python's global ``random`` (what micrograd does).
    """
    choice("init", init, INITS)
    uniform = random.uniform if rng is None else rng.uniform
    if init == "uniform":
        w = [uniform(-1.0, 1.0) for _ in range(nin)]
    elif init in ("xavier", "glorot"):
        a = math.sqrt(6.0 / (nin + nout))
        w = [uniform(-a, a) for _ in range(nin)]
    else:
        gauss = random.gauss if rng is None else rng.gauss
        w = [gauss(0.0, math.sqrt(2.0 / nin)) for _ in range(nin)]
    return w + [0.0] if bias else w


def _activation(activation: str | None, nonlin: bool | None, choices: tuple[str, ...]) -> str:
    """The activation named by ``activation=`` or by micrograd's ``nonlin=`` (True: relu, False: linear)."""
    if nonlin is None:
        if isinstance(activation, bool):
            raise ValueError(
                f"activation must be one of {', '.join(map(repr, choices))}; got {activation!r} "
                f"(for micrograd's flag, pass nonlin={activation!r})"
            )
        return choice("activation", "relu" if activation is None else activation, choices)
    if not isinstance(nonlin, bool):
        raise TypeError(f"nonlin must be True (relu) or False (linear), as in micrograd; got {nonlin!r}")
    if activation is not None:
        raise ValueError(f"give activation={activation!r} or micrograd's nonlin={nonlin!r}, not both")
    return "relu" if nonlin else "linear"


_WEIGHT_NAMES: list[str] = []
_PRODUCT_LABELS: list[str] = []


def _weight_names(n: int) -> list[str]:
    """["w.0", ..., "w.{n-1}"], made once (fit asks for the parameters on every call)."""
    _WEIGHT_NAMES.extend(f"w.{i}" for i in range(len(_WEIGHT_NAMES), n))
    return _WEIGHT_NAMES[:n]


def _product_labels(n: int) -> list[str]:
    """["w0·x0", ..., "w{n-1}·x{n-1}"]: each weighted input named by the input it weighs."""
    _PRODUCT_LABELS.extend(f"w{i}·x{i}" for i in range(len(_PRODUCT_LABELS), n))
    return _PRODUCT_LABELS[:n]


def as_inputs(x: Any, nin: int, who: object) -> list[Value]:
    """The model's input as a list of nin Values: numbers become leaves labelled x0, x1, ..."""
    if isinstance(x, Value) or not hasattr(x, "__len__"):
        x = [x]  # one number or Value for a one-input model
    if len(x) != nin:
        raise ValueError(f"{who!r} expects {nin} inputs, got {len(x)}")
    return [xi if isinstance(xi, Value) else Value(xi, label=f"x{i}") for i, xi in enumerate(x)]


class Neuron(Module):
    """act(Σ x_i·w_i + b). ``Neuron(2, activation="tanh")``; ``weights=[w0, w1, b]`` to set them.

    ``activation`` defaults to relu; micrograd's ``nonlin=True``/``False`` (relu/linear) is accepted
    in its place.
    """

    def __init__(
        self,
        nin: int,
        activation: str | None = None,
        bias: bool = True,
        init: str = "uniform",
        seed: Seed = None,
        weights: Sequence[float] | None = None,
        nonlin: bool | None = None,
    ) -> None:
        self.nin = positive_int("nin", nin)
        if activation == "softmax":
            raise ValueError("softmax acts on a whole layer: use Layer(..., activation='softmax')")
        self.activation = _activation(activation, nonlin, ACTIVATIONS)
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

    @property
    def nonlin(self) -> bool:
        """micrograd's flag: True when the neuron applies a nonlinearity."""
        return self.activation != "linear"

    def own_parameters(self) -> list[tuple[str, Value]]:
        named = list(zip(_weight_names(len(self.w)), self.w))
        return named + [("b", self.b)] if self.b is not None else named

    def own_values(self) -> list[Value]:
        return [*self.w, self.b] if self.b is not None else list(self.w)

    def _set_scope(self, scope: str = "") -> None:
        """Place the neuron, give each parameter its role, and make once the scopes of what
        ``__call__`` builds (the products, the sum, the activation)."""
        super()._set_scope(scope)
        at = self._scope
        for i, w in enumerate(self.w):
            w.scope = at.with_role("weight", i)
        if self.b is not None:
            self.b.scope = at.with_role("bias")
        self._made = [at.with_role("input", i) for i in range(self.nin)]
        self._made += [at.with_role("sum"), at.with_role("activation")]

    def __call__(self, x: Any) -> Value:
        x = as_inputs(x, self.nin, self)
        made = self._made
        s = weighted_sum(x, self.w, () if self.b is None else (self.b,))
        if type(s) is not Traced:  # the products, named for the drawings (a traced sum has none)
            for p, label, scope in zip(s.parents, _product_labels(self.nin), made):
                p.label, p.scope = label, scope
        s.label, s.scope = "Σ", made[-2]
        if self.activation == "linear":
            return s
        out = getattr(s, self.activation)()
        out.label, out.scope = self.activation, made[-1]
        return out

    def config(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this architecture (weights aside)."""
        return {"nin": self.nin, "activation": self.activation, "bias": self.bias}

    def __repr__(self) -> str:
        return f"Neuron({self.nin} -> {self.activation}{'' if self.bias else ', no bias'})"


class Layer(Module):
    """``nout`` neurons reading the same inputs. ``weights``: one row per neuron (see Neuron).

    ``activation`` defaults to relu (``softmax`` allowed); micrograd's ``nonlin=`` is accepted instead.
    """

    child_kind = "neuron"

    def __init__(
        self,
        nin: int,
        nout: int,
        activation: str | None = None,
        bias: bool = True,
        init: str = "uniform",
        seed: Seed = None,
        weights: Sequence[Sequence[float]] | None = None,
        nonlin: bool | None = None,
    ) -> None:
        self.nin, self.nout = positive_int("nin", nin), positive_int("nout", nout)
        activation = self.activation = _activation(activation, nonlin, OUTPUT_ACTIVATIONS)
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

    def _set_scope(self, scope: str = "") -> None:
        super()._set_scope(scope)
        at = self._scope  # a softmax's nodes for output k: the layer's name, its path + ("output", k)
        self._outputs = [Scope(at, (*at.parts, ("output", k))) for k in range(self.nout)]

    def forward(self, x: Any) -> list[Value]:
        """The layer's outputs, always as a list."""
        x = as_inputs(x, self.nin, self)
        outs = [n(x) for n in self.neurons]
        return _softmax(outs, self._scope, self._outputs) if self.activation == "softmax" else outs

    def __call__(self, x: Any) -> list[Value] | Value:
        outs = self.forward(x)
        return outs[0] if len(outs) == 1 else outs

    def config(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this architecture (weights aside)."""
        return {"nin": self.nin, "nout": self.nout, "activation": self.activation, "bias": self.bias}

    def __repr__(self) -> str:
        act = "" if self.activation == "linear" else f" {self.activation}"
        return f"Layer({self.nin} -> {self.nout}{act}{'' if self.bias else ', no bias'})"


def _softmax(z: list[Value], scope: Scope, outputs: list[Scope]) -> list[Value]:
    """exp(z_k - m) / Σ exp(z_j - m) with m = max(z): stable, and shaped the same for any data.
    ``scope``: the layer's, for m and the sum; ``outputs[k]``: output k's, for its own nodes."""
    m = autograd.max(z)
    shifted = [zk - m for zk in z]
    e = [d.exp() for d in shifted]
    total = autograd.sum(e)
    m.label, total.label = "max", "Σexp"
    m.scope = total.scope = scope
    out = [ek / total for ek in e]
    for d, ek, p, at in zip(shifted, e, out, outputs):
        ek.label, p.label = "exp", "softmax"
        d.scope = ek.scope = p.scope = at
    return out


class MLP(Module):
    """A multi-layer perceptron: ``MLP(2, [16, 16, 1])`` has two hidden ReLU layers of 16 and one output.

    ``activation`` is for the hidden layers, ``output_activation`` for the last one (``softmax``
    allowed there); as in micrograd, every layer but the last applies the nonlinearity.
    ``weights``: one list of neuron rows per layer (see Neuron), e.g. the 2-2-2 worked example's
    ``[[[0.3, 0.25], [0.4, 0.35]], [[0.45, 0.4], [0.7, 0.6]]]`` with ``bias=False``.
    """

    child_kind = "layer"

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
        self.nin = positive_int("nin", nin)
        if isinstance(sizes, (int, str)) or not hasattr(sizes, "__len__") or len(sizes) == 0:
            raise ValueError(f"sizes must be a non-empty list of layer widths, got {sizes!r}")
        self.sizes = [positive_int(f"sizes[{i}]", n) for i, n in enumerate(sizes)]
        if activation == "softmax":
            raise ValueError("softmax is only for the output layer: use output_activation='softmax'")
        self.activation = choice("activation", activation, ACTIVATIONS)
        self.output_activation = choice("output_activation", output_activation, OUTPUT_ACTIVATIONS)
        self.bias = bool(bias)
        choice("init", init, INITS)
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
