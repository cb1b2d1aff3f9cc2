"""The two engines behind ``fit``, ``evaluate`` and ``predict``, behind one interface (``Engine``).

- eager: one scalar graph per example, then ``backward()``. Runs any model and loss, always right.
- tape: one example's graph (model, then loss) traced once and replayed for a whole batch with
  NumPy (``autograd.Tape``), under its contract (``Tape.trace``, as JAX's for ``jit``): the Python
  numbers and state the code reads are baked in when it is traced.

``select`` picks one. ``engine="auto"`` takes the tape only where the replay is exact by
construction (``user_code`` says why not): the library's own modules and losses, an optimizer over
the model's parameters; those tapes are kept with the model, keyed by the objects themselves.
Anything else runs eagerly with a ``FallbackWarning`` saying why and how to opt in.
``engine="tape"`` traces the caller's code, with the cheap structural checks (docs/limits.md), and
keeps nothing beyond the call. Every call runs on buffers of its own (``Tape.fresh``), so an
``evaluate`` from another thread never shares those of a ``fit`` in progress.
"""

from __future__ import annotations

import math
import warnings
import weakref
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from operator import attrgetter
from typing import Any, Protocol

import numpy as np

import autograd
from autograd import NaNError, NotTraceable, NumericError, Value, enable_grad, no_grad
from autograd.arguments import choice

from .layers import MLP, Layer, Neuron
from .losses import Loss
from .module import Module
from .optim import Optimizer

__all__ = ["ENGINES", "Engine", "EagerEngine", "TapeEngine", "FallbackWarning", "NotTraceable", "select"]

ENGINES = ("auto", "eager", "tape")
LIBRARY_MODULES = (MLP, Layer, Neuron)
_grad = attrgetter("grad")


class FallbackWarning(UserWarning):
    """``engine="auto"`` runs eagerly instead of on the tape; the message says why."""


