"""Code written for micrograd's nn runs on chainrule's with only its imports changed, and gives
micrograd 0.1.0's numbers: ``random.seed(...)`` then ``MLP(...)`` draws micrograd's weights bit for
bit, ``nonlin=`` means what it means there, and micrograd's moons demo trains to the same losses."""

import random

import micrograd.engine
import micrograd.nn
import pytest

import autograd
import nn
from nn import MLP, Layer, Neuron, datasets


def demo_training(Value, MLP, steps):
    """micrograd's demo notebook, as written there (sklearn's moons replaced by chainrule's)."""
    random.seed(1337)
    X, y = datasets.moons(n=100, noise=0.1)
    y = y * 2 - 1  # make y be -1 or 1
    model = MLP(2, [16, 16, 1])  # 2-layer neural network

    def loss():
        inputs = [list(map(Value, xrow)) for xrow in X]
        scores = list(map(model, inputs))
        losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(y, scores)]  # svm "max-margin" loss
        data_loss = sum(losses) * (1.0 / len(losses))
        alpha = 1e-4
        reg_loss = alpha * sum(p * p for p in model.parameters())  # L2 regularization
        total_loss = data_loss + reg_loss
        accuracy = [(yi > 0) == (scorei.data > 0) for yi, scorei in zip(y, scores)]
        return total_loss, sum(accuracy) / len(accuracy)

    history = []
    for k in range(steps):
        total_loss, acc = loss()
        model.zero_grad()
        total_loss.backward()
        learning_rate = 1.0 - 0.9 * k / 100
        for p in model.parameters():
            p.data -= learning_rate * p.grad
        history.append((float(total_loss.data), float(acc)))
    return history, [p.data for p in model.parameters()]


def test_the_demo_training_loop_gives_micrograds_losses_and_accuracies():
    # micrograd takes about a second per step on a busy CI machine: 3 steps keep the test short
    # while covering the large first updates (lr 1.0, 0.991, ...), where any difference would grow.
    ours, our_weights = demo_training(autograd.Value, nn.MLP, steps=3)
    theirs, their_weights = demo_training(micrograd.engine.Value, micrograd.nn.MLP, steps=3)
    assert [acc for _, acc in ours] == [acc for _, acc in theirs]
    assert [loss for loss, _ in ours] == pytest.approx([loss for loss, _ in theirs], rel=0, abs=1e-12)
    assert our_weights == pytest.approx(their_weights, rel=0, abs=1e-12)
    assert theirs[0][0] > theirs[-1][0]  # it does train: both lists move the same way, not stand still


def weights(module):
    return [p.data for p in module.parameters()]


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (lambda: MLP(2, [16, 16, 1]), lambda: micrograd.nn.MLP(2, [16, 16, 1])),
        (lambda: MLP(3, [4, 2]), lambda: micrograd.nn.MLP(3, [4, 2])),
        (lambda: Layer(3, 4, nonlin=False), lambda: micrograd.nn.Layer(3, 4, nonlin=False)),
        (lambda: Layer(3, 4), lambda: micrograd.nn.Layer(3, 4)),
        (lambda: Neuron(5, nonlin=False), lambda: micrograd.nn.Neuron(5, nonlin=False)),
        (lambda: Neuron(5), lambda: micrograd.nn.Neuron(5)),
    ],
)
def test_random_seed_then_construction_draws_micrograds_weights_bit_for_bit(ours, theirs):
    random.seed(1337)
    a = ours()
    after_ours = random.random()  # both consume the global generator by the same amount
    random.seed(1337)
    b = theirs()
    assert weights(a) == weights(b) and after_ours == random.random()
    neurons = [m for _, m in a.modules() if isinstance(m, Neuron)]
    assert [n.b.data for n in neurons] == [0.0] * len(neurons)  # biases start at 0, drawing nothing
    x = [0.5, -1.5, 2.0, 0.25, -0.75][: a.nin]
    out_a, out_b = a(x), b(x)
    out_a, out_b = (out_a, out_b) if isinstance(out_a, list) else ([out_a], [out_b])
    assert [v.data for v in out_a] == pytest.approx([v.data for v in out_b], rel=0, abs=1e-12)


def test_nonlin_means_relu_or_linear_as_in_micrograd():
    w = [1.0, -2.0, 0.5]  # the sum at x = (1, 1) is -0.5
    assert Neuron(2, nonlin=True, weights=w)([1.0, 1.0]).data == 0.0
    assert Neuron(2, nonlin=False, weights=w)([1.0, 1.0]).data == -0.5
    assert Neuron(2, nonlin=True, weights=w).nonlin and not Neuron(2, nonlin=False, weights=w).nonlin
    assert Neuron(2, weights=w).activation == "relu"  # micrograd's default too
    layer = Layer(2, 3, nonlin=False, seed=0)
    assert [n.activation for n in layer.neurons] == ["linear"] * 3 and not layer.neurons[0].nonlin
    m = MLP(2, [3, 3, 1], seed=0)  # as micrograd: every layer nonlinear except the last
    assert [n.nonlin for layer in m.layers for n in layer.neurons] == [True] * 6 + [False]


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: Neuron(2, activation="tanh", nonlin=True), ValueError, "activation='tanh' or .* not both"),
        (lambda: Layer(2, 2, activation="relu", nonlin=False), ValueError, "not both"),
        (lambda: Neuron(2, nonlin=1), TypeError, r"nonlin must be True \(relu\) or False \(linear\)"),
        (lambda: Neuron(2, False), ValueError, r"got False \(for micrograd's flag, pass nonlin=False\)"),
    ],
)
def test_conflicting_or_wrong_nonlin_is_a_clear_error(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_an_integer_seed_uses_its_own_generator_and_leaves_the_global_one_alone():
    random.seed(1337)
    from_global = weights(MLP(2, [16, 16, 1]))
    random.seed(99)
    state = random.getstate()
    assert weights(MLP(2, [16, 16, 1], seed=1337)) == from_global  # the same stream, privately
    assert random.getstate() == state
    assert weights(MLP(2, [4, 1], seed=3)) == weights(MLP(2, [4, 1], seed=3))


@pytest.mark.parametrize("init", ["xavier", "he"])
def test_other_initializers_also_follow_the_global_generator_when_seed_is_none(init):
    random.seed(5)
    a = weights(MLP(3, [4, 1], init=init))
    random.seed(5)
    assert weights(MLP(3, [4, 1], init=init)) == a == weights(MLP(3, [4, 1], init=init, seed=5))
    assert a != weights(MLP(3, [4, 1], init=init))  # the global generator has moved on
