"""The West benchmark's graph (tests/benchmarks/west.py) gives the same input gradients on the tape,
on the NumPy floor and on the eager engine (no timing here: the script prints it)."""

import importlib.util
from pathlib import Path

import numpy as np

spec = importlib.util.spec_from_file_location("west", Path(__file__).parent / "benchmarks" / "west.py")
assert spec is not None and spec.loader is not None
west = importlib.util.module_from_spec(spec)
spec.loader.exec_module(west)


def test_the_graph_is_deterministic_bounded_and_reaches_every_input():
    graph = west.make_graph(200, seed=3)
    assert graph == west.make_graph(200, seed=3) != west.make_graph(200, seed=4)
    assert [step.kind for step in graph[:4]] == ["softplus", "sum", "prod", "softmax"]
    read = {i for step in west.make_graph(1000, seed=3) for i in step.args}
    assert read >= set(range(west.N_VARS))  # every input is read (by 1,000 ops; by 200, 98 of them)
    out, grad_x, _ = west.run_floor(graph, west.make_inputs(8))
    assert np.isfinite(grad_x).all() and np.abs(out).max() <= 4.0


def test_tape_floor_and_eager_give_the_same_gradients():
    graph, X = west.make_graph(200, seed=0), west.make_inputs(8, seed=1)
    floor = west.run_floor(graph, X)
    eager = west.run_eager(graph, X)
    out, grad_w = west.run_tape(west.trace_tape(graph), X)

    bound = west.TOLERANCE
    assert np.all(np.abs(out - floor[0]) <= bound * np.abs(floor[0]))
    assert np.all(np.abs(eager[0] - floor[0]) <= bound * np.abs(floor[0]))
    # each row's d out / d x, normwise: relative to the row's largest entry
    row_scale = np.abs(floor[1]).max(axis=1, keepdims=True)
    assert np.all(np.abs(eager[1] - floor[1]) <= bound * row_scale)
    # the tape's d/dw (w = 1) is Σ_rows x · d out / d x: normwise, relative to the largest Σ_rows |x · g|
    scale = np.abs(X * floor[1]).sum(axis=0).max()
    assert np.all(np.abs(grad_w - floor[2]) <= bound * scale)
    assert np.all(np.abs(eager[2] - floor[2]) <= bound * scale)
    np.testing.assert_allclose(floor[2], (X * floor[1]).sum(axis=0), rtol=0, atol=1e-15 * scale)
    # and the script's own check passes on all three
    west.check("tape vs floor", X, floor, (out, grad_w))
    west.check("eager vs floor", X, floor, eager)
