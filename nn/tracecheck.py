"""Is a traced graph safe to replay? The checks ``engine="auto"`` runs before it uses the batch tape.

The tape records the graph one example builds and replays it for every other example. That is only
right when the graph depends on nothing but the wiring: not on the numbers (a Python ``if`` on
``.data``), not on hidden state (a loss that counts its calls, draws random numbers, or appends to a
list), and not on the inputs and targets used as numbers: the eager engine passes them as plain
floats, the trace as Values, so ``t[0] == 1`` is a comparison of numbers eagerly and of objects on
the trace. Four checks, run once per traced tape (docs/limits.md states what they guarantee):

1. Reads: while the example is traced, every Python function that runs outside the library's own
   packages (``autograd``, ``nn``), the standard library and installed packages is looked at. One
   that reads an attribute named ``data`` or ``local_grads`` (or names those strings), calls
   ``float()`` on a Value, or writes state outside its own locals (``global``, ``nonlocal``, an
   attribute store) makes the graph not replayable. The inputs and targets are ``Placeholder``
   Values: code outside the library that compares one, tests its truth, hashes it or makes an int
   or index of it stops the trace (``UsedAsNumber``).
2. State: a fingerprint of what the model and the loss can reach (closure cells, the globals they
   name, their attributes, lists and dicts in those, the state of random generators and
   ``itertools.count`` in those), and the state of Python's and NumPy's global random generators,
   are the same before and after the trace.
3. Replay: the graphs built for other examples of the data have the same ops, wiring and constants
   as the traced one.
4. Eager reference: on a few rows (one per distinct target, and rows spread over the data) the
   example is run as the eager engine runs it, on plain floats; the tape must give its loss,
   outputs and gradient (``check_against_eager``).
"""

from __future__ import annotations

import dis
import functools
import itertools
import math
import os
import random
import sys
import sysconfig
import types
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

import autograd
from autograd import Value, enable_grad

# Code not looked at: this library (its reads of .data only check values, never choose ops), the
# standard library and installed packages (NumPy's ``ndarray.data`` is no Value's).
_LIBRARY = tuple(
    os.path.dirname(os.path.abspath(m.__file__ or "")) + os.sep for m in (autograd, sys.modules[__package__])
) + tuple(
    os.path.abspath(sysconfig.get_paths()[k]) + os.sep for k in ("stdlib", "platstdlib", "purelib", "platlib")
)
_NUMBERS = {"data", "local_grads"}  # the attributes through which a Value's numbers are read
_STATE_STORES = {"STORE_GLOBAL", "STORE_ATTR", "DELETE_GLOBAL", "DELETE_ATTR"}
_FLOAT_CODE = Value.__float__.__code__


class NotTraceable(ValueError):
    """The model or loss builds a graph the batch tape cannot replay; the message says why."""


# --- 1. reads of the numbers, writes of state, in user code run during the trace ------------------


def _in_library(code: types.CodeType) -> bool:
    name = code.co_filename
    return name.startswith("<frozen") or os.path.abspath(name).startswith(_LIBRARY)


@contextmanager
def watch_calls(*roots: Any) -> Iterator[dict[types.CodeType, list[str]]]:
    """Collect the code of every Python function called outside the library while the block runs,
    and every ``float()`` of a Value made from such code (listed under that caller's code).

    When a profiler is already running (``sys.getprofile()``, e.g. cProfile), it is left alone and
    only the code of ``roots`` themselves (the model's ``__call__``, the loss) is collected, with a
    warning that says so."""
    seen: dict[types.CodeType, list[str]] = {}
    if sys.getprofile() is not None:
        warnings.warn(
            "a profiler is running, so engine='auto' checks only the model's and the loss's own code, "
            "not the functions they call, nor float() of a Value: pass engine='eager' to be sure",
            RuntimeWarning,
            stacklevel=2,
        )
        for root in roots:
            seen.update(dict.fromkeys(_own_code(root), []))
        yield seen
        return
    library: set[types.CodeType] = set()

    def profile(frame: types.FrameType, event: str, arg: Any) -> None:
        code = frame.f_code
        if event != "call" or code in library:
            return
        if code is _FLOAT_CODE:
            caller = frame.f_back
            if caller is not None and not _in_library(caller.f_code):
                where = _where(caller.f_code, caller.f_lineno)
                seen.setdefault(caller.f_code, []).append(f"calls float() on a Value at {where}")
        elif code not in seen:
            if _in_library(code):
                library.add(code)
            else:
                seen[code] = []

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        yield seen
    finally:
        sys.setprofile(previous)


