"""Neuron, Layer, MLP: forward numbers, explicit and seeded weights, labels and scopes for the
renderer, one n-ary sum per neuron, and micrograd's parameter order."""

import copy
import math
import pickle
import random

import micrograd.nn as micrograd_nn
import pytest

import autograd
from autograd import Value, no_grad
from nn import MLP, Layer, Neuron


def test_neuron_computes_activation_of_weighted_sum_plus_bias():
    n = Neuron(2, activation="tanh", weights=[0.5, -1.0, 0.25])
    out = n([2.0, 3.0])
    assert out.data == pytest.approx(math.tanh(0.5 * 2 - 1.0 * 3 + 0.25), abs=1e-15)
    for act, f in [
        ("linear", lambda s: s),
        ("relu", lambda s: max(s, 0.0)),
        ("sigmoid", lambda s: 1 / (1 + math.exp(-s))),
    ]:
        n = Neuron(2, activation=act, weights=[0.5, -1.0, 0.25])
        assert n([2.0, 3.0]).data == pytest.approx(f(-1.75), abs=1e-15)
        assert n([2.0, 3.5]).data == pytest.approx(f(-2.25), abs=1e-15)


def test_neuron_nodes_carry_labels_and_scope_and_use_one_sum():
    m = MLP(2, [3, 2], activation="relu", output_activation="sigmoid", seed=0)
    out = m([1.0, -0.5])[1]
    place = (("layer", 1), ("neuron", 1))
    assert (out.label, out.scope, out.op) == ("sigmoid", "layers.1.neurons.1", "sigmoid")
    assert (out.scope.parts, out.scope.role) == (place, ("activation", None))
    (s,) = out.parents
    assert (s.label, s.scope, s.op) == ("Σ", "layers.1.neurons.1", "sum")
    assert (s.scope.parts, s.scope.role) == (place, ("sum", None))
    assert len(s.parents) == 3 + 1  # three products and the bias: one node, not a chain of +
    *products, b = s.parents
    assert b is m.layers[1].neurons[1].b and (b.label, b.scope) == ("b", "layers.1.neurons.1")
    assert (b.scope.parts, b.scope.role) == (place, ("bias", None))
    for i, p in enumerate(products):
        assert (p.label, p.scope, p.op) == (f"w{i}·x{i}", "layers.1.neurons.1", "*")  # named by its input
        assert (p.scope.parts, p.scope.role) == (place, ("input", i))
        x, w = p.parents
        assert w is m.layers[1].neurons[1].w[i] and w.label == f"w{i}"
        assert (w.scope.parts, w.scope.role) == (place, ("weight", i))
        assert x.label == "relu" and x.scope == f"layers.0.neurons.{i}"
        assert x.scope.parts == (("layer", 0), ("neuron", i))
    inputs = {x for p in m.layers[0].neurons[0]([1.0, -0.5]).parents[0].parents[:2] for x in p.parents[:1]}
    assert sorted(v.label for v in inputs) == ["x0", "x1"]


def test_bare_neuron_and_layer_use_names_relative_to_themselves():
    n = Neuron(2, seed=0)
    assert n([1.0, 2.0]).scope == "" and n.w[1].scope == "" and n.w[1].label == "w1"
    assert (n.w[1].scope.parts, n.w[1].scope.role) == ((), ("weight", 1))
    layer = Layer(2, 2, seed=0)
    assert [o.scope for o in layer([1.0, 2.0])] == ["neurons.0", "neurons.1"]
    assert layer.neurons[1].b.scope == "neurons.1" and layer.neurons[1].b.scope.parts == (("neuron", 1),)


def test_linear_neuron_output_is_the_sum_node():
    out = Neuron(2, activation="linear", seed=0)([1.0, 2.0])
    assert out.op == "sum" and out.label == "Σ"


def test_inputs_may_be_values_and_get_gradients():
    x = [Value(1.0), Value(2.0)]
    n = Neuron(2, activation="linear", weights=[3.0, 4.0, 0.0])
    n(x).backward()
    assert [v.grad for v in x] == [3.0, 4.0]
    assert [w.grad for w in n.w] == [1.0, 2.0] and n.b.grad == 1.0


