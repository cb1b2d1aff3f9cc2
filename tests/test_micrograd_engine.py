"""Code written for micrograd runs on chainrule with only its import changed, and gives micrograd's
numbers: a hand-written graph walk and drawing over ``_prev``/``_op``, the lecture's by-hand
``_backward()`` cells, micrograd's constructor shape, and micrograd 0.1.0's own engine tests."""

import math

import pytest
from graphviz import Digraph
from micrograd.engine import Value as MValue
from required import required

from autograd import Value

# --- micrograd's own graph walk and drawing (from its trace_graph notebook), written as its users do --


def trace(root):
    nodes, edges = set(), set()

    def build(v):
        if v not in nodes:
            nodes.add(v)
            for child in v._prev:
                edges.add((child, v))
                build(child)

    build(root)
    return nodes, edges


def draw_dot(root):
    dot = Digraph(format="svg", graph_attr={"rankdir": "LR"})
    nodes, edges = trace(root)
    for n in nodes:
        uid = str(id(n))
        dot.node(name=uid, label="{ data %.4f | grad %.4f }" % (n.data, n.grad), shape="record")  # noqa: UP031
        if n._op:
            dot.node(name=uid + n._op, label=n._op)
            dot.edge(uid + n._op, uid)
    for n1, n2 in edges:
        dot.edge(str(id(n1)), str(id(n2)) + n2._op)
    return dot


def build_topo(root):
    topo, visited = [], set()

    def build(v):
        if v not in visited:
            visited.add(v)
            for child in v._prev:
                build(child)
            topo.append(v)

    build(root)
    return topo


def neuron(V):
    """The lecture's neuron, with the ops micrograd 0.1.0 has: relu((x1 w1 + x2 w2 + b)) ** 2."""
    x1, x2, w1, w2, b = V(2.0), V(0.0), V(-3.0), V(1.0), V(6.8813735870195432)
    x1w1 = x1 * w1
    x2w2 = x2 * w2
    x1w1x2w2 = x1w1 + x2w2
    n = x1w1x2w2 + b
    o = n.relu() ** 2
    return [x1, x2, w1, w2, b, x1w1, x2w2, x1w1x2w2, n, o.parents[0] if V is Value else _relu_of(o), o]


def _relu_of(o):
    (r,) = o._prev
    return r


def canonical(root):
    """The drawing's content without ids: each node's record label and op, each edge by its ends' labels."""
    dot = draw_dot(root)
    names = {}
    for n in trace(root)[0]:
        names[str(id(n))] = f"data {n.data:.4f} | grad {n.grad:.4f}"
    lines = []
    for line in dot.body:
        for uid, name in names.items():
            line = line.replace(uid, name)
        lines.append(line.strip())
    return sorted(lines)


def test_hand_written_draw_dot_over_prev_and_op_matches_micrograd():
    ours, theirs = neuron(Value)[-1], neuron(MValue)[-1]
    ours.backward()
    theirs.backward()
    assert canonical(ours) == canonical(theirs)
    assert {n._op for n in trace(ours)[0]} == {"", "*", "+", "ReLU", "**2"}
    assert "data 0.7768 | grad 1.0000" in " ".join(canonical(ours))  # o = relu(0.8814) ** 2; do/dn = 1.7627
    edges = 6 + 10  # op -> node for the 6 computed nodes, parent -> op for their 10 inputs
    assert draw_dot(ours).source.count("->") == draw_dot(theirs).source.count("->") == edges


def test_prev_is_the_read_only_set_of_parents():
    a, b = Value(2.0), Value(3.0)
    c = a * b
    assert c._prev == {a, b} and (a + a)._prev == {a} and a._prev == set()
    with pytest.raises(AttributeError):
        c._prev = set()
    with pytest.raises(AttributeError):
        c._prev.add(a)  # a frozenset: the graph cannot be changed through it
    assert (c._op, (a + b)._op, (a**2)._op, a.relu()._op, a._op) == ("*", "+", "**2", "ReLU", "")
    assert "x" + c._op == "x*" and isinstance(c._op, str)
    assert (a**0.5)._op == "**0.5" and (a**-1)._op == "**-1" and (a - b)._op == "-"


