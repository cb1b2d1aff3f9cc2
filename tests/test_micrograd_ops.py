"""Ops written micrograd's way: ``out = Value(t, (self,), 'tanh')``, then ``out._backward = closure``,
often added to the class from outside (``Value.tanh = tanh``), as tutorials and micrograd's pull
requests do. The same script runs on micrograd 0.1.0 and on chainrule and prints the same numbers;
the gradients agree with finite differences; drawings show what each closure gives; copies carry
their closures; the batch tape refuses such a node by name."""

import copy
import math
import pickle
import warnings

import micrograd.engine
import pytest

import nn
from autograd import NotTraceable, Tape, Value, grad, no_grad, numerical_grad
from viz import trace


def add_tutorial_ops(V, monkeypatch):
    """The lecture's additions, as a script writes them: functions assigned to the class."""

    def tanh(self):
        x = self.data
        t = (math.exp(2 * x) - 1) / (math.exp(2 * x) + 1)
        out = V(t, (self,), "tanh")

        def _backward():
            self.grad += (1 - t**2) * out.grad

        out._backward = _backward
        return out

    def exp(self):
        out = V(math.exp(self.data), (self,), "exp")

        def _backward():
            self.grad += out.data * out.grad

        out._backward = _backward
        return out

    def pow_(self, other):
        assert isinstance(other, int | float), "only supporting int/float powers for now"
        out = V(self.data**other, (self,), f"**{other}")

        def _backward():
            self.grad += other * (self.data ** (other - 1)) * out.grad

        out._backward = _backward
        return out

    def softplus(self):  # a name no primitive has: its closure is all there is
        out = V(math.log1p(math.exp(self.data)), (self,), "softplus")

        def _backward():
            self.grad += (1 / (1 + math.exp(-self.data))) * out.grad

        out._backward = _backward
        return out

    for name, fn in (("tanh", tanh), ("exp", exp), ("__pow__", pow_), ("softplus", softplus)):
        monkeypatch.setattr(V, name, fn, raising=False)


def neuron(V, x1=2.0, x2=0.0, w1=-3.0, w2=1.0, b=6.8813735870195432):
    """The lecture's neuron, with tanh written as (e^2n - 1) / (e^2n + 1) from the custom exp and
    **, then a softplus and a cube on top."""
    x1, x2, w1, w2, b = V(x1), V(x2), V(w1), V(w2), V(b)
    n = x1 * w1 + x2 * w2 + b
    e = (2 * n).exp()
    o = (e - 1) * (e + 1) ** -1
    out = o.softplus() + n.tanh() ** 3
    return [x1, x2, w1, w2, b], out


def test_a_tutorial_script_prints_micrograds_numbers(monkeypatch):
    printed = {}
    for V in (Value, micrograd.engine.Value):
        add_tutorial_ops(V, monkeypatch)
        leaves, out = neuron(V)
        out.backward()
        printed[V] = [f"{out.data:.12f}"] + [f"{v.grad:.12f}" for v in leaves]
    ours, theirs = printed.values()
    assert ours == theirs
    assert ours[0] == f"{math.log1p(math.exp(math.sqrt(0.5))) + math.sqrt(0.5) ** 3:.12f}"


def test_custom_ops_give_the_gradients_of_finite_differences(monkeypatch):
    add_tutorial_ops(Value, monkeypatch)
    for point in [(2.0, 0.0, -3.0, 1.0, 6.88), (0.5, -1.2, 0.3, 0.8, -0.1), (-1.0, 2.0, 0.7, -0.4, 0.2)]:
        leaves, out = neuron(Value, *point)
        assert all(n._prim.custom for n in (out.parents[0], out.parents[1]))  # softplus, **3
        out.backward()

        def f(*xs):
            return neuron(Value, *(x.data for x in xs))[1]

        numeric = numerical_grad(f, leaves, eps=1e-6)
        for v, g in zip(leaves, numeric):
            assert v.grad == pytest.approx(g, rel=1e-6, abs=1e-8)
        assert [g.data for g in grad(out, leaves)] == [v.grad for v in leaves]  # grad() runs closures too


def test_backward_runs_closures_in_order_and_accumulates_as_micrograd(monkeypatch):
    add_tutorial_ops(Value, monkeypatch)
    x = Value(0.5)
    y = x.tanh() * x.tanh() + x.exp()  # x used three times, through two custom ops
    y.backward()
    t = math.tanh(0.5)
    assert x.grad == pytest.approx(2 * t * (1 - t * t) + math.exp(0.5), rel=1e-14)
    y.backward()  # a second call adds again to the leaf, as micrograd's does
    assert x.grad == pytest.approx(2 * (2 * t * (1 - t * t) + math.exp(0.5)), rel=1e-14)