def test_one_output_returns_a_value_else_a_list():
    assert isinstance(MLP(2, [3, 1], seed=0)([1.0, 2.0]), Value)
    out = MLP(2, [3, 2], seed=0)([1.0, 2.0])
    assert isinstance(out, list) and len(out) == 2
    assert isinstance(MLP(2, [1, 1], seed=0)([1.0, 2.0]), Value)  # a 1-wide hidden layer works
    assert isinstance(Layer(2, 1, seed=0)([1.0, 2.0]), Value)


def test_parameters_follow_micrograds_order_and_give_micrograds_outputs():
    random.seed(7)
    theirs = micrograd_nn.MLP(3, [4, 4, 1])
    ours = MLP(3, [4, 4, 1], seed=0)
    for p, q in zip(ours.parameters(), theirs.parameters(), strict=True):
        p.data = q.data
    x = [0.5, -1.5, 2.0]
    assert ours(x).data == pytest.approx(theirs(x).data, abs=1e-12)


def test_explicit_weights_per_layer_per_neuron():
    m = MLP(2, [2, 1], weights=[[[1.0, 2.0, 0.5], [3.0, 4.0, -0.5]], [[1.0, -1.0, 0.0]]])
    assert [p.data for p in m.parameters()] == [1.0, 2.0, 0.5, 3.0, 4.0, -0.5, 1.0, -1.0, 0.0]
    # relu(1 + 2 + .5) - relu(3 + 4 - .5) = 3.5 - 6.5
    assert m([1.0, 1.0]).data == -3.0


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Neuron(2, weights=[1.0, 2.0]), r"Neuron\(2\) takes 3 numbers \(2 weights then the bias\)"),
        (lambda: Neuron(2, bias=False, weights=[1.0]), r"takes 2 numbers \(2 weights \(no bias\)\)"),
        (lambda: Neuron(1, weights=["a", 0.0]), r"weights\[0\]: expected one number, got str"),
        (lambda: Layer(2, 3, weights=[[1, 2, 3]]), r"takes 3 weight rows"),
        (lambda: MLP(2, [2, 1], weights=[[[1, 2, 3], [1, 2, 3]]]), r"must hold 2 layers"),
        (lambda: MLP(2, [2, 1], weights=[[[1, 2, 3], [1, 2, 3]], [[1, 2]]]), r"Neuron\(2\) takes 3 numbers"),
        (lambda: MLP(2, [16], activation="softmax"), "softmax is only for the output layer"),
        (lambda: Neuron(2, activation="softmax"), "softmax acts on a whole layer"),
        (lambda: MLP(2, [4], activation="swish"), "activation must be one of 'linear', 'relu'"),
        (lambda: MLP(2, [4], init="lecun"), "init must be one of"),
        (lambda: MLP(0, [4]), "nin must be a positive int"),
        (lambda: MLP(2, []), "sizes must be a non-empty list"),
        (lambda: MLP(2, 4), "sizes must be a non-empty list"),
        (lambda: MLP(2, [4, 0]), r"sizes\[1\] must be a positive int"),
    ],
)
def test_bad_construction_raises_a_clear_error(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_wrong_number_of_inputs():
    with pytest.raises(ValueError, match=r"MLP\(2 -> 4 relu -> 1\) expects 2 inputs, got 3"):
        MLP(2, [4, 1])([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"Neuron\(3 -> relu\) expects 3 inputs, got 2"):
        Neuron(3)([1.0, 2.0])


def test_one_input_model_accepts_a_bare_number():
    m = MLP(1, [1], weights=[[[2.0, 1.0]]])
    assert m(3.0).data == m([3.0]).data == 7.0


def test_softmax_output_layer_is_stable_and_sums_to_one():
    m = MLP(
        2,
        [3],
        output_activation="softmax",
        weights=[[[1000.0, 0.0, 0.0], [0.0, 1000.0, 0.0], [0.0, 0.0, 0.0]]],
    )
    p = m([1.0, 0.999])
    assert sum(v.data for v in p) == pytest.approx(1.0, abs=1e-15)
    assert [v.label for v in p] == ["softmax"] * 3 and p[0].scope == "layers.0"
    assert [v.scope.parts for v in p] == [(("layer", 0), ("output", k)) for k in range(3)]
    total = p[0].parents[1]
    assert (total.label, total.scope.parts, total.scope.role) == ("Σexp", (("layer", 0),), None)
    z = [1000.0, 999.0, 0.0]
    expected = [math.exp(zk - 1000.0) / sum(math.exp(zj - 1000.0) for zj in z) for zk in z]
    assert [v.data for v in p] == pytest.approx(expected, abs=1e-15)
    autograd.gradcheck(
        lambda a: MLP(2, [3], output_activation="softmax", seed=0)([a, 1.0])[0] * 1.0, [Value(0.3)]
    )


def test_seeded_init_is_reproducible_and_seed_sensitive():
    a, b, c = MLP(3, [5, 2], seed=42), MLP(3, [5, 2], seed=42), MLP(3, [5, 2], seed=43)
    assert a.state_dict() == b.state_dict() != c.state_dict()
    assert Layer(2, 3, seed=1).state_dict() == Layer(2, 3, seed=1).state_dict()


def test_initializers_have_their_published_ranges_and_zero_biases():
    nin, nout = 50, 40
    for init, check in [
        ("uniform", lambda ws: max(map(abs, ws)) <= 1.0 and max(map(abs, ws)) > 0.9),
        (
            "xavier",
            lambda ws: max(map(abs, ws)) <= math.sqrt(6 / 90) and max(map(abs, ws)) > 0.9 * math.sqrt(6 / 90),
        ),
        ("glorot", lambda ws: max(map(abs, ws)) <= math.sqrt(6 / 90)),
        ("he", lambda ws: abs(math.sqrt(sum(w * w for w in ws) / len(ws)) - math.sqrt(2 / nin)) < 0.02),
    ]:
        layer = Layer(nin, nout, init=init, seed=0)
        ws = [w.data for n in layer.neurons for w in n.w]
        assert check(ws), init
        assert all(n.b.data == 0.0 for n in layer.neurons)


def test_no_grad_forward_records_nothing_but_keeps_labels():
    m = MLP(2, [2, 1], seed=0)
    with no_grad():
        out = m([1.0, 2.0])
    assert out.parents == () and out.label == "Σ"
    assert out.data == m([1.0, 2.0]).data


def test_gradients_match_finite_differences():
    m = MLP(3, [4, 3, 1], activation="tanh", seed=3)
    params = m.parameters()
    autograd.gradcheck(lambda *ps: m([0.3, -0.7, 1.1]), params)


@pytest.mark.parametrize("copier", [copy.deepcopy, lambda m: pickle.loads(pickle.dumps(m))])
def test_the_scope_records_survive_a_copy_of_the_model(copier):
    model = copier(MLP(2, [3, 2], output_activation="softmax", seed=0))
    w = model.layers[1].neurons[1].w[2]
    assert (w.scope, w.scope.parts, w.scope.role) == (
        "layers.1.neurons.1",
        (("layer", 1), ("neuron", 1)),
        ("weight", 2),
    )
    assert repr(w.scope) == "'layers.1.neurons.1'"  # read as before: the record is in .parts and .role
    out = model([1.0, -0.5])  # and what the copy builds carries them too
    assert out[1].scope.parts == (("layer", 1), ("output", 1))
    products = out[1].parents[0].parents[0].parents[0].parents[:-1]  # softmax <- exp <- z - max <- Σ
    assert [p.scope.role for p in products] == [("input", i) for i in range(3)]
    assert [p.label for p in products] == ["w0·x0", "w1·x1", "w2·x2"]


def test_a_scope_is_an_immutable_string():
    scope = MLP(2, [3]).layers[0].neurons[1].b.scope
    assert (
        isinstance(scope, str)
        and str(scope) == "layers.0.neurons.1"
        and f"in {scope}" == "in layers.0.neurons.1"
    )
    with pytest.raises(AttributeError, match="cannot be changed"):
        scope.role = ("weight", 0)
    assert copy.copy(scope) is scope and copy.deepcopy(scope) is scope
