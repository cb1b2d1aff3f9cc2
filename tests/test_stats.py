"""grad_stats: gradient size per layer, the numbers behind the vanishing-gradient picture."""

import math

import pytest
from worked_table import WEIGHT_GRADS

from nn import MLP, Layer, Neuron, grad_stats, sse
from nn.worked_example import T, X, worked_example_mlp


def test_one_row_per_layer_with_exact_numbers():
    m = worked_example_mlp()
    sse(m(list(X)), T).backward()
    rows = grad_stats(m)
    assert [r["name"] for r in rows] == ["layers.0", "layers.1"]
    assert [r["count"] for r in rows] == [4, 4]
    g0 = [g for name, g in WEIGHT_GRADS.items() if name.startswith("w1")]  # the example's dE/dw1
    g1 = [g for name, g in WEIGHT_GRADS.items() if name.startswith("w2")]
    assert rows[0]["mean_abs"] == pytest.approx(sum(g0) / 4, abs=1e-8)
    assert rows[0]["max_abs"] == pytest.approx(0.00161775, abs=1e-8)
    assert rows[1]["max_abs"] == pytest.approx(0.02629590, abs=1e-8)
    assert rows[1]["rms"] == pytest.approx(math.sqrt(sum(g * g for g in g1) / 4), abs=1e-8)


def test_sigmoid_gradients_shrink_towards_the_input():
    """The vanishing gradient: in a deep sigmoid net the first layer gets far less than the last."""
    m = MLP(4, [8] * 6 + [1], activation="sigmoid", seed=0)
    sse(m([0.5, -0.3, 0.8, 0.1]), [1.0]).backward()
    rms = [r["rms"] for r in grad_stats(m)]
    assert rms[0] < rms[-1] / 100
    relu = MLP(4, [8] * 6 + [1], activation="relu", init="he", seed=0)
    sse(relu([0.5, -0.3, 0.8, 0.1]), [1.0]).backward()
    relu_rms = [r["rms"] for r in grad_stats(relu)]
    assert relu_rms[0] / relu_rms[-1] > rms[0] / rms[-1]


def test_layer_and_neuron():
    layer = Layer(2, 3, seed=0)
    assert [r["name"] for r in grad_stats(layer)] == ["neurons.0", "neurons.1", "neurons.2"]
    n = Neuron(2, activation="linear", weights=[1.0, -2.0, 0.0])
    n([3.0, 4.0]).backward()
    (row,) = grad_stats(n)
    assert row == {
        "name": "",
        "count": 3,
        "mean_abs": pytest.approx(8 / 3),
        "rms": pytest.approx(math.sqrt(26 / 3)),
        "max_abs": 4.0,
    }
