"""Training: ``fit`` (mini-batches, shuffling, per-epoch metrics, a progress bar), ``evaluate``, ``predict``.

X is a list of feature lists or a 2-D NumPy array; y holds integer class labels 0..k-1 (0/1
for a one-output model). A batch's loss is the mean of the per-example losses of ``nn.losses``.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import autograd
from autograd import Value, no_grad

from .losses import Loss, encode_targets, get_loss, loss_name
from .module import Module
from .optim import SGD, Optimizer

if importlib.util.find_spec("ipywidgets"):  # tqdm's notebook bar needs it; without it tqdm.auto warns
    from tqdm.auto import tqdm
else:
    from tqdm import tqdm

ENGINES = ("auto", "eager", "tape")

# runs one batch: (examples, target vectors) -> (mean loss, the outputs: rows of floats, or an array),
# leaving the gradient of the mean loss in every parameter's .grad
BatchRunner = Callable[[Any, Any], tuple[float, Any]]


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite; the message names the epoch and the batch."""


@dataclass
class History:
    """What ``fit`` measured: ``epochs[i]`` holds epoch i+1's train_loss and train_acc (the means
    over that epoch's batches, each taken before its step), and val_loss, val_acc (after the epoch)
    when validation data was given. ``history["train_loss"]`` lists one key over the epochs."""

    epochs: list[dict[str, float]] = field(default_factory=list)
    engine: str = "eager"  # which engine computed the batches
    loss: str = ""
    seconds: list[float] = field(default_factory=list)  # wall time of each epoch

    def __getitem__(self, key: str) -> list[float]:
        return [e[key] for e in self.epochs]

    def __len__(self) -> int:
        return len(self.epochs)

    @property
    def last(self) -> dict[str, float]:
        return self.epochs[-1]


# --- one batch --------------------------------------------------------------------------------------


def _eager_batch(
    model: Module, loss_fn: Loss, xs: list[list[float]], ts: list[list[float]]
) -> tuple[float, list[list[float]]]:
    """Forward and backward through the scalar graph for one batch: one graph per example, their
    mean loss as one n-ary sum / n, then backward. Returns the mean loss and the outputs."""
    outputs, losses = [], []
    for x, t in zip(xs, ts):
        out = model(x)
        outputs.append(out)
        losses.append(loss_fn(out, t))
    batch_loss = autograd.sum(losses) / len(losses)
    batch_loss.backward()
    return batch_loss.data, [_floats(o) for o in outputs]


class _TapeBatch:
    """Runs each batch on the batch tape (``autograd.Tape``): the graph of one example (model, then
    loss) is traced once, then every batch is one NumPy forward and backward over its examples.
    Without a loss (``loss_fn=None``) it traces the model alone, for ``predict``."""

    def __init__(self, model: Module, loss_fn: Loss | None, x: list[float], t: list[float] | None) -> None:
        def example(x: list[Value], t: list[Value] | None = None) -> list[Value]:
            out = model(x)
            outs = list(out) if isinstance(out, (list, tuple)) else [out]
            return outs if loss_fn is None else [loss_fn(out, t), *outs]

        self.tape = autograd.Tape.trace(example, model.parameters(), x, t)

    def __call__(
        self, xs: Any, ts: Any, params: np.ndarray | None = None, grad: np.ndarray | None = None
    ) -> tuple[float, np.ndarray]:
        """Mean loss and outputs of one batch; the gradient goes into each ``.grad``, or with
        ``params``/``grad`` arrays the parameters are read from and the gradient written to those."""
        out = self.tape.forward(xs, ts, params=params)
        self.tape.backward(scale=1.0 / len(xs), out=grad)
        return math.fsum(out[:, 0].tolist()) / len(xs), out[:, 1:]

    def forward(self, xs: list[list[float]], ts: list[list[float]] | None, chunk: int = 2048) -> np.ndarray:
        """Every example's row of (loss, outputs...) (or outputs alone), in chunks to bound memory."""
        return np.concatenate(
            [
                self.tape.forward(xs[i : i + chunk], None if ts is None else ts[i : i + chunk])
                for i in range(0, len(xs), chunk)
            ]
        )


class _OnValues:
    """fit's batches through the Values: zero each ``.grad``, run the batch (eager, or the tape
    adding into ``.grad``), then ``optimizer.step()`` on the Values. Works with any optimizer."""

    def __init__(self, run_batch: BatchRunner, optimizer: Optimizer) -> None:
        self.run_batch, self.optimizer = run_batch, optimizer

    def __call__(self, xs: Any, ts: Any) -> tuple[float, Any]:
        self.optimizer.zero_grad()
        return self.run_batch(xs, ts)

    def step(self) -> None:
        self.optimizer.step()

    def sync(self) -> None:
        """Nothing to do: the Values are always current."""


