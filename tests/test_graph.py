"""viz.graph: the plain node and edge records of a graph."""

import pytest
from worked_table import FORWARD, WEIGHT_GRADS

from autograd import Value
from nn.worked_example import worked_example
from viz import gradients, trace


def by_label(graph):
    return {n.label: n for n in graph.nodes if n.label}


def test_worked_example_records_hold_the_seed_table():
    graph = trace(worked_example()["E"])
    nodes = by_label(graph)
    assert graph.grads_computed
    for name, value in FORWARD.items():
        assert round(nodes[name].data, 8) == pytest.approx(value, abs=1e-12), name
    for name, value in WEIGHT_GRADS.items():
        assert round(nodes[name].grad, 8) == pytest.approx(value, abs=1e-12), name
        assert nodes[name].is_leaf and nodes[name].op == ""
    assert nodes["E_total"].id == graph.root and nodes["E_total"].grad == 1.0


def test_each_edge_carries_child_grad_times_local():
    graph = trace(worked_example()["E"])
    assert len(graph.edges) == sum(len(v.parents) for v in graph.values)
    for e in graph.edges:
        child, parent = graph.values[e.child], graph.values[e.parent]
        assert e.local == child.local_grads[e.slot]
        assert child.parents[e.slot] is parent
        assert e.carried == graph.nodes[e.child].grad * e.local
    # and the carried gradients into a node add up to its gradient (the chain rule)
    for node in graph.nodes:
        if node.id != graph.root:
            into = [e.carried for e in graph.edges if e.parent == node.id]
            assert sum(into) == pytest.approx(node.grad, rel=1e-12, abs=1e-15)


def test_one_edge_per_use():
    a = Value(3.0, label="a")
    s = a + a
    x = Value(2.0, label="x")
    p = x * x
    for out, leaf, local in ((s, a, 1.0), (p, x, 2.0)):
        out.backward()
        graph = trace(out)
        edges = [e for e in graph.edges if graph.values[e.parent] is leaf]
        assert len(edges) == 2 and [e.slot for e in edges] == [0, 1]
        assert all(e.local == local for e in edges)
    assert a.grad == 2.0 and x.grad == 4.0


def test_ids_are_stable_for_the_same_structure():
    def step(w_value):
        w, x = Value(w_value, label="w"), Value(0.5, label="x")
        loss = ((w * x).tanh() - 1.0) ** 2 + w * w
        loss.backward()
        return trace(loss)

    g1, g2 = step(0.3), step(-1.7)
    assert [(n.id, n.label, n.op) for n in g1.nodes] == [(n.id, n.label, n.op) for n in g2.nodes]
    assert [(e.parent, e.child, e.slot) for e in g1.edges] == [(e.parent, e.child, e.slot) for e in g2.edges]
    assert g1.nodes[-1].id == g1.root  # inputs first, root last
    assert all(e.parent < e.child for e in g1.edges)


def test_before_backward_grads_are_marked_not_computed():
    x = Value(2.0)
    y = x * 3
    assert not trace(y).grads_computed
    y.backward()
    assert trace(y).grads_computed


def test_gradients_match_backward_without_touching_grad():
    out = worked_example()["E"]
    graph_before = trace(out)
    grads = gradients(out)
    for v in graph_before.values:
        assert grads[v] == pytest.approx(v.grad, rel=1e-12, abs=1e-18)


def test_scope_is_recorded():
    w = Value(0.5, label="w0")
    w.scope = "layers.0.neurons.1"
    graph = trace(w * 2)
    assert by_label(graph)["w0"].scope == "layers.0.neurons.1"


def test_deep_graph_without_recursion():
    v = Value(1.0, label="x")
    for _ in range(50_000):
        v = v * 1.0
    v.backward()
    graph = trace(v)
    assert len(graph.nodes) == 100_001 and len(graph.edges) == 100_000


def test_trace_rejects_non_values():
    with pytest.raises(TypeError, match="root must be a Value"):
        trace(1.0)


def test_successive_training_steps_line_up():
    import nn

    model = nn.MLP(2, [3, 1], seed=0)
    graphs = []
    for _ in range(2):
        model.zero_grad()
        loss = (model([0.5, -1.0]) - 1.0) ** 2
        loss.backward()
        graphs.append(trace(loss))
        for p in model.parameters():
            p.data -= 0.1 * p.grad
    first, second = graphs
    assert [(n.id, n.label, n.op, n.scope) for n in first.nodes] == [
        (n.id, n.label, n.op, n.scope) for n in second.nodes
    ]
    assert [n.data for n in first.nodes] != [n.data for n in second.nodes]  # same places, new numbers


def test_a_lone_surrogate_in_a_label_or_scope_is_written_as_its_escape():
    from viz import draw, explain

    x = Value(0.5, label="x\ud800")
    y = x * 3.0
    y.label, y.scope = "y", "layers.0.neurons.\udfff"
    y.backward()
    graph = trace(y)
    assert graph.name(0) == "x\\ud800" and graph.place(graph.root) == "layer 0 · neuron \\udfff · y"
    svg = draw(y).pipe(format="svg").decode("utf-8")  # no UnicodeEncodeError on the way to the renderer
    assert "x\\ud800" in svg and "neuron \\udfff" in svg
    text = str(explain(x, root=y))
    assert text.encode("utf-8") and "/dx\\ud800 = " in text
