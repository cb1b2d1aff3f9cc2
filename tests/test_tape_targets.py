"""The write plan's gradient targets, found for all groups at once (``tape_targets``), are every
group's ``gradient_rows()``, in order: on random programs (layers, n-ary sums and maxes, static
groups, inputs read twice), on West's irregular graph and on an MLP with its loss."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
from programs import NAMES, random_steps
from test_tape_fuzz import program

import nn
from autograd import Tape, Value
from autograd.tape_groups import Group
from autograd.tape_targets import gradient_targets

spec = importlib.util.spec_from_file_location("west", Path(__file__).parent / "benchmarks" / "west.py")
assert spec is not None and spec.loader is not None
west = importlib.util.module_from_spec(spec)
spec.loader.exec_module(west)


def group_by_group(groups: list[Group]) -> list[tuple[int, bool, list[int], bool]]:
    return [(i, *target) for i, g in enumerate(groups) for target in g.gradient_rows()]


def all_at_once(groups: list[Group]) -> list[tuple[int, bool, list[int], bool]]:
    group, static, lengths, repeats, rows = gradient_targets(groups)
    assert len(rows) == lengths.sum()
    ends = np.cumsum(lengths).tolist()
    split = [rows[end - n : end].tolist() for end, n in zip(ends, lengths.tolist())]
    return list(zip(group.tolist(), static.tolist(), split, repeats.tolist()))


def test_random_programs_find_the_targets_each_group_gives():
    rng = np.random.default_rng(20261207)
    repeated = static_groups = 0
    for _ in range(400):
        steps = random_steps(rng, int(rng.integers(1, 11)), NAMES)
        example, params = program(steps, [Value(v) for v in rng.uniform(-1, 1, size=3)])
        tape = Tape.trace(example, params, [0.0, 0.0])
        want = group_by_group(tape.groups)
        assert all_at_once(tape.groups) == want
        repeated += any(r for *_, r in want)
        static_groups += any(g.is_static for g in tape.groups)
    # the cases that need the sorting: rows read twice by one input, static and batch rows mixed
    assert repeated >= 20 and static_groups >= 100, (repeated, static_groups)


def test_west_and_an_mlp_find_the_targets_each_group_gives():
    tape = west.trace_tape(west.make_graph(500, seed=2))
    assert all_at_once(tape.groups) == group_by_group(tape.groups)
    model = nn.MLP(3, [4, 4, 2], seed=0)
    tape = Tape.trace(lambda x, t: nn.cross_entropy(model(x), t), model.parameters(), [0.0] * 3, [1.0, 0.0])
    assert "matmul" in {g.name for g in tape.groups}
    assert all_at_once(tape.groups) == group_by_group(tape.groups)