class _TapeOnArrays:
    """fit's batches on the tape with the parameters kept as arrays: the tape reads them from
    ``data`` and writes their gradients into ``grad``, and the optimizer moves ``data`` in place
    (``step_arrays``, the same update rule as ``step()``). No step moves a parameter through Python
    one by one, which for a few thousand parameters costs more than NumPy's whole step.
    ``sync()`` makes the Values current: ``.data`` the trained value, ``.grad`` the last batch's
    gradient, as the eager engine leaves them."""

    def __init__(self, runner: _TapeBatch, optimizer: Optimizer) -> None:
        self.runner, self.tape, self.optimizer = runner, runner.tape, optimizer
        self.data = np.array([p.data for p in self.tape.params], dtype=float)
        self.grad = np.zeros_like(self.data)

    @staticmethod
    def usable(runner: BatchRunner, optimizer: Optimizer) -> bool:
        """Only for the optimizer's own update rule (a custom ``step()`` works on the Values) over
        the tape's parameters, in the same order."""
        if not isinstance(runner, _TapeBatch) or type(optimizer).step is not Optimizer.step:
            return False
        ours, theirs = runner.tape.params, optimizer.params
        return len(ours) == len(theirs) and all(a is b for a, b in zip(ours, theirs))

    def __call__(self, X: np.ndarray, T: np.ndarray) -> tuple[float, np.ndarray]:
        return self.runner(X, T, params=self.data, grad=self.grad)

    def step(self) -> None:
        self.optimizer.step_arrays(self.data, self.grad)

    def sync(self) -> None:
        for p, d, g in zip(self.tape.params, self.data.tolist(), self.grad.tolist()):
            p.data, p.grad = d, g


