"""Every group's gradient targets at once, as arrays: what the write plan (``tape_layout``) counts.

``Group.gradient_rows()`` gives one group's targets: for each input that wants a gradient, its
rows in the batch buffer, then its rows in the static one, each with whether a row repeats. Asked
group by group, a trace of 20,000 small groups spends more on the calls and the tuples than on
anything it counts. Here a run of consecutive elementwise groups is read as one array of all their
edges (``Elementwise.edges``: edge i * k + m is input i of member m), and the targets are found by
sorting it: the same targets, in the same order, as ``gradient_rows()`` gives (``tests`` hold the two
to each other). A matrix product's few targets are read from ``gradient_rows()``.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain, groupby
from typing import cast

import numpy as np

from .tape_groups import Elementwise, Group

__all__ = ["Targets", "gradient_targets"]

# Per target: its group, whether its rows are in the static buffer, how many, whether one repeats;
# then every target's rows, target after target.
Targets = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def gradient_targets(groups: Sequence[Group]) -> Targets:
    """Every group's ``gradient_rows()``, group after group, as arrays (see ``Targets``)."""
    parts = [_no_targets()]
    for elementwise, run in groupby(range(len(groups)), lambda i: isinstance(groups[i], Elementwise)):
        ids = list(run)
        if elementwise:
            parts.append(_of_elementwise([cast(Elementwise, groups[i]) for i in ids], ids))
        else:
            parts.append(_listed(groups, ids))
    group, static, lengths, repeats, rows = (np.concatenate(p) for p in zip(*parts))
    return group, static, lengths, repeats, rows


def _no_targets() -> Targets:
    none = np.zeros(0, np.intp)
    return none, none.astype(bool), none, none.astype(bool), none


def _listed(groups: Sequence[Group], ids: list[int]) -> Targets:
    """The targets of these groups, read from their ``gradient_rows()``."""
    targets = [(i, t) for i in ids for t in groups[i].gradient_rows()]
    if not targets:
        return _no_targets()
    group = np.array([i for i, _ in targets], np.intp)
    static = np.array([s for _, (s, _, _) in targets], bool)
    lengths = np.array([len(rows) for _, (_, rows, _) in targets], np.intp)
    repeats = np.array([r for _, (_, _, r) in targets], bool)
    rows = np.fromiter(chain.from_iterable(rows for _, (_, rows, _) in targets), np.intp, int(lengths.sum()))
    return group, static, lengths, repeats, rows


def _of_elementwise(gs: list[Elementwise], ids: list[int]) -> Targets:
    """The targets of these elementwise groups (``ids``: their places among all groups), from all
    their edges at once."""
    edges = [len(g.edges) for g in gs]
    n = sum(edges)
    places = chain.from_iterable(chain.from_iterable(g.edges for g in gs))
    static_row = np.fromiter(places, np.intp, 2 * n).reshape(n, 2)
    static, row = static_row[:, 0].astype(bool), static_row[:, 1]
    of_group = np.repeat(np.arange(len(gs)), edges)
    first = np.repeat(np.cumsum(edges) - edges, edges)  # each group's first edge
    nary = np.fromiter((g.nary for g in gs), bool, len(gs))
    k = np.fromiter((g.k for g in gs), np.intp, len(gs))
    column = np.where(nary[of_group], 0, (np.arange(n) - first) // k[of_group])  # which input
    wants = [len(g.wants) for g in gs]
    wanted = np.fromiter(chain.from_iterable(g.wants for g in gs), bool, sum(wants))
    own = np.repeat(np.cumsum(wants) - wants, edges) + column
    keep = nary[of_group] | wanted[own]  # an n-ary op's edges all count, as gradient_rows gives them
    # A target is one input's edges in one buffer: by group, input, then buffer (batch first), each
    # in member order (lexsort is stable).
    order = np.lexsort((static, column, of_group))
    order = order[keep[order]]
    g, c, s, r = of_group[order], column[order], static[order], row[order]
    new = np.ones(len(order), bool)
    new[1:] = (g[1:] != g[:-1]) | (c[1:] != c[:-1]) | (s[1:] != s[:-1])
    target = np.cumsum(new) - 1
    lengths = np.bincount(target, minlength=int(new.sum()))
    by_row = np.lexsort((r, target))
    same = (target[by_row][1:] == target[by_row][:-1]) & (r[by_row][1:] == r[by_row][:-1])
    repeats = np.bincount(target[by_row][1:][same], minlength=len(lengths)) > 0
    return np.asarray(ids, np.intp)[g[new]], s[new], lengths, repeats, r