def test_drawings_show_the_local_derivative_each_closure_gives(monkeypatch):
    add_tutorial_ops(Value, monkeypatch)
    x = Value(0.3, label="x")
    s = x.softplus()
    y = (s**2).tanh()
    y.backward()
    graph = trace(y)
    names = [n.label or n.op for n in graph.nodes]
    local = {(names[e.parent], graph.nodes[e.child].op): e for e in graph.edges}
    sp = math.log1p(math.exp(0.3))
    assert local[("x", "softplus")].local == pytest.approx(1 / (1 + math.exp(-0.3)), rel=1e-15)
    assert local[("softplus", "**2")].local == pytest.approx(2 * sp, rel=1e-15)
    assert local[("**2", "tanh")].local == pytest.approx(1 - math.tanh(sp**2) ** 2, rel=1e-15)
    edge = local[("x", "softplus")]
    assert edge.carried == pytest.approx(x.grad, rel=1e-15)  # the carried gradient is the real one
    assert (x.grad, s.grad, y.grad) != (0.0, 0.0, 0.0) and y.grad == 1.0  # measuring put every grad back


def test_a_parent_used_twice_by_one_closure_shares_its_total():
    x = Value(3.0)
    sq = Value(9.0, (x, x), "square")

    def _backward():
        x.grad += 2 * x.data * sq.grad

    sq._backward = _backward
    assert sq.local_grads == (3.0, 3.0)  # the closure gives only the total 6 = 3 + 3
    sq.backward()
    assert x.grad == 6.0


def test_what_cannot_be_run_says_so():
    x = Value(1.0)
    with pytest.raises(ValueError, match="a leaf has no _children"):
        x._backward = lambda: None
    with pytest.raises(TypeError, match="must be a function"):
        Value(1.0, (x,), "f")._backward = 3
    with no_grad():  # no graph is recorded: a tutorial op still runs, its closure has nothing to do
        out = Value(2.0, (x,), "double")
        out._backward = lambda: None
        assert out.is_leaf
    odd = Value(2.0, (x,), "double")
    with pytest.raises(ValueError, match=r"the 'double' node has no derivative.*assign one"):
        odd.backward()
    custom = Value(2.0, (x,), "double")
    custom._backward = lambda: None
    with pytest.raises(TypeError, match=r"create_graph=True\) through the custom 'double' node"):
        grad(custom, [x], create_graph=True)


def test_the_batch_tape_refuses_a_custom_node_by_name(monkeypatch):
    add_tutorial_ops(Value, monkeypatch)
    w = Value(0.3)
    with pytest.raises(NotTraceable, match=r"cannot replay the custom 'softplus' node"):
        Tape.trace(lambda xs: w.softplus() * xs[0], [w], [1.0])
    refused = r"reading .data of the input x\[0\] at test_micrograd_ops.py:\d+ \(softplus\)"
    with pytest.raises(NotTraceable, match=refused):
        Tape.trace(lambda xs: xs[0].softplus(), [w], [1.0])


def test_fit_on_auto_runs_eagerly_when_the_library_model_meets_a_replaced_method(monkeypatch):
    X, y = nn.datasets.moons(n=40, seed=0)
    runs = {}
    for patched in (False, True):
        if patched:
            add_tutorial_ops(Value, monkeypatch)  # Value.tanh is now the tutorial's: MLP(tanh) uses it
        model = nn.MLP(2, [4, 1], activation="tanh", seed=0)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            h = nn.fit(model, X, y, loss="hinge", optimizer=nn.SGD(model.parameters(), lr=0.1), epochs=3)
        runs[patched] = h
        assert bool(caught) == patched and h.engine == ("eager" if patched else "tape")
    assert "test_micrograd_ops.py" in runs[True].engine_reason  # the refusal names the line
    for a, b in zip(runs[False].epochs, runs[True].epochs):  # the same tanh: the same training
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-12)


def test_deepcopy_copies_the_closures_with_the_graph(monkeypatch):
    add_tutorial_ops(Value, monkeypatch)
    leaves, out = neuron(Value)
    twin = copy.deepcopy(out)
    twin.backward()
    assert all(v.grad == 0.0 for v in leaves)  # the copy's closures update the copy's nodes
    out.backward()
    twin_leaves = [v for v in _leaves(twin)]
    assert sorted(v.grad for v in twin_leaves) == sorted(v.grad for v in _leaves(out))
    with pytest.raises(TypeError, match=r"cannot pickle the custom .* node: its derivative is a _backward"):
        pickle.dumps(out)


def test_copy_copy_of_a_custom_node_passes_its_own_gradient(monkeypatch):
    add_tutorial_ops(Value, monkeypatch)
    x = Value(0.3)
    s = x.softplus()
    twin = copy.copy(s)
    assert twin.parents == (x,)  # a shallow copy shares the parents
    twin.backward()  # the closure, rebound to the copy, reads the copy's gradient (1), not s's (0)
    assert x.grad == pytest.approx(1 / (1 + math.exp(-0.3)), rel=1e-15) and s.grad == 0.0


def _leaves(v):
    from autograd import topological_order

    return [u for u in topological_order(v) if u.is_leaf]
