"""Training: ``fit`` (mini-batches, shuffling, per-epoch metrics, a progress bar), ``evaluate``, ``predict``.

X is a list of feature lists or a 2-D NumPy array; y becomes the loss's targets by the loss's own
rule (``nn.Loss.targets``, or ``fit(targets=...)``): real values for a regression, or class labels
(which also get an accuracy). A batch's loss is the mean of the per-example losses. The batches
run on one of two engines (``nn.engines``) through one interface, so nothing here depends on which.
"""

from __future__ import annotations

import importlib.util
import math
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

import autograd
from autograd import NaNError, NumericError, no_grad
from autograd.arguments import choice, integer, positive_int

from . import engines
from .datasets import shuffled_orders
from .engines import Engine, select
from .losses import LOSSES, TARGETS, Loss, LossFn, encode_targets, get_loss
from .module import Module
from .optim import SGD, Optimizer

if importlib.util.find_spec("ipywidgets"):  # tqdm's notebook bar needs it; without it tqdm.auto warns
    from tqdm.auto import tqdm
else:
    from tqdm import tqdm


class TrainingDiverged(FloatingPointError):
    """A numeric failure inside ``fit`` (a NaN or infinite loss or gradient, an overflow, a domain
    error such as log of a negative): the message names the epoch, the batch, the op and, when
    one example fails, its row of the caller's X; the original error is chained (``__cause__``)."""


@dataclass
class History:
    """What ``fit`` measured: ``epochs[i]`` holds epoch i+1's train_loss and, for class labels,
    train_acc (the means over that epoch's batches, each taken before its step), and val_loss,
    val_acc (after the epoch) when validation data was given. ``history["train_loss"]`` lists one
    key over the epochs."""

    epochs: list[dict[str, float]] = field(default_factory=list)
    engine: str = "eager"  # which engine computed the batches: "eager" or "tape"
    engine_reason: str = ""  # why that engine (asked for, traced and checked, reused, or a fallback's cause)
    loss: str = ""
    seconds: list[float] = field(default_factory=list)  # wall time of each epoch

    def __getitem__(self, key: str) -> list[float]:
        return [e[key] for e in self.epochs]

    def __len__(self) -> int:
        return len(self.epochs)

    @property
    def last(self) -> dict[str, float]:
        return self.epochs[-1]


class _Data(NamedTuple):
    """Checked examples X (examples, inputs), targets T (examples, outputs), labels (None: values)."""

    X: np.ndarray
    T: np.ndarray
    labels: np.ndarray | None


# --- the training loop ------------------------------------------------------------------------------


def fit(
    model: Module,
    X: Any,
    y: Any,
    loss: str | LossFn,
    optimizer: Optimizer | None = None,
    epochs: int = 10,
    batch_size: int | None = None,
    validation: tuple[Any, Any] | None = None,
    seed: int | None = 0,
    progress: bool | None = None,
    engine: str = "auto",
    targets: str | None = None,
    threads: int | None = None,
) -> History:
    """Train ``model`` on (X, y) and return its History.

    ``optimizer`` defaults to ``SGD(model.parameters(), lr=0.1)``. ``batch_size=None`` is full
    batch; otherwise the examples are shuffled into mini-batches each epoch, from ``seed``, in the
    order of ``datasets.batches(seed=seed)`` for the first epoch; ``seed=None`` keeps the data's
    order in every epoch (as ``batches(seed=None)`` does); ``seed`` is checked even for full batch.
    ``progress``: a tqdm bar; None shows it only when stderr is a terminal. ``engine``: "eager",
    "tape" or "auto" (``nn.engines``). ``targets`` ("values", "labels", "signs") overrides the
    loss's rule for turning y into targets (``nn.Loss``). ``threads``: ``autograd.Tape.threads``
    for batches of 8,192 or more (None: the cores; numbers never depend on it; eager: one thread).
    ``History.engine``/``engine_reason`` say which engine ran and why. A numeric failure
    (``autograd.NumericError``) raises TrainingDiverged naming the epoch, batch, op and row; a loss
    with no path to a parameter the optimizer moves is a TypeError before the first step."""
    loss_fn = _loss(loss, targets)
    data = _prepare(model, X, y, loss_fn, "X", "y")
    valid = None if validation is None else _validation(model, validation, loss_fn)
    epochs = integer("epochs", epochs, minimum=0)
    size = len(data.X) if batch_size is None else positive_int("batch_size", batch_size)
    orders = shuffled_orders(len(data.X), seed)
    optimizer = SGD(model.parameters(), lr=0.1) if optimizer is None else optimizer
    runner = select(engine, model, loss_fn, data.X, data.T, optimizer)
    runner.threads(None if threads is None else positive_int("threads", threads))
    runner.begin(optimizer)
    history = History(engine=runner.name, engine_reason=runner.reason, loss=loss_fn.name)
    threshold = _threshold(model)
    bar, show = _progress(progress, epochs)
    try:
        with runner.session(size):  # what each step would set up (BLAS threads), once
            for epoch in bar:
                start = time.perf_counter()
                order = next(orders) if size < len(data.X) else None
                try:
                    record = _epoch(runner, data, order, size, threshold)
                except _BatchFailed as failed:
                    raise _diverged(failed, model, loss_fn, data, runner, (epoch, epochs))  # noqa: B904 (cause set)
                if valid is not None:  # on the training engine: the tape is not traced again
                    record.update(_validation_scores(runner, valid, threshold, (epoch, epochs)))
                history.epochs.append(record)
                history.seconds.append(time.perf_counter() - start)
                if show:
                    bar.set_postfix({k: round(v, 4) for k, v in record.items()})
    finally:  # the Values are user-visible again: the caller, or an error
        runner.sync()
        bar.close()
    return history


