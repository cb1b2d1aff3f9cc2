"""nn.to_torch / nn.from_torch: the same function and the same gradients as PyTorch (float64),
and exact round trips of every weight. Skipped only when the `torch` extra is absent."""

import builtins
import random

import pytest

import autograd
from nn import MLP, Layer, Neuron, from_torch, to_torch

torch = pytest.importorskip("torch")

CASES = [  # nin, sizes, hidden activation, output activation, bias
    (2, [1], "relu", "sigmoid", True),
    (3, [4, 2], "sigmoid", "sigmoid", False),
    (2, [16, 16, 1], "relu", "linear", True),
    (5, [7, 3], "tanh", "softmax", True),
    (4, [6, 5, 4, 3], "linear", "tanh", True),
    (3, [8, 8, 10], "relu", "softmax", False),
]


def inputs(nin, count=5, seed=0):
    rng = random.Random(seed)
    return [[rng.uniform(-2, 2) for _ in range(nin)] for _ in range(count)]


def as_list(out):
    return out if isinstance(out, list) else [out]


@pytest.mark.parametrize("nin, sizes, act, out_act, bias", CASES)
def test_outputs_and_parameter_gradients_agree(nin, sizes, act, out_act, bias):
    model = MLP(nin, sizes, activation=act, output_activation=out_act, bias=bias, init="xavier", seed=3)
    seq = to_torch(model)
    X = inputs(nin)
    coeffs = [[random.Random(i * 7 + j).uniform(-1, 1) for j in range(sizes[-1])] for i in range(len(X))]

    # the same scalar loss on both sides: a weighted sum of every output of every example
    outs = [as_list(model(x)) for x in X]
    loss = autograd.sum(c * o for row, cs in zip(outs, coeffs) for o, c in zip(row, cs))
    model.zero_grad()
    loss.backward()

    tx = torch.tensor(X, dtype=torch.float64)
    tout = seq(tx)
    tloss = (tout * torch.tensor(coeffs, dtype=torch.float64)).sum()
    tloss.backward()

    assert tout.dtype == torch.float64 and tout.shape == (len(X), sizes[-1])
    for row, trow in zip(outs, tout.tolist()):
        assert [o.data for o in row] == pytest.approx(trow, rel=1e-12, abs=1e-12)
    assert loss.data == pytest.approx(tloss.item(), rel=1e-12, abs=1e-12)

    # torch's gradients in parameters() order: per layer, per neuron, weights then bias
    tgrads = []
    linears = [m for m in seq if isinstance(m, torch.nn.Linear)]
    for lin in linears:
        for j in range(lin.out_features):
            tgrads.extend(lin.weight.grad[j].tolist())
            if lin.bias is not None:
                tgrads.append(lin.bias.grad[j].item())
    grads = [p.grad for p in model.parameters()]
    assert len(grads) == len(tgrads) == sum(p.numel() for p in seq.parameters())
    assert grads == pytest.approx(tgrads, rel=1e-12, abs=1e-12)
    assert max(abs(g) for g in grads) > 1e-3  # the comparison is not of zeros


@pytest.mark.parametrize("nin, sizes, act, out_act, bias", CASES)
def test_round_trip_preserves_every_weight_exactly(nin, sizes, act, out_act, bias):
    model = MLP(nin, sizes, activation=act, output_activation=out_act, bias=bias, init="he", seed=11)
    back = from_torch(to_torch(model))
    assert isinstance(back, MLP)
    assert back.config() == model.config() | ({"activation": "relu"} if len(sizes) == 1 else {})
    assert back.state_dict() == model.state_dict()  # exact float equality, every entry
    x = inputs(nin, 1)[0]
    assert [o.data for o in as_list(back(x))] == [o.data for o in as_list(model(x))]


def test_module_types_in_the_sequential():
    model = MLP(3, [4, 2], activation="tanh", output_activation="softmax", seed=0)
    seq = to_torch(model)
    assert [type(m).__name__ for m in seq] == ["Linear", "Tanh", "Linear", "Softmax"]
    assert seq[0].weight.shape == (4, 3) and seq[0].weight.dtype == torch.float64
    assert seq[0].weight[1].tolist() == [w.data for w in model.layers[0].neurons[1].w]
    assert seq[2].bias.tolist() == [n.b.data for n in model.layers[1].neurons]
    linear_out = to_torch(MLP(2, [3, 1], activation="relu", seed=0))
    assert [type(m).__name__ for m in linear_out] == ["Linear", "ReLU", "Linear"]


def test_layer_and_neuron_convert_too():
    layer = Layer(3, 2, activation="sigmoid", seed=1)
    neuron = Neuron(3, activation="tanh", seed=2)
    x = [0.5, -1.0, 2.0]
    tx = torch.tensor([x], dtype=torch.float64)
    assert to_torch(layer)(tx)[0].tolist() == pytest.approx([o.data for o in layer(x)], rel=1e-12)
    assert to_torch(neuron)(tx).item() == pytest.approx(neuron(x).data, rel=1e-12)


def test_from_torch_reads_a_model_built_in_torch():
    torch.manual_seed(0)
    seq = torch.nn.Sequential(
        torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 8), torch.nn.ReLU(),
        torch.nn.Linear(8, 3), torch.nn.Identity())  # fmt: skip
    model = from_torch(seq)  # float32 weights become the same numbers as float64
    assert repr(model) == "MLP(4 -> 8 relu -> 8 relu -> 3)"
    x = [0.1, -0.2, 0.3, 0.4]
    expected = seq.double()(torch.tensor([x], dtype=torch.float64))[0].tolist()
    assert [o.data for o in model(x)] == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert to_torch(model)[0].weight.tolist() == seq[0].weight.tolist()


@pytest.mark.parametrize(
    "modules, message",
    [
        (lambda nn: [nn.ReLU(), nn.Linear(2, 2)], "before any Linear"),
        (lambda nn: [nn.Linear(2, 3), nn.Linear(2, 1)], "does not take the 3 outputs"),
        (lambda nn: [nn.Linear(2, 3), nn.ReLU(), nn.Tanh()], "second activation"),
        (lambda nn: [nn.Linear(2, 3), nn.Softmax(dim=-1), nn.Linear(3, 1)], "only supported as the last"),
        (lambda nn: [nn.Linear(2, 3), nn.Softmax(dim=0)], "dim=-1"),
        (lambda nn: [nn.Linear(2, 3), nn.Dropout(0.5)], r"module 1 \(Dropout\) is not supported"),
        (
            lambda nn: [nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 1)],
            "one hidden activation",
        ),
        (lambda nn: [nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1, bias=False)], "all or none"),
        (lambda nn: [], "no Linear"),
    ],
)
def test_from_torch_rejects_what_an_mlp_cannot_express(modules, message):
    with pytest.raises(ValueError, match=message):
        from_torch(torch.nn.Sequential(*modules(torch.nn)))


def test_to_torch_rejects_other_objects():
    with pytest.raises(TypeError, match="MLP, Layer or Neuron"):
        to_torch([1, 2, 3])


def test_clear_error_without_torch(monkeypatch):
    real_import = builtins.__import__

    def no_torch(name, *args, **kwargs):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("No module named 'torch'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    with pytest.raises(ImportError, match=r"pip install 'chainrule\[torch\]'"):
        to_torch(MLP(2, [1], seed=0))
    with pytest.raises(ImportError, match="optional extra"):
        from_torch(None)