def _own_code(obj: Any) -> list[types.CodeType]:
    """The code of a function, method or callable object outside the library, with the functions
    defined inside it."""
    f = getattr(obj, "__func__", obj)
    if not isinstance(f, types.FunctionType):
        f = vars(type(obj)).get("__call__") if callable(obj) else None
    if not isinstance(f, types.FunctionType) or _in_library(f.__code__):
        return []
    codes, todo = [], [f.__code__]
    while todo:
        code = todo.pop()
        codes.append(code)
        todo += [c for c in code.co_consts if isinstance(c, types.CodeType)]
    return codes


def _where(code: types.CodeType, line: int | None) -> str:
    return f"{os.path.basename(code.co_filename)}:{line} ({code.co_name})"


def findings(seen: dict[types.CodeType, list[str]]) -> list[str]:
    """What in the code collected by ``watch_calls`` could make the graph differ between examples."""
    found = []
    for code, notes in seen.items():
        found += notes + _scan(code)
    return found


def _scan(code: types.CodeType) -> list[str]:
    """Reads of ``.data`` and writes of non-local state in one function's bytecode."""
    found, line = [], code.co_firstlineno
    for ins in dis.get_instructions(code):
        line = ins.positions.lineno if ins.positions and ins.positions.lineno else line
        name = ins.opname
        if name in ("LOAD_ATTR", "LOAD_METHOD") and ins.argval in _NUMBERS:
            found.append(f"reads .{ins.argval} at {_where(code, line)}")
        elif name == "LOAD_CONST" and ins.argval in _NUMBERS:
            found.append(f"names {ins.argval!r} at {_where(code, line)}")
        elif name in _STATE_STORES or (name == "STORE_DEREF" and ins.argval in code.co_freevars):
            found.append(f"writes {ins.argval!r} outside its locals at {_where(code, line)}")
    return found


class UsedAsNumber(BaseException):
    """A ``Placeholder`` was used as a number by code outside the library (internal to the checks).
    A BaseException, so that a user's ``except Exception`` around the comparison cannot hide it."""


class Placeholder(Value):
    """An input or target while a graph is built for the checks. The eager engine passes a plain
    float there; code outside the library that compares this Value (``==``, ``<``, ``in``), tests
    its truth, hashes it, or makes an int, an index or a rounded number of it raises UsedAsNumber,
    naming the file and line: on a Value such code takes another path than on the float (``==`` is
    identity, ``<`` a TypeError). The library's own code gets Value's behaviour."""

    __slots__ = ("role",)

    def __init__(self, data: float, role: str) -> None:
        super().__init__(data)
        self.role = role  # "the input x[0]", "the target t[1]"


def _number_use(name: str, how: str, default: Callable[..., Any]) -> Callable[..., Any]:
    def method(self: Placeholder, *args: Any) -> Any:
        caller = sys._getframe(1)
        if _in_library(caller.f_code):
            return default(self, *args)
        raise UsedAsNumber(f"{how.format(self.role)} at {_where(caller.f_code, caller.f_lineno)}")

    method.__name__ = method.__qualname__ = name
    return method


def _unordered(self: Value, other: Any) -> Any:
    return NotImplemented


def _no_number(self: Value, *args: Any) -> Any:
    raise TypeError("a Value is not a plain number: use its arithmetic, or .data")


