"""Where a tape group's inputs live, and how gradients are written back into them.

The tape keeps every value in one of two buffers, ``V`` (rows x batch: one column per example) and
``S`` (rows x 1: computed once per batch), with gradient buffers ``GV`` and ``GS`` of the same
shapes. A ``Place`` names one row of one of them. ``Index`` is some rows of one buffer (read as a
view when they are consecutive, else gathered; written by assignment, by adding, or by summing
repeated rows first); ``Rows`` is one input of a group, whose members may read from both buffers.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

__all__ = ["Index", "Place", "Rows", "grid_view"]


class Place(NamedTuple):
    """Where a node's value lives: row ``row`` of ``S`` when ``static`` (the same for every example),
    else of ``V`` (one column per example)."""

    static: bool
    row: int


class Index:
    """Some rows of a buffer: a slice when they are consecutive, else an index array. Adding into
    repeated rows sums the repeats with a sorted ``np.add.reduceat`` plan (``np.add.at`` is slow),
    or, when they are all one row (every member reads the same node, as a softmax's max and sum
    are read), with one ``np.add.reduce`` (3x faster than reduceat along the first axis)."""

    def __init__(self, rows: Sequence[int] | np.ndarray):
        # Plain Python on the list first: a tape of 20,000 small groups makes tens of thousands of
        # these, and each NumPy call on a tiny array costs more than the loop it would replace.
        listed = rows.tolist() if isinstance(rows, np.ndarray) else list(rows)
        n = len(listed)
        self.listed: list[int] = listed  # the rows as Python ints, for the layout's plain-Python passes
        self._slice: slice | None  # the rows as a slice, when they are one (else ``key`` is an array)
        if n == 1:  # most groups of a big irregular graph have one member
            self._slice, self.repeats = slice(listed[0], listed[0] + 1), False
            return
        first = listed[0] if n else 0
        step = listed[1] - first if n > 1 else 1
        spaced = (  # evenly spaced upward: a view (step 1: consecutive; more: a layer's biases, say)
            n > 0 and step > 0 and listed[-1] - first == step * (n - 1)
            and (n < 3 or listed == list(range(first, listed[-1] + 1, step)))
        )  # fmt: skip
        self._slice = slice(first, listed[-1] + 1, step) if spaced else None
        self.repeats = not spaced and len(set(listed)) < n

    # The NumPy parts are made when a step is first bound: a group run member by member never needs them.

    @functools.cached_property
    def _grids(self) -> dict[tuple[int, int], tuple[int, int] | None]:
        """``grid``'s answers, made when first asked (only a matrix product's weights are)."""
        return {}

    @functools.cached_property
    def key(self) -> slice | np.ndarray:
        """The rows as a slice (a view) or an index array (a gather)."""
        return self._slice if self._slice is not None else np.array(self.listed, dtype=np.intp)

    @functools.cached_property
    def _sums(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For repeated rows: the order that sorts them, the distinct rows and where each starts."""
        rows = np.array(self.listed, dtype=np.intp)
        order = np.argsort(rows, kind="stable")
        targets, starts = np.unique(rows[order], return_index=True)
        return order, targets, starts

    def grid(self, k: int, n: int) -> tuple[int, int] | None:
        """(start, stride) when these k * n rows, taken as k runs of n, are runs of consecutive rows
        starting every ``stride`` rows (stride >= n): a k x n matrix that is a view of a column
        (``grid_view``), as a layer's weights are when each neuron's weights and bias are stored
        together. Else None."""
        if (k, n) not in self._grids:  # asked at every bind: a big layer's check walks 100k rows
            self._grids[k, n] = self._grid(k, n)
        return self._grids[k, n]

    def _grid(self, k: int, n: int) -> tuple[int, int] | None:
        rows = self.listed
        if len(rows) != k * n or k == 0 or n == 0:
            return None
        start, stride = rows[0], rows[n] - rows[0] if k > 1 else n
        if stride < n or rows != [start + j * stride + i for j in range(k) for i in range(n)]:
            return None
        return start, stride

    def reader(self, buffer: np.ndarray) -> Callable[[], np.ndarray]:
        """A function giving these rows of buffer: a view made once, or a fresh gather."""
        if isinstance(self.key, slice):
            view = buffer[self.key]
            return lambda: view
        key = self.key
        return lambda: buffer[key]

    def target(self, buffer: np.ndarray, store: bool) -> np.ndarray | None:
        """These rows of buffer as a view to write a result into (``out=``), when the write plan says
        this write stores (``store``: it is their only writer) and they are consecutive; else None."""
        return buffer[self.key] if store and isinstance(self.key, slice) else None

    def adder(self, buffer: np.ndarray, store: bool) -> Callable[[np.ndarray], None]:
        """A function adding values (one per row) into these rows of buffer (or, when the write plan
        says this write stores, storing them: the rows were not zeroed)."""
        key = self.key
        if store:

            def add(values: np.ndarray) -> None:
                buffer[key] = values

        elif self.repeats and len(set(self.listed)) == 1:
            row = buffer[self.listed[0] : self.listed[0] + 1]

            def add(values: np.ndarray) -> None:
                np.add(row, np.add.reduce(values, axis=0, keepdims=True), out=row)

        elif self.repeats:
            order, targets, starts = self._sums

            def add(values: np.ndarray) -> None:
                buffer[targets] += np.add.reduceat(values[order], starts, axis=0)

        elif isinstance(key, slice):
            view = buffer[key]

            def add(values: np.ndarray) -> None:
                np.add(view, values, out=view)

        else:

            def add(values: np.ndarray) -> None:
                buffer[key] += values

        return add


