"""Per-example losses: ``loss(output, target) -> Value``.

``output`` is what the model returned (one Value or a list of Values); ``target`` is a list of
numbers (or Values) of the same length, made from ``fit``'s y by ``encode_targets`` under the
loss's own rule (``Loss.targets``: values for a regression, class labels one-hot or as ±1). Targets
enter only as numbers in the arithmetic, never as a choice of which nodes to build, so one
example's graph has the same shape for every target (the batch tape relies on this).

Each loss labels the nodes it makes by what they compute (``y - t``, ``(y - t)²``, ``1 - t·y``,
``lse(z)``; ``y0``, ``t0``, ... for several outputs), as ``nn.layers`` labels a neuron's, so a drawing
or a caption names them rather than ``sub17``; the numbers are the same as without labels.

A training batch's loss is the mean of these per-example losses (see ``nn.train``).
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

import autograd
from autograd import DomainError, Value
from autograd.arguments import choice, real

LossFn = Callable[[Any, Sequence[Any]], Value]


def _outputs(output: Any, target: Sequence[Any], name: str) -> tuple[list[Value], list[Any]]:
    out = [output] if not isinstance(output, (list, tuple)) else list(output)
    out = [o if isinstance(o, Value) else Value(o) for o in out]
    target = list(target) if hasattr(target, "__len__") else [target]
    if len(out) != len(target):
        raise ValueError(
            f"{name}: the model gave {len(out)} outputs but the target has {len(target)} entries"
        )
    return out, target


def _named(v: Value, name: str) -> Value:
    v.label = name
    return v


@functools.lru_cache(maxsize=64)
def _symbols(n: int, *names: str) -> tuple[tuple[str, ...], ...]:
    """For each of n outputs, the names as its nodes' labels say them: ``y``, ``t`` for one output,
    ``y0``, ``t0``, ``y1``, ... for several (a drawing then tells the terms apart)."""
    return tuple(tuple(names) if n == 1 else tuple(f"{name}{k}" for name in names) for k in range(n))


def _mse(output: Any, target: Sequence[Any]) -> Value:
    """Mean squared error over the outputs: mean_k (o_k - t_k)^2."""
    o, t = _outputs(output, target, "mse")
    names = _symbols(len(o), "y", "t")
    squares = [_squared(ok - tk, f"{y} - {tt}") for ok, tk, (y, tt) in zip(o, t, names)]
    return _named(_named(autograd.sum(squares), "Σ (y - t)²") / len(o), "mse")


def _squared(difference: Value, name: str) -> Value:
    """difference ** 2, its two nodes labelled ``name`` and ``(name)²``."""
    return _named(_named(difference, name) ** 2, f"({name})²")


def _sse(output: Any, target: Sequence[Any]) -> Value:
    """Half the summed squared error, 0.5 * Σ_k (t_k - o_k)^2 (the E of the 2-2-2 worked example)."""
    o, t = _outputs(output, target, "sse")
    names = _symbols(len(o), "y", "t")
    squares = [_squared(tk - ok, f"{tt} - {y}") for ok, tk, (y, tt) in zip(o, t, names)]
    return _named(0.5 * _named(autograd.sum(squares), "Σ (t - y)²"), "sse")


def _bce(output: Any, target: Sequence[Any]) -> Value:
    """Binary cross-entropy on probabilities (a sigmoid output), averaged over the outputs:
    -(t log p + (1 - t) log(1 - p)).

    A probability of exactly 0 or 1 (a saturated sigmoid) raises a ValueError instead of being
    clamped: use ``bce_logits`` on a linear output, which is stable for any logit.
    """
    o, t = _outputs(output, target, "bce")
    terms = []
    for k, (pk, tk, (p, tt)) in enumerate(zip(o, t, _symbols(len(o), "p", "t"))):
        likelihood = "log likelihood" + (f" {k}" if len(o) > 1 else "")
        try:
            hit = _named(tk * _named(pk.log(), f"log {p}"), f"{tt}·log {p}")
            miss = _named(_named(1 - pk, f"1 - {p}").log(), f"log(1 - {p})")
            both = hit + _named((1 - tk) * miss, f"(1 - {tt})·log(1 - {p})")
            terms.append(_named(-_named(both, likelihood), f"-{likelihood}"))
        except DomainError as e:  # log of p or 1 - p: p is not strictly inside (0, 1)
            raise DomainError(
                f"bce: output {k} is {pk.data!r}, not a probability strictly between 0 and 1 "
                "(log(0) is undefined; a sigmoid that saturates gives exactly 0 or 1). "
                "Use loss='bce_logits' on a linear output: it is stable for any value"
            ) from e
    return _named(_named(autograd.sum(terms), "Σ -log likelihood") / len(o), "bce")


def _bce_logits(output: Any, target: Sequence[Any]) -> Value:
    """Binary cross-entropy on logits s (a linear output), stable for any s, averaged over the
    outputs: softplus(s) - s*t, which equals bce(sigmoid(s), t).

    softplus(s) = log(1 + exp(s)) is written as the stable log-sum-exp of (0, s). The common form
    relu(s) + log(1 + exp(-|s|)) has the same value but gives gradient -t instead of
    sigmoid(0) - t at s = 0 exactly (relu and abs have derivative 0 there), e.g. for zero weights.
    """
    o, t = _outputs(output, target, "bce_logits")
    terms = []
    for s, tk, (sk, tt) in zip(o, t, _symbols(len(o), "s", "t")):
        softplus = _logsumexp([Value(0.0), s], ("0", sk), f"softplus({sk})", "m" + sk[1:])
        terms.append(_named(softplus - _named(s * tk, f"{sk}·{tt}"), f"softplus({sk}) - {sk}·{tt}"))
    return _named(_named(autograd.sum(terms), "Σ softplus(s) - s·t") / len(o), "bce_logits")


def _logsumexp(z: list[Value], names: Sequence[str] = (), name: str = "lse", m: str = "m") -> Value:
    """log Σ exp(z_k), stable: m + log Σ exp(z_k - m) with m = max(z), so no exp overflows.
    Labels: ``names`` how the z_k read (z0, z1, ... if not given), ``name`` the result, ``m`` the max."""
    names = names or [f"z{k}" for k in range(len(z))]
    top = _named(autograd.max(z), f"{m} = max({', '.join(names)})" if len(z) <= 3 else f"{m} = max z")
    shifted = [_named(_named(zk - top, f"{n} - {m}").exp(), f"exp({n} - {m})") for zk, n in zip(z, names)]
    total = _named(autograd.sum(shifted), f"Σ exp(· - {m})")
    return _named(top + _named(total.log(), f"log Σ exp(· - {m})"), name)


def _cross_entropy(output: Any, target: Sequence[Any]) -> Value:
    """Softmax cross-entropy on logits z with a one-hot (or probability) target t:
    lse(z) - Σ t_k z_k, with the stable lse(z) = m + log Σ exp(z_k - m), m = max(z)."""
    z, t = _outputs(output, target, "cross_entropy")
    if len(z) < 2:
        raise ValueError(
            "cross_entropy needs a model with 2 or more outputs (one logit per class); "
            "for one output use 'bce_logits'"
        )
    names = _symbols(len(z), "z", "t")
    lse = _logsumexp(z, [n for n, _ in names], "lse(z)")  # first, as the formula reads
    scores = [_named(zk * tk, f"{n}·{tt}") for zk, tk, (n, tt) in zip(z, t, names)]
    return _named(lse - _named(autograd.sum(scores), "Σ z·t"), "cross_entropy")


def _hinge(output: Any, target: Sequence[Any]) -> Value:
    """Max-margin loss. One output s with t = ±1: relu(1 - t*s) (micrograd's demo). Several
    outputs z with a one-hot t (the multiclass SVM loss): Σ_k (1 - t_k) relu(1 + z_k - z_y),
    where z_y = Σ_j t_j z_j is the true class's score."""
    z, t = _outputs(output, target, "hinge")
    if len(z) == 1:
        return _named(_named(1 - _named(t[0] * z[0], "t·y"), "1 - t·y").relu(), "hinge")
    names = _symbols(len(z), "z", "t")
    zy = _named(autograd.sum([_named(zk * tk, f"{n}·{tt}") for zk, tk, (n, tt) in zip(z, t, names)]), "z_y")
    terms = []
    for zk, tk, (n, tt) in zip(z, t, names):
        margin = _named(_named(1 + zk, f"1 + {n}") - zy, f"1 + {n} - z_y")
        terms.append(_named((1 - tk) * _named(margin.relu(), f"relu(1 + {n} - z_y)"), f"(1 - {tt})·relu"))
    return _named(autograd.sum(terms), "hinge")


TARGETS = ("labels", "signs", "values")


class Loss:
    """A per-example loss with its name and the rule by which ``fit`` turns ``y`` into targets.

    ``targets`` is one of ``TARGETS``:

    - ``"values"``: y as given, floats of shape (examples,) for one output or (examples, outputs),
      for a regression (``mse``, ``sse``);
    - ``"labels"``: integer class labels 0..k-1, one-hot for several outputs, 0.0/1.0 for one output
      (``bce``, ``bce_logits``, ``cross_entropy``);
    - ``"signs"``: class labels as for "labels", but -1.0/+1.0 for one output (``hinge``).

    ``Loss(nn.mse, targets="labels")`` is the library's mse trained on one-hot class labels: still
    the library's loss (the batch tape takes it by default), with another rule for y. A loss of your
    own, ``Loss(my_fn, targets="labels")``, declares its rule the same way; a plain function takes
    y as values unless ``fit(..., targets=...)`` says otherwise.
    """

    def __init__(self, fn: LossFn, targets: str = "values", name: str | None = None) -> None:
        if not callable(fn):
            raise TypeError(f"Loss: fn must be callable, got {type(fn).__name__}")
        self.fn: LossFn = fn.fn if isinstance(fn, Loss) else fn
        self.targets = choice("targets", targets, TARGETS)
        self.name = str(name or getattr(fn, "name", None) or getattr(fn, "__name__", type(fn).__name__))

    def __call__(self, output: Any, target: Sequence[Any]) -> Value:
        return self.fn(output, target)

    @property
    def is_library(self) -> bool:
        """Whether this is one of the library's own losses (whatever its target rule)."""
        return any(self.fn is loss.fn for loss in LOSSES.values())

    def __repr__(self) -> str:
        return f"Loss({self.name}, targets={self.targets!r})"


mse = Loss(_mse, "values", "mse")
sse = Loss(_sse, "values", "sse")
bce = Loss(_bce, "labels", "bce")
bce_logits = Loss(_bce_logits, "labels", "bce_logits")
cross_entropy = Loss(_cross_entropy, "labels", "cross_entropy")
hinge = Loss(_hinge, "signs", "hinge")

LOSSES: dict[str, Loss] = {loss.name: loss for loss in (mse, sse, bce, bce_logits, cross_entropy, hinge)}


def get_loss(loss: str | LossFn) -> Loss:
    """The ``Loss`` for a name in ``LOSSES``, a ``Loss`` itself, or a plain function wrapped as a
    ``Loss`` taking y as values."""
    if isinstance(loss, Loss):
        return loss
    if callable(loss):
        return Loss(loss)
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; use one of {', '.join(map(repr, LOSSES))} or a callable")
    return LOSSES[loss]


def loss_name(loss: str | LossFn) -> str:
    return get_loss(loss).name


def encode_targets(y: Any, targets: str | Loss, n_outputs: int) -> np.ndarray:
    """y as the target vectors a loss is given, an array (examples, n_outputs), by the rule
    ``targets`` (one of ``TARGETS``, or a ``Loss``, or a library loss's name: its rule).

    Raises a ValueError naming the first bad entry (a label out of range or not an integer, a
    value that is not finite, a shape that does not fit the outputs)."""
    loss = targets if isinstance(targets, Loss) else LOSSES.get(targets)
    rule = choice("targets", targets if loss is None else loss.targets, TARGETS)
    if rule == "values":
        return _values(y, n_outputs)
    if rule == "labels" and n_outputs == 1 and loss is not None and loss.fn is cross_entropy.fn:
        raise ValueError(
            "cross_entropy needs a model with 2 or more outputs; for one output use 'bce_logits'"
        )
    codes = _labels(y, 2 if n_outputs == 1 else n_outputs, n_outputs)
    if n_outputs > 1:
        return np.eye(n_outputs)[codes]
    column = 2.0 * codes - 1.0 if rule == "signs" else codes.astype(float)
    return column[:, None]


def _values(y: Any, n_outputs: int) -> np.ndarray:
    try:
        t = np.array(y, dtype=float)
    except (TypeError, ValueError) as e:
        raise TypeError(f"targets must be numbers, shape (examples,) or (examples, outputs) ({e})") from None
    if t.ndim == 1 and n_outputs == 1:
        t = t[:, None]
    if t.ndim != 2 or t.shape[1] != n_outputs:
        raise ValueError(
            f"the targets have shape {t.shape} but the model has {n_outputs} output(s): give one value per "
            "output for each example (for class labels, use a loss that takes labels or targets='labels')"
        )
    bad = np.flatnonzero(~np.isfinite(t).all(axis=1))
    if len(bad):
        raise ValueError(f"y[{bad[0]}] = {t[bad[0]].tolist()} is not finite: targets must be finite numbers")
    return t


def _labels(y: Any, k: int, n_outputs: int) -> np.ndarray:
    """Class labels as an int array in 0..k-1, or a ValueError naming the first bad one."""
    y = y if isinstance(y, np.ndarray) and y.ndim == 1 else list(y)
    if isinstance(y, np.ndarray) and y.dtype.kind in "iu" and (len(y) == 0 or (y.min() >= 0 and y.max() < k)):
        return y.astype(np.intp)  # the common case (a data set's labels), without a Python loop
    codes = []
    for i, label in enumerate(y):
        if isinstance(label, bool) or not isinstance(label, numbers.Real) or not float(label).is_integer():
            raise ValueError(
                f"y[{i}] = {label!r}: class labels must be integers (for real-valued targets, "
                "use a loss that takes values, or targets='values')"
            )
        c = int(float(label))
        if not 0 <= c < k:
            outputs = (
                "one output takes labels 0 and 1"
                if n_outputs == 1
                else f"{n_outputs} outputs take labels 0..{k - 1}"
            )
            raise ValueError(f"y[{i}] = {c} is out of range: a model with {outputs}")
        codes.append(c)
    return np.array(codes, dtype=np.intp)


def l2_penalty(params: Iterable[Value], alpha: float) -> Value:
    """alpha * Σ p^2 over the parameters: add it to a loss to keep weights small (micrograd's
    demo uses alpha = 1e-4). SGD's weight_decay=2*alpha gives the same gradient step."""
    return real("l2_penalty: alpha", alpha, minimum=0.0) * autograd.sum([p * p for p in params])