def _progress(progress: bool | None, epochs: int) -> tuple[Any, bool]:
    """fit's tqdm bar over the epochs, and whether it shows (None: when stderr is a terminal)."""
    show = sys.stderr.isatty() if progress is None else progress
    if not show:  # a hidden bar still costs tqdm's set-up, more than a small epoch
        return _NoBar(range(1, epochs + 1)), False
    return tqdm(range(1, epochs + 1), desc="fit", unit="epoch", file=sys.stderr), True


class _NoBar:
    """The epochs, with a progress bar's ``close`` (nothing to close)."""

    def __init__(self, epochs: range) -> None:
        self.epochs = epochs

    def __iter__(self) -> Iterator[int]:
        return iter(self.epochs)

    def close(self) -> None:
        pass


class _BatchFailed(Exception):
    """A batch raised or gave a NaN/inf loss: carries the error and where (internal to fit)."""

    def __init__(self, error: BaseException, batch: int, n_batches: int, rows: Any) -> None:
        super().__init__(str(error))
        self.error, self.batch, self.n_batches, self.rows = error, batch, n_batches, rows


def _epoch(
    runner: Engine, data: _Data, order: np.ndarray | None, size: int, threshold: float
) -> dict[str, float]:
    """One pass over the batches (in ``order``, or the data's own order as one batch): a step per
    batch; the mean loss (and accuracy, for class labels) over the epoch."""
    n = len(data.X)
    n_batches = math.ceil(n / size)
    total = correct = 0.0
    for b in range(n_batches):
        rows = slice(None) if order is None else order[b * size : (b + 1) * size]
        X, T = data.X[rows], data.T[rows]
        try:
            batch_loss, outs = runner.run(X, T)
            if not math.isfinite(batch_loss):
                raise NaNError(f"the loss is {batch_loss!r}")
        except NumericError as e:
            raise _BatchFailed(e, b + 1, n_batches, None if order is None else rows) from e
        runner.step()
        total += batch_loss * len(X)
        if data.labels is not None:
            correct += int(np.count_nonzero(_labels_of(outs, threshold) == data.labels[rows]))
    if not runner.parameters_finite():  # the last step's: a later batch would have found the others
        error = NaNError("a parameter is not finite after the epoch's last step")
        raise _BatchFailed(error, n_batches, n_batches, None)
    record = {"train_loss": total / n}
    return record if data.labels is None else {**record, "train_acc": correct / n}