class Rows:
    """One input of a group, for each member: a row of V (batch), of S (static), or a mix."""

    def __init__(self, places: Sequence[Place]):
        self.n = len(places)
        self.batch: Index | None
        self.static: Index | None
        if self.n == 1:
            one = Index([places[0].row])
            self.batch, self.static = (None, one) if places[0].static else (one, None)
            return
        statics = [p.static for p in places]
        if not any(statics):
            self.batch, self.static = Index([p.row for p in places]), None
            return
        if all(statics):
            self.batch, self.static = None, Index([p.row for p in places])
            return
        batch = [i for i, s in enumerate(statics) if not s]
        static = [i for i, s in enumerate(statics) if s]
        self.batch = Index([places[i].row for i in batch])
        self.static = Index([places[i].row for i in static])
        self.batch_at, self.static_at = np.array(batch, dtype=np.intp), np.array(static, dtype=np.intp)

    def reader(self, V: np.ndarray, S: np.ndarray) -> Callable[[], np.ndarray]:
        if self.static is None:
            assert self.batch is not None
            return self.batch.reader(V)
        if self.batch is None:
            return self.static.reader(S)
        from_batch, from_static = self.batch.reader(V), self.static.reader(S)
        out, batch_at, static_at = np.empty((self.n, V.shape[1])), self.batch_at, self.static_at

        def read() -> np.ndarray:
            out[batch_at] = from_batch()
            out[static_at] = from_static()
            return out

        return read

    def _spaced(self) -> slice | None:
        """The members' rows as a slice of one buffer, when they are all in one and evenly spaced."""
        one = self.batch if self.static is None else self.static if self.batch is None else None
        return None if one is None else one._slice

    def view(self, V: np.ndarray, S: np.ndarray) -> np.ndarray | None:
        """The members' rows as one view of a buffer (see ``is_view``), or None."""
        rows = self._spaced()
        return None if rows is None else (V if self.static is None else S)[rows]

    def is_view(self) -> bool:
        """Whether the members' rows are read as a view (all in one buffer, evenly spaced), not gathered."""
        return self._spaced() is not None

    def places(self) -> list[Place]:
        """Each member's row, in member order (as the group was built from)."""
        if self.static is None or self.batch is None:
            index, static = (self.batch, False) if self.static is None else (self.static, True)
            assert index is not None
            return [Place(static, r) for r in index.listed]
        out = [Place(False, 0)] * self.n
        for at, index, static in ((self.batch_at, self.batch, False), (self.static_at, self.static, True)):
            for i, r in zip(at.tolist(), index.listed):
                out[i] = Place(static, r)
        return out

    def targets(self) -> list[tuple[bool, Index]]:
        """The gradient rows this input writes in backward: (in the static buffer?, rows)."""
        out = []
        if self.batch is not None:
            out.append((False, self.batch))
        if self.static is not None:
            out.append((True, self.static))
        return out

    def target(self, GV: np.ndarray, stores: Sequence[bool]) -> np.ndarray | None:
        """A view to write the gradient into directly (see ``Index.target``): batch rows only.
        ``stores``: the write plan's word for each of ``targets()``."""
        return self.batch.target(GV, stores[0]) if self.static is None and self.batch is not None else None

    def adder(self, GV: np.ndarray, GS: np.ndarray, stores: Sequence[bool]) -> Callable[[np.ndarray], None]:
        """A function adding each member's gradient contribution to its input's gradient row
        (summed over the batch for static inputs); ``stores`` as for ``target``."""
        if self.static is None:
            assert self.batch is not None
            return self.batch.adder(GV, stores[0])
        to_static = self.static.adder(GS, stores[-1])
        if self.batch is None:
            return lambda grad: to_static(batch_sum(grad))
        to_batch, batch_at, static_at = self.batch.adder(GV, stores[0]), self.batch_at, self.static_at

        def add(grad: np.ndarray) -> None:
            to_batch(grad[batch_at])
            to_static(batch_sum(grad[static_at]))

        return add


def grid_view(column: np.ndarray, start: int, stride: int, k: int, n: int) -> np.ndarray | None:
    """The k x n view of ``column`` (1-D) whose row j is ``column[start + j*stride : ... + n]``, or
    None when it would run past the column's end."""
    if start + k * stride > len(column):
        return None
    return column[start : start + k * stride].reshape(k, stride)[:, :n]


def batch_sum(grad: np.ndarray) -> np.ndarray:
    """A static node's gradient: its contributions summed over the batch's columns."""
    return grad if grad.shape[1] == 1 else np.add.reduce(grad, axis=1, keepdims=True)
