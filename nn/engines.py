"""The two engines behind ``fit``, ``evaluate`` and ``predict``, behind one interface (``Engine``).

- eager: one scalar graph per example, then ``backward()``: runs any model and loss.
- tape: the graph of one example (model, then loss) traced once and replayed for a whole batch
  with NumPy (``autograd.Tape``). The traced tape is kept with the model and reused by later calls
  while the model's structure and the loss are unchanged (a fingerprint of both is the key).

``select`` picks one. ``engine="auto"`` takes the tape only when ``nn.tracecheck`` finds the graph
replayable, and otherwise runs eagerly with a ``FallbackWarning`` saying why; ``engine="tape"``
raises ``NotTraceable`` instead.
"""

from __future__ import annotations

import math
import warnings
import weakref
from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import Any, Protocol

import numpy as np

import autograd
from autograd import Value, enable_grad, no_grad
from autograd.arguments import choice

from .losses import Loss
from .module import Module
from .optim import Optimizer
from .tracecheck import (
    NotTraceable,
    UsedAsNumber,
    check_against_eager,
    findings,
    fingerprint,
    placeholders,
    random_states,
    reference_rows,
    signature,
    watch_calls,
)

__all__ = ["ENGINES", "Engine", "EagerEngine", "TapeEngine", "FallbackWarning", "NotTraceable", "select"]

ENGINES = ("auto", "eager", "tape")
_grad = attrgetter("grad")


class FallbackWarning(UserWarning):
    """``engine="auto"`` runs eagerly instead of on the tape; the message says why."""


