"""Random programs, shared by the tests that compare engines on them (test_backward.py against finite
differences, test_torch_crosscheck.py against PyTorch, test_tape_fuzz.py the tape against eager).

A program is a list of steps ``(name, i, j)``: each applies the op ``name`` to earlier results of a
pool (the inputs, then each step's results), picked by ``i`` and ``j`` modulo the pool's length, so
nodes are reused. Every op is written once, for Values and for torch tensors alike (their methods
and operators have the same names); only ``sum`` and ``max`` come from a ``Lib``.

Two ops are layers of neurons: ``layer`` is one ``nn.Layer`` of 2-4 neurons over 2-4 consecutive
pool entries, ``mlp`` a chain of two or three layers (``nn.MLP``), each of several neurons reading
several inputs. On the tape these are matrix products ``W @ A`` with k > 1 rows, where a gradient
written with ``W`` transposed the wrong way differs from the right one (with k = 1 it does not).
``j`` seeds the layer's shape, activations and weights; a program built for Values holds them as
``nn`` modules, whose weights are parameters (``Program.parameters()``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
from hypothesis import strategies as st

import autograd
import nn

Step = tuple[str, int, int]


@dataclass(frozen=True)
class Lib:
    """The two n-ary ops, which Values and tensors spell differently."""

    sum: Callable[[list[Any]], Any]
    max: Callable[[list[Any]], Any]


CHAINRULE = Lib(sum=autograd.sum, max=autograd.max)


def big(a: Any) -> Any:
    return (a.tanh() * 5 + 30).exp()  # 7e10 .. 1.6e15: cancels everything below its last bit


UNARY: dict[str, Callable[[Any], Any]] = {
    "neg": lambda a: -a,
    "exp": lambda a: a.tanh().exp(),
    "log": lambda a: (abs(a) + 1).log(),
    "tanh": lambda a: a.tanh(),
    "sigmoid": lambda a: a.sigmoid(),
    "relu": lambda a: a.relu(),
    "leaky": lambda a: a.relu() + 0.1 * a,
    "abs": lambda a: abs(a),
    "square": lambda a: a**2,
    "cube": lambda a: a**3 * 0.1,
    "sqrt": lambda a: (a * a + 1) ** 0.5,
    "recip": lambda a: 1 / (a * a + 1),
    "const": lambda a: 2.5 - a * 0.5,
}
BINARY: dict[str, Callable[[Any, Any, Lib], Any]] = {
    "+": lambda a, b, lib: a + b,
    "-": lambda a, b, lib: a - b,
    "*": lambda a, b, lib: a * b,
    "/": lambda a, b, lib: a / (abs(b) + 0.5),
    "/square": lambda a, b, lib: a / (b * b + 1),
    "**": lambda a, b, lib: (a.sigmoid() + 0.5) ** b.tanh(),
    "sum": lambda a, b, lib: lib.sum([a, b, a * b]),
    "max": lambda a, b, lib: lib.max([a, b * 0.5, a - b]),
    # cancellation: fsum gives b exactly, a running sum loses b's low bits to big(a)'s rounding
    "cancel": lambda a, b, lib: lib.sum([big(a), b, -big(a)]),
    # a folded matrix product when a is static and b a batch row: BLAS may fuse a*b - a*b into its error
    "dot": lambda a, b, lib: lib.sum([a * b, (-a) * b, a * 0.25]),
}
LAYERS = ("layer", "mlp")
NAMES = sorted(UNARY) + sorted(BINARY) + list(LAYERS)
# Where the eager engine sums exactly (fsum) and plain float arithmetic does not, they differ by all of
# the result: cancel is for the tape's derived bound, not for torch or finite differences.
EXACT = [name for name in NAMES if name != "cancel"]


@dataclass(frozen=True)
class Spec:
    """A layer step's network: ``nn.MLP(nin, sizes, activation, output_activation, weights=weights)``."""

    nin: int
    sizes: list[int]
    activation: str
    output_activation: str
    weights: list[list[list[float]]]


def layer_spec(name: str, seed: int) -> Spec:
    """The shape, activations and weights of a ``layer`` (one layer) or ``mlp`` (2-3 layers) step."""
    rng = np.random.default_rng(seed)
    nin = int(rng.integers(2, 4))
    depth = 1 if name == "layer" else 2
    sizes = [int(rng.integers(2, 4)) for _ in range(depth)]
    activation = str(rng.choice(["tanh", "sigmoid", "relu", "linear"]))
    output_activation = str(rng.choice(["linear", "tanh", "softmax"]))
    widths = [nin, *sizes]
    weights = [rng.uniform(-1, 1, size=(nout, nin + 1)).tolist() for nin, nout in zip(widths, sizes)]
    return Spec(nin, sizes, activation, output_activation, weights)