def _select_engine(
    engine: str, model: Module, loss_fn: Loss | None, xs: list[list[float]], ts: list[list[float]] | None
) -> tuple[str, BatchRunner]:
    """The engine that runs each batch, and its name for ``History.engine``.

    "auto" takes the tape when the model and loss trace, and the traced graph gives the eager
    engine's numbers on a second example (a graph that branches on the data would not); else eager.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(map(repr, ENGINES))}; got {engine!r}")
    eager = ("eager", functools.partial(_eager_batch, model, loss_fn))
    if engine == "eager":
        return eager
    try:
        runner = _TapeBatch(model, loss_fn, xs[0], None if ts is None else ts[0])
        _check_tape(runner, model, loss_fn, xs, ts)
    except Exception as e:
        if engine == "tape":
            raise ValueError(f"engine='tape': this model and loss cannot run on the batch tape: {e}") from e
        return eager
    return "tape", runner


def _check_tape(
    runner: _TapeBatch,
    model: Module,
    loss_fn: Loss | None,
    xs: list[list[float]],
    ts: list[list[float]] | None,
) -> None:
    """Raise unless the tape gives the eager loss and outputs on the last example (traced on the first)."""
    x, t = xs[-1], None if ts is None else ts[-1]
    got = runner.tape.forward([x], None if t is None else [t])[0]
    with no_grad():
        out = model(x)
        want = ([] if loss_fn is None else [loss_fn(out, t).data]) + _floats(out)
    if not all(math.isclose(g, w, rel_tol=1e-9, abs_tol=1e-12) for g, w in zip(got, want)):
        raise ValueError(
            f"the traced graph gives {got.tolist()} on the last example, the eager engine {want}: "
            "the graph depends on the data"
        )


def _losses_and_outputs(
    runner: BatchRunner,
    model: Module,
    loss_fn: Loss | None,
    xs: list[list[float]],
    ts: list[list[float]] | None,
) -> tuple[list[float], list[list[float]]]:
    """Every example's loss (none without a loss_fn) and outputs, without touching any .grad:
    on the tape when ``runner`` is one, else eagerly without recording a graph."""
    if isinstance(runner, _TapeBatch):
        out = runner.forward(xs, ts)
        k = 0 if loss_fn is None else 1
        return out[:, 0].tolist() if k else [], out[:, k:]
    losses, outputs = [], []
    with no_grad():
        for i, x in enumerate(xs):
            out = model(x)
            outputs.append(_floats(out))
            if loss_fn is not None:
                losses.append(loss_fn(out, ts[i]).data)
    return losses, np.array(outputs)


# --- the training loop ------------------------------------------------------------------------------


def fit(
    model: Module,
    X: Any,
    y: Sequence[int],
    loss: str | Loss,
    optimizer: Optimizer | None = None,
    epochs: int = 10,
    batch_size: int | None = None,
    validation: tuple[Any, Sequence[int]] | None = None,
    seed: int = 0,
    progress: bool | None = None,
    engine: str = "auto",
) -> History:
    """Train ``model`` on (X, y) and return its History.

    ``optimizer`` defaults to ``SGD(model.parameters(), lr=0.1)``. ``batch_size=None`` is full
    batch; otherwise the examples are shuffled into mini-batches each epoch, from ``seed``.
    ``progress``: a tqdm bar; None shows it only when stderr is a terminal. A NaN or infinite
    loss raises TrainingDiverged naming the epoch and batch (both counted from 1).
    """
    loss_fn = get_loss(loss)
    _check_loss_fits_model(model, loss)
    xs, ts, labels = _prepare(model, X, y, loss, "X", "y")
    if validation is not None:
        if not isinstance(validation, (tuple, list)) or len(validation) != 2:
            raise ValueError("validation must be a pair (X_valid, y_valid)")
        valid = _prepare(model, validation[0], validation[1], loss, "validation X", "validation y")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"epochs must be an int >= 0, got {epochs!r}")
    n = len(xs)
    if batch_size is None:
        batch_size = n
    elif isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int or None (full batch), got {batch_size!r}")
    if optimizer is None:
        optimizer = SGD(model.parameters(), lr=0.1)
    if progress is None:
        progress = sys.stderr.isatty()

    engine_name, run_batch = _select_engine(engine, model, loss_fn, xs, ts)
    if _TapeOnArrays.usable(run_batch, optimizer):
        trainer: _OnValues | _TapeOnArrays = _TapeOnArrays(run_batch, optimizer)
    else:
        trainer = _OnValues(run_batch, optimizer)
    if isinstance(run_batch, _TapeBatch):  # the tape takes batches as arrays: index them with NumPy
        xs, ts = np.array(xs), np.array(ts)
        if validation is not None:
            valid = (np.array(valid[0]), np.array(valid[1]), valid[2])
    history = History(engine=engine_name, loss=loss_name(loss))
    threshold = _threshold(model)
    label_array = np.array(labels)
    rng = random.Random(seed)
    order = list(range(n))
    bar = tqdm(range(1, epochs + 1), desc="fit", unit="epoch", disable=not progress, file=sys.stderr)
    for epoch in bar:
        start = time.perf_counter()
        if batch_size < n:
            rng.shuffle(order)
        total_loss = correct = 0.0
        n_batches = math.ceil(n / batch_size)
        try:
            for b in range(n_batches):
                idx = order[b * batch_size : (b + 1) * batch_size]
                try:
                    batch_loss, outs = trainer(*_take(xs, ts, idx, n))
                except (ArithmeticError, ValueError) as e:
                    e.add_note(f"(while training: epoch {epoch} of {epochs}, batch {b + 1} of {n_batches})")
                    raise
                if not math.isfinite(batch_loss):
                    raise TrainingDiverged(
                        f"the loss is {batch_loss!r} at epoch {epoch} of {epochs}, "
                        f"batch {b + 1} of {n_batches}: "
                        "training diverged; try a smaller learning rate"
                    )
                trainer.step()
                total_loss += batch_loss * len(idx)
                correct += int(np.count_nonzero(_labels_of(np.asarray(outs), threshold) == label_array[idx]))
        finally:  # the Values are user-visible again: validation, the caller, or an error
            trainer.sync()
        record = {"train_loss": total_loss / n, "train_acc": correct / n}
        if validation is not None:  # on the training tape when there is one: no second trace
            v = _scores(run_batch, model, loss_fn, *valid)
            record.update(val_loss=v["loss"], val_acc=v["acc"])
        history.epochs.append(record)
        history.seconds.append(time.perf_counter() - start)
        bar.set_postfix({k: round(v, 4) for k, v in record.items()})
    bar.close()
    return history


def evaluate(
    model: Module, X: Any, y: Sequence[int], loss: str | Loss, engine: str = "auto"
) -> dict[str, float]:
    """Mean loss and accuracy of ``model`` on (X, y), without recording a graph for backward.
    ``engine`` as in ``fit``: "auto" runs the whole set on the batch tape when the model traces."""
    loss_fn = get_loss(loss)
    _check_loss_fits_model(model, loss)
    xs, ts, labels = _prepare(model, X, y, loss, "X", "y")
    _, runner = _select_engine(engine, model, loss_fn, xs, ts)
    return _scores(runner, model, loss_fn, xs, ts, labels)


def _scores(
    runner: BatchRunner,
    model: Module,
    loss_fn: Loss,
    xs: list[list[float]],
    ts: list[list[float]],
    labels: list[int],
) -> dict[str, float]:
    losses, outputs = _losses_and_outputs(runner, model, loss_fn, xs, ts)
    correct = int(np.count_nonzero(_labels_of(outputs, _threshold(model)) == np.array(labels)))
    return {"loss": math.fsum(losses) / len(xs), "acc": correct / len(xs)}


def predict(model: Module, X: Any, engine: str = "auto") -> list[int]:
    """The predicted class of each example: argmax of the outputs, or for one output 1 when it is
    above 0 (above 0.5 after a sigmoid output), else 0. ``engine`` as in ``fit``."""
    xs = _rows(X, getattr(model, "nin", None), "X")
    _, runner = _select_engine(engine, model, None, xs, None)
    _, outputs = _losses_and_outputs(runner, model, None, xs, None)
    return _labels_of(outputs, _threshold(model)).tolist()


def accuracy(model: Module, X: Any, y: Sequence[int]) -> float:
    """The fraction of examples whose predicted class is y."""
    labels = list(y)
    pred = predict(model, X)
    if len(pred) != len(labels):
        raise ValueError(f"X has {len(pred)} examples but y has {len(labels)} labels")
    return sum(p == int(t) for p, t in zip(pred, labels)) / len(labels)


# --- helpers --------------------------------------------------------------------------------------


def _floats(out: Any) -> list[float]:
    return [v.data for v in out] if isinstance(out, (list, tuple)) else [out.data]


def _take(xs: Any, ts: Any, idx: list[int], n: int) -> tuple[Any, Any]:
    """The examples idx and their targets: from lists (eager) or arrays (tape; a full batch
    is the arrays themselves, since a full batch is never shuffled)."""
    if isinstance(xs, np.ndarray):
        return (xs, ts) if len(idx) == n else (xs[idx], ts[idx])
    return [xs[i] for i in idx], [ts[i] for i in idx]


def _labels_of(outputs: np.ndarray, threshold: float) -> np.ndarray:
    """Each row's class: argmax (the first on a tie), or for one output 1 when above threshold."""
    if outputs.shape[1] == 1:
        return (outputs[:, 0] > threshold).astype(int)
    return outputs.argmax(axis=1)