class Engine(Protocol):
    """What ``fit``, ``evaluate`` and ``predict`` need from an engine. X is (examples, inputs),
    T (examples, targets), both float arrays."""

    name: str  # "eager" or "tape"
    reason: str  # why this engine runs (History.engine_reason)

    def begin(self, optimizer: Optimizer) -> None:
        """Get ready to train with ``optimizer``."""

    def run(self, X: np.ndarray, T: np.ndarray) -> tuple[float, np.ndarray]:
        """Forward and backward of one batch: its mean loss and outputs (examples, outputs), the
        gradient of the mean loss kept for ``step``. Raises FloatingPointError on a NaN gradient."""
        ...

    def step(self) -> None:
        """Move the parameters once with the optimizer."""

    def sync(self) -> None:
        """Make the parameters' Values current (``.data`` and the last ``.grad``)."""

    def parameters_finite(self) -> bool:
        """Whether every parameter is finite now (after the last step)."""
        ...

    def outputs(self, X: np.ndarray, T: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Every example's loss (empty without targets) and outputs, recording no graph."""
        ...


# --- one example's graph -------------------------------------------------------------------------------


def _values(out: Any) -> list[Value]:
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    if not all(isinstance(o, Value) for o in outs):
        raise TypeError(f"the model must return a Value or a list of Values, got {out!r:.80}")
    return outs


def checked_loss(loss: Any) -> Value:
    """The loss of one example, which must be a Value: a float (say, written with ``.data``)
    carries no graph, so nothing would train."""
    if not isinstance(loss, Value):
        raise TypeError(
            f"the loss returned {type(loss).__name__} {loss!r:.40}, not a Value: a loss computed from "
            "numbers (.data, float()) has no graph, so no parameter would train. Build it from the "
            "Values it is given (o - t, (o - t) ** 2, ...)"
        )
    return loss


def example_graph(model: Module, loss_fn: Loss | None) -> Callable[..., list[Value]]:
    """One example's graph as a function of its inputs (and targets): [loss, *outputs], or the
    outputs alone without a loss. Holds the model weakly: the tape that keeps it is kept with
    the model."""
    try:
        get_model: Callable[[], Module | None] = weakref.ref(model)
    except TypeError:
        get_model = lambda: model  # noqa: E731 (a model that cannot be weakly referenced)

    def example(x: Sequence[Any], t: Sequence[Any] | None = None) -> list[Value]:
        m = get_model()
        if m is None:
            raise ReferenceError("the model of this tape no longer exists")
        out = m(x)
        outs = _values(out)
        return outs if loss_fn is None else [checked_loss(loss_fn(out, t if t is not None else [])), *outs]

    return example


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

    def run(self, X: np.ndarray, T: np.ndarray) -> tuple[float, np.ndarray]:
        assert self.optimizer is not None, "begin() first"
        self.optimizer.zero_grad()
        rows = [self.example(x, t) for x, t in zip(X.tolist(), T.tolist())]
        batch_loss = autograd.sum([r[0] for r in rows]) / len(rows)
        batch_loss.backward()
        if not all(map(math.isfinite, map(_grad, self.optimizer.params))):
            raise FloatingPointError("the gradient of the batch loss holds NaN or infinity")
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
        bad = np.flatnonzero(~_finite(X))
        if len(bad):
            raise ValueError(f"row {bad[0]} of X holds NaN or infinity: {X[bad[0]].tolist()}")
        rows = []
        with no_grad():
            for i, args in enumerate(zip(X.tolist(), *([] if T is None else [T.tolist()]))):
                try:
                    rows.append([v.data for v in example(*args)])
                except (ArithmeticError, ValueError) as e:  # say which example, as fit does
                    raise _at_row(e, i, args[0]) from e
        out = np.array(rows).reshape(len(X), -1)
        return (out[:, 0], out[:, 1:]) if T is not None else (np.empty(0), out)


def _at_row(error: Exception, i: int, x: list) -> Exception:
    """The same kind of error, saying which row of X it came from."""
    kind = type(error) if type(error) in (ValueError, OverflowError, ZeroDivisionError) else None
    kind = kind or (ValueError if isinstance(error, ValueError) else ArithmeticError)
    return kind(f"row {i} of X ({x}): {error}")


# --- the tape engine -----------------------------------------------------------------------------------


class TapeEngine:
    """Batches on a traced tape. With the optimizer's own update rule over the tape's parameters,
    the parameters are kept as arrays during training (``Optimizer.step_arrays``): no step moves
    them through Python one by one. ``sync()`` writes them back to the Values."""

    name = "tape"

    def __init__(self, tape: autograd.Tape, reason: str) -> None:
        self.tape, self.reason = tape, reason
        self.optimizer: Optimizer | None = None
        self.data: np.ndarray | None = None  # the parameters as an array while training on arrays
        self.grad = np.zeros(0)

    def begin(self, optimizer: Optimizer) -> None:
        self.optimizer = optimizer
        ours, theirs = self.tape.params, optimizer.params
        if (
            type(optimizer).step is Optimizer.step
            and len(ours) == len(theirs)
            and all(map(_same, ours, theirs))
        ):
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
            out = self.tape.forward(X, T)
            self.tape.backward(scale=1.0 / n)
            if not all(map(math.isfinite, map(_grad, self.optimizer.params))):
                raise FloatingPointError("the gradient of the batch loss holds NaN or infinity")
        else:
            out = self.tape.forward(X, T, params=self.data)
            self.tape.backward(scale=1.0 / n, out=self.grad)
            if not np.isfinite(self.grad).all():
                raise FloatingPointError("the gradient of the batch loss holds NaN or infinity")
        return math.fsum(out[:, 0].tolist()) / n, out[:, 1:]

    def step(self) -> None:
        assert self.optimizer is not None, "begin() first"
        if self.data is None:
            self.optimizer.step()
        else:
            self.optimizer.step_arrays(self.data, self.grad)

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


def _same(a: Value, b: Value) -> bool:
    return a is b


# --- choosing, tracing, caching --------------------------------------------------------------------------

# model -> {key: a checked tape, or why the model and loss cannot be traced}; an entry goes with its model
_TAPES: weakref.WeakKeyDictionary[Module, dict[Any, autograd.Tape | str]] = weakref.WeakKeyDictionary()
_MAX_TAPES = 4  # per model: a few (loss, no loss, a second loss) are kept


def select(engine: str, model: Module, loss_fn: Loss | None, X: np.ndarray, T: np.ndarray | None) -> Engine:
    """The engine that runs ``model`` (and ``loss_fn``) on data like (X, T); see the module doc."""
    choice("engine", engine, ENGINES)
    if engine == "eager":
        return EagerEngine(model, loss_fn, "engine='eager' was asked for")
    try:
        tape, reason = _cached_tape(model, loss_fn, X, T)
    except NotTraceable as e:
        if engine == "tape":
            raise NotTraceable(
                f"engine='tape': this model and loss cannot run on the batch tape: {e}"
            ) from None
        warnings.warn(f"engine='auto' runs eagerly: {e}", FallbackWarning, stacklevel=3)
        return EagerEngine(model, loss_fn, f"auto fell back to eager: {e}")
    return TapeEngine(tape, reason)


def _cached_tape(
    model: Module, loss_fn: Loss | None, X: np.ndarray, T: np.ndarray | None
) -> tuple[autograd.Tape, str]:
    """The checked tape for this model and loss: from the cache while both are unchanged, else
    traced now. Raises NotTraceable (also remembered) when the checks fail."""
    params = _parameters(model)
    key = (
        fingerprint(model, params),
        None if loss_fn is None else (id(loss_fn), fingerprint(loss_fn, params)),
        X.shape[1],
    )
    try:
        entries = _TAPES.setdefault(model, {})
    except TypeError:  # not weakly referenceable: nothing is kept
        entries = {}
    found = entries.get(key)
    reason = "auto: reused the tape traced by an earlier call"
    if found is None:
        try:
            found = _trace_checked(model, loss_fn, X, T)
        except NotTraceable as e:
            found = str(e)
        if len(entries) >= _MAX_TAPES:
            entries.clear()
        entries[key] = found
        reason = "auto: traced, and the checks of nn.tracecheck passed"
    if isinstance(found, str):
        raise NotTraceable(found)
    return found, reason


def _trace_checked(model: Module, loss_fn: Loss | None, X: np.ndarray, T: np.ndarray | None) -> autograd.Tape:
    """Trace one example's graph, after the checks of ``nn.tracecheck``: no read of the numbers or
    write of state in user code, no use of an input or target as a number, no change of state,
    the same graph on other examples, and the eager engine's numbers on a few rows."""
    example = example_graph(model, loss_fn)
    params = _parameters(model)
    rows = _finite_rows(X, T)
    before = fingerprint((model, loss_fn), params), random_states()
    first, roots, holders, seen = _first_graph(example, (model, loss_fn), X, T, rows)
    found = findings(seen)
    if found:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise NotTraceable(
            f"the model or loss {found[0]}{more}, so its graph may depend on the numbers or on state; "
            "the tape replays one example's graph for every example"
        )
    after = fingerprint((model, loss_fn), params), random_states()
    if after != before:
        what = "(a counter, a list it appends to, a random draw)"
        if after[0] == before[0]:
            what = "(a draw from Python's or NumPy's global random generator)"
        raise NotTraceable(
            f"the model or loss changed state while building one example's graph {what}; on the tape "
            "it would run once, not once per example"
        )
    want = signature(roots, holders, params)
    tape = autograd.Tape.trace(example, params, X[first], None if T is None else T[first])
    for i in dict.fromkeys((rows[len(rows) // 2], rows[-1])):
        _check_replay(example, want, params, X[i], None if T is None else T[i], i)
    check_against_eager(tape, example, X, T, reference_rows(first, rows, T))
    return tape


def _first_graph(
    example: Callable[..., list[Value]], roots: tuple, X: np.ndarray, T: np.ndarray | None, rows: list[int]
) -> tuple[int, list[Value], list[Value], dict]:
    """The graph of the first of ``rows`` (up to 8) whose numbers build one, with the code that ran
    (``watch_calls``). A row that fails (say, log of a negative) is left for fit to report by row."""
    error: BaseException | None = None
    for i in rows[:8]:
        x, t = X[i], None if T is None else T[i]
        with watch_calls(*roots) as seen:
            try:
                graph, holders = _build(example, x, t)
            except NotTraceable:
                raise
            except Exception as e:  # any error: is it the placeholders' doing?
                failed = e
            else:
                return i, graph, holders, seen
        _placeholders_to_blame(example, x, t, failed)
        error = error or failed
    assert error is not None
    raise error


def _placeholders_to_blame(
    example: Callable[..., list[Value]], x: np.ndarray, t: np.ndarray | None, error: Exception
) -> None:
    """Building on placeholder Values raised ``error``. If the example builds on plain floats, as
    the eager engine runs it, the placeholders caused it: NotTraceable. Otherwise, a numeric error
    (bad numbers in this row) returns, to try the next row; any other is raised."""
    try:
        with enable_grad():
            example(x.tolist()) if t is None else example(x.tolist(), t.tolist())
    except (ArithmeticError, ValueError):
        if isinstance(error, (ArithmeticError, ValueError)):
            return
        raise error from None
    raise NotTraceable(
        f"building one example's graph on the tape's placeholder Values raised {type(error).__name__}: "
        f"{error}, where the eager engine's plain numbers do not; the model or loss uses an input or "
        "target as a number"
    ) from None


def _parameters(model: Module) -> list[Value]:
    return model.parameters() if hasattr(model, "parameters") else []  # predict takes any callable model


def _finite(X: np.ndarray, T: np.ndarray | None = None) -> np.ndarray:
    """For each row, whether its inputs (and targets) are all finite."""
    ok = np.isfinite(X).all(axis=1)
    if T is not None:
        ok &= np.isfinite(T).all(axis=1)
    return ok


def _finite_rows(X: np.ndarray, T: np.ndarray | None) -> list[int]:
    rows = np.flatnonzero(_finite(X, T)).tolist()
    if not rows:
        raise ValueError("every row of X holds NaN or infinity")
    return rows


def _build(
    example: Callable[..., list[Value]], x: np.ndarray, t: np.ndarray | None
) -> tuple[list[Value], list[Value]]:
    """One example's graph on placeholder Values, as the tape traces it: (roots, placeholders).
    Raises NotTraceable where the model or loss uses a placeholder as a number."""
    xs = placeholders(x.tolist(), "x", "input")
    ts = None if t is None else placeholders(t.tolist(), "t", "target")
    try:
        with enable_grad():
            roots = example(xs) if ts is None else example(xs, ts)
    except UsedAsNumber as e:
        raise NotTraceable(
            f"the model or loss {e}: the eager engine passes the inputs and targets as plain numbers, on "
            "which this can take another path than on the traced graph's Values"
        ) from None
    return roots, xs + (ts or [])


def _check_replay(
    example: Callable[..., list[Value]],
    want: tuple,
    params: list[Value],
    x: np.ndarray,
    t: np.ndarray | None,
    i: int,
) -> None:
    """Example i must build the traced graph (the same ops, wiring and constants)."""
    try:
        roots, holders = _build(example, x, t)
    except NotTraceable:
        raise
    except Exception as e:  # bad numbers return (fit reports them by row); the placeholders' doing raises
        _placeholders_to_blame(example, x, t, e)
        return
    if signature(roots, holders, params) != want:
        raise NotTraceable(
            f"example {i} builds a different graph (other ops or constants) from the traced one: "
            "the graph depends on the data, or on state such as a random draw"
        )