for _name, _how, _default in (
    ("__eq__", "compares {} with == (or in)", object.__eq__),
    ("__ne__", "compares {} with !=", object.__ne__),
    ("__lt__", "compares {} with <", _unordered),
    ("__le__", "compares {} with <=", _unordered),
    ("__gt__", "compares {} with >", _unordered),
    ("__ge__", "compares {} with >=", _unordered),
    ("__bool__", "tests the truth of {}", lambda self: True),
    ("__hash__", "hashes {} (a dict key or set member)", object.__hash__),
    ("__int__", "makes an int of {}", _no_number),
    ("__index__", "uses {} as an index", _no_number),
    ("__round__", "rounds {}", _no_number),
    ("__trunc__", "truncates {}", _no_number),
    ("__floor__", "takes the floor of {}", _no_number),
    ("__ceil__", "takes the ceiling of {}", _no_number),
):
    setattr(Placeholder, _name, _number_use(_name, _how, _default))


def placeholders(numbers: Sequence[float], name: str, role: str) -> list[Value]:
    """One Placeholder per number: ``placeholders(x, "x", "input")`` holds "the input x[i]"."""
    return [Placeholder(v, f"the {role} {name}[{i}]") for i, v in enumerate(numbers)]


# --- 2. what the model and loss can reach -------------------------------------------------------------

_ATOMS = (type(None), bool, int, float, complex, str, bytes)
_OPAQUE = (types.ModuleType, type, types.BuiltinFunctionType)


def fingerprint(obj: Any, params: Iterable[Value] = ()) -> Any:
    """A hashable summary of obj and what it reaches: numbers and strings by value, modules and
    classes by identity, containers and attributes recursively (10 levels). A Value is summarised
    by identity, and by its number too unless it is one of ``params`` (whose numbers training
    changes): a constant the graph reads is part of the state. Two equal fingerprints mean the
    graph-building code saw the same state."""
    return _Fingerprint({id(p) for p in params}).of(obj, 10)


class _Fingerprint:
    def __init__(self, params: set[int]) -> None:
        self.params = params
        self.seen: set[int] = set()

    def value(self, v: Value) -> Any:
        return id(v) if id(v) in self.params else (id(v), v.data)

    def of(self, obj: Any, depth: int) -> Any:
        if isinstance(obj, _ATOMS):
            return obj
        if type(obj) is Value:
            return ("Value", self.value(obj))
        stateful = _stateful(obj)
        if stateful is not None:
            return ("state", id(stateful), self.of(_state_of(stateful), depth))
        if isinstance(obj, _OPAQUE) or depth == 0 or id(obj) in self.seen:
            return ("id", id(obj))
        self.seen.add(id(obj))
        try:
            return self.parts(obj, lambda x: self.of(x, depth - 1))
        finally:
            self.seen.discard(id(obj))

    def parts(self, obj: Any, fp: Callable[[Any], Any]) -> Any:
        if isinstance(obj, (list, tuple)) and all(type(v) is Value for v in obj):  # fast: a layer's weights
            return (type(obj).__name__, "values", tuple(map(self.value, obj)))
        if isinstance(obj, (list, tuple, set, frozenset)):
            items = sorted(obj, key=id) if isinstance(obj, (set, frozenset)) else obj
            return (type(obj).__name__, tuple(map(fp, items)))
        if isinstance(obj, dict):
            return ("dict", tuple((fp(k), fp(v)) for k, v in obj.items()))
        if isinstance(obj, np.ndarray):
            return ("array", obj.shape, obj.tobytes() if obj.size <= 4096 else id(obj))
        if isinstance(obj, types.MethodType):
            return ("method", fp(obj.__func__), fp(obj.__self__))
        if isinstance(obj, types.FunctionType):
            return _function_parts(obj, fp)
        if isinstance(obj, functools.partial):
            return ("partial", fp(obj.func), fp(obj.args), fp(obj.keywords))
        return _object_parts(obj, fp)


