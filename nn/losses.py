"""Per-example losses: ``loss(output, target) -> Value``.

``output`` is what the model returned (one Value or a list of Values); ``target`` is a list of
numbers (or Values) of the same length, made from integer labels by ``encode_targets``. Targets
enter only as numbers in the arithmetic, never as a choice of which nodes to build, so one
example's graph has the same shape for every target (the batch tape relies on this).

A training batch's loss is the mean of these per-example losses (see ``nn.train``).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

import autograd
from autograd import DomainError, Value
from autograd.arguments import real

Loss = Callable[[Any, Sequence[Any]], Value]


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


def mse(output: Any, target: Sequence[Any]) -> Value:
    """Mean squared error over the outputs: mean_k (o_k - t_k)^2."""
    o, t = _outputs(output, target, "mse")
    return _named(autograd.sum([(ok - tk) ** 2 for ok, tk in zip(o, t)]) / len(o), "mse")


def sse(output: Any, target: Sequence[Any]) -> Value:
    """Half the summed squared error, 0.5 * Σ_k (t_k - o_k)^2 (the E of the 2-2-2 worked example)."""
    o, t = _outputs(output, target, "sse")
    return _named(0.5 * autograd.sum([(tk - ok) ** 2 for ok, tk in zip(o, t)]), "sse")


def bce(output: Any, target: Sequence[Any]) -> Value:
    """Binary cross-entropy on probabilities (a sigmoid output), averaged over the outputs:
    -(t log p + (1 - t) log(1 - p)).

    A probability of exactly 0 or 1 (a saturated sigmoid) raises a ValueError instead of being
    clamped: use ``bce_logits`` on a linear output, which is stable for any logit.
    """
    o, t = _outputs(output, target, "bce")
    terms = []
    for k, (pk, tk) in enumerate(zip(o, t)):
        try:
            terms.append(-(tk * pk.log() + (1 - tk) * (1 - pk).log()))
        except DomainError as e:  # log of p or 1 - p: p is not strictly inside (0, 1)
            raise DomainError(
                f"bce: output {k} is {pk.data!r}, not a probability strictly between 0 and 1 "
                "(log(0) is undefined; a sigmoid that saturates gives exactly 0 or 1). "
                "Use loss='bce_logits' on a linear output: it is stable for any value"
            ) from e
    return _named(autograd.sum(terms) / len(o), "bce")


def bce_logits(output: Any, target: Sequence[Any]) -> Value:
    """Binary cross-entropy on logits s (a linear output), stable for any s, averaged over the
    outputs: softplus(s) - s*t, which equals bce(sigmoid(s), t).

    softplus(s) = log(1 + exp(s)) is written as the stable log-sum-exp of (0, s). The common form
    relu(s) + log(1 + exp(-|s|)) has the same value but gives gradient -t instead of
    sigmoid(0) - t at s = 0 exactly (relu and abs have derivative 0 there), e.g. for zero weights.
    """
    o, t = _outputs(output, target, "bce_logits")
    terms = [_logsumexp([Value(0.0), s]) - s * tk for s, tk in zip(o, t)]
    return _named(autograd.sum(terms) / len(o), "bce_logits")


def _logsumexp(z: list[Value]) -> Value:
    """log Σ exp(z_k), stable: m + log Σ exp(z_k - m) with m = max(z), so no exp overflows."""
    m = autograd.max(z)
    return m + autograd.sum([(zk - m).exp() for zk in z]).log()


def cross_entropy(output: Any, target: Sequence[Any]) -> Value:
    """Softmax cross-entropy on logits z with a one-hot (or probability) target t:
    lse(z) - Σ t_k z_k, with the stable lse(z) = m + log Σ exp(z_k - m), m = max(z)."""
    z, t = _outputs(output, target, "cross_entropy")
    if len(z) < 2:
        raise ValueError(
            "cross_entropy needs a model with 2 or more outputs (one logit per class); "
            "for one output use 'bce_logits'"
        )
    return _named(_logsumexp(z) - autograd.sum([zk * tk for zk, tk in zip(z, t)]), "cross_entropy")


def hinge(output: Any, target: Sequence[Any]) -> Value:
    """Max-margin loss. One output s with t = ±1: relu(1 - t*s) (micrograd's demo). Several
    outputs z with a one-hot t (the multiclass SVM loss): Σ_k (1 - t_k) relu(1 + z_k - z_y),
    where z_y = Σ_j t_j z_j is the true class's score."""
    z, t = _outputs(output, target, "hinge")
    if len(z) == 1:
        return _named((1 - t[0] * z[0]).relu(), "hinge")
    zy = autograd.sum([zk * tk for zk, tk in zip(z, t)])
    return _named(autograd.sum([(1 - tk) * (1 + zk - zy).relu() for zk, tk in zip(z, t)]), "hinge")


LOSSES: dict[str, Loss] = {
    "mse": mse,
    "sse": sse,
    "bce": bce,
    "bce_logits": bce_logits,
    "cross_entropy": cross_entropy,
    "hinge": hinge,
}


def get_loss(loss: str | Loss) -> Loss:
    """The loss function for a name in ``LOSSES``, or the callable itself."""
    if callable(loss):
        return loss
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; use one of {', '.join(map(repr, LOSSES))} or a callable")
    return LOSSES[loss]


def loss_name(loss: str | Loss) -> str:
    return loss if isinstance(loss, str) else getattr(loss, "__name__", type(loss).__name__)


def encode_targets(y: Iterable[Any], loss: str | Loss, n_outputs: int) -> list[list[float]]:
    """Integer class labels -> the target vectors ``loss`` expects, for a model with ``n_outputs``.

    One output: labels 0/1, as [0.0]/[1.0] (hinge: [-1.0]/[+1.0]). Several outputs: labels
    0..n_outputs-1, one-hot. Raises a ValueError naming the first bad label.
    """
    name = loss_name(loss)
    if n_outputs == 1 and name == "cross_entropy":
        raise ValueError(
            "cross_entropy needs a model with 2 or more outputs; for one output use 'bce_logits'"
        )
    k = 2 if n_outputs == 1 else n_outputs
    if (
        isinstance(y, np.ndarray)
        and y.ndim == 1
        and y.dtype.kind in "iu"
        and len(y)
        and y.min() >= 0
        and y.max() < k
    ):
        codes = y.astype(np.intp)  # the common case (a data set's labels), without a Python loop
        if n_outputs == 1:
            column = 2.0 * codes - 1.0 if name == "hinge" else codes.astype(float)
            return column[:, None].tolist()
        return np.eye(n_outputs)[codes].tolist()
    targets = []
    for i, label in enumerate(y):
        c = _label(label, i, k, n_outputs)
        if n_outputs == 1:
            targets.append([(2.0 * c - 1.0) if name == "hinge" else float(c)])
        else:
            row = [0.0] * n_outputs
            row[c] = 1.0
            targets.append(row)
    return targets


def _label(label: Any, i: int, k: int, n_outputs: int) -> int:
    """One class label as an int in 0..k-1, or a ValueError naming it and its index."""
    if isinstance(label, bool) or not isinstance(label, numbers.Real) or not float(label).is_integer():
        raise ValueError(f"y[{i}] = {label!r}: class labels must be integers")
    c = int(float(label))
    if not 0 <= c < k:
        outputs = (
            "one output takes labels 0 and 1"
            if n_outputs == 1
            else f"{n_outputs} outputs take labels 0..{k - 1}"
        )
        raise ValueError(f"y[{i}] = {c} is out of range: a model with {outputs}")
    return c


def l2_penalty(params: Iterable[Value], alpha: float) -> Value:
    """alpha * Σ p^2 over the parameters: add it to a loss to keep weights small (micrograd's
    demo uses alpha = 1e-4). SGD's weight_decay=2*alpha gives the same gradient step."""
    return real("l2_penalty: alpha", alpha, minimum=0.0) * autograd.sum([p * p for p in params])
