"""A neuron's Σ x·w + b through ``autograd.value.weighted_sum``: eagerly the products and one sum (the
graph drawings show, with their names), while the batch tape traces one node per neuron, which the tape
runs as a row of a matrix product, or with the op's array rules when it cannot; every number agrees with
the eager engine to the tape's bound."""

import math

import numpy as np
import pytest

import nn
from autograd import Tape, Traced, Value
from autograd.ops import weighted_sum_op
from autograd.value import weighted_sum


def test_eagerly_it_is_the_products_and_one_sum():
    xs, ws, b = [Value(2.0), Value(-3.0)], [Value(0.5), Value(0.25)], Value(0.1)
    s = weighted_sum(xs, ws, [b])
    assert s.op == "sum" and s.data == math.fsum([1.0, -0.75, 0.1])
    products = s.parents[:2]
    assert [p.op for p in products] == ["*", "*"] and products[0].parents == (xs[0], ws[0])
    assert s.parents[2] is b
    s.backward()
    assert (xs[0].grad, ws[0].grad, b.grad) == (0.5, 2.0, 1.0)
    with pytest.raises(ValueError, match="2 inputs but 1 weights"):
        weighted_sum(xs, ws[:1])


def test_a_neuron_keeps_its_named_products_eagerly():
    neuron = nn.Neuron(2, activation="linear", weights=[0.5, -1.0, 0.25])
    s = neuron([Value(1.0), Value(2.0)])
    assert [p.label for p in s.parents[:2]] == ["w0·x0", "w1·x1"]


def test_a_traced_layer_is_one_node_per_neuron_and_the_tape_agrees_with_eager():
    model = nn.MLP(30, [6, 3], seed=0)
    params = model.parameters()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(9, 30))
    tape = Tape.trace(lambda x: model(x), params, X[0])
    # 30 inputs, 30*6 + 6 + 6*3 + 3 parameters, 9 neuron sums and 9 activations: no products
    assert tape.n_nodes == 30 + len(params) + 9 + 6
    assert sum(g.name == "matmul" for g in tape.groups) == 2
    out = tape.forward(X)
    for i in range(len(X)):
        want = [o.data for o in model([Value(float(v)) for v in X[i]])]
        assert out[i] == pytest.approx(want, rel=1e-12, abs=1e-14)


def test_a_constant_input_keeps_the_products_so_the_layer_still_folds():
    w = [Value(0.5), Value(-1.5)]
    captured = []

    def fn(x):
        s = weighted_sum([x[0], 2.0], w)
        captured.append(s)
        return s

    tape = Tape.trace(fn, w, [1.0])
    assert captured[0].op == "sum" and [p.op for p in captured[0].parents] == ["*", "*"]
    assert tape.forward([[3.0]])[0, 0] == 3.0 * 0.5 + 2.0 * -1.5


def test_a_weighted_sum_that_cannot_fold_runs_on_its_array_rules():
    """Inputs computed from parameters inside the trace (static) beside a batch input: the node is
    traced but no matrix product can take it, so the tape runs weighted_sum's array rules; outputs and
    gradients equal the eager engine's to 1e-12."""
    w = [Value(0.3), Value(-0.7), Value(1.1)]
    b = Value(0.05)

    def fn(x, weights):
        inputs = [x[0], weights[0] * weights[1], x[1]]  # the middle one is the same for every example
        return (weighted_sum(inputs, weights, [b]) * x[0]).tanh()

    captured = []
    tape = Tape.trace(lambda x: captured.append(fn(x, w)) or captured[-1], [*w, b], [0.0, 0.0])
    assert type(captured[0]) is Traced
    assert any(g.name == "weighted_sum" for g in tape.groups)
    X = np.random.default_rng(1).normal(size=(5, 2))
    out = tape.forward(X)
    grad = np.zeros(4)
    tape.backward(1.0, out=grad)
    want_grad = np.zeros(4)
    for i, row in enumerate(X.tolist()):
        for p in (*w, b):
            p.grad = 0.0
        y = fn([Value(v) for v in row], w)
        y.backward()
        assert out[i, 0] == pytest.approx(y.data, rel=1e-12, abs=1e-15)
        want_grad += [p.grad for p in (*w, b)]
    assert grad == pytest.approx(want_grad, rel=1e-12, abs=1e-15)


def test_the_op_is_the_eager_sum_of_rounded_products():
    op = weighted_sum_op(2)
    assert op is weighted_sum_op(2) and op.pairs == 2 and op.name == "weighted_sum"
    xs = [1e16, 1.0, 1.0, -1e16, 3.0]  # x0, x1, w0, w1, a term: 1e16 - 1e16 + 3, exactly
    assert op.forward(*xs) == 3.0
    assert op.local(*xs, 3.0) == (1.0, -1e16, 1e16, 1.0, 1.0)


def test_an_nn_model_keeps_its_parameter_order_on_the_tape_and_reads_weights_as_views():
    """nn gives parameters neuron by neuron (weights, then bias): each layer's weights are a grid of
    that order, so the tape keeps it (a step copies the parameters in and the gradient out as one
    slice) and reads each weight matrix as a strided view of its buffer, gathering nothing. Shuffled
    parameters take the other layout (each layer's weights made contiguous) and give the same numbers."""
    import numpy as np

    from autograd.tape_groups import MatMul
    from autograd.tape_rows import grid_view

    model = nn.MLP(5, [4, 3], seed=2)
    params = model.parameters()

    def sum_of(outputs):
        return outputs[0] + outputs[2]

    X = np.random.default_rng(2).normal(size=(7, 5))
    results = []
    for order in (params, params[::-1]):
        tape = Tape.trace(lambda x: sum_of(model(x)), order, X[0])
        matmuls = [g for g in tape.groups if isinstance(g, MatMul)]
        grids = [g.weights.grid(g.k, g.n) for g in matmuls]
        if order is params:
            assert tape._param_key == slice(0, len(params), 1)
            assert all(grid is not None and grid[1] >= g.n + 1 for grid, g in zip(grids, matmuls))
            S = tape._S[:, 0]
            W = grid_view(S, *grids[0], matmuls[0].k, matmuls[0].n)
            assert W is not None and np.shares_memory(W, S)
        else:
            assert not isinstance(tape._param_key, slice)
            assert all(grid == (g.weights.listed[0], g.n) for grid, g in zip(grids, matmuls))  # contiguous
        out = tape.forward(X)
        grad = np.zeros(len(order))
        tape.backward(1.0, out=grad)
        results.append((out, dict(zip(order, grad))))
    (out0, g0), (out1, g1) = results
    assert np.allclose(out0, out1, rtol=1e-13, atol=1e-15)
    assert all(abs(g0[p] - g1[p]) <= 1e-13 * (1 + abs(g0[p])) for p in params)