def _validation_scores(
    runner: Engine, valid: _Data, threshold: float, when: tuple[int, int]
) -> dict[str, float]:
    """The validation loss and accuracy; a numeric failure there is divergence too (an overflow of
    weights that are finite but huge), reported with the epoch."""
    try:
        scores = _scores(runner, valid, threshold)
        if not math.isfinite(scores["loss"]):
            raise NaNError(f"the validation loss is {scores['loss']!r}")
    except NumericError as e:
        raise TrainingDiverged(
            f"{e} at epoch {when[0]} of {when[1]}, scoring the validation data; training diverged: "
            "try a smaller learning rate, or check the data"
        ) from e
    return {f"val_{k}": v for k, v in scores.items()}


def _diverged(
    failed: _BatchFailed, model: Module, loss_fn: Loss, data: _Data, runner: Engine, when: tuple[int, int]
) -> TrainingDiverged:
    """The TrainingDiverged for a failed batch: rerun its examples eagerly with the current
    parameters (detect_anomaly on) to find the row and the op, unless a parameter is not finite."""
    runner.sync()
    rows = range(len(data.X)) if failed.rows is None else failed.rows.tolist()
    bad = [(name, p.data) for name, p in model.named_parameters() if not math.isfinite(p.data)]
    culprit = f" (parameter {bad[0][0]} is {bad[0][1]!r} after the last step)" if bad else None
    cause = None  # with culprit: a parameter, or ", row r of X (...)" and its error
    if culprit is None:
        culprit, cause = _failing_row(model, loss_fn, data, rows)
    where = f"at epoch {when[0]} of {when[1]}, batch {failed.batch} of {failed.n_batches}"
    detail = str(cause) if cause is not None else str(failed.error)
    error = TrainingDiverged(
        f"{detail} {where}{culprit or ''}; training diverged: try a smaller learning rate, or check the data"
    )
    error.__cause__ = cause if cause is not None else failed.error
    return error


def _failing_row(
    model: Module, loss_fn: Loss, data: _Data, rows: Iterable[int]
) -> tuple[str | None, BaseException | None]:
    """The first of ``rows`` whose example fails eagerly, and its error."""
    example = engines.example_graph(model, loss_fn)
    for r in rows:
        x, t = data.X[r].tolist(), data.T[r].tolist()
        try:
            with autograd.detect_anomaly():
                example(x, t)
        except NumericError as e:
            return f", row {r} of X ({x})", e
    return None, None


def _loss(loss: str | LossFn, targets: str | None) -> Loss:
    loss_fn = get_loss(loss)
    return loss_fn if targets is None else Loss(loss_fn, targets, loss_fn.name)


def _validation(model: Module, validation: Any, loss: Loss) -> _Data:
    if not isinstance(validation, (tuple, list)) or len(validation) != 2:
        raise ValueError("validation must be a pair (X_valid, y_valid)")
    return _prepare(model, validation[0], validation[1], loss, "validation X", "validation y")


def evaluate(
    model: Module, X: Any, y: Any, loss: str | LossFn, engine: str = "auto", targets: str | None = None
) -> dict[str, float]:
    """Mean loss of ``model`` on (X, y), and for class labels its accuracy, without recording a
    graph for backward. ``engine`` and ``targets`` as in ``fit``."""
    loss_fn = _loss(loss, targets)
    data = _prepare(model, X, y, loss_fn, "X", "y")
    runner = select(engine, model, loss_fn, data.X, data.T)
    return _scores(runner, data, _threshold(model))


def _scores(runner: Engine, data: _Data, threshold: float) -> dict[str, float]:
    losses, outputs = runner.outputs(data.X, data.T)
    scores = {"loss": math.fsum(losses.tolist()) / len(data.X)}
    if data.labels is not None:
        scores["acc"] = int(np.count_nonzero(_labels_of(outputs, threshold) == data.labels)) / len(data.X)
    return scores


def predict(model: Module, X: Any, engine: str = "auto", targets: str = "labels") -> Any:
    """What ``model`` predicts for each example of X. ``targets="labels"`` (or "signs"): the class,
    a list of ints: argmax of the outputs, or for one output 1 when it is above 0 (above 0.5 after a
    sigmoid output), else 0. ``targets="values"`` (a regression): the outputs as an array, shape
    (examples,) for one output, else (examples, outputs). ``engine`` as in ``fit``."""
    choice("targets", targets, TARGETS)
    xs = _rows(X, getattr(model, "nin", None), "X")
    runner = select(engine, model, None, xs, None)
    _, outputs = runner.outputs(xs, None)
    if targets == "values":
        return outputs[:, 0] if outputs.shape[1] == 1 else outputs
    labels: list[int] = _labels_of(outputs, _threshold(model)).tolist()
    return labels