class Engine(Protocol):
    """What ``fit``, ``evaluate`` and ``predict`` need from an engine. X is (examples, inputs),
    T (examples, targets), both float arrays."""

    name: str  # "eager" or "tape"
    reason: str  # why this engine runs (History.engine_reason)

    def begin(self, optimizer: Optimizer) -> None: ...  # get ready to train with ``optimizer``

    def threads(self, n: int | None) -> None: ...  # a big batch on n threads (None: the default)

    def session(self, batch_size: int) -> AbstractContextManager: ...  # held around many batches

    def run(self, X: np.ndarray, T: np.ndarray) -> tuple[float, np.ndarray]:
        """Forward and backward of one batch: its mean loss and outputs (examples, outputs), the
        gradient of the mean loss kept for ``step``. Raises a NumericError on a NaN gradient."""
        ...

    def step(self) -> None: ...  # move the parameters once with the optimizer

    def sync(self) -> None: ...  # make the parameters' Values current (.data and the last .grad)

    def parameters_finite(self) -> bool: ...  # whether every parameter is finite after the last step

    def outputs(self, X: np.ndarray, T: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Every example's loss (empty without targets) and outputs, recording no graph."""
        ...


# --- one example's graph -------------------------------------------------------------------------------


def example_graph(model: Module, loss_fn: Loss | None) -> Callable[..., list[Value]]:
    """One example's graph as a function of its inputs (and targets): [loss, *outputs], or the
    outputs alone without a loss. The loss must be a Value: a float (say, written with ``.data``)
    carries no graph, so nothing would train."""

    def example(x: Sequence[Any], t: Sequence[Any] | None = None) -> list[Value]:
        out = model(x)
        outs = list(out) if isinstance(out, (list, tuple)) else [out]
        if not all(isinstance(o, Value) for o in outs):
            raise TypeError(f"the model must return a Value or a list of Values, got {out!r:.80}")
        if loss_fn is None:
            return outs
        loss = loss_fn(out, t if t is not None else [])
        if not isinstance(loss, Value):
            raise TypeError(
                f"the loss returned {type(loss).__name__} {loss!r:.40}, not a Value: a loss computed from "
                "numbers (.data, float()) has no graph, so no parameter would train. Build it from the "
                "Values it is given (o - t, (o - t) ** 2, ...)"
            )
        return [loss, *outs]

    return example


NAN_GRADIENT = "the gradient of the batch loss holds NaN or infinity"


# --- the eager engine ----------------------------------------------------------------------------------


class EagerEngine:
    """One scalar graph per example; runs any model and loss."""

    name = "eager"

    def __init__(self, model: Module, loss_fn: Loss | None, reason: str) -> None:
        self.model, self.loss_fn, self.reason = model, loss_fn, reason
        self.example = example_graph(model, loss_fn)
        self.optimizer: Optimizer | None = None

    def begin(self, optimizer: Optimizer) -> None:
        self.optimizer = optimizer

    def threads(self, n: int | None) -> None:
        """The eager engine runs on one thread, whatever ``n``."""

    def session(self, batch_size: int) -> AbstractContextManager:
        return nullcontext()  # nothing to set up

    def run(self, X: np.ndarray, T: np.ndarray) -> tuple[float, np.ndarray]:
        assert self.optimizer is not None, "begin() first"
        self.optimizer.zero_grad()
        rows = [self.example(x, t) for x, t in zip(X.tolist(), T.tolist())]
        batch_loss = autograd.sum([r[0] for r in rows]) / len(rows)
        batch_loss.backward()
        if not all(map(math.isfinite, map(_grad, self.optimizer.params))):
            raise NaNError(NAN_GRADIENT)
        return batch_loss.data, np.array([[v.data for v in r[1:]] for r in rows])

    def step(self) -> None:
        assert self.optimizer is not None, "begin() first"
        self.optimizer.step()

    def sync(self) -> None:
        """Nothing to do: the Values are always current."""

    def parameters_finite(self) -> bool:
        assert self.optimizer is not None, "begin() first"
        return all(math.isfinite(p.data) for p in self.optimizer.params)

    def outputs(self, X: np.ndarray, T: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        example = self.example if T is not None else example_graph(self.model, None)
        rows = []
        with no_grad():
            for i, args in enumerate(zip(X.tolist(), *([] if T is None else [T.tolist()]))):
                try:
                    rows.append([v.data for v in example(*args)])
                except NumericError as e:  # the same kind of error, saying which example, as fit does
                    raise type(e)(f"row {i} of X ({args[0]}): {e}") from e
        out = np.array(rows).reshape(len(X), -1)
        return (out[:, 0], out[:, 1:]) if T is not None else (np.empty(0), out)


# --- the tape engine -----------------------------------------------------------------------------------


class TapeEngine:
    """Batches on a traced tape. With the optimizer's own update rule over the tape's parameters,
    the parameters are kept as arrays during training (``Optimizer.step_arrays``): no step moves
    them through Python one by one. ``sync()`` writes them back to the Values. ``retrace``, when
    given, traces the graph again: after the first step it must give the same signature."""

    name = "tape"

    def __init__(self, tape: autograd.Tape, reason: str, retrace: Callable[[], autograd.Tape] | None = None):
        self.tape, self.reason, self.retrace = tape, reason, retrace
        self.optimizer: Optimizer | None = None
        self.data: np.ndarray | None = None  # the parameters as an array while training on arrays
        self.grad = np.zeros(0)

    def threads(self, n: int | None) -> None:
        if n is not None:  # else the tape's own default: the machine's cores
            self.tape.threads = n

    def session(self, batch_size: int) -> AbstractContextManager:
        return self.tape.session(batch_size)  # BLAS kept to one thread once, not at every step

    def begin(self, optimizer: Optimizer) -> None:
        self.optimizer = optimizer
        ours, theirs = self.tape.params, optimizer.params
        if type(optimizer).step is Optimizer.step and ours == theirs:  # the same Values, in order
            self.data = np.array([p.data for p in ours], dtype=float)
            self.grad = np.zeros_like(self.data)
        else:
            self.data = None
            self.reason += "; parameters moved through their Values (a custom step() or other parameters)"

    def run(self, X: np.ndarray, T: np.ndarray) -> tuple[float, np.ndarray]:
        assert self.optimizer is not None, "begin() first"
        n = len(X)
        if self.data is None:
            self.optimizer.zero_grad()
            out = self.tape.forward_backward(X, T, scale=1.0 / n)
            if not all(map(math.isfinite, map(_grad, self.optimizer.params))):
                raise NaNError(NAN_GRADIENT)
        else:
            out = self.tape.forward_backward(X, T, scale=1.0 / n, params=self.data, out=self.grad)
            if not np.isfinite(self.grad).all():
                raise NaNError(NAN_GRADIENT)
        return math.fsum(out[:, 0].tolist()) / n, out[:, 1:]

    def step(self) -> None:
        assert self.optimizer is not None, "begin() first"
        if self.data is None:
            self.optimizer.step()
        else:
            self.optimizer.step_arrays(self.data, self.grad)
        if self.retrace is not None:  # once: does the graph read state that training changes?
            retrace, self.retrace = self.retrace, None
            self.sync()
            if retrace().signature != self.tape.signature:
                raise NotTraceable(
                    "engine='tape': traced again after the first step (taken), the model or loss builds "
                    "another graph (other ops or constants): it reads state that training changes (a step "
                    "count, a schedule), which the tape bakes in when it traces. Train it with engine='eager'"
                )

    def parameters_finite(self) -> bool:
        assert self.optimizer is not None, "begin() first"
        if self.data is not None:
            return bool(np.isfinite(self.data).all())
        return all(math.isfinite(p.data) for p in self.optimizer.params)

    def sync(self) -> None:
        if self.data is not None:
            for p, d, g in zip(self.tape.params, self.data.tolist(), self.grad.tolist()):
                p.data, p.grad = d, g

    def outputs(
        self, X: np.ndarray, T: np.ndarray | None, chunk: int = 2048
    ) -> tuple[np.ndarray, np.ndarray]:
        parts = [
            self.tape.forward(X[i : i + chunk], None if T is None else T[i : i + chunk], params=self.data)
            for i in range(0, len(X), chunk)
        ]
        out = np.concatenate(parts)
        return (out[:, 0], out[:, 1:]) if self.tape.n_targets else (np.empty(0), out)


# --- choosing ------------------------------------------------------------------------------------------


def select(
    engine: str,
    model: Module,
    loss_fn: Loss | None,
    X: np.ndarray,
    T: np.ndarray | None,
    optimizer: Optimizer | None = None,
) -> Engine:
    """The engine that runs ``model`` (and ``loss_fn``, trained by ``optimizer``) on data like
    (X, T); see the module doc."""
    choice("engine", engine, ENGINES)
    params = model.parameters() if hasattr(model, "parameters") else []  # predict takes any callable
    why = user_code(model, loss_fn, optimizer, params)
    if why is not None and optimizer is not None and loss_fn is not None:
        _check_reaches(example_graph(model, loss_fn), X, T, optimizer)
    if engine == "eager":
        return EagerEngine(model, loss_fn, "engine='eager' was asked for")
    if engine == "auto":
        try:  # a library model runs code of the caller's own only through a replaced Value method
            if why is None:
                tape, reason = _library_tape(model, loss_fn, params, X, T)
                return TapeEngine(tape.fresh(), reason)
        except NotTraceable as e:
            why = f"the library's model ran code the tape cannot replay (a replaced Value method?): {e}"
        warnings.warn(
            f"engine='auto' runs eagerly: {why}. The batch tape is taken by default only for the "
            "library's own modules and losses; engine='tape' traces your code under the tape's "
            "contract (see docs/limits.md), engine='eager' says this is intended",
            FallbackWarning,
            stacklevel=3,
        )
        return EagerEngine(model, loss_fn, f"auto ran eagerly: {why}")
    if optimizer is not None:
        params = list(dict.fromkeys([*optimizer.params, *params]))
    example = example_graph(model, loss_fn)

    def trace() -> autograd.Tape:
        return autograd.Tape.trace(example, params, X[0], None if T is None else T[0], signed=True)

    tape = trace()
    if trace().signature != tape.signature:
        raise NotTraceable(
            "engine='tape': traced twice, the model or loss built two different graphs (other ops or "
            "constants): it reads state that changes from call to call (a counter, a random draw), "
            "which the tape would run once for every example. Train it with engine='eager'"
        )
    check_against_eager(tape, example, X, T, reference_rows(X, T))
    reason = "engine='tape' was asked for: traced; the same graph twice, and the eager numbers on a few rows"
    return TapeEngine(tape, reason, retrace=trace if optimizer is not None else None)


def user_code(
    model: Any, loss_fn: Loss | None, optimizer: Optimizer | None, params: list[Value]
) -> str | None:
    """Why ``auto`` cannot know the tape's replay is exact (code of the caller's own, or an optimizer
    over Values the model's ``params`` do not hold), or None when it can."""
    if not isinstance(model, Module):
        return f"the model is a {type(model).__name__} of your own, not one of the library's modules"
    for name, m in model.modules():
        if type(m) not in LIBRARY_MODULES:
            where = f" (at {name!r})" if name else ""
            return f"the model holds a {type(m).__name__}{where}, not one of MLP, Layer, Neuron"
    if loss_fn is not None and not loss_fn.is_library:
        return f"the loss {loss_fn.name!r} is a function of your own, not one of nn.LOSSES"
    if optimizer is not None:
        ours = set(params)
        extra = [p for p in optimizer.params if p not in ours]
        if extra:
            return f"the optimizer moves {len(extra)} Value(s) that are not the model's parameters"
    return None


# model -> {key: its traced tape}; an entry goes with its model; keys hold the objects themselves
_TAPES: weakref.WeakKeyDictionary[Module, dict[tuple, autograd.Tape]] = weakref.WeakKeyDictionary()
_MAX_TAPES = 4  # per model: a few (loss, no loss, a second loss) are kept


_STRUCTURE = ("nin", "activation", "output_activation", "bias")  # what else decides a library module's graph


def _library_tape(
    model: Module, loss_fn: Loss | None, params: list[Value], X: np.ndarray, T: np.ndarray | None
) -> tuple[autograd.Tape, str]:
    """The tape of a library model and loss: kept while the model's structure, its parameter
    Values and the loss function are the same objects, else traced now."""
    structure = tuple((name, type(m), *map(m.__dict__.get, _STRUCTURE)) for name, m in model.modules())
    methods = tuple(m for m in vars(Value).values() if callable(m))  # Value.tanh = tanh: traced anew
    key = (structure, methods, tuple(params), None if loss_fn is None else loss_fn.fn, X.shape[1], T is None)
    entries = _TAPES.setdefault(model, {})
    found = entries.get(key)
    if found is not None:
        return found, "auto: the library's model and loss; reused the tape an earlier call traced"
    if len(entries) >= _MAX_TAPES:
        entries.clear()
    tape = entries[key] = autograd.Tape.trace(
        example_graph(model, loss_fn), params, X[0], None if T is None else T[0]
    )
    return tape, "auto: the library's model and loss, exact on the tape by construction; traced"


def _check_reaches(
    example: Callable[..., list[Value]], X: np.ndarray, T: np.ndarray | None, optimizer: Optimizer
):
    """A TypeError when the first example's loss has no path to any parameter the optimizer moves
    (a loss rebuilt from numbers, ``Value((o.data - t[0]) ** 2)``): training would change nothing."""
    try:
        with enable_grad():
            loss = example(X[0].tolist(), [] if T is None else T[0].tolist())[0]
    except NumericError:  # bad numbers in this row: fit reports them by row
        return
    nodes = set(autograd.topological_order(loss))
    if not any(p in nodes for p in optimizer.params):
        raise TypeError(
            "the loss has no path to any parameter the optimizer moves, so training would change nothing: it "
            "was built from numbers (.data, float(), a new Value(...)), not from the Values the model returns"
        )


# --- the eager reference ---------------------------------------------------------------------------------

MAX_TARGET_ROWS = 10  # rows picked for distinct targets (a class each, or spread over the values)
SPREAD_ROWS = 5  # rows spread evenly over the data


def reference_rows(X: np.ndarray, T: np.ndarray | None) -> list[int]:
    """The rows (of finite X and T, as fit checks them) the tape is checked on against the eager
    engine, at most 1 + MAX_TARGET_ROWS + SPREAD_ROWS: the first; the first of each distinct target,
    so that a branch on the class shows (with more distinct targets, rows spread over their sorted
    values); rows spread over the data."""
    picks = [0]
    if T is not None:
        _, firsts = np.unique(T, axis=0, return_index=True)
        if len(firsts) > MAX_TARGET_ROWS:
            firsts = firsts[np.linspace(0, len(firsts) - 1, MAX_TARGET_ROWS).round().astype(int)]
        picks += sorted(firsts.tolist())
    picks += [int(k) for k in np.linspace(0, len(X) - 1, SPREAD_ROWS).round()]
    return list(dict.fromkeys(picks))


def check_against_eager(
    tape: autograd.Tape,
    example: Callable[..., list[Value]],
    X: np.ndarray,
    T: np.ndarray | None,
    rows: list[int],
) -> None:
    """The tape must give what the eager engine computes on ``rows``: each row's loss (or first
    output) and outputs, and the gradient of their sum. The eager engine passes an example as plain
    floats, so a path chosen on them (``isinstance(t[0], float)``) shows here as other numbers. Rows
    whose numbers fail eagerly (log of a negative) are left to ``fit``, which reports them by row."""
    built = []
    for i in rows:
        try:
            with enable_grad():
                built.append(
                    (i, example(X[i].tolist()) if T is None else example(X[i].tolist(), T[i].tolist()))
                )
        except NumericError:
            continue
    if not built:
        return
    picked = [i for i, _ in built]
    try:
        got = tape.forward(X[picked], None if T is None else T[picked]).tolist()
    except NumericError as e:
        raise NotTraceable(
            f"the tape fails on examples {picked}, where the eager engine does not ({e}): {_DEPENDS}"
        ) from e
    for row, (i, roots) in zip(got, built):
        eager = [r.data for r in roots]
        if len(row) != len(eager) or not all(map(_close, row, eager)):
            raise NotTraceable(f"on example {i} the tape gives {row}, the eager engine {eager}: {_DEPENDS}")
    grads = autograd.gradients(autograd.sum([roots[0] for _, roots in built]))
    eager_grad = np.array([grads.get(p, 0.0) for p in tape.params], dtype=float)
    if not np.isfinite(eager_grad).all():  # fit reports a non-finite gradient as TrainingDiverged
        return
    tape_grad = np.zeros(len(tape.params))
    tape.backward(scale=1.0, out=tape_grad)
    scale = max(1.0, float(np.abs(eager_grad).max(initial=0.0)))
    if not np.allclose(tape_grad, eager_grad, rtol=1e-7, atol=1e-9 * scale):
        k = int(np.argmax(np.abs(tape_grad - eager_grad)))
        raise NotTraceable(
            f"on examples {picked} the tape's gradient for parameter {k} is {float(tape_grad[k])!r}, the "
            f"eager engine's {float(eager_grad[k])!r}: {_DEPENDS}"
        )


_DEPENDS = (
    "the graph depends on the data (the eager engine passes the inputs and targets as plain numbers, "
    "the tape replays the graph of one example). Train it with engine='eager'"
)


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) or (a != a and b != b)
