"""The 2-2-2 worked example built with nn: MLP(2, [2, 2]) with sigmoid layers, no biases, the
article's weights, loss "sse" (0.5 * sum). Every number of the example's table to 8 decimals, and one
SGD step with lr 0.5."""

import math

import pytest

from nn import SGD, fit, sse
from nn.worked_example import W1, W2, T, X, worked_example_mlp

X = list(X)


def model():
    return worked_example_mlp()


def sigmoid(s):
    return 1 / (1 + math.exp(-s))


def rounded(values):
    return [round(v, 8) for v in values]


def weights(m, layer):
    return [w.data for n in m.layers[layer].neurons for w in n.w]


def grads(m, layer):
    return [w.grad for n in m.layers[layer].neurons for w in n.w]


def test_forward_numbers_of_the_table():
    m = model()
    o = m(X)
    h = [oi.parents[0].parents[k].parents[0] for k, oi in zip(range(2), o)]  # x·w -> its input h_k
    z = [n.parents[0] for n in h]
    assert [v.label for v in h] == ["sigmoid", "sigmoid"] and [v.label for v in z] == ["Σ", "Σ"]
    assert rounded([v.data for v in z]) == [0.08, 0.11]
    assert rounded([v.data for v in h]) == [0.51998934, 0.52747230]
    assert rounded([v.data for v in o]) == [0.60944600, 0.66384491]
    assert rounded([0.5 * (t - oi.data) ** 2 for t, oi in zip(T, o)]) == [0.02193381, 0.00203809]
    assert rounded([sse(o, T).data]) == [0.02397190]


def test_gradients_and_one_sgd_step():
    m = model()
    assert [p.data for p in m.parameters()] == [0.3, 0.25, 0.4, 0.35, 0.45, 0.4, 0.7, 0.6]
    sse(m(X), T).backward()
    assert rounded(grads(m, 1)) == [0.02592286, 0.02629590, 0.00740844, 0.00751506]
    assert rounded(grads(m, 0)) == [0.00080888, 0.00161775, 0.00071009, 0.00142017]
    SGD(m.parameters(), lr=0.5).step()
    assert rounded(weights(m, 1)) == [0.43703857, 0.38685205, 0.69629578, 0.59624247]
    assert rounded(weights(m, 0)) == [0.29959556, 0.24919112, 0.39964496, 0.34928991]


@pytest.mark.parametrize("engine", ["auto", "eager"])
def test_fit_trains_the_worked_example_on_its_targets(engine):
    """fit with loss="sse" on the one example and its real-valued targets (0.4, 0.6): its batch loss
    is the table's E, its step the table's; auto takes the tape (the library's model and loss)."""
    m = model()
    history = fit(
        m,
        [X],
        [T],
        loss="sse",
        optimizer=SGD(m.parameters(), lr=0.5),
        epochs=1,
        progress=False,
        engine=engine,
    )
    assert history.engine == ("tape" if engine == "auto" else "eager")
    assert list(history.last) == ["train_loss"]  # a regression: no accuracy
    assert rounded([history.last["train_loss"]]) == [0.02397190]
    assert rounded(weights(m, 1)) == [0.43703857, 0.38685205, 0.69629578, 0.59624247]
    assert rounded(weights(m, 0)) == [0.29959556, 0.24919112, 0.39964496, 0.34928991]


def test_a_hundred_epochs_of_fit_are_the_hand_written_loop():
    hand = model()
    for _ in range(100):
        hand.zero_grad()
        sse(hand(X), T).backward()
        for p in hand.parameters():
            p.data -= 0.5 * p.grad
    m = model()
    history = fit(m, [X], [T], loss="sse", optimizer=SGD(m.parameters(), lr=0.5), epochs=100, progress=False)
    assert history.engine == "tape"
    assert [p.data for p in m.parameters()] == pytest.approx([p.data for p in hand.parameters()], abs=1e-13)
    assert history["train_loss"][-1] < history["train_loss"][0] / 2


def test_o2_is_the_articles_computed_value_not_its_misprint():
    """The article's prose says o2 = 0.66484491; its own code (and this engine) give 0.66384491.
    The engine's o2 is checked against a closed form and lies 1e-3 below the misprint."""
    o2 = model()(X)[1].data
    h = [sigmoid(sum(w * x for w, x in zip(row, X))) for row in W1]
    assert o2 == pytest.approx(sigmoid(sum(w * hk for w, hk in zip(W2[1], h))), abs=1e-15)
    assert round(o2, 8) == 0.66384491
    assert round(0.66484491 - o2, 8) == 0.001
