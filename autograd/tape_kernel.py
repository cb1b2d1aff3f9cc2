"""The tape's optional compiled kernel: a wide block's member-by-member groups as one loop in
machine code (numba), with the GIL released, so the blocks of a batch run on every core.

Without it, a wide block runs each member of those groups as a NumPy call of its own
(``tape_groups.by_rows``): about a microsecond of Python per node and per block, holding the GIL, so
two threads ran West's graph slower than one. With numba installed (``pip install chainrule[fast]``)
the tape compiles, once per process, a forward and a backward loop over a small program, a row per
member: the op, its output row and its input rows. The rules are the table's own: each op's ufunc
forward and its ``local`` rule, compiled by numba as they are written in ``ops.py``. An op whose rule
numba cannot compile (one that checks types, as ``abs``'s ``sign`` does) stays with NumPy, and
``kernel_ops()`` lists those that are compiled.

A graph the kernel runs whole (every batch group an elementwise op it compiles) also runs forward
and backward in one pass (``Tape.forward_backward``): ``tiled_programs`` rewrites the programs for
a tile of ``TILE`` examples (a tile's rows, static rows copied in, gradient rows reused once a
node's gradient is passed on) and ``run_tiled`` runs a block tile by tile, each tile's forward then
its backward, so its values stay in the cache and none is kept.

Numbers: + - * / and the sums' left-to-right adds give NumPy's bits; exp, log and tanh come from the
C library, not NumPy's SIMD loops, and may differ from the NumPy path in the last place (within the
tape's stated bound); a static input's gradient adds its block's examples left to right, not
pairwise. Each example's numbers depend only on the block it is in, never on the threads.

Compiling takes a few seconds. The kernel's source is generated once per machine into a file named
by a hash of what it is made from (``$CHAINRULE_CACHE``, else ``~/.cache/chainrule``), so numba's
own cache, beside it, keeps the machine code and a later process loads it in well under a second
(numba's cache is a pickle of numba's own making, in the user's cache directory, as Python's own
``__pycache__`` is; no data of anyone else's is ever loaded with it).
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import importlib.util
import os
import shutil
import sys
import tempfile
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple, cast

import numpy as np

from . import kernel_math
from .ops import OPS, Op
from .tape_groups import Elementwise, Group, Writes
from .tape_rows import Place

__all__ = [
    "KERNEL_WHY_NOT",
    "TILE",
    "Tiled",
    "available",
    "bind_segment",
    "compile",
    "could_tile",
    "kernel_ops",
    "not_compiled",
    "programs",
    "runs",
    "run_tiled",
    "tiled_programs",
    "tiles",
]

KERNEL_WHY_NOT = "numba is not installed (pip install chainrule[fast])"
TILE = 32  # examples per tile of a forward and backward in one pass (run_tiled): West at 10k x 10k was
# 1.45x the floor at 16, 0.97x at 32, 0.97x at 64 on one thread; 0.74x, 0.57x, 0.67x on two (two
# tiles of 64 outgrow the shared cache)
_IDENTITY = "identity"  # the backward of a sum's input: d out / d input = 1 (sum's local rule)
# the program's columns: op code, output row, then per input (a, b): row, static?, wanted?, stores?
CODE, OUT, A, A_STATIC, A_WANTED, A_STORES, B, B_STATIC, B_WANTED, B_STORES = range(10)
_VECTORIZABLE = {"exp": kernel_math.exp, "log": kernel_math.log}  # for the C library's, one at a time
_lock = threading.Lock()
_compiled: dict[str, Any] = {}


@functools.cache
def available() -> bool:
    """Whether numba is importable (it is only imported when a kernel is first compiled); asked
    once per process (finding a module costs 40 µs, a small training step's worth)."""
    return importlib.util.find_spec("numba") is not None


def compile() -> None:
    """Compile the kernel now, for this process (else the first wide batch does; a few seconds the
    first time on a machine, then loaded from the cache)."""
    k = _kernel()
    prog, V, S, row = np.zeros((0, 10), np.int64), np.zeros((1, 1)), np.zeros((1, 1)), np.zeros(1)
    k["forward"](prog, V, S, row, row)
    k["backward"](prog, V, S, V, S, row, row, row, row)
    f, b, statics, wanted = (np.zeros(shape, np.int32) for shape in ((0, 4), (0, 7), (0,), (0, 2)))
    empty = Tiled(f, b, statics, wanted, 1, 1)  # of the types tiled_programs gives
    run_tiled(empty, V, S, np.zeros((1, 0)), np.zeros(0, np.int64), 1.0, S.copy())


def kernel_ops() -> dict[str, int]:
    """The ops the kernel runs, by name, with their codes (compiling the kernel on first call)."""
    return _kernel()["codes"]


def not_compiled() -> dict[str, str]:
    """The ops a wide block runs member by member that the kernel leaves to NumPy, with numba's
    reason (their rules check types, which numba cannot compile)."""
    return _kernel()["not_compiled"]


def runs(group: Elementwise) -> bool:
    """Whether the kernel runs this member-by-member group (its op is one it compiled)."""
    codes, op = kernel_ops(), group.op
    return (op.fold is not None and "sum" in codes) or (op.name in codes and group.n == op.arity)


def _candidates() -> list[Op]:
    """The ops a wide block runs member by member (``Op.ufunc`` ops of one or two inputs)."""
    return [op for op in OPS.values() if op.ufunc() is not None and op.arity in (1, 2)]


def _why_not_compiled(numba: Any, op: Op) -> str | None:
    """Why numba cannot compile an op's forward (its ufunc) or its local rule, or None if it can:
    each is compiled here, once, to find out (the kernel's module then compiles them in its loops)."""
    f64 = numba.float64
    args = (f64,) * op.arity
    ufunc = op.ufunc()
    assert ufunc is not None  # _candidates
    try:
        jit = numba.njit(error_model="numpy")  # x / 0 is inf or NaN, as in NumPy, not an exception
        if op.name in _VECTORIZABLE:
            fwd = jit(_VECTORIZABLE[op.name])
        else:
            fwd = jit((lambda a: ufunc(a)) if op.arity == 1 else (lambda a, b: ufunc(a, b)))
        fwd.compile(args)
        jit(op.local).compile((*args, f64))
    except numba.core.errors.NumbaError as e:  # the op stays with NumPy, and kernel_used says so
        return str(e).strip().splitlines()[0]
    return None


_SOURCE = """
@loop
def forward(prog, V, S, xa, xb):
    for r in range(prog.shape[0]):
        code = prog[r, 0]
        o = V[prog[r, 1]]
        a = V[prog[r, 2]] if prog[r, 3] == 0 else _fill(xa, S[prog[r, 2], 0])
        b = a if prog[r, 6] < 0 else (V[prog[r, 6]] if prog[r, 7] == 0 else _fill(xb, S[prog[r, 6], 0]))
{forward}

@loop
def backward(prog, V, S, GV, GS, xa, xb, da, db):
    for r in range(prog.shape[0]):
        code = prog[r, 0]
        o, g = V[prog[r, 1]], GV[prog[r, 1]]
        a = V[prog[r, 2]] if prog[r, 3] == 0 else _fill(xa, S[prog[r, 2], 0])
        b = a if prog[r, 6] < 0 else (V[prog[r, 6]] if prog[r, 7] == 0 else _fill(xb, S[prog[r, 6], 0]))
{backward}
        if prog[r, 4]:
            _write(da, prog[r, 2], prog[r, 3], prog[r, 5], GV, GS)
        if prog[r, 8]:
            _write(db, prog[r, 6], prog[r, 7], prog[r, 9], GV, GS)
"""

_HELPERS = """
@jit
def _fill(buf, x):
    buf[:] = x
    return buf

@jit
def _write(d, row, static, stores, GV, GS):
    if static:
        total = 0.0
        for j in range(d.shape[0]):
            total += d[j]
        GS[row, 0] = total if stores else GS[row, 0] + total
    elif stores:
        GV[row, :] = d
    else:
        t = GV[row]
        for j in range(d.shape[0]):
            t[j] += d[j]
"""


_TILED_SOURCE = """
@jit
def _tile_forward(prog, V, w):
    for r in range(prog.shape[0]):
        code, o, a, b = prog[r, 0], prog[r, 1], prog[r, 2], prog[r, 3]
{forward}

@jit
def _tile_backward(prog, V, GV, w):
    for r in range(prog.shape[0]):
        code, o, a, b = prog[r, 0], prog[r, 1], prog[r, 2], prog[r, 3]
        go, ta, tb = prog[r, 4], prog[r, 5], prog[r, 6]
{backward}

@loop
def tiled(fprog, bprog, X, V, GV, S, statics, wanted, out, out_rows, scale, GS):
    first = V.shape[0] - statics.shape[0]
    for s in range(statics.shape[0]):
        for j in range(V.shape[1]):
            V[first + s, j] = S[statics[s], 0]
    for c in range(0, X.shape[1], V.shape[1]):
        w = min(V.shape[1], X.shape[1] - c)
        for i in range(X.shape[0]):
            for j in range(w):
                V[i, j] = X[i, c + j]
        _tile_forward(fprog, V, w)
        for k in range(out_rows.shape[0]):
            for j in range(w):
                out[c + j, k] = V[out_rows[k], j]
        for j in range(w):
            GV[0, j] = scale  # the loss's gradient row (tiled_programs)
        _tile_backward(bprog, V, GV, w)
        for s in range(wanted.shape[0]):
            total = 0.0
            for j in range(w):
                total += GV[wanted[s, 0], j]
            GS[wanted[s, 1], 0] += total
"""
# How a tiled backward row writes each input's gradient, in its code (``tiled_code``): not at all,
# storing, or adding. One branch per op and pair of modes, each writing straight into its rows:
# a scratch row and a second loop to store or add it cost West a quarter of its pass.
SKIP, STORE, ADD = range(3)


def tiled_code(code: int, a: int, b: int) -> int:
    """A tiled backward row's code: the op's, with how it writes input a's and b's gradients."""
    return 9 * code + 3 * a + b


def _tiled_branches(codes: dict[str, int], arity: dict[str, int]) -> tuple[str, str]:
    """The tiled loops' bodies: as ``_branches``, every input a row of the tile (2-D indexing, no
    views); backward has a branch per op and write modes (``tiled_code``), none for writing nothing."""
    fwd: list[str] = []
    bwd: list[str] = []
    write = {STORE: "=", ADD: "+="}
    for name, c in codes.items():
        args = "V[a, j]" if arity[name] == 1 else "V[a, j], V[b, j]"
        word = "if" if not fwd else "elif"
        value = "V[a, j]" if name == _IDENTITY else f"F{c}({args})"
        fwd.append(
            f"        {word} code == {c}:\n            for j in range(w):\n                V[o, j] = {value}"
        )
        if name == _IDENTITY:
            local, da, db = ["g = GV[go, j]"], "g", ""
        elif arity[name] == 1:
            local, da, db = [], f"L{c}({args}, V[o, j])[0] * GV[go, j]", ""
        else:
            local, da, db = [f"d = L{c}({args}, V[o, j])", "g = GV[go, j]"], "d[0] * g", "d[1] * g"
        for ma in (SKIP, STORE, ADD):
            for mb in (SKIP, STORE, ADD) if arity[name] == 2 else (SKIP,):
                if ma == mb == SKIP:
                    continue  # a row that writes nothing is left out of the program
                body = local + ([f"GV[ta, j] {write[ma]} {da}"] if ma else [])
                body += [f"GV[tb, j] {write[mb]} {db}"] if mb else []
                lines = "".join(f"\n                {line}" for line in body)
                head = f"        {'if' if not bwd else 'elif'} code == {tiled_code(c, ma, mb)}:"
                bwd.append(f"{head}\n            for j in range(w):{lines}")
    return "\n".join(fwd), "\n".join(bwd)


def _branches(codes: dict[str, int], arity: dict[str, int]) -> tuple[str, str]:
    """The forward and backward loop bodies, one ``if code ==`` branch per op."""
    fwd: list[str] = []
    bwd: list[str] = []
    for name, c in codes.items():
        args = "a[j]" if arity[name] == 1 else "a[j], b[j]"
        word = "if" if not fwd else "elif"
        if name == _IDENTITY:  # a sum of one input
            fwd.append(f"        {word} code == {c}:\n            o[:] = a")
        else:
            fwd.append(
                f"        {word} code == {c}:\n            for j in range(o.shape[0]):\n"
                f"                o[j] = F{c}({args})"
            )
        if name == _IDENTITY:
            body = "            da[:] = g"
        elif arity[name] == 1:
            body = (
                "            for j in range(o.shape[0]):\n"
                f"                da[j] = L{c}({args}, o[j])[0] * g[j]"
            )
        else:
            body = (
                "            for j in range(o.shape[0]):\n"
                f"                d = L{c}({args}, o[j])\n"
                "                da[j] = d[0] * g[j]\n                db[j] = d[1] * g[j]"
            )
        bwd.append(f"        {'if' if not bwd else 'elif'} code == {c}:\n{body}")
    return "\n".join(fwd), "\n".join(bwd)


def _kernel() -> dict[str, Any]:
    """The kernel, compiled once per process; its source is written once per machine (see ``_module``)
    so that numba's cache keeps the machine code: a later process loads it instead of compiling."""
    with _lock:
        if not _compiled:
            module = _module()
            _compiled.update(
                codes=module.CODES,
                not_compiled=module.NOT_COMPILED,
                forward=module.forward,
                backward=module.backward,
                tiled=module.tiled,
            )
        return _compiled


def _generate(numba: Any) -> str:
    """The kernel's module: which ops numba compiles (tried one by one), their rules, the loops."""
    codes: dict[str, int] = {}
    arity: dict[str, int] = {}
    not_compiled: dict[str, str] = {}
    rules = []
    for op in _candidates():
        why = _why_not_compiled(numba, op)
        if why is not None:
            not_compiled[op.name] = why
            continue
        c = len(codes)
        codes[op.name], arity[op.name] = c, op.arity
        ufunc = op.ufunc()
        assert ufunc is not None
        args = "a" if op.arity == 1 else "a, b"
        forward = (
            f"F{c} = jit(kernel_math.{op.name})"
            if op.name in _VECTORIZABLE
            else f"@jit\ndef F{c}({args}):\n    return np.{ufunc.__name__}({args})"
        )
        rules.append(f"{forward}\n\n\nL{c} = jit(OPS[{op.name!r}].local)")
    codes["sum"] = codes.get("+", -1)  # a sum folds with +'s forward
    codes[_IDENTITY], arity[_IDENTITY] = len(codes), 1
    loops = {k: v for k, v in codes.items() if k != "sum"}
    forward_body, backward_body = _branches(loops, arity)
    tiled_forward, tiled_backward = _tiled_branches(loops, arity)
    kept = {k: v for k, v in codes.items() if v >= 0}
    return "\n\n".join(
        [
            _PREAMBLE.format(codes=kept, not_compiled=not_compiled),
            *rules,
            _HELPERS,
            _SOURCE.format(forward=forward_body, backward=backward_body),
            _TILED_SOURCE.format(forward=tiled_forward, backward=tiled_backward),
        ]
    )


def _module() -> Any:
    """Import the kernel's generated module, writing it first if this machine has not yet: a file
    named by a hash of what it is made from (numba's version and the sources of ops.py,
    kernel_math.py and this module), in ``$CHAINRULE_CACHE`` or ``~/.cache/chainrule`` (a temporary
    directory, without the cache, where neither can be written)."""
    import numba

    here = Path(__file__).parent
    made_from = [numba.__version__, np.__version__] + [
        (here / name).read_text(encoding="utf-8") for name in ("ops.py", "kernel_math.py", "tape_kernel.py")
    ]
    digest = hashlib.sha256("\0".join(made_from).encode()).hexdigest()[:16]
    path = _cache_dir() / f"chainrule_kernel_{digest}.py"
    if not path.exists():
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(_generate(numba), encoding="utf-8")
        os.replace(partial, path)  # whole or not at all, for a process reading it meanwhile
    spec = importlib.util.spec_from_file_location(f"chainrule_kernel_{digest}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # numba's cache finds the module of its functions by name
    spec.loader.exec_module(module)
    return module


def _cache_dir() -> Path:
    home = (
        os.environ.get("CHAINRULE_CACHE")
        or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "chainrule"
    )
    path = Path(home)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".probe{os.getpid()}"
        probe.write_text("")
        probe.unlink()
        return path
    except OSError as e:
        warnings.warn(
            f"chainrule: the compiled kernel's cache {path} cannot be written ({e}); it is compiled "
            "into a temporary directory, again in every process (set CHAINRULE_CACHE to a writable one)",
            RuntimeWarning,
            stacklevel=2,
        )
        temporary = tempfile.mkdtemp(prefix="chainrule-kernel-")
        atexit.register(shutil.rmtree, temporary, True)
        return Path(temporary)


_PREAMBLE = """# The tape's compiled kernel, written by autograd/tape_kernel.py from the table of primitives.
import numba
import numpy as np

from autograd import kernel_math
from autograd.ops import OPS

CODES = {codes!r}
NOT_COMPILED = {not_compiled!r}
jit = numba.njit(error_model="numpy")  # x / 0 is inf or NaN, as in NumPy, not an exception
loop = numba.njit(nogil=True, error_model="numpy", cache=True)"""


def _row(code: int, out: int, a: Place, b: Place | None = None) -> list[int]:
    row = [code, out, a.row, a.static, 0, 0, -1, 0, 0, 0]
    if b is not None:
        row[B], row[B_STATIC] = b.row, b.static
    return row


def programs(groups: Sequence[Elementwise], writes: Sequence[Writes]) -> tuple[np.ndarray, np.ndarray]:
    """The forward and backward programs of consecutive member-by-member groups (``Elementwise``
    on the loss's path) with their write plans: forward in the groups' order, backward in reverse,
    each group's members in order, storing or adding as the plan says (``plan_wide_writes``)."""
    codes = kernel_ops()
    forward: list[list[int]] = []
    backward: list[list[list[int]]] = []
    for g, w in zip(groups, writes):
        stores = iter(w.stores)
        rows: list[list[int]] = []
        places = g.member_places()
        # a group off the loss's path writes no gradient (its backward rows are dropped below)
        edges_of = g.member_writes(places) if g.on_loss_path else [[] for _ in places]
        for m, (ps, edges) in enumerate(zip(places, edges_of)):
            out = g.out.start + m
            if g.op.fold is not None:
                if len(ps) == 1:
                    forward.append(_row(codes[_IDENTITY], out, ps[0]))
                else:
                    forward.append(_row(codes["sum"], out, ps[0], ps[1]))
                    forward += [_row(codes["sum"], out, Place(False, out), p) for p in ps[2:]]
                for _, p in edges:
                    row = _row(codes[_IDENTITY], out, p)
                    row[A_WANTED], row[A_STORES] = 1, next(stores)
                    rows.append(row)
                continue
            row = _row(codes[g.op.name], out, *ps)
            forward.append(list(row))
            for i, _ in edges:
                row[A_WANTED + 4 * i], row[A_STORES + 4 * i] = 1, next(stores)
            rows.append(row)
        if g.on_loss_path:
            backward.append(rows)
    back = [r for rows in reversed(backward) for r in rows]
    as_array = lambda rows: np.array(rows, dtype=np.int64).reshape(-1, 10)  # noqa: E731
    return as_array(forward), as_array(back)


def bind_segment(
    groups: Sequence[Elementwise],
    writes: Sequence[Writes],
    V: np.ndarray,
    S: np.ndarray,
    GV: np.ndarray,
    GS: np.ndarray,
    scratch: np.ndarray,
) -> tuple[Any, Any]:
    """The forward and backward steps of consecutive member-by-member groups, run by the kernel
    over one block's buffers (``scratch``: four rows of the block's width, its own)."""
    k = _kernel()
    fwd_program, bwd_program = programs(groups, writes)
    run_forward, run_backward = k["forward"], k["backward"]
    xa, xb, da, db = scratch

    def forward() -> None:
        run_forward(fwd_program, V, S, xa, xb)

    def backward() -> None:
        run_backward(bwd_program, V, S, GV, GS, xa, xb, da, db)

    return forward, backward


def could_tile(group: Group) -> bool:
    """Whether a tiled pass might run this group, asked without compiling: an elementwise batch
    group of an op with a ufunc or a fold (``tiles`` then asks the kernel)."""
    return (
        isinstance(group, Elementwise)
        and not group.is_static
        and (group.op.ufunc() is not None or group.op.fold is not None)
    )


def tiles(group: Group) -> bool:
    """Whether a tiled pass (``run_tiled``) runs this group: an elementwise batch group the kernel runs."""
    return could_tile(group) and runs(cast(Elementwise, group))


class Tiled(NamedTuple):
    """A whole graph's batch groups as one pass over tiles of examples (``tiled_programs``): a tile
    holds the batch rows and then a copy of each static row read (``statics``), its gradient rows
    are reused once a node's gradient has been passed on (``n_grad_rows`` of them, the loss's first),
    and ``wanted`` pairs a tile's gradient row with the row of S whose gradient it adds to."""

    forward: np.ndarray  # (rows, 4): op code, output row, input rows a and b (-1: none)
    backward: np.ndarray  # (rows, 7): code (tiled_code), rows of out, a, b, then gradient rows of out, a, b
    statics: np.ndarray
    wanted: np.ndarray
    n_rows: int
    n_grad_rows: int


def tiled_programs(
    groups: Sequence[Elementwise], writes: Sequence[Writes], n_batch_rows: int, root: int
) -> Tiled:
    """The programs of a tiled pass over the batch groups (every one ``tiles``), with the write plan
    that runs them all member by member (``plan_wide_writes``); ``root``: the loss's batch row.
    A gradient row is given out at its node's first write (a store, by the plan) and taken back
    after the node's last backward row has read it, so a tile holds the gradients alive at once,
    not one per node."""
    fwd, bwd = programs(groups, writes)
    cols = ((A, A_STATIC), (B, B_STATIC))
    statics = np.unique(np.concatenate([p[p[:, st] == 1, r] for p in (fwd, bwd) for r, st in cols]))
    slot = {r: n_batch_rows + i for i, r in enumerate(statics.tolist())}
    row = lambda r, static: slot[r] if static else r  # noqa: E731
    forward = [
        (c, o, row(a, sa), row(b, sb) if b >= 0 else -1) for c, o, a, sa, _, _, b, sb, _, _ in fwd.tolist()
    ]
    last_read = {o: r for r, o in enumerate(bwd[:, OUT].tolist())}
    given, n_grad = {root: 0}, 1
    free: list[int] = []  # gradient rows handed back, to give out again
    wanted: dict[int, tuple[int, int]] = {}
    backward = []
    for r, (c, o, a, sa, wa, ta, b, sb, wb, tb) in enumerate(bwd.tolist()):
        if o not in given:  # no gradient reaches it: nothing it is computed from depends on a parameter
            continue  # (an n-ary sum still lists its inputs as wanted); what it would write is wanted by none
        grads, modes = [], []
        for at, static, want, store in ((a, sa, wa, ta), (b, sb, wb, tb)):
            key = row(at, static)
            if want and key not in given:  # the node's first gradient write stores (the plan's, or
                given[key] = free.pop() if free else n_grad  # the first after a row skipped above)
                n_grad += 0 if given[key] < n_grad else 1
                store = 1
                if static:
                    wanted[key] = (given[key], at)
            grads.append(given[key] if want else 0)
            modes.append((STORE if store else ADD) if want else SKIP)
        if modes != [SKIP, SKIP]:  # a row that writes nothing is left out
            code = tiled_code(c, *modes)
            backward.append((code, o, row(a, sa), row(b, sb) if b >= 0 else -1, given[o], *grads))
        if last_read[o] == r:
            free.append(given.pop(o))
    # int32: every tile reads the whole program, and half the bytes ran West 2-13% faster
    as_array = lambda rows, n: np.array(rows, dtype=np.int32).reshape(-1, n)  # noqa: E731
    return Tiled(
        as_array(forward, 4),
        as_array(backward, 7),
        statics.astype(np.int32),
        as_array(sorted(wanted.values()), 2),
        n_batch_rows + len(statics),
        n_grad,
    )


def run_tiled(
    program: Tiled,
    X: np.ndarray,
    S: np.ndarray,
    out: np.ndarray,
    out_rows: np.ndarray,
    scale: float,
    GS: np.ndarray,
) -> None:
    """Forward and backward of one block in one pass over tiles of ``TILE`` examples: ``X`` (its
    inputs and targets, one row each, one column per example), ``out`` (examples x outputs) gets
    the rows ``out_rows``, and ``GS`` (zeroed) each static row's gradient, summed over the block
    tile by tile. The tile's buffers are all it keeps: a few megabytes, where forward keeps GB."""
    V, GV = np.empty((program.n_rows, TILE)), np.empty((program.n_grad_rows, TILE))
    f, b = program.forward, program.backward
    _kernel()["tiled"](f, b, X, V, GV, S, program.statics, program.wanted, out, out_rows, scale, GS)