def _object_parts(obj: Any, fp: Callable[[Any], Any]) -> Any:
    """An object's attributes (``__dict__`` and slots), and for a callable object defined outside
    the library, its ``__call__`` (whose globals may hold a loss class's counter)."""
    parts: dict[str, Any] = dict(getattr(obj, "__dict__", {}))
    for cls in type(obj).__mro__:
        for slot in getattr(cls, "__slots__", ()):
            if slot not in ("__dict__", "__weakref__") and hasattr(obj, slot):
                parts[slot] = getattr(obj, slot)
    attributes = tuple((k, fp(v)) for k, v in parts.items())
    call = vars(type(obj)).get("__call__") if callable(obj) else None
    if not isinstance(call, types.FunctionType) or _in_library(call.__code__):
        return (id(type(obj)), attributes)
    return (id(type(obj)), attributes, fp(call))


def _function_parts(f: types.FunctionType, fp: Callable[[Any], Any]) -> Any:
    """A function's code, defaults, closure cells, and the globals its code names (not modules,
    classes or other functions: their code is not state)."""
    cells = tuple(fp(c.cell_contents) if _filled(c) else None for c in f.__closure__ or ())
    names = (n for n in f.__code__.co_names if n in f.__globals__)
    data = tuple((n, fp(f.__globals__[n])) for n in names if _is_data(f.__globals__[n]))
    return ("function", id(f.__code__), fp(f.__defaults__), cells, data)


def _filled(cell: types.CellType) -> bool:
    try:
        return cell.cell_contents is not _EMPTY
    except ValueError:  # an empty cell (a closure variable not assigned yet)
        return False


_EMPTY = object()


def _is_data(x: Any) -> bool:
    return _stateful(x) is not None or not isinstance(x, (*_OPAQUE, types.FunctionType, types.MethodType))


# State kept in C, invisible in attributes: random generators, and a counter (a draw or next()
# changes it). A method bound to one (``rng.random``) stands for its generator.
_STATEFUL = (
    random.Random,
    np.random.Generator,
    np.random.BitGenerator,
    np.random.RandomState,
    itertools.count,
)


def _stateful(x: Any) -> Any:
    if isinstance(x, (types.BuiltinMethodType, types.MethodType)):
        x = getattr(x, "__self__", None)
    return x if isinstance(x, _STATEFUL) else None


_DRAWS = itertools.count()


def _state_of(x: Any) -> Any:
    if isinstance(x, random.SystemRandom):  # no state to compare: never the same twice
        return ("unknowable", next(_DRAWS))
    if isinstance(x, random.Random):
        return x.getstate()
    if isinstance(x, np.random.Generator):
        return x.bit_generator.state
    if isinstance(x, np.random.BitGenerator):
        return x.state
    if isinstance(x, np.random.RandomState):
        return x.get_state(legacy=False)
    return repr(x)  # itertools.count shows its next number: count(5)


