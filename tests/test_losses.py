"""Losses: their values and gradients against the formulas, stability, a graph shape that does not
depend on the target (for the batch tape), target encoding, and L2."""

import math
import re

import pytest

import autograd
from autograd import Value
from nn import (
    LOSSES,
    Loss,
    bce,
    bce_logits,
    cross_entropy,
    encode_targets,
    get_loss,
    hinge,
    l2_penalty,
    mse,
    sse,
)
from nn.losses import loss_name


def values(*xs):
    return [Value(x) for x in xs]


def shape(v):
    """The graph's structure: ops in topological order with each node's parent count."""
    return [(n.op, len(n.parents)) for n in autograd.topological_order(v)]


def test_mse_and_sse_values_and_gradients():
    o = values(0.5, -1.0, 2.0)
    t = [1.0, 0.0, 2.5]
    loss = mse(o, t)
    assert loss.data == pytest.approx((0.25 + 1.0 + 0.25) / 3, abs=1e-15)
    loss.backward()
    assert [v.grad for v in o] == pytest.approx([2 * (ok.data - tk) / 3 for ok, tk in zip(o, t)], abs=1e-15)
    o = values(0.60944600, 0.66384491)
    e = sse(o, [0.4, 0.6])
    assert e.data == pytest.approx(0.5 * (0.2094460**2 + 0.06384491**2), abs=1e-12)
    e.backward()
    assert [v.grad for v in o] == pytest.approx([0.2094460, 0.06384491], abs=1e-12)  # o - t


def test_bce_on_probabilities():
    p = values(0.8)
    loss = bce(p, [1.0])
    assert loss.data == pytest.approx(-math.log(0.8), abs=1e-15)
    loss.backward()
    assert p[0].grad == pytest.approx(-1 / 0.8, abs=1e-12)
    assert bce(values(0.3, 0.6), [0.0, 1.0]).data == pytest.approx(-(math.log(0.7) + math.log(0.6)) / 2)


@pytest.mark.parametrize("p", [0.0, 1.0, 1.5, -0.2])
def test_bce_raises_when_the_output_is_not_strictly_a_probability(p):
    with pytest.raises(
        ValueError, match=rf"bce: output 0 is {p!r}, not a probability strictly between 0 and 1.*bce_logits"
    ):
        bce(Value(p), [1.0])


def test_bce_logits_equals_bce_of_sigmoid_and_is_stable():
    for s in [-3.0, -0.1, 0.0, 0.7, 4.0]:  # 0.0: where relu(s) + log(1 + exp(-|s|)) gets it wrong
        for t in [0.0, 1.0]:
            a, b = Value(s), Value(s)
            la, lb = bce_logits(a, [t]), bce(b.sigmoid(), [t])
            assert la.data == pytest.approx(lb.data, abs=1e-12)
            la.backward()
            lb.backward()
            assert a.grad == pytest.approx(1 / (1 + math.exp(-s)) - t, abs=1e-12)  # dE/ds = sigmoid(s) - t
            assert a.grad == pytest.approx(b.grad, abs=1e-12)
    big = Value(800.0)
    loss = bce_logits(big, [0.0])
    assert loss.data == pytest.approx(800.0) and math.isfinite(loss.data)
    loss.backward()
    assert big.grad == pytest.approx(1.0)
    assert bce_logits(Value(-800.0), [0.0]).data == pytest.approx(0.0, abs=1e-300)


def test_cross_entropy_is_log_softmax_and_its_gradient_is_softmax_minus_target():
    z = values(2.0, -1.0, 0.5)
    loss = cross_entropy(z, [0.0, 0.0, 1.0])
    denom = sum(math.exp(v.data) for v in z)
    assert loss.data == pytest.approx(-math.log(math.exp(0.5) / denom), abs=1e-14)
    loss.backward()
    softmax = [math.exp(v.data) / denom for v in z]
    assert [v.grad for v in z] == pytest.approx([softmax[0], softmax[1], softmax[2] - 1], abs=1e-14)


def test_cross_entropy_is_stable_for_huge_logits():
    z = values(1000.0, 0.0, -1000.0)
    loss = cross_entropy(z, [0.0, 1.0, 0.0])
    assert loss.data == pytest.approx(1000.0)
    loss.backward()
    assert [v.grad for v in z] == pytest.approx([1.0, -1.0, 0.0])


def test_hinge_binary_and_multiclass():
    s = Value(0.3)
    loss = hinge(s, [1.0])
    assert loss.data == pytest.approx(0.7)
    loss.backward()
    assert s.grad == -1.0
    assert hinge(Value(0.3), [-1.0]).data == pytest.approx(1.3)
    assert hinge(Value(2.0), [1.0]).data == 0.0
    z = values(1.0, 2.5, 0.0)  # true class 0: margins 1 + 2.5 - 1 = 2.5 and 1 + 0 - 1 = 0
    loss = hinge(z, [1.0, 0.0, 0.0])
    assert loss.data == pytest.approx(2.5)
    loss.backward()
    assert [v.grad for v in z] == [-1.0, 1.0, 0.0]