def test_by_hand_backward_cells_of_the_lecture_match_micrograd():
    ours, theirs = neuron(Value), neuron(MValue)
    for nodes in (ours, theirs):
        o = nodes[-1]
        o.grad = 1.0
        for node in reversed(nodes):  # o, relu, n, x1w1x2w2, x2w2, x1w1, then the leaves (no-ops)
            node._backward()
    assert [v.grad for v in ours] == [v.grad for v in theirs]
    assert [v.data for v in ours] == [v.data for v in theirs]
    x1, x2, w1, w2 = ours[:4]
    r = ours[-2].data
    assert w1.grad == pytest.approx(2 * r * x1.data) and x2.grad == pytest.approx(2 * r * w2.data)


def test_build_topo_then_backward_step_by_step_equals_backward():
    ours, theirs = neuron(Value), neuron(MValue)
    for nodes in (ours, theirs):
        nodes[-1].grad = 1.0
        for node in reversed(build_topo(nodes[-1])):
            node._backward()
    again = neuron(Value)
    again[-1].backward()
    assert [v.grad for v in ours] == [v.grad for v in theirs] == [v.grad for v in again]


def test_micrograd_constructor_shape():
    a, b = Value(2.0), Value(-3.0)
    c = Value(a.data * b.data, (a, b), "*")  # as micrograd's own ops build their outputs
    d = Value(math.tanh(c.data), (c,), "tanh")
    e = Value(c.data**2, (c,), "**2", label="e")
    (d + e).backward()
    assert c.parents == (a, b) and c.local_grads == (-3.0, 2.0) and c.op == "*"
    assert e.label == "e" and e.local_grads == (2 * c.data,)
    dc = (1 - d.data**2) + 2 * c.data
    assert (a.grad, b.grad) == (pytest.approx(dc * -3.0), pytest.approx(dc * 2.0))
    assert Value(1.0, (), "").is_leaf and Value(1.0, label="").label == ""
    with pytest.raises(ValueError, match="_children given without _op"):
        Value(1.0, (a, b))  # never the tuple taken for a label
    with pytest.raises(TypeError, match=r"_children\[0\] must be a Value, got str 'x'.*label="):
        Value(1.0, "x")
    with pytest.raises(TypeError, match="label must be a string, got int 3"):
        Value(1.0, label=3)
    sin = Value(0.0, (a,), "sin")  # not a primitive: an op written micrograd's way, its closure to come
    with pytest.raises(ValueError, match=r"the 'sin' node has no derivative.*no _backward closure"):
        sin.backward()


def draw_dot_labelled(root):
    """The lecture's draw_dot: the record shows each node's label, '' for an unlabelled one."""
    dot = Digraph(format="svg", graph_attr={"rankdir": "LR"})
    nodes, edges = trace(root)
    for n in nodes:
        uid = str(id(n))
        dot.node(name=uid, label="{ %s | data %.4f | grad %.4f }" % (n.label, n.data, n.grad), shape="record")  # noqa: UP031
        if n._op:
            dot.node(name=uid + n._op, label=n._op)
            dot.edge(uid + n._op, uid)
    for n1, n2 in edges:
        dot.edge(str(id(n1)), str(id(n2)) + n2._op)
    return dot


def test_lecture_draw_dot_with_labels_matches_micrograd(monkeypatch):
    # micrograd 0.1.0's Value has no label; the lecture's has label='' by default: give it that
    monkeypatch.setattr(MValue, "label", "", raising=False)
    drawn = []
    for V in (Value, MValue):
        nodes = neuron(V)
        for v, name in zip(nodes, ["x1", "x2", "w1", "w2", "b", "x1*w1", "x2*w2", "x1*w1 + x2*w2", "n"]):
            v.label = name  # the lecture labels these by hand; relu(n) and o stay unlabelled
        nodes[-1].backward()
        dot = draw_dot_labelled(nodes[-1])
        ids = {str(id(n)): f"{n.label}/{n.data:.4f}" for n in trace(nodes[-1])[0]}
        lines = []
        for line in dot.body:
            for uid, name in sorted(ids.items(), key=lambda kv: -len(kv[0])):
                line = line.replace(uid, name)
            lines.append(line.strip())
        drawn.append(sorted(lines))
        assert nodes[-1].label + "?" == "?"  # code such as n.label + "..." works on an unlabelled node
    ours, theirs = drawn
    assert ours == theirs
    text = " ".join(ours)
    assert "None" not in text and "{  | data 0.7768 | grad 1.0000 }" in text  # o = relu(0.8814) ** 2
    assert "{ n | data 0.8814 | grad 1.7627 }" in text and "{ x1 | data 2.0000 | grad -5.2882 }" in text