def accuracy(model: Module, X: Any, y: Any) -> float:
    """The fraction of examples whose predicted class is y."""
    labels = list(y)
    pred = predict(model, X)
    if len(pred) != len(labels):
        raise ValueError(f"X has {len(pred)} examples but y has {len(labels)} labels")
    return sum(p == int(t) for p, t in zip(pred, labels)) / len(labels)


# --- helpers --------------------------------------------------------------------------------------


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


def _n_outputs(model: Module, x: np.ndarray) -> int:
    n = getattr(model, "nout", None)
    if n is None:
        with no_grad():
            out = model(x.tolist())
        n = len(out) if isinstance(out, (list, tuple)) else 1
    return int(n)


def _rows(X: Any, nin: int | None, name: str) -> np.ndarray:
    """X as a float array (examples, features), checking that every row has nin features."""
    if hasattr(X, "ndim") and X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (examples x features), got an array of shape {X.shape}")
    numeric = isinstance(X, np.ndarray) and X.dtype.kind in "biuf"
    rows = X.astype(float) if numeric else _listed(X, nin, name)
    if len(rows) == 0:
        raise ValueError(f"{name} is empty")
    if nin is not None and rows.shape[1] != nin:
        raise ValueError(f"{name}[0] has {rows.shape[1]} features; the model takes {nin}")
    bad = np.flatnonzero(~np.isfinite(rows).all(axis=1))
    if len(bad):
        raise ValueError(f"row {bad[0]} of {name} holds NaN or infinity: {rows[bad[0]].tolist()}")
    return rows


def _listed(X: Any, nin: int | None, name: str) -> np.ndarray:
    try:
        listed = [[float(v) for v in row] for row in X]
    except TypeError as e:
        raise TypeError(f"{name} must be a list of feature lists or a 2-D array of numbers ({e})") from None
    width = nin if nin is not None else len(listed[0]) if listed else 0
    for i, row in enumerate(listed):
        if len(row) != width:
            raise ValueError(f"{name}[{i}] has {len(row)} features; the model takes {width}")
    return np.array(listed, dtype=float).reshape(len(listed), width)


def _prepare(model: Module, X: Any, y: Any, loss: Loss, xname: str, yname: str) -> _Data:
    """Checked example rows, their target vectors and, for class labels, the labels as ints."""
    _check_loss_fits_model(model, loss)
    xs = _rows(X, getattr(model, "nin", None), xname)
    ys = y if isinstance(y, np.ndarray) else list(y)
    if len(ys) != len(xs):
        raise ValueError(f"{xname} has {len(xs)} examples but {yname} has {len(ys)} targets")
    try:
        ts = encode_targets(ys, loss, _n_outputs(model, xs[0]))
    except ValueError as e:
        raise ValueError(f"{yname}: {e}") from None
    labels = None if loss.targets == "values" else np.asarray(ys).astype(np.int64)
    return _Data(xs, ts, labels)


def _check_loss_fits_model(model: Module, loss: Loss) -> None:
    """Catch the classic mismatches between the output layer and the library's losses, with the fix."""
    out = _output_activation(model)
    name = next((n for n, lib in LOSSES.items() if lib.fn is loss.fn), None)  # the function, not its label
    if name is None or out is None:
        return
    if (out == "softmax" and name in ("cross_entropy", "bce_logits", "hinge")) or (
        out == "sigmoid" and name in ("bce_logits", "hinge")
    ):
        fix = (
            "cross_entropy applies the softmax itself, stably" if out == "softmax" else "or bce on a sigmoid"
        )
        raise ValueError(
            f"loss {name!r} takes the raw scores (logits) but the model's output layer applies {out}; "
            f"build it with output_activation='linear' ({fix})"
        )
    if name == "bce" and out != "sigmoid":
        raise ValueError(
            f"loss 'bce' takes probabilities but the model's output is {out!r}; "
            "use output_activation='sigmoid', or loss='bce_logits' on a linear output"
        )
