"""Module: parameter names and order, zero_grad, state_dict round trips and its errors, repr."""

import math

import pytest

from nn import MLP, Layer, Module, Neuron


def test_named_parameters_are_dotted_and_in_micrograd_order():
    m = MLP(2, [3, 1], seed=0)
    names = [n for n, _ in m.named_parameters()]
    assert names[:4] == [
        "layers.0.neurons.0.w.0",
        "layers.0.neurons.0.w.1",
        "layers.0.neurons.0.b",
        "layers.0.neurons.1.w.0",
    ]
    assert names[-4:] == [
        "layers.1.neurons.0.w.0",
        "layers.1.neurons.0.w.1",
        "layers.1.neurons.0.w.2",
        "layers.1.neurons.0.b",
    ]
    assert [p for _, p in m.named_parameters()] == m.parameters()
    assert m.num_parameters() == 3 * 3 + 4 == len(set(map(id, m.parameters())))


def test_names_without_bias_and_for_bare_modules():
    assert [n for n, _ in Neuron(2, bias=False).named_parameters()] == ["w.0", "w.1"]
    assert [n for n, _ in Layer(1, 2).named_parameters()] == [
        "neurons.0.w.0",
        "neurons.0.b",
        "neurons.1.w.0",
        "neurons.1.b",
    ]


def test_zero_grad_clears_every_parameter():
    m = MLP(2, [4, 1], seed=1)
    m([1.0, -2.0]).backward()
    assert any(p.grad != 0 for p in m.parameters())
    m.zero_grad()
    assert all(p.grad == 0.0 for p in m.parameters())


def test_state_dict_round_trip_into_another_model():
    a, b = MLP(3, [4, 2], seed=1), MLP(3, [4, 2], seed=2)
    assert a.state_dict() != b.state_dict()
    b.load_state_dict(a.state_dict())
    assert b.state_dict() == a.state_dict()
    x = [0.5, -1.0, 2.0]
    assert [v.data for v in a(x)] == [v.data for v in b(x)]


def test_state_dict_is_a_copy():
    m = MLP(1, [1], seed=0)
    state = m.state_dict()
    state["layers.0.neurons.0.b"] = 99.0
    assert m.layers[0].neurons[0].b.data == 0.0


def test_load_state_dict_names_missing_and_extra_entries_and_changes_nothing():
    m = MLP(2, [2], seed=0)
    before = m.state_dict()
    state = dict(before)
    del state["layers.0.neurons.1.b"]
    state["layers.0.neurons.0.w.0"] = 5.0
    with pytest.raises(KeyError, match=r"missing 1 entries: 'layers.0.neurons.1.b'"):
        m.load_state_dict(state)
    state = dict(before, **{"layers.9.neurons.0.b": 1.0})
    with pytest.raises(KeyError, match=r"unexpected 1 entries: 'layers.9.neurons.0.b'"):
        m.load_state_dict(state)
    assert m.state_dict() == before


@pytest.mark.parametrize(
    "bad, message",
    [
        ([1.0, 2.0], "expected one number, got list of 2 items"),
        ("0.5", "expected one number, got str"),
        (True, "expected one number, got bool"),
        (math.inf, "expected a finite number, got inf"),
        (math.nan, "expected a finite number, got nan"),
    ],
)
def test_load_state_dict_rejects_a_misshaped_entry(bad, message):
    m = MLP(2, [2], seed=0)
    before = m.state_dict()
    state = dict(before, **{"layers.0.neurons.1.w.1": bad})
    with pytest.raises(ValueError, match=rf"entry 'layers.0.neurons.1.w.1': {message}"):
        m.load_state_dict(state)
    assert m.state_dict() == before


def test_load_state_dict_wants_a_mapping():
    with pytest.raises(TypeError, match="expected a dict"):
        MLP(1, [1]).load_state_dict([1.0, 0.0])


def test_repr_reads_like_the_architecture():
    assert repr(MLP(2, [16, 16, 1])) == "MLP(2 -> 16 relu -> 16 relu -> 1)"
    assert (
        repr(MLP(2, [2, 2], activation="sigmoid", output_activation="sigmoid", bias=False))
        == "MLP(2 -> 2 sigmoid -> 2 sigmoid, no bias)"
    )
    assert (
        repr(MLP(64, [32, 10], activation="tanh", output_activation="softmax"))
        == "MLP(64 -> 32 tanh -> 10 softmax)"
    )
    assert repr(Layer(3, 4, activation="tanh")) == "Layer(3 -> 4 tanh)"
    assert repr(Neuron(3, activation="linear", bias=False)) == "Neuron(3 -> linear, no bias)"


def test_parameter_count_of_micrograds_moons_model():
    assert MLP(2, [16, 16, 1]).num_parameters() == (2 + 1) * 16 + (16 + 1) * 16 + 17 == 337


def test_a_user_module_gets_names_and_state_from_its_children():
    class Two(Module):
        def __init__(self):
            self.a, self.b = Neuron(1, seed=0), Neuron(1, seed=1)
            self._set_scope("")

        def children(self):
            return [("a", self.a), ("b", self.b)]

        def __call__(self, x):
            return self.a(x) + self.b(x)

    two = Two()
    assert [n for n, _ in two.named_parameters()] == ["a.w.0", "a.b", "b.w.0", "b.b"]
    assert two.a.w[0].scope == "a"
    assert (two.a.w[0].scope.parts, two.a.w[0].scope.role) == ((("a", None),), ("weight", 0))  # its own name
    assert two.b.scope.parts == (("b", None),) and two.scope == "" and two.scope.parts == ()
    assert [name for name, _ in two.modules()] == ["", "a", "b"]