@pytest.mark.parametrize(
    "name, out, targets",
    [
        ("mse", [0.3, -0.2], [[1.0, 0.0], [0.0, 1.0]]),
        ("sse", [0.3, -0.2], [[1.0, 0.0], [0.0, 1.0]]),
        ("bce", [0.3], [[0.0], [1.0]]),
        ("bce", [0.3, 0.9], [[1.0, 0.0], [0.0, 1.0]]),
        ("bce_logits", [0.3], [[0.0], [1.0]]),
        ("cross_entropy", [0.3, -0.2, 5.0], [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]),
        ("hinge", [0.3], [[-1.0], [1.0]]),
        ("hinge", [0.3, 2.0, -1.0], [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]),
    ],
)
def test_graph_shape_does_not_depend_on_the_target(name, out, targets):
    fn = LOSSES[name]
    a, b = (fn(values(*out), t) for t in targets)
    assert shape(a) == shape(b)
    placeholder = fn(values(*out), [Value(x) for x in targets[0]])  # targets as Values work too
    assert placeholder.data == pytest.approx(a.data, abs=1e-15)


def test_losses_check_lengths_and_names():
    with pytest.raises(ValueError, match="mse: the model gave 2 outputs but the target has 3 entries"):
        mse(values(1.0, 2.0), [1.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="cross_entropy needs a model with 2 or more outputs"):
        cross_entropy(Value(1.0), [1.0])
    with pytest.raises(ValueError, match="unknown loss 'nll'; use one of 'mse', 'sse'"):
        get_loss("nll")
    assert get_loss("hinge") is hinge and get_loss(hinge) is hinge
    my = lambda o, t: (o - t[0]) ** 2  # noqa: E731
    assert get_loss(my).fn is my and get_loss(my).targets == "values" and not get_loss(my).is_library
    assert loss_name(mse) == "mse" and get_loss(my).name == "<lambda>"


def test_a_loss_declares_its_target_rule_and_the_library_ones_stay_the_librarys():
    assert [LOSSES[n].targets for n in ("mse", "sse", "bce", "bce_logits", "cross_entropy", "hinge")] == [
        "values",
        "values",
        "labels",
        "labels",
        "labels",
        "signs",
    ]
    on_labels = Loss(mse, targets="labels")
    assert on_labels.is_library and on_labels.name == "mse" and on_labels.fn is mse.fn
    assert on_labels(Value(0.5), [1.0]).data == mse(Value(0.5), [1.0]).data == 0.25
    mine = Loss(lambda o, t: o * 0 + 1, targets="signs", name="mine")
    assert not mine.is_library and mine.name == "mine" and repr(mine) == "Loss(mine, targets='signs')"
    with pytest.raises(ValueError, match="targets must be one of 'labels', 'signs', 'values'; got 'onehot'"):
        Loss(mse, targets="onehot")
    with pytest.raises(TypeError, match="fn must be callable"):
        Loss(3)


def test_encode_targets():
    assert encode_targets([0, 1, 1], "bce_logits", 1).tolist() == [[0.0], [1.0], [1.0]]
    assert encode_targets([0, 1], "hinge", 1).tolist() == [[-1.0], [1.0]]
    assert encode_targets([0, 1], "mse", 1).tolist() == [[0.0], [1.0]]  # values, as given
    assert encode_targets([0.4, 0.6], "sse", 1).tolist() == [[0.4], [0.6]]
    assert encode_targets([[0.4, 0.6]], "values", 2).tolist() == [[0.4, 0.6]]
    assert encode_targets([2, 0], "cross_entropy", 3).tolist() == [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    assert encode_targets([1], "hinge", 3).tolist() == [[0.0, 1.0, 0.0]]
    assert encode_targets([1.0], "labels", 2).tolist() == [[0.0, 1.0]]  # whole floats are fine
    assert encode_targets([0, 1], Loss(mse, targets="signs"), 1).tolist() == [[-1.0], [1.0]]


@pytest.mark.parametrize(
    "y, loss, n, message",
    [
        ([0, 2], "bce", 1, r"y\[1\] = 2 is out of range: a model with one output takes labels 0 and 1"),
        ([3], "cross_entropy", 3, r"y\[0\] = 3 is out of range: a model with 3 outputs take labels 0..2"),
        ([-1], "labels", 2, r"y\[0\] = -1 is out of range"),
        ([0.5], "labels", 2, r"y\[0\] = 0.5: class labels must be integers"),
        (["1"], "labels", 2, r"class labels must be integers"),
        ([1], "cross_entropy", 1, "cross_entropy needs a model with 2 or more outputs"),
        ([1], Loss(cross_entropy, targets="labels"), 1, "cross_entropy needs a model with 2 or more outputs"),
        ([1.0, 2.0], "mse", 2, r"the targets have shape \(2,\) but the model has 2 output\(s\)"),
        ([[1.0], [math.nan]], "mse", 1, r"y\[1\] = \[nan\] is not finite"),
    ],
)
def test_encode_targets_rejects_bad_labels(y, loss, n, message):
    with pytest.raises(ValueError, match=message):
        encode_targets(y, loss, n)


def test_l2_penalty():
    ps = values(1.0, -2.0, 3.0)
    reg = l2_penalty(ps, 1e-2)
    assert reg.data == pytest.approx(0.14)
    reg.backward()
    assert [p.grad for p in ps] == pytest.approx([0.02, -0.04, 0.06])
    with pytest.raises(ValueError, match="alpha must be a finite number"):
        l2_penalty(ps, math.nan)  # would make every weight NaN


def test_encode_targets_from_an_integer_array_matches_the_list_path():
    """The vectorised path for a data set's int labels gives the same targets as the loop."""
    import numpy as np

    y = np.array([0, 2, 1, 2])
    assert (encode_targets(y, "cross_entropy", 3) == encode_targets(y.tolist(), "cross_entropy", 3)).all()
    assert encode_targets(np.array([0, 1]), "hinge", 1).tolist() == [[-1.0], [1.0]]
    with pytest.raises(ValueError, match=r"y\[1\] = 3 is out of range"):
        encode_targets(np.array([0, 3]), "labels", 3)


def test_every_loss_passes_gradcheck():
    cases = {
        "mse": ([0.3, -0.4], [1.0, 0.0]),
        "sse": ([0.3, -0.4], [1.0, 0.0]),
        "bce": ([0.3, 0.8], [1.0, 0.0]),
        "bce_logits": ([0.3, -2.0], [1.0, 0.0]),
        "cross_entropy": ([0.3, -0.4, 1.2], [0.0, 1.0, 0.0]),
        "hinge": ([0.3, -0.4, 0.1], [0.0, 1.0, 0.0]),
    }
    for name, (out, t) in cases.items():
        assert autograd.gradcheck(lambda *o, name=name, t=t: LOSSES[name](list(o), t), values(*out)), name


# --- the names a drawing gives a loss's nodes --------------------------------------------------------

OP_AND_ID = re.compile(r"^(add|sub|mul|div|pow|relu|neg|exp|log|sum|max)\d+$")  # viz.graph's fallback names


def labels(v):
    """The labels of the nodes a loss made on top of ``v``'s inputs, in topological order."""
    return [n.label for n in reversed(autograd.topological_order(v)) if n.parents]


def test_the_losses_label_their_nodes_by_what_they_compute():
    assert labels(mse(values(0.5), [1.0])) == ["y - t", "(y - t)²", "Σ (y - t)²", "mse"]
    two = labels(sse(values(0.5, 0.2), [1.0, 0.0]))
    assert set(two) == {"t0 - y0", "(t0 - y0)²", "t1 - y1", "(t1 - y1)²", "Σ (t - y)²", "sse"}
    assert two[-1] == "sse" and len(two) == 6
    assert labels(hinge(values(0.3), [-1.0])) == ["t·y", "1 - t·y", "hinge"]
    multi = labels(hinge(values(0.3, -0.2), [0.0, 1.0]))
    assert {"z_y", "1 + z1 - z_y", "relu(1 + z0 - z_y)", "(1 - t1)·relu"} <= set(multi) and multi[
        -1
    ] == "hinge"
    assert labels(bce(values(0.8), [1.0]))[-3:] == ["-log likelihood", "Σ -log likelihood", "bce"]
    assert "softplus(s) - s·t" in labels(bce_logits(values(0.3), [1.0]))
    ce = labels(cross_entropy(values(0.3, -0.2), [0.0, 1.0]))
    assert {"m = max(z0, z1)", "exp(z1 - m)", "lse(z)", "Σ z·t"} <= set(ce) and ce[-1] == "cross_entropy"


def op_and_id_names(root):
    """The names a drawing of root's graph gives by op and id (``sub17``, ``pow18``)."""
    from viz import trace
    from viz.graph import gradients

    root.backward()
    graph = trace(root, gradients(root))
    return [n for n in map(graph.name, range(len(graph.nodes))) if OP_AND_ID.match(n)], graph


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_no_node_of_a_drawn_mlp_loss_is_named_by_its_op_and_id(name):
    """MLP(2, [4, 4, k]) and each loss, as a drawing names the nodes: none is ``sub17`` or ``pow18``."""
    import nn

    outputs = 3 if name == "cross_entropy" else 1
    model = nn.MLP(2, [4, 4, outputs], seed=0, output_activation="sigmoid" if name == "bce" else "linear")
    loss = get_loss(name)
    targets = encode_targets([1] if loss.targets != "values" else [[0.3] * outputs], loss, outputs)[0]
    bad, graph = op_and_id_names(loss(model([0.5, -0.3]), list(targets)))
    assert bad == [] and graph.name(graph.root) == name
    by_hand, _ = op_and_id_names(
        (model([0.5, -0.3])[0] - 1.0) ** 2 if outputs > 1 else (model([0.5, -0.3]) - 1.0) ** 2
    )
    assert by_hand  # the same model with an unlabelled loss: the check sees its op-and-id names
