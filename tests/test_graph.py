"""viz.graph: the plain node and edge records of a graph."""

import pytest
from worked_table import FORWARD, WEIGHT_GRADS

import nn
from autograd import Value
from nn.module import Scope
from nn.worked_example import worked_example
from viz import draw, explain, gradients, trace
from viz.graph import module_rank, scope_titles


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
    x = Value(0.5, label="x\ud800")
    y = x * 3.0
    y.label, y.scope = "y", "layers.0.neurons.\udfff"  # a plain string scope: shown as it is
    y.backward()
    graph = trace(y)
    assert graph.name(0) == "x\\ud800" and graph.place(graph.root) == "layers.0.neurons.\\udfff › y"
    block = Scope("block\ud801", (("block\ud801", None), ("neuron", 2)))  # a user module's name, in a record
    assert scope_titles(block) == ["block\\ud801", "neuron 2"]
    svg = draw(y).pipe(format="svg").decode("utf-8")  # no UnicodeEncodeError on the way to the renderer
    assert "x\\ud800" in svg and "layers.0.neurons.\\udfff" in svg
    text = str(explain(x, root=y))
    assert text.encode("utf-8") and "/dx\\ud800 = " in text


# --- names a learner can read ---------------------------------------------------------------------


def test_worked_example_nodes_are_named_by_their_expressions():
    graph = trace(worked_example()["E"])
    names = [graph.name(n.id) for n in graph.nodes]
    assert names == [
        "const0", "const1", "w2[0][0]", "w1[0][0]", "x1", "w1[0][0]·x1", "w1[0][1]", "x2", "w1[0][1]·x2",
        "z1", "h1", "w2[0][0]·h1", "w2[0][1]", "w1[1][0]", "w1[1][0]·x1", "w1[1][1]", "w1[1][1]·x2", "z2",
        "h2", "w2[0][1]·h2", "net_o1", "o1", "0.4 - o1", "(0.4 - o1)²", "E1", "const25", "const26",
        "w2[1][0]", "w2[1][0]·h1", "w2[1][1]", "w2[1][1]·h2", "net_o2", "o2", "0.6 - o2", "(0.6 - o2)²",
        "E2", "E_total",
    ]  # fmt: skip
    assert [graph.place(n.id) for n in graph.nodes] == names  # plain Values: no place, no scope record
    computed = [name for n, name in zip(graph.nodes, names) if not n.is_leaf]
    assert len(set(computed)) == len(computed) and not any(
        name[:3] in ("mul", "sub", "pow") for name in computed
    )


def test_expressions_nest_while_short_then_fall_back_to_op_and_id():
    a, b = Value(2.0, label="a"), Value(3.0, label="b")
    s = (a * b).exp() + a / b
    y = (-(s**0.5) + (a - b) * (a + b)).tanh()
    graph = trace(y * 1.0)
    assert [graph.name(i) for i in range(len(graph.nodes))] == [
        "a", "b", "a·b", "exp(a·b)", "a / b", "exp(a·b) + (a / b)",
        "pow6",  # (exp(a·b) + (a / b))**0.5: over 20 characters, so it and what uses it go by op and id
        "neg7", "a - b", "a + b", "(a - b)·(a + b)", "add11", "tanh12", "const13", "root",
    ]  # fmt: skip
    z = a * -2.0
    assert trace(z * z).name(2) == "a·(-2)"  # a negative constant in parentheses


def test_the_same_expression_twice_is_named_once_then_by_op_and_id():
    x = Value(3.0, label="x")
    y = x * x + x * x
    graph = trace(y * 2.0)
    assert [graph.name(i) for i in range(len(graph.nodes))] == ["x", "x·x", "mul2", "add3", "const4", "root"]


def test_every_box_of_an_mlp_has_a_unique_name_that_says_where_it_is():
    model = nn.MLP(2, [4, 4, 1], seed=0)
    out = model([0.5, -1.0])
    graph = trace(out)
    places = [graph.place(n.id) for n in graph.nodes]
    assert len(set(places)) == len(places) == len(graph.nodes) == 2 + 4 * 7 + 4 * 11 + 10
    assert places[:9] == [
        "x0", "layer 0 › neuron 0 › w0", "layer 0 › neuron 0 › w0·x0", "x1", "layer 0 › neuron 0 › w1",
        "layer 0 › neuron 0 › w1·x1", "layer 0 › neuron 0 › b", "layer 0 › neuron 0 › Σ",
        "layer 0 › neuron 0 › relu",
    ]  # fmt: skip
    neuron_13 = [p for p in places if p.startswith("layer 1 › neuron 3 › ")]
    made = ("w0", "w0·x0", "w1", "w1·x1", "w2", "w2·x2", "w3", "w3·x3", "b", "Σ", "relu")
    assert neuron_13 == [f"layer 1 › neuron 3 › {n}" for n in made]
    assert places[-1] == "layer 2 › neuron 0 › Σ"
    for node, place in zip(graph.nodes, places):
        if node.label not in ("x0", "x1"):
            layer, neuron = node.scope.parts
            assert place.startswith(f"layer {layer[1]} › neuron {neuron[1]} › ")


def test_names_come_from_the_scope_record_not_the_label():
    model = nn.MLP(2, [1], seed=0)
    out = model([0.5, -1.0])
    for v in [*model.parameters(), *out.parents, out]:
        v.label = None  # the record still says what each is
    graph = trace(out * 2.0)
    assert [graph.place(i) for i in range(len(graph.nodes))][:8] == [
        "x0", "layer 0 › neuron 0 › w0", "layer 0 › neuron 0 › w0·x0", "x1", "layer 0 › neuron 0 › w1",
        "layer 0 › neuron 0 › w1·x1", "layer 0 › neuron 0 › b", "layer 0 › neuron 0 › Σ",
    ]  # fmt: skip
    assert module_rank(out.scope) == (0, 0)


def test_a_hand_set_string_scope_is_a_place_shown_as_it_is():
    w = Value(0.5)
    w.scope = "layers.2.neurons.1"  # not nn's record: nothing is read into it
    graph = trace(w * 2.0)
    assert graph.place(0) == "layers.2.neurons.1 › leaf0"
    assert scope_titles(w.scope) == ["layers.2.neurons.1"] and module_rank(w.scope) == (0, 0)
    assert module_rank(nn.MLP(1, [1, 1]).layers[1].neurons[0].b.scope) == (0, -1)
    assert module_rank(None) == (1, 0)