def mlp_on(spec: Spec, xs: list[Any], lib: Lib) -> list[Any]:
    """``nn.MLP``'s arithmetic written out with the shared ops (for torch): Σ w·x + b per neuron, the
    activation on every layer but the last, the output activation (a stable softmax) on the last."""
    for depth, rows in enumerate(spec.weights):
        zs = [lib.sum([w * x for w, x in zip(row, xs)] + [row[-1]]) for row in rows]
        last = depth == len(spec.weights) - 1
        act = spec.output_activation if last else spec.activation
        if act == "softmax":
            m = lib.max(zs)
            es = [(z - m).exp() for z in zs]
            total = lib.sum(es)
            xs = [e / total for e in es]
        else:
            xs = zs if act == "linear" else [getattr(z, act)() for z in zs]
    return xs


class Program:
    """A random program, ready to run on a pool of Values (``lib=CHAINRULE``: its layers are ``nn``
    modules, built once) or of another library's numbers (its layers written out by ``mlp_on``)."""

    def __init__(self, steps: Sequence[Step], lib: Lib = CHAINRULE) -> None:
        self.steps, self.lib = list(steps), lib
        self.layers: dict[int, tuple[int, Callable[[list[Any]], list[Any]]]] = {}
        self.modules: list[nn.Module] = []
        for index, (name, _, j) in enumerate(self.steps):
            if name not in LAYERS:
                continue
            spec = layer_spec(name, j)
            run: Callable[[list[Any]], list[Any]]
            if lib is not CHAINRULE:
                run = partial(mlp_on, spec, lib=lib)
            elif name == "layer":
                layer = nn.Layer(spec.nin, spec.sizes[0], spec.output_activation, weights=spec.weights[0])
                self.modules.append(layer)
                run = layer.forward
            else:
                model = nn.MLP(
                    spec.nin, spec.sizes, spec.activation, spec.output_activation, weights=spec.weights
                )
                self.modules.append(model)
                run = partial(_outputs, model)
            self.layers[index] = (spec.nin, run)

    def parameters(self) -> list[autograd.Value]:
        """The layers' weights and biases (a chainrule program's)."""
        return [p for m in self.modules for p in m.parameters()]

    def __call__(self, inputs: Sequence[Any]) -> list[Any]:
        """The pool: the inputs, then each step's results in order (a layer step gives several)."""
        pool = list(inputs)
        for index, (name, i, j) in enumerate(self.steps):
            a, b = pool[i % len(pool)], pool[j % len(pool)]
            if name in UNARY:
                pool.append(UNARY[name](a))
            elif name in BINARY:
                pool.append(BINARY[name](a, b, self.lib))
            else:
                nin, run = self.layers[index]
                pool += run([pool[(i + t) % len(pool)] for t in range(nin)])
        return pool


def _outputs(model: nn.MLP, xs: list[Any]) -> list[Any]:
    out = model(xs)
    return out if isinstance(out, list) else [out]


def random_steps(rng: np.random.Generator, n: int, names: Sequence[str] = NAMES) -> list[Step]:
    """n random steps over ``names``."""
    return [
        (names[int(rng.integers(len(names)))], int(rng.integers(10**6)), int(rng.integers(10**6)))
        for _ in range(n)
    ]


def steps_strategy(names: Sequence[str] = NAMES, max_size: int = 25) -> st.SearchStrategy[list[Step]]:
    """Hypothesis's random steps over ``names``."""
    step = st.tuples(st.sampled_from(list(names)), st.integers(0, 10**6), st.integers(0, 10**6))
    return st.lists(step, min_size=1, max_size=max_size)


def near_a_kink(out: autograd.Value, margin: float) -> bool:
    """A relu or abs of a number within margin of 0, or a max with a near tie for first place: where a
    derivative is one-sided by convention and differences or another engine may take the other side."""
    for v in autograd.topological_order(out):
        if v.op in ("relu", "abs") and abs(v.parents[0].data) < margin:
            return True
        if v.op == "max" and sum(p.data > v.data - margin for p in v.parents) > 1:
            return True
    return False