def test_backward_assigned_is_the_nodes_derivative_and_op_stays_fixed():
    a = Value(2.0)
    out = Value(8.0, (a,), "**3")  # micrograd's way to make a node; OPS's rule until a closure comes
    out.grad = 1.0
    out._backward()  # the table's step: d a**3 / d a = 3 a**2
    assert a.grad == 12.0 and out.local_grads == (12.0,)
    out._backward = lambda: setattr(a, "grad", a.grad + 5.0 * out.grad)  # now the closure is the rule
    assert out._prim.custom and out.local_grads == (5.0,) and (a.grad, out.grad) == (12.0, 1.0)
    out.backward()
    assert a.grad == 12.0 + 5.0  # leaves accumulate across calls, as in micrograd
    with pytest.raises(AttributeError, match=r"_op is fixed when it is made \(got 'foo'\).*OPS"):
        out._op = "foo"
    assert (out.op, out._op) == ("**3", "**3")
    v = Value(1.0)
    for bad in (3, b"x", ["x"]):
        with pytest.raises(TypeError, match=f"label must be a string, got {type(bad).__name__}"):
            v.label = bad
        with pytest.raises(TypeError, match=f"label must be a string, got {type(bad).__name__}"):
            Value(1.0, label=bad)
    v.label = "x"
    assert v.label == "x" and repr(v) == "Value(data=1.0, grad=0.0, label='x')"
    v.label = None  # no label, as Value(1.0, label=None) gives
    assert v.label == "" == Value(1.0, label=None).label == Value(1.0).label == (v * 2).label


def test_extra_attributes_keep_optimizer_state():
    params = [Value(0.5), Value(-1.5)]
    for p in params:
        p.m, p.v = 0.0, 0.0
    for _ in range(2):
        loss = params[0] * params[1]
        for p in params:
            p.grad = 0.0
        loss.backward()
        for p in params:  # Adam's moments, kept on the parameter as in an AdamW written for micrograd
            p.m = 0.9 * p.m + 0.1 * p.grad
            p.v = 0.999 * p.v + 0.001 * p.grad**2
            p.data -= 0.1 * p.m / (p.v**0.5 + 1e-8)
    assert params[0].m != 0.0 and params[1].v > 0.0


# --- micrograd 0.1.0's test/test_engine.py, unchanged but for its imports ---------------------------
# Copyright (c) 2020 Andrej Karpathy, MIT License (micrograd, https://github.com/karpathy/micrograd);
# taken from the micrograd 0.1.0 source distribution on PyPI.


def test_sanity_check():
    torch = required("torch", "torch")

    x = Value(-4.0)
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    y.backward()
    xmg, ymg = x, y

    x = torch.Tensor([-4.0]).double()
    x.requires_grad = True
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    y.backward()
    xpt, ypt = x, y

    # forward pass went well
    assert ymg.data == ypt.data.item()
    # backward pass went well
    assert xmg.grad == xpt.grad.item()


def test_more_ops():
    torch = required("torch", "torch")

    a = Value(-4.0)
    b = Value(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    g.backward()
    amg, bmg, gmg = a, b, g

    a = torch.Tensor([-4.0]).double()
    b = torch.Tensor([2.0]).double()
    a.requires_grad = True
    b.requires_grad = True
    c = a + b
    d = a * b + b**3
    c = c + c + 1
    c = c + 1 + c + (-a)
    d = d + d * 2 + (b + a).relu()
    d = d + 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g = g + 10.0 / f
    g.backward()
    apt, bpt, gpt = a, b, g

    tol = 1e-6
    # forward pass went well
    assert abs(gmg.data - gpt.data.item()) < tol
    # backward pass went well
    assert abs(amg.grad - apt.grad.item()) < tol
    assert abs(bmg.grad - bpt.grad.item()) < tol
