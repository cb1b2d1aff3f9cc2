"""The 2-2-2 worked example: two inputs, two sigmoid hidden units, two sigmoid outputs, no biases,
loss E = sum of 0.5 * (t - o)^2. Its numbers are worked by hand in the first tutorial the notebooks
follow (see the README's credits); the demo, the tests and the notebooks all build it from here.

from nn.worked_example import worked_example
ex = worked_example()          # plain Values, backward already run
ex["E"].data, ex["w1"][0][0].grad
"""

from __future__ import annotations

from autograd import Value
from autograd import sum as vsum

from .layers import MLP

X = (0.1, 0.2)
W1 = ((0.3, 0.25), (0.4, 0.35))  # row i: the weights into hidden unit i
W2 = ((0.45, 0.4), (0.7, 0.6))  # row i: the weights into output unit i
T = (0.4, 0.6)
LR = 0.5  # the learning rate of the example's one SGD step


def worked_example() -> dict:
    """Build the example from labelled Values, run backward, and return its named Values.

    Keys: x, w1, w2 (lists of Values, as the weights above), z, h, net, o, errors (one per unit), E.
    """
    x = [Value(v, label=f"x{i + 1}") for i, v in enumerate(X)]
    w1 = [[Value(w, label=f"w1[{i}][{j}]") for j, w in enumerate(row)] for i, row in enumerate(W1)]
    w2 = [[Value(w, label=f"w2[{i}][{j}]") for j, w in enumerate(row)] for i, row in enumerate(W2)]
    z = [vsum(w * xi for w, xi in zip(row, x)) for row in w1]
    h = [zi.sigmoid() for zi in z]
    net = [vsum(w * hi for w, hi in zip(row, h)) for row in w2]
    o = [n.sigmoid() for n in net]
    errors = [0.5 * (t - oi) ** 2 for t, oi in zip(T, o)]
    total = vsum(errors)
    for name, group in (("z", z), ("h", h), ("net_o", net), ("o", o), ("E", errors)):
        for i, v in enumerate(group):
            v.label = f"{name}{i + 1}"
    total.label = "E_total"
    total.backward()
    return {"x": x, "w1": w1, "w2": w2, "z": z, "h": h, "net": net, "o": o, "errors": errors, "E": total}


def worked_example_mlp() -> MLP:
    """The same network as an ``MLP(2, [2, 2])`` with sigmoid layers, no biases and the example's weights."""
    weights = [[list(r) for r in W1], [list(r) for r in W2]]
    return MLP(2, [2, 2], activation="sigmoid", output_activation="sigmoid", bias=False, weights=weights)
