"""copy.deepcopy and pickle of Values (with their graph), modules and optimizers: "keep the best
model", and handing a model to another process."""

import copy
import pickle

import numpy as np
import pytest

import nn
from autograd import NotTraceable, Tape, Value, topological_order


def weights(model):
    return [p.data for p in model.parameters()]


def test_keep_the_best_model_with_deepcopy():
    X, y = nn.datasets.moons(n=120, noise=0.2, seed=1)
    Xt, yt, Xv, yv = X[:80], y[:80], X[80:], y[80:]
    model = nn.MLP(2, [8, 8, 1], seed=0)
    opt = nn.Adam(model.parameters(), lr=0.05)
    best, best_loss, best_weights, best_predictions = None, float("inf"), None, None
    for _ in range(8):
        h = nn.fit(model, Xt, yt, loss="hinge", optimizer=opt, epochs=5, validation=(Xv, yv))
        if h.last["val_loss"] < best_loss:
            best_loss, best = h.last["val_loss"], copy.deepcopy(model)
            best_weights, best_predictions = weights(model), nn.predict(model, Xv)
    nn.fit(model, Xt, yt, loss="hinge", optimizer=opt, epochs=5)  # training goes on after the best epoch
    assert best is not None and best_weights != weights(model)
    assert weights(best) == best_weights  # equal: the copy kept the best epoch's numbers exactly
    assert np.array_equal(nn.predict(best, Xv), best_predictions)
    assert nn.evaluate(best, Xv, yv, "hinge")["loss"] == pytest.approx(best_loss, rel=1e-12)
    ours = {id(p) for p in model.parameters()}
    assert not any(id(p) in ours for p in best.parameters())  # independent: no Value shared
    before = weights(model)
    nn.fit(best, Xt, yt, loss="hinge", optimizer=nn.SGD(best.parameters(), lr=0.1), epochs=2)
    assert weights(model) == before and weights(best) != best_weights  # each trains alone
    assert repr(best) == repr(model)


def test_pickled_model_and_optimizer_train_on_exactly_as_the_originals():
    X, y = nn.datasets.moons(n=60, seed=0)
    model = nn.MLP(2, [8, 1], seed=0)
    opt = nn.Adam(model.parameters(), lr=0.05)
    nn.fit(model, X, y, loss="hinge", optimizer=opt, epochs=3)  # Adam now has moments to keep
    model2, opt2 = pickle.loads(pickle.dumps((model, opt)))
    assert opt2.params[0] is model2.parameters()[0]  # the optimizer still moves the model's Values
    assert weights(model2) == weights(model)
    for m, o in ((model, opt), (model2, opt2)):
        nn.fit(m, X, y, loss="hinge", optimizer=o, epochs=3)
    assert weights(model2) == weights(model)  # moments and step count came along


def test_deepcopy_of_an_optimizer_with_its_model_stays_wired():
    model = nn.MLP(2, [3, 1], seed=0)
    opt = nn.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model2, opt2 = copy.deepcopy((model, opt))
    assert [id(p) for p in opt2.params] == [id(p) for p in model2.parameters()]
    out = model2([1.0, 2.0])
    out.backward()
    opt2.step()
    assert weights(model2) != weights(model)


@pytest.mark.parametrize("copier", [copy.deepcopy, lambda v: pickle.loads(pickle.dumps(v))])
def test_a_value_comes_with_its_graph(copier):
    x, w = Value(0.5, label="x"), Value(-1.5, label="w")
    y = (x * w + 3).tanh() * x + (w**2).exp().log()
    y.label = "y"
    y2 = copier(y)
    y.backward()
    y2.backward()
    nodes, nodes2 = topological_order(y), topological_order(y2)

    def seen(vs):
        return [(v.op, v.label, v.data, v.grad) for v in vs]

    assert seen(nodes) == seen(nodes2)
    assert not {id(v) for v in nodes} & {id(v) for v in nodes2}
    shared = [v for v in nodes2 if v.label == "x"]
    assert len(shared) == 1  # x, used twice, is still one node in the copy


@pytest.mark.parametrize("copier", [copy.deepcopy, lambda v: pickle.loads(pickle.dumps(v))])
def test_a_graph_deeper_than_the_recursion_limit_copies(copier):
    x = Value(1.0)
    v = x
    for _ in range(50_000):
        v = v * 1.00001 + 0.0
    v2 = copier(v)
    v2.backward()
    v.backward()
    leaf = [u for u in topological_order(v2) if u.is_leaf and u.data == 1.0]
    assert v2.data == v.data and leaf[0].grad == x.grad


def test_pickling_two_roots_over_one_deep_graph_leaves_every_node_picklable_alone():
    v = Value(1.0)
    for _ in range(20_000):
        v = v * 1.00001
    a, b = pickle.loads(pickle.dumps([v * 2.0, v * 3.0]))
    assert a.parents[0] is b.parents[0]  # the shared graph is one graph after unpickling
    assert pickle.loads(pickle.dumps(v)).data == v.data  # and the middle of it still pickles on its own


def test_copy_copy_shares_parents_and_a_traced_node_refuses_to_be_copied():
    a, b = Value(2.0), Value(3.0)
    c = a * b
    c2 = copy.copy(c)
    assert c2 is not c and c2.parents == (a, b) and c2.local_grads == (3.0, 2.0)

    def f(xs):
        for how in (copy.deepcopy, pickle.dumps):
            with pytest.raises(NotTraceable, match=r"(copying|pickling) the input x\[0\]"):
                how(xs[0])
        return xs[0] * a

    Tape.trace(f, [a], [1.0])