def _output_activation(model: Module) -> str | None:
    """The activation of the model's last layer, when the model says (MLP, Layer, Neuron do)."""
    return getattr(model, "output_activation", getattr(model, "activation", None))


def _threshold(model: Module) -> float:
    return 0.5 if _output_activation(model) == "sigmoid" else 0.0


def _n_outputs(model: Module, x: list[float]) -> int:
    n = getattr(model, "nout", None)
    if n is None:
        with no_grad():
            n = len(_floats(model(x)))
    return n


def _rows(X: Any, nin: int | None, name: str) -> list[list[float]]:
    """X as a list of float rows, checking that every row has nin features."""
    if hasattr(X, "ndim") and X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (examples x features), got an array of shape {X.shape}")
    try:
        rows = [[float(v) for v in row] for row in X]
    except TypeError as e:
        raise TypeError(f"{name} must be a list of feature lists or a 2-D array of numbers ({e})") from None
    if not rows:
        raise ValueError(f"{name} is empty")
    if nin is not None:
        for i, row in enumerate(rows):
            if len(row) != nin:
                raise ValueError(f"{name}[{i}] has {len(row)} features; the model takes {nin}")
    return rows


def _prepare(model: Module, X: Any, y: Any, loss: str | Loss, xname: str, yname: str):
    """Checked example rows, their target vectors and their labels as ints."""
    xs = _rows(X, getattr(model, "nin", None), xname)
    labels = list(y)
    if len(labels) != len(xs):
        raise ValueError(f"{xname} has {len(xs)} examples but {yname} has {len(labels)} labels")
    try:
        ts = encode_targets(labels, loss, _n_outputs(model, xs[0]))
    except ValueError as e:
        raise ValueError(f"{yname}: {e}") from None
    return xs, ts, [int(c) for c in labels]


def _check_loss_fits_model(model: Module, loss: str | Loss) -> None:
    """Catch the classic mismatches between the output layer and the loss, with the fix."""
    out = _output_activation(model)
    name = loss_name(loss)
    if out == "softmax" and name in ("cross_entropy", "bce_logits", "hinge"):
        raise ValueError(
            f"loss {name!r} takes the raw scores (logits) but the model's output layer applies softmax; "
            "build it with output_activation='linear' (cross_entropy applies the softmax itself, stably)"
        )
    if out == "sigmoid" and name in ("bce_logits", "hinge"):
        raise ValueError(
            f"loss {name!r} takes raw scores but the model's output layer applies sigmoid; "
            "use output_activation='linear', or loss='bce' on the sigmoid output"
        )
    if name == "bce" and out is not None and out != "sigmoid":
        raise ValueError(
            f"loss 'bce' takes probabilities but the model's output is {out!r}; "
            "use output_activation='sigmoid', or loss='bce_logits' on a linear output"
        )
