"""The way out to PyTorch, and back: ``to_torch(model)`` and ``from_torch(sequential)``.

An ``MLP`` is a chain of fully connected layers, so it maps one to one onto a
``torch.nn.Sequential`` of ``Linear`` layers (float64, same weights) each followed by its
activation module. PyTorch is an optional extra: ``pip install 'chainrule[torch]'``.
"""

from __future__ import annotations

from typing import Any

from .layers import MLP, Layer, Neuron

_TO_TORCH = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid"}  # "linear": no module; softmax below
_FROM_TORCH = {"ReLU": "relu", "Tanh": "tanh", "Sigmoid": "sigmoid", "Identity": "linear"}


def _torch() -> Any:
    try:
        import torch
    except ImportError as e:
        raise ImportError(
            "to_torch/from_torch need PyTorch, an optional extra: pip install 'chainrule[torch]'"
        ) from e
    return torch


def to_torch(model: MLP | Layer | Neuron) -> Any:
    """An equivalent ``torch.nn.Sequential``: for each layer a float64 ``Linear`` with the same
    weights and biases, then its activation (``ReLU``, ``Tanh``, ``Sigmoid``, ``Softmax(dim=-1)``;
    nothing for ``linear``). The result takes a tensor of shape (batch, nin)."""
    torch = _torch()
    if isinstance(model, MLP):
        layers = [(layer.activation, layer.neurons) for layer in model.layers]
    elif isinstance(model, Layer):
        layers = [(model.activation, model.neurons)]
    elif isinstance(model, Neuron):
        layers = [(model.activation, [model])]
    else:
        raise TypeError(f"to_torch: expected an MLP, Layer or Neuron, got {type(model).__name__}")
    modules = []
    for activation, neurons in layers:
        nin, bias = neurons[0].nin, neurons[0].b is not None
        linear = torch.nn.Linear(nin, len(neurons), bias=bias, dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.tensor([[w.data for w in n.w] for n in neurons], dtype=torch.float64))
            if bias:
                b = [n.b.data for n in neurons if n.b is not None]
                linear.bias.copy_(torch.tensor(b, dtype=torch.float64))
        modules.append(linear)
        if activation == "softmax":
            modules.append(torch.nn.Softmax(dim=-1))
        elif activation != "linear":
            modules.append(getattr(torch.nn, _TO_TORCH[activation])())
    return torch.nn.Sequential(*modules)


def from_torch(seq: Any) -> MLP:
    """The ``MLP`` equivalent to a ``torch.nn.Sequential`` of ``Linear`` layers, each optionally
    followed by ``ReLU``, ``Tanh``, ``Sigmoid`` or ``Identity`` (and ``Softmax`` on the last one).

    Weights are copied exactly (as float64). An MLP has one hidden activation and one bias
    setting, so every hidden layer must use the same activation and every Linear the same
    ``bias``; anything else raises a ValueError naming the module at fault.
    """
    torch = _torch()
    modules = list(seq) if isinstance(seq, torch.nn.Sequential) else [seq]
    layers = _linear_layers(torch, modules)
    hidden = {act for _, act in layers[:-1]}
    if len(hidden) > 1:
        raise ValueError(
            f"from_torch: an MLP has one hidden activation, but the hidden layers use {sorted(hidden)}"
        )
    biases = {lin.bias is not None for lin, _ in layers}
    if len(biases) > 1:
        raise ValueError(
            "from_torch: some Linear layers have a bias and some do not; an MLP needs all or none"
        )
    bias = biases.pop()
    return MLP(
        layers[0][0].in_features,
        [lin.out_features for lin, _ in layers],
        activation=hidden.pop() if hidden else "relu",
        output_activation=layers[-1][1],
        bias=bias,
        weights=[_rows(torch, lin, bias) for lin, _ in layers],
    )


def _linear_layers(torch: Any, modules: list[Any]) -> list[tuple[Any, str]]:
    """Each Linear with the name of the activation after it ("linear" for none)."""
    layers: list[tuple[Any, str | None]] = []
    for i, m in enumerate(modules):
        if isinstance(m, torch.nn.Linear):
            if layers and m.in_features != layers[-1][0].out_features:
                raise ValueError(
                    f"from_torch: module {i} (Linear {m.in_features} -> {m.out_features}) does not take "
                    f"the {layers[-1][0].out_features} outputs of the Linear before it"
                )
            layers.append((m, None))
            continue
        kind = type(m).__name__
        if not layers:
            raise ValueError(f"from_torch: module {i} ({kind}) comes before any Linear layer")
        if layers[-1][1] is not None:
            raise ValueError(f"from_torch: module {i} ({kind}) is a second activation after one Linear layer")
        layers[-1] = (layers[-1][0], _activation(torch, m, i, last=i == len(modules) - 1))
    if not layers:
        raise ValueError("from_torch: the Sequential holds no Linear layer")
    return [(lin, act or "linear") for lin, act in layers]


def _activation(torch: Any, m: Any, i: int, last: bool) -> str:
    """chainrule's name for the activation module ``m`` (module ``i`` of the Sequential)."""
    kind = type(m).__name__
    if isinstance(m, torch.nn.Softmax):
        if not last:
            raise ValueError(f"from_torch: Softmax (module {i}) is only supported as the last module")
        if m.dim not in (-1, 1):
            raise ValueError(
                f"from_torch: Softmax (module {i}) must act on the features (dim=-1), got dim={m.dim}"
            )
        return "softmax"
    if kind in _FROM_TORCH and isinstance(m, getattr(torch.nn, kind)):
        return _FROM_TORCH[kind]
    raise ValueError(
        f"from_torch: module {i} ({kind}) is not supported; an MLP is made of Linear layers and "
        "ReLU, Tanh, Sigmoid, Identity, or Softmax on the output"
    )


def _rows(torch: Any, lin: Any, bias: bool) -> list[list[float]]:
    """A Linear's weights as neuron rows (weights, then the bias), in float64."""
    w = lin.weight.detach().to(torch.float64).tolist()
    if not bias:
        return w
    b = lin.bias.detach().to(torch.float64).tolist()
    return [row + [bj] for row, bj in zip(w, b)]