def random_states() -> tuple:
    """The state of Python's global ``random`` and of NumPy's global ``np.random`` (a draw changes it)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    return random.getstate(), (kind, np.asarray(keys).tobytes(), pos, has_gauss, cached)


# --- 3. the graphs of other examples ------------------------------------------------------------------


def signature(roots: Sequence[Value], placeholders: Sequence[Value], params: Sequence[Value]) -> tuple:
    """The graph's ops, wiring and constants, with the example's own numbers left out: two
    examples the tape can share a graph for have equal signatures."""
    names: dict[int, tuple[str, Any]] = {id(v): ("x", i) for i, v in enumerate(placeholders)}
    names.update({id(p): ("p", i) for i, p in enumerate(params)})
    order = autograd.topological_order(list(roots))[::-1]
    index = {id(v): i for i, v in enumerate(order)}
    out: list[tuple[Any, ...]] = []
    for v in order:
        if v.parents:
            out.append((v.op, tuple(index[id(p)] for p in v.parents)))
        else:
            out.append(names.get(id(v), ("c", v.data)))
    return tuple(out), tuple(index[id(r)] for r in roots)


# --- 4. what the eager engine computes --------------------------------------------------------------

MAX_TARGET_ROWS = 10  # rows picked for distinct targets (a class each, or spread over the values)
SPREAD_ROWS = 5  # rows spread evenly over the data


def reference_rows(first: int, rows: Sequence[int], T: np.ndarray | None) -> list[int]:
    """The rows (of ``rows``, the usable ones) the tape is checked on against the eager engine, at
    most 1 + MAX_TARGET_ROWS + SPREAD_ROWS: the traced row; the first row of each distinct target,
    so that a branch on the class is seen (with more distinct targets than MAX_TARGET_ROWS, rows
    spread over their sorted values, smallest and largest included); rows spread over the data."""
    picks = [first]
    if T is not None:
        _, firsts = np.unique(T[list(rows)], axis=0, return_index=True)
        if len(firsts) > MAX_TARGET_ROWS:
            firsts = firsts[np.linspace(0, len(firsts) - 1, MAX_TARGET_ROWS).round().astype(int)]
        picks += [rows[k] for k in sorted(firsts.tolist())]
    picks += [rows[int(k)] for k in np.linspace(0, len(rows) - 1, SPREAD_ROWS).round()]
    return list(dict.fromkeys(picks))


def check_against_eager(
    tape: autograd.Tape,
    example: Callable[..., list[Value]],
    X: np.ndarray,
    T: np.ndarray | None,
    rows: Sequence[int],
) -> None:
    """The tape must give what the eager engine computes on ``rows``: each row's loss (or first
    output) and outputs, and the gradient of their sum. The eager engine passes an example as
    plain floats, so a path chosen on them (``t[0] == 1``, ``isinstance(t[0], float)``) shows here
    as other numbers. Rows whose numbers fail eagerly (log of a negative) are left to ``fit``,
    which reports them by row; other errors are the eager engine's own and propagate."""
    built = []
    for i in rows:
        try:
            with enable_grad():
                roots = example(X[i].tolist()) if T is None else example(X[i].tolist(), T[i].tolist())
        except (ArithmeticError, ValueError):
            continue
        built.append((i, roots))
    if not built:
        return
    picked = [i for i, _ in built]
    try:
        got = tape.forward(X[picked], None if T is None else T[picked]).tolist()
    except (ArithmeticError, ValueError) as e:
        raise NotTraceable(
            f"the tape fails on examples {picked}, where the eager engine does not ({e}): {_DEPENDS}"
        ) from None
    for row, (i, roots) in zip(got, built):
        eager = [r.data for r in roots]
        if len(row) != len(eager) or not all(map(_close, row, eager)):
            raise NotTraceable(f"on example {i} the tape gives {row}, the eager engine {eager}: {_DEPENDS}")
    _check_gradient(tape, picked, [roots[0] for _, roots in built])


_DEPENDS = (
    "the graph depends on the data (the eager engine passes the inputs and targets as plain numbers, "
    "the tape replays the graph of one example)"
)


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) or (a != a and b != b)


def _check_gradient(tape: autograd.Tape, picked: list[int], losses: list[Value]) -> None:
    """The tape's gradient of the summed loss over the last forward's rows must be the eager one."""
    grads = autograd.gradients(autograd.sum(losses))
    eager = np.array([grads.get(p, 0.0) for p in tape.params], dtype=float)
    if not np.isfinite(eager).all():  # fit reports a non-finite gradient as TrainingDiverged
        return
    got = np.zeros(len(tape.params))
    try:
        tape.backward(scale=1.0, out=got)
    except (ArithmeticError, ValueError) as e:
        raise NotTraceable(
            f"the tape's gradient fails on examples {picked}, where the eager engine's does not ({e}): "
            + _DEPENDS
        ) from None
    scale = max(1.0, float(np.abs(eager).max(initial=0.0)))
    if not np.allclose(got, eager, rtol=1e-7, atol=1e-9 * scale):
        k = int(np.argmax(np.abs(got - eager)))
        raise NotTraceable(
            f"on examples {picked} the tape's gradient for parameter {k} is {float(got[k])!r}, the eager "
            f"engine's {float(eager[k])!r}: {_DEPENDS}"
        )
